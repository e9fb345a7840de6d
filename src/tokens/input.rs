//! Finds what the user pasted: a token, an identity link, a session code, or a whole message
//! containing one of them.

use std::sync::LazyLock;

use regex::Regex;

/// Largest input we look at: a pasted chat message, not a document.
pub const MAX_INPUT_LEN: usize = 16 * 1024;

/// Crockford base32: no I, L, O, U, so a code read out on the phone cannot be misheard as another.
pub const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Ten symbols = 50 bits: with throttled guessing, hitting a live code is hopeless.
pub const CODE_LEN: usize = 10;

#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// A `v4.public.` token (possibly found inside a link or message).
    Token(&'a str),
    /// A session code, normalised to its 10 canonical symbols.
    Code(String),
    /// A token of another PASETO version/purpose or a JWT: never accepted (no negotiation).
    ForeignToken,
    /// Nothing recognisable.
    Nothing,
}

static TOKEN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"v4\.public\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?").expect("static regex")
});
static FOREIGN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:v[1-9]\.(?:local|public)\.[A-Za-z0-9_-]+|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+)")
        .expect("static regex")
});
static CODE_ALONE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^([0-9a-z]{4})[- ]?([0-9a-z]{4})[- ]?([0-9a-z]{2})$").expect("static regex")
});
/// Inside a message a code must keep its dashes, or ordinary words ("what does it mean") would
/// read as a code; typed alone it may use spaces or no separators.
static CODE_IN_TEXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([0-9a-z]{4})-([0-9a-z]{4})-([0-9a-z]{2})\b").expect("static regex")
});

/// Whether every byte is in the base64url alphabet (`A–Z a–z 0–9 - _`). This runs over every byte
/// of every token verified, so it is written without branches or table lookups: the compiler turns
/// it into vector compares, 32 bytes at a time.
fn all_base64url(s: &[u8]) -> bool {
    s.iter().fold(true, |ok, &b| {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        ok & (letter | digit | (b == b'-') | (b == b'_'))
    })
}

/// Whether `s` is `payload` or `payload.footer`, both non-empty base64url: what TOKEN_RE matches
/// after the header when it spans the whole input. The dot is found with `memchr` and each part
/// checked with [`all_base64url`], all vectorised (a single fold that also counted the dots was
/// not, and cost four times as many instructions as this).
fn bare_token_body(s: &[u8]) -> bool {
    let part = |p: &[u8]| !p.is_empty() && all_base64url(p);
    match memchr::memchr(b'.', s) {
        Some(dot) => part(&s[..dot]) && part(&s[dot + 1..]),
        None => part(s),
    }
}

pub fn extract(input: &str) -> Presented<'_> {
    if input.len() > MAX_INPUT_LEN {
        return Presented::Nothing;
    }
    let input = input.trim();
    // The common case, a bare token, without running the regex (the hot path).
    // Exactly what TOKEN_RE matches when it spans the whole input.
    if let Some(rest) = input.strip_prefix("v4.public.") {
        if bare_token_body(rest.as_bytes()) {
            return Presented::Token(input);
        }
    }
    if let Some(m) = TOKEN_RE.find(input) {
        return Presented::Token(m.as_str());
    }
    if FOREIGN_RE.is_match(input) {
        return Presented::ForeignToken;
    }
    for c in CODE_ALONE_RE
        .captures_iter(input)
        .chain(CODE_IN_TEXT_RE.captures_iter(input))
        .take(8)
    {
        let joined = format!("{}{}{}", &c[1], &c[2], &c[3]);
        if let Some(code) = normalise_code(&joined) {
            return Presented::Code(code);
        }
    }
    Presented::Nothing
}

