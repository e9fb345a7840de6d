//! STIX 2.1 bundle of scammer indicators.
//!
//! Pattern choices (each checked with `stix2` 3.0.2, `stix2-patterns` 2.1.2 and
//! `stix2-validator` 3.3.2, see `validate_stix.py`):
//!
//! * e-mail: `[email-addr:value = '…']`; website: `[domain-name:value = '…']`.
//! * telegram / wechat / whatsapp / x:
//!   `[user-account:account_type = '…' AND user-account:account_login = '…']`.
//!   The login is stored **without** the '@' and lower-cased for telegram/x:
//!   '@' is display decoration, not part of the username, and both platforms
//!   match usernames case-insensitively, so this is what consumers can match on.
//!   X uses `account_type` `'twitter'`, the value in STIX's `account-type-ov`, so
//!   vocabulary-aware consumers recognise it; the others use lower-case
//!   platform names (the vocabulary is open).
//! * phone: STIX 2.1 has no phone SCO. We use the standard `user-account` SCO
//!   with `account_type` `'phone'` and the E.164 number as login, rather than a
//!   custom `x-` type, because every STIX consumer already indexes
//!   user-account and it is how the same number appears for whatsapp.
//! * crypto: STIX 2.1 has no wallet SCO either (there is only a non-OASIS
//!   community `cryptocurrency-wallet` extension), so we use a custom object
//!   `[x-crypto-wallet:address = '…' AND x-crypto-wallet:chain = '…']`; the
//!   `x-` prefix is what the validators accept for custom types in patterns.
//!
//! Confidence: 85 for one confirmed report, 95 for two or more (independent
//! confirmations); values below one are treated as one since only confirmed
//! identifiers are published.
//!
//! Determinism: no clock is read. Ids are `UUIDv5` under a namespace derived from
//! the producer's base URL: indicators from (kind, normalised value) so
//! consumers dedupe across fetches, the identity from the producer name, and the
//! bundle from a SHA-256 of the serialised objects. The identity's timestamps
//! are a constant because STIX forbids `created` changing between versions.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{rfc3339, FeedEntry, Ident, Kind, Producer, Tlp};

/// Fixed `created`/`modified` of the producer identity (2026-01-01T00:00:00Z).
/// A renamed producer gets a new identity id instead of a new version.
const IDENTITY_EPOCH: i64 = 1_767_225_600;

/// `created` of the STIX 2.1 predefined TLP 1.0 marking definitions.
const TLP_CREATED: &str = "2017-01-20T00:00:00.000Z";

/// Renders the feed as a STIX 2.1 bundle: the TLP marking definition, the
/// producer identity, then one indicator per usable entry, in input order.
/// Entries with an unknown kind or an empty value are skipped.
#[must_use]
pub fn bundle(entries: &[FeedEntry], producer: &Producer, tlp: Tlp) -> Value {
    let ns = producer_namespace(producer);
    let marking = tlp_marking(tlp);
    let marking_id = marking["id"].clone();
    let identity_id = format!(
        "identity--{}",
        Uuid::new_v5(&ns, format!("identity:{}", producer.name).as_bytes())
    );
    let epoch = rfc3339(IDENTITY_EPOCH);

    let mut objects = vec![
        marking,
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": identity_id,
            "created": epoch,
            "modified": epoch,
            "name": producer.name,
            "identity_class": "organization",
            "contact_information": producer.base_url,
            "object_marking_refs": [marking_id],
        }),
    ];
    objects.extend(entries.iter().filter_map(|e| {
        let ident = Ident::new(&e.kind, &e.value)?;
        Some(indicator(
            e,
            &ident,
            &ns,
            &identity_id,
            &marking_id,
            &producer.name,
        ))
    }));

    // Serialising a Value cannot fail; an empty hash input would only weaken
    // the id's uniqueness, never determinism.
    let body = serde_json::to_vec(&objects).unwrap_or_default();
    let name = [b"bundle:".as_slice(), Sha256::digest(&body).as_slice()].concat();
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", Uuid::new_v5(&ns, &name)),
        "objects": objects,
    })
}

/// Per-producer `UUIDv5` namespace, so two deployments never mint the same id
/// for different objects (a STIX id names exactly one object).
fn producer_namespace(producer: &Producer) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        producer.base_url.trim_end_matches('/').as_bytes(),
    )
}

/// The STIX 2.1 spec's predefined TLP 1.0 marking object (ids and `created`
/// are fixed by the spec; identical to `stix2.TLP_WHITE/GREEN/AMBER`).
fn tlp_marking(tlp: Tlp) -> Value {
    let (id, name, level) = match tlp {
        Tlp::Clear => ("613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE", "white"),
        Tlp::Green => ("34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN", "green"),
        Tlp::Amber => ("f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER", "amber"),
    };
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": format!("marking-definition--{id}"),
        "created": TLP_CREATED,
        "definition_type": "tlp",
        "name": name,
        "definition": { "tlp": level },
    })
}

