//! Lookalike detection: does a channel that is *not* official imitate one
//! that is?
//!
//! Impersonators rarely copy a handle exactly (the platform will not let them);
//! they register something a hurried reader takes for it. Each trick has a
//! [`LookalikeReason`]:
//!
//! * **Confusable**: equal Unicode TR39 skeletons (`bіnance` with Cyrillic
//!   `і`, `coinrnarket`), or the very same name on another platform (`@binance`
//!   on X when only Telegram `@binance` is registered): a reader cannot tell
//!   them apart.
//! * **DigitSwap**: equal after folding look-alike ASCII (`0→o`, `1/i/l`,
//!   `3→e`, `4→a`, `5→s`, `7→t`, `8→b`, `9→g`, `$→s`, `@→a`, `rn→m`, `vv→w`,
//!   `cl→d`): `b1tpie`, `0kx`.
//! * **Affix**: equal after dropping separators (`_ - . +`) and the scam words
//!   of [`AFFIXES`]: `binance_support`, `official_okx`, `binance_cs_247`.
//! * **EmbeddedBrand**: an official domain's brand label inside another
//!   domain or name: `binance.com.verify-login.io`, `secure-binance.net`,
//!   `binance.co`, `binance.support@gmail.com`, Telegram `@binance` or
//!   `@binance_helpdesk` when only `binance.com` is registered.
//! * **Typo**: one edit (insert, delete, substitute, transpose) away:
//!   `binnance`, `binanse`, `bianance`.
//!
//! When several tricks explain a candidate, the reason reported is the most
//! specific one used, in the order above; a trick counts only if it was
//! needed (`b1nance_support` is a DigitSwap, `binance_support` an Affix).
//!
//! Scope, chosen to keep false positives rare:
//! * Telegram, X and WeChat handles (and e-mail local parts) are compared with
//!   each other, with the local part of official free-mail addresses, and with
//!   the brand label of official websites, web chats and e-mail domains.
//! * Websites, web chats and e-mail domains are compared with official
//!   domains only: a brand known only from a handle gives no domain to anchor
//!   on, and handles are too loosely chosen to derive one.
//! * In-app chat IDs are compared with official in-app chat IDs only.
//! * Phones and WhatsApp numbers get no lookalike detection: a number one
//!   digit off is just another subscriber, and digits carry no visual trick.
//! * A brand name followed by a non-scam word is *not* a lookalike:
//!   `okxtrader` does not imitate `okx`. Fan, trading and news accounts use
//!   that pattern constantly, and a three-letter brand inside arbitrary text
//!   would fire on far too much. Domains are the exception (EmbeddedBrand),
//!   because a brand token in a hostname is a deliberate claim.
//! * Names shorter than 3 characters after reduction match only by
//!   Confusable/DigitSwap equality of the whole value; Typo needs 5+
//!   characters on both sides and the same first character (readers check the
//!   first letter; `finance` is not a typo of `binance`).

use std::sync::OnceLock;

use super::handle::{ChannelHandle, ChannelKind};
use unicode_security::confusable_detection::skeleton;

/// How a candidate imitates an official channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LookalikeReason {
    Confusable,
    DigitSwap,
    Affix,
    EmbeddedBrand,
    Typo,
}

impl LookalikeReason {
    /// Lower is more specific, and wins.
    fn rank(self) -> u8 {
        match self {
            LookalikeReason::Confusable => 0,
            LookalikeReason::DigitSwap => 1,
            LookalikeReason::Affix => 2,
            LookalikeReason::EmbeddedBrand => 3,
            LookalikeReason::Typo => 4,
        }
    }
}

/// The official channel a candidate imitates, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookalike<'a> {
    pub of: &'a ChannelHandle,
    pub reason: LookalikeReason,
}

/// Is `candidate` the official channel itself?
///
/// Exact (kind, value) match, plus two cases where the owner provably
/// controls the candidate too:
/// * websites and web chats: the same host or any subdomain of it, across the
///   two kinds (`chat.binance.com` is covered by website `binance.com`); an
///   official `www.` host also covers its parent domain;
/// * phones and WhatsApp: the same number, across the two kinds.
///
/// E-mail matches the exact address only: owning a domain does not make
/// every mailbox on it a support channel.
pub fn is_official_match(candidate: &ChannelHandle, official: &ChannelHandle) -> bool {
    let (c, o) = (candidate.as_str(), official.as_str());
    if candidate.kind() == official.kind() && c == o {
        return true;
    }
    match (family(candidate.kind()), family(official.kind())) {
        (Family::Number, Family::Number) => c == o,
        (Family::Site, Family::Site) => host_within(c, o),
        _ => false,
    }
}

