//! HTTP API tests: each test starts a real server on loopback (port 0) with a fresh temporary
//! SQLite database and fresh keys, and talks to it with a real HTTP client.

mod helpers;
mod hotpath;
mod limits;

mod auth;
mod channels;
mod console;
mod crash;
mod escalations;
mod faults;
mod followup;
mod intel;
mod keys;
mod malformed;
mod memory;
mod multi;
mod ops;
mod pages;
mod process;
mod progress;
mod reports;
mod restore;
mod schema;
mod sessions;
mod verify;
