//! Streaming content-type sniffing of evidence uploads.
//!
//! Fraud victims upload screenshots, PDFs and chat exports. The stored type
//! comes from the bytes alone: the client's file name and `Content-Type` are
//! attacker-controlled. Uploads are streamed, so [`Sniffer`] sees the file in
//! chunks and keeps O(1) state: the first [`HEAD_LEN`] bytes, a short "lead"
//! (the first bytes after a BOM and leading whitespace), UTF-8 validation
//! state carried across chunk boundaries, and whether a NUL byte was seen.
//!
//! Image, PDF and ZIP files are accepted on their magic number alone (we never
//! decode or decompress them). Everything else must be UTF-8 text without NUL
//! bytes, and must not start like markup: evidence is shown to staff and must
//! never be something a browser would render as HTML or SVG.

/// How many leading bytes decide magic numbers and the wording of a rejection.
/// Once [`Sniffer::head_len`] reaches this, [`Sniffer::early_verdict`] has seen
/// everything it will ever need.
pub const HEAD_LEN: usize = 512;

/// Bytes kept from the first non-whitespace character on: enough to spot
/// markup and to tell a JSON document from a chat log that starts with `[`.
const LEAD_LEN: usize = 64;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

const EXECUTABLE: &str = "executables are not accepted";
const BINARY: &str = "unrecognised binary format";
const NOT_UTF8: &str = "text must be UTF-8 without NUL bytes";
const UTF16: &str = "text must be UTF-8 (UTF-16 is not accepted)";
const HTML: &str = "HTML is not accepted as evidence";
const SVG: &str = "SVG is not accepted (it can carry script)";
const XML: &str = "XML is not accepted (it can be SVG or XHTML, which carry script)";

/// The type of an accepted evidence file, decided from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Zip,
    Json,
    Text,
}

impl EvidenceType {
    pub const ALL: [EvidenceType; 8] = [
        EvidenceType::Png,
        EvidenceType::Jpeg,
        EvidenceType::Gif,
        EvidenceType::Webp,
        EvidenceType::Pdf,
        EvidenceType::Zip,
        EvidenceType::Json,
        EvidenceType::Text,
    ];

    /// The `Content-Type` to serve the file with: always ours, never the uploader's.
    pub fn mime(self) -> &'static str {
        match self {
            EvidenceType::Png => "image/png",
            EvidenceType::Jpeg => "image/jpeg",
            EvidenceType::Gif => "image/gif",
            EvidenceType::Webp => "image/webp",
            EvidenceType::Pdf => "application/pdf",
            EvidenceType::Zip => "application/zip",
            EvidenceType::Json => "application/json",
            EvidenceType::Text => "text/plain; charset=utf-8",
        }
    }

    /// The name stored in the database, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceType::Png => "png",
            EvidenceType::Jpeg => "jpeg",
            EvidenceType::Gif => "gif",
            EvidenceType::Webp => "webp",
            EvidenceType::Pdf => "pdf",
            EvidenceType::Zip => "zip",
            EvidenceType::Json => "json",
            EvidenceType::Text => "text",
        }
    }

    /// Inverse of [`EvidenceType::as_str`] (ASCII case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        EvidenceType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether staff pages may show the file inline as a picture.
    pub fn is_image(self) -> bool {
        matches!(
            self,
            EvidenceType::Png | EvidenceType::Jpeg | EvidenceType::Gif | EvidenceType::Webp
        )
    }
}

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("the evidence file is empty")]
    Empty,
    #[error("unsupported evidence file: {detail}")]
    Unsupported { detail: &'static str },
}

fn unsupported(detail: &'static str) -> SniffError {
    SniffError::Unsupported { detail }
}

/// Incremental content-type detector: feed every chunk to [`Sniffer::update`],
/// then call [`Sniffer::finish`].
#[derive(Clone, Debug)]
pub struct Sniffer {
    head: [u8; HEAD_LEN],
    head_len: usize,
    total: u64,
    /// The head matched a magic number: text checks are skipped from then on.
    magic_hit: bool,
    utf8: Utf8State,
    saw_nul: bool,
    /// Bytes of a UTF-8 BOM matched at offset 0 (3 once the whole BOM was skipped).
    bom_held: u8,
    lead: [u8; LEAD_LEN],
    lead_len: usize,
}

impl Default for Sniffer {
    fn default() -> Self {
        Sniffer {
            head: [0; HEAD_LEN],
            head_len: 0,
            total: 0,
            magic_hit: false,
            utf8: Utf8State::default(),
            saw_nul: false,
            bom_held: 0,
            lead: [0; LEAD_LEN],
            lead_len: 0,
        }
    }
}

impl Sniffer {
    pub fn new() -> Self {
        Sniffer::default()
    }