/// Given a candidate that is not an official match, finds the official
/// channel it imitates, if any. The most specific reason wins; among equally
/// specific matches the first official in `officials` wins, so the answer is
/// deterministic. Returns `None` for official matches and for candidates on a
/// domain an official channel owns (`anyone@binance.com` when `binance.com` is
/// official is not a lookalike, whatever else it may be).
pub fn lookalike_of<'a>(
    candidate: &ChannelHandle,
    officials: &'a [ChannelHandle],
) -> Option<Lookalike<'a>> {
    if officials.iter().any(|o| is_official_match(candidate, o)) {
        return None;
    }
    if let Some(domain) = owned_domain(candidate) {
        if officials
            .iter()
            .filter_map(owned_domain)
            .any(|od| host_within(domain, od))
        {
            return None;
        }
    }
    let cand = Profile::new(candidate, Side::Candidate);
    let mut best: Option<Lookalike<'a>> = None;
    for official in officials {
        if !comparable(cand.family, family(official.kind())) {
            continue; // skip building comparison keys that cannot be used
        }
        let off = Profile::new(official, Side::Official);
        let Some(reason) = compare(&cand, &off) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|b| reason.rank() < b.reason.rank())
        {
            best = Some(Lookalike {
                of: official,
                reason,
            });
            if reason.rank() == 0 {
                break;
            }
        }
    }
    best
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Handle,
    InApp,
    Email,
    Site,
    Number,
}

fn family(kind: ChannelKind) -> Family {
    match kind {
        ChannelKind::Telegram | ChannelKind::X | ChannelKind::Wechat => Family::Handle,
        ChannelKind::InAppChat => Family::InApp,
        ChannelKind::Email => Family::Email,
        ChannelKind::Website | ChannelKind::WebChat => Family::Site,
        ChannelKind::Whatsapp | ChannelKind::Phone => Family::Number,
    }
}

/// Whether a candidate of family `c` is ever compared with an official of
/// family `o` (see the module documentation for why).
fn comparable(c: Family, o: Family) -> bool {
    match c {
        Family::Number => false,
        Family::InApp => o == Family::InApp,
        Family::Site => matches!(o, Family::Site | Family::Email),
        Family::Handle | Family::Email => !matches!(o, Family::InApp | Family::Number),
    }
}

/// `candidate` is `official` or one of its subdomains; an official `www.` host
/// stands for its parent domain as well.
fn host_within(candidate: &str, official: &str) -> bool {
    if candidate == official {
        return true;
    }
    if is_ip(candidate) || is_ip(official) {
        return false;
    }
    let base = official
        .strip_prefix("www.")
        .filter(|b| !is_public_suffix(b))
        .unwrap_or(official);
    candidate == base
        || candidate
            .strip_suffix(base)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// `com`, `co.uk`: per the approximation of [`SECOND_LEVEL_SUFFIXES`].
fn is_public_suffix(domain: &str) -> bool {
    match domain.split_once('.') {
        None => true,
        Some((second, tld)) => tld.len() == 2 && SECOND_LEVEL_SUFFIXES.contains(&second),
    }
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Scam words stripped as whole tokens (between separators) on both sides.
/// Only words that say "I am the support/official channel" or that phishing
/// domains wrap around a brand; nothing that commonly forms part of a real
/// brand name. `wallet`, `exchange` and the like are in [`WEAK_AFFIXES`].
#[rustfmt::skip]
pub const AFFIXES: &[&str] = &[
    "support", "supports", "suport", "official", "offical", "officialy", "real", "the", "help",
    "helps", "helper", "helpdesk", "helpline", "hotline", "service", "services", "team", "care",
    "customer", "customers", "cs", "admin", "admins", "administrator", "verify", "verified",
    "verification", "security", "secure", "hq", "global", "app", "bot", "desk", "live", "chat",
    "24", "247", "24x7", "24h", "online", "assist", "assistant", "assistance", "refund", "refunds",
    "recovery", "recover", "agent", "agents", "mod", "mods", "moderator", "staff", "center",
    "centre", "contact", "info", "login", "signin", "account", "accounts", "auth", "portal",
    "claim", "claims", "airdrop", "reward", "rewards", "bonus", "my", "www",
];

/// Affixes also stripped when glued to the brand (`binancesupport`,
/// `okxhelpdesk`, `realbinance`), if at least 3 characters remain. Short or
/// common-syllable words (`cs`, `app`, `bot`, `my`, `mod`, `the`) are left
/// out: glued, they eat into real words (`docs`, `apple`, `model`).
#[rustfmt::skip]
pub const GLUED_AFFIXES: &[&str] = &[
    "support", "official", "offical", "real", "help", "helpdesk", "helpline", "hotline", "service",
    "services", "team", "care", "customer", "admin", "verify", "verification", "security", "secure",
    "hq", "global", "desk", "live", "chat", "online", "assist", "assistant", "refund", "recovery",
    "agent", "staff", "center", "centre", "contact", "login", "account", "airdrop", "rewards",
    "bonus", "24", "247", "24x7", "24h",
];

/// Stripped from the candidate only (as tokens or glued), so that
/// `bitpie_wallet` imitates `bitpie` while an official `trustwallet` is not
/// shortened to `trust` (which would flag every `@trust…`). Trailing digits
/// and digit-only tokens (`binance_support1`) are likewise candidate-only.
pub const WEAK_AFFIXES: &[&str] = &["wallet", "exchange", "crypto", "com", "io", "net", "org"];

/// Second-level labels that, under a two-letter country TLD, form a public
/// suffix (`co.uk`, `com.au`, `com.cn`, `ne.jp`). An approximation of the
/// Public Suffix List, good enough to find the brand label of typical
/// corporate domains; private suffixes (`github.io`) are not known.
#[rustfmt::skip]
pub const SECOND_LEVEL_SUFFIXES: &[&str] = &[
    "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "ltd", "plc",
    "biz", "info",
];

/// Mail providers where anyone can register any local part: there the local
/// part is the name being claimed, and the domain says nothing.
#[rustfmt::skip]
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com",
    "msn.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com",
    "aol.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.net", "gmx.de", "web.de",
    "mail.com", "mail.ru", "inbox.ru", "bk.ru", "list.ru", "yandex.ru", "yandex.com", "ya.ru",
    "qq.com", "foxmail.com", "163.com", "126.com", "sina.com", "naver.com", "daum.net", "zoho.com",
    "tutanota.com", "tuta.io", "rediffmail.com",
];

const SEPARATORS: [char; 4] = ['_', '-', '.', '+'];
const MAX_FORMS: usize = 24;
const MIN_AFFIX_LEN: usize = 3;
const MIN_TYPO_LEN: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Candidate,
    Official,
}

