//! `TestApp`: one method per endpoint, so tests read like what a user does.

use std::sync::Arc;

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use trustdesk::app::App;
use trustdesk::config::Config;
use trustdesk::storage::Store;
use trustdesk::tokens::{self, paseto, Keyring, SessionClaims};
use trustdesk::types::{now, rfc3339, Role};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub admin_key: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        trustdesk::telemetry::init_logging(trustdesk::config::LogFormat::Text, "debug");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::for_dir(dir.path());
    // TRUSTDESK_TEST_PG=postgres://user@host/db runs the same suite on PostgreSQL: each test gets
    // a fresh database created through that URL.
    if let Ok(admin) = std::env::var("TRUSTDESK_TEST_PG") {
        config.database_url = trustdesk::config::DatabaseUrl(fresh_pg_database(&admin).await);
    }
    tweak(&mut config);
    let app = App::build(config.clone()).await.expect("app builds");
    let port = app.port();
    let store = app.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let (_, admin_key) =
        trustdesk::staff::create(store.as_ref(), &format!("root-admin-{port}"), Role::Admin)
            .await
            .expect("admin");
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        store,
        config,
        admin_key: admin_key.to_string(),
        _dir: dir,
        _stop: stop,
    }
}

/// Creates an empty database on the server behind `admin_url` and returns its URL.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    let name = format!("td_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("TRUSTDESK_TEST_PG reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let mut url = url::Url::parse(admin_url).expect("TRUSTDESK_TEST_PG is a URL");
    url.set_path(&name);
    url.to_string()
}

pub fn is_pg(app: &TestApp) -> bool {
    app.config.database_url.0.starts_with("postgres")
}

