//! PASETO `v4.public` (Ed25519) signing and verification, written by hand.
//!
//! Only `v4.public` exists here: there is no version or purpose negotiation, so
//! a token claiming any other header is refused before any cryptography runs.
//! Decoding is strict (unpadded URL-safe base64, canonical trailing bits) so a
//! token has exactly one accepted spelling.
//!
//! Verification uses [`VerifyingKey::verify`] (RFC 8032 cofactorless check,
//! canonical `s`), not `verify_strict`. Both accept every official v4 vector.
//! `verify_strict` additionally rejects small-order public keys and
//! small-order `R`, at the price of decompressing `R` on every token. The
//! only exploitable case, a weak (small-order) public key, is refused once
//! when keys are parsed (`paserk::public_from_bytes` / `public_from_paserk`),
//! so keys handed to [`verify`] must come from there or from our own
//! [`SigningKey`]s.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use subtle::ConstantTimeEq;

/// The only header this module produces or accepts.
pub const HEADER: &str = "v4.public.";

/// Longest token accepted, checked before any decoding so hostile input costs
/// a length comparison, not an allocation.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Ed25519 signature length: the tail of the decoded payload.
const SIG_LEN: usize = 64;

/// Unpadded URL-safe base64 that rejects padding and non-zero trailing bits,
/// spelled out rather than relying on `URL_SAFE_NO_PAD`'s defaults.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Why a token was refused. Callers tell forgeries (`BadSignature`,
/// `FooterMismatch`) apart from garbage (`WrongHeader`, `Malformed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasetoError {
    /// Not a `v4.public.` token: another version or purpose (e.g. `v4.local.`,
    /// `v3.public.`) is never accepted, to rule out algorithm confusion.
    #[error("not a v4.public token")]
    WrongHeader,
    /// Structurally invalid: too long, bad or padded base64, extra or empty
    /// segments, or a payload too short to hold a signature.
    #[error("malformed token")]
    Malformed,
    /// Well-formed but the signature does not verify under this key, footer
    /// and implicit assertion: treat as forged.
    #[error("signature verification failed")]
    BadSignature,
    /// The footer differs from the one the caller expected (compared in
    /// constant time).
    #[error("footer does not match")]
    FooterMismatch,
}

/// Signs `message` into a `v4.public` token.
///
/// The footer is authenticated but not encrypted; it is omitted from the
/// token when empty, as the spec requires. `implicit` is authenticated but
/// never transmitted: the verifier must supply the same bytes. Tokens longer
/// than [`MAX_TOKEN_LEN`] can be produced but will not verify.
pub fn sign(key: &SigningKey, message: &[u8], footer: &[u8], implicit: &[u8]) -> String {
    let pae = pae(message, footer, implicit);
    let sig = key.sign(&pae).to_bytes();

    let mut body = Vec::with_capacity(message.len() + SIG_LEN);
    body.extend_from_slice(message);
    body.extend_from_slice(&sig);

    let mut token = String::with_capacity(
        HEADER.len() + encoded_len(body.len()) + 1 + encoded_len(footer.len()),
    );
    token.push_str(HEADER);
    B64.encode_string(&body, &mut token);
    if !footer.is_empty() {
        token.push('.');
        B64.encode_string(footer, &mut token);
    }
    token
}

/// A token taken apart but not yet verified: every slice borrows the caller's buffer, so
/// verifying costs no allocation. Nothing in it is trustworthy until [`Decoded::verify`] passes.
pub struct Decoded<'b> {
    /// The pre-authentication encoding the signature covers.
    pub pae: &'b [u8],
    pub message: &'b [u8],
    /// Empty when the token has no footer.
    pub footer: &'b [u8],
    pub signature: Signature,
}

impl Decoded<'_> {
    /// The one Ed25519 verification a token costs.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), PasetoError> {
        key.verify(self.pae, &self.signature)
            .map_err(|_| PasetoError::BadSignature)
    }
}

/// Bytes of buffer [`decode`] needs for `token` with an implicit assertion of `implicit_len`
/// bytes (an upper bound: base64 is sized by whole quads).
pub fn buffer_len(token: &str, implicit_len: usize) -> usize {
    4 * 8 + HEADER.len() + decode_room(token.len()) + implicit_len
}