fn indicator(
    e: &FeedEntry,
    ident: &Ident,
    ns: &Uuid,
    identity_id: &str,
    marking_id: &Value,
    producer_name: &str,
) -> Value {
    let kind = ident.kind.as_str();
    let id = Uuid::new_v5(ns, format!("indicator:{kind}:{}", ident.value).as_bytes());
    let what = noun(ident);
    let shown = ident.display();
    let reports = e.confirmed_reports.max(1);
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{id}"),
        "created_by_ref": identity_id,
        "created": rfc3339(e.first_seen),
        // STIX requires modified >= created; guard against swapped input.
        "modified": rfc3339(e.last_seen.max(e.first_seen)),
        "name": format!("Scammer {what} {shown}"),
        "description": format!(
            "Scammer {what} {shown} confirmed in {reports} fraud report(s) by {producer_name}"
        ),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern(ident),
        "pattern_type": "stix",
        "valid_from": rfc3339(e.first_seen),
        "confidence": confidence(e.confirmed_reports),
        "labels": ["impersonation-scam", kind],
        "object_marking_refs": [marking_id],
    })
}

/// 85 for a single confirmed report, 95 once independently confirmed twice.
fn confidence(confirmed_reports: i64) -> u8 {
    if confirmed_reports >= 2 {
        95
    } else {
        85
    }
}

/// What the identifier is, for names and descriptions.
fn noun(ident: &Ident) -> String {
    match ident.kind {
        Kind::Telegram | Kind::WeChat | Kind::WhatsApp | Kind::X => {
            format!("{} account", ident.kind.as_str())
        }
        Kind::Email => "e-mail address".into(),
        Kind::Phone => "phone number".into(),
        Kind::Website => "website".into(),
        Kind::Crypto => format!("{} wallet", ident.crypto_parts().0),
    }
}

/// The STIX pattern for one identifier (choices documented at module level).
fn pattern(ident: &Ident) -> String {
    let account = |ty: &str, login: &str| {
        format!(
            "[user-account:account_type = {} AND user-account:account_login = {}]",
            lit(ty),
            lit(login)
        )
    };
    match ident.kind {
        Kind::Email => format!("[email-addr:value = {}]", lit(&ident.value)),
        Kind::Website => format!("[domain-name:value = {}]", lit(&ident.value)),
        Kind::Telegram => account("telegram", &ident.value),
        Kind::WeChat => account("wechat", &ident.value),
        Kind::WhatsApp => account("whatsapp", &ident.value),
        Kind::X => account("twitter", &ident.value),
        Kind::Phone => account("phone", &ident.value),
        Kind::Crypto => {
            let (chain, address) = ident.crypto_parts();
            format!(
                "[x-crypto-wallet:address = {} AND x-crypto-wallet:chain = {}]",
                lit(address),
                lit(chain)
            )
        }
    }
}

