//! Faults from below: the evidence disk filling up, and the database going away and coming back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trustdesk::types::Role;

use crate::helpers::{assert_problem, json, png, spawn_app, spawn_app_with};

/// A small tmpfs mounted for the duration of a test (unmounted on drop).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when this process may not mount (not root): the caller skips, loudly.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let uid = Command::new("id").arg("-u").output().expect("run id");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return None;
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "running as root but could not mount a tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Tmpfs(at.to_owned()))
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_full_evidence_disk_answers_507_keeps_what_was_stored_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let Some(disk) = Tmpfs::mount(&evidence, "1m") else {
        eprintln!("!! SKIPPED: mounting a small tmpfs needs root; the full-disk test did not run");
        return;
    };
    let ev = evidence.clone();
    let app = spawn_app_with(move |c| c.attachments_dir = ev).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let report = json!({"category": "impersonation", "description": "fake support, chat attached"});

    // Fits: 300 KB on a 1 MiB disk.
    let small = png(300_000);
    let r = app
        .submit_report(&report, &[("a.png", small.clone())], None)
        .await;
    assert_eq!(r.status(), 201);
    let first = json(r).await["id"].as_str().unwrap().to_owned();

    // Does not fit: 2 MB. The answer is a clear 507, not a 500 and not a half-stored report.
    let big: Vec<u8> = {
        let mut v = png(2_000_000);
        // Incompressible-looking content is irrelevant to tmpfs, but distinct bytes keep the
        // digest honest.
        for (i, b) in v.iter_mut().enumerate().skip(8) {
            *b = (i % 251) as u8;
        }
        v
    };
    let r = app
        .submit_report(&report, &[("big.png", big.clone())], Some("full-disk-1"))
        .await;
    assert_problem(r, 507, "insufficient_storage", "evidence disk full").await;

    // Nothing half-written: one report in the database, no temporary file left behind, and the
    // first report's evidence still downloads byte for byte.
    let list: Value = json(
        app.client
            .get(app.url("/v1/reports"))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<&str> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str()]);
    let files = files_under(&evidence);
    assert_eq!(files.len(), 1, "only the first report's blob: {files:?}");
    let got = app.download(&sec, &first, 0).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&small));

    // Space returns (the operator grows the volume): the same request, same Idempotency-Key,
    // now succeeds; the failed attempt did not poison the key.
    disk.resize("8m");
    let r = app
        .submit_report(&report, &[("big.png", big.clone())], Some("full-disk-1"))
        .await;
    assert_eq!(r.status(), 201);
    let second = json(r).await["id"].as_str().unwrap().to_owned();
    let got = app.download(&sec, &second, 0).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&big));
    drop(app);
}

