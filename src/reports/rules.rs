//! Escalation rules: what a report says raises its priority, by rules admins configure.
//!
//! Triage (see [`super::triage`]) labels what a report *is*; these rules decide how *urgent* it
//! is from its content. Each rule that fires is recorded on the report ([`FiredRule`]) so staff
//! see exactly why it jumped the queue. A rule an admin never configured runs with its default.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Priority;
use super::triage::{ChannelFinding, Evidence};
use crate::storage::{FiredRule, RuleRecord};
use crate::types::{rfc3339, UnixTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// The loss is above a threshold (optionally only for some assets).
    LossAbove,
    /// The scammer wrote from a registered official channel: a compromised account or insider.
    OfficialChannelAsScammer,
    /// The token or link the scammer showed is forged: hard evidence of impersonation.
    ForgedToken,
    /// A scammer identifier is already a known scam (confirmed and acted on before).
    KnownScamIdentifier,
    /// Several reports named the same identifier within a window: a live campaign.
    RepeatIdentifier,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::LossAbove,
        RuleKind::OfficialChannelAsScammer,
        RuleKind::ForgedToken,
        RuleKind::KnownScamIdentifier,
        RuleKind::RepeatIdentifier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::LossAbove => "loss_above",
            RuleKind::OfficialChannelAsScammer => "official_channel_as_scammer",
            RuleKind::ForgedToken => "forged_token",
            RuleKind::KnownScamIdentifier => "known_scam_identifier",
            RuleKind::RepeatIdentifier => "repeat_identifier",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One rule's configuration, as admins send and read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[schema(value_type = String, example = "loss_above")]
    pub rule: RuleKind,
    pub enabled: bool,
    /// The priority a report gets (at least) when the rule fires.
    #[schema(value_type = String, example = "P1")]
    pub priority: Priority,
    /// `loss_above`: decimal threshold, e.g. "10000"; the loss must be strictly above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// `loss_above`: only for these asset symbols; empty or absent means any asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<Vec<String>>,
    /// `repeat_identifier`: how many reports (this one included) within the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `repeat_identifier`: the window in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// 400
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

impl RuleConfig {
    pub fn default_for(kind: RuleKind) -> RuleConfig {
        let base = RuleConfig {
            rule: kind,
            enabled: true,
            priority: Priority::P1,
            threshold: None,
            assets: None,
            count: None,
            window_secs: None,
        };
        match kind {
            RuleKind::LossAbove => RuleConfig {
                threshold: Some("10000".into()),
                assets: Some(
                    ["USDT", "USDC", "USD", "DAI", "FDUSD"]
                        .map(String::from)
                        .to_vec(),
                ),
                ..base
            },
            RuleKind::OfficialChannelAsScammer | RuleKind::ForgedToken => base,
            RuleKind::KnownScamIdentifier => RuleConfig {
                priority: Priority::P2,
                ..base
            },
            RuleKind::RepeatIdentifier => RuleConfig {
                priority: Priority::P2,
                count: Some(3),
                window_secs: Some(3600),
                ..base
            },
        }
    }

    /// Checks the parameters a rule needs and rejects those it does not take.
    pub fn validate(&self) -> Result<(), RuleError> {
        let err = |m: &str| Err(RuleError::Invalid(format!("{}: {m}", self.rule.as_str())));
        let loss = self.rule == RuleKind::LossAbove;
        let repeat = self.rule == RuleKind::RepeatIdentifier;
        if !loss && (self.threshold.is_some() || self.assets.is_some()) {
            return err("threshold and assets apply to loss_above only");
        }
        if !repeat && (self.count.is_some() || self.window_secs.is_some()) {
            return err("count and window_secs apply to repeat_identifier only");
        }
        if loss {
            match &self.threshold {
                Some(t) if super::model::is_decimal(t) => {}
                _ => return err("threshold must be a decimal number like 10000"),
            }
            let assets = self.assets.as_deref().unwrap_or_default();
            if assets.len() > 50
                || assets.iter().any(|a| {
                    a.is_empty() || a.len() > 16 || !a.bytes().all(|b| b.is_ascii_alphanumeric())
                })
            {
                return err("assets must be at most 50 symbols like USDT");
            }
        }
        if repeat {
            if !matches!(self.count, Some(2..=1000)) {
                return err("count must be 2 to 1000");
            }
            if !matches!(self.window_secs, Some(60..=2_592_000)) {
                return err("window_secs must be 60 to 2592000 (30 days)");
            }
        }
        Ok(())
    }

    pub fn to_record(&self, at: UnixTime, by: &str) -> RuleRecord {
        RuleRecord {
            rule: self.rule.as_str().into(),
            enabled: i64::from(self.enabled),
            priority: self.priority.as_str().into(),
            params: serde_json::to_string(self).unwrap_or_else(|_| "{}".into()),
            updated_at: at,
            updated_by: Some(by.into()),
        }
    }
}

/// The rules in force: every kind once, configured or default, in [`RuleKind::ALL`] order.
pub fn effective(records: &[RuleRecord]) -> Vec<RuleConfig> {
    RuleKind::ALL
        .into_iter()
        .map(|k| {
            records
                .iter()
                .filter(|r| r.rule == k.as_str())
                .find_map(|r| serde_json::from_str::<RuleConfig>(&r.params).ok())
                .filter(|c| c.rule == k && c.validate().is_ok())
                .unwrap_or_else(|| RuleConfig::default_for(k))
        })
        .collect()
}

/// The rules in force, as stored or by default.
pub async fn current(
    store: &dyn crate::storage::Store,
) -> Result<Vec<RuleConfig>, crate::storage::StorageError> {
    Ok(effective(&store.list_rules().await?))
}

/// Replaces the rule set (role admin, checked by the caller). Every kind may appear at most
/// once; kinds left out keep their defaults. Audited with the whole new set.
pub async fn replace(
    store: &dyn crate::storage::Store,
    actor_id: &str,
    rules: &[RuleConfig],
) -> Result<Vec<RuleConfig>, RuleError> {
    for (i, r) in rules.iter().enumerate() {
        r.validate()?;
        if rules[..i].iter().any(|o| o.rule == r.rule) {
            return Err(RuleError::Invalid(format!(
                "{} appears twice",
                r.rule.as_str()
            )));
        }
    }
    let at = crate::types::now();
    let records: Vec<RuleRecord> = rules.iter().map(|r| r.to_record(at, actor_id)).collect();
    let audit = crate::audit::draft(
        Some(actor_id),
        "rules.replace",
        "escalation_rules",
        serde_json::json!({ "rules": rules }),
    );
    store
        .put_rules(&records, &audit, crate::audit::hash_entry)
        .await?;
    Ok(effective(&records))
}

/// What the rules look at, gathered at intake.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    pub amount_lost: Option<&'a str>,
    pub asset: Option<&'a str>,
    pub evidence: Option<&'a Evidence>,
    /// Identifiers of this report already known as scams, with their confirmed-report counts.
    pub known_scam: Vec<(String, i64)>,
    /// Per identifier: how many reports named it within each repeat window, this one included.
    pub recent: Vec<(String, i64)>,
}

