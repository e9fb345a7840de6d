//! JSON API handlers, one file per capability.

pub mod channels;
pub mod escalations;
pub mod feeds;
pub mod keys;
pub mod policies;
pub mod reports;
pub mod sessions;
pub mod triage;
pub mod verify;
