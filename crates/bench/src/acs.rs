//! `cairn-bench acs`: ACS contracts, end to end and in the VM alone.
//!
//! End to end: one node (the solo engine) with the seed's package deployed and activated,
//! `accounts` holders joined with shares set, then, in the same run, `calls` committed
//! transfers and `calls` committed `holder` calls (each holder calling on its own record), both
//! submitted through the public API in binary batches and timed from submission to commit by
//! the same harness as `tps`. The VM alone: the seed's `holder` contract, compiled from the
//! seed's text, against the same logic as a rhai script (with rhai's exact decimals, not
//! floats), on the same records; results are checked equal before anything is timed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use cairn_contracts::{Decimal, Env, compile_package, run as run_vm};
use cairn_primitives::{
    AcsAction, AcsTransaction, Address, Bytes, CryptoSuite, SecretKey, SignedTransaction,
    package_address,
};
use rhai::{Dynamic, Engine, Scope};
use serde::Serialize;

use crate::tps::{account_key, measure, node_client, runtime, sign_all, start_chain};

const SEED: &str = include_str!("../../contracts/tests/seed/nbcs.properties");
const CHAIN_ID: u64 = 7_777;
/// Gas limit of each benchmarked call (the seed's holder needs a few hundred).
const CALL_GAS: u64 = 5_000;

/// The result of one run.
#[derive(Debug, Serialize)]
pub struct AcsReport {
    /// Holder calls (and transfers) committed.
    pub calls: usize,
    /// Committed `holder` calls per second, first submission to last commit.
    pub committed_calls_per_s: f64,
    /// Committed transfers per second in the same run, from the same accounts.
    pub transfers_per_s: f64,
    /// committed_calls_per_s / transfers_per_s (target: at least 0.5).
    pub calls_to_transfers: f64,
    /// Median submission-to-commit latency of the calls.
    pub calls_p50_ms: f64,
    /// Seed `holder` runs per second in the VM alone.
    pub vm_runs_per_s: f64,
    /// The same logic per second in rhai.
    pub rhai_runs_per_s: f64,
    /// vm_runs_per_s / rhai_runs_per_s (target: at least 5).
    pub vm_to_rhai: f64,
    /// Whether the VM and rhai computed the same writes on every record.
    pub results_equal: bool,
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap_or(Decimal::ZERO)
}

fn acs(key: &SecretKey, nonce: u64, gas_limit: u64, action: AcsAction) -> SignedTransaction {
    AcsTransaction {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        action,
    }
    .sign(key)
}

fn exact(key: &SecretKey, nonce: u64, action: AcsAction) -> SignedTransaction {
    let gas = cairn_ledger::acs::intrinsic_gas(&action);
    acs(key, nonce, gas, action)
}

fn set(
    operator: &SecretKey,
    nonce: u64,
    package: Address,
    record: Address,
    fields: &[(&str, &str)],
) -> SignedTransaction {
    exact(
        operator,
        nonce,
        AcsAction::Set {
            package,
            record,
            fields: fields
                .iter()
                .map(|(name, value)| (name.to_string(), d(value).units()))
                .collect(),
        },
    )
}

