//! `cairn shell`: seed 003's vmshell over the admin API. A REPL (history, completion, help per
//! command) at a terminal; a script runner when its input is a pipe or a file.
//!
//! Commands are the admin pages' (users, sessions, audit, node, peers, pool, logs, stop) and
//! the command line's read-only ones (status, block, tx get, account, acs record|query|jobs),
//! which take the very flags they take on the command line. An error is one line on stderr; a
//! script stops at the first with that command's exit status, unless `--keep-going`.
//!
//! Passwords are never command arguments (they would stay in the history and in scripts): at
//! a terminal they are asked for with echo off; from a script they are the next input line,
//! or, for `login`, `$CAIRN_PASSWORD` when it is set.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};
use serde_json::{Value, json};

use crate::cli::{Cli, NodeOpt, ShellArgs};
use crate::exit::{self, Failure};

/// The commands of the command line the shell runs as they are (read-only ones).
const CLI_COMMANDS: &[(&str, &[&str], &str)] = &[
    ("status", &[], "The node's status"),
    (
        "block",
        &[],
        "A block: `block [HEIGHT|HASH|latest] [--full]`",
    ),
    (
        "tx",
        &["get"],
        "A transaction and its receipt: `tx get HASH`",
    ),
    (
        "account",
        &[],
        "An account's balance and nonce: `account ADDRESS [--proof] [--block B]`",
    ),
    (
        "acs",
        &["record", "query", "jobs"],
        "Contracts: `acs record --package P ADDR`, `acs query …`, `acs jobs --package P`",
    ),
];

/// One line of the shell.
#[derive(Debug, Parser)]
#[command(multicall = true, disable_help_subcommand = true)]
struct Line {
    #[command(subcommand)]
    command: ShellCommand,
}

/// The shell's own commands.
#[derive(Debug, Subcommand)]
enum ShellCommand {
    /// Log in as USER (the password is asked for, or read as the next line of a script, or
    /// taken from $CAIRN_PASSWORD).
    Login {
        /// The user's name.
        user: String,
    },
    /// End this session (everywhere its token is used).
    Logout,
    /// Who is logged in, with which role, in which session.
    Whoami,
    /// Every user and its role (admin).
    Users,
    /// Add, delete, or change a user (admin; a user may change its own password).
    #[command(subcommand)]
    User(UserCommand),
    /// The sessions open now (admin).
    Sessions,
    /// End a session (admin).
    #[command(subcommand)]
    Session(SessionCommand),
    /// Logins, logouts, expiries, revocations, failed logins and user changes, newest first
    /// (admin).
    Audit {
        /// At most this many events (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        limit: u64,
    },
    /// The node: its height, engine, version, uptime.
    Node,
    /// The node's peers and when each was last heard.
    Peers,
    /// The transaction pool; with ADDRESS, that sender's queue.
    Pool {
        /// A sender's address.
        address: Option<String>,
    },
    /// The node's recent log lines containing TEXT (ignoring case), newest first.
    Logs {
        /// Text the lines contain.
        text: Vec<String>,
        /// Only lines at this level or more severe: error, warn, info, debug, trace.
        #[arg(long, value_parser = ["error", "warn", "info", "debug", "trace"])]
        level: Option<String>,
        /// At most this many lines (1 to 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        limit: u64,
    },
    /// Stop the node gracefully, as SIGTERM does (operator).
    Stop,
    /// The list of commands, or one command's help.
    Help {
        /// The command (and subcommand).
        command: Vec<String>,
    },
    /// Leave the shell.
    #[command(alias = "quit")]
    Exit,
}

