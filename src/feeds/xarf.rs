//! X-ARF v4 `content` / `fraud` abuse report for one confirmed Trustdesk case.
//!
//! Schema followed: XARF v4.2.0 from github.com/xarf/xarf-spec (tag v4.2.0, the
//! copy shipped in the `PyPI` `xarf` 1.0.0 package):
//! `schemas/v4/xarf-core.json`, `schemas/v4/types/content-base.json` and
//! `schemas/v4/types/content-fraud.json`. Required there and always emitted:
//! `xarf_version`, `report_id` (uuid), `timestamp`, `reporter` and `sender`
//! (`{org, contact, domain}`, no other keys allowed), `source_identifier`,
//! `category` = "content", `type` = "fraud", `url` (content-base) and
//! `fraud_type` (content-fraud). Optional schema fields used: `domain`,
//! `evidence_source`, `claimed_entity`, `attack_vector`, `payment_methods`,
//! `cryptocurrency_addresses`, `description`, `tags`.
//!
//! Note: the older `abusix/xarf` JSON format (`Version`, `ReporterInfo`,
//! "Report.ReportClass") stops at version 3 and has no fraud class, so it is
//! not what a v4 receiver parses.
//!
//! Mappings worth knowing:
//! * No source IP exists for these scams; `source_identifier` takes the
//!   schema's "domain or other identifier" option and `url` a URI for the
//!   account (`https://t.me/…`, `https://x.com/…`, `https://wa.me/…`,
//!   `weixin://contacts/profile/…`, `mailto:`, `tel:`, `bitcoin:`/`ethereum:`).
//!   The first website identifier is primary, else the first identifier.
//! * Two extension fields (the core schema allows additional properties, the
//!   `xarf` validator reports them as warnings only): `scammer_identifiers`,
//!   because a case usually names several accounts, and `evidence_hashes`,
//!   because the schema's `evidence` items require the attachment `payload`
//!   and we only ever share hashes.
//! * `report_id` is a `UUIDv5` of the Trustdesk case id (schema only checks the
//!   uuid format), so re-sending the same case is idempotent for receivers.
//! * Nothing about the victim is an input, so nothing about them can leak.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{rfc3339, Ident, Kind};

/// X-ARF schema version the output claims; v4.0.0 had an incompatible
/// `reporter` object, so we pin the one we validated against.
pub const XARF_VERSION: &str = "4.2.0";

/// Limit from `xarf-core.json` (`description.maxLength`).
const DESCRIPTION_MAX_CHARS: usize = 1000;
/// Limit from `xarf-core.json` (`tags.maxItems`).
const TAGS_MAX: usize = 20;

/// One confirmed case, reduced to what may be sent to a platform's abuse desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XarfInput {
    /// Reporting organisation (Trustdesk), never the victim.
    pub reporter_org: String,
    /// Its domain, e.g. "trustdesk.example".
    pub reporter_domain: String,
    /// Its abuse-desk contact address.
    pub reporter_email: String,
    /// Trustdesk report id, e.g. "TD-ABCD-EFGH".
    pub report_id: String,
    /// Unix seconds.
    pub reported_at: i64,
    /// Unix seconds, when the scam happened, if known.
    pub occurred_at: Option<i64>,
    /// `impersonation` | `phishing_link` | `fake_app` | `investment_scam` | `account_takeover` | `other`
    pub category: String,
    /// (kind, value) identifiers as in [`super::FeedEntry`].
    pub scammer: Vec<(String, String)>,
    /// What the scammer posed as, e.g. `telegram @acme_support`.
    pub official_impersonated: Option<String>,
    /// Attachment hashes only (never contents).
    pub evidence_sha256: Vec<String>,
    /// Support-token check outcome, e.g. "forged".
    pub token_verdict: Option<String>,
}

