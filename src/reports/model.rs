//! The report itself: what a victim submits, parsed into bounded, validated values, and the
//! vocabularies (category, priority, status) the rest of the workflow speaks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::chain::{parse_tx, Chain, TxRef};
use super::ReportError;
use crate::channels::{ChannelHandle, ChannelKind};
use crate::types::{Locale, UnixTime};

pub const MAX_DESCRIPTION_CHARS: usize = 5000;
pub const MAX_PRESENTED_BYTES: usize = 16 * 1024;
pub const MAX_CONTACT_CHARS: usize = 200;
pub const MAX_TRANSACTIONS: usize = 20;
pub const MAX_ADDRESSES: usize = 20;
pub const MAX_AGENT_NAME_CHARS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Impersonation,
    PhishingLink,
    FakeApp,
    InvestmentScam,
    AccountTakeover,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Impersonation,
        Category::PhishingLink,
        Category::FakeApp,
        Category::InvestmentScam,
        Category::AccountTakeover,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Impersonation => "impersonation",
            Category::PhishingLink => "phishing_link",
            Category::FakeApp => "fake_app",
            Category::InvestmentScam => "investment_scam",
            Category::AccountTakeover => "account_takeover",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// P1: funds at immediate risk or an official account compromised; P2: confirmed or likely
/// impersonation; P3: everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Priority {
    P1,
    P2,
    P3,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            _ => None,
        }
    }
}

/// Where a report is in its life. Intake creates `received`; staff moves come with the review
/// workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Triaged,
    Investigating,
    ConfirmedFraud,
    Dismissed,
    Duplicate,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Received,
        Status::Triaged,
        Status::Investigating,
        Status::ConfirmedFraud,
        Status::Dismissed,
        Status::Duplicate,
        Status::Resolved,
    ];
    /// Statuses after which a report no longer collects related reports.
    pub const CLOSED: [&'static str; 3] = ["dismissed", "duplicate", "resolved"];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Triaged => "triaged",
            Status::Investigating => "investigating",
            Status::ConfirmedFraud => "confirmed_fraud",
            Status::Dismissed => "dismissed",
            Status::Duplicate => "duplicate",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The channel the scammer used, as the victim typed it.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScamChannelInput {
    #[schema(value_type = String, example = "telegram")]
    pub kind: ChannelKind,
    #[schema(example = "@binance_support_247", max_length = 512)]
    pub handle: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TxInput {
    #[schema(value_type = String, example = "eth")]
    pub chain: Chain,
    pub tx_hash: String,
}

/// A crypto address the scammer had funds sent to.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[schema(value_type = String, example = "tron")]
    pub chain: Chain,
    #[schema(example = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7")]
    pub address: String,
}

/// Who the scammer claimed to be: an official channel, an agent by name, or both (a forged
/// token usually names both).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimedEntityInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ScamChannelInput>,
    /// The agent name the scammer used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub agent: Option<String>,
}

/// The JSON part `report` of `POST /v1/reports`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    #[schema(value_type = String, example = "impersonation")]
    pub category: Category,
    /// What happened, in the victim's words.
    #[schema(max_length = 5000)]
    pub description: String,
    #[serde(default)]
    pub scam_channel: Option<ScamChannelInput>,
    /// Any identity link, token or message the scammer showed; it is verified at intake.
    #[serde(default)]
    #[schema(max_length = 16384)]
    pub presented: Option<String>,
    #[serde(default)]
    pub transactions: Vec<TxInput>,
    /// Decimal amount, e.g. "1250.50".
    #[serde(default)]
    pub amount_lost: Option<String>,
    /// Asset symbol, e.g. "USDT".
    #[serde(default)]
    pub asset: Option<String>,
    /// RFC 3339 time it happened.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// Crypto addresses the scammer had funds sent to (grouping and the scam feed).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub scam_addresses: Vec<AddressInput>,
    /// Who the scammer posed as; the verify and check answers pre-fill it.
    #[serde(default)]
    pub claimed_entity: Option<ClaimedEntityInput>,
    /// How to reach the reporter. Omit it to report anonymously.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reporter_contact: Option<String>,
    /// May we contact the reporter about this report? Defaults to true when a contact is given;
    /// false keeps the contact on file without it being used to reach out.
    #[serde(default)]
    pub contact_opt_in: Option<bool>,
    /// Separately: may the contact be shared with law enforcement? Needs a contact. Default false.
    #[serde(default)]
    pub share_with_law_enforcement: bool,
    /// `en` or `zh-CN`.
    #[serde(default)]
    pub lang: Option<String>,
    /// Opt in to e-mail notifications about this report (receipt, each public update, a late
    /// first response, resolution). Needs `anti_phishing_phrase`. Stored encrypted, apart from
    /// the report; deletable at any time with the receipt.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub notify_email: Option<String>,
    /// A phrase of the victim's choosing that every genuine notification quotes: a message
    /// without it is not from us. 4–64 characters; required with `notify_email`.
    #[serde(default)]
    #[schema(min_length = 4, max_length = 64)]
    pub anti_phishing_phrase: Option<String>,
}