/// `user …`.
#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user with a role (its password is asked for).
    Add {
        /// 1 to 64 of A-Z, a-z, 0-9, _, . and -.
        name: String,
        /// admin, operator or viewer.
        #[arg(value_parser = ROLES)]
        role: String,
    },
    /// Delete a user; its sessions end.
    Delete {
        /// The user.
        name: String,
    },
    /// Give a user another role; its sessions end.
    Role {
        /// The user.
        name: String,
        /// admin, operator or viewer.
        #[arg(value_parser = ROLES)]
        role: String,
    },
    /// Change a user's password (your own: the current one is asked for too); its sessions
    /// end.
    Password {
        /// The user.
        name: String,
    },
}

/// `session …`.
#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// End the session with this id (as `sessions` lists it).
    Revoke {
        /// The session's id.
        id: String,
    },
}

const ROLES: [&str; 3] = ["admin", "operator", "viewer"];

/// Every command word, what may follow it, and its one-line help.
fn command_table() -> Vec<(String, Vec<String>, String)> {
    let mut table: Vec<(String, Vec<String>, String)> = Line::command()
        .get_subcommands()
        .map(|command| {
            (
                command.get_name().to_string(),
                command
                    .get_subcommands()
                    .map(|sub| sub.get_name().to_string())
                    .collect(),
                command
                    .get_about()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            )
        })
        .collect();
    table.extend(CLI_COMMANDS.iter().map(|(name, subs, about)| {
        (
            (*name).to_string(),
            subs.iter().map(ToString::to_string).collect(),
            (*about).to_string(),
        )
    }));
    table.sort();
    table
}

