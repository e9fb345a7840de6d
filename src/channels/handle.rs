//! Channel handles: a support channel kind plus its value in one canonical form.
//!
//! Users paste handles in every shape (`@Binance`, `https://t.me/binance`,
//! `+44 (0) 20 7946 0958`, `Support@Binance.COM`, `https://www.binance.com/en/`).
//! Comparing channels is only meaningful after all of these collapse to one
//! value, so [`ChannelHandle`] can only be built by parsing ("parse, don't
//! validate"): holding one proves the value is normalised.
//!
//! Every parser first rejects over-long input (before any work), trims
//! whitespace, rejects control and invisible formatting characters (bidi
//! overrides, zero-width spaces: they make two handles look alike on screen)
//! and applies NFKC, so full-width or styled characters (`ｂｉｎａｎｃｅ`, `＋４４`)
//! fold to their plain form. No input makes a parser panic.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest raw input accepted, in bytes. Checked before any other work so
/// hostile input cannot make normalisation expensive.
pub const MAX_RAW_LEN: usize = 512;

/// The kind of a support channel.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Telegram,
    Wechat,
    Whatsapp,
    Email,
    Phone,
    X,
    InAppChat,
    WebChat,
    Website,
}

impl ChannelKind {
    /// The name users know the channel by, in their language.
    pub fn display_name(self, l: crate::types::Locale) -> &'static str {
        use crate::types::Locale;
        match (self, l) {
            (ChannelKind::Telegram, _) => "Telegram",
            (ChannelKind::Wechat, Locale::En) => "WeChat",
            (ChannelKind::Wechat, Locale::ZhCn) => "微信",
            (ChannelKind::Whatsapp, _) => "WhatsApp",
            (ChannelKind::Email, Locale::En) => "e-mail",
            (ChannelKind::Email, Locale::ZhCn) => "电子邮件",
            (ChannelKind::Phone, Locale::En) => "phone",
            (ChannelKind::Phone, Locale::ZhCn) => "电话",
            (ChannelKind::X, _) => "X (Twitter)",
            (ChannelKind::InAppChat, Locale::En) => "in-app chat",
            (ChannelKind::InAppChat, Locale::ZhCn) => "应用内聊天",
            (ChannelKind::WebChat, Locale::En) => "web chat",
            (ChannelKind::WebChat, Locale::ZhCn) => "网页聊天",
            (ChannelKind::Website, Locale::En) => "website",
            (ChannelKind::Website, Locale::ZhCn) => "网站",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [ChannelKind; 9] = [
        ChannelKind::Telegram,
        ChannelKind::Wechat,
        ChannelKind::Whatsapp,
        ChannelKind::Email,
        ChannelKind::Phone,
        ChannelKind::X,
        ChannelKind::InAppChat,
        ChannelKind::WebChat,
        ChannelKind::Website,
    ];

    /// The snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Telegram => "telegram",
            ChannelKind::Wechat => "wechat",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Email => "email",
            ChannelKind::Phone => "phone",
            ChannelKind::X => "x",
            ChannelKind::InAppChat => "in_app_chat",
            ChannelKind::WebChat => "web_chat",
            ChannelKind::Website => "website",
        }
    }

    /// Parses exactly the names of [`ChannelKind::as_str`], ignoring ASCII case
    /// and surrounding whitespace. No aliases (`twitter`, `mail`): one spelling
    /// per kind keeps query strings and stored rows unambiguous.
    pub fn parse(s: &str) -> Option<ChannelKind> {
        let s = s.trim();
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a raw handle was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("the channel handle is empty")]
    Empty,
    #[error("the channel handle is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("invalid {kind} handle: {reason}")]
    Invalid {
        kind: ChannelKind,
        reason: &'static str,
    },
}

/// A channel kind with its normalised value.
///
/// Values per kind: Telegram and X usernames in lowercase without `@`; WeChat
/// IDs in lowercase; phone and WhatsApp numbers in E.164 (`+` and digits);
/// e-mail addresses in lowercase with a punycode domain; websites and web
/// chats as the lowercase punycode host (no scheme, port, path or trailing
/// dot; IP addresses as written by the `url` crate, IPv6 in brackets); in-app
/// chat IDs NFKC-lowercased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelHandle {
    kind: ChannelKind,
    value: String,
}

