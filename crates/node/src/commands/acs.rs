//! `cairn acs …`: ACS packages (the contract language is `cairn-contracts`).

use std::path::Path;

use anyhow::Context;
use cairn_contracts::{Action, Package, Role, Trigger, compile_package};
use serde_json::{Value, json};

use crate::exit::{self, Failure};

/// Largest package file read.
pub const MAX_PACKAGE_BYTES: u64 = 256 * 1024;

/// Reads and compiles a package; a compile error is `FILE:LINE:COL: message` with the source
/// line and a caret, exit status 1.
pub fn compile_file(file: &Path) -> anyhow::Result<Package> {
    use std::io::Read;
    // Read at most one byte past the limit, whatever the file claims to be (a pipe, a
    // device, a file still growing).
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PACKAGE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        anyhow::bail!(
            "{} is larger than {MAX_PACKAGE_BYTES} bytes, the most a package holds",
            file.display()
        );
    }
    let source = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
    compile_package(&source).map_err(|error| {
        let name = file.display().to_string();
        let rendered = error.render(&name, &source);
        let first = rendered.lines().next().unwrap_or_default().to_string();
        Failure::new(exit::ERROR, "compile_error", first)
            .with("file", name)
            .with("line", error.span.line)
            .with("col", error.span.col)
            .displayed_as(rendered)
            .into()
    })
}

/// `cairn acs check FILE`.
pub fn check(file: &Path, json: bool) -> anyhow::Result<()> {
    let package = compile_file(file)?;
    let summary = summary(&package);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!("{}: compiles", file.display());
    for contract in &package.contracts {
        let writes = each_once(contract.program.writes());
        println!(
            "  contract {:<16} runs on {:<9} {} instructions, writes {}",
            contract.name,
            role_word(contract.role),
            contract.program.ops.len(),
            if writes.is_empty() {
                "nothing".to_string()
            } else {
                writes.join(", ")
            }
        );
    }
    for (key, value) in &package.constants {
        println!("  constant {key} = {value}");
    }
    for line in &package.schedule {
        println!(
            "  schedule line {}: {} {}{}",
            line.span.line,
            trigger_text(line.trigger),
            action_text(&line.action),
            if line.condition.is_some() {
                " (with a condition)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn summary(package: &Package) -> Value {
    json!({
        "contracts": package.contracts.iter().map(|c| {
            json!({
                "name": c.name, "key": c.key, "role": role_word(c.role),
                "instructions": c.program.ops.len(),
                "writes": each_once(c.program.writes()),
                "writes_operator": each_once(c.program.operator_writes()),
            })
        }).collect::<Vec<_>>(),
        "constants": package.constants.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect::<serde_json::Map<_, _>>(),
        "schedule": package.schedule.iter().map(|line| json!({
            "line": line.span.line,
            "trigger": trigger_text(line.trigger),
            "action": action_text(&line.action),
            "condition": line.condition.is_some(),
        })).collect::<Vec<_>>(),
    })
}

/// Each field once, in the order the source first writes it.
fn each_once<'a>(fields: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut once: Vec<&str> = Vec::new();
    for field in fields {
        if !once.contains(&field) {
            once.push(field);
        }
    }
    once
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::Holder => "holder",
    }
}

fn trigger_text(trigger: Trigger) -> String {
    match trigger {
        Trigger::OnStart => "onStart".into(),
        Trigger::EveryBlocks(n) => format!("every({n} blocks)"),
        Trigger::EverySeconds(n) => format!("every({n} s)"),
        Trigger::Monthly { day, hour, minute } => format!("monthly({day},{hour:02}:{minute:02})"),
    }
}

fn action_text(action: &Action) -> String {
    match action {
        Action::CommitAcs => "commitACS".into(),
        Action::Run(name) => format!("run({name})"),
    }
}