/// Splits a line into words: spaces separate, quotes ('…' or "…") group, `#` starts a comment.
fn words(line: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        anyhow::bail!("a quote is not closed");
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Completes command words, subcommands, roles and log levels.
struct ShellHelper {
    table: Vec<(String, Vec<String>, String)>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _context: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let partial = &before[start..];
        let done: Vec<&str> = before[..start].split_whitespace().collect();
        let options: Vec<String> = match done.as_slice() {
            [] => self.table.iter().map(|(name, ..)| name.clone()).collect(),
            [command] => self
                .table
                .iter()
                .find(|(name, ..)| name == command)
                .map(|(_, subs, _)| subs.clone())
                .filter(|subs| !subs.is_empty())
                .unwrap_or_else(|| {
                    if *command == "help" {
                        self.table.iter().map(|(name, ..)| name.clone()).collect()
                    } else {
                        Vec::new()
                    }
                }),
            ["user", "add" | "role", _name] => ROLES.iter().map(ToString::to_string).collect(),
            [.., "--level"] => ["error", "warn", "info", "debug", "trace"]
                .iter()
                .map(ToString::to_string)
                .collect(),
            ["help", command] => self
                .table
                .iter()
                .find(|(name, ..)| name == command)
                .map(|(_, subs, _)| subs.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let candidates = options
            .into_iter()
            .filter(|option| option.starts_with(partial))
            .map(|option| Pair {
                display: option.clone(),
                replacement: format!("{option} "),
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// Where commands come from.
enum Input {
    /// A person at a terminal.
    Terminal(Box<Editor<ShellHelper, DefaultHistory>>),
    /// A script on a pipe or from a file.
    Script(std::io::Lines<std::io::StdinLock<'static>>),
}

/// A running shell.
struct Shell {
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    token: Option<String>,
    user: Option<String>,
    json: bool,
    input: Input,
    /// Lines of a script read so far (passwords too), to name the one that failed.
    lines_read: u64,
}

/// What a command asks of the loop.
enum Next {
    Continue,
    Exit,
}

fn api_failure(status: u16, body: &Value) -> Failure {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("error").to_string();
    let mut message = error["message"].as_str().map_or_else(
        || format!("the node answered {status}"),
        ToString::to_string,
    );
    if let Some(field) = error["field"].as_str() {
        message = format!("{field}: {message}");
    }
    if status == 401 {
        message.push_str(" (log in with `login USER`)");
    }
    let mut failure = Failure::new(exit::ERROR, code, message);
    if let Some(field) = error["field"].as_str() {
        failure = failure.with("field", field);
    }
    failure
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time in ms since the epoch.
fn time(ms: u64) -> String {
    let seconds = ms / 1_000;
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3_600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// A value from the node, fit for a terminal: control characters (escape sequences a log
/// line might carry) are shown as `?`.
fn text(value: &Value) -> String {
    let raw = match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    raw.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn ms(value: &Value) -> String {
    value.as_u64().map_or_else(|| "-".into(), time)
}

/// Prints rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}  "));
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(ToString::to_string).collect());
    for row in rows {
        line(row.clone());
    }
}

fn event_line(event: &Value) -> String {
    let kind = text(&event["event"]);
    let user = text(&event["user"]);
    let detail = match kind.as_str() {
        "login" => format!("from {}", text(&event["address"])),
        "failed_login" => format!(
            "from {} ({})",
            text(&event["address"]),
            text(&event["reason"])
        ),
        "revoked" => text(&event["reason"]),
        "user_changed" => format!("{} by {}", text(&event["change"]), text(&event["by"])),
        _ => String::new(),
    };
    format!("{}  {kind:<12}  {user}  {detail}", ms(&event["at_ms"]))
        .trim_end()
        .to_string()
}

impl Shell {
    fn prompt(&self) -> String {
        match &self.user {
            Some(user) => format!("cairn {user}> "),
            None => "cairn> ".into(),
        }
    }

    /// The next command line, or `None` at the end of the input.
    fn read_line(&mut self) -> anyhow::Result<Option<String>> {
        let prompt = self.prompt();
        match &mut self.input {
            Input::Terminal(editor) => match editor.readline(&prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Ok(Some(line))
                }
                // Ctrl-C drops the line being typed; Ctrl-D leaves.
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Some(String::new())),
                Err(rustyline::error::ReadlineError::Eof) => Ok(None),
                Err(error) => Err(error.into()),
            },
            Input::Script(lines) => {
                self.lines_read += 1;
                lines.next().transpose().map_err(Into::into)
            }
        }
    }

    /// A password: asked for with echo off at a terminal, the next line of a script.
    fn secret(&mut self, prompt: &str) -> anyhow::Result<String> {
        let secret = match &mut self.input {
            Input::Terminal(_) => read_hidden(prompt)?,
            Input::Script(lines) => {
                self.lines_read += 1;
                lines.next().transpose()?.ok_or_else(|| {
                    Failure::usage("missing_password", "the script ends before the password")
                })?
            }
        };
        Ok(secret.trim_end_matches(['\r', '\n']).to_string())
    }

    /// A request to the admin API with the session's token.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, body) = self
            .runtime
            .block_on(async move {
                let response = request.send().await?;
                let status = response.status().as_u16();
                let bytes = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, bytes))
            })
            .map_err(|e| {
                Failure::new(
                    exit::ERROR,
                    "unreachable",
                    format!("cannot reach the node at {}: {e}", self.base),
                )
            })?;
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        if status >= 400 {
            return Err(api_failure(status, &body).into());
        }
        Ok(body)
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None)
    }

    /// Prints `value` as JSON (with `--json`); true if it did.
    fn printed_json(&self, value: &Value) -> bool {
        if self.json {
            println!("{value}");
        }
        self.json
    }

    fn run_line(&mut self, line: &str) -> anyhow::Result<Next> {
        let words = words(line).map_err(|e| Failure::usage("invalid_argument", e.to_string()))?;
        let Some(first) = words.first() else {
            return Ok(Next::Continue);
        };
        if let Some((_, subs, _)) = CLI_COMMANDS.iter().find(|(name, ..)| name == first) {
            return self.run_cli(&words, subs).map(|()| Next::Continue);
        }
        match Line::try_parse_from(&words) {
            Ok(parsed) => self.run_command(parsed.command),
            Err(error) => {
                let rendered = error.render().to_string();
                if is_help(&error) {
                    println!("{}", rendered.trim_end());
                    return Ok(Next::Continue);
                }
                // A script's line may be a password that did not go where it was meant to
                // (a command before it failed): a script's error does not repeat its words.
                let message = if matches!(self.input, Input::Script(_)) {
                    match command_table().iter().find(|(name, ..)| name == first) {
                        Some((name, ..)) => {
                            format!("bad arguments to `{name}` (try `help {name}`)")
                        }
                        None => "not a command (try `help`)".to_string(),
                    }
                } else {
                    format!("{} (try `help`)", first_error_line(&rendered))
                };
                Err(Failure::usage("invalid_argument", message).into())
            }
        }
    }

    /// A read-only command of the command line, run as `cairn COMMAND …` would run it.
    fn run_cli(&mut self, words: &[String], subs: &[&str]) -> anyhow::Result<()> {
        if !subs.is_empty() && !words.get(1).is_some_and(|sub| subs.contains(&sub.as_str())) {
            return Err(Failure::usage(
                "invalid_argument",
                format!("`{}` takes one of: {}", words[0], subs.join(", ")),
            )
            .into());
        }
        let mut args = vec!["cairn".to_string()];
        if self.json {
            args.push("--json".into());
        }
        args.extend(words.iter().cloned());
        let mut cli = match Cli::try_parse_from(&args) {
            Ok(cli) => cli,
            Err(error) => {
                let rendered = error.render().to_string();
                if is_help(&error) {
                    println!("{}", rendered.trim_end());
                    return Ok(());
                }
                return Err(Failure::usage("invalid_argument", first_error_line(&rendered)).into());
            }
        };
        cli.node = Some(self.base.clone());
        crate::run(cli)
    }

    fn run_command(&mut self, command: ShellCommand) -> anyhow::Result<Next> {
        use reqwest::Method;
        match command {
            ShellCommand::Exit => return Ok(Next::Exit),
            ShellCommand::Help { command } => self.help(&command),
            ShellCommand::Login { user } => {
                let password = match std::env::var("CAIRN_PASSWORD") {
                    Ok(password) if matches!(self.input, Input::Script(_)) => password,
                    _ => self.secret(&format!("Password for {user}: "))?,
                };
                let body = self.call(
                    Method::POST,
                    "/v1/admin/login",
                    Some(json!({"user": user, "password": password})),
                )?;
                self.token = body["token"].as_str().map(ToString::to_string);
                self.user = Some(user.clone());
                if !self.printed_json(&json!({"user": user, "session": body["session"]})) {
                    println!("Logged in as {user} (session {}).", text(&body["session"]));
                }
            }
            ShellCommand::Logout => {
                self.call(Method::POST, "/v1/admin/logout", None)?;
                self.token = None;
                self.user = None;
                if !self.printed_json(&json!({"logged_out": true})) {
                    println!("Logged out.");
                }
            }
            ShellCommand::Whoami => {
                let me = self.get("/v1/admin/me")?;
                if !self.printed_json(&me) {
                    println!(
                        "{} ({}), session {} since {}, from {}",
                        text(&me["user"]["name"]),
                        text(&me["user"]["role"]),
                        text(&me["session"]["id"]),
                        ms(&me["session"]["created_ms"]),
                        text(&me["session"]["address"]),
                    );
                }
            }
            ShellCommand::Users => {
                let users = self.get("/v1/admin/users")?;
                if !self.printed_json(&users) {
                    let rows: Vec<Vec<String>> = users["users"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|user| {
                            vec![
                                text(&user["name"]),
                                text(&user["role"]),
                                ms(&user["created_ms"]),
                                ms(&user["password_changed_ms"]),
                            ]
                        })
                        .collect();
                    table(&["NAME", "ROLE", "CREATED", "PASSWORD CHANGED"], &rows);
                }
            }
            ShellCommand::User(command) => self.user_command(command)?,
            ShellCommand::Sessions => {
                let sessions = self.get("/v1/admin/sessions")?;
                if !self.printed_json(&sessions) {
                    let rows: Vec<Vec<String>> = sessions["sessions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|session| {
                            vec![
                                text(&session["id"]),
                                text(&session["user"]),
                                text(&session["address"]),
                                ms(&session["created_ms"]),
                                ms(&session["last_seen_ms"]),
                            ]
                        })
                        .collect();
                    table(&["ID", "USER", "FROM", "LOGGED IN", "LAST SEEN"], &rows);
                }
            }
            ShellCommand::Session(SessionCommand::Revoke { id }) => {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(Failure::usage(
                        "invalid_argument",
                        "a session id is letters and digits",
                    )
                    .into());
                }
                self.call(Method::DELETE, &format!("/v1/admin/sessions/{id}"), None)?;
                if !self.printed_json(&json!({"revoked": id})) {
                    println!("Session {id} ended.");
                }
            }
            ShellCommand::Audit { limit } => {
                let audit = self.get(&format!("/v1/admin/audit?limit={limit}"))?;
                if !self.printed_json(&audit) {
                    for event in audit["events"].as_array().into_iter().flatten() {
                        println!("{}", event_line(event));
                    }
                }
            }
            ShellCommand::Node => {
                let node = self.get("/v1/admin/node")?;
                if !self.printed_json(&node) {
                    let status = &node["status"];
                    println!("Height:     {}", text(&status["height"]));
                    println!("Head:       {}", text(&status["head"]));
                    println!("Chain id:   {}", text(&status["chain_id"]));
                    println!("Engine:     {}", text(&status["engine"]));
                    println!("Peers:      {}", text(&status["peers"]));
                    println!(
                        "Pool:       {} pending, {} ready",
                        text(&status["pool"]["pending"]),
                        text(&status["pool"]["ready"])
                    );
                    println!("Version:    {}", text(&node["version"]));
                    println!("Process:    {}", text(&node["pid"]));
                    println!(
                        "Up:         {} s (since {})",
                        text(&node["uptime_s"]),
                        ms(&node["started_ms"])
                    );
                }
            }
            ShellCommand::Peers => {
                let peers = self.get("/v1/admin/peers")?;
                if !self.printed_json(&peers) {
                    println!("Live peers: {}", text(&peers["live"]));
                    let rows: Vec<Vec<String>> = peers["peers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|peer| {
                            vec![
                                text(&peer["name"]),
                                text(&peer["address"]),
                                peer["validator_rank"]
                                    .as_u64()
                                    .map_or_else(|| "-".into(), |rank| rank.to_string()),
                                if peer["live"].as_bool() == Some(true) {
                                    "yes"
                                } else {
                                    "no"
                                }
                                .to_string(),
                                peer["last_heard_ms_ago"]
                                    .as_u64()
                                    .map_or_else(|| "never".into(), |ago| format!("{ago} ms ago")),
                                text(&peer["public_key"]),
                            ]
                        })
                        .collect();
                    if !rows.is_empty() {
                        table(
                            &["NAME", "ADDRESS", "RANK", "LIVE", "LAST HEARD", "KEY"],
                            &rows,
                        );
                    }
                }
            }
            ShellCommand::Pool { address: None } => {
                let pool = self.get("/v1/admin/pool")?;
                if !self.printed_json(&pool) {
                    println!(
                        "{} pending, {} ready, {} senders",
                        text(&pool["pending"]),
                        text(&pool["ready"]),
                        text(&pool["senders"])
                    );
                    let rows: Vec<Vec<String>> = pool["busiest"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|sender| vec![text(&sender["address"]), text(&sender["count"])])
                        .collect();
                    if !rows.is_empty() {
                        table(&["SENDER", "TRANSFERS"], &rows);
                    }
                }
            }
            ShellCommand::Pool {
                address: Some(address),
            } => {
                let address = crate::commands::client_cmds::parse_address("ADDRESS", &address)?;
                let queue = self.get(&format!("/v1/admin/pool/{address:#x}"))?;
                if !self.printed_json(&queue) {
                    println!("Account nonce: {}", text(&queue["account_nonce"]));
                    let rows: Vec<Vec<String>> = queue["queue"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|tx| {
                            vec![
                                text(&tx["nonce"]),
                                if tx["ready"].as_bool() == Some(true) {
                                    "ready"
                                } else {
                                    "waiting"
                                }
                                .to_string(),
                                format!("{} ms", text(&tx["waiting_ms"])),
                                text(&tx["hash"]),
                            ]
                        })
                        .collect();
                    table(&["NONCE", "STATE", "IN POOL", "HASH"], &rows);
                }
            }
            ShellCommand::Logs {
                text: words,
                level,
                limit,
            } => {
                let mut query = format!("/v1/admin/logs?limit={limit}");
                let search = words.join(" ");
                if !search.is_empty() {
                    query.push_str(&format!("&q={}", percent_encode(&search)));
                }
                if let Some(level) = level {
                    query.push_str(&format!("&level={level}"));
                }
                let logs = self.get(&query)?;
                if !self.printed_json(&logs) {
                    for line in logs["lines"].as_array().into_iter().flatten() {
                        println!(
                            "{}  {:<5}  {}: {}",
                            ms(&line["at_ms"]),
                            text(&line["level"]),
                            text(&line["target"]),
                            text(&line["text"])
                        );
                    }
                }
            }
            ShellCommand::Stop => {
                self.call(Method::POST, "/v1/admin/stop", None)?;
                if !self.printed_json(&json!({"stopping": true})) {
                    println!("The node is stopping.");
                }
            }
        }
        Ok(Next::Continue)
    }

    fn user_command(&mut self, command: UserCommand) -> anyhow::Result<()> {
        use reqwest::Method;
        match command {
            UserCommand::Add { name, role } => {
                // The password line is read first, so a bad name does not leave it to be
                // read as the next command.
                let password = self.secret(&format!("Password for {name}: "))?;
                cairn_access::check_name(&name)
                    .map_err(|e| Failure::usage("invalid_argument", format!("NAME: {e}")))?;
                let user = self.call(
                    Method::POST,
                    "/v1/admin/users",
                    Some(json!({"name": name, "role": role, "password": password})),
                )?;
                if !self.printed_json(&user) {
                    println!("Added {name} ({role}).");
                }
            }
            UserCommand::Delete { name } => {
                cairn_access::check_name(&name)
                    .map_err(|e| Failure::usage("invalid_argument", format!("NAME: {e}")))?;
                self.call(Method::DELETE, &format!("/v1/admin/users/{name}"), None)?;
                if !self.printed_json(&json!({"deleted": name})) {
                    println!("Deleted {name}; its sessions ended.");
                }
            }
            UserCommand::Role { name, role } => {
                cairn_access::check_name(&name)
                    .map_err(|e| Failure::usage("invalid_argument", format!("NAME: {e}")))?;
                let user = self.call(
                    Method::PUT,
                    &format!("/v1/admin/users/{name}/role"),
                    Some(json!({"role": role})),
                )?;
                if !self.printed_json(&user) {
                    println!("{name} is now {role}; its sessions ended.");
                }
            }
            UserCommand::Password { name } => {
                let own = self.user.as_deref() == Some(name.as_str());
                let current = if own {
                    Some(self.secret("Current password: ")?)
                } else {
                    None
                };
                let password = self.secret(&format!("New password for {name}: "))?;
                cairn_access::check_name(&name)
                    .map_err(|e| Failure::usage("invalid_argument", format!("NAME: {e}")))?;
                self.call(
                    Method::PUT,
                    &format!("/v1/admin/users/{name}/password"),
                    Some(json!({"password": password, "current_password": current})),
                )?;
                if own {
                    // Every session of the user ended, this one too.
                    self.token = None;
                    self.user = None;
                }
                if !self.printed_json(&json!({"changed": name})) {
                    println!("Password of {name} changed; its sessions ended.");
                }
            }
        }
        Ok(())
    }

    fn help(&self, command: &[String]) {
        if command.is_empty() {
            println!("Commands (`help COMMAND` for one's options):");
            for (name, subs, about) in command_table() {
                let name = if subs.is_empty() {
                    name
                } else {
                    format!("{name} {}", subs.join("|"))
                };
                println!("  {name:<30} {about}");
            }
            return;
        }
        let mut words: Vec<String> = vec!["cairn".into()];
        words.extend(command.iter().cloned());
        words.push("--help".into());
        let rendered = if CLI_COMMANDS.iter().any(|(name, ..)| *name == command[0]) {
            Cli::try_parse_from(&words)
                .err()
                .map(|e| e.render().to_string())
        } else {
            Line::try_parse_from(&words[1..])
                .err()
                .map(|e| e.render().to_string())
        };
        match rendered {
            Some(help) => println!("{}", help.trim_end()),
            None => println!("no help for {}", command.join(" ")),
        }
    }
}

