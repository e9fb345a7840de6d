//! The verdict answer as JSON, written by hand: byte for byte what `serde_json` writes for
//! [`VerifyResponse`], for about half the instructions (callgrind, `docs/performance.md`).
//!
//! Every verification ends here, and `serde_json` escapes strings one byte at a time through a
//! table (about 11 instructions a byte under callgrind, most of a verdict's serialisation). Here
//! a string is checked for bytes that need escaping a word at a time and then copied whole; the
//! rare string that needs escaping goes through `serde_json`'s own escaper. A property test holds
//! the output to `serde_json::to_vec` for every shape of answer and arbitrary strings.

use super::{
    ChannelRef, ClaimedPrefill, PolicyNote, ReportPrefill, SessionSummary, VerifyResponse,
};

/// Appends `r` as JSON to `out`: the same bytes as `serde_json::to_writer(out, r)`.
pub fn write(out: &mut Vec<u8>, r: &VerifyResponse) {
    let mut o = Obj::new(out);
    o.str("verdict", r.verdict);
    if let Some(v) = &r.reason {
        o.str("reason", v);
    }
    o.str("locale", r.locale.as_str());
    o.str("title", r.title);
    o.str("message", r.message);
    if let Some(v) = &r.instruction {
        o.str("instruction", v);
    }
    if let Some(s) = &r.session {
        session(o.key("session"), s);
    }
    if let Some(v) = &r.report_url {
        o.str("report_url", v);
    }
    if let Some(p) = &r.report_prefill {
        prefill(o.key("report_prefill"), p);
    }
    if !r.policies.is_empty() {
        let out = o.key("policies");
        out.push(b'[');
        for (i, p) in r.policies.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            policy(out, p);
        }
        out.push(b']');
    }
    o.end();
}

fn session(out: &mut Vec<u8>, s: &SessionSummary) {
    let mut o = Obj::new(out);
    o.str("session_id", &s.session_id);
    o.str("agent_name", &s.agent_name);
    channel(o.key("channel"), &s.channel);
    o.str("issued_at", &s.issued_at);
    o.str("expires_at", &s.expires_at);
    if let Some(v) = &s.user_ref_last4 {
        o.str("user_ref_last4", v);
    }
    o.end();
}

fn channel(out: &mut Vec<u8>, c: &ChannelRef) {
    let mut o = Obj::new(out);
    o.str("kind", c.kind.as_str());
    o.str("handle", &c.handle);
    o.end();
}

fn prefill(out: &mut Vec<u8>, p: &ReportPrefill) {
    let mut o = Obj::new(out);
    if let Some(c) = &p.scam_channel {
        channel(o.key("scam_channel"), c);
    }
    if let Some(v) = &p.presented {
        o.str("presented", v);
    }
    if let Some(c) = &p.claimed_entity {
        claimed(o.key("claimed_entity"), c);
    }
    o.end();
}

fn claimed(out: &mut Vec<u8>, c: &ClaimedPrefill) {
    let mut o = Obj::new(out);
    if let Some(ch) = &c.channel {
        channel(o.key("channel"), ch);
    }
    if let Some(v) = &c.agent {
        o.str("agent", v);
    }
    o.end();
}

fn policy(out: &mut Vec<u8>, p: &PolicyNote) {
    let mut o = Obj::new(out);
    o.str("rule", p.rule);
    if let Some(k) = p.channel_kind {
        o.str("channel_kind", k.as_str());
    }
    o.str("statement", &p.statement);
    o.end();
}