/// `cairn-bench acs`.
pub fn run(calls: usize, accounts: usize) -> anyhow::Result<AcsReport> {
    ensure!(
        calls > 0 && accounts > 0,
        "calls and accounts must be positive"
    );
    ensure!(
        calls / accounts < 4_000,
        "at most 4,000 calls per holder (the pool's per-sender bound): use more --accounts"
    );
    eprintln!("the VM against rhai on the seed's holder contract...");
    let (vm_runs_per_s, rhai_runs_per_s, results_equal) = vm_against_rhai(200_000)?;

    // Account 0 operates the package; accounts 1..=holders hold shares.
    let keys: Vec<SecretKey> = (0..=accounts).map(account_key).collect();
    let operator = &keys[0];
    let holders = &keys[1..];
    let dir = tempfile::tempdir()?;
    eprintln!("starting a node in {}...", dir.path().display());
    let nodes = start_chain(dir.path(), 1, &keys)?;
    let package = package_address(CryptoSuite::Ed25519Keccak, &operator.address(), 0);
    eprintln!("deploying the seed's package and joining {accounts} holders...");
    let deploy = exact(
        operator,
        0,
        AcsAction::Deploy {
            source: Bytes::from_static(SEED.as_bytes()),
        },
    );
    measure(&nodes, vec![deploy])?;
    let mut setup = vec![set(
        operator,
        1,
        package,
        operator.address(),
        &[
            ("rate", "0.05"),
            ("sprate", "1"),
            ("rc", "100"),
            ("bl", "100000"),
            ("xdc", "3"),
        ],
    )];
    setup.extend(
        holders
            .iter()
            .map(|holder| exact(holder, 0, AcsAction::Join { package })),
    );
    measure(&nodes, setup)?;
    let shares: Vec<_> = holders
        .iter()
        .enumerate()
        .map(|(i, holder)| {
            set(
                operator,
                2 + i as u64,
                package,
                holder.address(),
                &[("stka", "10"), ("bl", "50")],
            )
        })
        .collect();
    measure(&nodes, shares)?;
    // The package is active (its commitACS ran in the block after the deployment).
    let client = node_client(&nodes.http[0], Duration::from_secs(30))?;
    let rt = runtime()?;
    let state = rt.block_on(client.package(&package))?;
    ensure!(state.active, "the package did not activate");
    ensure!(
        state.holders == accounts as u64,
        "{} holders joined",
        state.holders
    );

    eprintln!("committing {calls} transfers...");
    let transfers = sign_all(holders, calls, 1);
    let transfers = measure(&nodes, transfers)?;

    eprintln!("committing {calls} holder calls...");
    // Holder h sent the transfers i < calls with i % accounts == h.
    let transfers_of = |h: usize| ((calls + accounts - 1 - h) / accounts) as u64;
    let call_txs: Vec<SignedTransaction> = (0..calls)
        .map(|i| {
            let holder = &holders[i % accounts];
            let nonce = 1 + transfers_of(i % accounts) + (i / accounts) as u64;
            acs(
                holder,
                nonce,
                CALL_GAS,
                AcsAction::Call {
                    package,
                    contract: "holder".into(),
                    record: holder.address(),
                },
            )
        })
        .collect();
    let first_call = call_txs.first().map(SignedTransaction::hash);
    let called = measure(&nodes, call_txs)?;
    // The calls did what the seed says: the first holder took its three dividends,
    // 3 × 1 × 0.95 = 2.85 on top of 50.
    let record = rt.block_on(client.record(&package, &holders[0].address(), false))?;
    ensure!(
        record.fields.get("bl").map(String::as_str) == Some("52.85"),
        "holder 0's balance is {:?}, not 52.85",
        record.fields.get("bl")
    );
    if let Some(hash) = first_call {
        let tx = rt.block_on(client.transaction(&hash))?;
        let status = tx.receipt.map(|receipt| receipt.status);
        ensure!(
            status.as_deref() == Some("success"),
            "first call: {status:?}"
        );
    }
    drop(nodes);
    Ok(AcsReport {
        calls,
        committed_calls_per_s: called.committed_tps,
        transfers_per_s: transfers.committed_tps,
        calls_to_transfers: called.committed_tps / transfers.committed_tps,
        calls_p50_ms: called.p50_ms,
        vm_runs_per_s,
        rhai_runs_per_s,
        vm_to_rhai: vm_runs_per_s / rhai_runs_per_s,
        results_equal,
    })
}

/// A record's fields.
type Record = BTreeMap<String, Decimal>;
/// What a holder run wrote: the new dividend count and balance, or nothing.
type Written = Option<(Decimal, Decimal)>;

/// The seed's holder, in rhai: the same reads, the same arithmetic, the same writes.
const HOLDER_RHAI: &str = r#"
    if stka == zero && stkb == zero { return []; }
    let rate = op_rate;
    let sprate = op_sprate;
    let axdc = op_xdc - xdc;
    let axd = axdc * sprate * (one - rate);
    if axdc > zero { [xdc + axdc, bl + axd] } else { [] }
"#;

fn rd(value: Decimal) -> anyhow::Result<rust_decimal::Decimal> {
    value
        .to_string()
        .parse()
        .with_context(|| format!("rhai cannot take {value}"))
}

