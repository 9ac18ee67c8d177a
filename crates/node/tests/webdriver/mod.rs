//! A small W3C WebDriver client over HTTP, driving Debian's headless Chromium through
//! chromedriver (installed by `scripts/install-browser`).
//!
//! Without a browser the tests that need one say so and pass, except under `CAIRN_CI`, where
//! they fail: CI installs the browser and must never skip them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running chromedriver, or `None` (after saying why) when the browser is not installed.
pub struct Driver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Driver {
    pub fn start() -> Option<Driver> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var_os("CAIRN_CI").is_none(),
                "CI must run the browser tests: {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (scripts/install-browser installs them)"
            );
            eprintln!(
                "SKIPPED: browser tests need Debian's chromium and chromium-driver \
                 (run scripts/install-browser)"
            );
            return None;
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(mut response) = driver.agent.get(&format!("{}/status", driver.url)).call()
                && let Ok(status) = response.body_mut().read_json::<Value>()
                && status["value"]["ready"] == true
            {
                return Some(driver);
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new browser window (its own profile: no cookies shared with other sessions).
    pub fn session(&self) -> Session {
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let answer = post(&self.agent, &format!("{}/session", self.url), &capabilities);
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Session {
            agent: self.agent.clone(),
            url: format!("{}/session/{id}", self.url),
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Value {
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let answer: Value = response.body_mut().read_json().unwrap();
    answer["value"].clone()
}

/// One browser window.
pub struct Session {
    agent: ureq::Agent,
    url: String,
    _profile: tempfile::TempDir,
}

/// A WebDriver error answer, if `value` is one.
fn error_of(value: &Value) -> Option<String> {
    value["error"]
        .as_str()
        .map(|error| format!("{error}: {}", value["message"]))
}

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let mut response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string().as_bytes()),
        }
        .unwrap();
        let answer: Value = response.body_mut().read_json().unwrap();
        answer["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        let answer = self.call("POST", "/url", Some(json!({"url": url})));
        assert!(error_of(&answer).is_none(), "{answer}");
    }

    pub fn current_url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// The browser's cookies for the current page (HttpOnly ones too): (name, value).
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.call("GET", "/cookie", None)
            .as_array()
            .into_iter()
            .flatten()
            .map(|cookie| {
                (
                    cookie["name"].as_str().unwrap_or_default().to_string(),
                    cookie["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn run(&self, script: &str, args: Value) -> Value {
        let answer = self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        );
        assert!(error_of(&answer).is_none(), "{script}: {answer}");
        answer
    }

    /// The first element matching `css`, if any now.
    pub fn find_now(&self, css: &str) -> Option<Element<'_>> {
        let answer = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        answer[ELEMENT].as_str().map(|id| Element {
            session: self,
            id: id.to_string(),
            css: css.to_string(),
        })
    }

    /// Waits for an element matching `css`.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.wait(&format!("an element {css}"), || self.find_now(css))
    }

    /// Waits for `css` to show `text` (exactly, trimmed).
    pub fn wait_text(&self, css: &str, text: &str) -> Element<'_> {
        self.wait(&format!("{css} to read {text:?}"), || {
            self.find_now(css)
                .filter(|element| element.text().trim() == text)
        })
    }

    /// Polls `check` until it gives something; fails with a screenshot and the page's text
    /// after [`PATIENCE`].
    pub fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = check() {
                return found;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot(&format!("failed-{}", std::process::id()));
                let text = self.run("return document.body.innerText", json!([]));
                panic!(
                    "waited in vain for {what} at {} (screenshot {}); the page:\n{text}",
                    self.current_url(),
                    shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot as `NAME.png` under the target directory's `screenshots/`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_default();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.url).call();
    }
}

/// An element of the page.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
    css: String,
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    pub fn text(&self) -> String {
        self.session
            .call("GET", &self.path("/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn attribute(&self, name: &str) -> Option<String> {
        self.session
            .call("GET", &self.path(&format!("/attribute/{name}")), None)
            .as_str()
            .map(ToString::to_string)
    }

    pub fn click(&self) {
        let answer = self.session.call("POST", &self.path("/click"), None);
        assert!(error_of(&answer).is_none(), "click {}: {answer}", self.css);
    }

    /// Replaces the field's value with `text` (typed, as a person would).
    pub fn type_text(&self, text: &str) {
        self.session.call("POST", &self.path("/clear"), None);
        let answer = self
            .session
            .call("POST", &self.path("/value"), Some(json!({"text": text})));
        assert!(
            error_of(&answer).is_none(),
            "type into {}: {answer}",
            self.css
        );
    }
}
