//! The console's own JavaScript checks (crates/rpc/console-tests), run by Node.js's test runner:
//! the SM2/SM3 code the wallet signs with against the standards' examples and the chain's exact
//! transaction form, and the proof checker under SM3. Node.js is needed (`scripts/install-browser`
//! installs it with the browser); without it the test says so and skips, except in CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_consoles_javascript_self_checks_pass() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let output = match Command::new("node")
        .args(["--test", "console-tests/"])
        .current_dir(dir)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            assert!(
                std::env::var_os("CAIRN_CI").is_none(),
                "CI must run the console's JavaScript checks, but node cannot start: {error}"
            );
            eprintln!(
                "skipped: node (Node.js) is not installed ({error}); run scripts/install-browser"
            );
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node --test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The runner passed every test and ran some: a renamed directory would run none.
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "{stdout}");
}
