#![allow(clippy::unwrap_used)]

use super::*;

const POLICY: SessionPolicy = SessionPolicy {
    idle_ms: 60_000,
    absolute_ms: 600_000,
};

fn access() -> (tempfile::TempDir, Access) {
    let dir = tempfile::tempdir().unwrap();
    let access = Access::open(dir.path().join("access.redb"), POLICY).unwrap();
    (dir, access)
}

#[derive(Default)]
struct Seen(Mutex<Vec<(&'static str, Event)>>);

impl SessionObserver for Seen {
    fn on_login(&self, event: &Event) {
        self.0.lock().push(("login", event.clone()));
    }
    fn on_logout(&self, event: &Event) {
        self.0.lock().push(("logout", event.clone()));
    }
    fn on_failed_login(&self, event: &Event) {
        self.0.lock().push(("failed", event.clone()));
    }
}

#[test]
fn a_login_opens_a_session_that_logout_ends_and_observers_hear_both() {
    let (_dir, access) = access();
    let seen = Arc::new(Seen::default());
    access.observe(seen.clone());
    access
        .add_user("ops", Role::Operator, "correct horse", Actor::Setup, 0)
        .unwrap();
    let (token, session) = access
        .login("ops", "correct horse", "10.0.0.7", 1_000)
        .unwrap();
    assert_eq!(token.len(), 64);
    let (user, same) = access.authenticate(&token, 2_000).unwrap();
    assert_eq!((user.name.as_str(), user.role), ("ops", Role::Operator));
    assert_eq!(same.id, session.id);
    assert!(access.logout(&token, 3_000).unwrap());
    assert!(matches!(
        access.authenticate(&token, 3_001),
        Err(AccessError::NoSession)
    ));
    assert!(!access.logout(&token, 3_002).unwrap());
    let heard: Vec<&str> = seen.0.lock().iter().map(|(kind, _)| *kind).collect();
    assert_eq!(heard, ["login", "logout"]);
    let audit = access.audit(10).unwrap();
    assert!(
        matches!(audit[0], Event::Logout { .. }),
        "newest first: {audit:?}"
    );
    assert!(matches!(audit[1], Event::Login { .. }));
}

#[test]
fn the_store_keeps_no_token_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.redb");
    let token = {
        let access = Access::open(&path, POLICY).unwrap();
        access
            .add_user("root", Role::Admin, "s3cret-pass", Actor::Setup, 0)
            .unwrap();
        access.login("root", "s3cret-pass", "::1", 0).unwrap().0
    };
    let bytes = std::fs::read(&path).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(b"s3cret-pass"), "the password is stored");
    assert!(!contains(token.as_bytes()), "the token is stored");
    // A new process (the same file) still opens the session: it is stored, hashed.
    let access = Access::open(&path, POLICY).unwrap();
    assert_eq!(access.authenticate(&token, 1).unwrap().0.name, "root");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the file is readable by others: {mode:o}");
    }
}