    /// Feeds the next chunk. O(chunk) time, O(1) memory; chunks may split
    /// multibyte characters anywhere.
    pub fn update(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let take = (HEAD_LEN - self.head_len).min(chunk.len());
        if take > 0 {
            if let (Some(dst), Some(src)) = (
                self.head.get_mut(self.head_len..self.head_len + take),
                chunk.get(..take),
            ) {
                dst.copy_from_slice(src);
                self.head_len += take;
            }
            if !self.magic_hit {
                self.magic_hit =
                    matches!(classify(self.head()), Magic::Type(_) | Magic::Executable);
            }
        }
        if !self.magic_hit {
            self.saw_nul = self.saw_nul || chunk.contains(&0);
            self.utf8.feed(chunk);
            self.track_lead(chunk);
        }
        self.total = self.total.saturating_add(chunk.len() as u64);
    }

    /// Bytes of the head seen so far (at most [`HEAD_LEN`]).
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Bytes fed so far.
    pub fn total_len(&self) -> u64 {
        self.total
    }

    /// Can be called as soon as `head_len() >= 512` or at the end: early
    /// rejection of a binary blob lets the server stop reading an upload it
    /// will refuse anyway. A `Some` is final: [`Sniffer::finish`] returns the
    /// same answer whatever follows. `None` means wait for the end (text and
    /// JSON are only accepted once every byte is known to be valid).
    pub fn early_verdict(&self) -> Option<Result<EvidenceType, SniffError>> {
        match classify(self.head()) {
            Magic::Type(t) => return Some(Ok(t)),
            Magic::Executable => return Some(Err(unsupported(EXECUTABLE))),
            Magic::Partial => return None,
            Magic::None => {}
        }
        if (1..3).contains(&self.bom_held) {
            return None;
        }
        match markup(self.lead(), true) {
            Markup::Yes(detail) => return Some(Err(unsupported(detail))),
            Markup::Undecided => return None,
            Markup::No => {}
        }
        // The rejection's wording depends on the head, so wait until it is final.
        if self.head_len >= HEAD_LEN && (self.saw_nul || self.utf8.bad) {
            return Some(Err(unsupported(text_rejection(self.head()))));
        }
        None
    }

    /// The verdict once every chunk has been fed.
    pub fn finish(self) -> Result<EvidenceType, SniffError> {
        if self.total == 0 {
            return Err(SniffError::Empty);
        }
        match classify(self.head()) {
            Magic::Type(t) => return Ok(t),
            Magic::Executable => return Err(unsupported(EXECUTABLE)),
            Magic::Partial | Magic::None => {}
        }
        let lead = self.lead();
        if let Markup::Yes(detail) = markup(lead, false) {
            return Err(unsupported(detail));
        }
        if self.saw_nul || !self.utf8.complete() {
            return Err(unsupported(text_rejection(self.head())));
        }
        Ok(text_type(lead))
    }

    fn head(&self) -> &[u8] {
        self.head.get(..self.head_len).unwrap_or(&[])
    }

    /// The first bytes after the BOM and leading whitespace. A partially
    /// matched BOM counts as content until it completes.
    fn lead(&self) -> &[u8] {
        if (1..3).contains(&self.bom_held) {
            BOM.get(..usize::from(self.bom_held)).unwrap_or(&[])
        } else {
            self.lead.get(..self.lead_len).unwrap_or(&[])
        }
    }

    fn track_lead(&mut self, chunk: &[u8]) {
        for (i, &b) in chunk.iter().enumerate() {
            if self.lead_len == LEAD_LEN {
                return;
            }
            let offset = self.total.saturating_add(i as u64);
            if offset < 3
                && u64::from(self.bom_held) == offset
                && BOM.get(self.bom_held as usize) == Some(&b)
            {
                self.bom_held += 1;
                continue;
            }
            if (1..3).contains(&self.bom_held) {
                // Not a BOM after all: the held bytes are content.
                let held = usize::from(self.bom_held);
                self.bom_held = 0;
                for &h in BOM.get(..held).unwrap_or(&[]) {
                    self.push_lead(h);
                }
            }
            self.push_lead(b);
        }
    }

    fn push_lead(&mut self, b: u8) {
        if self.lead_len == 0 && b.is_ascii_whitespace() {
            return;
        }
        if let Some(slot) = self.lead.get_mut(self.lead_len) {
            *slot = b;
            self.lead_len += 1;
        }
    }
}

/// UTF-8 validation across chunk boundaries: how many continuation bytes the
/// current character still needs and the range the next one must fall in
/// (which rules out overlong forms, surrogates and code points past U+10FFFF).
#[derive(Clone, Copy, Debug)]
struct Utf8State {
    need: u8,
    lo: u8,
    hi: u8,
    bad: bool,
}

impl Default for Utf8State {
    fn default() -> Self {
        Utf8State {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
            bad: false,
        }
    }
}

