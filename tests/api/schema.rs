//! schemathesis (from PyPI) against the served `/openapi.json`: property-based requests to every
//! operation, as each staff role and as a receipt holder, checking that no answer is a 5xx, every
//! status is documented, every answer matches its schema and every documented error is
//! `application/problem+json`. A short run here (8 s per role), from a fixed seed so that a red
//! CI run can be replayed and runs vary only as far as the time cut does;
//! `scripts/fuzz/schemathesis.sh` runs it longer, from fresh seeds, to find what this seed does
//! not reach.

use serde_json::json;
use trustdesk::types::Role;

use crate::helpers::{json, png, python_venv, spawn_app};

/// Pinned so a new release cannot change what CI checks without a commit.
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The generator's seed in CI (`scripts/fuzz/schemathesis.sh` takes fresh ones).
const SEED: &str = "20261129";

/// The checks run: server errors, documented statuses, content types, response schemas.
pub const CHECKS: &str =
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let app = spawn_app().await;
    // Real data behind the list and detail endpoints, so their response schemas are exercised
    // with items in them, not only empty lists.
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    app.new_session(&agent, "@acme_support").await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let r = app
        .submit_report(
            &json!({"category": "impersonation", "description": "fake support asked for my seed",
                "scam_channel": {"kind": "telegram", "handle": "@acme_helpdesk"}}),
            &[("chat.png", png(2_000))],
            None,
        )
        .await;
    assert_eq!(r.status(), 201);
    let receipt = json(r).await["receipt"].as_str().unwrap().to_owned();

    let bin = python_venv("schemathesis-venv", &[SCHEMATHESIS]);
    let work = tempfile::tempdir().unwrap();
    let schema = app.url("/openapi.json");
    for (who, key) in [
        ("admin", app.admin_key.as_str()),
        ("security", sec.key.as_str()),
        ("agent", agent.key.as_str()),
        ("receipt holder", receipt.as_str()),
    ] {
        let mut cmd = std::process::Command::new(bin.join("schemathesis"));
        cmd.current_dir(work.path())
            .env("NO_COLOR", "1")
            .args(["run", &schema, "--checks", CHECKS])
            // Not the `coverage` phase: in CI it once crashed inside schemathesis itself (a
            // KeyError in its coverage generator), failing the run without any finding about the
            // API. scripts/fuzz/schemathesis.sh still runs it.
            .args(["--phases", "examples,fuzzing"])
            // The time covers both phases, and the examples phase alone has taken 5–6 s here:
            // at 8 s the fuzzing was left about 2 s and 58–98 cases (seen on 2026-12-07, on a
            // build that had given 177–300 before). 16 s leaves it ten seconds or more.
            .args(["--seed", SEED, "--max-time", "16"])
            .args(["--workers", "2", "--request-timeout", "10"])
            .args(["--header", &format!("Authorization: Bearer {key}")]);
        // Off the runtime's thread: the server runs on this test's runtime and must keep answering.
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("run schemathesis");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // A finding about the API is a line naming a failed check ("- ST105 Undocumented
        // Content-Type"). schemathesis also exits non-zero when it crashes internally (a
        // "Runtime Error", seen twice in CI as a KeyError inside its generators); that says
        // nothing about the service, so it is reported but does not fail the suite. The summary
        // check below still fails a run that did not really happen.
        let findings = stdout
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                l.starts_with("- ST")
                    && l.as_bytes()
                        .get(4..7)
                        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            })
            .count();
        assert!(
            findings == 0,
            "schemathesis as {who} found failures:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            eprintln!(
                "!! schemathesis as {who} exited with an error but reported no finding:\n{stdout}"
            );
        }
        // It must really have run: every operation of the document tested ("Selected: 41/41",
        // "Tested: 41"), and a summary line "N generated, N passed" with N over a hundred. How
        // many cases fit in the time depends on the machine (177 to 300-odd have been seen; a
        // fixed 200 failed once on PostgreSQL without any finding), so the count is a floor
        // against an empty run, and the coverage is what is required.
        let field = |name: &str| {
            stdout.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(name)
                    .map(str::trim)
                    .map(str::to_owned)
            })
        };
        let total: Option<u64> = field("Selected:")
            .and_then(|v| v.split_once('/').and_then(|(_, t)| t.trim().parse().ok()));
        let tested: Option<u64> = field("Tested:").and_then(|v| v.parse().ok());
        assert!(
            total.is_some_and(|t| t >= 30) && tested == total,
            "schemathesis as {who} did not test every operation:\n{stdout}"
        );
        let generated: u64 = stdout
            .lines()
            .find_map(|l| l.trim().split_once(" generated, "))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or(0);
        eprintln!("schemathesis as {who}: {generated} test cases");
        assert!(generated >= 100, "too few test cases as {who}:\n{stdout}");
    }
}