/// The comparison keys, indexed by bit set: 1 = skeleton, 2 = fold.
#[derive(Clone, Copy)]
enum Transform {
    Id = 0,
    Skeleton = 1,
    Fold = 2,
    SkeletonFold = 3,
}

const TRANSFORMS: [Transform; 4] = [
    Transform::Id,
    Transform::Skeleton,
    Transform::Fold,
    Transform::SkeletonFold,
];

impl Transform {
    fn apply(self, s: &str) -> String {
        match self {
            Transform::Id => s.to_owned(),
            Transform::Skeleton => skeleton_of(s),
            Transform::Fold => fold(s),
            Transform::SkeletonFold => fold(&skeleton_of(s)),
        }
    }
}

/// TR39 skeleton, with a table for ASCII input: nearly every value compared
/// is ASCII, and the general algorithm (NFD, per-character lookup, NFD) is
/// the hot spot of a lookup against many officials.
fn skeleton_of(s: &str) -> String {
    // Per ASCII character, its skeleton when that is ASCII too: concatenating
    // those is exact (no combining marks to reorder across boundaries).
    static ASCII: OnceLock<Vec<Option<String>>> = OnceLock::new();
    let table = ASCII.get_or_init(|| {
        (0u8..128)
            .map(|b| {
                let t: String = skeleton(char::from(b).encode_utf8(&mut [0; 4])).collect();
                t.is_ascii().then_some(t)
            })
            .collect()
    });
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match table.get(usize::from(b)) {
            Some(Some(t)) => out.push_str(t),
            _ => return skeleton(s).collect(),
        }
    }
    out
}

/// DigitSwap folding. `i`, `l`, `1` (and `|`, `!`) share one class because
/// each passes for the others in common fonts.
fn fold(s: &str) -> String {
    let mapped: String = s
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' | '|' | '!' => 'l',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            other => other,
        })
        .collect();
    mapped
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
}

/// The affix lists passed through each transform, so a transformed token can
/// be recognised (`fold("official")` is not `"official"`).
struct AffixTables {
    token: Vec<String>,
    glued: Vec<String>,
    weak: Vec<String>,
}