/// Renders the X-ARF v4 fraud report. Pure and deterministic.
///
/// Callers should not send a report whose `scammer` list has no usable
/// identifier: it still validates (the case URN stands in for `url`) but gives
/// the receiving abuse desk nothing to act on.
#[must_use]
pub fn fraud_report(r: &XarfInput) -> Value {
    let idents: Vec<Ident> = r
        .scammer
        .iter()
        .filter_map(|(k, v)| Ident::new(k, v))
        .collect();
    let primary = idents
        .iter()
        .find(|i| i.kind == Kind::Website)
        .or(idents.first());
    let category = normalise_category(&r.category);
    let contact = json!({
        "org": r.reporter_org,
        "contact": r.reporter_email,
        "domain": r.reporter_domain,
    });
    let ns = Uuid::new_v5(&Uuid::NAMESPACE_DNS, r.reporter_domain.as_bytes());

    let mut m = Map::new();
    m.insert("xarf_version".into(), XARF_VERSION.into());
    m.insert(
        "report_id".into(),
        Uuid::new_v5(&ns, format!("xarf:{}", r.report_id).as_bytes())
            .to_string()
            .into(),
    );
    m.insert(
        "timestamp".into(),
        rfc3339(r.occurred_at.unwrap_or(r.reported_at)).into(),
    );
    m.insert("reporter".into(), contact.clone());
    m.insert("sender".into(), contact);
    m.insert(
        "source_identifier".into(),
        primary
            .map_or_else(|| r.report_id.clone(), source_identifier)
            .into(),
    );
    m.insert("category".into(), "content".into());
    m.insert("type".into(), "fraud".into());
    m.insert("fraud_type".into(), fraud_type(category).into());
    m.insert(
        "url".into(),
        primary
            .map_or_else(
                || format!("urn:trustdesk:report:{}", pct(&r.report_id, "")),
                uri,
            )
            .into(),
    );
    if let Some(p) = primary.filter(|p| p.kind == Kind::Website && is_schema_domain(&p.value)) {
        m.insert("domain".into(), p.value.clone().into());
    }
    m.insert("evidence_source".into(), "user_report".into());
    if let Some(official) = r
        .official_impersonated
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        m.insert("claimed_entity".into(), official.into());
    }
    let vector = if category == "phishing_link" {
        "phishing"
    } else {
        "fraud"
    };
    m.insert("attack_vector".into(), vector.into());

    let wallets: Vec<Value> = idents
        .iter()
        .filter(|i| i.kind == Kind::Crypto)
        .map(|i| {
            let (chain, address) = i.crypto_parts();
            json!({ "currency": currency(chain), "address": address })
        })
        .collect();
    if !wallets.is_empty() {
        m.insert("payment_methods".into(), json!(["cryptocurrency"]));
        m.insert("cryptocurrency_addresses".into(), wallets.into());
    }
    m.insert(
        "description".into(),
        description(r, category, &idents).into(),
    );
    m.insert("tags".into(), tags(r, category, &idents).into());
    m.insert(
        "scammer_identifiers".into(),
        idents
            .iter()
            .map(|i| json!({ "kind": i.kind.as_str(), "value": i.display(), "url": uri(i) }))
            .collect::<Vec<_>>()
            .into(),
    );
    let hashes = evidence_hashes(&r.evidence_sha256);
    if !hashes.is_empty() {
        m.insert("evidence_hashes".into(), hashes.into());
    }
    Value::Object(m)
}

/// Unknown categories become "other" so a typo cannot produce a bogus tag.
fn normalise_category(c: &str) -> &'static str {
    match c.trim().to_ascii_lowercase().as_str() {
        "impersonation" => "impersonation",
        "phishing_link" => "phishing_link",
        "fake_app" => "fake_app",
        "investment_scam" => "investment_scam",
        "account_takeover" => "account_takeover",
        _ => "other",
    }
}

/// content-fraud `fraud_type` enum. Support impersonation is what the schema
/// calls a tech-support scam; categories without a counterpart map to "other".
fn fraud_type(category: &str) -> &'static str {
    match category {
        "impersonation" => "tech_support",
        "investment_scam" => "investment",
        _ => "other",
    }
}

/// content-fraud `cryptocurrency_addresses[].currency` enum.
fn currency(chain: &str) -> &'static str {
    match chain {
        "btc" | "bitcoin" => "bitcoin",
        "eth" | "ethereum" | "erc20" => "ethereum",
        "usdt" => "usdt",
        "bnb" | "bsc" => "bnb",
        "xmr" | "monero" => "monero",
        _ => "other",
    }
}

fn source_identifier(i: &Ident) -> String {
    match i.kind {
        Kind::Crypto => i.crypto_parts().1.to_string(),
        _ => i.display(),
    }
}

/// A resolvable (or at least well-formed) URI for the identifier, since
/// content-base requires `url` with format "uri".
fn uri(i: &Ident) -> String {
    let v = &i.value;
    match i.kind {
        Kind::Website => format!("https://{}/", pct(v, "")),
        Kind::Telegram => format!("https://t.me/{}", pct(v, "")),
        Kind::X => format!("https://x.com/{}", pct(v, "")),
        Kind::WhatsApp => format!("https://wa.me/{}", pct(v.trim_start_matches('+'), "")),
        Kind::WeChat => format!("weixin://contacts/profile/{}", pct(v, "")),
        Kind::Email => format!("mailto:{}", pct(v, "@+")),
        Kind::Phone => format!("tel:{}", pct(v, "+")),
        Kind::Crypto => {
            let (chain, address) = i.crypto_parts();
            let scheme = match chain {
                "btc" | "bitcoin" => "bitcoin",
                "eth" | "ethereum" => "ethereum",
                "ltc" => "litecoin",
                "trx" | "tron" => "tron",
                "xmr" => "monero",
                "doge" => "dogecoin",
                c if is_scheme(c) => c,
                _ => "crypto",
            };
            format!("{scheme}:{}", pct(address, ""))
        }
    }
}

