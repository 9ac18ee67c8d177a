//! The web console in a real headless Chromium: the explorer, the in-browser proof check, the
//! wallet, and the admin pages with their sessions. Each test saves a screenshot under the
//! target directory's `screenshots/`.
//!
//! These need Debian's `chromium` and `chromium-driver` (`scripts/install-browser`); without
//! them each test says so and passes, except under `CAIRN_CI`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webdriver;

use std::time::Duration;

use serde_json::json;
use webdriver::{Driver, Session};

/// Logs `session` in through the console's login form.
fn log_in(session: &Session, url: &str, user: &str, password: &str) {
    session.goto(&format!("{url}/#/admin/login"));
    session.find("#login-user").type_text(user);
    session.find("#login-password").type_text(password);
    session.find("#login-submit").click();
    session.wait_text("#whoami", &format!("{user} ({})", role_of(user)));
}

fn role_of(user: &str) -> &'static str {
    if user == "admin" { "admin" } else { "viewer" }
}

#[test]
fn the_explorer_follows_new_blocks_and_shows_a_transaction_with_its_receipt() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let http = node.http();
    let browser = driver.session();
    browser.goto(&format!("{}/", node.url));
    browser.find("#head-height");
    // A transfer committed while the page is open appears without a reload.
    let tx = common::transfer(&common::dev(0), 0, common::dev(7).address(), 4_321);
    let (status, body) = http.post_json("/v1/transactions", &common::tx_json(&tx));
    assert!(status == 200 || status == 202, "{body}");
    let committed = http.wait_for(&format!("{:#x}", tx.hash()), Duration::from_secs(30));
    let height = committed["block"].as_u64().unwrap();
    browser.wait("the head to reach the transfer's block", || {
        let shown = browser.find_now("#head-height")?.text();
        (shown.trim().parse::<u64>().ok()? >= height).then_some(())
    });
    browser.find(&format!("#recent-blocks tr[data-height=\"{height}\"]"));
    browser.screenshot("explorer");

    // The block, then its transfer, by following links.
    browser
        .find(&format!("#recent-blocks tr[data-height=\"{height}\"] a"))
        .click();
    browser.wait_text("#block-height", &height.to_string());
    let hash = format!("{:#x}", tx.hash());
    browser.find(&format!("a[data-tx=\"{hash}\"]")).click();
    browser.wait_text("#tx-status", "committed");
    browser.find("#receipt-status");
    assert!(browser.find("#tx-amount").text().contains("4321"));
    browser.screenshot("transaction");

    // The search box finds the same transaction by hash.
    browser.goto(&format!("{}/#/", node.url));
    browser.find("#search-input").type_text(&hash);
    browser.find("#search button").click();
    browser.wait_text("#tx-hash", &hash);
}

#[test]
fn an_account_proof_is_checked_in_the_browser_and_a_tampered_one_is_refused() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let http = node.http();
    let address = format!("{:#x}", common::dev(2).address());
    let browser = driver.session();
    browser.goto(&format!("{}/#/account/{address}", node.url));
    let verdict = browser.find("#proof-status[data-verified]");
    browser.wait("the proof's verdict", || {
        let status = browser.find_now("#proof-status")?;
        (status.attribute("data-verified")? == "true").then_some(())
    });
    assert!(verdict.text().starts_with("Verified"), "{}", verdict.text());
    browser.screenshot("account-proof");

    // The same proof pasted into the checker: verified; with one byte of the balance changed,
    // or a node of the proof changed: not.
    let (_, answer) = http.get(&format!("/v1/accounts/{address}?proof=true"));
    let check = |pasted: &serde_json::Value| -> (String, String) {
        browser.find("#proof-input").type_text(&pasted.to_string());
        browser.find("#proof-check").click();
        browser.wait("the checker's verdict", || {
            let result = browser.find_now("#proof-check-result[data-verified]")?;
            let verdict = result.attribute("data-verified")?;
            let text = result.text();
            // A verdict for this paste (the element may still show the previous one).
            (!text.is_empty()).then_some((verdict, text))
        })
    };
    let (verdict, text) = check(&answer);
    assert_eq!(verdict, "true", "{text}");
    let mut richer = answer.clone();
    let balance: u128 = answer["balance"].as_str().unwrap().parse().unwrap();
    richer["balance"] = json!((balance + 1).to_string());
    browser.run(
        "document.getElementById('proof-check-result').removeAttribute('data-verified')",
        json!([]),
    );
    let (verdict, text) = check(&richer);
    assert_eq!(verdict, "false", "a richer account passed: {text}");
    assert!(text.starts_with("Not verified"), "{text}");
    let mut forged = answer.clone();
    let last = forged["proof"].as_array().unwrap().len() - 1;
    let node_hex = forged["proof"][last].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &node_hex[..node_hex.len() - 1],
        if node_hex.ends_with('0') { "1" } else { "0" }
    );
    forged["proof"][last] = json!(flipped);
    browser.run(
        "document.getElementById('proof-check-result').removeAttribute('data-verified')",
        json!([]),
    );
    let (verdict, text) = check(&forged);
    assert_eq!(verdict, "false", "a forged proof node passed: {text}");
    browser.screenshot("account-proof-tampered");
}