impl ChannelHandle {
    /// Normalises `raw` as a handle of `kind`, or says why it cannot be one.
    pub fn parse(kind: ChannelKind, raw: &str) -> Result<ChannelHandle, HandleError> {
        let s = precheck(kind, raw)?;
        let value = match kind {
            ChannelKind::Telegram => parse_telegram(&s),
            ChannelKind::X => parse_x(&s),
            ChannelKind::Wechat => parse_wechat(&s),
            ChannelKind::Whatsapp | ChannelKind::Phone => parse_phone(&s),
            ChannelKind::Email => parse_email(&s),
            ChannelKind::Website | ChannelKind::WebChat => parse_host(&s),
            ChannelKind::InAppChat => parse_in_app(&s),
        }
        .map_err(|reason| HandleError::Invalid { kind, reason })?;
        Ok(ChannelHandle { kind, value })
    }

    /// The channel kind.
    pub fn kind(&self) -> ChannelKind {
        self.kind
    }

    /// The normalised value (see the type's documentation for its shape).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Rebuilds a handle from a value normalised earlier (e.g. read from the
    /// database). Re-runs [`ChannelHandle::parse`] and insists the value comes
    /// back unchanged, so rows written by older or buggy code are caught
    /// instead of silently comparing unequal.
    pub fn from_normalised(kind: ChannelKind, value: &str) -> Result<ChannelHandle, HandleError> {
        let handle = ChannelHandle::parse(kind, value)?;
        if handle.value == value {
            Ok(handle)
        } else {
            Err(HandleError::Invalid {
                kind,
                reason: "the value is not in normalised form",
            })
        }
    }
}

impl AsRef<str> for ChannelHandle {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

/// Human form `kind:value`, with the `@` users expect on Telegram and X:
/// `telegram:@binance`, `x:@okx`, `phone:+442079460958`,
/// `email:support@binance.com`, `website:binance.com`.
impl fmt::Display for ChannelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.kind {
            ChannelKind::Telegram | ChannelKind::X => "@",
            _ => "",
        };
        write!(f, "{}:{}{}", self.kind, at, self.value)
    }
}

type Parsed = Result<String, &'static str>;

/// Characters that are invisible or reorder text: rejected because their only
/// use in a handle is to make two different handles look identical.
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Checks shared by every kind; returns the trimmed NFKC form.
fn precheck(kind: ChannelKind, raw: &str) -> Result<String, HandleError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(HandleError::TooLong { max: MAX_RAW_LEN });
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(HandleError::Empty);
    }
    if trimmed.chars().any(is_forbidden_char) {
        return Err(HandleError::Invalid {
            kind,
            reason: "contains control or invisible characters",
        });
    }
    let nfkc: String = trimmed.nfkc().collect();
    let nfkc = nfkc.trim();
    if nfkc.is_empty() {
        return Err(HandleError::Empty);
    }
    if nfkc.chars().any(is_forbidden_char) {
        return Err(HandleError::Invalid {
            kind,
            reason: "contains control or invisible characters",
        });
    }
    Ok(nfkc.to_owned())
}

/// NFKC then lowercase, repeated until stable, so that parsing the output
/// again yields the same string (lowercasing can, rarely, leave NFKC form).
fn nfkc_lower(s: &str) -> Option<String> {
    let mut cur: String = s.nfkc().collect::<String>().to_lowercase();
    for _ in 0..4 {
        let next: String = cur.nfkc().collect::<String>().to_lowercase();
        if next == cur {
            return Some(cur);
        }
        cur = next;
    }
    None
}

/// Strips `prefix` ignoring ASCII case; never slices inside a character.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// The parts of a link that the handle parsers care about.
struct Link<'a> {
    scheme: Option<&'a str>,
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