fn affix_tables(t: Transform) -> &'static AffixTables {
    static TABLES: OnceLock<[AffixTables; 4]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        TRANSFORMS.map(|t| {
            let map = |list: &[&str]| list.iter().map(|a| t.apply(a)).collect::<Vec<_>>();
            AffixTables {
                token: map(AFFIXES),
                glued: map(GLUED_AFFIXES),
                weak: map(WEAK_AFFIXES),
            }
        })
    });
    &tables[t as usize]
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// A name under every transform: the whole string, and its reduced forms
/// (separators removed, affixes stripped in every order up to a bound).
struct Forms {
    whole: [String; 4],
    reduced: [Vec<String>; 4],
}

impl Forms {
    fn new(s: &str, side: Side) -> Forms {
        let tokens: Vec<&str> = s.split(SEPARATORS).filter(|t| !t.is_empty()).collect();
        Forms {
            whole: TRANSFORMS.map(|t| t.apply(s)),
            reduced: TRANSFORMS.map(|t| reduce(&tokens, t, side)),
        }
    }
}

fn reduce(tokens: &[&str], t: Transform, side: Side) -> Vec<String> {
    let tables = affix_tables(t);
    let candidate = side == Side::Candidate;
    let mapped: Vec<(bool, String)> = tokens
        .iter()
        .map(|tok| (tok.bytes().all(|b| b.is_ascii_digit()), t.apply(tok)))
        .collect();
    let join = |keep: &dyn Fn(&(bool, String)) -> bool| -> String {
        mapped
            .iter()
            .filter(|m| keep(m))
            .map(|(_, s)| s.as_str())
            .collect()
    };
    let mut queue = vec![join(&|_| true)];
    queue.push(join(&|(_, s)| !tables.token.contains(s)));
    if candidate {
        queue.push(join(&|(digits, s)| {
            !digits && !tables.token.contains(s) && !tables.weak.contains(s)
        }));
    }
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < queue.len() && out.len() < MAX_FORMS {
        let w = std::mem::take(&mut queue[i]);
        i += 1;
        if w.is_empty() || out.contains(&w) {
            continue;
        }
        let glued = tables
            .glued
            .iter()
            .chain(tables.weak.iter().filter(|_| candidate));
        for a in glued {
            for rest in [w.strip_prefix(a.as_str()), w.strip_suffix(a.as_str())]
                .into_iter()
                .flatten()
            {
                if char_len(rest) >= MIN_AFFIX_LEN {
                    queue.push(rest.to_owned());
                }
            }
        }
        if candidate {
            let rest = w.trim_end_matches(|c: char| c.is_ascii_digit());
            if rest.len() != w.len() && char_len(rest) >= MIN_AFFIX_LEN {
                queue.push(rest.to_owned());
            }
        }
        out.push(w);
    }
    out
}

const SKELETON: u8 = 1;
const FOLD: u8 = 2;
const AFFIX: u8 = 4;

/// Compares two names. `embedded` says the official name is a domain's brand
/// or the candidate is a piece of a domain: then "same name, or same after
/// stripping affixes" is an EmbeddedBrand rather than Confusable/Affix.
fn compare_names(
    c: &Forms,
    o: &Forms,
    embedded: bool,
    allow_affix: bool,
    allow_typo: bool,
) -> Option<LookalikeReason> {
    let holds = |set: u8| -> bool {
        let t = usize::from(set & (SKELETON | FOLD));
        if set & AFFIX == 0 {
            !c.whole[t].is_empty() && c.whole[t] == o.whole[t]
        } else {
            allow_affix
                && c.reduced[t]
                    .iter()
                    .any(|a| char_len(a) >= MIN_AFFIX_LEN && o.reduced[t].contains(a))
        }
    };
    let ok: Vec<bool> = (0..8u8).map(holds).collect();
    let mut best: Option<LookalikeReason> = None;
    for set in 0..8u8 {
        // Only minimal sets count: a trick that was not needed is not the reason.
        let minimal = ok[usize::from(set)]
            && (0..8u8).all(|sub| sub == set || sub & set != sub || !ok[usize::from(sub)]);
        if !minimal {
            continue;
        }
        let reason = if set & SKELETON != 0 {
            LookalikeReason::Confusable
        } else if set & FOLD != 0 {
            LookalikeReason::DigitSwap
        } else if embedded {
            LookalikeReason::EmbeddedBrand
        } else if set & AFFIX != 0 {
            LookalikeReason::Affix
        } else {
            LookalikeReason::Confusable // the very same name
        };
        if best.is_none_or(|b| reason.rank() < b.rank()) {
            best = Some(reason);
        }
    }
    if best.is_none() && allow_typo && is_typo(c, o) {
        best = Some(LookalikeReason::Typo);
    }
    best
}