impl Utf8State {
    fn feed(&mut self, mut bytes: &[u8]) {
        while self.need > 0 && !self.bad {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            self.step(b);
            bytes = rest;
        }
        if self.bad {
            return;
        }
        // Whole characters go through the standard library's fast validator.
        if let Err(e) = std::str::from_utf8(bytes) {
            if e.error_len().is_some() {
                self.bad = true;
            } else {
                for &b in bytes.get(e.valid_up_to()..).unwrap_or(&[]) {
                    self.step(b);
                }
            }
        }
    }

    fn step(&mut self, b: u8) {
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                self.bad = true;
            } else {
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
            }
            return;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => return,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xE1..=0xEF => (2, 0x80, 0xBF),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => {
                self.bad = true;
                return;
            }
        };
        self.need = need;
        self.lo = lo;
        self.hi = hi;
    }

    fn complete(&self) -> bool {
        !self.bad && self.need == 0
    }
}

enum Magic {
    Type(EvidenceType),
    Executable,
    /// The head is still a prefix of some magic number.
    Partial,
    None,
}

struct Signature {
    magic: &'static [u8],
    /// Byte positions that may hold anything (the RIFF chunk size).
    any: std::ops::Range<usize>,
    /// `None`: an executable.
    hit: Option<EvidenceType>,
}

const fn sig(magic: &'static [u8], hit: Option<EvidenceType>) -> Signature {
    Signature {
        magic,
        any: 0..0,
        hit,
    }
}

const SIGNATURES: [Signature; 13] = [
    sig(b"\x89PNG\r\n\x1a\n", Some(EvidenceType::Png)),
    sig(b"\xFF\xD8\xFF", Some(EvidenceType::Jpeg)),
    sig(b"GIF87a", Some(EvidenceType::Gif)),
    sig(b"GIF89a", Some(EvidenceType::Gif)),
    Signature {
        magic: b"RIFF\0\0\0\0WEBP",
        any: 4..8,
        hit: Some(EvidenceType::Webp),
    },
    sig(b"%PDF-", Some(EvidenceType::Pdf)),
    sig(b"PK\x03\x04", Some(EvidenceType::Zip)),
    // ELF and Mach-O (thin, both endiannesses and widths, and universal).
    // PE ("MZ") is valid ASCII, so it is only named when the file is not text.
    sig(b"\x7FELF", None),
    sig(b"\xFE\xED\xFA\xCE", None),
    sig(b"\xFE\xED\xFA\xCF", None),
    sig(b"\xCE\xFA\xED\xFE", None),
    sig(b"\xCF\xFA\xED\xFE", None),
    sig(b"\xCA\xFE\xBA\xBE", None),
];

fn classify(head: &[u8]) -> Magic {
    let mut partial = false;
    for sig in &SIGNATURES {
        let matches = head
            .iter()
            .zip(sig.magic)
            .enumerate()
            .all(|(i, (h, m))| sig.any.contains(&i) || h == m);
        if !matches {
            continue;
        }
        if head.len() < sig.magic.len() {
            partial = true;
            continue;
        }
        return match sig.hit {
            Some(t) => Magic::Type(t),
            None => Magic::Executable,
        };
    }
    if partial {
        Magic::Partial
    } else {
        Magic::None
    }
}

enum Markup {
    No,
    Yes(&'static str),
    /// More bytes are needed to decide, or to word the rejection.
    Undecided,
}

/// Starts whose rejection gets a more specific wording than "HTML".
const NAMED_MARKUP: [(&[u8], &str); 2] = [(b"<svg", SVG), (b"<?xml", XML)];

/// Whether text starting with `lead` looks like a tag a browser would render.
/// `more`: further bytes may still extend `lead`.
fn markup(lead: &[u8], more: bool) -> Markup {
    match lead {
        [] | [b'<'] if more => Markup::Undecided,
        [b'<', next, ..] if next.is_ascii_alphabetic() || matches!(next, b'!' | b'?' | b'/') => {
            for (start, detail) in NAMED_MARKUP {
                if starts_with_ignore_case(lead, start) {
                    return Markup::Yes(detail);
                }
                if more && lead.len() < start.len() && starts_with_ignore_case(start, lead) {
                    return Markup::Undecided;
                }
            }
            Markup::Yes(HTML)
        }
        _ => Markup::No,
    }
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Words the rejection of a file that is neither a known format nor clean
/// UTF-8 text, from its head so the wording does not depend on chunking.
fn text_rejection(head: &[u8]) -> &'static str {
    if head.starts_with(b"MZ") {
        return EXECUTABLE;
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return UTF16;
    }
    // Control characters are rare in text, even in a text file with a stray
    // NUL or a legacy encoding, and common in binary formats.
    let controls = head
        .iter()
        .filter(|&&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F))
        .count();
    if controls * 16 > head.len() {
        BINARY
    } else {
        NOT_UTF8
    }
}