#[test]
fn sessions_end_when_idle_or_old_and_the_monitor_clears_them() {
    let (_dir, access) = access();
    let seen = Arc::new(Seen::default());
    access.observe(seen.clone());
    access
        .add_user("v", Role::Viewer, "viewer-pass", Actor::Setup, 0)
        .unwrap();
    // Idle: unused for the idle limit.
    let (idle, _) = access.login("v", "viewer-pass", "a", 0).unwrap();
    assert!(access.authenticate(&idle, 59_999).is_ok());
    // Used at 59,999 (written, being over 30 s since the last), so it lives to 119,999.
    assert!(access.authenticate(&idle, 119_998).is_ok());
    assert!(matches!(
        access.authenticate(&idle, 119_998 + 60_000),
        Err(AccessError::NoSession)
    ));
    // Absolute: however much it is used.
    let (busy, _) = access.login("v", "viewer-pass", "a", 0).unwrap();
    let mut at = 0;
    while at + 40_000 < 600_000 {
        at += 40_000;
        assert!(access.authenticate(&busy, at).is_ok(), "at {at}");
    }
    assert!(matches!(
        access.authenticate(&busy, 600_000),
        Err(AccessError::NoSession)
    ));
    // The monitor clears what timed out without being used.
    let (left, _) = access.login("v", "viewer-pass", "a", 1_000_000).unwrap();
    assert_eq!(access.sessions(1_000_001).unwrap().len(), 1);
    assert_eq!(access.expire(1_000_000 + 59_999).unwrap(), 0);
    assert_eq!(access.expire(1_000_000 + 60_000).unwrap(), 1);
    assert!(access.sessions(1_000_000 + 60_000).unwrap().is_empty());
    assert!(matches!(
        access.authenticate(&left, 1_000_000 + 60_001),
        Err(AccessError::NoSession)
    ));
    let expired = seen
        .0
        .lock()
        .iter()
        .filter(|(_, event)| matches!(event, Event::Expired { .. }))
        .count();
    assert_eq!(expired, 3, "each end is told");
}

#[test]
fn failed_logins_are_limited_per_user_and_address_and_do_not_name_the_culprit() {
    let (_dir, access) = access();
    access
        .add_user("ops", Role::Operator, "right-password", Actor::Setup, 0)
        .unwrap();
    // A wrong name and a wrong password look the same.
    let unknown = access
        .login("nobody", "right-password", "a", 0)
        .unwrap_err();
    let wrong = access.login("ops", "wrong-password", "a", 0).unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());
    for _ in 1..MAX_FAILURES {
        assert!(matches!(
            access.login("ops", "wrong-password", "a", 10),
            Err(AccessError::BadCredentials)
        ));
    }
    // Locked for this address, even with the right password.
    assert!(matches!(
        access.login("ops", "right-password", "a", 20),
        Err(AccessError::Locked { .. })
    ));
    // Another address is not locked.
    assert!(access.login("ops", "right-password", "b", 20).is_ok());
    // After the window, the address may try again.
    assert!(
        access
            .login("ops", "right-password", "a", FAILURE_WINDOW_MS + 1)
            .is_ok()
    );
    let failed = access
        .audit(100)
        .unwrap()
        .into_iter()
        .filter(|event| matches!(event, Event::FailedLogin { .. }))
        .count();
    // Each refused password is stored; the tries of a locked pair are only told.
    assert_eq!(failed, MAX_FAILURES as usize + 1);
    // A name no user can have (here, huge) is refused without being stored or counted.
    let huge = "n".repeat(100_000);
    assert!(matches!(
        access.login(&huge, "right-password", "a", 30),
        Err(AccessError::BadCredentials)
    ));
    let stored = format!("{:?}", access.audit(100).unwrap());
    assert!(!stored.contains(&huge[..100]), "the huge name is stored");
    // Nor is a name that is no user's (it may be a password typed in the wrong field).
    assert!(!stored.contains("nobody"), "{stored}");
    assert!(stored.contains(UNKNOWN_USER), "{stored}");
    // Only the unknown name's failure is still counted: a login clears its pair's count.
    let counted: Vec<_> = access.failures.lock().keys().cloned().collect();
    assert_eq!(counted, vec![("nobody".to_string(), "a".to_string())]);
}