fn is_typo(c: &Forms, o: &Forms) -> bool {
    [Transform::Id, Transform::Fold].into_iter().any(|t| {
        let t = t as usize;
        c.reduced[t].iter().any(|a| {
            o.reduced[t].iter().any(|b| {
                let (la, lb) = (char_len(a), char_len(b));
                la >= MIN_TYPO_LEN
                    && lb >= MIN_TYPO_LEN
                    && la.abs_diff(lb) <= 1
                    && a.chars().next() == b.chars().next()
                    && strsim::osa_distance(a, b) == 1
            })
        })
    })
}

/// The domain a channel lives on: a website's host, or the domain of a
/// non-free-mail address. For an official channel, a domain its owner controls.
fn owned_domain(h: &ChannelHandle) -> Option<&str> {
    match family(h.kind()) {
        Family::Site => Some(h.as_str()),
        Family::Email => h
            .as_str()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| !FREE_MAIL_DOMAINS.contains(d)),
        _ => None,
    }
}

/// A domain split into labels, with where its brand label sits and the
/// comparison keys derived from it (computed once per call, not per pair).
struct DomainInfo {
    /// Unicode (decoded punycode) labels, so skeletons see the real letters.
    labels: Vec<String>,
    is_ip: bool,
    /// Brand label plus public suffix (`binance.com` for `www.binance.com`),
    /// with its skeleton and folded forms.
    registrable: Option<(String, String, String)>,
    /// Candidate side: every label left of the public suffix, and every
    /// hyphen-token in them.
    pieces: Vec<Piece>,
    /// Official side: the brand label, when long enough to compare.
    brand_forms: Option<Forms>,
}

struct Piece {
    forms: Forms,
    /// Whole labels may match after stripping affixes; tokens must match as is.
    affix: bool,
    /// Typo only on the brand label: subdomains like `finance.` are common words.
    typo: bool,
}

impl DomainInfo {
    fn new(ascii: &str, side: Side) -> DomainInfo {
        let ascii_labels: Vec<&str> = ascii.split('.').collect();
        let (unicode, result) = idna::domain_to_unicode(ascii);
        let mut labels: Vec<String> = unicode.split('.').map(str::to_owned).collect();
        if result.is_err() || labels.len() != ascii_labels.len() {
            labels = ascii_labels.iter().map(|l| (*l).to_owned()).collect();
        }
        let n = ascii_labels.len();
        let two_level = n >= 3
            && ascii_labels[n - 1].len() == 2
            && SECOND_LEVEL_SUFFIXES.contains(&ascii_labels[n - 2]);
        let suffix = if two_level { 2 } else { 1 };
        let is_ip = is_ip(ascii);
        // Index of the label before the public suffix, if there is one.
        let brand = if is_ip {
            None
        } else {
            n.checked_sub(suffix + 1)
        };
        let registrable = brand.map(|b| {
            let reg = labels[b..].join(".");
            let (skel, folded) = (skeleton_of(&reg), fold(&reg));
            (reg, skel, folded)
        });
        let mut info = DomainInfo {
            labels,
            is_ip,
            registrable,
            pieces: Vec::new(),
            brand_forms: None,
        };
        match side {
            Side::Official => {
                info.brand_forms = brand
                    .map(|b| &info.labels[b])
                    .filter(|label| char_len(label) >= MIN_AFFIX_LEN)
                    .map(|label| Forms::new(label, Side::Official));
            }
            Side::Candidate if !is_ip => {
                let last = brand.unwrap_or(n.saturating_sub(1));
                for (i, label) in info.labels.iter().enumerate().take(last + 1) {
                    info.pieces.push(Piece {
                        forms: Forms::new(label, Side::Candidate),
                        affix: true,
                        typo: Some(i) == brand,
                    });
                    if label.contains('-') {
                        for token in label.split('-').filter(|t| !t.is_empty()) {
                            info.pieces.push(Piece {
                                forms: Forms::new(token, Side::Candidate),
                                affix: false,
                                typo: false,
                            });
                        }
                    }
                }
            }
            Side::Candidate => {}
        }
        info
    }
}

/// What one handle offers for comparison.
struct Profile {
    family: Family,
    /// A name as claimed by its holder: a handle, an in-app ID, a free-mail
    /// local part (or, for candidates, any e-mail local part).
    name: Option<Forms>,
    /// Website, web chat or non-free-mail e-mail domain.
    domain: Option<DomainInfo>,
}

