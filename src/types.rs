//! Shared vocabulary used by every layer below `http`. No logic beyond conversions.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC. Stored as a 64-bit integer in both engines so that
/// comparisons and indexes behave the same on SQLite and PostgreSQL.
pub type UnixTime = i64;

/// The current time as [`UnixTime`].
pub fn now() -> UnixTime {
    chrono::Utc::now().timestamp()
}

/// Formats a [`UnixTime`] as RFC 3339 (what PASETO claims and the JSON API use):
/// `YYYY-MM-DDTHH:MM:SSZ`, the same text as chrono's `to_rfc3339_opts(Secs, true)`.
///
/// Written out by hand for 1970–9999 because every verify answer formats two of these; chrono
/// formats anything else.
pub fn rfc3339(t: UnixTime) -> String {
    const LAST: UnixTime = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(0..=LAST).contains(&t) {
        return chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    }
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    // Only ASCII digits and separators were written: always UTF-8, copied in one go.
    std::str::from_utf8(&out).unwrap_or_default().to_owned()
}

/// Parses an RFC 3339 time into Unix seconds (fractions dropped).
///
/// The form [`rfc3339`] writes, which is every time in a token we issue, is read by hand; any
/// other form, and anything the hand-written reader is unsure of, goes to chrono. The reader
/// only accepts what chrono accepts, with the same result (tested against it).
pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    parse_plain_utc(s.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp())
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` with a valid date and no leap second; `None` for anything else.
fn parse_plain_utc(b: &[u8]) -> Option<UnixTime> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |at: usize, width: usize| -> Option<i64> {
        b[at..at + width].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hh, mm, ss) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > month_days || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`); also what the STIX feed formats its times with.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A staff member's role. Roles are disjoint on purpose: an admin manages the registry, keys and
/// staff but cannot impersonate an agent by issuing sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Official support agent: issues and revokes its own support sessions.
    Agent,
    /// Security staff: revokes any session; later works reports and escalations.
    Security,
    /// Administrator: official channels, keys, staff accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Agent, Role::Security, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Security => "security",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing language. Trustdesk speaks Simplified Chinese and English.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Parses a language tag leniently: `zh`, `zh-CN`, `zh-Hans`, `zh_cn` are Chinese; `en*` English.
    pub fn parse_tag(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
        if tag == "zh" || tag.starts_with("zh-") {
            Some(Locale::ZhCn)
        } else if tag == "en" || tag.starts_with("en-") {
            Some(Locale::En)
        } else {
            None
        }
    }

    /// Picks the first supported language from an `Accept-Language` header, by q-value.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',').take(16) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("");
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Locale::parse_tag(tag) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_q_supported_language() {
        assert_eq!(
            Locale::from_accept_language("fr, zh-CN;q=0.8, en;q=0.5"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::from_accept_language("en-GB,zh;q=0.1"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("de, fr"), None);
        assert_eq!(Locale::from_accept_language(""), None);
    }

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    fn chrono_format(t: UnixTime) -> String {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn chrono_parse(s: &str) -> Option<UnixTime> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp())
    }

    #[test]
    fn dates_chrono_and_the_hand_reader_disagree_on_nothing_at_the_edges() {
        for s in [
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "1900-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "2026-01-01T00:00:00z",
            "2026-01-01t00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00+01:00",
            "2026-01-01T00:00:00.5Z",
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "+026-01-01T00:00:00Z",
            "2026-01-01T00:00:0AZ",
        ] {
            assert_eq!(parse_rfc3339(s), chrono_parse(s), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn formatting_matches_chrono(t in -100_000_000_000i64..300_000_000_000) {
            proptest::prop_assert_eq!(rfc3339(t), chrono_format(t));
        }

        #[test]
        fn parsing_matches_chrono(t in -62_167_219_200i64..253_402_300_800, edit in 0usize..40, c in 0u8..128) {
            let mut s = chrono_format(t).into_bytes();
            // Half the cases unchanged; the others with one character replaced.
            if edit < s.len() {
                s[edit] = c;
            }
            let s = String::from_utf8(s).expect("ascii");
            proptest::prop_assert_eq!(parse_rfc3339(&s), chrono_parse(&s), "{}", s);
            proptest::prop_assert_eq!(parse_rfc3339(&chrono_format(t)), Some(t));
        }
    }
}