impl<'a> Link<'a> {
    /// Splits `scheme://user@host:port/path?query#fragment` (scheme optional).
    /// Expects lowercase input; the host loses `www.` and a trailing dot.
    fn split(s: &'a str) -> Link<'a> {
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, s),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(end);
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host);
        let host = host.strip_prefix("www.").unwrap_or(host);
        let after = after.split('#').next().unwrap_or(after);
        let (path, query) = after.split_once('?').unwrap_or((after, ""));
        Link {
            scheme,
            host,
            path,
            query,
        }
    }

    fn first_segment(&self) -> &'a str {
        self.path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
    }

    fn segment(&self, n: usize) -> &'a str {
        self.path
            .trim_start_matches('/')
            .split('/')
            .nth(n)
            .unwrap_or("")
    }

    fn query_param(&self, key: &str) -> Option<&'a str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

fn looks_like_link(s: &str) -> bool {
    s.contains("://") || s.contains('/')
}

const TELEGRAM_HOSTS: [&str; 3] = ["t.me", "telegram.me", "telegram.dog"];

/// First path segments of t.me links that are not usernames.
const TELEGRAM_RESERVED: [&str; 14] = [
    "joinchat",
    "addstickers",
    "addemoji",
    "addtheme",
    "addlist",
    "share",
    "proxy",
    "socks",
    "c",
    "login",
    "setlanguage",
    "confirmphone",
    "invoice",
    "boost",
];

fn parse_telegram(s: &str) -> Parsed {
    let lower = s.to_lowercase();
    let name = if looks_like_link(&lower) || lower.ends_with(".t.me") {
        let link = Link::split(&lower);
        if link.scheme == Some("tg") {
            link.query_param("domain")
                .ok_or("tg:// links must name an account (domain=…)")?
        } else if let Some(sub) = link.host.strip_suffix(".t.me") {
            // username.t.me is Telegram's subdomain form of t.me/username.
            sub
        } else if TELEGRAM_HOSTS.contains(&link.host) {
            let mut seg = link.first_segment();
            if seg == "s" {
                seg = link.segment(1); // t.me/s/name is the public web preview
            }
            if seg.is_empty() {
                return Err("the link does not name an account");
            }
            if seg.starts_with('+') || TELEGRAM_RESERVED.contains(&seg) {
                return Err("invite and service links do not identify an account");
            }
            seg
        } else {
            return Err("not a Telegram link (expected t.me/username)");
        }
    } else {
        lower.as_str()
    };
    let name = name.strip_prefix('@').unwrap_or(name);
    // Telegram requires 5–32 characters; 3 is accepted so short scam handles
    // can still be checked.
    validate_username(name, 3, 32, true, false)?;
    Ok(name.to_owned())
}

const X_HOSTS: [&str; 4] = ["x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"];

/// First path segments of x.com links that are not accounts.
const X_RESERVED: [&str; 12] = [
    "i",
    "intent",
    "home",
    "search",
    "hashtag",
    "explore",
    "settings",
    "messages",
    "notifications",
    "share",
    "compose",
    "login",
];

fn parse_x(s: &str) -> Parsed {
    let lower = s.to_lowercase();
    let name = if looks_like_link(&lower) {
        let link = Link::split(&lower);
        if !X_HOSTS.contains(&link.host) {
            return Err("not an X link (expected x.com/username)");
        }
        let seg = link.first_segment();
        if seg.is_empty() {
            return Err("the link does not name an account");
        }
        if X_RESERVED.contains(&seg) {
            return Err("the link does not point to an account");
        }
        seg
    } else {
        lower.as_str()
    };
    let name = name.strip_prefix('@').unwrap_or(name);
    // X allows 1–15 characters; up to 50 accepted for legacy and scam handles.
    validate_username(name, 1, 50, false, false)?;
    Ok(name.to_owned())
}

fn parse_wechat(s: &str) -> Parsed {
    let lower = s.to_lowercase();
    // WeChat IDs have no '@', but users copy one from other platforms' habits.
    let name = lower.strip_prefix('@').unwrap_or(&lower);
    // WeChat allows 6–20 characters; 3–64 accepted for checking scam IDs.
    validate_username(name, 3, 64, true, true)?;
    Ok(name.to_owned())
}

