//! kill -9 at 20 random moments under a mixed load (report uploads with evidence, session
//! issuance and revocation, the review workflow): after each restart every acknowledged write is
//! present and whole, nothing is half-written, the audit chain verifies, the SQLite file passes
//! its integrity check, and orphaned files are swept.
//!
//! The moments come from a seeded generator; the seed is printed, and `TRUSTDESK_CRASH_SEED=<n>`
//! replays a run.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::process::{cli, default_db, staff_key, start};

/// Deterministic pseudo-random bytes (xorshift) behind a PNG signature: distinct per seed.
fn evidence(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

struct Acked {
    id: String,
    receipt: String,
    digests: Vec<String>,
}

/// Everything the clients were told succeeded (2xx), and what they merely attempted.
#[derive(Default)]
struct Ledger {
    reports: Vec<Acked>,
    /// Reports acknowledged in the current round, waiting for the review worker.
    to_review: Vec<String>,
    /// session id → token, for every acknowledged session.
    sessions: Vec<(String, String)>,
    revoke_attempted: HashSet<String>,
    revoked: HashSet<String>,
    /// report id → the last status a transition to was acknowledged.
    reviewed: HashMap<String, &'static str>,
}

type Shared = Arc<Mutex<Ledger>>;

/// The review workflow's happy path, in order.
const WALK: [&str; 4] = ["received", "triaged", "investigating", "confirmed_fraud"];

async fn upload_loop(base: String, worker: u64, ledger: Shared) {
    let client = reqwest::Client::new();
    for n in 0u64.. {
        let seed = worker * 1_000_000 + n;
        let files: Vec<Vec<u8>> = (0..3)
            .map(|i| evidence(seed * 10 + i, 40_000 + (seed as usize % 7) * 20_000))
            .collect();
        let mut form = reqwest::multipart::Form::new().part(
            "report",
            reqwest::multipart::Part::text(
                json!({"category": "impersonation", "description": format!("crash test {seed}")})
                    .to_string(),
            ),
        );
        for (i, f) in files.iter().enumerate() {
            form = form.part(
                "attachment",
                reqwest::multipart::Part::bytes(f.clone()).file_name(format!("e{i}.png")),
            );
        }
        let Ok(resp) = client
            .post(format!("{base}/v1/reports"))
            .multipart(form)
            .send()
            .await
        else {
            return; // the server died under us
        };
        if resp.status() != 201 {
            return;
        }
        let Ok(body) = resp.json::<Value>().await else {
            return;
        };
        let id = body["id"].as_str().unwrap().to_owned();
        let mut l = ledger.lock().unwrap();
        l.to_review.push(id.clone());
        l.reports.push(Acked {
            id,
            receipt: body["receipt"].as_str().unwrap().to_owned(),
            digests: files
                .iter()
                .map(|f| format!("{:x}", Sha256::digest(f)))
                .collect(),
        });
    }
}

/// An agent issues sessions and revokes every third one it was given.
async fn session_loop(base: String, agent: String, ledger: Shared) {
    let client = reqwest::Client::new();
    for n in 0u64.. {
        let Ok(resp) = client
            .post(format!("{base}/v1/sessions"))
            .bearer_auth(&agent)
            .json(&json!({"channel": {"kind": "telegram", "handle": "@acme_support"}}))
            .send()
            .await
        else {
            return;
        };
        if resp.status() != 201 {
            return;
        }
        let Ok(s) = resp.json::<Value>().await else {
            return;
        };
        let sid = s["session_id"].as_str().unwrap().to_owned();
        ledger
            .lock()
            .unwrap()
            .sessions
            .push((sid.clone(), s["token"].as_str().unwrap().to_owned()));
        if n % 3 == 2 {
            ledger.lock().unwrap().revoke_attempted.insert(sid.clone());
            let Ok(r) = client
                .post(format!("{base}/v1/sessions/{sid}/revoke"))
                .bearer_auth(&agent)
                .send()
                .await
            else {
                return;
            };
            if !r.status().is_success() {
                return;
            }
            ledger.lock().unwrap().revoked.insert(sid);
        }
    }
}

/// Security staff walk freshly acknowledged reports through the review workflow to
/// `confirmed_fraud`, which also opens an escalation.
async fn review_loop(base: String, sec: String, ledger: Shared) {
    let client = reqwest::Client::new();
    loop {
        let next = ledger.lock().unwrap().to_review.pop();
        let Some(id) = next else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        for to in &WALK[1..] {
            let Ok(r) = client
                .post(format!("{base}/v1/reports/{id}/transition"))
                .bearer_auth(&sec)
                .json(&json!({"to": to, "reason": "crash test"}))
                .send()
                .await
            else {
                return;
            };
            if r.status() != 200 {
                return;
            }
            ledger.lock().unwrap().reviewed.insert(id.clone(), to);
        }
    }
}

/// GET `url` as `key`, as JSON.
async fn get_json(client: &reqwest::Client, url: impl reqwest::IntoUrl, key: &str) -> Value {
    client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The staff view of each report, fetched four at a time.
async fn staff_details(base: &str, key: &str, ids: &[String]) -> HashMap<String, Value> {
    let chunks: Vec<Vec<String>> = ids
        .chunks(ids.len().div_ceil(4).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (base, key) = (base.to_owned(), key.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut out = Vec::new();
            for id in chunk {
                let d = get_json(&client, format!("{base}/v1/reports/{id}"), &key).await;
                out.push((id, d));
            }
            out
        }));
    }
    let mut all = HashMap::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_20_random_moments_under_mixed_load_loses_nothing_acknowledged() {
    let seed: u64 = std::env::var("TRUSTDESK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash moments from seed {seed} (replay: TRUSTDESK_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir().unwrap();
    let attachments = dir.path().join("attachments");
    // Accounts and the agent's official channel, set up once.
    let (agent, sec) = {
        let p = start(dir.path(), &[]);
        let admin = staff_key(dir.path(), "admin", "admin");
        let agent = staff_key(dir.path(), "agent", "agent");
        let sec = staff_key(dir.path(), "sec", "security");
        let list = String::from_utf8(cli(dir.path(), &["staff", "list"]).stdout).unwrap();
        let agent_id = list
            .lines()
            .find(|l| l.ends_with("\tagent"))
            .and_then(|l| l.split('\t').next())
            .unwrap()
            .to_owned();
        let r = reqwest::Client::new()
            .post(format!("{}/v1/channels", p.base))
            .bearer_auth(&admin)
            .json(&json!({"kind": "telegram", "value": "@acme_support", "agent_id": agent_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        (agent, sec)
    };

    let ledger: Shared = Arc::new(Mutex::new(Ledger::default()));
    let mut moments = Vec::new();
    for round in 0..20u64 {
        let mut p = start(dir.path(), &[]);
        ledger.lock().unwrap().to_review.clear();
        let mut workers: Vec<_> = (0..2)
            .map(|w| tokio::spawn(upload_loop(p.base.clone(), round * 10 + w, ledger.clone())))
            .collect();
        workers.push(tokio::spawn(session_loop(
            p.base.clone(),
            agent.clone(),
            ledger.clone(),
        )));
        workers.push(tokio::spawn(review_loop(
            p.base.clone(),
            sec.clone(),
            ledger.clone(),
        )));
        let after_ms = rng.gen_range(30..900);
        moments.push(after_ms);
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        p.child.kill().unwrap(); // SIGKILL: no graceful anything
        p.child.wait().unwrap();
        for w in workers {
            w.abort();
            let _ = w.await;
        }
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let acked = &ledger.reports;
    eprintln!(
        "killed after {moments:?} ms; acknowledged: {} reports, {} sessions, {} revocations, {} reviewed",
        acked.len(),
        ledger.sessions.len(),
        ledger.revoked.len(),
        ledger.reviewed.len()
    );
    let t0 = std::time::Instant::now();
    assert!(
        acked.len() >= 10 && ledger.sessions.len() >= 10 && ledger.reviewed.len() >= 3,
        "the test must acknowledge writes of every kind before the kills"
    );

    let p = start(
        dir.path(),
        &["--cleanup-interval-secs", "1", "--upload-timeout-secs", "1"],
    );
    let client = reqwest::Client::new();
    // Every report in the database (acknowledged, or committed just before a kill).
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}/v1/reports?limit=100&cursor={c}", p.base),
            None => format!("{}/v1/reports?limit=100", p.base),
        };
        let page = get_json(&client, url, &sec).await;
        all.extend(
            page["reports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let details = staff_details(&p.base, &sec, &all).await;
    // Each acknowledged report is there with exactly the evidence that was sent.
    for (n, a) in acked.iter().enumerate() {
        let d = details
            .get(&a.id)
            .unwrap_or_else(|| panic!("acknowledged report {} must survive", a.id));
        let got: Vec<&str> = d["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["sha256"].as_str().unwrap())
            .collect();
        assert_eq!(
            got,
            a.digests.iter().map(String::as_str).collect::<Vec<_>>(),
            "{}",
            a.id
        );
        // A sample through the victim's receipt and the download path (which re-hashes on the
        // server); the disk check below covers every blob.
        if n % 10 != 0 {
            continue;
        }
        let victim = client
            .get(format!("{}/v1/reports/{}", p.base, a.id))
            .bearer_auth(&a.receipt)
            .send()
            .await
            .unwrap();
        assert_eq!(victim.status(), 200, "receipt of {}", a.id);
        for i in 0..3 {
            let bytes = client
                .get(format!("{}/v1/reports/{}/attachments/{i}", p.base, a.id))
                .bearer_auth(&sec)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                format!("{:x}", Sha256::digest(&bytes)),
                a.digests[i],
                "{} #{i}",
                a.id
            );
        }
    }
    // Nothing is half-stored: every report has its three blobs, whole, on disk.
    let mut referenced = HashSet::new();
    for (id, d) in &details {
        assert_eq!(
            d["attachments"].as_array().unwrap().len(),
            3,
            "report {id} is whole"
        );
        for x in d["attachments"].as_array().unwrap() {
            let sha = x["sha256"].as_str().unwrap().to_owned();
            let path = attachments.join(&sha[0..2]).join(&sha[2..4]).join(&sha);
            let bytes = std::fs::read(&path).unwrap_or_else(|_| panic!("{id}: blob {sha} missing"));
            assert_eq!(format!("{:x}", Sha256::digest(&bytes)), sha);
            referenced.insert(sha);
        }
    }
    eprintln!("checked {} reports in {:?}", all.len(), t0.elapsed());

    // Sessions: every acknowledged one verifies as genuine, or as revoked if its revocation was
    // acknowledged (an unacknowledged revocation may or may not have committed).
    for (sid, token) in &ledger.sessions {
        let v: Value = client
            .post(format!("{}/v1/verify", p.base))
            .json(&json!({ "input": token }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let verdict = v["verdict"].as_str().unwrap();
        if ledger.revoked.contains(sid) {
            assert_eq!(verdict, "revoked", "acknowledged revocation of {sid} lost");
        } else if ledger.revoke_attempted.contains(sid) {
            assert!(matches!(verdict, "genuine" | "revoked"), "{sid}: {verdict}");
        } else {
            assert_eq!(verdict, "genuine", "acknowledged session {sid}");
        }
    }
    // Reviews: each report is at its last acknowledged status, or one step further if the next
    // transition committed just before a kill.
    for (id, acked_status) in &ledger.reviewed {
        let d = get_json(&client, format!("{}/v1/reports/{id}", p.base), &sec).await;
        let at = WALK.iter().position(|s| s == acked_status).unwrap();
        let now = WALK
            .iter()
            .position(|s| *s == d["status"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{id}: unexpected status {}", d["status"]));
        assert!(
            now == at || now == at + 1,
            "{id}: acknowledged {acked_status}, now {}",
            d["status"]
        );
    }
    // The audit trail's hash chain is unbroken.
    let audit = cli(dir.path(), &["audit", "verify"]);
    assert!(
        audit.status.success(),
        "audit chain after the kills: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    // SQLite's own structural check (the PostgreSQL run relies on the server's WAL recovery).
    let db = default_db(dir.path());
    if db.starts_with("sqlite") {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(ok, "ok");
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .len();
        assert_eq!(dangling, 0, "rows pointing at nothing");
    }

    eprintln!("checked everything in {:?}", t0.elapsed());
    // The sweeper (interval 1 s here) removes what interrupted uploads left behind.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut stray = Vec::new();
        for l1 in std::fs::read_dir(&attachments).unwrap().flatten() {
            if l1.file_name() == "tmp" {
                stray.extend(
                    std::fs::read_dir(l1.path())
                        .unwrap()
                        .flatten()
                        .map(|e| e.path()),
                );
                continue;
            }
            for l2 in std::fs::read_dir(l1.path()).unwrap().flatten() {
                for f in std::fs::read_dir(l2.path()).unwrap().flatten() {
                    if !referenced.contains(f.file_name().to_str().unwrap()) {
                        stray.push(f.path());
                    }
                }
            }
        }
        if stray.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "orphans not swept: {stray:?}"
        );
    }
    drop(p);
}
