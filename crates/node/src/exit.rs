//! How a command ends: the exit statuses listed in `cairn --help`, and the error line (and,
//! with `--json`, the JSON error) a failure prints.

use std::fmt;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

/// An error.
pub const ERROR: u8 = 1;
/// Bad arguments.
pub const USAGE: u8 = 2;
/// `tx transfer`: nothing was submitted.
pub const NOT_SUBMITTED: u8 = 3;
/// `tx transfer --wait`: committed, but the receipt says failed.
pub const FAILED: u8 = 4;
/// `tx transfer --wait`: submitted, still pending when the wait ran out.
pub const TIMED_OUT: u8 = 5;
/// `tx get`: the node does not know the transaction.
pub const NOT_FOUND: u8 = 6;

/// A failure with its own exit status and error code.
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub exit: u8,
    /// A stable code (`invalid_argument`, `timeout`, the node's own codes, …).
    pub code: String,
    /// The one line for people.
    pub message: String,
    /// More members of the JSON error (`hash`, …).
    pub extra: Map<String, Value>,
    /// The command already printed its result on stdout (`--json`): print no JSON error.
    pub printed: bool,
    /// Printed on stderr as it is, instead of `error: MESSAGE` (a compile error with its
    /// source line and caret).
    pub display: Option<String>,
}

impl Failure {
    /// A failure ending with `exit`.
    pub fn new(exit: u8, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exit,
            code: code.into(),
            message: message.into(),
            extra: Map::new(),
            printed: false,
            display: None,
        }
    }

    /// Bad arguments (exit status 2).
    pub fn usage(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(USAGE, code, message)
    }

    /// With one more member in the JSON error.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Shown on stderr as `display` (several lines) instead of `error: MESSAGE`.
    pub fn displayed_as(mut self, display: String) -> Self {
        self.display = Some(display);
        self
    }

    /// Marks the result as already printed.
    pub fn printed(mut self) -> Self {
        self.printed = true;
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit status `error` ends a command with.
pub fn status_of(error: &anyhow::Error) -> u8 {
    error
        .downcast_ref::<Failure>()
        .map_or(ERROR, |failure| failure.exit)
}

/// Prints a command's error (one line on stderr; with `json`, the JSON error on stdout) and
/// gives its exit status.
pub fn report(error: &anyhow::Error, json: bool) -> ExitCode {
    let message = format!("{error:#}").replace('\n', " ");
    let mut display = None;
    let (exit, code, extra, printed) = if let Some(failure) = error.downcast_ref::<Failure>() {
        display.clone_from(&failure.display);
        (
            failure.exit,
            failure.code.clone(),
            failure.extra.clone(),
            failure.printed,
        )
    } else if let Some(client) = error.downcast_ref::<cairn_client::ClientError>() {
        let mut extra = Map::new();
        if let cairn_client::ClientError::Api {
            field: Some(field), ..
        } = client
        {
            extra.insert("field".into(), field.clone().into());
        }
        (ERROR, client.code().to_string(), extra, false)
    } else {
        (ERROR, "error".to_string(), Map::new(), false)
    };
    if json && !printed {
        let mut body = Map::new();
        body.insert("code".into(), code.into());
        body.insert("message".into(), message.clone().into());
        body.extend(extra);
        println!("{}", json!({ "error": body }));
    }
    match display {
        Some(display) => eprintln!("{display}"),
        None => eprintln!("error: {message}"),
    }
    ExitCode::from(exit)
}

/// A usage error from the argument parser: one line on stderr (and the JSON error on stdout
/// with `--json`), exit status 2.
pub fn report_usage(message: &str, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"error": {"code": "invalid_argument", "message": message}})
        );
    }
    eprintln!("{message}");
    ExitCode::from(USAGE)
}
