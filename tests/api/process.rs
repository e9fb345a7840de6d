//! The real binary as a separate process: first-run key creation, graceful shutdown on SIGTERM,
//! and `keys rotate` from the CLI picked up by a running server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Proc {
    pub child: Child,
    pub base: String,
    /// Everything the process logged (JSON lines), for tests that check what logs never hold.
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_trustdesk")
}

fn common_args(dir: &Path) -> Vec<String> {
    args_for(dir, &default_db(dir))
}

/// The database a process test uses: SQLite in `dir`, or, when TRUSTDESK_TEST_PG is set, a fresh
/// PostgreSQL database (one per `dir`, remembered in `dir/pg-url`), so the PostgreSQL run covers
/// the process tests too.
pub fn default_db(dir: &Path) -> String {
    let Ok(admin) = std::env::var("TRUSTDESK_TEST_PG") else {
        return format!("sqlite://{}", dir.join("db/trustdesk.db").display());
    };
    let marker = dir.join("pg-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url;
    }
    // Called from async tests: create the database on a thread with its own runtime.
    let url = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(crate::helpers::fresh_pg_database(&admin))
    })
    .join()
    .expect("could not create a PostgreSQL test database");
    std::fs::write(&marker, &url).unwrap();
    url
}

fn args_for(dir: &Path, db: &str) -> Vec<String> {
    vec![
        "--database-url".into(),
        db.into(),
        "--keys-dir".into(),
        dir.join("keys").display().to_string(),
        "--attachments-dir".into(),
        dir.join("attachments").display().to_string(),
    ]
}

/// Starts `trustdesk serve` on an ephemeral port and waits until it listens.
pub fn start(dir: &Path, extra: &[&str]) -> Proc {
    start_on(dir, &default_db(dir), extra)
}

/// Like [`start`], on the given database (several processes may share one).
pub fn start_on(dir: &Path, db: &str, extra: &[&str]) -> Proc {
    let mut child = Command::new(bin())
        .args(args_for(dir, db))
        .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
        // Load-style process tests would trip the default limits; the limits have their own tests.
        .args(if extra.contains(&"--rate-limits") {
            &[][..]
        } else {
            &["--rate-limits", "off"][..]
        })
        .args(extra)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = logs.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut l) = kept.lock() {
                l.push(line.clone());
            }
            if !sent {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if let Some(addr) = v["fields"]["addr"].as_str() {
                        let _ = tx.send(addr.to_owned());
                        sent = true;
                    }
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server listening");
    Proc {
        child,
        base: format!("http://{addr}"),
        logs,
    }
}

pub fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(common_args(dir))
        .args(args)
        .output()
        .expect("run cli")
}

pub fn staff_key(dir: &Path, name: &str, role: &str) -> String {
    let out = cli(dir, &["staff", "add", "--name", name, "--role", role]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn first_run_creates_database_and_private_key_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(dir.path(), &[]);
    if default_db(dir.path()).starts_with("sqlite") {
        assert!(dir.path().join("db/trustdesk.db").exists());
    }
    let private = std::fs::read_dir(dir.path().join("keys/private"))
        .unwrap()
        .count();
    assert_eq!(private, 1, "one private key generated");
    let r = reqwest::get(format!("{}/readyz", p.base)).await.unwrap();
    assert_eq!(r.status(), 200);

    let pid = p.child.id().to_string();
    // The shell's built-in kill: no dependency on a procps package.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit code: {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cli_rotation_is_picked_up_by_a_running_server_and_old_tokens_stay_genuine() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &["--key-reload-secs", "1"]);
    let admin = staff_key(dir.path(), "admin", "admin");
    let agent = staff_key(dir.path(), "agent", "agent");
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/channels", p.base))
        .bearer_auth(&admin)
        .json(&json!({"kind": "telegram", "value": "@acme_support"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let issue = || async {
        let r = client
            .post(format!("{}/v1/sessions", p.base))
            .bearer_auth(&agent)
            .json(&json!({"channel": {"kind": "telegram", "handle": "acme_support"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()
    };
    let before = issue().await;

    let out = cli(dir.path(), &["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains("verify-only") && listing.contains("active"),
        "{listing}"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let s = issue().await;
        if s["kid"] != before["kid"] {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "running server never picked up the new key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for s in [&before, &after] {
        let v: Value = client
            .post(format!("{}/v1/verify", p.base))
            .json(&json!({"input": s["token"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["verdict"], "genuine");
    }
    // Private keys of rotated-out keys are gone from disk.
    let private = std::fs::read_dir(dir.path().join("keys/private"))
        .unwrap()
        .count();
    assert_eq!(private, 1);
}