/// JSON or plain text, for a file already known to be clean UTF-8. Chat
/// exports can start with `[` too (WhatsApp on iOS: `[12/03/2024, 10:15:32]`),
/// so a bracket alone is not enough: the lead must also be valid JSON so far.
fn text_type(lead: &[u8]) -> EvidenceType {
    if matches!(lead.first(), Some(b'{' | b'[')) && json_prefix_plausible(lead) {
        EvidenceType::Json
    } else {
        EvidenceType::Text
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    Colon,
    CommaOrClose,
    End,
}

enum Scan {
    Done(usize),
    Truncated,
    Bad,
}

/// Whether `s` is the beginning of some valid JSON text (running out of
/// input anywhere counts as plausible).
fn json_prefix_plausible(s: &[u8]) -> bool {
    let mut stack = [0u8; LEAD_LEN];
    let mut depth = 0usize;
    let mut want = Want::Value;
    let mut i = 0usize;
    while let Some(&b) = s.get(i) {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let close = match b {
            b']' => Some(b'['),
            b'}' => Some(b'{'),
            _ => None,
        };
        let scan = match (want, b) {
            (Want::ValueOrClose, b']') | (Want::KeyOrClose, b'}') | (Want::CommaOrClose, _)
                if close.is_some() =>
            {
                if depth == 0 || stack.get(depth - 1).copied() != close {
                    return false;
                }
                depth -= 1;
                Scan::Done(i + 1)
            }
            (Want::CommaOrClose, b',') => {
                want = if stack.get(depth.wrapping_sub(1)) == Some(&b'{') {
                    Want::Key
                } else {
                    Want::Value
                };
                i += 1;
                continue;
            }
            (Want::Colon, b':') => {
                want = Want::Value;
                i += 1;
                continue;
            }
            (Want::Key | Want::KeyOrClose, b'"') => {
                match scan_string(s, i + 1) {
                    Scan::Done(next) => i = next,
                    Scan::Truncated => return true,
                    Scan::Bad => return false,
                }
                want = Want::Colon;
                continue;
            }
            (Want::Value | Want::ValueOrClose, b'{' | b'[') => {
                let Some(slot) = stack.get_mut(depth) else {
                    return true;
                };
                *slot = b;
                depth += 1;
                want = if b == b'{' {
                    Want::KeyOrClose
                } else {
                    Want::ValueOrClose
                };
                i += 1;
                continue;
            }
            (Want::Value | Want::ValueOrClose, b'"') => scan_string(s, i + 1),
            (Want::Value | Want::ValueOrClose, b'-' | b'0'..=b'9') => scan_number(s, i),
            (Want::Value | Want::ValueOrClose, b't') => scan_literal(s, i, b"true"),
            (Want::Value | Want::ValueOrClose, b'f') => scan_literal(s, i, b"false"),
            (Want::Value | Want::ValueOrClose, b'n') => scan_literal(s, i, b"null"),
            _ => return false,
        };
        // A value (or a container) just ended.
        match scan {
            Scan::Done(next) => i = next,
            Scan::Truncated => return true,
            Scan::Bad => return false,
        }
        want = if depth == 0 {
            Want::End
        } else {
            Want::CommaOrClose
        };
    }
    true
}

fn scan_string(s: &[u8], mut i: usize) -> Scan {
    loop {
        match s.get(i) {
            None => return Scan::Truncated,
            Some(b'"') => return Scan::Done(i + 1),
            Some(b'\\') => match s.get(i + 1) {
                None => return Scan::Truncated,
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    for k in 2..6 {
                        match s.get(i + k) {
                            None => return Scan::Truncated,
                            Some(h) if h.is_ascii_hexdigit() => {}
                            Some(_) => return Scan::Bad,
                        }
                    }
                    i += 6;
                }
                Some(_) => return Scan::Bad,
            },
            Some(0x00..=0x1F) => return Scan::Bad,
            Some(_) => i += 1,
        }
    }
}

fn scan_number(s: &[u8], mut i: usize) -> Scan {
    #[derive(Clone, Copy)]
    enum N {
        Start,
        Sign,
        Zero,
        Int,
        Dot,
        Frac,
        Exp,
        ExpSign,
        ExpDigits,
    }
    let mut state = N::Start;
    loop {
        let Some(&b) = s.get(i) else {
            return Scan::Truncated;
        };
        let next = match (state, b) {
            (N::Start, b'-') => Some(N::Sign),
            (N::Start | N::Sign, b'0') => Some(N::Zero),
            (N::Start | N::Sign, b'1'..=b'9') => Some(N::Int),
            (N::Int, b'0'..=b'9') => Some(N::Int),
            (N::Zero | N::Int, b'.') => Some(N::Dot),
            (N::Dot | N::Frac, b'0'..=b'9') => Some(N::Frac),
            (N::Zero | N::Int | N::Frac, b'e' | b'E') => Some(N::Exp),
            (N::Exp, b'+' | b'-') => Some(N::ExpSign),
            (N::Exp | N::ExpSign | N::ExpDigits, b'0'..=b'9') => Some(N::ExpDigits),
            _ => None,
        };
        match next {
            Some(n) => {
                state = n;
                i += 1;
            }
            None => {
                return match state {
                    N::Zero | N::Int | N::Frac | N::ExpDigits => Scan::Done(i),
                    _ => Scan::Bad,
                }
            }
        }
    }
}

