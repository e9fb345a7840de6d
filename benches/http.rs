//! What the service adds around a signature check, measured without sockets: requests driven
//! through the whole router (every middleware, extractor, handler and JSON answer) in-process, on
//! one thread, beside a raw `ed25519-dalek` verify of the same token in the same run.
//!
//! - `dalek_raw`: one `VerifyingKey::verify` over the PAE of one of the tokens, again and again.
//! - `dalek_raw_distinct`: the floor of `verify_distinct`, the same verify over the PAEs of all
//!   the tokens in turn. Ed25519 verification is variable-time: on one signature repeated the
//!   branch predictor learns the whole computation, which `dalek_raw` benefits from and a wave of
//!   distinct tokens does not.
//! - `healthz`: `GET /healthz`, the cost of the stack alone.
//! - `verify_distinct`: `POST /v1/verify` cycling 4 096 issued tokens through a 64-entry cache, so
//!   every request pays its signature, as in a wave of distinct links.
//! - `verify_repeated`: `POST /v1/verify` with one token (cache hit).
//!
//! The load scripts (`scripts/load/verify.sh`) measure the same requests through hyper and
//! loopback TCP; the difference is the HTTP/1 parser and the kernel. Run: `cargo bench --bench http`.

use std::hint::black_box;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use trustdesk::app::App;
use trustdesk::config::Config;
use trustdesk::types::Role;

/// The server's allocator (`src/main.rs`), so that the figures are the server's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const TOKENS: usize = 4096;

fn post_json(path: &str, key: Option<&str>, body: String) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/json");
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::from(body)).expect("request")
}

async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, bytes::Bytes) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

/// The PAE a `v4.public` token's signature covers, and the signature: what `dalek_raw` verifies.
fn pae_and_signature(token: &str) -> (Vec<u8>, Signature) {
    let mut parts = token.splitn(4, '.');
    let (_, _, payload, footer) = (
        parts.next(),
        parts.next(),
        parts.next().expect("payload"),
        parts.next().unwrap_or(""),
    );
    let raw = B64.decode(payload).expect("payload base64");
    let footer = B64.decode(footer).expect("footer base64");
    let (msg, sig) = raw.split_at(raw.len() - 64);
    let pieces: [&[u8]; 4] = [
        b"v4.public.",
        msg,
        &footer,
        trustdesk::tokens::IMPLICIT_ASSERTION,
    ];
    let mut pae = (pieces.len() as u64).to_le_bytes().to_vec();
    for p in pieces {
        pae.extend_from_slice(&(p.len() as u64).to_le_bytes());
        pae.extend_from_slice(p);
    }
    let sig = Signature::from_slice(sig).expect("signature");
    (pae, sig)
}

fn bench_http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::for_dir(dir.path());
    config.verify_cache_entries = 64;
    let (router, tokens, public) = rt.block_on(async {
        let app = App::build(config).await.expect("app");
        let state = app.state().clone();
        let router = trustdesk::http::router(state.clone());
        let (_, admin_key) =
            trustdesk::staff::create(state.store.as_ref(), "bench-admin", Role::Admin)
                .await
                .expect("admin");
        let (agent, agent_key) =
            trustdesk::staff::create(state.store.as_ref(), "bench-agent", Role::Agent)
                .await
                .expect("agent");
        let body = serde_json::json!({
            "kind": "telegram", "value": "@acme_support", "agent_id": agent.id,
        });
        let (st, _) = call(
            &router,
            post_json("/v1/channels", Some(admin_key.as_ref()), body.to_string()),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let mut tokens = Vec::with_capacity(TOKENS);
        for i in 0..TOKENS {
            let body = serde_json::json!({
                "channel": {"kind": "telegram", "handle": "@acme_support"},
                "user_ref": format!("user-{i:06}"),
            });
            let (st, answer) = call(
                &router,
                post_json("/v1/sessions", Some(agent_key.as_ref()), body.to_string()),
            )
            .await;
            assert_eq!(
                st,
                StatusCode::CREATED,
                "{}",
                String::from_utf8_lossy(&answer)
            );
            let v: serde_json::Value = serde_json::from_slice(&answer).expect("json");
            tokens.push(v["token"].as_str().expect("token").to_owned());
        }
        let public = state.keys.current().signing_key().verifying_key();
        (router, tokens, public)
    });
    let vk: VerifyingKey = public;
    let (pae, sig) = pae_and_signature(&tokens[0]);
    assert!(
        vk.verify(&pae, &sig).is_ok(),
        "the floor verifies a real token"
    );
    let signed: Vec<(Vec<u8>, Signature)> = tokens.iter().map(|t| pae_and_signature(t)).collect();
    let bodies: Vec<String> = tokens
        .iter()
        .map(|t| serde_json::json!({ "input": t }).to_string())
        .collect();

    // Every answer must be the real one, or the figures measure an error path.
    rt.block_on(async {
        for b in [&bodies[0], &bodies[1]] {
            let (st, answer) = call(&router, post_json("/v1/verify", None, b.clone())).await;
            assert_eq!(st, StatusCode::OK);
            assert!(String::from_utf8_lossy(&answer).contains("\"verdict\":\"genuine\""));
        }
    });

    let mut g = c.benchmark_group("http");
    g.bench_function("dalek_raw", |b| {
        b.iter(|| vk.verify(black_box(&pae), black_box(&sig)).is_ok())
    });
    let mut j = 0usize;
    g.bench_function("dalek_raw_distinct", |b| {
        b.iter(|| {
            j = (j + 1) % signed.len();
            let (pae, sig) = &signed[j];
            vk.verify(black_box(pae), black_box(sig)).is_ok()
        })
    });
    g.bench_function("healthz", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = Request::get("/healthz")
                    .body(Body::empty())
                    .expect("request");
                let (st, _) = call(&router, req).await;
                assert_eq!(st, StatusCode::OK);
            })
        })
    });
    let mut i = 0usize;
    g.bench_function("verify_distinct", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let req = post_json("/v1/verify", None, bodies[i].clone());
            rt.block_on(async {
                let (st, _) = call(&router, req).await;
                assert_eq!(st, StatusCode::OK);
            })
        })
    });
    g.bench_function("verify_repeated", |b| {
        b.iter(|| {
            let req = post_json("/v1/verify", None, bodies[0].clone());
            rt.block_on(async {
                let (st, _) = call(&router, req).await;
                assert_eq!(st, StatusCode::OK);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench_http);
criterion_main!(benches);