#[test]
fn a_key_made_in_the_browser_receives_funds_and_sends_a_transfer_that_commits() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let http = node.http();
    let browser = driver.session();
    browser.goto(&format!("{}/#/wallet", node.url));
    browser.find("#wallet-create").click();
    let address = browser.wait("the new key's address", || {
        let text = browser.find_now("#wallet-address")?.text();
        (text.len() == 42 && text.starts_with("0x")).then_some(text)
    });
    // Fund it from a dev account.
    let funding = common::transfer(&common::dev(0), 0, address.parse().unwrap(), 1_000_000);
    http.post_json("/v1/transactions", &common::tx_json(&funding));
    http.wait_for(&format!("{:#x}", funding.hash()), Duration::from_secs(30));
    browser.wait_text("#wallet-balance", "1000000");
    // Send from it.
    let to = format!("{:#x}", common::dev(6).address());
    send_2500_from_wallet(&browser, &http, &address, &to);
    browser.screenshot("wallet");
    // The seed stays in the browser: the node's log never saw it.
    let seed: String = browser
        .run(
            "return localStorage.getItem('cairn.wallet') || ''",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(seed.len() > 64, "the key is kept in the browser: {seed}");
    let log = std::fs::read_to_string(&node.log).unwrap_or_default();
    for word in seed
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() >= 64)
    {
        assert!(!log.contains(word), "the seed reached the node's log");
    }
}

/// Dev account `index` as a devnet printed it at its start: (address, private key), from its
/// "Available accounts" and "Private keys" lists.
/// Sends 2,500 from the wallet's account (`address`) to `to` through the page and checks that
/// it committed, from that account, and moved the recipient's balance; returns the
/// transaction as the node shows it.
fn send_2500_from_wallet(
    browser: &Session,
    http: &common::Http,
    address: &str,
    to: &str,
) -> serde_json::Value {
    let (_, before) = http.get(&format!("/v1/accounts/{to}"));
    browser.find("#transfer-to").type_text(to);
    browser.find("#transfer-amount").type_text("2500");
    browser.find("#transfer-send").click();
    browser.wait_text("#transfer-status", "committed");
    let hash = browser.find("#transfer-hash").text();
    let (_, sent) = http.get(&format!("/v1/transactions/{}", hash.trim()));
    assert_eq!(sent["status"], "committed", "{sent}");
    assert_eq!(
        sent["transaction"]["from"].as_str().unwrap().to_lowercase(),
        address.to_lowercase(),
        "{sent}"
    );
    let (_, after) = http.get(&format!("/v1/accounts/{to}"));
    let balance = |v: &serde_json::Value| v["balance"].as_str().unwrap().parse::<u128>().unwrap();
    assert_eq!(balance(&after), balance(&before) + 2_500);
    sent
}

fn printed_dev_account(node: &common::TestNode, index: u32) -> (String, String) {
    let printed = node.stdout.lock().unwrap();
    let prefix = format!("({index}) ");
    let entry = |list: &str| {
        let start = printed
            .iter()
            .position(|line| line.starts_with(list))
            .unwrap_or_else(|| panic!("no {list:?} list in {printed:?}"));
        printed[start..]
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no dev account {index} under {list:?} in {printed:?}"))
            .to_string()
    };
    (entry("Available accounts"), entry("Private keys"))
}

#[test]
fn on_an_sm2_sm3_chain_the_wallet_imports_a_dev_key_and_its_sm2_signed_transfer_commits() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &["--crypto", "sm2-sm3"]);
    let http = node.http();
    assert_eq!(http.status()["crypto"], "sm2-sm3");
    // The devnet's dev key 0 is an SM2 secret key; its address is SM3 of its public key.
    let (address, key) = printed_dev_account(&node, 0);
    let (to, _) = printed_dev_account(&node, 6);
    let browser = driver.session();
    browser.goto(&format!("{}/#/wallet", node.url));
    let suite = browser.find("#wallet-suite").text();
    assert!(suite.starts_with("Signing: SM2 (sm2-sm3 chain)"), "{suite}");
    browser.find("#wallet-import-seed").type_text(&key);
    browser.find("#wallet-import").click();
    // The browser derives the same address from the key as the node did.
    browser.wait_text("#wallet-address", &address);
    // Send from it. The page refuses to show a hash other than its own (SM3 of the encoding).
    let sent = send_2500_from_wallet(&browser, &http, &address, &to);
    // A compressed SM2 public key (33 bytes) and a raw r ‖ s signature (64 bytes).
    let public_key = sent["transaction"]["public_key"].as_str().unwrap();
    assert!(
        public_key.len() == 2 + 66
            && (public_key.starts_with("0x02") || public_key.starts_with("0x03")),
        "{sent}"
    );
    assert_eq!(
        sent["transaction"]["signature"].as_str().unwrap().len(),
        2 + 128,
        "{sent}"
    );
    browser.screenshot("wallet-sm2");
    // The recipient's account proof, checked in the browser over a trie hashed with SM3.
    browser.goto(&format!("{}/#/account/{to}", node.url));
    let verdict = browser.find("#proof-status[data-verified]");
    browser.wait("the proof's verdict", || {
        let status = browser.find_now("#proof-status")?;
        (status.attribute("data-verified")? == "true").then_some(())
    });
    let text = verdict.text();
    assert!(
        text.starts_with("Verified") && text.contains("SM3"),
        "{text}"
    );
    browser.screenshot("account-proof-sm2");
}