/// Stack buffer size that holds any session token Trustdesk issues (about 400 bytes) with room
/// to spare; larger tokens fall back to one heap buffer.
pub const STACK_BUFFER: usize = 1536;

/// Splits and base64-decodes `token` straight into `buf`, laying the message, footer and
/// implicit assertion out as the PAE the signature covers: no copies, no allocation.
///
/// `buf` must hold [`buffer_len`] bytes; a shorter one (or a token over [`MAX_TOKEN_LEN`]) is
/// `Malformed`.
pub fn decode<'b>(
    token: &str,
    implicit: &[u8],
    buf: &'b mut [u8],
) -> Result<Decoded<'b>, PasetoError> {
    let (payload_b64, footer_b64) = split(token)?;
    let footer_b64 = footer_b64.unwrap_or("");
    let needed = 4 * 8
        + HEADER.len()
        + decode_room(payload_b64.len())
        + decode_room(footer_b64.len())
        + implicit.len();
    if buf.len() < needed {
        return Err(PasetoError::Malformed);
    }

    let mut at = 0;
    let put = |buf: &mut [u8], at: &mut usize, bytes: &[u8]| {
        buf[*at..*at + bytes.len()].copy_from_slice(bytes);
        *at += bytes.len();
    };
    put(buf, &mut at, &le64(4));
    put(buf, &mut at, &le64(HEADER.len()));
    put(buf, &mut at, HEADER.as_bytes());

    // The message length is only known after decoding: its slot is filled in afterwards.
    let m_len_at = at;
    let m_start = at + 8;
    let decoded = decode_b64(payload_b64, &mut buf[m_start..])?;
    let m_len = decoded.checked_sub(SIG_LEN).ok_or(PasetoError::Malformed)?;
    let m_end = m_start + m_len;
    let signature = Signature::from_bytes(
        buf[m_end..m_end + SIG_LEN]
            .try_into()
            .map_err(|_| PasetoError::Malformed)?,
    );
    buf[m_len_at..m_start].copy_from_slice(&le64(m_len));

    // The footer's length slot overwrites the (already copied) signature.
    let f_len_at = m_end;
    let f_start = f_len_at + 8;
    let f_len = decode_b64(footer_b64, &mut buf[f_start..])?;
    buf[f_len_at..f_start].copy_from_slice(&le64(f_len));
    let f_end = f_start + f_len;

    at = f_end;
    put(buf, &mut at, &le64(implicit.len()));
    put(buf, &mut at, implicit);

    let buf = &*buf;
    Ok(Decoded {
        pae: &buf[..at],
        message: &buf[m_start..m_end],
        footer: &buf[f_start..f_end],
        signature,
    })
}

/// Decodes strict unpadded base64url (as [`B64`]: no padding, no non-zero trailing bits) into
/// the front of `dst`, returning the length written. `base64_simd` rather than the `base64`
/// engine because every verification decodes a whole token: with AVX2 it takes about a quarter of
/// the instructions (callgrind: 4.5k -> 1.0k a token). A property test,
/// `the_vector_decoder_agrees_with_the_strict_engine`, holds both to the same answers.
fn decode_b64(src: &str, dst: &mut [u8]) -> Result<usize, PasetoError> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    let n = engine
        .decoded_length(src.as_bytes())
        .map_err(|_| PasetoError::Malformed)?;
    // `decode` panics on a short buffer: refuse instead (the callers size it, so never seen).
    let dst = dst.get_mut(..n).ok_or(PasetoError::Malformed)?;
    engine
        .decode(src.as_bytes(), base64_simd::Out::from_slice(dst))
        .map(|d| d.len())
        .map_err(|_| PasetoError::Malformed)
}

