//! Outbound threat-intelligence feeds: pure renderers, no database and no HTTP.
//!
//! * [`stix::bundle`] turns the published scammer identifiers into a STIX 2.1
//!   bundle that TIP/SIEM tools can ingest as indicators.
//! * [`xarf::fraud_report`] turns one confirmed Trustdesk case into an X-ARF v4
//!   `content`/`fraud` abuse report for platforms' abuse desks.
//!
//! Both renderers are deterministic (same input, byte-identical JSON) because
//! the HTTP layer derives its `ETag` from a hash of the body, and both only ever
//! see scammer-side data: the input types below carry nothing about victims,
//! so a renderer cannot leak what it was never given.

pub mod stix;
pub mod xarf;

use crate::channels::{self, ChannelHandle, ChannelKind};
use crate::storage::{StorageError, Store};

/// Most identifiers one feed document carries (newest first).
pub const MAX_FEED_ENTRIES: i64 = 10_000;

/// The identifiers the feed publishes: named by reports that staff confirmed *and* acted on
/// (an escalation resolved with an action outcome: exactly the `known_scam` set of
/// `GET /v1/channels/check`). Hard evidence alone confirms a report but does not publish: a
/// forged token proves the token forged, not that the reported handle is the forger's.
/// Registered official channels are never published (a compromised official account is
/// recovered, not blocklisted), nor in-app or web-chat ids, which only mean something here.
pub async fn published(store: &dyn Store) -> Result<Vec<FeedEntry>, StorageError> {
    let official = channels::list(store).await?;
    Ok(store
        .feed_rows(MAX_FEED_ENTRIES)
        .await?
        .into_iter()
        .filter(|r| match ChannelKind::parse(&r.kind) {
            Some(ChannelKind::InAppChat | ChannelKind::WebChat) => false,
            Some(kind) => ChannelHandle::from_normalised(kind, &r.value).is_ok_and(|h| {
                !official
                    .iter()
                    .any(|o| channels::is_official_match(&h, &o.handle))
            }),
            None => r.kind == "crypto_address",
        })
        .map(|r| FeedEntry {
            kind: r.kind,
            value: r.value,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            confirmed_reports: r.reports,
        })
        .collect())
}

impl std::str::FromStr for Tlp {
    type Err = String;

    fn from_str(s: &str) -> Result<Tlp, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "clear" | "white" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" => Ok(Tlp::Amber),
            other => Err(format!(
                "unknown TLP level {other:?} (clear, green or amber)"
            )),
        }
    }
}

use serde::{Deserialize, Serialize};

/// One confirmed scammer identifier, as published. Nothing here identifies a victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// `telegram`, `wechat`, `whatsapp`, `email`, `phone`, `x`, `website`, or `crypto_address`.
    pub kind: String,
    /// Normalised value: "@handle" for telegram/x, lower-case e-mail, E.164 phone,
    /// a domain for website, and `chain:address` for `crypto_address`.
    /// The renderers normalise again (case, stray `@`, pasted URLs) so slightly off input still dedupes.
    pub value: String,
    /// Unix seconds, first confirmed report naming it.
    pub first_seen: i64,
    /// Unix seconds, latest confirmed report naming it.
    pub last_seen: i64,
    /// Number of confirmed reports naming it.
    pub confirmed_reports: i64,
}

/// Who publishes the feed; becomes the STIX `identity` and seeds every
/// deterministic id, so two deployments never mint colliding STIX ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    /// Display name, e.g. "Trustdesk".
    pub name: String,
    /// Public base URL, e.g. `https://trustdesk.example`.
    pub base_url: String,
}

/// Traffic Light Protocol marking applied to the whole feed.
/// Default is `Clear` because the public feed is meant to be redistributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tlp {
    /// TLP:CLEAR, rendered with the STIX 2.1 predefined TLP:WHITE object.
    #[default]
    Clear,
    /// TLP:GREEN.
    Green,
    /// TLP:AMBER.
    Amber,
}

/// The identifier kinds Trustdesk publishes. Unknown kinds are skipped by the
/// renderers rather than guessed at, since a wrong pattern is worse than none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Telegram,
    WeChat,
    WhatsApp,
    Email,
    Phone,
    X,
    Website,
    Crypto,
}

impl Kind {
    /// Accepts the canonical names case-insensitively, plus "twitter" for X.
    pub(crate) fn parse(kind: &str) -> Option<Kind> {
        Some(match kind.trim().to_ascii_lowercase().as_str() {
            "telegram" => Kind::Telegram,
            "wechat" => Kind::WeChat,
            "whatsapp" => Kind::WhatsApp,
            "email" => Kind::Email,
            "phone" => Kind::Phone,
            "x" | "twitter" => Kind::X,
            "website" => Kind::Website,
            "crypto_address" => Kind::Crypto,
            _ => return None,
        })
    }

    /// Canonical name, as used in labels, ids and tags.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Telegram => "telegram",
            Kind::WeChat => "wechat",
            Kind::WhatsApp => "whatsapp",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::X => "x",
            Kind::Website => "website",
            Kind::Crypto => "crypto_address",
        }
    }
}