/// A TCP proxy in front of PostgreSQL that can be cut (existing connections reset, new ones
/// refused: the database host is gone), black-holed (existing connections reset, new ones
/// accepted and never answered: a network partition) and restored.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    black_hole: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let black_hole = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (up2, conns2, hole2) = (up.clone(), conns.clone(), black_hole.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if hole2.load(Ordering::SeqCst) {
                    // Held open, never answered, until restored.
                    let task = tokio::spawn(async move {
                        std::future::pending::<()>().await;
                        drop(client);
                    });
                    conns2.lock().unwrap().push(task.abort_handle());
                    continue;
                }
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        CuttableProxy {
            addr,
            up,
            black_hole,
            conns,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn swallow(&self) {
        self.black_hole
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.black_hole
            .store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test]
async fn losing_the_database_gives_503s_keeps_verify_answering_and_recovers_without_a_restart() {
    let Ok(admin) = std::env::var("TRUSTDESK_TEST_PG") else {
        eprintln!("(runs in the PostgreSQL pass: a database server that can go away)");
        return;
    };
    // postgres://user@host:port/db → the same database through the proxy.
    let direct = crate::helpers::fresh_pg_database(&admin).await;
    let (scheme_user, rest) = direct.split_once('@').unwrap();
    let (hostport, db) = rest.split_once('/').unwrap();
    let proxy = CuttableProxy::start(hostport.to_owned()).await;
    let via_proxy = format!("{scheme_user}@{}/{db}", proxy.addr);
    let app = spawn_app_with(move |c| {
        c.database_url = trustdesk::config::DatabaseUrl(via_proxy);
    })
    .await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let session = app.new_session(&agent, "@acme_support").await;
    let token = session["token"].as_str().unwrap().to_owned();
    let report = json!({"category": "impersonation", "description": "fake support"});
    let r = app
        .submit_report(&report, &[("a.png", png(1_000))], None)
        .await;
    assert_eq!(r.status(), 201);
    let before = json(r).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    for (n, fault) in ["refused", "black hole"].into_iter().enumerate() {
        if n == 0 {
            proxy.cut();
        } else {
            proxy.swallow();
        }
        let t0 = std::time::Instant::now();
        let r = app.get("/readyz").await;
        assert_eq!(r.status(), 503, "{fault}: not ready without a database");
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "{fault}: readiness answers promptly"
        );
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(
            app.get("/healthz").await.status(),
            200,
            "{fault}: still alive"
        );
        // Verification needs no database on its hot path: users can still check an agent.
        assert_eq!(
            app.verdict_of(&token).await["verdict"],
            "genuine",
            "{fault}"
        );
        // A write is refused with a clear, retryable 503, not a 500 and not a hang.
        let key = format!("outage-{n}");
        let t0 = std::time::Instant::now();
        let r = app
            .submit_report(&report, &[("b.png", png(1_000 + n))], Some(&key))
            .await;
        eprintln!("{fault}: write refused after {:?}", t0.elapsed());
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{fault}: bounded wait"
        );
        assert_problem(r, 503, "unavailable", fault).await;

        // The database comes back: the same process recovers on its own.
        proxy.restore();
        let t0 = std::time::Instant::now();
        while app.get("/readyz").await.status() != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "{fault}: did not recover"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("{fault}: ready again after {:?}", t0.elapsed());
        // The refused write, retried with its Idempotency-Key, now lands.
        let r = app
            .submit_report(&report, &[("b.png", png(1_000 + n))], Some(&key))
            .await;
        assert_eq!(r.status(), 201, "{fault}: retry after recovery");
    }
    let r = app
        .report_status(
            before["id"].as_str().unwrap(),
            before["receipt"].as_str().unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// Clients that give up mid-request (timeouts, closed tabs, a load generator stopping) make the
/// server drop the request's future wherever it is, including in the middle of opening a
/// database transaction. Afterwards every write must still work: no connection may be left
/// holding a transaction (on SQLite that would hold the write lock and fail every other writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_abandoning_writes_midway_leave_no_transaction_open() {
    let app = std::sync::Arc::new(spawn_app().await);
    let sec = app.create_staff("Sec", Role::Security).await.key;
    // A queue to claim from.
    for n in 0..20 {
        let r = app
            .submit_report(
                &json!({"category": "impersonation", "description": format!("queue {n}"),
                    "presented": "v4.public.not-a-real-token"}),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = json(r).await["id"].as_str().unwrap().to_owned();
        for to in ["triaged", "investigating", "confirmed_fraud"] {
            let r = app
                .client
                .post(app.url(&format!("/v1/reports/{id}/transition")))
                .bearer_auth(&sec)
                .json(&json!({"to": to, "reason": "setup"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    // 32 clients claiming and releasing, each request abandoned after 0–9 ms.
    let stop = std::time::Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for w in 0..32u64 {
        let (app, sec) = (app.clone(), sec.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            while std::time::Instant::now() < stop {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_millis((n >> 33) % 10))
                    .build()
                    .unwrap();
                if let Ok(r) = client
                    .post(app.url("/v1/escalations/claim"))
                    .bearer_auth(&sec)
                    .send()
                    .await
                {
                    if let Ok(v) = r.json::<Value>().await {
                        if let Some(id) = v["id"].as_str() {
                            let _ = client
                                .post(app.url(&format!("/v1/escalations/{id}/release")))
                                .bearer_auth(&sec)
                                .send()
                                .await;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Every write now succeeds promptly.
    for n in 0..40 {
        let t0 = std::time::Instant::now();
        let r = app
            .submit_report(
                &json!({"category": "impersonation", "description": format!("after {n}")}),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status(), 201, "write {n} after abandoned requests");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "write {n} waited {:?}",
            t0.elapsed()
        );
    }
}

/// The embedded engine's own fault: the disk under the SQLite database fills up. Writes are
/// refused with a clear 507, reads keep working, nothing written before is damaged, and writes
/// work again once there is room, without a restart.
#[tokio::test]
async fn a_full_database_disk_refuses_writes_clearly_and_recovers_when_space_returns() {
    if std::env::var("TRUSTDESK_TEST_PG").is_ok() {
        eprintln!("(runs in the SQLite pass: the database is a file on a disk that can fill up)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dbdir = dir.path().join("db");
    let Some(_disk) = Tmpfs::mount(&dbdir, "4m") else {
        eprintln!(
            "!! SKIPPED: mounting a small tmpfs needs root; the full-database test did not run"
        );
        return;
    };
    let url = format!("sqlite://{}", dbdir.join("td.db").display());
    let app = spawn_app_with(move |c| c.database_url = trustdesk::config::DatabaseUrl(url)).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let report = |n: usize| json!({"category": "impersonation", "description": format!("report {n}: {}", "x".repeat(3000))});
    let r = app.submit_report(&report(0), &[], None).await;
    assert_eq!(r.status(), 201);
    let first = json(r).await;

    // Fill what is left of the disk.
    let filler = dbdir.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let mut refused = None;
    for n in 1..200 {
        let r = app
            .submit_report(&report(n), &[], Some(&format!("db-full-{n}")))
            .await;
        if r.status() != 201 {
            refused = Some((n, r));
            break;
        }
    }
    let (n, r) = refused.expect("a full database disk must refuse writes at some point");
    assert!(
        n < 100,
        "the disk filled after {n} reports: the listing below shows 100 at most"
    );
    assert_problem(r, 507, "insufficient_storage", "database disk full").await;
    // Reads still work, and what was stored is intact.
    let r = app
        .report_status(
            first["id"].as_str().unwrap(),
            first["receipt"].as_str().unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);

    // Room again: the same submission, same Idempotency-Key, is stored; no restart.
    std::fs::remove_file(&filler).unwrap();
    let r = app
        .submit_report(&report(n), &[], Some(&format!("db-full-{n}")))
        .await;
    assert_eq!(r.status(), 201, "writes work again once there is room");
    let r = app
        .client
        .get(app.url("/v1/reports?limit=100"))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Every report acknowledged before, during and after the full disk is listed once.
    let listed = json(r).await["reports"].as_array().unwrap().len();
    assert_eq!(
        listed,
        n + 1,
        "reports 0..={n}, the refused one stored once on retry"
    );
}
