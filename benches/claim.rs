//! Claim cost against queue depth: claiming from 1k and from 100k queued escalations should cost
//! the same (one index seek on `(state, priority_rank, created_at, id)`), not grow with depth.
//!
//! Run: `cargo bench --bench claim`. Seeding uses one bulk transaction per depth.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use trustdesk::escalations::{claim, release, QueueSettings};
use trustdesk::staff::{self, Staff};
use trustdesk::storage::Store;
use trustdesk::types::Role;

async fn seeded_store(dir: &std::path::Path, depth: usize) -> (std::sync::Arc<dyn Store>, Staff) {
    let url = format!(
        "sqlite://{}",
        dir.join(format!("bench-{depth}.db")).display()
    );
    let store = trustdesk::storage::open(&url).await.expect("store");
    let (analyst, _) = staff::create(store.as_ref(), &format!("analyst-{depth}"), Role::Security)
        .await
        .expect("staff");
    // Bulk seed outside the service API: one transaction, plain inserts.
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    let t = trustdesk::types::now() - 3600;
    for i in 0..depth {
        let rid = format!("TD-{:04}-{:04}", i / 10_000, i % 10_000);
        sqlx::query(
            "INSERT INTO reports (id, receipt_hash, status, category, priority, triage, triage_reasons, \
             description, transactions, locale, created_at, updated_at, first_response_by) \
             VALUES ($1, 'x', 'confirmed_fraud', 'impersonation', 'P2', 'none', '[]', 'bench', '[]', 'en', $2, $2, $2)",
        )
        .bind(&rid)
        .bind(t)
        .execute(&mut *tx)
        .await
        .expect("report");
        let rank = (i % 3) as i64 + 1;
        sqlx::query(
            "INSERT INTO escalations (id, report_id, priority, priority_rank, reason, state, created_at, \
             sla_due_at, claims) VALUES ($1, $2, $3, $4, 'bench', 'queued', $5, $6, 0)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&rid)
        .bind(format!("P{rank}"))
        .bind(rank)
        .bind(t + i as i64)
        .bind(t + 86_400)
        .execute(&mut *tx)
        .await
        .expect("escalation");
    }
    tx.commit().await.expect("commit");
    pool.close().await;
    (store, analyst)
}

fn bench_claim(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = QueueSettings {
        base_url: "http://127.0.0.1:8080".into(),
        lease_secs: 300,
        sla_secs: [900, 14_400, 86_400],
    };
    let mut group = c.benchmark_group("claim");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    for depth in [1_000usize, 100_000] {
        let (store, analyst) = rt.block_on(seeded_store(dir.path(), depth));
        group.bench_with_input(BenchmarkId::from_parameter(depth), &depth, |b, _| {
            // Time the claim only; releasing it afterwards keeps the depth constant.
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let item = claim(&settings, store.as_ref(), &analyst)
                            .await
                            .expect("claim")
                            .expect("queue not empty");
                        total += start.elapsed();
                        release(store.as_ref(), &analyst, &item.id)
                            .await
                            .expect("release");
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_claim);
criterion_main!(benches);
