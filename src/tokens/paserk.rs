//! PASERK `k4.public`, `k4.secret` and `k4.pid`: the text forms of our
//! Ed25519 keys and their key ids, written by hand.
//!
//! Only version 4 exists here: a `k3.*` (or any other) header is refused, so a
//! key can never be reinterpreted under another algorithm.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use blake2::digest::consts::U33;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{SigningKey, VerifyingKey, PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Header of a public key PASERK.
pub const PUBLIC_HEADER: &str = "k4.public.";
/// Header of a secret key PASERK.
pub const SECRET_HEADER: &str = "k4.secret.";
/// Header of a public key id.
pub const PID_HEADER: &str = "k4.pid.";

/// `seed || public key`, the libsodium layout the spec serialises.
const SECRET_BYTES: usize = SECRET_KEY_LENGTH + PUBLIC_KEY_LENGTH;
/// Unpadded base64 length of a public key (32 bytes).
const PUBLIC_B64_LEN: usize = 43;
/// Unpadded base64 length of a secret key (64 bytes).
const SECRET_B64_LEN: usize = 86;
/// Unpadded base64 length of a pid digest (33 bytes, chosen by the spec so
/// it encodes without a partial quad).
const PID_B64_LEN: usize = 44;

/// Unpadded URL-safe base64 with canonical trailing bits, as PASERK requires.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Why a key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaserkError {
    /// Not the expected `k4.public.` / `k4.secret.` header: other versions and
    /// types must never be accepted.
    #[error("not a k4 PASERK of the expected type")]
    WrongHeader,
    /// The key data is not strict unpadded URL-safe base64.
    #[error("malformed PASERK encoding")]
    Malformed,
    /// Wrong number of key bytes (e.g. a short key, or a key of another
    /// version such as a 33/49-byte P-384 blob).
    #[error("wrong key length")]
    WrongLength,
    /// 32 bytes that are not a valid Ed25519 point.
    #[error("not a valid Ed25519 public key")]
    InvalidKey,
    /// A small-order point: anyone could forge signatures that verify under
    /// it, so it is never a legitimate key.
    #[error("weak (small-order) Ed25519 public key")]
    WeakKey,
    /// The public half stored in a secret key is not the seed's own: a
    /// corrupted or spliced key that would sign under an unexpected identity.
    #[error("secret key does not match its embedded public key")]
    KeyMismatch,
}

/// `k4.public.<base64url(pk)>`.
pub fn public_to_paserk(key: &VerifyingKey) -> String {
    public_bytes_to_paserk(key.as_bytes())
}

/// `k4.public.` encoding of 32 raw bytes, whether or not they are a usable
/// key: PASERK is a pure encoding, and the official vectors include byte
/// strings that are not Ed25519 points. Only for encoding; parsing still
/// insists on a valid key.
pub fn public_bytes_to_paserk(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> String {
    let mut out = String::with_capacity(PUBLIC_HEADER.len() + PUBLIC_B64_LEN);
    out.push_str(PUBLIC_HEADER);
    B64.encode_string(bytes, &mut out);
    out
}

/// Parses a `k4.public.` PASERK.
pub fn public_from_paserk(paserk: &str) -> Result<VerifyingKey, PaserkError> {
    let data = paserk
        .strip_prefix(PUBLIC_HEADER)
        .ok_or(PaserkError::WrongHeader)?;
    if data.len() != PUBLIC_B64_LEN {
        return Err(PaserkError::WrongLength);
    }
    let mut raw = [0u8; PUBLIC_B64_LEN];
    let n = B64
        .decode_slice(data, &mut raw)
        .map_err(|_| PaserkError::Malformed)?;
    public_from_bytes(&raw[..n])
}

/// Builds a public key from exactly 32 raw bytes.
///
/// Small-order ("weak") points are refused: signatures under them can be
/// forged without any secret, and `paseto::verify` relies on this check
/// having been done once here instead of by `verify_strict` on every token.
pub fn public_from_bytes(bytes: &[u8]) -> Result<VerifyingKey, PaserkError> {
    let bytes: &[u8; PUBLIC_KEY_LENGTH] = bytes.try_into().map_err(|_| PaserkError::WrongLength)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| PaserkError::InvalidKey)?;
    if key.is_weak() {
        return Err(PaserkError::WeakKey);
    }
    Ok(key)
}

