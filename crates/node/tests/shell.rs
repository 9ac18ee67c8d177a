//! `cairn shell` driven as scripts use it (a pipe) and as people do (a pseudo-terminal).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn shell(url: &str, extra: &[&str], script: &str) -> Output {
    let mut child = Command::new(common::cairn_bin())
        .args(["shell", "--node", url])
        .args(extra)
        .env_remove("CAIRN_PASSWORD")
        .env_remove("CAIRN_SESSION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_script_on_a_pipe_runs_until_its_first_error() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let (user, password) = node.devnet_admin();

    // Before logging in, admin commands are refused; read-only ones work.
    let out = shell(&node.url, &[], "status\nusers\nstatus\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("Chain id:").count(),
        1,
        "stopped at `users`: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("log in"),
        "{stderr}"
    );

    // A whole session: the password is the line after `login` and is never printed.
    let script = format!(
        "# the operators' morning check\n\
         login {user}\n{password}\n\
         whoami\n\
         user add auditor viewer\nauditor-password\n\
         users\n\
         node\n\
         block 0\n\
         audit --limit 5\n\
         user role nobody admin\n\
         sessions\n"
    );
    let out = shell(&node.url, &[], &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("{user} (admin)")), "{stdout}");
    assert!(stdout.contains("auditor  viewer"), "{stdout}");
    assert!(stdout.contains("Engine:     solo"), "{stdout}");
    assert!(stdout.contains("Height:        0"), "{stdout}");
    assert!(stdout.contains("added as viewer by admin"), "{stdout}");
    // The unknown user stops the script: `sessions` never ran.
    assert!(
        stderr.contains("line 11") && stderr.contains("nobody"),
        "{stderr}"
    );
    assert!(!stdout.contains("LOGGED IN"), "{stdout}");
    for secret in [password.as_str(), "auditor-password"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a password is printed"
        );
    }

    // Told to go on, it does, and still exits with the first failure's status; a usage
    // error is status 2.
    let script = format!("login {user}\n{password}\nblock 0 --no-such-flag\nusers\n");
    let out = shell(&node.url, &["--keep-going"], &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stdout.contains("auditor"),
        "went on after the error: {stdout}"
    );

    // A password line meant for a command that failed is never run as a command, nor
    // printed: a bad name still takes its password line, and a line after a refused command
    // is not repeated in the error.
    let script = format!(
        "login {user}\n{password}\n\
         user add 'bad name' viewer\nfirst-secret-pass\n\
         user role auditor emperor\nsecond-secret-pass\n\
         whoami\n"
    );
    let out = shell(&node.url, &["--keep-going"], &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("(admin), session"), "whoami ran: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 3, "{stderr}");
    for secret in ["first-secret-pass", "second-secret-pass"] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{stderr}"
        );
    }

    // `--json`: one JSON document per command, errors too.
    let script = format!("login {user}\n{password}\nwhoami\nuser delete ghost\n");
    let out = Command::new(common::cairn_bin())
        .args(["--json", "shell", "--node", &node.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let documents: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(documents.len(), 3, "{documents:?}");
    assert_eq!(documents[1]["user"]["role"], "admin");
    assert_eq!(documents[2]["error"]["code"], "unknown_user");
}

/// What a pseudo-terminal's program printed, read on a thread.
struct Screen {
    text: Arc<Mutex<String>>,
}

impl Screen {
    fn wait_for(&self, what: &str, from: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let text = self.text.lock().unwrap();
                if let Some(at) = text[from.min(text.len())..].find(what) {
                    return from + at + what.len();
                }
                assert!(
                    Instant::now() < deadline,
                    "{what:?} never appeared after {from}; the screen:\n{text}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(unix)]
#[test]
fn at_a_terminal_the_shell_hides_passwords_completes_and_keeps_history() {
    use std::os::fd::{AsFd, OwnedFd};

    let dir = tempfile::tempdir().unwrap();
    let node = common::TestNode::devnet(&dir.path().join("devnet"), &[]);
    let (user, password) = node.devnet_admin();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = |fd: &OwnedFd| Stdio::from(fd.as_fd().try_clone_to_owned().unwrap());
    let mut child = Command::new(common::cairn_bin())
        .args(["shell", "--node", &node.url])
        .env("TERM", "xterm")
        .env("HOME", &home)
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave))
        .spawn()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let text = Arc::new(Mutex::new(String::new()));
    let screen = Screen { text: text.clone() };
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                return;
            }
            text.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let mut typed = |keys: &str| master.write_all(keys.as_bytes()).unwrap();

    let mut at = screen.wait_for("cairn> ", 0);
    typed(&format!("login {user}\r"));
    at = screen.wait_for(&format!("Password for {user}: "), at);
    typed(&format!("{password}\r"));
    at = screen.wait_for("Logged in as admin", at);
    // Completion: "who" and Tab becomes "whoami".
    typed("who\t");
    at = screen.wait_for("whoami", at);
    typed("\r");
    at = screen.wait_for("admin (admin), session", at);
    // An error at a terminal is one line, and the shell goes on.
    typed("user delete ghost\r");
    at = screen.wait_for("error: no user", at);
    typed("help stop\r");
    at = screen.wait_for("Stop the node gracefully", at);
    typed("exit\r");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the shell did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let printed = screen.text.lock().unwrap().clone();
    assert!(at > 0);
    assert!(
        !printed.contains(&password),
        "the password was echoed:\n{printed}"
    );
    // The history has the commands, never the password.
    let history = std::fs::read_to_string(home.join(".cairn_history")).unwrap();
    assert!(
        history.contains("whoami") && history.contains("login admin"),
        "{history}"
    );
    assert!(!history.contains(&password), "{history}");
}