/// The rules that fire for these facts, in configuration order.
pub fn evaluate(rules: &[RuleConfig], f: &Facts<'_>, at: UnixTime) -> Vec<FiredRule> {
    let mut fired = Vec::new();
    for r in rules.iter().filter(|r| r.enabled) {
        let detail = match r.rule {
            RuleKind::LossAbove => {
                let (Some(amount), Some(threshold)) = (f.amount_lost, r.threshold.as_deref())
                else {
                    continue;
                };
                let assets = r.assets.as_deref().unwrap_or_default();
                let asset_ok = assets.is_empty()
                    || f.asset
                        .is_some_and(|a| assets.iter().any(|x| x.eq_ignore_ascii_case(a)));
                if !asset_ok || cmp_decimal(amount, threshold) != std::cmp::Ordering::Greater {
                    continue;
                }
                format!(
                    "loss of {amount} {} is above the threshold of {threshold}",
                    f.asset.unwrap_or("(no asset given)")
                )
            }
            RuleKind::OfficialChannelAsScammer => match f.evidence.and_then(|e| e.channel.as_ref())
            {
                Some(ChannelFinding::Official { value }) => {
                    format!("the scammer's channel {value} is a registered official channel")
                }
                _ => continue,
            },
            RuleKind::ForgedToken => match f.evidence.and_then(|e| e.token.as_ref()) {
                Some(t) if t.verdict == "forged" => format!(
                    "the token or link the scammer showed is forged ({})",
                    t.reason.as_deref().unwrap_or("bad signature")
                ),
                _ => continue,
            },
            RuleKind::KnownScamIdentifier => {
                if f.known_scam.is_empty() {
                    continue;
                }
                let list: Vec<String> = f
                    .known_scam
                    .iter()
                    .map(|(id, n)| format!("{id} ({n} confirmed report(s))"))
                    .collect();
                format!("already a known scam: {}", list.join(", "))
            }
            RuleKind::RepeatIdentifier => {
                let need = i64::from(r.count.unwrap_or(3));
                let hits: Vec<String> = f
                    .recent
                    .iter()
                    .filter(|(_, n)| *n >= need)
                    .map(|(id, n)| format!("{id} ({n} reports)"))
                    .collect();
                if hits.is_empty() {
                    continue;
                }
                format!(
                    "{} or more reports within {} s name {}",
                    need,
                    r.window_secs.unwrap_or(3600),
                    hits.join(", ")
                )
            }
        };
        fired.push(FiredRule {
            rule: r.rule.as_str().into(),
            priority: r.priority.as_str().into(),
            detail,
            at: rfc3339(at),
        });
    }
    fired
}