#[test]
fn an_admin_adds_a_viewer_who_is_refused_admin_pages_and_logged_out_when_revoked() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let (user, password) = node.devnet_admin();
    let admin = driver.session();
    log_in(&admin, &node.url, &user, &password);
    admin.goto(&format!("{}/#/admin/users", node.url));
    admin.find("#user-name").type_text("viewer");
    admin.run(
        "const s = document.getElementById('user-role'); s.value = 'viewer'; \
         s.dispatchEvent(new Event('change', {bubbles: true}))",
        json!([]),
    );
    admin.find("#user-password").type_text("viewer-password");
    admin.find("#user-add").click();
    admin.find("#users tr[data-user=\"viewer\"]");
    admin.screenshot("admin-users");

    // The viewer logs in (its own browser) and is refused the users page.
    let viewer = driver.session();
    log_in(&viewer, &node.url, "viewer", "viewer-password");
    viewer.goto(&format!("{}/#/admin/users", node.url));
    viewer.find("#forbidden");
    assert!(viewer.find_now("#users tr[data-user=\"admin\"]").is_none());
    viewer.screenshot("viewer-forbidden");

    // The admin ends the viewer's session: the viewer's next page sends it to the login.
    admin.goto(&format!("{}/#/admin/sessions", node.url));
    let row = admin.wait("the viewer's session", || {
        let rows = admin.run(
            "return [...document.querySelectorAll('#sessions tr[data-session]')]\
             .filter(r => r.textContent.includes('viewer')).map(r => r.dataset.session)",
            json!([]),
        );
        rows.as_array()?.first()?.as_str().map(ToString::to_string)
    });
    admin
        .find(&format!(
            "#sessions tr[data-session=\"{row}\"] button.revoke"
        ))
        .click();
    admin.wait("the row to go", || {
        admin
            .find_now(&format!("#sessions tr[data-session=\"{row}\"]"))
            .is_none()
            .then_some(())
    });
    admin.screenshot("admin-sessions");
    viewer.goto(&format!("{}/#/admin", node.url));
    viewer.find("#login-required");
    assert!(
        viewer.current_url().ends_with("#/admin/login"),
        "{}",
        viewer.current_url()
    );
    viewer.screenshot("viewer-logged-out");
}

#[test]
fn an_expired_session_is_refused_and_console_pages_forbid_inline_scripts() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(
        &dir.path().join("devnet"),
        &["--admin-session-idle-s", "10"],
    );
    let (user, password) = node.devnet_admin();
    let browser = driver.session();
    log_in(&browser, &node.url, &user, &password);
    browser.goto(&format!("{}/#/admin", node.url));
    browser.find("#node-height");
    // The session the browser holds: an HttpOnly cookie the page's scripts cannot read.
    let token = browser
        .cookies()
        .into_iter()
        .find(|(name, _)| name.starts_with("cairn_session"))
        .map(|(_, value)| value)
        .expect("the session cookie");
    let readable = browser.run("return document.cookie", json!([]));
    assert!(
        !readable.as_str().unwrap_or_default().contains(&token),
        "the page's scripts can read the session"
    );
    let (status, _) = node.http().call("GET", "/v1/admin/me", Some(&token), None);
    assert_eq!(status, 200, "the cookie's session is open");
    // The page's policy stops a script that was not served as a file, even one the page
    // itself adds.
    let ran = browser.run(
        "const s = document.createElement('script'); s.textContent = 'window.injected = 1'; \
         document.head.appendChild(s); return window.injected === 1",
        json!([]),
    );
    assert_eq!(ran, json!(false), "an inline script ran");
    // Idle past the limit: refused, and sent to the login.
    std::thread::sleep(Duration::from_secs(11));
    browser.goto(&format!("{}/#/admin/users", node.url));
    browser.find("#login-required");
    browser.screenshot("session-expired");
    let (status, _) = node.http().call("GET", "/v1/admin/me", Some(&token), None);
    assert_eq!(status, 401, "the expired session still opens the API");
}
