//! Automatic triage at intake: hard evidence raises priority before any human looks.

use super::model::{Category, Priority};

/// What verifying the scammer's token or link at intake showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFinding {
    /// Verdict kind: genuine, forged, expired, not_yet_valid, revoked, malformed.
    pub verdict: &'static str,
    pub reason: Option<String>,
    pub agent_name: Option<String>,
}

/// What the official-channel registry said about the scammer's channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelFinding {
    /// The scammer wrote from a registered official channel.
    Official {
        value: String,
    },
    Lookalike {
        of: String,
        reason: String,
    },
    /// Already confirmed as a scammer in resolved escalations.
    KnownScam {
        reports: i64,
    },
    NotOfficial,
}

/// Who the evidence says the scammer posed as, before matching against the registry: the
/// channel a lookalike imitates, or the agent and channel a token names (for a forged token,
/// what it *claims*, which is exactly what the victim was shown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimGuess {
    pub channel: Option<crate::channels::ChannelHandle>,
    pub agent: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub token: Option<TokenFinding>,
    pub channel: Option<ChannelFinding>,
    pub claimed: Option<ClaimGuess>,
}

/// The triage label, strongest first.
pub const CONFIRMED_IMPERSONATION: &str = "confirmed_impersonation";
pub const POSSIBLE_COMPROMISED_OFFICIAL: &str = "possible_compromised_official";
pub const SUSPECTED_IMPERSONATION: &str = "suspected_impersonation";
pub const NONE: &str = "none";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triage {
    pub priority: Priority,
    pub label: &'static str,
    pub reasons: Vec<String>,
}

pub fn triage(category: Category, e: &Evidence) -> Triage {
    let mut t = Triage {
        priority: Priority::P3,
        label: NONE,
        reasons: Vec::new(),
    };
    if let Some(tok) = &e.token {
        match tok.verdict {
            // Its priority comes from the `forged_token` escalation rule.
            "forged" => t.mark(
                CONFIRMED_IMPERSONATION,
                format!(
                    "the token or link the scammer showed is forged ({}): hard evidence of impersonation",
                    tok.reason.as_deref().unwrap_or("bad signature")
                ),
            ),
            "genuine" => t.raise(
                Priority::P1,
                POSSIBLE_COMPROMISED_OFFICIAL,
                format!(
                    "the scammer showed a genuine, live session of agent {}: possible compromised agent account or insider",
                    tok.agent_name.as_deref().unwrap_or("?")
                ),
            ),
            "revoked" | "expired" | "not_yet_valid" => t.raise(
                Priority::P2,
                SUSPECTED_IMPERSONATION,
                format!("the scammer reused a {} session token", tok.verdict),
            ),
            _ => t
                .reasons
                .push("the presented text holds no verifiable token".into()),
        }
    }
    match &e.channel {
        // Priority from the `official_channel_as_scammer` rule.
        Some(ChannelFinding::Official { value }) => t.mark(
            POSSIBLE_COMPROMISED_OFFICIAL,
            format!("the scammer's channel is the registered official channel {value}: possible compromised official account"),
        ),
        Some(ChannelFinding::Lookalike { of, reason }) => t.raise(
            Priority::P2,
            SUSPECTED_IMPERSONATION,
            format!("the scammer's channel imitates the official channel {of} ({reason})"),
        ),
        // Priority from the `known_scam_identifier` rule.
        Some(ChannelFinding::KnownScam { reports }) => t.mark(
            SUSPECTED_IMPERSONATION,
            format!("the scammer's channel is a known scam, confirmed in {reports} earlier report(s)"),
        ),
        Some(ChannelFinding::NotOfficial) | None => {}
    }
    if category == Category::AccountTakeover && t.priority > Priority::P2 {
        t.priority = Priority::P2;
        t.reasons
            .push("account takeover: funds may still be at risk".into());
    }
    t
}

impl Triage {
    /// Raises priority and label to at least `p` / `l`, recording why.
    fn raise(&mut self, p: Priority, l: &'static str, why: String) {
        self.priority = self.priority.min(p);
        self.mark(l, why);
    }

    /// Raises the label only: the priority of this finding is an escalation rule's to set
    /// (see [`super::rules`]), so admins can tune it.
    fn mark(&mut self, l: &'static str, why: String) {
        if rank(l) > rank(self.label) {
            self.label = l;
        }
        self.reasons.push(why);
    }
}

fn rank(label: &str) -> u8 {
    match label {
        CONFIRMED_IMPERSONATION => 3,
        POSSIBLE_COMPROMISED_OFFICIAL => 2,
        SUSPECTED_IMPERSONATION => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(v: &'static str) -> Option<TokenFinding> {
        Some(TokenFinding {
            verdict: v,
            reason: None,
            agent_name: None,
        })
    }

    #[test]
    fn forged_token_is_labelled_confirmed_impersonation() {
        let t = triage(
            Category::Impersonation,
            &Evidence {
                token: token("forged"),
                channel: None,
                claimed: None,
            },
        );
        // The label only: the priority is the forged_token rule's (reports::rules).
        assert_eq!(
            (t.priority, t.label),
            (Priority::P3, CONFIRMED_IMPERSONATION)
        );
    }

    #[test]
    fn official_channel_is_possible_compromise_and_lookalike_raises_to_p2() {
        let t = triage(
            Category::Other,
            &Evidence {
                token: None,
                channel: Some(ChannelFinding::Official {
                    value: "telegram:@acme".into(),
                }),
                claimed: None,
            },
        );
        assert_eq!(
            (t.priority, t.label),
            (Priority::P3, POSSIBLE_COMPROMISED_OFFICIAL)
        );
        let t = triage(
            Category::Other,
            &Evidence {
                token: None,
                channel: Some(ChannelFinding::Lookalike {
                    of: "x".into(),
                    reason: "affix".into(),
                }),
                claimed: None,
            },
        );
        assert_eq!(
            (t.priority, t.label),
            (Priority::P2, SUSPECTED_IMPERSONATION)
        );
    }

    #[test]
    fn strongest_label_wins_and_plain_reports_are_p3() {
        let t = triage(
            Category::Impersonation,
            &Evidence {
                token: token("forged"),
                channel: Some(ChannelFinding::Lookalike {
                    of: "x".into(),
                    reason: "affix".into(),
                }),
                claimed: None,
            },
        );
        assert_eq!(t.label, CONFIRMED_IMPERSONATION);
        assert_eq!(t.reasons.len(), 2);
        let t = triage(Category::InvestmentScam, &Evidence::default());
        assert_eq!((t.priority, t.label), (Priority::P3, NONE));
    }
}