/// Verifies a `v4.public` token and returns its message.
///
/// With `Some(expected_footer)` the token's footer must equal it exactly (a
/// token without a footer matches only an empty expectation); with `None` the
/// footer is still covered by the signature but not compared.
pub fn verify(
    key: &VerifyingKey,
    token: &str,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Vec<u8>, PasetoError> {
    let mut buf = vec![0u8; buffer_len(token, implicit.len())];
    let d = decode(token, implicit, &mut buf)?;
    if let Some(expected) = expected_footer {
        // Length is not secret; `ct_eq` on slices of unequal length is false.
        if !bool::from(d.footer.ct_eq(expected)) {
            return Err(PasetoError::FooterMismatch);
        }
    }
    d.verify(key)?;
    Ok(d.message.to_vec())
}

/// Returns the decoded footer of an *unverified* token (empty if none).
///
/// For choosing the verification key by `kid` only: nothing in it is
/// authenticated until [`verify`] succeeds. The token must still be
/// well-formed, so garbage is rejected before any key lookup.
pub fn untrusted_footer(token: &str) -> Result<Vec<u8>, PasetoError> {
    let mut buf = vec![0u8; buffer_len(token, 0)];
    Ok(decode(token, &[], &mut buf)?.footer.to_vec())
}

/// Splits a token into its base64 payload and optional base64 footer after
/// checking length and header. An empty footer segment (`...payload.`) or a
/// third segment is rejected: `sign` never emits either.
fn split(token: &str) -> Result<(&str, Option<&str>), PasetoError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(PasetoError::Malformed);
    }
    let rest = token.strip_prefix(HEADER).ok_or(PasetoError::WrongHeader)?;
    // `memchr` rather than `split_once`: the scan covers the whole payload of every token.
    match memchr::memchr(b'.', rest.as_bytes()) {
        None => Ok((rest, None)),
        Some(dot) => {
            // An ASCII dot is a char boundary on both sides.
            let (payload, footer) = (&rest[..dot], &rest[dot + 1..]);
            if footer.is_empty() || memchr::memchr(b'.', footer.as_bytes()).is_some() {
                Err(PasetoError::Malformed)
            } else {
                Ok((payload, Some(footer)))
            }
        }
    }
}

