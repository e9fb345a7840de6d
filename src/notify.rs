//! Delivery of outbox messages (new P1 escalations) to the configured webhook.
//!
//! Each message is POSTed as JSON with
//! `Trustdesk-Signature: ed25519=<base64url signature>` over
//! `trustdesk-webhook:v1.<Trustdesk-Timestamp>.<Trustdesk-Delivery>.<body>`, made with the service's active signing
//! key, named by `Trustdesk-Key-Id` (a PASERK k4.pid from `/.well-known/trustdesk-keys`). The
//! prefix separates these signatures from PASETO tokens signed by the same key. Delivery is
//! at-least-once: `Trustdesk-Delivery` carries a stable id for the receiver to drop duplicates.
//! Failures are retried with exponential back-off until `max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::Signer;

use crate::storage::{OutboxRecord, Store};
use crate::tokens::Keyring;
use crate::types::now;

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub url: String,
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at one hour.
    pub backoff_secs: u32,
}

/// The exact bytes a signature covers: timestamp and delivery id are signed too, so a captured
/// request cannot be replayed under a fresh delivery id.
pub fn signed_message(timestamp: i64, delivery_id: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("trustdesk-webhook:v1.{timestamp}.{delivery_id}.").into_bytes();
    m.extend_from_slice(body);
    m
}

fn backoff(settings: &WebhookSettings, attempts_so_far: i64) -> i64 {
    let exp = attempts_so_far.clamp(0, 20) as u32;
    (i64::from(settings.backoff_secs.max(1)) * 2i64.pow(exp)).min(3600)
}

/// Runs forever: delivers due messages, then sleeps briefly.
pub async fn run(settings: WebhookSettings, store: Arc<dyn Store>, keys: Arc<Keyring>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "Webhook client could not start");
            return;
        }
    };
    let pause = Duration::from_millis(u64::from(settings.backoff_secs.clamp(1, 5)) * 200);
    loop {
        // One message per lease: a lease (60 s) always outlives one delivery (10 s timeout), so
        // no other instance can take it over mid-send.
        match store
            .lease_outbox(now(), 60, i64::from(settings.max_attempts), 1)
            .await
        {
            Ok(batch) => {
                for msg in batch {
                    deliver(&settings, &client, store.as_ref(), &keys, &msg).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "Outbox unavailable"),
        }
        tokio::time::sleep(pause).await;
    }
}

async fn deliver(
    settings: &WebhookSettings,
    client: &reqwest::Client,
    store: &dyn Store,
    keys: &Keyring,
    msg: &OutboxRecord,
) {
    let set = keys.current();
    let lease = msg.locked_until.unwrap_or_default();
    let ts = now();
    let body = msg.payload.as_bytes().to_vec();
    let sig = set.signing_key().sign(&signed_message(ts, &msg.id, &body));
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes());
    let result = client
        .post(&settings.url)
        .header("content-type", "application/json")
        .header("trustdesk-delivery", &msg.id)
        .header("trustdesk-event", &msg.kind)
        .header("trustdesk-timestamp", ts.to_string())
        .header("trustdesk-key-id", set.active_kid())
        .header("trustdesk-signature", format!("ed25519={sig}"))
        .body(body)
        .send()
        .await;
    let outcome = match result {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("receiver answered {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("timed out".to_owned()),
        Err(_) => Err("could not connect".to_owned()),
    };
    let recorded = match &outcome {
        Ok(()) => {
            metrics::counter!("trustdesk_webhook_deliveries_total", "result" => "delivered")
                .increment(1);
            tracing::info!(outbox.id = %msg.id, attempts = msg.attempts + 1, "Webhook delivered");
            store.outbox_delivered(&msg.id, lease, now()).await
        }
        Err(why) => {
            metrics::counter!("trustdesk_webhook_deliveries_total", "result" => "failed")
                .increment(1);
            let next = now() + backoff(settings, msg.attempts);
            if msg.attempts + 1 >= i64::from(settings.max_attempts) {
                tracing::error!(outbox.id = %msg.id, error = %why, "Webhook gave up after the last attempt");
            } else {
                tracing::warn!(outbox.id = %msg.id, error = %why, "Webhook delivery failed; will retry");
            }
            store.outbox_failed(&msg.id, lease, next, why).await
        }
    };
    if let Err(e) = recorded {
        // The lease expires and another pass retries: at-least-once, never lost.
        tracing::warn!(error = %e, "Could not record webhook outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = WebhookSettings {
            url: String::new(),
            max_attempts: 10,
            backoff_secs: 5,
        };
        assert_eq!(backoff(&s, 0), 5);
        assert_eq!(backoff(&s, 1), 10);
        assert_eq!(backoff(&s, 3), 40);
        assert_eq!(backoff(&s, 30), 3600);
    }
}
