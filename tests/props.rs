//! Property-based tests (proptest) of everything that parses untrusted input: PASETO tokens,
//! identity-link / session-code extraction, channel handles, report JSON and the notification
//! text filters. No input may panic; where there is an inverse, values round-trip.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use trustdesk::channels::{ChannelHandle, ChannelKind};
use trustdesk::reports::{NewReport, ReportInput};
use trustdesk::tokens::{input, paseto};
use trustdesk::types::Locale;

fn kinds() -> impl Strategy<Value = ChannelKind> {
    prop::sample::select(ChannelKind::ALL.to_vec())
}

/// Strings biased towards the shapes parsers care about.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "(v4\\.public\\.|v4\\.local\\.|v3\\.public\\.|eyJ)[A-Za-z0-9_.=-]{0,120}",
        "https?://[a-z.]{1,20}/v/[A-Za-z0-9_.-]{0,80}",
        "[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{2}",
        "[@+]?[a-zA-Z0-9_.\u{430}-\u{44f}\u{0}-\u{1f}]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn token_decoding_never_panics_on_garbage(token in messy(), implicit in any::<Vec<u8>>()) {
        let key = SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        let _ = paseto::verify(&key, &token, None, &implicit);
        let _ = paseto::untrusted_footer(&token);
        let _ = trustdesk::tokens::claimed_identity(&token);
    }

    #[test]
    fn signed_messages_round_trip_and_any_change_breaks_them(
        seed in any::<[u8; 32]>(),
        message in any::<Vec<u8>>(),
        footer in "[ -~]{0,40}",
        flip in any::<prop::sample::Index>(),
    ) {
        let key = SigningKey::from_bytes(&seed);
        let token = paseto::sign(&key, &message, footer.as_bytes(), b"");
        let back = paseto::verify(&key.verifying_key(), &token, Some(footer.as_bytes()), b"");
        prop_assert_eq!(back.ok(), Some(message.clone()));
        // Change one character of the payload part: never verifies.
        let mut bytes = token.clone().into_bytes();
        let start = "v4.public.".len();
        let end = token[start..].find('.').map_or(token.len(), |i| start + i);
        let i = start + flip.index(end - start);
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(paseto::verify(&key.verifying_key(), &tampered, None, b"").is_err());
    }

    #[test]
    fn extraction_never_panics_and_finds_tokens_inside_messages(text in messy(), prefix in "[^v]{0,30}") {
        let _ = input::extract(&text);
        let _ = input::normalise_code(&text);
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let token = paseto::sign(&key, b"{}", b"", b"");
        let message = format!("{prefix} https://x.example/v/{token} ");
        match input::extract(&message) {
            input::Presented::Token(t) => prop_assert_eq!(t, token.as_str()),
            _ => prop_assert!(false, "token not found in {message:?}"),
        }
    }

    #[test]
    fn session_codes_round_trip_through_their_display_form(code in "[0-9A-HJKMNP-TV-Z]{10}") {
        let shown = input::display_code(&code);
        prop_assert_eq!(input::normalise_code(&shown), Some(code.clone()));
        prop_assert_eq!(input::normalise_code(&shown.to_lowercase()), Some(code));
    }

    #[test]
    fn channel_normalisation_never_panics_and_is_idempotent(kind in kinds(), raw in messy()) {
        if let Ok(h) = ChannelHandle::parse(kind, &raw) {
            let again = ChannelHandle::parse(kind, h.as_str());
            prop_assert_eq!(again.as_ref().map(|a| a.as_str()), Ok(h.as_str()), "{:?}", raw);
        }
    }

    #[test]
    fn report_json_never_panics(
        body in messy(),
        description in any::<String>(),
        handle in messy(),
        amount in "[0-9.]{0,25}",
        email in "[a-z.@]{0,30}",
        phrase in any::<String>(),
    ) {
        let _ = serde_json::from_str::<ReportInput>(&body);
        let doc = serde_json::json!({
            "category": "impersonation", "description": description,
            "scam_channel": {"kind": "telegram", "handle": handle},
            "amount_lost": amount, "asset": "USDT",
            "notify_email": email, "anti_phishing_phrase": phrase,
        });
        if let Ok(input) = serde_json::from_value::<ReportInput>(doc) {
            let _ = NewReport::parse(input, 1_800_000_000, Locale::En);
        }
    }

    #[test]
    fn notification_filters_never_panic(text in any::<String>()) {
        let _ = trustdesk::followup::mail::looks_like_domain(&text);
        let _ = trustdesk::followup::confirmation_hash(&text);
    }
}