/// A validated opt-in to notifications.
#[derive(Clone)]
pub struct NotifyOptIn {
    pub email: String,
    pub phrase: String,
}

/// Never prints the address or the phrase (reports are traced).
impl std::fmt::Debug for NotifyOptIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifyOptIn { .. }")
    }
}

/// Checks an address well enough to refuse typos and header tricks; the SMTP server decides the
/// rest.
fn parse_notify(
    email: Option<&str>,
    phrase: Option<&str>,
) -> Result<Option<NotifyOptIn>, ReportError> {
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    let phrase = phrase.map(str::trim).filter(|p| !p.is_empty());
    let Some(email) = email else {
        return if phrase.is_some() {
            Err(invalid(
                "invalid_notify",
                "anti_phishing_phrase needs notify_email",
            ))
        } else {
            Ok(None)
        };
    };
    let ok_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && email.matches('@').count() == 1
        && email
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[],;:\\\"".contains(c))
        // What the mailer will accept later, so a subscription cannot fail for good at send time.
        && email.parse::<lettre::Address>().is_ok();
    if !ok_email {
        return Err(invalid(
            "invalid_notify_email",
            "notify_email is not a valid e-mail address",
        ));
    }
    let Some(phrase) = phrase else {
        return Err(invalid(
            "anti_phishing_phrase_required",
            "choose an anti-phishing phrase: every genuine notification quotes it",
        ));
    };
    let n = phrase.chars().count();
    if !(4..=64).contains(&n) || phrase.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_anti_phishing_phrase",
            "the anti-phishing phrase must be 4–64 characters on one line",
        ));
    }
    let lower = phrase.to_ascii_lowercase();
    let looks_like_link = lower.contains("://")
        || lower.contains("www.")
        || crate::followup::mail::looks_like_domain(&lower);
    let digits = phrase.chars().filter(char::is_ascii_digit).count();
    // A phrase is printed first in official mail: it must not be usable as a contact point.
    if phrase.eq_ignore_ascii_case(email) || looks_like_link || phrase.contains('@') || digits > 6 {
        return Err(invalid(
            "invalid_anti_phishing_phrase",
            "choose a phrase that is not an address, a link, a domain or a phone number",
        ));
    }
    Ok(Some(NotifyOptIn {
        email: email.to_owned(),
        phrase: phrase.to_owned(),
    }))
}

/// A report that passed every check.
#[derive(Clone, Debug)]
pub struct NewReport {
    pub category: Category,
    pub description: String,
    pub scam_channel: Option<ChannelHandle>,
    pub presented: Option<String>,
    pub transactions: Vec<TxRef>,
    pub amount_lost: Option<String>,
    pub asset: Option<String>,
    pub occurred_at: Option<UnixTime>,
    pub reporter_contact: Option<String>,
    pub contact_opt_in: bool,
    pub law_enforcement_opt_in: bool,
    pub notify: Option<NotifyOptIn>,
    /// Canonical `chain:address` values.
    pub scam_addresses: Vec<(Chain, String)>,
    pub claimed_channel: Option<ChannelHandle>,
    pub claimed_agent: Option<String>,
    pub locale: Locale,
}

