//! kill -9 while reports are being uploaded: every acknowledged report survives whole, nothing
//! is half-stored, and orphaned files are swept after restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::process::{staff_key, start};

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

async fn upload_loop(base: String, worker: u64, acked: Arc<Mutex<Vec<Acked>>>) {
    let client = reqwest::Client::new();
    for n in 0u64.. {
        let seed = worker * 1_000_000 + n;
        let files: Vec<Vec<u8>> = (0..3)
            .map(|i| evidence(seed * 10 + i, 150_000 + (seed as usize % 7) * 40_000))
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
        acked.lock().unwrap().push(Acked {
            id: body["id"].as_str().unwrap().to_owned(),
            receipt: body["receipt"].as_str().unwrap().to_owned(),
            digests: files
                .iter()
                .map(|f| format!("{:x}", Sha256::digest(f)))
                .collect(),
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_uploads_loses_nothing_acknowledged_and_leaves_no_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let attachments = dir.path().join("attachments");
    // `start` puts attachments in `<dir>/attachments`.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::new(Mutex::new(Vec::new()));

    // Three crashes at different moments, then a clean restart to check everything.
    for (round, after_ms) in [(0u64, 400u64), (1, 650), (2, 250)] {
        let mut p = start(dir.path(), &[]);
        let workers: Vec<_> = (0..4)
            .map(|w| tokio::spawn(upload_loop(p.base.clone(), round * 10 + w, acked.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        p.child.kill().unwrap(); // SIGKILL: no graceful anything
        p.child.wait().unwrap();
        for w in workers {
            let _ = w.await;
        }
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!("acknowledged before the kills: {}", acked.len());
    let t0 = std::time::Instant::now();
    assert!(
        acked.len() >= 3,
        "the test must acknowledge some reports before the kills ({})",
        acked.len()
    );

    let p = start(
        dir.path(),
        &["--cleanup-interval-secs", "1", "--upload-timeout-secs", "1"],
    );
    let sec = staff_key(dir.path(), "sec", "security");
    let client = reqwest::Client::new();
    for (n, a) in acked.iter().enumerate() {
        let victim = client
            .get(format!("{}/v1/reports/{}", p.base, a.id))
            .bearer_auth(&a.receipt)
            .send()
            .await
            .unwrap();
        assert_eq!(
            victim.status(),
            200,
            "acknowledged report {} must survive",
            a.id
        );
        let d: Value = client
            .get(format!("{}/v1/reports/{}", p.base, a.id))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
        // Downloads re-hash on the server; a sample keeps the test fast (the disk check below
        // covers every blob).
        for i in (0..3).filter(|_| n % 10 == 0) {
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

    eprintln!("checked acknowledged in {:?}", t0.elapsed());
    // Every report in the database (acknowledged or committed just before a kill) is whole.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}/v1/reports?limit=100&cursor={c}", p.base),
            None => format!("{}/v1/reports?limit=100", p.base),
        };
        let page: Value = client
            .get(url)
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    assert!(all.len() >= acked.len());
    let mut referenced = std::collections::HashSet::new();
    for id in &all {
        let d: Value = client
            .get(format!("{}/v1/reports/{id}", p.base))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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

    eprintln!("checked all {} in {:?}", all.len(), t0.elapsed());
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
