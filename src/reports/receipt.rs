//! Report ids (what a victim quotes) and receipt secrets (what proves they filed it).

use base64::Engine as _;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::tokens::input::CODE_ALPHABET;

const RECEIPT_PREFIX: &str = "tdr_";

/// `TD-XXXX-XXXX` in Crockford base32 (40 bits): easy to read out, not secret.
pub fn new_report_id() -> String {
    format!("TD-{}", random_pair())
}

/// `XXXX-XXXX`: eight random Crockford symbols (40 bits), for report ids and e-mail
/// confirmation codes.
pub fn random_pair() -> String {
    let mut rng = rand::rngs::OsRng;
    let mut sym = || CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char;
    let a: String = (0..4).map(|_| sym()).collect();
    let b: String = (0..4).map(|_| sym()).collect();
    format!("{a}-{b}")
}

/// Accepts `TD-XXXX-XXXX` in any case; returns the canonical form.
pub fn parse_report_id(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_uppercase();
    let rest = s.strip_prefix("TD-")?;
    let (a, b) = rest.split_once('-')?;
    let ok = |p: &str| p.len() == 4 && p.bytes().all(|c| CODE_ALPHABET.contains(&c));
    (ok(a) && ok(b)).then(|| format!("TD-{a}-{b}"))
}

/// A fresh 256-bit receipt secret, `tdr_` + base64url.
pub fn new_receipt() -> (Zeroizing<String>, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    (receipt_string(&raw), raw)
}

fn receipt_string(raw: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{RECEIPT_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    ))
}

/// What the database keeps of a receipt.
pub fn receipt_digest(receipt: &str) -> String {
    crate::staff::hex(&Sha256::digest(receipt.trim().as_bytes()))
}

/// Constant-time check of a presented receipt against the stored digest.
pub fn receipt_matches(presented: &str, stored_digest: &str) -> bool {
    use subtle::ConstantTimeEq;
    let d = receipt_digest(presented);
    d.len() == stored_digest.len() && bool::from(d.as_bytes().ct_eq(stored_digest.as_bytes()))
}

/// SHA-256 of an Idempotency-Key: the database never holds the key itself.
pub fn idempotency_digest(key: &str) -> String {
    crate::staff::hex(&Sha256::digest(key.as_bytes()))
}

fn pad(key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"trustdesk:idem-receipt\0");
    h.update(key.as_bytes());
    h.finalize().into()
}

/// Hides the raw receipt under a pad only the holder of the Idempotency-Key can rebuild, so a
/// replay can return the original answer without the database storing the receipt.
pub fn mask_receipt(raw: &[u8; 32], idem_key: &str) -> String {
    let p = pad(idem_key);
    let masked: Vec<u8> = raw.iter().zip(p.iter()).map(|(a, b)| a ^ b).collect();
    crate::staff::hex(&masked)
}

pub fn unmask_receipt(masked_hex: &str, idem_key: &str) -> Option<Zeroizing<String>> {
    if masked_hex.len() != 64 {
        return None;
    }
    let p = pad(idem_key);
    let mut raw = [0u8; 32];
    for (i, slot) in raw.iter_mut().enumerate() {
        let byte = u8::from_str_radix(masked_hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        *slot = byte ^ p[i];
    }
    Some(receipt_string(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_round_trip_and_reject_garbage() {
        let id = new_report_id();
        assert_eq!(parse_report_id(&id.to_lowercase()), Some(id.clone()));
        for bad in [
            "",
            "TD-",
            "TD-AAAA",
            "TD-AAAA-AAAU",
            "XX-AAAA-AAAA",
            "TD-AAAA-AAAA-AAAA",
            "TD-../-AAAA",
        ] {
            assert_eq!(parse_report_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn masked_receipt_is_recovered_only_with_the_same_key() {
        let (receipt, raw) = new_receipt();
        let masked = mask_receipt(&raw, "key-1");
        assert_eq!(
            unmask_receipt(&masked, "key-1").unwrap().as_str(),
            receipt.as_str()
        );
        assert_ne!(
            unmask_receipt(&masked, "key-2").unwrap().as_str(),
            receipt.as_str()
        );
        assert!(!masked.contains(&receipt[4..]));
    }

    #[test]
    fn receipts_match_their_digest_only() {
        let (r, _) = new_receipt();
        let d = receipt_digest(&r);
        assert!(receipt_matches(&r, &d));
        assert!(!receipt_matches("tdr_wrong", &d));
    }
}
