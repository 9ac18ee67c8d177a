//! Packages: the seed's properties files of contracts, constants and `#when` schedule lines.
//!
//! ```text
//! #when ebs>=1 trigger=onStart commitACS        a schedule line
//! afs.nbcs.max.eps=1.00                         a constant
//! #acs automatic contract service               a comment
//! afs.nbcs.acs.operator={ … }                   a contract; its body may span lines
//! ```
//!
//! A contract's name is its key after `acs.` (`afs.nbcs.acs.holder.getvbl` is
//! `holder.getvbl`); names starting with `operator` run on the operator's record, names
//! starting with `holder` on holders' records. A body runs from its `{` to the matching `}`,
//! across line breaks, as the seed prints its examples.

use std::collections::BTreeMap;

use crate::compile::{Program, compile_condition, compile_contract};
use crate::decimal::Decimal;
use crate::error::{CompileError, Span};

/// Whose record a contract runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The package operator's (its deployer's) record.
    Operator,
    /// A holder's record.
    Holder,
}

impl Role {
    /// `operator` or `holder`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Holder => "holder",
        }
    }
}

/// A compiled contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// Its name (`operator`, `holder`, `holder.getvbl`).
    pub name: String,
    /// Its key in the file.
    pub key: String,
    /// Whose records it runs on.
    pub role: Role,
    /// The code.
    pub program: Program,
    /// Where its body starts.
    pub span: Span,
}

/// When a schedule line fires, in block time (header timestamps, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Once, when the package is deployed.
    OnStart,
    /// Every N blocks.
    EveryBlocks(u64),
    /// Every N seconds.
    EverySeconds(u64),
    /// On day DAY of every month (1 to 28, so every month has it), at HH:MM.
    Monthly {
        /// Day of the month.
        day: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
    },
}

/// As the source writes it: `onStart`, `every(N blocks)`, `every(N s)`, `monthly(D,HH:MM)`.
impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Trigger::OnStart => f.write_str("onStart"),
            Trigger::EveryBlocks(n) => write!(f, "every({n} blocks)"),
            Trigger::EverySeconds(n) => write!(f, "every({n} s)"),
            Trigger::Monthly { day, hour, minute } => {
                write!(f, "monthly({day},{hour:02}:{minute:02})")
            }
        }
    }
}

/// What a schedule line does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Activate the package (the seed's `commitACS`).
    CommitAcs,
    /// Run the contract on every record of its role whose condition holds.
    Run(String),
}

/// As the source writes it: `commitACS` or `run(CONTRACT)`.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CommitAcs => f.write_str("commitACS"),
            Action::Run(name) => write!(f, "run({name})"),
        }
    }
}

/// A `#when [CONDITION] trigger=TRIGGER ACTION` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The condition (bare names allowed), if any.
    pub condition: Option<Program>,
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: Action,
    /// Where the line is.
    pub span: Span,
}

/// A compiled package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    /// Constants, by key.
    pub constants: BTreeMap<String, Decimal>,
    /// Contracts, in file order.
    pub contracts: Vec<Contract>,
    /// Schedule lines, in file order.
    pub schedule: Vec<Schedule>,
}

impl Package {
    /// The contract called `name`.
    pub fn contract(&self, name: &str) -> Option<&Contract> {
        self.contracts.iter().find(|c| c.name == name)
    }
}

/// Compiles a package's source. Columns count characters; a leading byte-order mark is
/// ignored.
pub fn compile_package(source: &str) -> Result<Package, CompileError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut package = Package::default();
    let lines: Vec<&str> = source.split('\n').collect();
    // Byte offset of each line's start.
    let mut starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for line in &lines {
        starts.push(offset);
        offset += line.len() + 1;
    }
    let mut index = 0;
    while index < lines.len() {
        let raw = lines[index].trim_end_matches('\r');
        let line_no = index as u32 + 1;
        // The span of byte offset `byte` of this line.
        let at = |byte: usize| Span {
            line: line_no,
            col: column(raw, byte),
        };
        index += 1;
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        if trimmed.trim_end().is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("#when")
            && rest.starts_with(|c: char| c.is_whitespace())
        {
            let rest_at = indent + "#when".len();
            package.schedule.push(schedule_line(raw, rest_at, line_no)?);
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let Some(eq) = raw.find('=') else {
            return Err(CompileError::new(
                at(indent),
                "expected KEY=VALUE, a comment or a #when line",
            ));
        };
        let key = raw[indent..eq.max(indent)].trim_end();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(CompileError::new(
                at(indent),
                "a key is letters, digits, `_` and `.`",
            ));
        }
        let after = &raw[eq + 1..];
        let value = after.trim_start();
        let value_at = eq + 1 + (after.len() - value.len());
        let taken =
            package.constants.contains_key(key) || package.contracts.iter().any(|c| c.key == key);
        if taken {
            return Err(CompileError::new(
                at(indent),
                format!("`{key}` is set twice"),
            ));
        }
        if value.starts_with('{') {
            // The body: from this `{` to its matching `}`, however many lines that takes.
            let body_start = starts[index - 1] + value_at;
            let span = at(value_at);
            let end = matching_brace(source, body_start)
                .ok_or_else(|| CompileError::new(span, "this `{` is never closed"))?;
            let program = compile_contract(&source[body_start..=end], span)?;
            // What follows the `}` on its line must be blank.
            let end_line = starts.partition_point(|start| *start <= end) - 1;
            let line = lines[end_line].trim_end_matches('\r');
            let after_brace = end - starts[end_line] + 1;
            let rest = &line[after_brace..];
            if !rest.trim().is_empty() {
                let first = after_brace + (rest.len() - rest.trim_start().len());
                return Err(CompileError::new(
                    Span {
                        line: end_line as u32 + 1,
                        col: column(line, first),
                    },
                    "text after the contract's closing `}`",
                ));
            }
            index = end_line + 1;
            let name = contract_name(key);
            let role = if name == "operator" || name.starts_with("operator.") {
                Role::Operator
            } else if name == "holder" || name.starts_with("holder.") {
                Role::Holder
            } else {
                return Err(CompileError::new(
                    at(indent),
                    format!(
                        "contract `{name}`: a contract's name starts with `operator` or `holder` (its role)"
                    ),
                ));
            };
            if package.contract(&name).is_some() {
                return Err(CompileError::new(
                    at(indent),
                    format!("a second contract `{name}`"),
                ));
            }
            package.contracts.push(Contract {
                name,
                key: key.to_string(),
                role,
                program,
                span,
            });
        } else {
            let text = value.trim_end();
            let constant = text.parse::<Decimal>().map_err(|_| {
                CompileError::new(
                    at(value_at),
                    format!("`{text}` is neither a decimal constant nor a contract `{{…}}`"),
                )
            })?;
            package.constants.insert(key.to_string(), constant);
        }
    }
    for line in &package.schedule {
        if let Action::Run(name) = &line.action
            && package.contract(name).is_none()
        {
            return Err(CompileError::new(
                line.span,
                format!("run({name}): no contract `{name}` in this package"),
            ));
        }
    }
    Ok(package)
}

