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
/// escapes force a copy. This is what the verification hot path parses ([`ClaimsRef::parse`]).
#[derive(Debug, PartialEq, Eq, Deserialize)]
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

impl<'a> ClaimsRef<'a> {
    /// Reads the claims of a verified message.
    ///
    /// The exact form Trustdesk signs (`serde_json` of [`SessionClaims`]: these fields in this
    /// order, no whitespace, no escapes) is read by hand, in one pass; anything else goes to
    /// serde, which decides. The hand-written reader accepts nothing serde would refuse and reads
    /// what it accepts the same way (tested against it). Every distinct token verified pays this
    /// parse, and serde's general reader costs several times the hand-written one here.
    pub fn parse(message: &'a [u8]) -> Result<ClaimsRef<'a>, serde_json::Error> {
        match Canonical::read(message) {
            Some(c) => Ok(c),
            None => serde_json::from_slice(message),
        }
    }
}

/// The reader of the signed form; `None` as soon as the input differs from it in any way.
struct Canonical<'a> {
    rest: &'a str,
}

impl<'a> Canonical<'a> {
    fn read(message: &'a [u8]) -> Option<ClaimsRef<'a>> {
        // UTF-8 checked once for the whole message (serde refuses invalid UTF-8 in strings, and
        // outside them only ASCII is canonical), so each value is a slice between two ASCII
        // quotes, always on char boundaries.
        let mut r = Canonical {
            rest: std::str::from_utf8(message).ok()?,
        };
        r.literal("{")?;
        let iss = r.field("\"iss\":")?;
        let aud = r.next_field("\"aud\":")?;
        let sub = r.next_field("\"sub\":")?;
        let jti = r.next_field("\"jti\":")?;
        let iat = r.next_field("\"iat\":")?;
        let nbf = r.next_field("\"nbf\":")?;
        let exp = r.next_field("\"exp\":")?;
        let agent_name = r.next_field("\"agent_name\":")?;
        let channel_kind = r.next_field("\"channel_kind\":")?;
        let channel_handle = r.next_field("\"channel_handle\":")?;
        let user_ref_last4 = if r.literal(",").is_some() {
            Some(r.field("\"user_ref_last4\":")?)
        } else {
            None
        };
        r.literal("}")?;
        r.rest.is_empty().then_some(ClaimsRef {
            iss: Cow::Borrowed(iss),
            aud: Cow::Borrowed(aud),
            sub: Cow::Borrowed(sub),
            jti: Cow::Borrowed(jti),
            iat: Cow::Borrowed(iat),
            nbf: Cow::Borrowed(nbf),
            exp: Cow::Borrowed(exp),
            agent_name: Cow::Borrowed(agent_name),
            channel_kind: Cow::Borrowed(channel_kind),
            channel_handle: Cow::Borrowed(channel_handle),
            user_ref_last4: user_ref_last4.map(Cow::Borrowed),
        })
    }

    /// `,` then [`Canonical::field`].
    fn next_field(&mut self, name: &str) -> Option<&'a str> {
        self.literal(",")?;
        self.field(name)
    }

    fn literal(&mut self, lit: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(lit)?;
        Some(())
    }

    /// `"name":"value"` where the value has no escape and no control character (JSON requires
    /// those escaped), so that it is exactly the bytes between the quotes. The closing quote is
    /// found with `memchr` and the value checked in one branch-free pass, both vectorised: an
    /// escaped quote (`\"`) leaves a backslash in the value, which the check refuses.
    fn field(&mut self, name: &str) -> Option<&'a str> {
        self.literal(name)?;
        self.literal("\"")?;
        let end = memchr::memchr(b'"', self.rest.as_bytes())?;
        let (value, rest) = (&self.rest[..end], &self.rest[end + 1..]);
        let plain = value
            .bytes()
            .fold(true, |ok, b| ok & (b != b'\\') & (b >= 0x20));
        if !plain {
            return None;
        }
        self.rest = rest;
        Some(value)
    }
}

pub fn parse_time(s: &str) -> Option<i64> {
    crate::types::parse_rfc3339(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims(text: &str, last4: Option<&str>) -> SessionClaims {
        SessionClaims {
            iss: "https://trustdesk.example".into(),
            aud: AUDIENCE.into(),
            sub: "9f1c2d3e-0000-4000-8000-000000000001".into(),
            jti: "6a7b8c9d-0000-4000-8000-000000000002".into(),
            iat: "2026-11-29T10:00:00Z".into(),
            nbf: "2026-11-29T10:00:00Z".into(),
            exp: "2026-11-29T10:15:00Z".into(),
            agent_name: text.into(),
            channel_kind: "telegram".into(),
            channel_handle: "@acme_support".into(),
            user_ref_last4: last4.map(Into::into),
        }
    }

    #[test]
    fn the_signed_form_is_read_by_hand_and_borrowed() {
        for last4 in [None, Some("1234")] {
            let json = serde_json::to_vec(&claims("Alice Example", last4)).unwrap();
            let hand = Canonical::read(&json).expect("the signed form is canonical");
            assert_eq!(
                hand,
                serde_json::from_slice::<ClaimsRef<'_>>(&json).unwrap()
            );
            assert!(matches!(hand.agent_name, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        let json = String::from_utf8(serde_json::to_vec(&claims("Bob", None)).unwrap()).unwrap();
        for other in [
            json.replace(r#""iss":"#, r#" "iss":"#),
            json.replace(r#""aud""#, r#""au\u0064""#),
            json.replace(r#""sub":"#, r#""sub" :"#),
            json.replace("}", r#","user_ref_last4":null}"#),
            json.replace("}", r#","extra":"x"}"#),
            json.replace("}", "} "),
            json.replace(r#""Bob""#, r#""B\"ob""#),
            format!("{json}{json}"),
            json[..json.len() - 1].to_owned(),
        ] {
            assert_eq!(Canonical::read(other.as_bytes()), None, "{other}");
        }
        // Escaped values, other field orders, whitespace: serde still reads those.
        let escaped = json.replace(r#""Bob""#, r#""B\u006fb""#);
        assert_eq!(
            ClaimsRef::parse(escaped.as_bytes()).unwrap().agent_name,
            "Bob"
        );
        assert!(ClaimsRef::parse(json.replace("}", r#","extra":"x"}"#).as_bytes()).is_err());
    }

    proptest! {
        /// Whatever the values hold (quotes, backslashes, control characters, any Unicode), the
        /// signed form of them reads back the same through both readers.
        #[test]
        fn both_readers_agree_on_every_signed_form(text in any::<String>(), last4 in proptest::option::of(any::<String>())) {
            let json = serde_json::to_vec(&claims(&text, last4.as_deref())).unwrap();
            let serde = serde_json::from_slice::<ClaimsRef<'_>>(&json).unwrap();
            prop_assert_eq!(ClaimsRef::parse(&json).unwrap(), serde);
        }

        /// The hand-written reader never accepts what serde refuses, nor reads it differently:
        /// one byte of a signed form replaced by anything.
        #[test]
        fn the_hand_reader_accepts_only_what_serde_accepts(text in "[ -~é中]{0,12}", at in 0usize..400, byte in any::<u8>()) {
            let mut json = serde_json::to_vec(&claims(&text, Some("9876"))).unwrap();
            let at = at % json.len();
            json[at] = byte;
            if let Some(hand) = Canonical::read(&json) {
                let serde = serde_json::from_slice::<ClaimsRef<'_>>(&json);
                prop_assert!(serde.is_ok(), "{}", String::from_utf8_lossy(&json));
                prop_assert_eq!(hand, serde.unwrap());
            }
        }
    }
}