#[test]
fn changes_to_a_user_end_its_sessions_and_the_last_admin_stays() {
    let (_dir, access) = access();
    access
        .add_user("root", Role::Admin, "root-pass-1", Actor::Setup, 0)
        .unwrap();
    access
        .add_user("v", Role::Viewer, "viewer-pass", Actor::Setup, 0)
        .unwrap();
    assert!(matches!(
        access.add_user("v", Role::Viewer, "viewer-pass", Actor::Setup, 0),
        Err(AccessError::UserExists(_))
    ));
    let (token, _) = access.login("v", "viewer-pass", "a", 0).unwrap();
    const ROOT: Actor = Actor::User("root");
    access.set_role("v", Role::Operator, ROOT, 1).unwrap();
    assert!(
        access.authenticate(&token, 2).is_err(),
        "a role change ends sessions"
    );
    let (token, _) = access.login("v", "viewer-pass", "a", 3).unwrap();
    // A user who is not an admin changes no one else, and itself only with its current
    // password.
    assert!(matches!(
        access.set_password("root", "taken-over", None, Actor::User("v"), 4),
        Err(AccessError::Forbidden(_))
    ));
    assert!(matches!(
        access.add_user("x", Role::Admin, "x-password", Actor::User("v"), 4),
        Err(AccessError::Forbidden(_))
    ));
    assert!(matches!(
        access.set_password("v", "another-pass", None, Actor::User("v"), 4),
        Err(AccessError::Invalid(_))
    ));
    assert!(matches!(
        access.set_password("v", "another-pass", Some("wrong-pass"), Actor::User("v"), 4),
        Err(AccessError::Forbidden(_))
    ));
    assert!(
        access.authenticate(&token, 4).is_ok(),
        "refusals end nothing"
    );
    access
        .set_password(
            "v",
            "another-pass",
            Some("viewer-pass"),
            Actor::User("v"),
            4,
        )
        .unwrap();
    assert!(
        access.authenticate(&token, 5).is_err(),
        "a password change ends sessions"
    );
    assert!(access.login("v", "viewer-pass", "a", 6).is_err());
    let (token, session) = access.login("v", "another-pass", "a", 7).unwrap();
    assert!(access.revoke(&session.id, "root", 8).unwrap());
    assert!(access.authenticate(&token, 9).is_err(), "revoked");
    assert!(!access.revoke(&session.id, "root", 10).unwrap());
    let (token, _) = access.login("v", "another-pass", "a", 11).unwrap();
    access.delete_user("v", ROOT, 12).unwrap();
    assert!(access.authenticate(&token, 13).is_err(), "deleted");
    // The last admin can be neither deleted nor demoted.
    assert!(matches!(
        access.delete_user("root", ROOT, 14),
        Err(AccessError::LastAdmin)
    ));
    assert!(matches!(
        access.set_role("root", Role::Viewer, ROOT, 15),
        Err(AccessError::LastAdmin)
    ));
    access
        .add_user("second", Role::Admin, "second-pass", Actor::Setup, 16)
        .unwrap();
    access.set_role("root", Role::Viewer, ROOT, 17).unwrap();
    // Demoted, root can no longer act as an admin, whatever a session it holds says.
    assert!(matches!(
        access.delete_user("second", ROOT, 18),
        Err(AccessError::Forbidden(_))
    ));
    assert_eq!(
        access
            .users()
            .unwrap()
            .iter()
            .map(|u| (u.name.as_str(), u.role))
            .collect::<Vec<_>>(),
        [("root", Role::Viewer), ("second", Role::Admin)]
    );
    // Every change is in the audit trail, with who made it; refused ones are not.
    let mut changes: Vec<(String, String, String)> = access
        .audit(100)
        .unwrap()
        .into_iter()
        .filter_map(|event| match event {
            Event::UserChanged {
                user, by, change, ..
            } => Some((user, by, change)),
            _ => None,
        })
        .collect();
    changes.reverse();
    let expected = [
        ("root", "(setup)", "added as admin"),
        ("v", "(setup)", "added as viewer"),
        ("v", "root", "role set to operator"),
        ("v", "v", "password changed"),
        ("v", "root", "deleted"),
        ("second", "(setup)", "added as admin"),
        ("root", "root", "role set to viewer"),
    ];
    assert_eq!(
        changes,
        expected.map(|(u, b, c)| (u.to_string(), b.to_string(), c.to_string()))
    );
}

