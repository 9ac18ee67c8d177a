//! `cairn acs …`: ACS packages (the contract language is `cairn-contracts`).

use std::path::Path;

use anyhow::Context;
use cairn_api_types::{ReceiptView, TxStatus};
use cairn_contracts::{Decimal, Package, compile_package};
use cairn_ledger::acs::{MAX_TRANSACTION_GAS, check_condition_names, intrinsic_gas};
use cairn_primitives::{
    AcsAction, AcsTransaction, Address, B256, Bytes, MAX_PACKAGE_SOURCE_BYTES, MAX_SET_FIELDS,
    is_field_name, package_address,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{AcsCommand, SendArgs, SignerArgs};
use crate::client::Client;
use crate::commands::client_cmds::{
    chain_and_nonce, parse_address, print_json, signing_key, status_word, submit_and_wait,
};
use crate::exit::{self, Failure};

/// Largest package file read.
pub const MAX_PACKAGE_BYTES: u64 = 256 * 1024;

/// Reads a package file, at most [`MAX_PACKAGE_BYTES`] of UTF-8.
fn read_source(file: &Path) -> anyhow::Result<String> {
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
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))
}

/// Reads and compiles a package; a compile error is `FILE:LINE:COL: message` with the source
/// line and a caret, exit status 1.
pub fn compile_file(file: &Path) -> anyhow::Result<Package> {
    compile_source(file, &read_source(file)?)
}

