//! Real-browser tests: headless Chromium, driven over WebDriver (chromedriver) by fantoccini,
//! through a real Trustdesk server on loopback with its own temporary database and keys.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them; override the paths
//! with `TRUSTDESK_CHROMIUM` and `TRUSTDESK_CHROMEDRIVER`). With `TRUSTDESK_SCREENSHOTS=dir`, every
//! page the flows visit is also saved there as a PNG (how `docs/screenshots/` is made).
//!
//! The flows are what people do: a user verifies a genuine and a forged identity link, a victim
//! reports the forgery with a screenshot and follows the report with the receipt, an agent issues
//! a session in the console and the copied link verifies, and a security analyst claims and
//! resolves the escalation while the victim's status page changes. Each runs in English and
//! Chinese at least once.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod driver;
mod flows;
