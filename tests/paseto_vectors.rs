//! Official PASETO v4 / PASERK k4 test vectors against our hand-written
//! implementation. The vectors are vendored under tests/vectors/ so the test
//! runs anywhere; when the project's shared/ copy sits beside the repo we also
//! check the vendored files have not drifted from it.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::Value;
use trustdesk::tokens::{paserk, paseto};

const V4: &str = include_str!("vectors/v4.json");
const K4_PUBLIC: &str = include_str!("vectors/k4.public.json");
const K4_SECRET: &str = include_str!("vectors/k4.secret.json");
const K4_PID: &str = include_str!("vectors/k4.pid.json");

/// Public key of the 4-S vectors, used for 4-F vectors that carry none.
const S_PUBLIC_KEY: &str = "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";

fn tests(json: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(json).expect("vector file is JSON");
    doc["tests"].as_array().expect("has tests").clone()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn field<'a>(t: &'a Value, name: &str) -> &'a str {
    t[name]
        .as_str()
        .unwrap_or_else(|| panic!("{}: missing {name}", t["name"]))
}

fn opt_field<'a>(t: &'a Value, name: &str) -> Option<&'a str> {
    t[name].as_str()
}

fn expect_fail(t: &Value) -> bool {
    t["expect-fail"].as_bool().expect("expect-fail is a bool")
}

fn vk(hex_key: &str) -> VerifyingKey {
    paserk::public_from_bytes(&hex(hex_key)).expect("valid public key")
}