/// Compiles `source` (read from `file`) as the chain will: the package compiles and its
/// conditions use only names the chain supplies.
fn compile_source(file: &Path, source: &str) -> anyhow::Result<Package> {
    let name = file.display().to_string();
    let failure = |line: u32, col: u32, message: &str| -> anyhow::Error {
        let error = cairn_contracts::CompileError::new(
            cairn_contracts::Span { line, col },
            message.to_string(),
        );
        let rendered = error.render(&name, source);
        let first = rendered.lines().next().unwrap_or_default().to_string();
        Failure::new(exit::ERROR, "compile_error", first)
            .with("file", name.clone())
            .with("line", line)
            .with("col", col)
            .displayed_as(rendered)
            .into()
    };
    let package = compile_package(source)
        .map_err(|error| failure(error.span.line, error.span.col, &error.message))?;
    check_condition_names(&package)
        .map_err(|error| failure(error.line, error.col, &error.message))?;
    Ok(package)
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
            contract.role.as_str(),
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
            line.trigger,
            line.action,
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
                "name": c.name, "key": c.key, "role": c.role.as_str(),
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
            "trigger": line.trigger.to_string(),
            "action": line.action.to_string(),
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

/// The output of `acs deploy`.
#[derive(Serialize)]
struct DeployOutput {
    package: Address,
    hash: B256,
    status: String,
    contracts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The output of `acs join|set|call`.
#[derive(Serialize)]
struct ActionOutput {
    hash: B256,
    status: String,
    #[serde(rename = "return")]
    returned: Option<String>,
    error: Option<String>,
    block: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gas_used: Option<u64>,
}

/// `cairn acs deploy|join|set|call|query|record|jobs`.
pub fn run(client: &Client, command: AcsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        AcsCommand::Check { file } => check(&file, json),
        AcsCommand::Deploy { signer, file, send } => deploy(client, &signer, &file, &send, json),
        AcsCommand::Join {
            signer,
            package,
            send,
        } => {
            let package = parse_address("--package", &package)?;
            let action = AcsAction::Join { package };
            let gas = intrinsic_gas(&action);
            action_command(client, &signer, &send, gas, action, json)
        }
        AcsCommand::Set {
            signer,
            package,
            record,
            fields,
            send,
        } => {
            let package = parse_address("--package", &package)?;
            let record = parse_address("--record", &record)?;
            let fields = parse_fields(&fields)?;
            let action = AcsAction::Set {
                package,
                record,
                fields,
            };
            let gas = intrinsic_gas(&action);
            action_command(client, &signer, &send, gas, action, json)
        }
        AcsCommand::Call {
            signer,
            package,
            contract,
            record,
            gas,
            send,
        } => {
            let package = parse_address("--package", &package)?;
            let record = record
                .map(|record| parse_address("--record", &record))
                .transpose()?;
            check_contract_name(&contract)?;
            let key = signing_key(client, &signer)?;
            let record = record.unwrap_or_else(|| key.address());
            let action = AcsAction::Call {
                package,
                contract,
                record,
            };
            let needed = intrinsic_gas(&action);
            if gas < needed || gas > MAX_TRANSACTION_GAS {
                return Err(Failure::usage(
                    "invalid_argument",
                    format!("--gas: {gas} is not from {needed} to {MAX_TRANSACTION_GAS}"),
                )
                .into());
            }
            action_command(client, &signer, &send, gas, action, json)
        }
        AcsCommand::Query {
            package,
            contract,
            record,
            ..
        } => {
            let package = parse_address("--package", &package)?;
            let record = parse_address("--record", &record)?;
            check_contract_name(&contract)?;
            let answer = client.block_on(client.api().query(&package, &contract, &record))?;
            if json {
                print_json(&answer)?;
            } else {
                println!("{}", answer.returned.as_deref().unwrap_or("null"));
            }
            Ok(())
        }
        AcsCommand::Record {
            package,
            record,
            proof,
            ..
        } => {
            let package = parse_address("--package", &package)?;
            let record = parse_address("ADDR", &record)?;
            let view = client.block_on(client.api().record(&package, &record, proof))?;
            if json {
                print_json(&view)?;
            } else {
                println!("Package: {:#x}", view.package);
                println!("Record:  {:#x} ({})", view.record, view.role);
                println!("Block:   {}", view.block);
                for (name, value) in &view.fields {
                    println!("  {name} = {value}");
                }
                if let Some(proofs) = &view.storage_proof {
                    println!("Storage root: {}", view.storage_hash.unwrap_or_default());
                    for proof in proofs {
                        println!(
                            "  {} at slot {}: {} proof nodes",
                            proof.field,
                            proof.key,
                            proof.proof.len()
                        );
                    }
                }
            }
            Ok(())
        }
        AcsCommand::Jobs { package, limit, .. } => {
            let package = parse_address("--package", &package)?;
            // The parser bounds the limit to 1..=10,000.
            let limit = usize::try_from(limit).unwrap_or(10_000);
            let jobs = client.block_on(client.api().jobs(&package, limit))?;
            if json {
                print_json(&jobs.runs)?;
            } else if jobs.runs.is_empty() {
                println!("No scheduled runs yet.");
            } else {
                for run in &jobs.runs {
                    println!(
                        "block {:>6}  {}  {:<16} {:#x}  {}{}{}",
                        run.block,
                        run.time,
                        run.contract,
                        run.record,
                        run.status,
                        if run.late_blocks > 0 {
                            format!(" ({} blocks late)", run.late_blocks)
                        } else {
                            String::new()
                        },
                        run.error
                            .as_deref()
                            .map(|error| format!(": {error}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

fn check_contract_name(contract: &str) -> anyhow::Result<()> {
    if cairn_primitives::is_contract_name(contract) {
        return Ok(());
    }
    Err(Failure::usage(
        "invalid_argument",
        format!("--contract: {contract:?} is not a contract name (such as holder.getvbl)"),
    )
    .into())
}

/// `FIELD=DECIMAL` arguments.
fn parse_fields(arguments: &[String]) -> anyhow::Result<Vec<(String, i128)>> {
    if arguments.len() > MAX_SET_FIELDS {
        return Err(Failure::usage(
            "invalid_argument",
            format!(
                "{} fields; one set writes at most {MAX_SET_FIELDS}",
                arguments.len()
            ),
        )
        .into());
    }
    let mut fields: Vec<(String, i128)> = Vec::with_capacity(arguments.len());
    for argument in arguments {
        let invalid = |why: &str| -> anyhow::Error {
            Failure::usage("invalid_argument", format!("{argument:?}: {why}")).into()
        };
        let Some((name, value)) = argument.split_once('=') else {
            return Err(invalid("not FIELD=DECIMAL"));
        };
        if !is_field_name(name) {
            return Err(invalid(
                "the field name is not a letter or _ followed by letters, digits and _",
            ));
        }
        let value: Decimal = value
            .parse()
            .map_err(|_| invalid("the value is not a decimal (such as 900 or 0.05)"))?;
        if fields.iter().any(|(seen, _)| seen == name) {
            return Err(invalid("the field is given twice"));
        }
        fields.push((name.to_string(), value.units()));
    }
    Ok(fields)
}

fn deploy(
    client: &Client,
    signer: &SignerArgs,
    file: &Path,
    send: &SendArgs,
    json: bool,
) -> anyhow::Result<()> {
    let source = read_source(file)?;
    let package = compile_source(file, &source)?;
    if source.len() > MAX_PACKAGE_SOURCE_BYTES {
        return Err(Failure::new(
            exit::ERROR,
            "package_too_large",
            format!(
                "{} is {} bytes; a deployed package holds at most {MAX_PACKAGE_SOURCE_BYTES}",
                file.display(),
                source.len()
            ),
        )
        .into());
    }
    let key = signing_key(client, signer)?;
    let (chain_id, nonce) = chain_and_nonce(client, &key.address(), send.nonce)?;
    let action = AcsAction::Deploy {
        source: Bytes::from(source.into_bytes()),
    };
    let signed = AcsTransaction {
        chain_id,
        nonce,
        gas_limit: intrinsic_gas(&action),
        action,
    }
    .sign(&key);
    let sent = submit_and_wait(client, &signed, send.wait.then_some(send.timeout))?;
    let error = sent
        .receipt
        .as_ref()
        .and_then(|receipt| receipt.error.clone());
    let output = DeployOutput {
        package: package_address(key.kind().suite(), &key.address(), nonce),
        hash: sent.hash,
        status: status_word(sent.status).into(),
        contracts: package.contracts.iter().map(|c| c.name.clone()).collect(),
        block: sent.block,
        error,
    };
    if json {
        print_json(&output)?;
    } else {
        println!("Package:   {:#x}", output.package);
        println!("Hash:      {}", output.hash);
        println!("Status:    {}", output.status);
        println!("Contracts: {}", output.contracts.join(", "));
        if let Some(block) = output.block {
            println!("Block:     {block}");
        }
        if let Some(error) = &output.error {
            println!("Error:     {error}");
        }
    }
    failed_on_chain(sent.status, sent.hash, sent.block, output.error.as_deref())
}

/// Exit 4 when the transaction is in a block but failed (its output is already printed).
fn failed_on_chain(
    status: TxStatus,
    hash: B256,
    block: Option<u64>,
    error: Option<&str>,
) -> anyhow::Result<()> {
    if status != TxStatus::Failed {
        return Ok(());
    }
    let error = error.unwrap_or("failed");
    Err(Failure::new(
        exit::FAILED,
        "contract",
        format!(
            "transaction {hash} is in block {} but failed: {error}",
            block.unwrap_or_default()
        ),
    )
    .printed()
    .into())
}

fn action_command(
    client: &Client,
    signer: &SignerArgs,
    send: &SendArgs,
    gas_limit: u64,
    action: AcsAction,
    json: bool,
) -> anyhow::Result<()> {
    let key = signing_key(client, signer)?;
    let (chain_id, nonce) = chain_and_nonce(client, &key.address(), send.nonce)?;
    let signed = AcsTransaction {
        chain_id,
        nonce,
        gas_limit,
        action,
    }
    .sign(&key);
    let sent = submit_and_wait(client, &signed, send.wait.then_some(send.timeout))?;
    let receipt: Option<&ReceiptView> = sent.receipt.as_ref();
    let output = ActionOutput {
        hash: sent.hash,
        status: status_word(sent.status).into(),
        returned: receipt.and_then(|receipt| receipt.returned.clone()),
        error: receipt.and_then(|receipt| receipt.error.clone()),
        block: sent.block,
        gas_used: receipt.and_then(|receipt| receipt.gas_used),
    };
    if json {
        print_json(&output)?;
    } else {
        println!("Hash:    {}", output.hash);
        println!("Status:  {}", output.status);
        if let Some(block) = output.block {
            println!("Block:   {block}");
        }
        if let Some(value) = &output.returned {
            println!("Return:  {value}");
        }
        if let Some(gas) = output.gas_used {
            println!("Gas:     {gas}");
        }
        if let Some(error) = &output.error {
            println!("Error:   {error}");
        }
    }
    failed_on_chain(sent.status, sent.hash, sent.block, output.error.as_deref())
}
