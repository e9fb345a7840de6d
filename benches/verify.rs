//! Token verification cost, side by side in one criterion group, on the same token bytes:
//!
//! - `dalek_raw`: `VerifyingKey::verify` over a pre-built PAE — the floor any v4.public verifier
//!   pays (SHA-512 of the PAE plus one double-scalar multiplication).
//! - `trustdesk_lean`: Trustdesk's whole signature path (`tokens::check_signature`): split,
//!   base64 into a stack buffer laid out as the PAE, kid from the footer, one verify, borrowed
//!   claims parsing and RFC 3339 times. Target ≤ 1.10 × `dalek_raw`.
//! - `trustdesk_cached`: the service's `Verifier::verify` for a token it has seen: input
//!   extraction, SHA-256, cache lookup, key, expiry and in-memory revocation checks.
//! - `pasetors`, `rusty_paseto`, `jsonwebtoken_eddsa`: the libraries a service would otherwise
//!   use, each doing its full verify (jsonwebtoken on a JWT carrying the same claims).
//! - `dalek_batch64` / `trustdesk_batch64`: 64 distinct tokens; criterion reports per token
//!   (throughput 64), target ≤ 0.6 × a single verify.
//!
//! Run: `cargo bench --bench verify`. `docs/performance.md` holds the figures and ratios.

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signature, Signer, Verifier as _};
use serde::Deserialize;
use trustdesk::storage::SessionRecord;
use trustdesk::tokens::{
    check_signature, check_signatures, footer_for, paseto, Keyring, LiveSessions, SessionClaims,
    TokenSettings, Verifier, AUDIENCE, IMPLICIT_ASSERTION,
};
use trustdesk::types::{now, rfc3339, Role};

const ISSUER: &str = "https://trust.example";

fn claims(jti: &str, agent: &str, iat: i64) -> SessionClaims {
    SessionClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: agent.into(),
        jti: jti.into(),
        iat: rfc3339(iat),
        nbf: rfc3339(iat),
        exp: rfc3339(iat + 7200),
        agent_name: "Alice Example".into(),
        channel_kind: "telegram".into(),
        channel_handle: "acme_support".into(),
        user_ref_last4: Some("4821".into()),
    }
}

/// The same claims as a JWT carries them (numeric dates).
#[derive(Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    iss: String,
    aud: String,
    sub: String,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    agent_name: String,
    channel_kind: String,
    channel_handle: String,
    user_ref_last4: String,
}