fn scan_literal(s: &[u8], i: usize, word: &[u8]) -> Scan {
    let rest = s.get(i..).unwrap_or(&[]);
    if rest.len() < word.len() {
        if word.starts_with(rest) {
            Scan::Truncated
        } else {
            Scan::Bad
        }
    } else if rest.starts_with(word) {
        Scan::Done(i + word.len())
    } else {
        Scan::Bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(data: &[u8]) -> Result<EvidenceType, SniffError> {
        let mut s = Sniffer::new();
        s.update(data);
        s.finish()
    }

    fn sniff_chunked(data: &[u8], chunk: usize) -> Result<EvidenceType, SniffError> {
        let mut s = Sniffer::new();
        for c in data.chunks(chunk.max(1)) {
            s.update(c);
        }
        s.finish()
    }

    fn rejected(detail: &'static str) -> Result<EvidenceType, SniffError> {
        Err(SniffError::Unsupported { detail })
    }

    /// The same rules applied to the whole buffer at once, without streaming.
    fn reference(data: &[u8]) -> Result<EvidenceType, SniffError> {
        if data.is_empty() {
            return Err(SniffError::Empty);
        }
        let head = &data[..data.len().min(HEAD_LEN)];
        match classify(head) {
            Magic::Type(t) => return Ok(t),
            Magic::Executable => return rejected(EXECUTABLE),
            _ => {}
        }
        let body = data.strip_prefix(&BOM).unwrap_or(data);
        let body = body.trim_ascii_start();
        let lead = &body[..body.len().min(LEAD_LEN)];
        if let Markup::Yes(detail) = markup(lead, false) {
            return rejected(detail);
        }
        if data.contains(&0) || std::str::from_utf8(data).is_err() {
            return rejected(text_rejection(head));
        }
        Ok(text_type(lead))
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn with_tail(magic: &[u8]) -> Vec<u8> {
        let mut v = magic.to_vec();
        v.extend_from_slice(&[0, 0xFF, 0xC3, 0x00, 0x28, b'<', b'h']);
        v.extend(std::iter::repeat_n(0xAB, 1000));
        v
    }

    #[test]
    fn each_magic_number_type_is_accepted_on_its_magic_alone() {
        let cases: [(&[u8], EvidenceType); 9] = [
            (b"\x89PNG\r\n\x1a\n", EvidenceType::Png),
            (b"\xFF\xD8\xFF\xE0", EvidenceType::Jpeg),
            (b"\xFF\xD8\xFF", EvidenceType::Jpeg),
            (b"GIF87a", EvidenceType::Gif),
            (b"GIF89a", EvidenceType::Gif),
            (b"RIFF\x24\x00\x00\x00WEBPVP8 ", EvidenceType::Webp),
            (b"RIFF\xFF\xFF\xFF\xFFWEBP", EvidenceType::Webp),
            (b"%PDF-1.7\n", EvidenceType::Pdf),
            (b"PK\x03\x04\x14\x00", EvidenceType::Zip),
        ];
        for (magic, expected) in cases {
            assert_eq!(sniff(magic), Ok(expected), "{magic:?}");
            // NUL bytes, invalid UTF-8 and markup after the magic do not matter.
            let data = with_tail(magic);
            assert_eq!(sniff(&data), Ok(expected), "{magic:?} + tail");
            for chunk in [1, 2, 3, 7, 511, 512, 513] {
                assert_eq!(
                    sniff_chunked(&data, chunk),
                    Ok(expected),
                    "{magic:?} / {chunk}"
                );
            }
        }
    }

    #[test]
    fn truncated_or_near_miss_magic_numbers_fall_back_to_the_text_rules() {
        assert_eq!(sniff(b"%PD"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"GIF88a is not a gif"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"PK and friends"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WAVEfmt "), rejected(BINARY));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a"), rejected(BINARY));
    }

    #[test]
    fn plain_utf8_text_is_text() {
        let export = "12/03/2024, 10:15 - Bob: send the seed phrase to support 🙏\n\
                      12/03/2024, 10:16 - Alice: Привет, 你好\r\n";
        assert_eq!(sniff(export.as_bytes()), Ok(EvidenceType::Text));
        assert_eq!(
            sniff(b"date,amount,tx\n2024-03-12,0.5,abc\n"),
            Ok(EvidenceType::Text)
        );
        assert_eq!(sniff(b"x"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b" \n\t "), Ok(EvidenceType::Text));
        assert_eq!(
            sniff(b"MZ is where the scammer said he lives"),
            Ok(EvidenceType::Text)
        );
    }

    #[test]
    fn multibyte_characters_split_at_every_offset_are_still_text() {
        for ch in ["é", "€", "😀", "\u{10FFFF}", "\u{FEFF}"] {
            let text = format!("ab{ch}cd{ch}");
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                for cut2 in cut..=bytes.len() {
                    let mut s = Sniffer::new();
                    s.update(&bytes[..cut]);
                    s.update(&bytes[cut..cut2]);
                    s.update(&bytes[cut2..]);
                    assert_eq!(s.finish(), Ok(EvidenceType::Text), "{ch} at {cut}/{cut2}");
                }
            }
            assert_eq!(
                sniff_chunked(bytes, 1),
                Ok(EvidenceType::Text),
                "{ch} bytewise"
            );
        }
    }

    #[test]
    fn a_utf8_bom_is_allowed_and_skipped() {
        assert_eq!(sniff(b"\xEF\xBB\xBFhello"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"\xEF\xBB\xBF"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"\xEF\xBB\xBF \n{\"a\": 1}"), Ok(EvidenceType::Json));
        assert_eq!(
            sniff_chunked(b"\xEF\xBB\xBF[1, 2]", 1),
            Ok(EvidenceType::Json)
        );
        // A character that merely starts like a BOM is content.
        assert_eq!(
            sniff_chunked("\u{FFFD}{}".as_bytes(), 1),
            Ok(EvidenceType::Text)
        );
    }

    #[test]
    fn json_objects_and_arrays_are_json() {
        let telegram = br#"{
 "name": "Support Team",
 "type": "personal_chat",
 "id": 123456,
 "messages": [
  {"id": 1, "type": "message", "date": "2024-03-12T10:15:32", "text": "hi"}
 ]
}"#;
        assert_eq!(sniff(telegram), Ok(EvidenceType::Json));
        assert_eq!(sniff(b"[]"), Ok(EvidenceType::Json));
        assert_eq!(
            sniff(b"\n  [1, -2.5e3, true, null, \"x\\u00e9\", {\"k\": []}]"),
            Ok(EvidenceType::Json)
        );
        assert_eq!(sniff(b"[{\"a\":"), Ok(EvidenceType::Json));
        assert_eq!(sniff_chunked(telegram, 5), Ok(EvidenceType::Json));
    }

    #[test]
    fn chat_logs_that_start_with_a_bracket_are_text_not_json() {
        let ios = "[12/03/2024, 10:15:32] Bob: I am from Binance support\n";
        assert_eq!(sniff(ios.as_bytes()), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"[2024-03-12 10:15] Bob: hi"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"{ note to self }"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"[01] first"), Ok(EvidenceType::Text));
        assert_eq!(sniff(b"[1] ]"), Ok(EvidenceType::Text));
    }

    #[test]
    fn html_is_rejected_whatever_it_is_named() {
        let pages: [&[u8]; 12] = [
            b"<!DOCTYPE html><html><body>hi",
            b"<!doctype html>",
            b"<html>",
            b"<HTML lang=en>",
            b"<head><script>alert(1)</script>",
            b"<body onload=x>",
            b"<script>alert(1)</script>",
            b"<iframe src=//evil>",
            b"<img src=x onerror=alert(1)>",
            b"<!-- comment -->",
            b"</p><script>",
            b"<a href=x>click</a>",
        ];
        for page in pages {
            assert_eq!(
                sniff(page),
                rejected(HTML),
                "{:?}",
                String::from_utf8_lossy(page)
            );
            let mut padded = b"\xEF\xBB\xBF \r\n\t".to_vec();
            padded.extend_from_slice(page);
            assert_eq!(sniff_chunked(&padded, 2), rejected(HTML), "padded {page:?}");
        }
        // Markup wins over other defects, so the answer never depends on chunking.
        assert_eq!(sniff(b"<html>\0\xFF"), rejected(HTML));
    }

    #[test]
    fn svg_and_xml_are_rejected_with_their_own_wording() {
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg'>"),
            rejected(SVG)
        );
        assert_eq!(sniff(b"  <SVG onload=alert(1)>"), rejected(SVG));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg>"), rejected(XML));
        assert_eq!(sniff(b"\xEF\xBB\xBF<?XML version=\"1.0\"?>"), rejected(XML));
        assert_eq!(sniff(b"<?php echo 1;"), rejected(HTML));
        assert_eq!(sniff(b"<sv"), rejected(HTML));
    }

    #[test]
    fn markup_after_whitespace_longer_than_the_head_is_still_rejected() {
        let mut data = vec![b' '; HEAD_LEN + 100];
        data.extend_from_slice(b"<html>");
        assert_eq!(sniff_chunked(&data, 64), rejected(HTML));
    }

    #[test]
    fn a_less_than_sign_that_cannot_open_a_tag_is_text() {
        for text in ["<3 you", "< 5 BTC", "<@bob> hi", "<", "<<", "<1>"] {
            assert_eq!(sniff(text.as_bytes()), Ok(EvidenceType::Text), "{text}");
        }
        assert_eq!(sniff(b"hello <html>"), Ok(EvidenceType::Text));
    }

    #[test]
    fn executables_are_rejected_as_executables() {
        let elf = b"\x7FELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3E\x00";
        let macho = b"\xCF\xFA\xED\xFE\x07\x00\x00\x01\x03\x00\x00\x00";
        let fat = b"\xCA\xFE\xBA\xBE\x00\x00\x00\x02";
        let pe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xFF\xFF\x00\x00";
        for exe in [&elf[..], macho, fat, pe] {
            assert_eq!(sniff(exe), rejected(EXECUTABLE), "{exe:?}");
        }
    }

    #[test]
    fn random_binary_is_rejected_as_unrecognised() {
        let mut rng = Lcg(7);
        let blob: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
        assert_eq!(sniff(&blob), rejected(BINARY));
        assert_eq!(sniff(b"\x1F\x8B\x08\x00\x00\x00\x00\x00"), rejected(BINARY));
        assert_eq!(sniff(b"\0"), rejected(BINARY));
    }

    #[test]
    fn invalid_utf8_is_rejected_even_at_the_very_end() {
        let mut text = "all good until the last byte ".repeat(30).into_bytes();
        for bad_end in [&b"\xC3"[..], b"\xE2\x82", b"\xF0\x9F\x98", b"\xFF", b"\x80"] {
            let mut data = text.clone();
            data.extend_from_slice(bad_end);
            assert_eq!(sniff(&data), rejected(NOT_UTF8), "{bad_end:?}");
            assert_eq!(
                sniff_chunked(&data, 1),
                rejected(NOT_UTF8),
                "{bad_end:?} bytewise"
            );
        }
        // Overlong forms, surrogates and code points past U+10FFFF, split across chunks.
        for bad in [
            &b"\xC0\xAF"[..],
            b"\xE0\x80\xAF",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
        ] {
            let mut data = b"ok ".to_vec();
            data.extend_from_slice(bad);
            data.extend_from_slice(b" ok");
            for chunk in 1..=4 {
                assert_eq!(
                    sniff_chunked(&data, chunk),
                    rejected(NOT_UTF8),
                    "{bad:?} / {chunk}"
                );
            }
        }
        text.extend_from_slice("Windows-1252 caf\u{e9}".as_bytes());
        text.push(0xE9);
        assert_eq!(sniff(&text), rejected(NOT_UTF8));
    }

    #[test]
    fn a_nul_byte_in_the_middle_of_text_is_rejected() {
        let mut data = "a perfectly normal chat line\n".repeat(20).into_bytes();
        data.insert(300, 0);
        assert_eq!(sniff(&data), rejected(NOT_UTF8));
        assert_eq!(sniff_chunked(&data, 7), rejected(NOT_UTF8));
        let mut late = "line\n".repeat(500).into_bytes();
        late.push(0);
        assert_eq!(sniff_chunked(&late, 100), rejected(NOT_UTF8));
    }

    #[test]
    fn utf16_text_is_rejected_with_a_hint() {
        assert_eq!(sniff(b"\xFF\xFEh\0i\0"), rejected(UTF16));
        assert_eq!(sniff(b"\xFE\xFF\0h\0i"), rejected(UTF16));
    }

    #[test]
    fn an_empty_upload_is_rejected() {
        assert_eq!(Sniffer::new().finish(), Err(SniffError::Empty));
        let mut s = Sniffer::new();
        s.update(&[]);
        s.update(b"");
        assert_eq!(s.early_verdict(), None);
        assert_eq!(s.finish(), Err(SniffError::Empty));
    }

    #[test]
    fn png_is_known_after_eight_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let mut s = Sniffer::new();
        for (i, &b) in png.iter().enumerate() {
            s.update(&[b]);
            let expected = if i + 1 >= 8 {
                Some(Ok(EvidenceType::Png))
            } else {
                None
            };
            assert_eq!(s.early_verdict(), expected, "after {} bytes", i + 1);
        }
        assert_eq!(s.head_len(), png.len());
        assert_eq!(s.total_len(), png.len() as u64);
        assert_eq!(s.finish(), Ok(EvidenceType::Png));
    }

    #[test]
    fn markup_is_rejected_from_the_head_without_waiting_for_the_end() {
        let mut s = Sniffer::new();
        s.update(b"\n  <!DOCTYPE ");
        assert_eq!(s.early_verdict(), Some(rejected(HTML)));
        let mut s = Sniffer::new();
        s.update(b"<sv");
        assert_eq!(s.early_verdict(), None, "could still be <svg");
        s.update(b"g>");
        assert_eq!(s.early_verdict(), Some(rejected(SVG)));
        let mut s = Sniffer::new();
        s.update(b"\xEF\xBB");
        assert_eq!(s.early_verdict(), None, "could still be a BOM");
    }

    #[test]
    fn text_stays_undecided_until_finish() {
        let mut s = Sniffer::new();
        let line = "12/03/2024, 10:15 - Bob: hello there\n".repeat(40);
        s.update(line.as_bytes());
        assert!(s.head_len() >= HEAD_LEN);
        assert_eq!(s.early_verdict(), None);
        s.update(b"{\"also\": \"fine\"}");
        assert_eq!(s.early_verdict(), None);
        assert_eq!(s.finish(), Ok(EvidenceType::Text));
    }

    #[test]
    fn binary_is_rejected_once_the_head_is_known() {
        let mut rng = Lcg(3);
        let mut blob: Vec<u8> = (0..HEAD_LEN + 10).map(|_| rng.next() as u8 | 1).collect();
        blob[20] = 0;
        let mut s = Sniffer::new();
        s.update(&blob[..HEAD_LEN - 1]);
        assert_eq!(s.early_verdict(), None, "wording waits for the full head");
        s.update(&blob[HEAD_LEN - 1..]);
        assert_eq!(s.early_verdict(), Some(rejected(BINARY)));
        assert_eq!(s.finish(), rejected(BINARY));
    }

    #[test]
    fn evidence_types_round_trip_through_names_and_serde() {
        for t in EvidenceType::ALL {
            assert_eq!(EvidenceType::parse(t.as_str()), Some(t));
            assert_eq!(EvidenceType::parse(&t.as_str().to_uppercase()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert!(!t.mime().is_empty());
        }
        assert_eq!(EvidenceType::parse("svg"), None);
        assert_eq!(EvidenceType::Text.mime(), "text/plain; charset=utf-8");
        assert_eq!(EvidenceType::Webp.mime(), "image/webp");
        let images: Vec<_> = EvidenceType::ALL
            .into_iter()
            .filter(|t| t.is_image())
            .collect();
        assert_eq!(
            images,
            [
                EvidenceType::Png,
                EvidenceType::Jpeg,
                EvidenceType::Gif,
                EvidenceType::Webp
            ]
        );
        assert_eq!(
            rejected(SVG).unwrap_err().to_string(),
            "unsupported evidence file: SVG is not accepted (it can carry script)"
        );
    }

    #[test]
    fn arbitrary_input_split_anywhere_never_panics_and_gives_the_whole_buffer_answer() {
        let starts: [&[u8]; 16] = [
            b"",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB",
            b"<",
            b"<s",
            b"<?x",
            b"{\"a\": [",
            b"[1",
            b"  ",
            b"\x89PNG\r\n\x1a",
            b"RIFF",
            b"MZ",
            b"\xFF\xFE",
            b"%PDF-",
            b"PK\x03",
            b"\x7FEL",
        ];
        let pieces: [&[u8]; 14] = [
            b"a",
            b" ",
            b"\n",
            b"{",
            b"<",
            b"\"",
            b"1",
            b"\0",
            b"\xFF",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\xF0\x9F",
            b"\xED\xA0\x80",
        ];
        let mut rng = Lcg(2024);
        let mut accepted = 0;
        for round in 0..3000 {
            let mut data = starts[rng.below(starts.len())].to_vec();
            let len = [0, 3, 40, 600, 1200][rng.below(5)];
            let binary_ratio = rng.below(4);
            while data.len() < len {
                if rng.below(100) < binary_ratio {
                    data.push(rng.next() as u8);
                } else {
                    data.extend_from_slice(pieces[rng.below(pieces.len())]);
                }
            }
            let expected = reference(&data);
            assert_eq!(sniff(&data), expected, "round {round}");
            accepted += usize::from(expected.is_ok());

            let mut s = Sniffer::new();
            let mut early = None;
            let mut at = 0;
            while at < data.len() {
                let max_chunk = if rng.below(2) == 0 { 8 } else { 700 };
                let end = (at + rng.below(max_chunk) + 1).min(data.len());
                s.update(&data[at..end]);
                s.update(&[]);
                at = end;
                if let Some(v) = s.early_verdict() {
                    if let Some(first) = &early {
                        assert_eq!(&v, first, "round {round}: early verdicts must not change");
                    }
                    early = Some(v);
                }
            }
            assert_eq!(s.total_len(), data.len() as u64);
            let chunked = s.finish();
            assert_eq!(
                chunked, expected,
                "round {round}: chunking changed the answer"
            );
            if let Some(v) = early {
                assert_eq!(
                    v, expected,
                    "round {round}: early verdict contradicted finish"
                );
            }
        }
        assert!(
            accepted > 300,
            "the generator should produce accepted files: {accepted}"
        );
    }
}
