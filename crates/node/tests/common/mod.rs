//! Shared harness for the process-level tests: start real `cairn` processes, talk HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cairn_primitives::dev::{DEV_CHAIN_ID, dev_account_key};
use cairn_primitives::{Address, SecretKey, SignedTransaction, Transaction};
use serde_json::Value;

/// Path of the binary under test.
pub fn cairn_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cairn")
}

/// A `cairn devnet` (or `cairn node`) process.
pub struct TestNode {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// What it printed on stdout so far.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestNode {
    /// Starts `cairn devnet` on a free port with fast blocks.
    pub fn devnet(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "devnet",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ];
        // Fast blocks by default; the caller's values win.
        for (flag, default) in [("--block-time-ms", "200"), ("--min-block-txs", "50")] {
            if !extra.contains(&flag) {
                args.extend([flag, default]);
            }
        }
        args.extend_from_slice(extra);
        Self::spawn(data_dir, &args)
    }

    /// Starts the binary with `args` and waits for its "Listening on" line.
    pub fn spawn(data_dir: &Path, args: &[&str]) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.with_extension(format!("log-{}", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(cairn_bin())
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start cairn");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                lines.lock().unwrap().push(line.clone());
                if let Some(url) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "node did not start; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Self {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            log,
            stdout: printed,
        }
    }

    /// The admin a devnet printed at its start: (user, password).
    pub fn devnet_admin(&self) -> (String, String) {
        let printed = self.stdout.lock().unwrap();
        let line = printed
            .iter()
            .find(|line| line.starts_with("Admin ("))
            .unwrap_or_else(|| panic!("no admin line in {printed:?}"));
        let (_, rest) = line.split_once("): user ").unwrap();
        let (user, password) = rest.split_once(", password ").unwrap();
        (user.to_string(), password.to_string())
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs a client command against this node.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(cairn_bin())
            .arg("--node")
            .arg(&self.url)
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a client command with `--json` and parses its stdout; panics on failure.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "cairn {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn http(&self) -> Http {
        Http::new(&self.url)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP client that never treats a status as an error.
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: base.to_string(),
            agent,
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.try_get(path).unwrap()
    }

    /// GET that reports a vanished node as an error instead of panicking.
    pub fn try_get(&self, path: &str) -> Result<(u16, Value), ureq::Error> {
        let response = self.agent.get(&format!("{}{path}", self.base)).call()?;
        read(response)
    }

    /// A request with a session's bearer token (if any) and a JSON body (if any).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some(body) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        read(response.unwrap()).unwrap()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.try_post_json(path, body).unwrap()
    }

    /// POST that reports a vanished node as an error instead of panicking.
    pub fn try_post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), ureq::Error> {
        self.try_post_bytes(path, "application/json", body.to_string().into_bytes())
    }

    pub fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.try_post_bytes(path, content_type, body).unwrap()
    }

    fn try_post_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Value), ureq::Error> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", content_type)
            .send(&body[..])?;
        read(response)
    }

    /// Polls a transaction until it is committed or failed.
    pub fn wait_for(&self, hash: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (_, body) = self.get(&format!("/v1/transactions/{hash}"));
            match body["status"].as_str() {
                Some("committed") | Some("failed") => return body,
                _ if Instant::now() > deadline => panic!("{hash} not committed in time: {body}"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn status(&self) -> Value {
        let (code, body) = self.get("/v1/status");
        assert_eq!(code, 200, "{body}");
        body
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<(u16, Value), ureq::Error> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A signed transfer in the API's JSON form.
pub fn tx_json(tx: &SignedTransaction) -> Value {
    serde_json::json!({
        "chain_id": tx.chain_id(),
        "nonce": tx.nonce(),
        "to": format!("{:#x}", tx.transfer().expect("a transfer").to),
        "amount": tx.amount().to_string(),
        "public_key": tx.public_key().to_string(),
        "signature": format!("0x{}", hex::encode(tx.signature().0)),
    })
}

pub fn transfer(
    from: &impl cairn_primitives::TransactionSigner,
    nonce: u64,
    to: Address,
    amount: u128,
) -> SignedTransaction {
    Transaction {
        chain_id: DEV_CHAIN_ID,
        nonce,
        to,
        amount,
    }
    .sign(from)
}

pub fn dev(index: u32) -> SecretKey {
    dev_account_key(index)
}

/// Dev account `index` of a `suite` chain.
pub fn dev_for(suite: &str, index: u32) -> cairn_primitives::AccountKey {
    cairn_primitives::dev::dev_account_key_for(suite.parse().unwrap(), index)
}

/// A base port P such that P..P+n (HTTP) and P+1000..P+1000+n (p2p) are free right now.
/// Tests in this binary run in parallel: each takes its own slice of the port range, all below
/// the kernel's ephemeral ports (from 32768), which outgoing connections may take at any time.
pub fn free_base_port(n: u16) -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let process_offset = (std::process::id() % 200) as u16 * 100;
    for _ in 0..100 {
        let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100;
        let base = 10_000 + (process_offset + slot * 10) % 20_000;
        let free = (0..n).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + 1_000 + i)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free ports");
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the node a `testnet init` plan describes.
pub fn start(plan: &Value) -> TestNode {
    let config = plan["config"].as_str().unwrap();
    let dir = Path::new(config).parent().unwrap().to_path_buf();
    TestNode::spawn(&dir.join("run"), &["node", "--config", config])
}