/// The PAE a `v4.public` signature covers, built once for the floor measurement.
fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = (pieces.len() as u64).to_le_bytes().to_vec();
    for p in pieces {
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn bench_verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = Arc::new(Keyring::load_or_create(&dir.path().join("keys")).expect("keys"));
    let set = ring.current();
    let kid = set.active_kid().to_owned();
    let sk = set.signing_key().clone();
    let vk = sk.verifying_key();
    let footer = footer_for(&kid);
    let t = now();

    // A session the service really issued, so the cached path answers `genuine`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = rt.block_on(trustdesk::storage::open(&url)).expect("store");
    let (agent, _) = rt
        .block_on(trustdesk::staff::create(
            store.as_ref(),
            "alice",
            Role::Agent,
        ))
        .expect("agent");
    let c0 = claims("3b241101-e2bb-4255-8caf-4136c566a962", &agent.id, t);
    let payload = serde_json::to_vec(&c0).expect("claims");
    let token = paseto::sign(&sk, &payload, footer.as_bytes(), IMPLICIT_ASSERTION);
    rt.block_on(store.insert_session(&SessionRecord {
        jti: c0.jti.clone(),
        agent_id: agent.id.clone(),
        kid: kid.clone(),
        channel_kind: "telegram".into(),
        channel_value: "acme_support".into(),
        user_ref_last4: Some("4821".into()),
        code_hash: "bench".into(),
        issued_at: t,
        expires_at: t + 7200,
        revoked_at: None,
        revoked_by: None,
    }))
    .expect("session");
    let live = Arc::new(
        rt.block_on(LiveSessions::load(store.as_ref()))
            .expect("index"),
    );
    let settings = Arc::new(TokenSettings {
        issuer: ISSUER.into(),
        default_ttl_secs: 1800,
        max_ttl_secs: 7200,
        clock_skew_secs: 60,
    });
    let verifier = Verifier::new(settings, ring.clone(), store.clone(), live, 10_000);
    let first = rt.block_on(verifier.verify(&token)).expect("verify");
    assert_eq!(first.kind(), "genuine");

    let floor_pae = pae(&[
        b"v4.public.",
        &payload,
        footer.as_bytes(),
        IMPLICIT_ASSERTION,
    ]);
    let floor_sig = Signature::from_bytes(
        &B64.decode(token.split('.').nth(2).expect("payload"))
            .expect("b64")[payload.len()..]
            .try_into()
            .expect("64 bytes"),
    );
    vk.verify(&floor_pae, &floor_sig).expect("floor verifies");

    // pasetors, on the very same token.
    use pasetors::claims::ClaimsValidationRules;
    use pasetors::keys::AsymmetricPublicKey;
    use pasetors::token::UntrustedToken;
    use pasetors::version4::V4;
    use pasetors::Public;
    let pt_key = AsymmetricPublicKey::<V4>::from(vk.as_bytes()).expect("pasetors key");
    let mut pt_footer = pasetors::footer::Footer::new();
    pt_footer.parse_string(&footer).expect("footer");
    let mut pt_rules = ClaimsValidationRules::new();
    pt_rules.validate_issuer_with(ISSUER);
    pt_rules.validate_audience_with(AUDIENCE);
    let pasetors_verify = |tok: &str| {
        let ut = UntrustedToken::<Public, V4>::try_from(tok)?;
        pasetors::public::verify(
            &pt_key,
            &ut,
            &pt_rules,
            Some(&pt_footer),
            Some(IMPLICIT_ASSERTION),
        )
    };
    pasetors_verify(&token).expect("pasetors accepts our token");

    // rusty_paseto, on the very same token (its core API: no claim validation).
    use rusty_paseto::core::{
        Footer, ImplicitAssertion, Key, Paseto, PasetoAsymmetricPublicKey, Public as RpPublic,
        V4 as RpV4,
    };
    let rp_bytes = Key::<32>::from(vk.as_bytes());
    let rp_key = PasetoAsymmetricPublicKey::<RpV4, RpPublic>::from(&rp_bytes);
    let implicit = std::str::from_utf8(IMPLICIT_ASSERTION).expect("ascii");
    let rp_verify = |tok: &str| {
        Paseto::<RpV4, RpPublic>::try_verify(
            tok,
            &rp_key,
            Footer::from(footer.as_str()),
            ImplicitAssertion::from(implicit),
        )
    };
    rp_verify(&token).expect("rusty_paseto accepts our token");

    // jsonwebtoken: a JWT with the same claims, signed by the same key.
    let jwt_claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": agent.id, "jti": c0.jti, "iat": t, "nbf": t,
        "exp": t + 7200, "agent_name": "Alice Example", "channel_kind": "telegram",
        "channel_handle": "acme_support", "user_ref_last4": "4821",
    });
    let signing_input = format!(
        "{}.{}",
        B64.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#),
        B64.encode(jwt_claims.to_string())
    );
    let jwt = format!(
        "{signing_input}.{}",
        B64.encode(sk.sign(signing_input.as_bytes()).to_bytes())
    );
    let jwt_key = jsonwebtoken::DecodingKey::from_ed_der(vk.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<JwtClaims>(&jwt, &jwt_key, &validation).expect("jwt verifies");

    // 64 distinct tokens for the batch benches.
    let batch: Vec<String> = (0..64)
        .map(|i| {
            let c = claims(&format!("3b241101-e2bb-4255-8caf-{i:012x}"), &agent.id, t);
            let p = serde_json::to_vec(&c).expect("claims");
            paseto::sign(&sk, &p, footer.as_bytes(), IMPLICIT_ASSERTION)
        })
        .collect();
    let batch_refs: Vec<&str> = batch.iter().map(String::as_str).collect();
    let batch_pae: Vec<(Vec<u8>, Signature)> = batch
        .iter()
        .map(|tok| {
            let body = B64
                .decode(tok.split('.').nth(2).expect("payload"))
                .expect("b64");
            let (m, s) = body.split_at(body.len() - 64);
            (
                pae(&[b"v4.public.", m, footer.as_bytes(), IMPLICIT_ASSERTION]),
                Signature::from_bytes(s.try_into().expect("64 bytes")),
            )
        })
        .collect();
    let msgs: Vec<&[u8]> = batch_pae.iter().map(|(m, _)| m.as_slice()).collect();
    let sigs: Vec<Signature> = batch_pae.iter().map(|(_, s)| *s).collect();
    let keys = vec![vk; 64];
    assert!(check_signatures(&*set, ISSUER, &batch_refs, t)
        .iter()
        .all(Result::is_ok));

    eprintln!(
        "token {} bytes, claims {} bytes, PAE {} bytes",
        token.len(),
        payload.len(),
        floor_pae.len()
    );
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dalek_raw", |b| {
        b.iter(|| vk.verify(black_box(&floor_pae), black_box(&floor_sig)))
    });
    g.bench_function("trustdesk_lean", |b| {
        b.iter(|| check_signature(&*set, ISSUER, black_box(&token), t).expect("genuine"))
    });
    g.bench_function("trustdesk_cached", |b| {
        b.iter(|| rt.block_on(verifier.verify(black_box(&token))))
    });
    g.bench_function("pasetors", |b| {
        b.iter(|| pasetors_verify(black_box(&token)).expect("verifies"))
    });
    g.bench_function("rusty_paseto", |b| {
        b.iter(|| rp_verify(black_box(&token)).expect("verifies"))
    });
    g.bench_function("jsonwebtoken_eddsa", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<JwtClaims>(black_box(&jwt), &jwt_key, &validation)
                .expect("verifies")
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("dalek_batch64", |b| {
        b.iter(|| ed25519_dalek::verify_batch(black_box(&msgs), &sigs, &keys))
    });
    g.bench_function("trustdesk_batch64", |b| {
        b.iter(|| check_signatures(&*set, ISSUER, black_box(&batch_refs), t))
    });
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