/// `k4.secret.<base64url(seed || pk)>`, zeroized on drop.
///
/// Encoded through a zeroized fixed buffer into a pre-sized string so no
/// unzeroized copy of the secret text is left behind by reallocation.
pub fn secret_to_paserk(key: &SigningKey) -> Zeroizing<String> {
    let bytes = Zeroizing::new(key.to_keypair_bytes());
    let mut encoded = Zeroizing::new([0u8; SECRET_B64_LEN]);
    let mut out = Zeroizing::new(String::with_capacity(SECRET_HEADER.len() + SECRET_B64_LEN));
    out.push_str(SECRET_HEADER);
    // The buffer is exactly the encoded length of 64 bytes, so this cannot
    // fail; on the impossible error the result is left unusably short.
    if let Ok(n) = B64.encode_slice(&bytes[..], &mut encoded[..]) {
        out.extend(encoded[..n].iter().map(|&b| char::from(b)));
    }
    debug_assert_eq!(out.len(), SECRET_HEADER.len() + SECRET_B64_LEN);
    out
}

/// Parses a `k4.secret.` PASERK, checking the embedded public key.
pub fn secret_from_paserk(paserk: &str) -> Result<SigningKey, PaserkError> {
    let data = paserk
        .strip_prefix(SECRET_HEADER)
        .ok_or(PaserkError::WrongHeader)?;
    if data.len() != SECRET_B64_LEN {
        return Err(PaserkError::WrongLength);
    }
    // Room for the decoder's whole-quad estimate (66 bytes).
    let mut raw = Zeroizing::new([0u8; SECRET_B64_LEN]);
    let n = B64
        .decode_slice(data, &mut raw[..])
        .map_err(|_| PaserkError::Malformed)?;
    secret_from_bytes(&raw[..n])
}

/// Builds a signing key from 64 raw bytes `seed || pk`; `pk` must be the
/// seed's own public key.
pub fn secret_from_bytes(bytes: &[u8]) -> Result<SigningKey, PaserkError> {
    if bytes.len() != SECRET_BYTES {
        return Err(PaserkError::WrongLength);
    }
    let (seed, public) = bytes.split_at(SECRET_KEY_LENGTH);
    let mut seed_arr = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
    seed_arr.copy_from_slice(seed);
    let key = SigningKey::from_bytes(&seed_arr);
    if !bool::from(key.verifying_key().as_bytes().ct_eq(public)) {
        return Err(PaserkError::KeyMismatch);
    }
    Ok(key)
}

/// `k4.pid.<base64url(BLAKE2b-264("k4.pid." || k4.public PASERK))>`: a
/// stable, collision-resistant key id that reveals nothing beyond the
/// (already public) key.
pub fn pid(key: &VerifyingKey) -> String {
    pid_of_public_bytes(key.as_bytes())
}