/// Runs the seed's `holder` in the VM and in rhai on the same 1,000 records; checks every
/// result equal, then times `runs` runs of each. Returns (VM runs/s, rhai runs/s, equal).
pub fn vm_against_rhai(runs: usize) -> anyhow::Result<(f64, f64, bool)> {
    let package = compile_package(SEED).map_err(|e| anyhow::anyhow!("the seed: {e}"))?;
    let holder = &package
        .contract("holder")
        .context("the seed has a holder")?
        .program;
    let operator: Record = [("rate", "0.05"), ("sprate", "1"), ("xdc", "12")]
        .iter()
        .map(|(k, v)| (k.to_string(), d(v)))
        .collect();
    // Records: shares or none, dividends taken or pending, balances with decimals.
    let records: Vec<Record> = (0..1_000u32)
        .map(|i| {
            let mut record = BTreeMap::new();
            record.insert("stka".to_string(), Decimal::from_integer(i64::from(i % 7)));
            record.insert("stkb".to_string(), Decimal::from_integer(i64::from(i % 3)));
            record.insert("xdc".to_string(), Decimal::from_integer(i64::from(i % 13)));
            record.insert("bl".to_string(), d(&format!("{}.{:02}", i * 17, i % 100)));
            record
        })
        .collect();
    let names = BTreeMap::new();
    let vm = |record: &Record| -> Written {
        let env = Env {
            record,
            operator: &operator,
            names: &names,
        };
        let outcome = run_vm(holder, &env, 10_000).ok()?;
        let xdc = *outcome.writes.get("xdc")?;
        Some((xdc, *outcome.writes.get("bl")?))
    };

    let mut engine = Engine::new();
    engine.set_optimization_level(rhai::OptimizationLevel::Full);
    let ast = engine
        .compile(HOLDER_RHAI)
        .map_err(|e| anyhow::anyhow!("the script: {e}"))?;
    let (zero, one) = (rd(Decimal::ZERO)?, rd(Decimal::ONE)?);
    let (op_rate, op_sprate, op_xdc) = (
        rd(operator["rate"])?,
        rd(operator["sprate"])?,
        rd(operator["xdc"])?,
    );
    let inputs: Vec<[rust_decimal::Decimal; 4]> = records
        .iter()
        .map(|r| Ok([rd(r["stka"])?, rd(r["stkb"])?, rd(r["xdc"])?, rd(r["bl"])?]))
        .collect::<anyhow::Result<_>>()?;
    let rhai_run = |index: usize| -> Written {
        let mut scope = Scope::new();
        for (name, value) in ["stka", "stkb", "xdc", "bl"].iter().zip(inputs[index]) {
            scope.push(*name, value);
        }
        scope.push("op_rate", op_rate);
        scope.push("op_sprate", op_sprate);
        scope.push("op_xdc", op_xdc);
        scope.push("zero", zero);
        scope.push("one", one);
        let result: rhai::Array = engine.eval_ast_with_scope(&mut scope, &ast).ok()?;
        let field = |v: &Dynamic| -> Decimal {
            let value: rust_decimal::Decimal = v.clone().cast();
            d(&value.normalize().to_string())
        };
        (result.len() == 2).then(|| (field(&result[0]), field(&result[1])))
    };

    // Same inputs, same results.
    let mut equal = true;
    let mut written = 0;
    for (index, record) in records.iter().enumerate() {
        let (ours, theirs) = (vm(record), rhai_run(index));
        if ours != theirs {
            eprintln!("results differ on {record:?}: {ours:?} against {theirs:?}");
            equal = false;
        }
        written += usize::from(ours.is_some());
    }
    if written == 0 || written == records.len() {
        bail!("the records must exercise both paths of the contract");
    }

    let started = Instant::now();
    let mut sink = 0usize;
    for i in 0..runs {
        sink += usize::from(vm(&records[i % records.len()]).is_some());
    }
    let vm_rate = runs as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..runs {
        sink += usize::from(rhai_run(i % records.len()).is_some());
    }
    let rhai_rate = runs as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    Ok((vm_rate, rhai_rate, equal))
}