/// A STIX pattern string literal: the grammar only knows `\'` and `\\` escapes,
/// so a scammer-chosen value cannot break out of the comparison.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn producer() -> Producer {
        Producer {
            name: "Trustdesk".into(),
            base_url: "https://trustdesk.example".into(),
        }
    }

    fn entry(kind: &str, value: &str, reports: i64) -> FeedEntry {
        FeedEntry {
            kind: kind.into(),
            value: value.into(),
            first_seen: 1_795_514_400,
            last_seen: 1_795_600_800,
            confirmed_reports: reports,
        }
    }

    fn all_kinds() -> Vec<FeedEntry> {
        vec![
            entry("telegram", "@acme_support", 3),
            entry("wechat", "scam_wx01", 1),
            entry("whatsapp", "+8613800000000", 2),
            entry("email", "help@binance-support.help", 1),
            entry("phone", "+8613800000001", 1),
            entry("x", "@AcmeHelpDesk", 2),
            entry("website", "binance-support.help", 5),
            entry(
                "crypto_address",
                "eth:0xAbC0000000000000000000000000000000000001",
                1,
            ),
        ]
    }

    fn indicators(b: &Value) -> Vec<&Value> {
        b["objects"]
            .as_array()
            .map(|o| o.iter().filter(|x| x["type"] == "indicator").collect())
            .unwrap_or_default()
    }

    #[test]
    fn deterministic() {
        let a = bundle(&all_kinds(), &producer(), Tlp::Clear);
        let b = bundle(&all_kinds(), &producer(), Tlp::Clear);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        // Content drives the bundle id; ids of unchanged indicators stay put.
        let mut changed = all_kinds();
        changed[0].confirmed_reports = 4;
        let c = bundle(&changed, &producer(), Tlp::Clear);
        assert_ne!(a["id"], c["id"]);
        assert_eq!(indicators(&a)[0]["id"], indicators(&c)[0]["id"]);
        // Same account written differently dedupes to the same indicator id.
        let d = bundle(
            &[entry("telegram", "Acme_Support", 3)],
            &producer(),
            Tlp::Clear,
        );
        assert_eq!(indicators(&a)[0]["id"], indicators(&d)[0]["id"]);
        assert!(a["id"].as_str().unwrap().starts_with("bundle--"));
    }

    #[test]
    fn every_kind_produces_an_indicator() {
        let b = bundle(&all_kinds(), &producer(), Tlp::Clear);
        let ind = indicators(&b);
        assert_eq!(ind.len(), 8);
        let pats: Vec<&str> = ind.iter().map(|i| i["pattern"].as_str().unwrap()).collect();
        assert_eq!(
            pats,
            [
                "[user-account:account_type = 'telegram' AND user-account:account_login = 'acme_support']",
                "[user-account:account_type = 'wechat' AND user-account:account_login = 'scam_wx01']",
                "[user-account:account_type = 'whatsapp' AND user-account:account_login = '+8613800000000']",
                "[email-addr:value = 'help@binance-support.help']",
                "[user-account:account_type = 'phone' AND user-account:account_login = '+8613800000001']",
                "[user-account:account_type = 'twitter' AND user-account:account_login = 'acmehelpdesk']",
                "[domain-name:value = 'binance-support.help']",
                "[x-crypto-wallet:address = '0xabc0000000000000000000000000000000000001' AND x-crypto-wallet:chain = 'eth']",
            ]
        );
        assert_eq!(
            ind[0]["description"],
            "Scammer telegram account @acme_support confirmed in 3 fraud report(s) by Trustdesk"
        );
        assert_eq!(ind[0]["confidence"], 95);
        assert_eq!(ind[1]["confidence"], 85);
        assert_eq!(ind[0]["created"], "2026-11-24T10:00:00.000Z");
        assert_eq!(ind[0]["modified"], "2026-11-25T10:00:00.000Z");
    }

    #[test]
    fn pattern_escaping() {
        let b = bundle(&[entry("wechat", r"o'brien\x", 1)], &producer(), Tlp::Clear);
        assert_eq!(
            indicators(&b)[0]["pattern"],
            r"[user-account:account_type = 'wechat' AND user-account:account_login = 'o\'brien\\x']"
        );
        assert_eq!(lit(r"\'"), r"'\\\''");
    }

    #[test]
    fn no_extra_fields_and_markings() {
        let b = bundle(&all_kinds(), &producer(), Tlp::Amber);
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        let set = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(keys(&b), set(&["type", "id", "objects"]));
        let objs = b["objects"].as_array().unwrap();
        assert_eq!(objs.len(), 10);
        let marking_id = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
        assert_eq!(
            objs[0],
            json!({"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
                   "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
                   "name": "TLP:AMBER", "definition": {"tlp": "amber"}})
        );
        assert_eq!(
            keys(&objs[1]),
            set(&[
                "type",
                "spec_version",
                "id",
                "created",
                "modified",
                "name",
                "identity_class",
                "contact_information",
                "object_marking_refs"
            ])
        );
        assert_eq!(objs[1]["object_marking_refs"], json!([marking_id]));
        for i in indicators(&b) {
            assert_eq!(
                keys(i),
                set(&[
                    "type",
                    "spec_version",
                    "id",
                    "created_by_ref",
                    "created",
                    "modified",
                    "name",
                    "description",
                    "indicator_types",
                    "pattern",
                    "pattern_type",
                    "valid_from",
                    "confidence",
                    "labels",
                    "object_marking_refs"
                ])
            );
            assert_eq!(i["created_by_ref"], objs[1]["id"]);
            assert_eq!(i["object_marking_refs"], json!([marking_id]));
        }
        let white = bundle(&[], &producer(), Tlp::default());
        assert_eq!(
            white["objects"][0]["id"],
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
        );
        let green = bundle(&[], &producer(), Tlp::Green);
        assert_eq!(green["objects"][0]["name"], "TLP:GREEN");
    }

    #[test]
    fn skips_unusable_entries_and_fixes_swapped_times() {
        let mut swapped = entry("email", "a@b.example", 0);
        std::mem::swap(&mut swapped.first_seen, &mut swapped.last_seen);
        let b = bundle(
            &[entry("fax", "1", 1), entry("telegram", "@", 1), swapped],
            &producer(),
            Tlp::Clear,
        );
        let ind = indicators(&b);
        assert_eq!(ind.len(), 1);
        assert_eq!(ind[0]["created"], ind[0]["modified"]);
        assert_eq!(ind[0]["confidence"], 85);
        assert!(ind[0]["description"]
            .as_str()
            .unwrap()
            .contains("in 1 fraud report(s)"));
    }
}