/// ASCII username rules shared by Telegram, X and WeChat.
fn validate_username(
    name: &str,
    min: usize,
    max: usize,
    letter_first: bool,
    allow_dash: bool,
) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the username is empty");
    }
    let ok_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_dash && c == '-')
    };
    if !name.chars().all(ok_char) {
        return Err(if allow_dash {
            "only Latin letters, digits, '_' and '-' are allowed"
        } else {
            "only Latin letters, digits and '_' are allowed"
        });
    }
    if name.len() < min {
        return Err("the username is too short");
    }
    if name.len() > max {
        return Err("the username is too long");
    }
    if letter_first && !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("the username must start with a letter");
    }
    Ok(())
}

const WHATSAPP_HOSTS: [&str; 4] = [
    "wa.me",
    "api.whatsapp.com",
    "web.whatsapp.com",
    "whatsapp.com",
];

/// Phone and WhatsApp numbers to E.164. A number without a country code is
/// rejected rather than guessed: the same digits are different subscribers
/// in different countries.
fn parse_phone(s: &str) -> Parsed {
    if let Some(rest) = strip_prefix_ci(s, "tel:") {
        return parse_dialled(rest.trim_start_matches('/'));
    }
    let lower = s.to_lowercase();
    if looks_like_link(&lower) {
        let link = Link::split(&lower);
        let digits = if link.scheme == Some("whatsapp") {
            link.query_param("phone")
                .ok_or("whatsapp:// links must carry phone=…")?
        } else if WHATSAPP_HOSTS.contains(&link.host) {
            match link.first_segment() {
                "send" => link
                    .query_param("phone")
                    .ok_or("the link does not carry a phone number")?,
                "message" | "qr" | "catalog" | "c" => {
                    return Err("short message links do not reveal the number")
                }
                seg => seg,
            }
        } else {
            return Err("not a WhatsApp link (expected wa.me/<number>)");
        };
        // wa.me numbers are always international, written without '+'.
        let digits = digits.strip_prefix('+').unwrap_or(digits);
        let digits = digits.strip_prefix("%2b").unwrap_or(digits);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the link does not carry a valid phone number");
        }
        return e164_digits(digits);
    }
    parse_dialled(s)
}

fn is_phone_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '-' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}'
        )
}

/// A number as dialled: `+44 (0)20 7946 0958`, `0044 20 7946 0958`.
fn parse_dialled(s: &str) -> Parsed {
    let s = s.trim();
    let international = s.starts_with('+') || s.starts_with("00");
    // "+44 (0)20…" shows the national trunk prefix, which E.164 drops.
    let s = if international {
        s.replace("(0)", "")
    } else {
        s.to_owned()
    };
    let compact: String = s.chars().filter(|c| !is_phone_separator(*c)).collect();
    let digits = if let Some(d) = compact.strip_prefix('+') {
        d
    } else if let Some(d) = compact.strip_prefix("00") {
        d
    } else if !compact.is_empty() && compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err("include the country code, e.g. +44 20 7946 0958");
    } else {
        compact.as_str()
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "a phone number may contain only digits, a leading +, spaces, dots, dashes and parentheses",
        );
    }
    e164_digits(digits)
}

/// Validates the digits after '+' and builds the E.164 value.
fn e164_digits(digits: &str) -> Parsed {
    if digits.starts_with('0') {
        return Err("the country code cannot start with 0");
    }
    if !(8..=15).contains(&digits.len()) {
        return Err("an international number has 8 to 15 digits");
    }
    Ok(format!("+{digits}"))
}

/// Characters never allowed in an (unquoted) e-mail local part.
const EMAIL_LOCAL_FORBIDDEN: &str = "\"(),:;<>[\\]";

