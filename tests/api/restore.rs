//! The backup and restore procedure of docs/operations.md, followed step by step on PostgreSQL
//! (runs when TRUSTDESK_TEST_PG is set, as `.ci/run` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::process::start_on;

fn pg_tool(name: &str) -> PathBuf {
    let candidates = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("bin").join(name));
    candidates
        .chain([
            PathBuf::from("/usr/bin").join(name),
            PathBuf::from("/usr/local/bin").join(name),
        ])
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn documented_backup_and_restore_brings_back_sessions_reports_evidence_and_audit() {
    let Ok(admin_url) = std::env::var("TRUSTDESK_TEST_PG") else {
        eprintln!("TRUSTDESK_TEST_PG not set: restore test skipped (.ci/run sets it)");
        return;
    };
    let old_db = crate::helpers::fresh_pg_database(&admin_url).await;
    let new_db = crate::helpers::fresh_pg_database(&admin_url).await;
    let bin = env!("CARGO_BIN_EXE_trustdesk");
    let live = tempfile::tempdir().unwrap();
    let keys_arg = |d: &Path| d.join("keys").display().to_string();

    // Some state worth restoring.
    let p = start_on(live.path(), &old_db, &[]);
    let cli = |db: &str, dir: &Path, args: &[&str]| {
        run(Command::new(bin)
            .args(["--database-url", db, "--keys-dir", &keys_arg(dir)])
            .args(args))
    };
    let admin = cli(
        &old_db,
        live.path(),
        &["staff", "add", "--name", "admin", "--role", "admin"],
    );
    let agent = cli(
        &old_db,
        live.path(),
        &["staff", "add", "--name", "agent", "--role", "agent"],
    );
    let c = reqwest::Client::new();
    c.post(format!("{}/v1/channels", p.base))
        .bearer_auth(&admin)
        .json(&json!({"kind": "telegram", "value": "@acme_support"}))
        .send()
        .await
        .unwrap();
    let s: Value = c
        .post(format!("{}/v1/sessions", p.base))
        .bearer_auth(&agent)
        .json(&json!({"channel": {"kind": "telegram", "handle": "acme_support"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let evidence = crate::helpers::png(4000);
    let form = reqwest::multipart::Form::new()
        .part(
            "report",
            reqwest::multipart::Part::text(
                json!({"category": "impersonation", "description": "restore me"}).to_string(),
            ),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(evidence.clone()).file_name("shot.png"),
        );
    let r: Value = c
        .post(format!("{}/v1/reports", p.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Backup, online, in the documented order: database, then evidence files, then keys.
    let backup = tempfile::tempdir().unwrap();
    let dump = backup.path().join("trustdesk.dump");
    run(Command::new(pg_tool("pg_dump")).args([
        "--format=custom",
        "--file",
        dump.to_str().unwrap(),
        &old_db,
    ]));
    copy_dir(
        &live.path().join("attachments"),
        &backup.path().join("attachments"),
    );
    copy_dir(&live.path().join("keys"), &backup.path().join("keys"));
    drop(p);

    // Restore onto a new database and empty folders, then start from them.
    run(Command::new(pg_tool("pg_restore")).args([
        "--no-owner",
        "--dbname",
        &new_db,
        dump.to_str().unwrap(),
    ]));
    let restored = tempfile::tempdir().unwrap();
    copy_dir(
        &backup.path().join("attachments"),
        &restored.path().join("attachments"),
    );
    copy_dir(&backup.path().join("keys"), &restored.path().join("keys"));
    let audit = cli(&new_db, restored.path(), &["audit", "verify"]);
    assert!(audit.contains("chain intact"), "{audit}");
    let q = start_on(restored.path(), &new_db, &[]);

    let v: Value = c
        .post(format!("{}/v1/verify", q.base))
        .json(&json!({"input": s["token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["verdict"], "genuine", "session from before the backup");
    let id = r["id"].as_str().unwrap();
    let st = c
        .get(format!("{}/v1/reports/{id}", q.base))
        .bearer_auth(r["receipt"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), 200, "the victim's receipt still works");
    let sec = cli(
        &new_db,
        restored.path(),
        &["staff", "add", "--name", "sec", "--role", "security"],
    );
    let bytes = c
        .get(format!("{}/v1/reports/{id}/attachments/0", q.base))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        Sha256::digest(&bytes),
        Sha256::digest(&evidence),
        "evidence intact"
    );
}