impl NewReport {
    /// The scammer identifiers this report names, as `(kind, value)`: the scam channel and each
    /// address (`crypto_address`, `chain:address`). What groups reports and feeds the feed.
    pub fn identifiers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        if let Some(c) = &self.scam_channel {
            out.push((c.kind().as_str().into(), c.as_str().into()));
        }
        for (chain, a) in &self.scam_addresses {
            let id = (
                "crypto_address".to_owned(),
                format!("{}:{a}", chain.as_str()),
            );
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }
}

fn invalid(code: &'static str, detail: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        code,
        detail: detail.into(),
    }
}

fn clean_text(
    s: &str,
    max_chars: usize,
    field: &'static str,
    code: &'static str,
) -> Result<String, ReportError> {
    let s = s.trim();
    if s.chars().count() > max_chars {
        return Err(invalid(
            code,
            format!("{field} is limited to {max_chars} characters"),
        ));
    }
    // Newlines and tabs are fine in prose; other control characters are not.
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(
            code,
            format!("{field} contains control characters"),
        ));
    }
    Ok(s.to_owned())
}

impl NewReport {
    pub fn parse(
        input: ReportInput,
        now: UnixTime,
        fallback_locale: Locale,
    ) -> Result<NewReport, ReportError> {
        let description = clean_text(
            &input.description,
            MAX_DESCRIPTION_CHARS,
            "description",
            "invalid_description",
        )?;
        if description.is_empty() {
            return Err(invalid("invalid_description", "description is required"));
        }
        let scam_channel = match input.scam_channel {
            Some(c) => Some(
                ChannelHandle::parse(c.kind, &c.handle)
                    .map_err(|e| invalid("invalid_channel", e.to_string()))?,
            ),
            None => None,
        };
        let presented = match input.presented.as_deref().map(str::trim) {
            Some(p) if p.len() > MAX_PRESENTED_BYTES => {
                return Err(invalid(
                    "invalid_presented",
                    "presented is limited to 16 KiB",
                ))
            }
            Some("") | None => None,
            Some(p) => Some(p.to_owned()),
        };
        if input.transactions.len() > MAX_TRANSACTIONS {
            return Err(invalid(
                "invalid_transaction",
                format!("at most {MAX_TRANSACTIONS} transactions"),
            ));
        }
        let transactions = input
            .transactions
            .iter()
            .map(|t| {
                parse_tx(t.chain, &t.tx_hash)
                    .map_err(|e| invalid("invalid_transaction", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let amount_lost = match input.amount_lost.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) if is_decimal(a) => Some(a.to_owned()),
            Some(_) => {
                return Err(invalid(
                    "invalid_amount",
                    "amount_lost must be a decimal number like 1250.50",
                ))
            }
        };
        let asset = match input.asset.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a)
                if (1..=16).contains(&a.len())
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                Some(a.to_ascii_uppercase())
            }
            Some(_) => {
                return Err(invalid(
                    "invalid_asset",
                    "asset must be a symbol like USDT (1–16 letters, digits, dots or dashes)",
                ))
            }
        };
        let occurred_at = match input.occurred_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                let ts = crate::tokens::claims::parse_time(t).ok_or_else(|| {
                    invalid(
                        "invalid_occurred_at",
                        "occurred_at must be RFC 3339, e.g. 2026-11-20T14:30:00+08:00",
                    )
                })?;
                // Bitcoin's genesis to one day ahead (time zones): anything else is a typo.
                if !(1_231_006_505..=now + 86_400).contains(&ts) {
                    return Err(invalid(
                        "invalid_occurred_at",
                        "occurred_at is not a plausible time",
                    ));
                }
                Some(ts)
            }
        };
        let reporter_contact = match input.reporter_contact.as_deref() {
            None => None,
            Some(c) => Some(clean_text(
                c,
                MAX_CONTACT_CHARS,
                "reporter_contact",
                "invalid_contact",
            )?)
            .filter(|c| !c.is_empty()),
        };
        let contact_opt_in = match (&reporter_contact, input.contact_opt_in) {
            (None, Some(true)) => {
                return Err(invalid(
                    "contact_required",
                    "contact_opt_in needs a reporter_contact",
                ))
            }
            (None, _) => false,
            (Some(_), choice) => choice.unwrap_or(true),
        };
        if input.share_with_law_enforcement && reporter_contact.is_none() {
            return Err(invalid(
                "contact_required",
                "share_with_law_enforcement needs a reporter_contact",
            ));
        }
        if input.scam_addresses.len() > MAX_ADDRESSES {
            return Err(invalid(
                "invalid_address",
                format!("at most {MAX_ADDRESSES} addresses"),
            ));
        }
        let scam_addresses = input
            .scam_addresses
            .iter()
            .map(|a| {
                super::chain::parse_address(a.chain, &a.address)
                    .map(|v| (a.chain, v))
                    .map_err(|e| {
                        invalid(
                            "invalid_address",
                            e.to_string().replace("transaction hash", "address"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (claimed_channel, claimed_agent) = match input.claimed_entity {
            None => (None, None),
            Some(c) => (
                match c.channel {
                    Some(ch) => Some(
                        ChannelHandle::parse(ch.kind, &ch.handle)
                            .map_err(|e| invalid("invalid_claimed_entity", e.to_string()))?,
                    ),
                    None => None,
                },
                match c.agent.as_deref() {
                    None => None,
                    Some(a) => Some(clean_text(
                        a,
                        MAX_AGENT_NAME_CHARS,
                        "claimed_entity.agent",
                        "invalid_claimed_entity",
                    )?)
                    .filter(|a| !a.is_empty() && !a.contains('\n')),
                },
            ),
        };
        let locale = match input.lang.as_deref() {
            None => fallback_locale,
            Some(l) => Locale::parse_tag(l)
                .ok_or_else(|| invalid("invalid_lang", "lang must be en or zh-CN"))?,
        };
        Ok(NewReport {
            category: input.category,
            description,
            scam_channel,
            presented,
            transactions,
            amount_lost,
            asset,
            occurred_at,
            reporter_contact,
            contact_opt_in,
            law_enforcement_opt_in: input.share_with_law_enforcement,
            notify: parse_notify(
                input.notify_email.as_deref(),
                input.anti_phishing_phrase.as_deref(),
            )?,
            scam_addresses,
            claimed_channel,
            claimed_agent,
            locale,
        })
    }
}

pub fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !int.is_empty()
        && int.len() <= 20
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 18
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ReportInput {
        serde_json::from_value(serde_json::json!({
            "category": "impersonation",
            "description": "A fake agent asked for my seed phrase",
        }))
        .unwrap()
    }

    #[test]
    fn amounts_are_plain_decimals() {
        for ok in ["0", "1250", "1250.50", "0.000000000000000001"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".5", "5.", "-1", "1e6", "1,000", "1.2.3", "0x10"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn parse_bounds_and_normalises_fields() {
        let now = 1_800_000_000;
        let r = NewReport::parse(input(), now, Locale::ZhCn).unwrap();
        assert_eq!(r.locale, Locale::ZhCn);
        let mut i = input();
        i.description = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert!(NewReport::parse(i, now, Locale::En).is_err());
        let mut i = input();
        i.description = "   ".into();
        assert!(NewReport::parse(i, now, Locale::En).is_err());
        let mut i = input();
        i.occurred_at = Some("2099-01-01T00:00:00Z".into());
        assert!(NewReport::parse(i, now, Locale::En).is_err(), "future");
        let mut i = input();
        i.asset = Some("usdt".into());
        assert_eq!(
            NewReport::parse(i, now, Locale::En)
                .unwrap()
                .asset
                .as_deref(),
            Some("USDT")
        );
        let mut i = input();
        i.description = "nul\u{0}byte".into();
        assert!(NewReport::parse(i, now, Locale::En).is_err());
    }
}