#[test]
fn names_passwords_roles_and_tokens_are_checked() {
    let (_dir, access) = access();
    for bad in ["", "with space", "a/b", &"x".repeat(65)] {
        assert!(
            access
                .add_user(bad, Role::Viewer, "long-enough", Actor::Setup, 0)
                .is_err(),
            "{bad:?}"
        );
    }
    assert!(
        access
            .add_user("ok", Role::Viewer, "short", Actor::Setup, 0)
            .is_err()
    );
    assert!(
        access
            .add_user(
                "ok",
                Role::Viewer,
                &"p".repeat(MAX_PASSWORD_CHARS + 1),
                Actor::Setup,
                0
            )
            .is_err()
    );
    // Characters count, not bytes: 256 two-byte characters are a password.
    assert!(
        access
            .add_user(
                "wide",
                Role::Viewer,
                &"é".repeat(MAX_PASSWORD_CHARS),
                Actor::Setup,
                0
            )
            .is_ok()
    );
    assert!(
        access
            .login("wide", &"é".repeat(MAX_PASSWORD_CHARS), "a", 0)
            .is_ok()
    );
    assert!("root".parse::<Role>().is_err());
    assert_eq!("operator".parse::<Role>().unwrap(), Role::Operator);
    assert!(Role::Admin.allows(Role::Operator) && !Role::Viewer.allows(Role::Operator));
    for token in ["", "x", &"0".repeat(64), &"0".repeat(10_000)] {
        assert!(matches!(
            access.authenticate(token, 0),
            Err(AccessError::NoSession)
        ));
    }
}

#[test]
fn logins_made_at_once_cannot_all_slip_under_the_limit() {
    let (_dir, access) = access();
    access
        .add_user("ops", Role::Operator, "right-password", Actor::Setup, 0)
        .unwrap();
    let access = std::sync::Arc::new(access);
    let tries = 3 * MAX_FAILURES as usize;
    let start = std::sync::Arc::new(std::sync::Barrier::new(tries));
    let outcomes: Vec<AccessError> = (0..tries)
        .map(|_| {
            let (access, start) = (access.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                access.login("ops", "wrong-password", "a", 5).unwrap_err()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    let checked = outcomes
        .iter()
        .filter(|e| matches!(e, AccessError::BadCredentials))
        .count();
    // Counting after the check would let every try that started at once be checked.
    assert_eq!(checked, MAX_FAILURES as usize, "{outcomes:?}");
}

#[test]
fn guesses_of_the_current_password_are_limited_and_audited() {
    let (_dir, access) = access();
    access
        .add_user("v", Role::Viewer, "viewer-pass", Actor::Setup, 0)
        .unwrap();
    for _ in 0..MAX_FAILURES {
        assert!(matches!(
            access.set_password("v", "new-password", Some("guess-1234"), Actor::User("v"), 1),
            Err(AccessError::Forbidden(_))
        ));
    }
    // Even the right one is refused now, until the window passes.
    assert!(matches!(
        access.set_password(
            "v",
            "new-password",
            Some("viewer-pass"),
            Actor::User("v"),
            2
        ),
        Err(AccessError::Locked { .. })
    ));
    let audited = access
        .audit(100)
        .unwrap()
        .into_iter()
        .filter(|event| {
            matches!(event, Event::FailedLogin { reason, .. } if reason == "wrong_current_password")
        })
        .count();
    assert_eq!(audited, MAX_FAILURES as usize);
    access
        .set_password(
            "v",
            "new-password",
            Some("viewer-pass"),
            Actor::User("v"),
            FAILURE_WINDOW_MS + 3,
        )
        .unwrap();
    assert!(
        access
            .login("v", "new-password", "a", FAILURE_WINDOW_MS + 4)
            .is_ok()
    );
    // Users are listed without their hashes.
    assert!(!format!("{:?}", access.users().unwrap()).contains("$argon2"));
}