/// [`pid`] of 32 raw public key bytes, valid point or not (see
/// [`public_bytes_to_paserk`]).
pub fn pid_of_public_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> String {
    let digest = Blake2b::<U33>::new()
        .chain_update(PID_HEADER.as_bytes())
        .chain_update(public_bytes_to_paserk(bytes).as_bytes())
        .finalize();
    let mut out = String::with_capacity(PID_HEADER.len() + PID_B64_LEN);
    out.push_str(PID_HEADER);
    B64.encode_string(digest, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_public_key_round_trips() {
        let vk = key(1).verifying_key();
        let text = public_to_paserk(&vk);
        assert!(text.starts_with(PUBLIC_HEADER));
        assert_eq!(text.len(), PUBLIC_HEADER.len() + PUBLIC_B64_LEN);
        assert_eq!(public_from_paserk(&text).unwrap(), vk);
    }

    #[test]
    fn a_secret_key_round_trips() {
        let sk = key(2);
        let text = secret_to_paserk(&sk);
        assert!(text.starts_with(SECRET_HEADER));
        assert_eq!(text.len(), SECRET_HEADER.len() + SECRET_B64_LEN);
        let back = secret_from_paserk(&text).unwrap();
        assert_eq!(back.to_bytes(), sk.to_bytes());
    }

    #[test]
    fn headers_of_other_versions_and_types_are_rejected() {
        let vk = key(3).verifying_key();
        let public = public_to_paserk(&vk);
        let secret = secret_to_paserk(&key(3));
        let p_data = &public[PUBLIC_HEADER.len()..];
        let s_data = &secret[SECRET_HEADER.len()..];
        for h in [
            "k3.public.",
            "k2.public.",
            "k4.secret.",
            "k4.local.",
            "K4.PUBLIC.",
            "",
        ] {
            assert_eq!(
                public_from_paserk(&format!("{h}{p_data}")),
                Err(PaserkError::WrongHeader),
                "{h}"
            );
        }
        for h in ["k3.secret.", "k4.public.", "k4.secret-wrap.pie.", ""] {
            assert_eq!(
                secret_from_paserk(&format!("{h}{s_data}")).err(),
                Some(PaserkError::WrongHeader),
                "{h}"
            );
        }
        assert_eq!(public_from_paserk(&pid(&vk)), Err(PaserkError::WrongHeader));
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        for n in [0, 31, 33, 48, 49, 64] {
            assert_eq!(
                public_from_bytes(&vec![1u8; n]),
                Err(PaserkError::WrongLength),
                "{n}"
            );
        }
        for n in [0, 31, 32, 48, 63, 65, 96] {
            assert_eq!(
                secret_from_bytes(&vec![1u8; n]).err(),
                Some(PaserkError::WrongLength),
                "{n}"
            );
        }
        let short = format!("{PUBLIC_HEADER}{}", B64.encode([1u8; 31]));
        assert_eq!(public_from_paserk(&short), Err(PaserkError::WrongLength));
        let long = format!("{SECRET_HEADER}{}", B64.encode([1u8; 65]));
        assert_eq!(
            secret_from_paserk(&long).err(),
            Some(PaserkError::WrongLength)
        );
    }

    #[test]
    fn bad_base64_is_malformed() {
        let good = public_to_paserk(&key(4).verifying_key());
        let data = &good[PUBLIC_HEADER.len()..];
        let bad_char = format!("{PUBLIC_HEADER}{}+", &data[..42]);
        assert_eq!(public_from_paserk(&bad_char), Err(PaserkError::Malformed));
        let padded = format!("{PUBLIC_HEADER}{}=", &data[..42]);
        assert_eq!(public_from_paserk(&padded), Err(PaserkError::Malformed));
        // 43 chars carry 258 bits for 256: the 2 spare bits must be zero.
        let nc = format!("{PUBLIC_HEADER}{}B", &B64.encode([0u8; 32])[..42]);
        assert_eq!(public_from_paserk(&nc), Err(PaserkError::Malformed));
    }

    #[test]
    fn weak_and_off_curve_public_keys_are_rejected() {
        // All zeros decodes to a point of order 4.
        let zero = [0u8; 32];
        assert_eq!(public_from_bytes(&zero), Err(PaserkError::WeakKey));
        assert_eq!(
            public_from_paserk(&public_bytes_to_paserk(&zero)),
            Err(PaserkError::WeakKey)
        );
        // y = 2 has no x on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(public_from_bytes(&off_curve), Err(PaserkError::InvalidKey));
    }

    #[test]
    fn byte_level_encoders_agree_with_the_key_level_ones() {
        let vk = key(9).verifying_key();
        assert_eq!(public_bytes_to_paserk(vk.as_bytes()), public_to_paserk(&vk));
        assert_eq!(pid_of_public_bytes(vk.as_bytes()), pid(&vk));
    }

    #[test]
    fn a_secret_key_with_a_foreign_public_half_is_rejected() {
        let mut bytes = key(5).to_keypair_bytes();
        bytes[32..].copy_from_slice(key(6).verifying_key().as_bytes());
        assert_eq!(
            secret_from_bytes(&bytes).err(),
            Some(PaserkError::KeyMismatch)
        );
        let text = format!("{SECRET_HEADER}{}", B64.encode(bytes));
        assert_eq!(
            secret_from_paserk(&text).err(),
            Some(PaserkError::KeyMismatch)
        );
    }

    #[test]
    fn pid_is_stable_and_distinguishes_keys() {
        let a = pid(&key(7).verifying_key());
        let b = pid(&key(8).verifying_key());
        assert!(a.starts_with(PID_HEADER));
        assert_eq!(a.len(), PID_HEADER.len() + PID_B64_LEN);
        assert_eq!(a, pid(&key(7).verifying_key()));
        assert_ne!(a, b);
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "k4.public.",
            "k4.secret.",
            "k4.public.é",
            "k4.secret.\u{1F600}",
            "k4.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(public_from_paserk(s).is_err(), "{s}");
            assert!(secret_from_paserk(s).is_err(), "{s}");
        }
        // A multi-byte char making the data exactly the expected byte length.
        let s = format!("{PUBLIC_HEADER}{}é", "A".repeat(PUBLIC_B64_LEN - 2));
        assert_eq!(public_from_paserk(&s), Err(PaserkError::Malformed));
    }
}
