//! The victim's notification address and anti-phishing phrase, encrypted at rest
//! (XChaCha20-Poly1305, random 192-bit nonces) with a key kept beside the signing keys, so a
//! database dump or backup alone reveals neither.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

/// Binds ciphertexts to their purpose: a sealed contact cannot be passed off as anything else.
const AAD: &[u8] = b"trustdesk-contact-v1";
const FILE: &str = "contact.key";

pub struct ContactCipher {
    aead: XChaCha20Poly1305,
}

impl ContactCipher {
    /// Reads `dir/contact.key`, creating it (32 random bytes, mode 0600) on first run. Every
    /// instance sharing a database must share this file (see docs/operations.md).
    pub fn load_or_create(dir: &Path) -> std::io::Result<ContactCipher> {
        let path: PathBuf = dir.join(FILE);
        let key = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let mut raw = Zeroizing::new(vec![0u8; 32]);
                rand::rngs::OsRng.fill_bytes(&mut raw);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(&path)?;
                f.write_all(&raw)?;
                f.sync_all()?;
                raw
            }
            Err(e) => return Err(e),
        };
        if key.len() != 32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} must hold exactly 32 bytes", path.display()),
            ));
        }
        let aead = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad key"))?;
        Ok(ContactCipher { aead })
    }

    /// `base64url(nonce || ciphertext)`.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: AAD,
                },
            )
            // Encryption only fails for messages near 2^38 bytes; ours are bounded by validation.
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    }

    /// `None` if the value was not sealed with this key or was altered.
    pub fn open(&self, sealed: &str) -> Option<Zeroizing<String>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .ok()?;
        if raw.len() < 24 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(24);
        let pt = self
            .aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: AAD })
            .ok()?;
        String::from_utf8(pt).ok().map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_tampering_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let c = ContactCipher::load_or_create(dir.path()).unwrap();
        let sealed = c.seal("victim@example.com");
        assert!(!sealed.contains("victim"));
        assert_ne!(
            sealed,
            c.seal("victim@example.com"),
            "fresh nonce each time"
        );
        assert_eq!(c.open(&sealed).unwrap().as_str(), "victim@example.com");
        // The same key file gives the same cipher after a restart.
        let again = ContactCipher::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap().as_str(), "victim@example.com");
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&sealed)
            .unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert!(c.open(&tampered).is_none());
        let other = ContactCipher::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