/// RFC 3986 scheme syntax: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_scheme(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Percent-encodes all but RFC 3986 unreserved characters and `keep`.
fn pct(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// content-base `domain` pattern: `^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$`.
fn is_schema_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && !l.contains("--")
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    !rest.is_empty()
        && rest.iter().all(label_ok)
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_lowercase())
}

/// Generated summary only; the victim's own narrative is never an input.
fn description(r: &XarfInput, category: &str, idents: &[Ident]) -> String {
    let what = match category {
        "impersonation" => "Support-impersonation fraud",
        "phishing_link" => "Phishing link",
        "fake_app" => "Fake app",
        "investment_scam" => "Investment scam",
        "account_takeover" => "Account-takeover attempt",
        _ => "Fraud",
    };
    let mut s = format!(
        "{what} confirmed by {} (case {}).",
        r.reporter_org, r.report_id
    );
    if let Some(o) = r
        .official_impersonated
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        s.push_str(" Scammer posed as ");
        s.push_str(o);
        s.push('.');
    }
    if !idents.is_empty() {
        let list: Vec<String> = idents
            .iter()
            .map(|i| format!("{} {}", i.kind.as_str(), i.display()))
            .collect();
        s.push_str(" Scammer identifiers: ");
        s.push_str(&list.join(", "));
        s.push('.');
    }
    if let Some(v) = r
        .token_verdict
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        s.push_str(" Support-token verdict: ");
        s.push_str(v);
        s.push('.');
    }
    s.chars().take(DESCRIPTION_MAX_CHARS).collect()
}