/// Runs one statement directly on the test database, bypassing the service (tamper tests).
pub async fn raw_execute(app: &TestApp, sql: &str, bind: Option<&str>) {
    let url = &app.config.database_url.0;
    if is_pg(app) {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let mut q = sqlx::query(sql);
        if let Some(b) = bind {
            q = q.bind(b);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let mut q = sqlx::query(sql);
        if let Some(b) = bind {
            q = q.bind(b);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    }
}

pub async fn json(r: Response) -> Value {
    r.json::<Value>().await.expect("JSON body")
}

/// Asserts a problem response: status, content type and stable code.
pub async fn assert_problem(r: Response, status: u16, code: &str, why: &str) {
    assert_eq!(r.status().as_u16(), status, "{why}: status");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json", "{why}: content type");
    let body = json(r).await;
    assert_eq!(body["code"], code, "{why}: code in {body}");
    assert_eq!(body["status"], status, "{why}: status field");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{why}: detail"
    );
}

pub struct Agent {
    pub id: String,
    pub key: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn create_staff(&self, name: &str, role: Role) -> Agent {
        let (s, key) = trustdesk::staff::create(self.store.as_ref(), name, role)
            .await
            .expect("staff");
        Agent {
            id: s.id,
            key: key.to_string(),
        }
    }

    pub async fn register_channel(
        &self,
        kind: &str,
        value: &str,
        agent_id: Option<&str>,
    ) -> Response {
        let mut body = json!({"kind": kind, "value": value});
        if let Some(a) = agent_id {
            body["agent_id"] = json!(a);
        }
        self.client
            .post(self.url("/v1/channels"))
            .bearer_auth(&self.admin_key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// An agent with its own official Telegram channel, ready to issue sessions.
    pub async fn agent_with_channel(&self, name: &str, telegram: &str) -> Agent {
        let agent = self.create_staff(name, Role::Agent).await;
        let r = self
            .register_channel("telegram", telegram, Some(&agent.id))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        agent
    }

    pub async fn issue_session(&self, key: &str, body: Value) -> Response {
        self.client
            .post(self.url("/v1/sessions"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Issues a session on a Telegram handle and returns the JSON answer (asserting 201).
    pub async fn new_session(&self, agent: &Agent, telegram: &str) -> Value {
        let r = self
            .issue_session(
                &agent.key,
                json!({"channel": {"kind": "telegram", "handle": telegram}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        json(r).await
    }

    pub async fn verify(&self, input: &str) -> Response {
        self.client
            .post(self.url("/v1/verify"))
            .json(&json!({ "input": input }))
            .send()
            .await
            .expect("request")
    }

    pub async fn verdict_of(&self, input: &str) -> Value {
        let r = self.verify(input).await;
        assert_eq!(r.status(), StatusCode::OK);
        json(r).await
    }

    pub async fn verify_batch(&self, inputs: &[String]) -> Response {
        self.client
            .post(self.url("/v1/verify/batch"))
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .expect("request")
    }

    /// A counter or gauge from `/metrics` (summed over its label sets matching `labels`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics");
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(labels))
            .filter(|l| l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub async fn revoke(&self, key: &str, session_id: &str) -> Response {
        self.client
            .post(self.url(&format!("/v1/sessions/{session_id}/revoke")))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    pub async fn check_channel(&self, kind: &str, value: &str) -> Value {
        let r = self
            .client
            .get(self.url("/v1/channels/check"))
            .query(&[("kind", kind), ("value", value)])
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "check {kind} {value}");
        json(r).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_admin(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.admin_key)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_admin(&self, path: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.admin_key)
            .send()
            .await
            .expect("request")
    }

    /// The server's own key set, read from its key directory, for signing crafted tokens.
    pub fn server_keys(&self) -> Keyring {
        Keyring::load_or_create(&self.config.keys_dir).expect("keys")
    }

    /// Claims as the server would sign them, valid for `[iat, exp)`.
    pub fn claims(&self, iat: i64, exp: i64) -> SessionClaims {
        SessionClaims {
            iss: self.config.public_base_url.clone(),
            aud: tokens::AUDIENCE.into(),
            sub: "agent-x".into(),
            jti: uuid_like(),
            iat: rfc3339(iat),
            nbf: rfc3339(iat),
            exp: rfc3339(exp),
            agent_name: "Crafted".into(),
            channel_kind: "telegram".into(),
            channel_handle: "acme_support".into(),
            user_ref_last4: None,
        }
    }

    /// Signs `claims` with the server's active key and records the session, exactly as the
    /// server would when issuing it (used to craft expired / not-yet-valid sessions).
    pub async fn sign_with_server_key(&self, claims: &SessionClaims) -> String {
        let set = self.server_keys().current();
        let agent_id = match self.store.staff_by_id(&claims.sub).await.unwrap() {
            Some(s) => s.id,
            None => {
                let rec = trustdesk::storage::StaffRecord {
                    id: claims.sub.clone(),
                    name: format!("crafted-{}", claims.sub),
                    role: "agent".into(),
                    created_at: now(),
                    disabled_at: None,
                };
                self.store.insert_staff(&rec, &uuid_like()).await.unwrap();
                rec.id
            }
        };
        let parse = |t: &str| trustdesk::tokens::claims::parse_time(t).unwrap();
        self.store
            .insert_session(&trustdesk::storage::SessionRecord {
                jti: claims.jti.clone(),
                agent_id,
                kid: set.active_kid().to_owned(),
                channel_kind: claims.channel_kind.clone(),
                channel_value: claims.channel_handle.clone(),
                user_ref_last4: None,
                code_hash: uuid_like(),
                issued_at: parse(&claims.iat),
                expires_at: parse(&claims.exp),
                revoked_at: None,
                revoked_by: None,
            })
            .await
            .unwrap();
        sign(set.signing_key(), set.active_kid(), claims)
    }
}

pub fn sign(key: &ed25519_dalek::SigningKey, kid: &str, claims: &SessionClaims) -> String {
    paseto::sign(
        key,
        &serde_json::to_vec(claims).expect("claims"),
        tokens::footer_for(kid).as_bytes(),
        tokens::IMPLICIT_ASSERTION,
    )
}

pub fn uuid_like() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A minimal valid PNG header followed by padding: sniffed as PNG.
pub fn png(len: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.resize(len.max(8), 0x42);
    v
}

impl TestApp {
    /// `POST /v1/reports` with a JSON `report` part and file parts `(name, bytes)`.
    pub async fn submit_report(
        &self,
        report: &Value,
        files: &[(&str, Vec<u8>)],
        idem: Option<&str>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new().part(
            "report",
            reqwest::multipart::Part::text(report.to_string())
                .mime_str("application/json")
                .unwrap(),
        );
        for (name, bytes) in files {
            form = form.part(
                "attachment",
                reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name.to_string())
                    .mime_str("image/png")
                    .unwrap(),
            );
        }
        let mut req = self.client.post(self.url("/v1/reports")).multipart(form);
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        req.send().await.expect("request")
    }

    /// Downloads attachment `idx` of report `id` as `key` (asserting 200).
    pub async fn download(&self, key: &str, id: &str, idx: usize) -> Vec<u8> {
        let r = self
            .client
            .get(self.url(&format!("/v1/reports/{id}/attachments/{idx}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "download {id} #{idx}");
        r.bytes().await.expect("body").to_vec()
    }

    pub async fn report_status(&self, id: &str, bearer: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/reports/{id}")))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request")
    }

    /// Every file under the attachment store (blobs and temporaries).
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else {
                        out.push(path);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.config.attachments_dir, &mut out);
        out
    }
}

/// A report that already carries an escalation (fast queue seeding for tests).
pub fn seed_bundle(
    id: &str,
    t: i64,
    esc: trustdesk::storage::NewEscalation,
) -> trustdesk::storage::NewReportBundle {
    use trustdesk::storage::{NewReportBundle, ReportEventRecord, ReportRecord};
    NewReportBundle {
        report: ReportRecord {
            id: id.to_owned(),
            receipt_hash: "x".into(),
            status: "confirmed_fraud".into(),
            category: "impersonation".into(),
            priority: esc.record.priority.clone(),
            triage: "none".into(),
            triage_reasons: "[]".into(),
            description: "seeded".into(),
            scam_channel_kind: None,
            scam_channel_value: None,
            presented_token: None,
            token_verdict: None,
            transactions: "[]".into(),
            amount_lost: None,
            asset: None,
            occurred_at: None,
            reporter_contact: None,
            locale: "en".into(),
            related_to: None,
            created_at: t,
            updated_at: t,
            first_response_by: t + 900,
            claimed_channel_kind: None,
            claimed_channel_value: None,
            claimed_agent: None,
            claimed_channel_id: None,
            claimed_agent_id: None,
            contact_opt_in: 0,
            law_enforcement_opt_in: 0,
            reporter_key: None,
            confidence: "confirmed".into(),
            duplicate_of: None,
            fired_rules: "[]".into(),
        },
        attachments: vec![],
        first_event: ReportEventRecord {
            report_id: id.to_owned(),
            seq: 1,
            at: t,
            kind: "received".into(),
            public_en: "seeded".into(),
            public_zh: "seeded".into(),
            internal_note: None,
            actor_id: None,
        },
        idempotency: None,
        escalation: Some(esc),
        identifiers: vec![],
        raise: vec![],
        followup: None,
    }
}

/// A Python virtualenv with the given pinned PyPI packages, made once under the target directory
/// (so plain `cargo test` works on a fresh machine) and reused by later runs. Returns the
/// venv's `bin` directory. Tests in one process that ask for the same venv wait for each other.
pub fn python_venv(name: &str, packages: &[&str]) -> std::path::PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let bin = venv.join("bin");
    let ready = venv.join(".ready");
    let want = packages.join(" ");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(want.as_str()) {
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().expect("run python3");
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(std::process::Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv));
        run(std::process::Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages));
        std::fs::write(&ready, &want).expect("mark venv");
    }
    bin
}
