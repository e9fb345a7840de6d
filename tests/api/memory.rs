//! Server memory does not grow with attachment size: uploads are streamed to disk.

use serde_json::json;

use crate::process::start;

/// Peak resident set size of a process, in KiB (Linux `VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Starts a fresh server, uploads `reports` reports each carrying two files of `size` bytes,
/// and returns the server's peak RSS.
async fn peak_after_uploads(size: usize, reports: usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &[]);
    let client = reqwest::Client::new();
    for n in 0..reports {
        let mut form = reqwest::multipart::Form::new().part(
            "report",
            reqwest::multipart::Part::text(
                json!({"category": "other", "description": "memory"}).to_string(),
            ),
        );
        for i in 0..2u8 {
            let mut bytes = vec![b'a' + (n as u8 % 26); size];
            bytes[0] = b'0' + i; // distinct files, plain text
            form = form.part(
                "attachment",
                reqwest::multipart::Part::bytes(bytes).file_name("chat.txt"),
            );
        }
        let r = client
            .post(format!("{}/v1/reports", p.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    peak_rss_kib(p.child.id())
}

#[tokio::test]
async fn peak_rss_with_10_mib_uploads_stays_within_a_few_mib_of_100_kib_uploads() {
    let small = peak_after_uploads(100 * 1024, 4).await;
    let large = peak_after_uploads(10 * 1024 * 1024, 4).await;
    eprintln!("peak RSS: 2×100 KiB uploads {small} KiB, 2×10 MiB uploads {large} KiB");
    // 80 MiB went through the large server. Holding even one 10 MiB file would break this bound;
    // what remains is bounded I/O buffers (tokio's file write buffer, blocking-pool stacks).
    assert!(
        large <= small + 8 * 1024,
        "memory grew with attachment size: {small} KiB -> {large} KiB"
    );
}