/// Namespaced tags matching `^[a-z0-9][a-z0-9_+-]*:[a-z0-9][a-z0-9_+-]*$`.
fn tags(r: &XarfInput, category: &str, idents: &[Ident]) -> Vec<String> {
    let mut out = vec![format!("fraud:{category}")];
    if let Some(v) = r
        .token_verdict
        .as_deref()
        .map(tag_value)
        .filter(|v| !v.is_empty())
    {
        out.push(format!("trustdesk_token:{v}"));
    }
    for i in idents {
        let t = format!("identifier:{}", i.kind.as_str());
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.truncate(TAGS_MAX);
    out
}

fn tag_value(v: &str) -> String {
    let s: String = v
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// "sha256:<hex>" like the schema's evidence `hash` field; malformed entries
/// are dropped rather than forwarded, duplicates collapsed.
fn evidence_hashes(hashes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hashes {
        let h = h.trim();
        let hex = h.strip_prefix("sha256:").unwrap_or(h).to_ascii_lowercase();
        let tagged = format!("sha256:{hex}");
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) && !out.contains(&tagged) {
            out.push(tagged);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> XarfInput {
        XarfInput {
            reporter_org: "Trustdesk".into(),
            reporter_domain: "trustdesk.example".into(),
            reporter_email: "abuse@trustdesk.example".into(),
            report_id: "TD-ABCD-EFGH".into(),
            reported_at: 1_795_600_800,
            occurred_at: Some(1_795_514_400),
            category: "impersonation".into(),
            scammer: vec![
                ("telegram".into(), "@Acme_Support_Help".into()),
                (
                    "website".into(),
                    "https://Binance-Support.help/login".into(),
                ),
                ("crypto_address".into(), "btc:bc1qexampleaddress".into()),
                ("email".into(), "help+x@evil.example".into()),
            ],
            official_impersonated: Some("telegram @acme_support".into()),
            evidence_sha256: vec![
                "AB".repeat(32),
                "not-a-hash".into(),
                format!("sha256:{}", "ab".repeat(32)),
            ],
            token_verdict: Some("forged".into()),
        }
    }

    #[test]
    fn required_v4_fields() {
        let v = fraud_report(&input());
        for f in [
            "xarf_version",
            "report_id",
            "timestamp",
            "reporter",
            "sender",
            "source_identifier",
            "category",
            "type",
            "url",
            "fraud_type",
        ] {
            assert!(v.get(f).is_some(), "missing {f}");
        }
        assert_eq!(v["xarf_version"], "4.2.0");
        assert_eq!(v["category"], "content");
        assert_eq!(v["type"], "fraud");
        assert_eq!(v["fraud_type"], "tech_support");
        assert_eq!(v["timestamp"], "2026-11-24T10:00:00.000Z");
        let contact = json!({"org": "Trustdesk", "contact": "abuse@trustdesk.example",
                             "domain": "trustdesk.example"});
        assert_eq!(v["reporter"], contact);
        assert_eq!(v["sender"], contact);
        assert!(Uuid::parse_str(v["report_id"].as_str().unwrap()).is_ok());
        // Website is primary even when listed second.
        assert_eq!(v["source_identifier"], "binance-support.help");
        assert_eq!(v["url"], "https://binance-support.help/");
        assert_eq!(v["domain"], "binance-support.help");
        assert_eq!(v["claimed_entity"], "telegram @acme_support");
        assert_eq!(
            v["cryptocurrency_addresses"],
            json!([{"currency": "bitcoin", "address": "bc1qexampleaddress"}])
        );
        assert_eq!(v["payment_methods"], json!(["cryptocurrency"]));
        assert_eq!(
            v["evidence_hashes"],
            json!([format!("sha256:{}", "ab".repeat(32))])
        );
        assert_eq!(
            v["scammer_identifiers"][0],
            json!({"kind": "telegram", "value": "@acme_support_help",
                                                      "url": "https://t.me/acme_support_help"})
        );
        assert_eq!(
            v["scammer_identifiers"][3]["url"],
            "mailto:help+x@evil.example"
        );
        assert_eq!(
            v["tags"],
            json!([
                "fraud:impersonation",
                "trustdesk_token:forged",
                "identifier:telegram",
                "identifier:website",
                "identifier:crypto_address",
                "identifier:email"
            ])
        );
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string(&fraud_report(&input())).unwrap()
        );
    }

    #[test]
    fn non_website_primary_and_fallbacks() {
        let mut r = input();
        r.scammer = vec![
            ("telegram".into(), "acme_help".into()),
            ("phone".into(), "+86 138 0000 0000".into()),
        ];
        r.occurred_at = None;
        r.category = "Investment_Scam".into();
        r.token_verdict = None;
        r.evidence_sha256.clear();
        let v = fraud_report(&r);
        assert_eq!(v["source_identifier"], "@acme_help");
        assert_eq!(v["url"], "https://t.me/acme_help");
        assert_eq!(v["fraud_type"], "investment");
        assert_eq!(v["timestamp"], "2026-11-25T10:00:00.000Z");
        assert_eq!(v["scammer_identifiers"][1]["url"], "tel:+8613800000000");
        for absent in [
            "domain",
            "evidence_hashes",
            "cryptocurrency_addresses",
            "payment_methods",
        ] {
            assert!(v.get(absent).is_none(), "{absent} should be absent");
        }
        r.scammer.clear();
        let v = fraud_report(&r);
        assert_eq!(v["url"], "urn:trustdesk:report:TD-ABCD-EFGH");
        assert_eq!(v["source_identifier"], "TD-ABCD-EFGH");
    }

    #[test]
    fn only_schema_and_documented_fields() {
        let v = fraud_report(&input());
        let allowed = [
            "xarf_version",
            "report_id",
            "timestamp",
            "reporter",
            "sender",
            "source_identifier",
            "category",
            "type",
            "fraud_type",
            "url",
            "domain",
            "evidence_source",
            "claimed_entity",
            "attack_vector",
            "payment_methods",
            "cryptocurrency_addresses",
            "description",
            "tags",
            "scammer_identifiers",
            "evidence_hashes",
        ];
        for k in v.as_object().unwrap().keys() {
            assert!(allowed.contains(&k.as_str()), "unexpected field {k}");
        }
        let d = v["description"].as_str().unwrap();
        assert!(d.starts_with(
            "Support-impersonation fraud confirmed by Trustdesk (case TD-ABCD-EFGH)."
        ));
        assert!(d.ends_with("Support-token verdict: forged."));
    }

    #[test]
    fn helpers() {
        assert!(is_schema_domain("binance-support.help"));
        assert!(!is_schema_domain("localhost"));
        assert!(!is_schema_domain("a--b.example"));
        assert!(!is_schema_domain("xn--p1ai.x1"));
        assert_eq!(pct("a b/ü", ""), "a%20b%2F%C3%BC");
        assert_eq!(tag_value("  Forged (v2)!"), "forged__v2__");
        let long = XarfInput {
            official_impersonated: Some("x".repeat(2000)),
            ..input()
        };
        assert_eq!(
            fraud_report(&long)["description"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1000
        );
    }
}
