//! Bare axum on the same runtime settings as Trustdesk: `/healthz` answers "ok", `/v1/verify`
//! reads the body, runs one Ed25519 verify and answers ~700 bytes. Usage: `floor 127.0.0.1:PORT`.
//!
//! Each `/v1/verify` checks the next of 4 096 distinct signed messages, as Trustdesk does under a
//! wave of distinct tokens. Verifying one fixed signature over and over would understate the
//! floor: Ed25519 verification is variable-time, and with the same scalars every request the
//! branch predictor learns the whole computation (measured: 6–10 % less per verify).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

/// Distinct messages the floor cycles through (Trustdesk's load runs use 20 000 tokens and a
/// 1 000-entry cache; what matters here is that consecutive signatures differ).
const MESSAGES: usize = 4096;

/// A PAE of a Trustdesk token is about 483 bytes.
const MESSAGE_LEN: usize = 483;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18481".into());
    let sk = SigningKey::from_bytes(&[7; 32]);
    let vk = sk.verifying_key();
    let signed: Arc<Vec<(Vec<u8>, Signature)>> = Arc::new(
        (0..MESSAGES)
            .map(|i| {
                let mut msg = vec![42u8; MESSAGE_LEN];
                msg[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let sig = sk.sign(&msg);
                (msg, sig)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let answer: &'static str = Box::leak("x".repeat(700).into_boxed_str());
    let app = Router::new()
        .route("/healthz", get(|| async { "{\"status\":\"ok\"}" }))
        .route(
            "/v1/verify",
            post(move |body: String| async move {
                let (msg, sig) = &signed[next.fetch_add(1, Ordering::Relaxed) % MESSAGES];
                let ok = vk.verify(msg, sig).is_ok() && !body.is_empty();
                if ok { answer } else { "" }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    // Shut down cleanly on Ctrl-C or SIGTERM: a profile-instrumented build (scripts/pgo.sh floor)
    // writes its profile only when the process exits normally.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await
        .expect("serve");
}