#[test]
fn v4_public_vectors_sign_exactly_and_verify() {
    let mut checked = 0;
    for t in tests(V4)
        .iter()
        .filter(|t| field(t, "name").starts_with("4-S-"))
    {
        let name = field(t, "name");
        assert!(!expect_fail(t), "{name}");
        let seed: [u8; 32] = hex(field(t, "secret-key-seed"))
            .try_into()
            .expect("32-byte seed");
        let from_seed = SigningKey::from_bytes(&seed);
        let from_secret = paserk::secret_from_bytes(&hex(field(t, "secret-key"))).expect(name);
        let public = vk(field(t, "public-key"));
        assert_eq!(from_seed.verifying_key(), public, "{name}");
        assert_eq!(from_secret.verifying_key(), public, "{name}");

        let payload = field(t, "payload").as_bytes();
        let footer = field(t, "footer").as_bytes();
        let implicit = field(t, "implicit-assertion").as_bytes();
        let token = field(t, "token");

        // Ed25519 is deterministic, so signing must reproduce the token exactly.
        assert_eq!(
            paseto::sign(&from_seed, payload, footer, implicit),
            token,
            "{name}"
        );
        assert_eq!(
            paseto::sign(&from_secret, payload, footer, implicit),
            token,
            "{name}"
        );

        assert_eq!(
            paseto::untrusted_footer(token).expect(name),
            footer,
            "{name}"
        );
        assert_eq!(
            paseto::verify(&public, token, Some(footer), implicit).expect(name),
            payload,
            "{name}"
        );
        assert_eq!(
            paseto::verify(&public, token, None, implicit).expect(name),
            payload,
            "{name}"
        );
        // And the same token must not verify with a different assertion.
        assert_eq!(
            paseto::verify(&public, token, None, b"other"),
            Err(paseto::PasetoError::BadSignature),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn v4_local_and_expected_failure_vectors_are_rejected() {
    let (mut local, mut fail) = (0, 0);
    for t in tests(V4) {
        let name = field(&t, "name");
        let token = field(&t, "token");
        if name.starts_with("4-S-") {
            continue;
        }
        if expect_fail(&t) {
            fail += 1;
        } else {
            assert!(name.starts_with("4-E-"), "{name}");
            assert!(token.starts_with("v4.local."), "{name}");
            local += 1;
        }
        let key = vk(opt_field(&t, "public-key").unwrap_or(S_PUBLIC_KEY));
        let footer = field(&t, "footer").as_bytes();
        let implicit = field(&t, "implicit-assertion").as_bytes();
        assert!(
            paseto::verify(&key, token, Some(footer), implicit).is_err(),
            "{name} verified"
        );
        assert!(
            paseto::verify(&key, token, None, implicit).is_err(),
            "{name} verified"
        );
        if !token.starts_with(paseto::HEADER) {
            assert_eq!(
                paseto::verify(&key, token, None, implicit),
                Err(paseto::PasetoError::WrongHeader),
                "{name}"
            );
            assert_eq!(
                paseto::untrusted_footer(token),
                Err(paseto::PasetoError::WrongHeader),
                "{name}"
            );
        }
    }
    assert_eq!((local, fail), (9, 5));
}

/// The k4.public / k4.pid vectors encode arbitrary 32-byte strings, some of
/// which are not usable Ed25519 keys (off-curve, or the small-order all-zero
/// point). Encoding must match for all of them; parsing must accept exactly
/// the usable ones.
fn usable_key(raw: &[u8; 32]) -> Option<VerifyingKey> {
    match paserk::public_from_bytes(raw) {
        Ok(k) => Some(k),
        Err(e) => {
            assert!(
                matches!(
                    e,
                    paserk::PaserkError::InvalidKey | paserk::PaserkError::WeakKey
                ),
                "{e:?}"
            );
            None
        }
    }
}

#[test]
fn k4_public_vectors() {
    let (mut ok, mut bad, mut usable) = (0, 0, 0);
    for t in tests(K4_PUBLIC) {
        let name = field(&t, "name");
        let raw = hex(field(&t, "key"));
        if expect_fail(&t) {
            assert!(<[u8; 32]>::try_from(raw.as_slice()).is_err(), "{name}");
            assert_eq!(
                paserk::public_from_bytes(&raw),
                Err(paserk::PaserkError::WrongLength),
                "{name}"
            );
            bad += 1;
            continue;
        }
        let expected = field(&t, "paserk");
        let raw: [u8; 32] = raw.try_into().expect("32-byte key");
        assert_eq!(paserk::public_bytes_to_paserk(&raw), expected, "{name}");
        match usable_key(&raw) {
            Some(key) => {
                assert_eq!(paserk::public_to_paserk(&key), expected, "{name}");
                assert_eq!(
                    paserk::public_from_paserk(expected).expect(name),
                    key,
                    "{name}"
                );
                usable += 1;
            }
            None => assert_eq!(
                paserk::public_from_paserk(expected).err(),
                paserk::public_from_bytes(&raw).err(),
                "{name}"
            ),
        }
        let k3 = expected.replacen("k4.", "k3.", 1);
        assert_eq!(
            paserk::public_from_paserk(&k3),
            Err(paserk::PaserkError::WrongHeader),
            "{name}"
        );
        ok += 1;
    }
    assert_eq!((ok, bad), (3, 1));
    // None of these keys is usable (all-zero is small-order, the others are
    // off-curve); the key-level API is exercised by the k4.secret keys.
    assert_eq!(usable, 0);
}

#[test]
fn k4_secret_vectors() {
    let (mut ok, mut bad) = (0, 0);
    for t in tests(K4_SECRET) {
        let name = field(&t, "name");
        let raw = hex(field(&t, "key"));
        if expect_fail(&t) {
            assert!(paserk::secret_from_bytes(&raw).is_err(), "{name}");
            if let Some(pk) = opt_field(&t, "public-key") {
                assert!(paserk::public_from_bytes(&hex(pk)).is_err(), "{name}");
            }
            bad += 1;
            continue;
        }
        let expected = field(&t, "paserk");
        let seed: [u8; 32] = hex(field(&t, "secret-key-seed"))
            .try_into()
            .expect("32-byte seed");
        let key = paserk::secret_from_bytes(&raw).expect(name);
        assert_eq!(key.to_bytes(), seed, "{name}");
        assert_eq!(
            key.verifying_key().as_bytes().as_slice(),
            hex(field(&t, "public-key")),
            "{name}"
        );
        assert_eq!(paserk::secret_to_paserk(&key).as_str(), expected, "{name}");
        // The public half through the key-level PASERK API.
        let public = key.verifying_key();
        let public_text = paserk::public_to_paserk(&public);
        assert_eq!(
            public_text,
            paserk::public_bytes_to_paserk(public.as_bytes())
        );
        assert_eq!(
            paserk::public_from_paserk(&public_text),
            Ok(public),
            "{name}"
        );
        assert_eq!(
            paserk::pid(&public),
            paserk::pid_of_public_bytes(public.as_bytes())
        );
        let parsed = paserk::secret_from_paserk(expected).expect(name);
        assert_eq!(parsed.to_keypair_bytes().as_slice(), raw, "{name}");
        let k3 = expected.replacen("k4.", "k3.", 1);
        assert_eq!(
            paserk::secret_from_paserk(&k3).err(),
            Some(paserk::PaserkError::WrongHeader),
            "{name}"
        );
        ok += 1;
    }
    assert_eq!((ok, bad), (3, 2));
}

#[test]
fn k4_pid_vectors() {
    let (mut ok, mut bad) = (0, 0);
    for t in tests(K4_PID) {
        let name = field(&t, "name");
        let raw = hex(field(&t, "key"));
        if expect_fail(&t) {
            // Neither a key nor the 32-byte input of a pid can be built.
            assert!(<[u8; 32]>::try_from(raw.as_slice()).is_err(), "{name}");
            assert_eq!(
                paserk::public_from_bytes(&raw),
                Err(paserk::PaserkError::WrongLength),
                "{name}"
            );
            bad += 1;
            continue;
        }
        let expected = field(&t, "paserk");
        let raw: [u8; 32] = raw.try_into().expect("32-byte key");
        assert_eq!(paserk::pid_of_public_bytes(&raw), expected, "{name}");
        if let Some(key) = usable_key(&raw) {
            assert_eq!(paserk::pid(&key), expected, "{name}");
        }
        ok += 1;
    }
    assert_eq!((ok, bad), (3, 2));
}

#[test]
fn vendored_vectors_match_the_shared_copies() {
    let shared = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/paseto"));
    if !shared.is_dir() {
        eprintln!(
            "note: {} is absent; skipping the vendored-vs-shared comparison",
            shared.display()
        );
        return;
    }
    let vendored: [(&str, &[u8]); 5] = [
        ("v4.json", V4.as_bytes()),
        ("k4.public.json", K4_PUBLIC.as_bytes()),
        ("k4.secret.json", K4_SECRET.as_bytes()),
        ("k4.pid.json", K4_PID.as_bytes()),
        ("LICENSE", include_bytes!("vectors/LICENSE")),
    ];
    for (name, ours) in vendored {
        let theirs = std::fs::read(shared.join(name))
            .unwrap_or_else(|e| panic!("reading shared {name}: {e}"));
        assert!(
            theirs == ours,
            "tests/vectors/{name} differs from shared/paseto/{name}"
        );
    }
}