fn is_help(error: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// clap's message without its usage block.
fn first_error_line(rendered: &str) -> String {
    rendered
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or("bad arguments")
        .trim_start_matches("error: ")
        .to_string()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Reads a line from the terminal with echo off.
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("cannot turn echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    read?;
    Ok(line)
}

/// `cairn shell`.
pub fn run(top_node: Option<&str>, args: &ShellArgs, json: bool) -> anyhow::Result<()> {
    let node = NodeOpt {
        url: args.node.url.clone(),
    };
    let client = crate::client::Client::for_command(top_node, &node)?;
    let base = client.api().base_url().trim_end_matches('/').to_string();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("cannot make an HTTP client")?;
    let terminal = std::io::stdin().is_terminal();
    let history =
        std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cairn_history"));
    let input = if terminal {
        let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::new()?;
        editor.set_helper(Some(ShellHelper {
            table: command_table(),
        }));
        if let Some(history) = &history {
            let _ = editor.load_history(history);
        }
        Input::Terminal(Box::new(editor))
    } else {
        Input::Script(std::io::stdin().lock().lines())
    };
    let mut shell = Shell {
        base,
        http,
        runtime: crate::client::small_runtime()?,
        token: std::env::var("CAIRN_SESSION")
            .ok()
            .filter(|t| !t.is_empty()),
        user: None,
        json,
        input,
        lines_read: 0,
    };
    // Started with a session token: who it is, so `user password` knows its own user.
    if shell.token.is_some()
        && let Ok(me) = shell.get("/v1/admin/me")
    {
        shell.user = me["user"]["name"].as_str().map(ToString::to_string);
    }
    if terminal && !json {
        println!(
            "Cairn shell on {} — `help` lists the commands, `login USER` starts a session, Ctrl-D leaves.",
            shell.base
        );
    }
    let mut failed: Option<u8> = None;
    loop {
        let Some(line) = shell.read_line()? else {
            break;
        };
        let number = shell.lines_read;
        match shell.run_line(&line) {
            Ok(Next::Continue) => {}
            Ok(Next::Exit) => break,
            Err(error) if terminal => {
                exit::report(&error, json);
            }
            Err(error) => {
                // A script's error names its line; the script stops there unless told not to.
                let status = exit::status_of(&error);
                exit::report(&error.context(format!("line {number}")), json);
                failed.get_or_insert(status);
                if !args.keep_going {
                    break;
                }
            }
        }
    }
    if let (Input::Terminal(editor), Some(history)) = (&mut shell.input, &history) {
        let _ = editor.save_history(history);
    }
    if let Some(status) = failed {
        // Each error was reported as it happened: leave with the first one's status.
        let _ = std::io::stdout().flush();
        std::process::exit(i32::from(status));
    }
    Ok(())
}