impl Profile {
    fn new(h: &ChannelHandle, side: Side) -> Profile {
        let family = family(h.kind());
        let mut p = Profile {
            family,
            name: None,
            domain: None,
        };
        match family {
            Family::Handle | Family::InApp => p.name = Some(Forms::new(h.as_str(), side)),
            Family::Site => p.domain = Some(DomainInfo::new(h.as_str(), side)),
            Family::Email => {
                let (local, domain) = h.as_str().rsplit_once('@').unwrap_or(("", h.as_str()));
                let free = FREE_MAIL_DOMAINS.contains(&domain);
                // A candidate's local part always claims a name; an official
                // one (`support@binance.com`) is only a name on free mail.
                if free || side == Side::Candidate {
                    p.name = Some(Forms::new(local, side));
                }
                if !free {
                    p.domain = Some(DomainInfo::new(domain, side));
                }
            }
            Family::Number => {}
        }
        p
    }

    /// An official domain's brand label, as a name to compare handles with.
    fn brand_name(&self) -> Option<&Forms> {
        self.domain.as_ref()?.brand_forms.as_ref()
    }
}

fn better(a: Option<LookalikeReason>, b: Option<LookalikeReason>) -> Option<LookalikeReason> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.rank() < x.rank() { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

fn compare(cand: &Profile, off: &Profile) -> Option<LookalikeReason> {
    let mut best = None;
    if let Some(cn) = &cand.name {
        if cand.family == Family::InApp {
            if off.family == Family::InApp {
                best = better(best, names(cn, off.name.as_ref(), false));
            }
        } else if off.family != Family::InApp {
            best = better(best, names(cn, off.name.as_ref(), false));
            best = better(best, names(cn, off.brand_name(), true));
        }
    }
    if let (Some(cd), Some(od)) = (&cand.domain, &off.domain) {
        best = better(best, compare_domains(cd, od));
    }
    best
}

fn names(c: &Forms, o: Option<&Forms>, embedded: bool) -> Option<LookalikeReason> {
    compare_names(c, o?, embedded, true, true)
}

fn compare_domains(c: &DomainInfo, o: &DomainInfo) -> Option<LookalikeReason> {
    if c.is_ip || o.is_ip {
        return None;
    }
    let mut best = None;
    if let (Some((rc, sc, fc)), Some((ro, so, fo))) = (&c.registrable, &o.registrable) {
        if rc == ro {
            // Same registered domain as an official subdomain: same owner.
            return None;
        }
        if sc == so {
            return Some(LookalikeReason::Confusable);
        }
        if fc == fo {
            best = Some(LookalikeReason::DigitSwap);
        }
    }
    // Very short brands (x.com) only match on the whole registrable domain.
    let Some(brand) = &o.brand_forms else {
        return best;
    };
    for piece in &c.pieces {
        let reason = compare_names(&piece.forms, brand, true, piece.affix, piece.typo);
        best = better(best, reason);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;
    use LookalikeReason::*;

    fn h(kind: ChannelKind, raw: &str) -> ChannelHandle {
        ChannelHandle::parse(kind, raw).unwrap_or_else(|e| panic!("{kind} {raw:?}: {e}"))
    }

    fn officials() -> Vec<ChannelHandle> {
        vec![
            h(Telegram, "@binance"),
            h(Website, "binance.com"),
            h(Email, "support@binance.com"),
            h(Telegram, "@bitpie"),
            h(X, "@okx"),
            h(Website, "okx.com"),
            h(Telegram, "@bitget"),
            h(InAppChat, "bitget"),
            h(Telegram, "@coinmarket"),
            h(Phone, "+44 20 7946 0958"),
            h(InAppChat, "binance"),
        ]
    }

    #[test]
    fn lookalikes_are_found_with_the_most_specific_reason() {
        let punycode = h(Website, "bіnance.com");
        assert!(punycode.as_str().starts_with("xn--"));
        let cases: &[(ChannelKind, &str, &str, LookalikeReason)] = &[
            // Confusable
            (Website, "bіnance.com", "website:binance.com", Confusable),
            (Website, "binаnce.com", "website:binance.com", Confusable),
            (
                Website,
                punycode.as_str(),
                "website:binance.com",
                Confusable,
            ),
            (
                Website,
                "login.bіnance.com",
                "website:binance.com",
                Confusable,
            ),
            (InAppChat, "bіnance", "in_app_chat:binance", Confusable),
            (Telegram, "coinrnarket", "telegram:@coinmarket", Confusable),
            (X, "@binance", "telegram:@binance", Confusable),
            (Website, "binance.corn", "website:binance.com", Confusable),
            // DigitSwap
            (Telegram, "b1tpie", "telegram:@bitpie", DigitSwap),
            (X, "0kx", "x:@okx", DigitSwap),
            (X, "b1nance", "telegram:@binance", DigitSwap),
            (Telegram, "b1nance_support", "telegram:@binance", DigitSwap),
            (Website, "b1nance.com", "website:binance.com", DigitSwap),
            // Affix
            (Telegram, "binance_support", "telegram:@binance", Affix),
            (Telegram, "official_okx", "x:@okx", Affix),
            (Wechat, "okx-helpdesk", "x:@okx", Affix),
            (
                InAppChat,
                "bitget.support.team",
                "in_app_chat:bitget",
                Affix,
            ),
            (Telegram, "binance_cs_247", "telegram:@binance", Affix),
            (Telegram, "binancesupport", "telegram:@binance", Affix),
            (X, "realbinance", "telegram:@binance", Affix),
            (Telegram, "bitpie_wallet", "telegram:@bitpie", Affix),
            (Telegram, "binance_help2", "telegram:@binance", Affix),
            (Email, "bitpie.support@gmail.com", "telegram:@bitpie", Affix),
            // EmbeddedBrand
            (
                Website,
                "binance.com.verify-login.io",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (
                Website,
                "binance-support.com",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (Website, "binance.co", "website:binance.com", EmbeddedBrand),
            (
                Website,
                "binance.co.uk",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (
                Website,
                "secure-binance.net",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (Website, "okx.com-help.io", "website:okx.com", EmbeddedBrand),
            (
                Website,
                "my-okx-rewards.xyz",
                "website:okx.com",
                EmbeddedBrand,
            ),
            (
                WebChat,
                "okx.livechat.example",
                "website:okx.com",
                EmbeddedBrand,
            ),
            (
                Email,
                "support@binance-help.com",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (Telegram, "okx_helpdesk_team", "x:@okx", Affix),
            // Typo
            (Telegram, "binnance", "telegram:@binance", Typo),
            (Telegram, "binanse", "telegram:@binance", Typo),
            (Telegram, "bianance", "telegram:@binance", Typo),
            (Telegram, "bitegt", "telegram:@bitget", Typo),
            (Website, "binnance.com", "website:binance.com", Typo),
            (Telegram, "binnance_support", "telegram:@binance", Typo),
        ];
        let officials = officials();
        let mut failures = Vec::new();
        for (kind, raw, of, reason) in cases {
            let cand = h(*kind, raw);
            let got = lookalike_of(&cand, &officials).map(|l| (l.of.to_string(), l.reason));
            if got != Some((of.to_string(), *reason)) {
                failures.push(format!("{cand}: got {got:?}, want {of} {reason:?}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn handles_imitate_a_brand_known_only_from_its_website() {
        let officials = vec![h(Website, "binance.com"), h(Email, "help@bitpie.io")];
        let cases = [
            (
                Telegram,
                "@binance_helpdesk",
                "website:binance.com",
                EmbeddedBrand,
            ),
            (Telegram, "@binance", "website:binance.com", EmbeddedBrand),
            (X, "@b1nance", "website:binance.com", DigitSwap),
            (Wechat, "bitpie-cs", "email:help@bitpie.io", EmbeddedBrand),
            (
                Email,
                "binance.support@gmail.com",
                "website:binance.com",
                EmbeddedBrand,
            ),
        ];
        for (kind, raw, of, reason) in cases {
            let cand = h(kind, raw);
            let got = lookalike_of(&cand, &officials).map(|l| (l.of.to_string(), l.reason));
            assert_eq!(got, Some((of.to_string(), reason)), "{cand}");
        }
    }

    #[test]
    fn innocent_or_official_channels_are_not_lookalikes() {
        let officials = officials();
        let cases: &[(ChannelKind, &str)] = &[
            (Telegram, "alice_smith"),
            (Telegram, "bitcoin"),
            (Telegram, "okxtrader"),
            (Telegram, "coinbase"),
            (Telegram, "finance"),
            (Telegram, "okb"),
            (Telegram, "support_team"),
            (X, "x"),
            (Website, "coinbase.com"),
            (Website, "google.com"),
            (Website, "finance.yahoo.com"),
            (Website, "www.binance.com"),
            (WebChat, "chat.binance.com"),
            (Website, "192.168.1.10"),
            (Email, "support@binance.com"),
            (Email, "someone@binance.com"),
            (Email, "alice@gmail.com"),
            (Email, "support@gmail.com"),
            (Phone, "+44 20 7946 0959"),
            (Whatsapp, "+44 20 7946 0958"),
            (Telegram, "binance"),
            (InAppChat, "agent-42"),
        ];
        for (kind, raw) in cases {
            let cand = h(*kind, raw);
            assert_eq!(lookalike_of(&cand, &officials), None, "{cand}");
        }
    }

    #[test]
    fn official_matches_cover_subdomains_and_numbers_but_not_mailboxes() {
        let yes = [
            ((Telegram, "@Binance"), (Telegram, "binance")),
            ((Website, "www.binance.com"), (Website, "binance.com")),
            ((Website, "a.b.binance.com"), (Website, "binance.com")),
            ((Website, "binance.com"), (Website, "www.binance.com")),
            ((WebChat, "chat.binance.com"), (Website, "binance.com")),
            ((Whatsapp, "+442079460958"), (Phone, "+442079460958")),
            ((Website, "10.0.0.1"), (Website, "10.0.0.1")),
        ];
        let no = [
            ((Telegram, "binance"), (X, "binance")),
            ((Website, "evilbinance.com"), (Website, "binance.com")),
            ((Website, "binance.com.evil.io"), (Website, "binance.com")),
            ((Website, "binance.com"), (Website, "support.binance.com")),
            ((Email, "other@binance.com"), (Email, "support@binance.com")),
            ((Email, "support@binance.com"), (Website, "binance.com")),
            ((Website, "10.0.0.1"), (Website, "0.0.1")),
            ((Website, "evil.co.uk"), (Website, "www.co.uk")),
        ];
        for (expected, pairs) in [(true, &yes[..]), (false, &no[..])] {
            for ((ck, cr), (ok, or)) in pairs {
                let (c, o) = (h(*ck, cr), h(*ok, or));
                assert_eq!(is_official_match(&c, &o), expected, "{c} vs {o}");
            }
        }
    }

    #[test]
    fn the_first_official_wins_among_equally_specific_matches() {
        let officials = vec![h(Telegram, "binance"), h(X, "binance")];
        let cand = h(Wechat, "binance_support");
        let got = lookalike_of(&cand, &officials).unwrap();
        assert_eq!((got.of, got.reason), (&officials[0], Affix));
    }

    #[test]
    fn the_most_specific_reason_wins_across_officials() {
        // Affix against the Telegram handle beats EmbeddedBrand against the website.
        let officials = vec![h(Website, "binance.com"), h(Telegram, "binance")];
        let cand = h(X, "binance_support");
        let got = lookalike_of(&cand, &officials).unwrap();
        assert_eq!((got.of, got.reason), (&officials[1], Affix));
    }

    #[test]
    fn no_officials_means_no_lookalike() {
        assert_eq!(lookalike_of(&h(Telegram, "binance_support"), &[]), None);
    }

    #[test]
    fn arbitrary_candidates_never_panic_and_official_ones_are_never_lookalikes() {
        let fragments = [
            "binance",
            "b1nance",
            "bіnance",
            "okx",
            "0kx",
            "support",
            "_",
            "-",
            ".",
            "com",
            "xn--",
            "@",
            "gmail.com",
            "official",
            "rn",
            "vv",
            "cl",
            "24",
            "7",
            "ß",
            "ﬁ",
            "σ",
            "www.",
            "co.uk",
            "wallet",
            "bitpie",
            "x",
            "ｂ",
            "😀",
            "+44",
            "2079460958",
        ];
        let officials = officials();
        let mut state: u64 = 7;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut checked = 0;
        for _ in 0..3000 {
            let n = 1 + next() % 5;
            let raw: String = (0..n)
                .map(|_| fragments[next() % fragments.len()])
                .collect();
            for kind in ChannelKind::ALL {
                let Ok(cand) = ChannelHandle::parse(kind, &raw) else {
                    continue;
                };
                checked += 1;
                let found = lookalike_of(&cand, &officials);
                if officials.iter().any(|o| is_official_match(&cand, o)) {
                    assert_eq!(found, None, "{cand}");
                }
                assert_eq!(
                    found,
                    lookalike_of(&cand, &officials),
                    "deterministic: {cand}"
                );
            }
        }
        assert!(checked > 1000, "{checked}");
        for official in &officials {
            assert_eq!(lookalike_of(official, &officials), None, "{official}");
        }
    }

    #[test]
    fn the_ascii_skeleton_table_agrees_with_the_full_algorithm() {
        let printable: String = (32u8..127).map(char::from).collect();
        for s in [
            printable.as_str(),
            "coinmarket",
            "b1tpie",
            "0kx",
            "%m|",
            "bіnance",
        ] {
            assert_eq!(skeleton_of(s), skeleton(s).collect::<String>(), "{s:?}");
        }
    }

    #[test]
    fn reasons_serialise_in_snake_case() {
        let json =
            serde_json::to_string(&[Confusable, DigitSwap, Affix, EmbeddedBrand, Typo]).unwrap();
        assert_eq!(
            json,
            r#"["confusable","digit_swap","affix","embedded_brand","typo"]"#
        );
    }
}