/// E-mail: the whole address is lowercased. RFC 5321 lets the local part be
/// case-sensitive, but no real provider treats it so, and a case-sensitive
/// comparison would let `Support@` slip past a registered `support@`.
fn parse_email(s: &str) -> Parsed {
    let s = match strip_prefix_ci(s, "mailto:") {
        Some(rest) => rest.split('?').next().unwrap_or(rest).trim(),
        None => s,
    };
    let mut parts = s.split('@');
    let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => (local, domain),
        _ => return Err("an e-mail address has exactly one @"),
    };
    if local.is_empty() {
        return Err("the part before @ is empty");
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || EMAIL_LOCAL_FORBIDDEN.contains(c))
    {
        return Err("the part before @ contains spaces or forbidden characters");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("the part before @ has a misplaced dot");
    }
    let local = nfkc_lower(local).ok_or("the part before @ cannot be normalised")?;
    if local.len() > 64 {
        return Err("the part before @ is longer than 64 bytes");
    }
    let domain = normalise_email_domain(domain)?;
    Ok(format!("{local}@{domain}"))
}

fn normalise_email_domain(domain: &str) -> Parsed {
    if domain.is_empty() {
        return Err("the domain after @ is empty");
    }
    if domain.starts_with('[') {
        return Err("address literals are not accepted, use a domain");
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| "the domain is not a valid (internationalised) domain name")?;
    check_hostname(&ascii, false)?;
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the domain cannot be an IP address");
    }
    Ok(ascii)
}

/// Label rules for an ASCII (punycode) hostname. Websites may carry '_'
/// (seen in real hostnames); mail domains may not.
fn check_hostname(ascii: &str, allow_underscore: bool) -> Result<(), &'static str> {
    if ascii.is_empty() {
        return Err("the domain is empty");
    }
    if ascii.len() > 253 {
        return Err("the domain is longer than 253 characters");
    }
    if !ascii.contains('.') {
        return Err("the domain needs a dot, e.g. example.com");
    }
    for label in ascii.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each part of the domain must be 1 to 63 characters long");
        }
        let ok = |b: u8| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'
                || (allow_underscore && b == b'_')
        };
        if !label.bytes().all(ok) {
            return Err("the domain contains characters that are not allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of the domain starts or ends with '-'");
        }
    }
    Ok(())
}

/// Website and web chat: any URL or bare domain to its host. The scheme is
/// replaced by https so the `url` crate applies its web (IDNA, lowercase,
/// IPv4) host rules whatever the user typed (`hxxp://`, `ftp://`).
fn parse_host(s: &str) -> Parsed {
    let url_text = if let Some((scheme, rest)) = s.split_once("://") {
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return Err("not a valid URL or domain");
        }
        format!("https://{rest}")
    } else if let Some(rest) = s.strip_prefix("//") {
        format!("https://{rest}")
    } else {
        format!("https://{s}")
    };
    let url = url::Url::parse(&url_text).map_err(|_| "not a valid URL or domain")?;
    match url.host() {
        None => Err("the URL has no host"),
        Some(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Some(url::Host::Ipv6(ip)) => Ok(format!("[{ip}]")),
        Some(url::Host::Domain(host)) => {
            let host = host.strip_suffix('.').unwrap_or(host);
            // Re-run IDNA: the result must be stable under a second parse.
            let ascii = idna::domain_to_ascii(host).map_err(|_| "not a valid domain name")?;
            check_hostname(&ascii, true)?;
            Ok(ascii)
        }
    }
}

