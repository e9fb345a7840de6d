//! The claims a support-session token carries, and the rules a token must meet to be genuine.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Audience of every session token: only Trustdesk's verifier accepts them.
pub const AUDIENCE: &str = "trustdesk:verify";

/// Implicit assertion bound into every signature (PASETO `i`). It is not in the token, so a
/// signature made by the same key for any other purpose can never verify as a support session.
pub const IMPLICIT_ASSERTION: &[u8] = b"trustdesk:support-session:v1";

/// Payload of a `v4.public` support-session token. Times are RFC 3339 as PASETO recommends.
/// Unknown fields are refused: we sign exactly these, so anything else was not made by us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// Agent id.
    pub sub: String,
    /// Session id; what revocation names.
    pub jti: String,
    pub iat: String,
    pub nbf: String,
    pub exp: String,
    pub agent_name: String,
    pub channel_kind: String,
    /// Normalised handle of the channel the agent is using to talk to the user.
    pub channel_handle: String,
    /// Last four characters of the user reference the agent gave, if any: enough for the user to
    /// recognise "this agent knows my account", too little to leak it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref_last4: Option<String>,
}

/// The same claims read without copying: strings borrow from the verified message unless JSON
/// escapes force a copy. This is what the verification hot path parses.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsRef<'a> {
    #[serde(borrow)]
    pub iss: Cow<'a, str>,
    #[serde(borrow)]
    pub aud: Cow<'a, str>,
    #[serde(borrow)]
    pub sub: Cow<'a, str>,
    #[serde(borrow)]
    pub jti: Cow<'a, str>,
    #[serde(borrow)]
    pub iat: Cow<'a, str>,
    #[serde(borrow)]
    pub nbf: Cow<'a, str>,
    #[serde(borrow)]
    pub exp: Cow<'a, str>,
    #[serde(borrow)]
    pub agent_name: Cow<'a, str>,
    #[serde(borrow)]
    pub channel_kind: Cow<'a, str>,
    #[serde(borrow)]
    pub channel_handle: Cow<'a, str>,
    #[serde(default, borrow)]
    pub user_ref_last4: Option<Cow<'a, str>>,
}

/// Parses an RFC 3339 claim into Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    crate::types::parse_rfc3339(s)
}