/// The 1-based column, in characters, of byte offset `byte` of `line`.
fn column(line: &str, byte: usize) -> u32 {
    let byte = byte.min(line.len());
    // Every offset passed here lies on a character boundary (after ASCII or whitespace).
    let counted = line
        .get(..byte)
        .map_or(byte, |prefix| prefix.chars().count());
    u32::try_from(counted).unwrap_or(u32::MAX - 1) + 1
}

/// The contract's name: its key after `acs.`.
fn contract_name(key: &str) -> String {
    let segments: Vec<&str> = key.split('.').collect();
    match segments.iter().position(|s| *s == "acs") {
        Some(at) if at + 1 < segments.len() => segments[at + 1..].join("."),
        _ => key.to_string(),
    }
}

/// The byte offset of the `}` that closes the `{` at `open`.
fn matching_brace(source: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in source.as_bytes()[open..].iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `[CONDITION] trigger=TRIGGER ACTION`: the text of `line` from byte `from` on (after
/// `#when`).
fn schedule_line(line: &str, from: usize, line_no: u32) -> Result<Schedule, CompileError> {
    let text = &line[from..];
    let span_at = |offset: usize| Span {
        line: line_no,
        col: column(line, from + offset),
    };
    let Some(trigger_at) = text.find("trigger=") else {
        return Err(CompileError::new(
            span_at(0),
            "a #when line needs trigger=…",
        ));
    };
    let condition_text = &text[..trigger_at];
    let condition = if condition_text.trim().is_empty() {
        None
    } else {
        Some(compile_condition(condition_text, span_at(0))?)
    };
    let after_at = trigger_at + "trigger=".len();
    let after = &text[after_at..];
    let (spec, rest) = if after.starts_with("every(") || after.starts_with("monthly(") {
        let close = after
            .find(')')
            .ok_or_else(|| CompileError::new(span_at(after_at), "unclosed `(` in the trigger"))?;
        (&after[..=close], &after[close + 1..])
    } else {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        (&after[..end], &after[end..])
    };
    let trigger = trigger(spec).ok_or_else(|| {
        CompileError::new(
            span_at(after_at),
            format!("`{spec}` is not a trigger: onStart, every(N blocks), every(N s), monthly(DAY) or monthly(DAY,HH:MM)"),
        )
    })?;
    let action_text = rest.trim();
    let action_at = after_at + spec.len() + (rest.len() - rest.trim_start().len());
    let action = if action_text == "commitACS" {
        Action::CommitAcs
    } else if let Some(name) = action_text
        .strip_prefix("run(")
        .and_then(|r| r.strip_suffix(')'))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Action::Run(name.to_string())
    } else {
        return Err(CompileError::new(
            span_at(action_at),
            format!("`{action_text}` is not an action: commitACS or run(CONTRACT)"),
        ));
    };
    Ok(Schedule {
        condition,
        trigger,
        action,
        span: Span {
            line: line_no,
            col: 1,
        },
    })
}

/// A whole number written with digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn trigger(spec: &str) -> Option<Trigger> {
    if spec == "onStart" {
        return Some(Trigger::OnStart);
    }
    if let Some(inner) = spec
        .strip_prefix("every(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let (count, unit) = inner.trim().split_once(char::is_whitespace)?;
        let count: u64 = digits(count).filter(|n| *n > 0)?;
        return match unit.trim() {
            "blocks" | "block" => Some(Trigger::EveryBlocks(count)),
            "s" => Some(Trigger::EverySeconds(count)),
            _ => None,
        };
    }
    let inner = spec.strip_prefix("monthly(")?.strip_suffix(')')?;
    let (day, time) = match inner.split_once(',') {
        Some((day, time)) => (day.trim(), Some(time.trim())),
        None => (inner.trim(), None),
    };
    let day: u8 = digits(day).filter(|d| (1..=28).contains(d))?;
    let (hour, minute) = match time {
        None => (0, 0),
        Some(time) => {
            // Exactly HH:MM.
            let (h, m) = time.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u8, u8) = (digits(h)?, digits(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            (h, m)
        }
    };
    Some(Trigger::Monthly { day, hour, minute })
}
