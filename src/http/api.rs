//! JSON API handlers, one file per capability.

pub mod channels;
pub mod escalations;
pub mod keys;
pub mod reports;
pub mod sessions;
pub mod verify;
