//! Bare axum on the same runtime settings as Trustdesk: `/healthz` answers "ok", `/v1/verify`
//! reads the body, runs one Ed25519 verify and answers ~700 bytes. Usage: `floor 127.0.0.1:PORT`.

use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::{Signer, SigningKey, Verifier};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18481".into());
    let sk = SigningKey::from_bytes(&[7; 32]);
    let vk = sk.verifying_key();
    let msg: &'static [u8] = Box::leak(vec![42u8; 483].into_boxed_slice());
    let sig = sk.sign(msg);
    let answer: &'static str = Box::leak("x".repeat(700).into_boxed_str());
    let app = Router::new()
        .route("/healthz", get(|| async { "{\"status\":\"ok\"}" }))
        .route(
            "/v1/verify",
            post(move |body: String| async move {
                let ok = vk.verify(msg, &sig).is_ok() && !body.is_empty();
                if ok { answer } else { "" }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