/// The highest priority any fired rule asks for.
pub fn strongest(fired: &[FiredRule]) -> Option<Priority> {
    fired
        .iter()
        .filter_map(|f| Priority::parse(&f.priority))
        .min()
}

/// Compares two plain decimals (as accepted by `is_decimal`) exactly, without floating point.
pub fn cmp_decimal(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> (&str, &str) {
        let (i, f) = s.split_once('.').unwrap_or((s, ""));
        let i = i.trim_start_matches('0');
        (i, f.trim_end_matches('0'))
    }
    let (ai, af) = parts(a);
    let (bi, bf) = parts(b);
    ai.len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| {
            let n = af.len().max(bf.len());
            format!("{af:0<n$}").cmp(&format!("{bf:0<n$}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::triage::TokenFinding;
    use std::cmp::Ordering::*;

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(cmp_decimal("10000.01", "10000"), Greater);
        assert_eq!(cmp_decimal("10000", "10000.00"), Equal);
        assert_eq!(cmp_decimal("9999.999999", "10000"), Less);
        assert_eq!(cmp_decimal("00123", "123"), Equal);
        assert_eq!(cmp_decimal("0.5", "0.45"), Greater);
        assert_eq!(
            cmp_decimal("100000000000000000000", "99999999999999999999"),
            Greater
        );
    }

    #[test]
    fn each_rule_fires_only_on_its_facts() {
        let rules = effective(&[]);
        assert!(evaluate(&rules, &Facts::default(), 0).is_empty());
        let big = Facts {
            amount_lost: Some("25000"),
            asset: Some("usdt"),
            ..Facts::default()
        };
        let f = evaluate(&rules, &big, 0);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule.as_str(), f[0].priority.as_str()),
            ("loss_above", "P1")
        );
        let other_asset = Facts {
            asset: Some("DOGE"),
            ..big.clone()
        };
        assert!(evaluate(&rules, &other_asset, 0).is_empty(), "asset filter");
        let ev = Evidence {
            token: Some(TokenFinding {
                verdict: "forged",
                reason: Some("unknown_key".into()),
                agent_name: None,
            }),
            channel: Some(ChannelFinding::Official {
                value: "telegram:@acme".into(),
            }),
            claimed: None,
        };
        let f = evaluate(
            &rules,
            &Facts {
                evidence: Some(&ev),
                known_scam: vec![("telegram:@x".into(), 2)],
                recent: vec![("telegram:@x".into(), 3)],
                ..Facts::default()
            },
            0,
        );
        let names: Vec<&str> = f.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            names,
            [
                "official_channel_as_scammer",
                "forged_token",
                "known_scam_identifier",
                "repeat_identifier"
            ]
        );
        assert_eq!(strongest(&f), Some(Priority::P1));
        let two = Facts {
            recent: vec![("telegram:@x".into(), 2)],
            ..Facts::default()
        };
        assert!(evaluate(&rules, &two, 0).is_empty(), "below the count");
    }

    #[test]
    fn disabled_rules_never_fire_and_bad_configs_are_refused() {
        let mut rules = effective(&[]);
        for r in &mut rules {
            r.enabled = false;
        }
        let big = Facts {
            amount_lost: Some("1e9"),
            ..Facts::default()
        };
        assert!(evaluate(&rules, &big, 0).is_empty());
        let mut c = RuleConfig::default_for(RuleKind::RepeatIdentifier);
        c.count = Some(1);
        assert!(c.validate().is_err());
        let mut c = RuleConfig::default_for(RuleKind::ForgedToken);
        c.threshold = Some("5".into());
        assert!(c.validate().is_err());
        let mut c = RuleConfig::default_for(RuleKind::LossAbove);
        c.threshold = Some("-5".into());
        assert!(c.validate().is_err());
        for k in RuleKind::ALL {
            assert!(RuleConfig::default_for(k).validate().is_ok(), "{k:?}");
        }
    }
}