/// Upper-cases and maps the Crockford look-alikes (I, L → 1; O → 0). Returns `None` for any
/// symbol outside the alphabet or the wrong length.
pub fn normalise_code(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_LEN);
    for c in raw.chars().filter(|c| *c != '-' && *c != ' ') {
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !CODE_ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// Groups a canonical code for display: `7KQ4-MZ2P-XT`.
pub fn display_code(code: &str) -> String {
    if code.len() != CODE_LEN || !code.is_ascii() {
        return code.to_owned();
    }
    format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "v4.public.eyJhIjoiYiJ9AAAA.eyJraWQiOiJ4In0";

    #[test]
    fn bare_token_link_and_message_all_yield_the_token() {
        assert_eq!(extract(T), Presented::Token(T));
        let link = format!("https://trust.example/v/{T}");
        assert_eq!(extract(&link), Presented::Token(T));
        let msg = format!("Hello, I am from support. Verify me: {link} thanks!");
        assert_eq!(extract(&msg), Presented::Token(T));
    }

    #[test]
    fn codes_are_found_with_dashes_spaces_or_none_and_normalised() {
        assert_eq!(
            extract("7KQ4-MZ2P-XT"),
            Presented::Code("7KQ4MZ2PXT".into())
        );
        assert_eq!(
            extract("my code is 7kq4-mz2p-xt ok"),
            Presented::Code("7KQ4MZ2PXT".into())
        );
        assert_eq!(
            extract(" 7kq4 mz2p xt "),
            Presented::Code("7KQ4MZ2PXT".into())
        );
        assert_eq!(extract("7kq4mz2pxt"), Presented::Code("7KQ4MZ2PXT".into()));
        assert_eq!(
            extract("OIL0-0000-00"),
            Presented::Code("0110000000".into())
        );
    }

    #[test]
    fn other_token_kinds_are_foreign_never_negotiated() {
        assert_eq!(extract("v4.local.abcdef"), Presented::ForeignToken);
        assert_eq!(extract("v2.public.abcdef"), Presented::ForeignToken);
        assert_eq!(
            extract("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
            Presented::ForeignToken
        );
    }

    #[test]
    fn garbage_and_oversized_input_yield_nothing() {
        assert_eq!(extract(""), Presented::Nothing);
        assert_eq!(extract("hello there"), Presented::Nothing);
        assert_eq!(
            extract("what does it mean"),
            Presented::Nothing,
            "words are not a code"
        );
        assert_eq!(
            extract("what does it mean"),
            Presented::Nothing,
            "words are not a code"
        );
        assert_eq!(extract("UUUU-UUUU-UU"), Presented::Nothing);
        assert_eq!(extract(&"a".repeat(MAX_INPUT_LEN + 1)), Presented::Nothing);
    }

    #[test]
    fn display_code_groups_four_four_two() {
        assert_eq!(display_code("7KQ4MZ2PXT"), "7KQ4-MZ2P-XT");
    }

    /// What `bare_token_body` must accept, as a regex.
    fn body_by_regex(bytes: &[u8]) -> bool {
        static BODY: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
            regex::bytes::Regex::new(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?$").unwrap()
        });
        BODY.is_match(bytes)
    }

    proptest::proptest! {
        #[test]
        fn the_body_check_is_exactly_one_or_two_base64url_parts(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![proptest::num::u8::ANY, proptest::strategy::Just(b'.'), proptest::strategy::Just(b'a')],
                0..80,
            )
        ) {
            proptest::prop_assert_eq!(bare_token_body(&bytes), body_by_regex(&bytes));
        }
    }

    #[test]
    fn the_body_check_takes_every_byte_value_right() {
        for b in 0..=255u8 {
            let alone = [b];
            let after: Vec<u8> = [b'a'; 40].iter().copied().chain([b]).collect();
            let between: Vec<u8> = [b'a'; 40]
                .iter()
                .copied()
                .chain([b])
                .chain(*b"zz")
                .collect();
            for bytes in [&alone[..], &after[..], &between[..]] {
                assert_eq!(
                    bare_token_body(bytes),
                    body_by_regex(bytes),
                    "{b} in {bytes:?}"
                );
            }
        }
        assert!(!bare_token_body(b""));
        assert!(!bare_token_body(b"a.b.c"));
        assert!(bare_token_body(b"a.b"));
    }

    #[test]
    fn the_bare_token_shortcut_agrees_with_the_regex() {
        for input in [
            "v4.public.abc",
            "v4.public.abc.def",
            "v4.public.abc.def.ghi",
            "v4.public.abc..def",
            "v4.public.abc.",
            "v4.public.",
            "v4.public.a+b",
            "v4.public.abc def",
            "  v4.public.abc_-09.Zz  ",
        ] {
            let want = match TOKEN_RE.find(input.trim()) {
                Some(m) => Presented::Token(m.as_str()),
                None => Presented::Nothing,
            };
            let got = match extract(input) {
                Presented::Token(t) => Presented::Token(t),
                _ => Presented::Nothing,
            };
            assert_eq!(got, want, "{input:?}");
        }
    }
}