/// A normalised identifier. Normalisation is what makes ids stable: "@Foo" and
/// "foo" on Telegram are the same account and must map to the same indicator id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident {
    pub(crate) kind: Kind,
    /// Canonical value without decoration: telegram/x handle without '@' and
    /// lower-cased (both platforms treat usernames case-insensitively);
    /// e-mail and domain lower-cased; phone/whatsapp "+digits" when phone-like;
    /// crypto "chain:address" with a lower-case chain.
    pub(crate) value: String,
}

impl Ident {
    /// `None` for unknown kinds or values that are empty after normalisation.
    pub(crate) fn new(kind: &str, value: &str) -> Option<Ident> {
        let kind = Kind::parse(kind)?;
        let v = value.trim();
        let value = match kind {
            Kind::Telegram | Kind::X => v.trim_start_matches('@').trim().to_lowercase(),
            Kind::Email => v.trim_start_matches("mailto:").to_lowercase(),
            Kind::Website => normalise_domain(v),
            Kind::Phone | Kind::WhatsApp => normalise_phone(v).unwrap_or_else(|| v.to_string()),
            Kind::WeChat => v.to_string(),
            Kind::Crypto => normalise_crypto(v),
        };
        if value.is_empty() || value.ends_with(':') {
            return None;
        }
        Some(Ident { kind, value })
    }

    /// Human-facing form: handles get their '@' back.
    pub(crate) fn display(&self) -> String {
        match self.kind {
            Kind::Telegram | Kind::X => format!("@{}", self.value),
            _ => self.value.clone(),
        }
    }

    /// `(chain, address)` for crypto identifiers; chain is "unknown" when absent.
    pub(crate) fn crypto_parts(&self) -> (&str, &str) {
        self.value
            .split_once(':')
            .unwrap_or(("unknown", &self.value))
    }
}

/// Accepts a bare domain or a pasted URL and keeps only the lower-cased host.
fn normalise_domain(v: &str) -> String {
    let v = v
        .split_once("://")
        .map_or(v, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = v.rsplit_once('@').map_or(v, |(_, h)| h);
    let host = if host.starts_with('[') {
        host
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.trim_end_matches('.').to_lowercase()
}

/// "+86 138-0000-0000" -> "+8613800000000"; `None` if it is not phone-like,
/// so odd values pass through untouched instead of being mangled.
fn normalise_phone(v: &str) -> Option<String> {
    let phone_like = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    (phone_like && !digits.is_empty()).then(|| format!("+{digits}"))
}

/// Lower-cases the chain, and the address only when it is 0x-hex (EVM
/// addresses are case-insensitive; base58 ones such as BTC legacy/TRON are not).
fn normalise_crypto(v: &str) -> String {
    let (chain, addr) = v.split_once(':').unwrap_or(("unknown", v));
    let (chain, addr) = (chain.trim().to_ascii_lowercase(), addr.trim());
    let is_hex = addr.len() > 2
        && addr[..2].eq_ignore_ascii_case("0x")
        && addr[2..].chars().all(|c| c.is_ascii_hexdigit());
    let addr = if is_hex {
        addr.to_ascii_lowercase()
    } else {
        addr.to_string()
    };
    let chain = if chain.is_empty() {
        "unknown".to_string()
    } else {
        chain
    };
    format!("{chain}:{addr}")
}

/// RFC 3339 UTC with milliseconds ("2026-11-24T10:00:00.000Z"), the form STIX
/// requires. Done by hand from Unix seconds to avoid a fallible time API; input
/// is clamped to years 0000..=9999 because the format cannot express more.
pub(crate) fn rfc3339(unix: i64) -> String {
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    let t = unix.clamp(MIN, MAX);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = crate::types::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_514_400), "2026-11-24T10:00:00.000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.000Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.000Z");
        assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn normalisation() {
        let n = |k, v| Ident::new(k, v).map(|i| i.value);
        assert_eq!(n("telegram", "@Acme_Support"), Some("acme_support".into()));
        assert_eq!(n("Telegram", "acme_support"), Some("acme_support".into()));
        assert_eq!(n("twitter", "@Foo"), Some("foo".into()));
        assert_eq!(
            n("email", " Bad@Evil.Example "),
            Some("bad@evil.example".into())
        );
        assert_eq!(
            n("website", "https://Evil.Example./login?x=1"),
            Some("evil.example".into())
        );
        assert_eq!(
            n("website", "evil.example:8443"),
            Some("evil.example".into())
        );
        assert_eq!(
            n("phone", "+86 138-0000-0000"),
            Some("+8613800000000".into())
        );
        assert_eq!(
            n("whatsapp", "8613800000000"),
            Some("+8613800000000".into())
        );
        assert_eq!(n("wechat", " Scam_ID1 "), Some("Scam_ID1".into()));
        assert_eq!(n("crypto_address", "ETH:0xABcd"), Some("eth:0xabcd".into()));
        assert_eq!(n("crypto_address", "trx:TXyZ"), Some("trx:TXyZ".into()));
        assert_eq!(
            n("crypto_address", "bc1qxyz"),
            Some("unknown:bc1qxyz".into())
        );
        assert_eq!(n("telegram", "@"), None);
        assert_eq!(n("crypto_address", "eth:"), None);
        assert_eq!(n("fax", "123"), None);
    }
}