/// Pre-authentication encoding of the four `v4.public` pieces, built into a
/// single exactly-sized buffer.
fn pae(message: &[u8], footer: &[u8], implicit: &[u8]) -> Vec<u8> {
    let pieces: [&[u8]; 4] = [HEADER.as_bytes(), message, footer, implicit];
    let len = 8 + pieces.iter().map(|p| 8 + p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// PAE's LE64: little-endian with the top bit cleared, so the encoding is
/// unambiguous for implementations with signed 64-bit integers.
fn le64(n: usize) -> [u8; 8] {
    ((n as u64) & (u64::MAX >> 1)).to_le_bytes()
}

/// Unpadded base64 length of `n` bytes.
fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// The room `decode_vec` grows the buffer by before trimming (whole quads),
/// so a buffer reserved with it never reallocates.
const fn decode_room(encoded: usize) -> usize {
    encoded.div_ceil(4) * 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// Rebuilds a token from raw parts, bypassing `sign`.
    fn assemble(body: &[u8], footer: Option<&[u8]>) -> String {
        let mut t = format!("{HEADER}{}", B64.encode(body));
        if let Some(f) = footer {
            t.push('.');
            t.push_str(&B64.encode(f));
        }
        t
    }

    fn decode_body(token: &str) -> Vec<u8> {
        let rest = &token[HEADER.len()..];
        let payload = rest.split('.').next().unwrap_or_default();
        B64.decode(payload).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_and_returns_the_message() {
        let sk = key(1);
        let t = sign(&sk, b"hello", b"kid", b"ia");
        assert!(t.starts_with(HEADER));
        let m = verify(&sk.verifying_key(), &t, Some(b"kid"), b"ia").unwrap();
        assert_eq!(m, b"hello");
        assert_eq!(
            verify(&sk.verifying_key(), &t, None, b"ia").unwrap(),
            b"hello"
        );
    }

    #[test]
    fn an_empty_footer_is_omitted_and_an_empty_message_still_works() {
        let sk = key(2);
        let t = sign(&sk, b"", b"", b"");
        assert_eq!(t.matches('.').count(), 2);
        assert_eq!(untrusted_footer(&t).unwrap(), b"");
        assert_eq!(
            verify(&sk.verifying_key(), &t, Some(b""), b"").unwrap(),
            b""
        );
    }

    #[test]
    fn a_tampered_payload_is_a_bad_signature() {
        let sk = key(3);
        let t = sign(&sk, b"amount=10", b"f", b"");
        let mut body = decode_body(&t);
        body[7] = b'9';
        let forged = assemble(&body, Some(b"f"));
        assert_eq!(
            verify(&sk.verifying_key(), &forged, Some(b"f"), b""),
            Err(PasetoError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_signature_is_a_bad_signature() {
        let sk = key(3);
        let t = sign(&sk, b"msg", b"", b"");
        let mut body = decode_body(&t);
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(
            verify(&sk.verifying_key(), &assemble(&body, None), None, b""),
            Err(PasetoError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_footer_fails_with_or_without_an_expected_footer() {
        let sk = key(4);
        let t = sign(&sk, b"msg", b"kid-a", b"");
        let forged = assemble(&decode_body(&t), Some(b"kid-b"));
        let vk = sk.verifying_key();
        assert_eq!(
            verify(&vk, &forged, None, b""),
            Err(PasetoError::BadSignature)
        );
        assert_eq!(
            verify(&vk, &forged, Some(b"kid-b"), b""),
            Err(PasetoError::BadSignature)
        );
        assert_eq!(
            verify(&vk, &forged, Some(b"kid-a"), b""),
            Err(PasetoError::FooterMismatch)
        );
    }

    #[test]
    fn a_dropped_footer_is_a_bad_signature() {
        let sk = key(4);
        let t = sign(&sk, b"msg", b"kid", b"");
        let stripped = assemble(&decode_body(&t), None);
        assert_eq!(
            verify(&sk.verifying_key(), &stripped, None, b""),
            Err(PasetoError::BadSignature)
        );
    }

    #[test]
    fn an_unexpected_footer_is_a_footer_mismatch() {
        let sk = key(5);
        let vk = sk.verifying_key();
        let with = sign(&sk, b"msg", b"kid", b"");
        let without = sign(&sk, b"msg", b"", b"");
        assert_eq!(
            verify(&vk, &with, Some(b"ki"), b""),
            Err(PasetoError::FooterMismatch)
        );
        assert_eq!(
            verify(&vk, &with, Some(b""), b""),
            Err(PasetoError::FooterMismatch)
        );
        assert_eq!(
            verify(&vk, &without, Some(b"kid"), b""),
            Err(PasetoError::FooterMismatch)
        );
    }

    #[test]
    fn the_wrong_key_is_a_bad_signature() {
        let t = sign(&key(6), b"msg", b"", b"");
        assert_eq!(
            verify(&key(7).verifying_key(), &t, None, b""),
            Err(PasetoError::BadSignature)
        );
    }

    #[test]
    fn the_wrong_implicit_assertion_is_a_bad_signature() {
        let sk = key(8);
        let t = sign(&sk, b"msg", b"", b"tenant-1");
        let vk = sk.verifying_key();
        assert_eq!(
            verify(&vk, &t, None, b"tenant-2"),
            Err(PasetoError::BadSignature)
        );
        assert_eq!(verify(&vk, &t, None, b""), Err(PasetoError::BadSignature));
    }

    #[test]
    fn pieces_cannot_be_shifted_between_message_footer_and_assertion() {
        // PAE length prefixes keep ("ab", "c") distinct from ("a", "bc").
        let sk = key(9);
        let t = sign(&sk, b"ab", b"c", b"");
        let shifted = assemble(
            &[b"a".as_slice(), &decode_body(&t)[2..]].concat(),
            Some(b"bc"),
        );
        assert_eq!(
            verify(&sk.verifying_key(), &shifted, None, b""),
            Err(PasetoError::BadSignature)
        );
    }

    #[test]
    fn other_versions_and_purposes_are_a_wrong_header() {
        let sk = key(10);
        let t = sign(&sk, b"msg", b"kid", b"");
        let body = &t[HEADER.len()..];
        for header in [
            "v4.local.",
            "v3.public.",
            "v2.public.",
            "V4.PUBLIC.",
            "v4.public",
            "",
        ] {
            let other = format!("{header}{body}");
            assert_eq!(
                verify(&sk.verifying_key(), &other, None, b""),
                Err(PasetoError::WrongHeader),
                "{header}"
            );
            assert_eq!(untrusted_footer(&other), Err(PasetoError::WrongHeader));
        }
    }

    #[test]
    fn padding_is_rejected() {
        let sk = key(11);
        // 5-byte message + 64-byte signature = 69 bytes: not a multiple of 3.
        let t = sign(&sk, b"hello", b"kid", b"");
        let (payload, footer) = t[HEADER.len()..].split_once('.').unwrap();
        let padded_payload = format!("{HEADER}{payload}=.{footer}");
        let padded_footer = format!("{HEADER}{payload}.{footer}=");
        for bad in [padded_payload, padded_footer] {
            assert_eq!(
                verify(&sk.verifying_key(), &bad, None, b""),
                Err(PasetoError::Malformed)
            );
            assert_eq!(untrusted_footer(&bad), Err(PasetoError::Malformed));
        }
    }

    #[test]
    fn standard_alphabet_and_non_canonical_trailing_bits_are_rejected() {
        let sk = key(12);
        let t = sign(&sk, b"hello", b"", b"");
        // 69 bytes encode to 92 chars, a whole number of quads: append a byte
        // so the final char carries unused bits, then set one of them.
        let mut body = decode_body(&t);
        body.push(0);
        let canonical = assemble(&body, None);
        let mut chars: Vec<u8> = canonical.into_bytes();
        let last = chars.len() - 1;
        assert_eq!(chars[last], b'A');
        chars[last] = b'B';
        let non_canonical = String::from_utf8(chars).unwrap();
        assert_eq!(
            untrusted_footer(&non_canonical),
            Err(PasetoError::Malformed)
        );

        let std_alphabet = t.replace('_', "/").replace('-', "+");
        if std_alphabet != t {
            assert_eq!(untrusted_footer(&std_alphabet), Err(PasetoError::Malformed));
        }
        let with_space = format!("{t} ");
        assert_eq!(untrusted_footer(&with_space), Err(PasetoError::Malformed));
    }

    #[test]
    fn a_payload_shorter_than_a_signature_is_malformed() {
        let vk = key(13).verifying_key();
        for n in [0, 1, 63] {
            let t = assemble(&vec![7u8; n], None);
            assert_eq!(
                verify(&vk, &t, None, b""),
                Err(PasetoError::Malformed),
                "{n}"
            );
            assert_eq!(untrusted_footer(&t), Err(PasetoError::Malformed), "{n}");
        }
        // Exactly 64 bytes is structurally fine (empty message), just unsigned.
        let t = assemble(&[7u8; 64], None);
        assert_eq!(verify(&vk, &t, None, b""), Err(PasetoError::BadSignature));
    }

    #[test]
    fn empty_or_extra_segments_are_malformed() {
        let sk = key(14);
        let t = sign(&sk, b"msg", b"kid", b"");
        let no_footer = sign(&sk, b"msg", b"", b"");
        for bad in [
            format!("{no_footer}."),
            format!("{t}.eA"),
            format!("{t}."),
            HEADER.to_string(),
        ] {
            assert_eq!(
                verify(&sk.verifying_key(), &bad, None, b""),
                Err(PasetoError::Malformed),
                "{bad}"
            );
            assert_eq!(untrusted_footer(&bad), Err(PasetoError::Malformed), "{bad}");
        }
    }

    #[test]
    fn tokens_over_the_length_limit_are_rejected_before_decoding() {
        let sk = key(15);
        let vk = sk.verifying_key();
        // Largest message whose token fits exactly.
        let fits = (MAX_TOKEN_LEN - HEADER.len()) / 4 * 3 - SIG_LEN;
        let t = sign(&sk, &vec![b'x'; fits], b"", b"");
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert_eq!(verify(&vk, &t, None, b"").unwrap().len(), fits);
        assert!(untrusted_footer(&t).is_ok());

        let t = sign(&sk, &vec![b'x'; fits + 3], b"", b"");
        assert!(t.len() > MAX_TOKEN_LEN);
        assert_eq!(verify(&vk, &t, None, b""), Err(PasetoError::Malformed));
        assert_eq!(untrusted_footer(&t), Err(PasetoError::Malformed));

        let huge = "v4.local.".to_string() + &"A".repeat(MAX_TOKEN_LEN);
        assert_eq!(untrusted_footer(&huge), Err(PasetoError::Malformed));
    }

    #[test]
    fn untrusted_footer_returns_the_decoded_footer() {
        let sk = key(16);
        let footer = br#"{"kid":"k4.pid.abc"}"#;
        let t = sign(&sk, b"msg", footer, b"");
        assert_eq!(untrusted_footer(&t).unwrap(), footer);
    }

    #[test]
    fn decode_lays_out_exactly_the_pae_in_a_stack_buffer() {
        let sk = key(17);
        let t = sign(&sk, b"message", b"footer", b"implicit");
        let mut buf = [0u8; STACK_BUFFER];
        let d = decode(&t, b"implicit", &mut buf).unwrap();
        assert_eq!(d.pae, pae(b"message", b"footer", b"implicit"));
        assert_eq!((d.message, d.footer), (&b"message"[..], &b"footer"[..]));
        assert!(d.verify(&sk.verifying_key()).is_ok());
        assert!(buffer_len(&t, 8) >= d.pae.len());
        // A buffer too small is refused, never overrun.
        let mut small = [0u8; 64];
        assert_eq!(
            decode(&t, b"implicit", &mut small).err(),
            Some(PasetoError::Malformed)
        );
    }

    #[test]
    fn pae_matches_the_spec_examples() {
        fn pae_n(pieces: &[&[u8]]) -> Vec<u8> {
            let mut out = le64(pieces.len()).to_vec();
            for p in pieces {
                out.extend_from_slice(&le64(p.len()));
                out.extend_from_slice(p);
            }
            out
        }
        assert_eq!(pae_n(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(
            pae_n(&[b"test"]),
            b"\x01\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0test".to_vec()
        );
        assert_eq!(
            pae(b"m", b"f", b"i"),
            pae_n(&[HEADER.as_bytes(), b"m", b"f", b"i"])
        );
        assert_eq!(le64(usize::MAX)[7], 0x7f);
    }

    #[test]
    fn mangled_tokens_never_panic_and_never_verify() {
        let sk = key(18);
        let vk = sk.verifying_key();
        let t = sign(&sk, b"{\"sub\":\"agent\"}", b"{\"kid\":\"x\"}", b"");
        let bytes = t.as_bytes();
        for cut in 0..bytes.len() {
            let s = &t[..cut];
            assert!(verify(&vk, s, None, b"").is_err());
            let _ = untrusted_footer(s);
        }
        for i in 0..bytes.len() {
            for c in [b'A', b'_', b'-', b'=', b'.', b'+', b'/', b' '] {
                if bytes[i] == c {
                    continue;
                }
                let mut m = bytes.to_vec();
                m[i] = c;
                let s = String::from_utf8(m).unwrap();
                assert!(verify(&vk, &s, None, b"").is_err(), "{s}");
                let _ = untrusted_footer(&s);
            }
        }
        // Multi-byte UTF-8 must not trip any slicing.
        assert!(verify(&vk, "v4.public.é.ü", None, b"").is_err());
        assert!(untrusted_footer("v4.publié").is_err());
    }

    proptest::proptest! {
        /// The token decoder (`base64_simd`) accepts and refuses exactly what the strict `B64`
        /// engine does, with the same bytes: arbitrary strings over the alphabet and its usual
        /// strangers (padding, the standard alphabet's `+/`, dots, spaces, non-ASCII), and
        /// encodings with their last symbol changed (non-zero trailing bits).
        #[test]
        fn the_vector_decoder_agrees_with_the_strict_engine(
            junk in "[A-Za-z0-9_=+/. \\-é]{0,80}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            last in 0u8..64,
        ) {
            let mut encoded = B64.encode(&bytes).into_bytes();
            if let Some(l) = encoded.last_mut() {
                *l = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last as usize];
            }
            let tweaked = String::from_utf8(encoded).unwrap();
            for input in [junk.as_str(), B64.encode(&bytes).as_str(), tweaked.as_str()] {
                let mut buf = vec![0u8; decode_room(input.len())];
                let ours = decode_b64(input, &mut buf).map(|n| buf[..n].to_vec());
                let strict = B64.decode(input).map_err(|_| PasetoError::Malformed);
                proptest::prop_assert_eq!(ours, strict, "input {:?}", input);
            }
        }
    }
}