/// A JSON object being written: `{`, then `"key":value` pairs separated by commas, then `}`.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` (keys are ours: plain ASCII, never escaped) and returns the buffer for
    /// the value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// A JSON string literal, escaped as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Rare (a quote, backslash or control character): `serde_json`'s own escaper, so the
        // output cannot drift from its rules.
        let mut ser = serde_json::Serializer::new(out);
        let _ = serde::Serializer::serialize_str(&mut ser, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether any byte is `"`, `\` or below 0x20: what JSON requires escaped (and all `serde_json`
/// escapes). Eight bytes at a time, with the usual has-zero-byte test per byte class.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut found = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_le_bytes(w);
        // A byte below 0x20: its top three bits are clear. Bytes >= 0x80 have their high bit set
        // and never match; the has-zero test on `v & 0xE0..` finds bytes < 0x20 exactly.
        found |= has_zero(v & 0xE0E0_E0E0_E0E0_E0E0)
            | has_zero(v ^ (ONES * u64::from(b'"')))
            | has_zero(v ^ (ONES * u64::from(b'\\')));
    }
    found != 0
        || chunks
            .remainder()
            .iter()
            .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::ChannelKind;
    use crate::types::Locale;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 :/._-]{0,40}",
            any::<String>(),
            proptest::collection::vec(
                prop_oneof![
                    Just('"'),
                    Just('\\'),
                    Just('\n'),
                    Just('\u{1}'),
                    Just('\u{1f}'),
                    Just('\u{7f}'),
                    Just('é'),
                    Just('诈'),
                    Just('\u{2028}'),
                    Just('a'),
                    Just(' ')
                ],
                0..24
            )
            .prop_map(|v| v.into_iter().collect()),
        ]
    }

    fn kind() -> impl Strategy<Value = ChannelKind> {
        prop_oneof![
            Just(ChannelKind::Telegram),
            Just(ChannelKind::InAppChat),
            Just(ChannelKind::WebChat),
            Just(ChannelKind::X),
        ]
    }

    fn channel_ref() -> impl Strategy<Value = ChannelRef> {
        (kind(), text()).prop_map(|(kind, handle)| ChannelRef { kind, handle })
    }

    fn answer() -> impl Strategy<Value = VerifyResponse> {
        let session = (
            text(),
            text(),
            channel_ref(),
            text(),
            text(),
            proptest::option::of(text()),
        )
            .prop_map(
                |(session_id, agent_name, channel, issued_at, expires_at, last4)| SessionSummary {
                    session_id,
                    agent_name,
                    channel,
                    issued_at,
                    expires_at,
                    user_ref_last4: last4,
                },
            );
        let claimed = (
            proptest::option::of(channel_ref()),
            proptest::option::of(text()),
        )
            .prop_map(|(channel, agent)| ClaimedPrefill { channel, agent });
        let prefill = (
            proptest::option::of(channel_ref()),
            proptest::option::of(text()),
            proptest::option::of(claimed),
        )
            .prop_map(|(scam_channel, presented, claimed_entity)| ReportPrefill {
                scam_channel,
                presented,
                claimed_entity,
            });
        let policy = (
            prop_oneof![Just("never_used"), Just("never_asks")],
            proptest::option::of(kind()),
            text(),
        )
            .prop_map(|(rule, channel_kind, statement)| PolicyNote {
                rule,
                channel_kind,
                statement,
            });
        (
            (
                prop_oneof![Just("genuine"), Just("forged")],
                proptest::option::of(text()),
                prop_oneof![Just(Locale::En), Just(Locale::ZhCn)],
                prop_oneof![
                    Just("Genuine official session"),
                    Just("伪造 — \"not\" official")
                ],
                proptest::option::of(text()),
            ),
            (
                proptest::option::of(session),
                proptest::option::of(text()),
                proptest::option::of(prefill),
                proptest::collection::vec(policy, 0..3),
            ),
        )
            .prop_map(
                |(
                    (verdict, reason, locale, title, instruction),
                    (session, url, prefill, policies),
                )| {
                    VerifyResponse {
                        verdict,
                        reason,
                        locale,
                        title,
                        message: "This session was issued by an official agent.\tTab",
                        instruction,
                        session,
                        report_url: url,
                        report_prefill: prefill,
                        policies,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn writes_what_serde_json_writes(r in answer()) {
            let mut ours = Vec::new();
            write(&mut ours, &r);
            let theirs = serde_json::to_vec(&r).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }

        #[test]
        fn finds_every_byte_that_needs_escaping(s in text(), at in 0usize..40, b in 0u8..0x80) {
            let mut bytes = s.into_bytes();
            let at = at.min(bytes.len());
            // Insert one ASCII byte anywhere (keeps the string valid UTF-8).
            bytes.insert(at, b);
            let expected = bytes.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
            prop_assert_eq!(needs_escape(&bytes), expected);
        }
    }
}
