//! Headless Chromium from Debian's packages, driven by Debian's `chromedriver` over the
//! W3C WebDriver protocol (a few JSON requests; no client crate, no browser download).
//! Browser tier: `cargo xtask test` installs `chromium` and `chromium-driver` and sets
//! `CASCADE_CHROMIUM` and `CASCADE_CHROMEDRIVER`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The flags that work on this machine (issue 15 §4), plus a fresh profile per session.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,900",
];

fn driver_bin() -> PathBuf {
    match std::env::var_os("CASCADE_CHROMEDRIVER").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "browser tier: CASCADE_CHROMEDRIVER is not set (Debian's chromium-driver); `cargo xtask test --tier browser` sets it up"
        ),
    }
}

/// One browser session; dropping it ends the session and the driver.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::blocking::Client,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A fresh directory removed on drop (the browser's profile).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Browser {
    pub fn start() -> Browser {
        crate::service::install_tls_provider();
        let chromium = crate::tier::chromium();
        let port = crate::service::free_port();
        let driver = Command::new(driver_bin())
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = crate::service::scratch_dir("chromium-profile");
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            client,
            _profile: tempdir::Dir(profile),
        };
        let answer = browser.call("POST", "/session", caps);
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self.client.post(url).json(&body),
            "DELETE" => self.client.delete(url),
            _ => self.client.get(url),
        };
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let status = response.status();
        let value: Value = response.json().unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {value}"
        );
        value["value"].clone()
    }

    fn session(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", &self.session("/url"), json!({ "url": url }));
    }

    /// Runs `script` (a function body: `return ...`) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session("/execute/sync"),
            json!({"script": script, "args": []}),
        )
    }

    /// Polls `script` until `until` accepts its value, at most `limit`.
    pub fn wait_for(&self, script: &str, limit: Duration, until: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(script);
            if until(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed it: `{script}` is {value}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window.
    pub fn screenshot(&self, path: &Path) {
        let data = self.call("GET", &self.session("/screenshot"), Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or(""))
            .expect("the screenshot is base64");
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}{}", self.base, self.session(""));
            let _ = self.client.delete(url).send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
