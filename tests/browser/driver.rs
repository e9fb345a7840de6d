//! One headless Chromium per test, behind its own chromedriver on a free port.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp};

/// At most two browsers at once: each Chromium wants a core of its own to stay responsive.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub struct Browser {
    pub c: Client,
    _driver: DriverProcess,
    shots: Option<PathBuf>,
    _profile: tempfile::TempDir,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server whose public base URL is its real address, so identity links open in the browser.
pub async fn spawn_server() -> TestApp {
    let port = free_port();
    spawn_app_with(|c| {
        c.bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        c.public_base_url = format!("http://127.0.0.1:{port}");
    })
    .await
}

fn program(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium with an empty profile, at phone size.
    pub async fn start() -> Browser {
        let slot = SLOTS.acquire().await.expect("semaphore");
        let chromedriver = program("TRUSTDESK_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("TRUSTDESK_CHROMIUM", "/usr/bin/chromium");
        assert!(
            std::path::Path::new(&chromedriver).exists()
                && std::path::Path::new(&chromium).exists(),
            "browser tests need {chromium} and {chromedriver}: \
             apt-get install chromium chromium-driver (.ci/run does this)"
        );
        let port = free_port();
        // Its own process group, so that killing the group also ends the Chromium it started.
        let driver = DriverProcess(
            Command::new(&chromedriver)
                .process_group(0)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-extensions",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut tries = 0;
        let c = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver at {url}: {e}"),
            }
        };
        c.set_window_size(412, 915).await.expect("window size");
        Browser {
            c,
            _driver: driver,
            shots: std::env::var_os("TRUSTDESK_SCREENSHOTS").map(PathBuf::from),
            _profile: profile,
            _slot: slot,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.expect("navigate");
    }

    /// Waits for an element (pages load after a click without telling WebDriver).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks a submit button and waits until the next page has replaced this one.
    pub async fn submit(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        // The old document's root goes stale once the browser has navigated away.
        for _ in 0..300 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page did not change after clicking {css}");
    }

    pub async fn url(&self) -> String {
        self.c.current_url().await.expect("url").to_string()
    }

    /// Saves the viewport as `name.png` when screenshots were asked for.
    pub async fn shot(&self, name: &str) {
        if let Some(dir) = &self.shots {
            std::fs::create_dir_all(dir).expect("screenshot dir");
            let png = self.c.screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
        }
    }

    pub async fn wide(&self) {
        self.c
            .set_window_size(1280, 900)
            .await
            .expect("window size");
    }

    /// Ends the browser session cleanly; dropping the browser kills what is left.
    pub async fn close(self) {
        let Browser { c, _driver, .. } = self;
        // `close` waits for every other handle (elements hold one) to go; bounded, since the
        // process group is killed right after anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    }
}

/// chromedriver and everything it started: killed as a process group when dropped, also when a
/// test panics half-way.
struct DriverProcess(Child);

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