/// In-app chat IDs are opaque, so only case and compatibility forms are
/// folded.
fn parse_in_app(s: &str) -> Parsed {
    let id = nfkc_lower(s).ok_or("the identifier cannot be normalised")?;
    if id
        .chars()
        .any(|c| c.is_whitespace() || is_forbidden_char(c))
    {
        return Err("the identifier contains whitespace or control characters");
    }
    let n = id.chars().count();
    if n == 0 {
        return Err("the identifier is empty");
    }
    if n > 128 {
        return Err("the identifier is longer than 128 characters");
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;

    fn value(kind: ChannelKind, raw: &str) -> Result<String, HandleError> {
        ChannelHandle::parse(kind, raw).map(|h| h.as_str().to_owned())
    }

    #[test]
    fn accepted_inputs_normalise_to_the_expected_value() {
        let cases: &[(ChannelKind, &str, &str)] = &[
            (Telegram, "@Binance", "binance"),
            (Telegram, "binance_cn", "binance_cn"),
            (Telegram, "  @BinanceHelp \n", "binancehelp"),
            (Telegram, "https://t.me/binance", "binance"),
            (Telegram, "t.me/Binance", "binance"),
            (Telegram, "telegram.me/binance", "binance"),
            (Telegram, "http://www.t.me/binance?start=abc", "binance"),
            (Telegram, "https://t.me/s/binance", "binance"),
            (Telegram, "https://t.me/binance/123", "binance"),
            (Telegram, "binance.t.me", "binance"),
            (Telegram, "tg://resolve?domain=binance", "binance"),
            (Telegram, "okx", "okx"),
            (Telegram, "＠ｂｉｎａｎｃｅ", "binance"),
            (X, "@OKX", "okx"),
            (X, "x", "x"),
            (X, "https://x.com/binance", "binance"),
            (X, "twitter.com/Binance/status/1", "binance"),
            (X, "https://mobile.twitter.com/@cz_binance", "cz_binance"),
            (Wechat, "Binance_CN", "binance_cn"),
            (Wechat, "okx-helpdesk", "okx-helpdesk"),
            (Whatsapp, "+44 20 7946 0958", "+442079460958"),
            (Whatsapp, "https://wa.me/14155550100", "+14155550100"),
            (Whatsapp, "wa.me/14155550100?text=hi", "+14155550100"),
            (
                Whatsapp,
                "https://api.whatsapp.com/send?phone=14155550100",
                "+14155550100",
            ),
            (Phone, "+1 (415) 555-0100", "+14155550100"),
            (Phone, "0044 20 7946 0958", "+442079460958"),
            (Phone, "tel:+1-415-555-0100", "+14155550100"),
            (Phone, "+44 (0)20 7946 0958", "+442079460958"),
            (Phone, "+49.30.1234.5678", "+493012345678"),
            (Phone, "＋４４ ２０ ７９４６ ０９５８", "+442079460958"),
            (Email, "Support@Binance.COM", "support@binance.com"),
            (Email, "mailto:help@okx.com?subject=hi", "help@okx.com"),
            (Email, "info@Bücher.de", "info@xn--bcher-kva.de"),
            (
                Email,
                "binance.support+x@gmail.com",
                "binance.support+x@gmail.com",
            ),
            (Email, "a@b.co.", "a@b.co"),
            (Website, "Binance.com", "binance.com"),
            (Website, "www.binance.com.", "www.binance.com"),
            (Website, "bücher.de", "xn--bcher-kva.de"),
            (
                Website,
                "https://user@www.binance.com:443/en/support?x=1",
                "www.binance.com",
            ),
            (Website, "hxxp://Evil.Example/login", "evil.example"),
            (Website, "//binance.com/x", "binance.com"),
            (Website, "http://192.168.1.10:8080/", "192.168.1.10"),
            (Website, "https://[::1]/", "[::1]"),
            (Website, "https://bіnance.com", "xn--bnance-pvf.com"),
            (
                WebChat,
                "https://chat.binance.com/en/agent",
                "chat.binance.com",
            ),
            (InAppChat, "Agent-42", "agent-42"),
            (InAppChat, "ＡＧＥＮＴ", "agent"),
            (InAppChat, "bіnance", "bіnance"),
        ];
        for (kind, raw, expected) in cases {
            assert_eq!(
                value(*kind, raw).as_deref(),
                Ok(*expected),
                "{kind} {raw:?}"
            );
        }
    }

    #[test]
    fn rejected_inputs_give_the_expected_error() {
        let long = "a".repeat(MAX_RAW_LEN + 1);
        let invalid = |kind| HandleError::Invalid { kind, reason: "" };
        let cases: Vec<(ChannelKind, String, HandleError)> = vec![
            (Telegram, "".to_owned(), HandleError::Empty),
            (Telegram, "   \t ".to_owned(), HandleError::Empty),
            (Website, long, HandleError::TooLong { max: MAX_RAW_LEN }),
            (Telegram, "bin\u{0}ance".to_owned(), invalid(Telegram)),
            (Telegram, "bin\u{202E}ance".to_owned(), invalid(Telegram)),
            (Telegram, "bin\u{200B}ance".to_owned(), invalid(Telegram)),
            (Telegram, "ab".to_owned(), invalid(Telegram)),
            (Telegram, "1binance".to_owned(), invalid(Telegram)),
            (Telegram, "bіnance".to_owned(), invalid(Telegram)),
            (Telegram, "binance.com".to_owned(), invalid(Telegram)),
            (
                Telegram,
                "https://t.me/+AbCdEf".to_owned(),
                invalid(Telegram),
            ),
            (
                Telegram,
                "https://t.me/joinchat/abc".to_owned(),
                invalid(Telegram),
            ),
            (Telegram, "https://t.me/".to_owned(), invalid(Telegram)),
            (
                Telegram,
                "https://example.com/binance".to_owned(),
                invalid(Telegram),
            ),
            (Telegram, "a".repeat(33), invalid(Telegram)),
            (X, "bin-ance".to_owned(), invalid(X)),
            (X, "https://x.com/i/flow".to_owned(), invalid(X)),
            (X, "https://facebook.com/binance".to_owned(), invalid(X)),
            (Wechat, "a b c".to_owned(), invalid(Wechat)),
            (Wechat, "9abc".to_owned(), invalid(Wechat)),
            (Phone, "020 7946 0958".to_owned(), invalid(Phone)),
            (Phone, "4155550100".to_owned(), invalid(Phone)),
            (Phone, "+0 415 555 0100".to_owned(), invalid(Phone)),
            (Phone, "+1 555".to_owned(), invalid(Phone)),
            (Phone, "+1234567890123456".to_owned(), invalid(Phone)),
            (Phone, "+44 20 7946 0958 ext 1".to_owned(), invalid(Phone)),
            (Phone, "+44+20".to_owned(), invalid(Phone)),
            (
                Whatsapp,
                "https://wa.me/message/ABCDEF".to_owned(),
                invalid(Whatsapp),
            ),
            (Whatsapp, "https://wa.me/".to_owned(), invalid(Whatsapp)),
            (
                Whatsapp,
                "https://evil.com/14155550100".to_owned(),
                invalid(Whatsapp),
            ),
            (Email, "support.binance.com".to_owned(), invalid(Email)),
            (Email, "a@b@c.com".to_owned(), invalid(Email)),
            (Email, "@binance.com".to_owned(), invalid(Email)),
            (Email, "support@localhost".to_owned(), invalid(Email)),
            (Email, "sup port@binance.com".to_owned(), invalid(Email)),
            (Email, "support@".to_owned(), invalid(Email)),
            (Email, ".x@binance.com".to_owned(), invalid(Email)),
            (Email, "x@1.2.3.4".to_owned(), invalid(Email)),
            (Email, "x@[1.2.3.4]".to_owned(), invalid(Email)),
            (
                Email,
                format!("{}@binance.com", "a".repeat(65)),
                invalid(Email),
            ),
            (Website, "localhost".to_owned(), invalid(Website)),
            (Website, "https://".to_owned(), invalid(Website)),
            (Website, "binance .com".to_owned(), invalid(Website)),
            (Website, "binance.com..".to_owned(), invalid(Website)),
            (Website, "-binance.com".to_owned(), invalid(Website)),
            (Website, "javascript:alert(1)".to_owned(), invalid(Website)),
            (Website, "://binance.com".to_owned(), invalid(Website)),
            (WebChat, "http://".to_owned(), invalid(WebChat)),
            (InAppChat, "agent 42".to_owned(), invalid(InAppChat)),
            (InAppChat, "a".repeat(129), invalid(InAppChat)),
        ];
        for (kind, raw, expected) in cases {
            let got = ChannelHandle::parse(kind, &raw);
            let same_variant = match (&got, &expected) {
                (
                    Err(HandleError::Invalid { kind: k, .. }),
                    HandleError::Invalid { kind: e, .. },
                ) => k == e,
                (Err(g), e) => g == e,
                (Ok(_), _) => false,
            };
            assert!(
                same_variant,
                "{kind} {raw:?}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn missing_country_code_is_explained() {
        let err = ChannelHandle::parse(Phone, "020 7946 0958").unwrap_err();
        assert!(err.to_string().contains("country code"), "{err}");
    }

    #[test]
    fn kinds_round_trip_through_their_names_and_serde() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                ChannelKind::parse(&format!(" {} ", kind.as_str().to_uppercase())),
                Some(kind)
            );
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ChannelKind>(&json).unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ChannelKind::parse("twitter"), None);
        assert_eq!(ChannelKind::parse("in-app-chat"), None);
        assert_eq!(ChannelKind::parse(""), None);
    }

    #[test]
    fn display_shows_kind_and_the_at_sign_where_users_expect_it() {
        let show = |k, r| ChannelHandle::parse(k, r).unwrap().to_string();
        assert_eq!(show(Telegram, "t.me/Binance"), "telegram:@binance");
        assert_eq!(show(X, "OKX"), "x:@okx");
        assert_eq!(show(Phone, "+44 20 7946 0958"), "phone:+442079460958");
        assert_eq!(show(Email, "Help@OKX.com"), "email:help@okx.com");
        assert_eq!(
            show(Website, "https://Binance.com/x"),
            "website:binance.com"
        );
        assert_eq!(show(InAppChat, "A1"), "in_app_chat:a1");
    }

    #[test]
    fn from_normalised_accepts_fixed_points_only() {
        let h = ChannelHandle::from_normalised(Website, "xn--bcher-kva.de").unwrap();
        assert_eq!(h.as_str(), "xn--bcher-kva.de");
        assert_eq!(h.as_ref(), "xn--bcher-kva.de");
        assert_eq!(h.kind(), Website);
        for (kind, raw) in [
            (Website, "bücher.de"),
            (Telegram, "@binance"),
            (Email, "Support@binance.com"),
            (Phone, "+44 20 7946 0958"),
        ] {
            assert!(
                matches!(
                    ChannelHandle::from_normalised(kind, raw),
                    Err(HandleError::Invalid { .. })
                ),
                "{kind} {raw:?}"
            );
        }
    }

    /// Small deterministic generator: the tests must not depend on a fuzzing crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn arbitrary_input_never_panics_and_output_is_a_fixed_point() {
        let alphabet: Vec<char> = "aAzZ019_-.@+:/?#%[]() \t\u{0}\u{202E}\u{200B}wwxXtme\
             ıİßẞﬁＡ０＠。．ǅΣσςіаоεК\u{0301}\u{0308}😀ⅰ①㈱\u{FDFA}ᵃʰ"
            .chars()
            .collect();
        let prefixes = [
            "", "https://", "t.me/", "x.com/", "wa.me/", "tel:", "mailto:", "+", "00", "@", "a@",
            "www.",
        ];
        let mut rng = Lcg(42);
        let mut accepted = 0;
        for _ in 0..6000 {
            let mut s = prefixes[(rng.next() % prefixes.len() as u64) as usize].to_owned();
            let len = rng.next() % 24;
            for _ in 0..len {
                s.push(alphabet[(rng.next() % alphabet.len() as u64) as usize]);
            }
            if rng.next() % 3 == 1 {
                s.push_str(".com");
            }
            for kind in ChannelKind::ALL {
                if let Ok(h) = ChannelHandle::parse(kind, &s) {
                    accepted += 1;
                    let again = ChannelHandle::from_normalised(kind, h.as_str());
                    assert_eq!(again.as_ref(), Ok(&h), "{kind} {s:?} -> {h:?}");
                }
            }
        }
        assert!(
            accepted > 1000,
            "the generator should produce many valid handles: {accepted}"
        );
    }
}
