//! The VM against rhai, a widely used embedded script engine: the seed's `holder` contract,
//! compiled from the seed's text, and the same logic as a rhai script (with rhai's exact
//! decimals, not floats), run on the same records. Results are checked equal; the figures and
//! their ratio are printed.
//!
//! `cargo bench -p cairn-contracts --bench vm [-- RUNS]`

use std::collections::BTreeMap;
use std::time::Instant;

use cairn_contracts::{Decimal, Env, compile_package, run};
use rhai::{Dynamic, Engine, Scope};

const SEED: &str = include_str!("../tests/seed/nbcs.properties");

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

fn d(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

fn rd(value: Decimal) -> rust_decimal::Decimal {
    value.to_string().parse().expect("rhai takes the decimal")
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let package = compile_package(SEED).expect("the seed compiles");
    let holder = &package.contract("holder").expect("holder").program;
    let operator: BTreeMap<String, Decimal> = [("rate", "0.05"), ("sprate", "1"), ("xdc", "12")]
        .iter()
        .map(|(k, v)| (k.to_string(), d(v)))
        .collect();
    // Records: shares or none, dividends taken or pending, balances with decimals.
    let records: Vec<BTreeMap<String, Decimal>> = (0..1_000u32)
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
    let vm = |record: &BTreeMap<String, Decimal>| {
        let env = Env {
            record,
            operator: &operator,
            names: &names,
        };
        let outcome = run(holder, &env, 10_000).expect("the holder runs");
        outcome
            .writes
            .get("xdc")
            .map(|xdc| (*xdc, outcome.writes["bl"]))
    };

    let mut engine = Engine::new();
    engine.set_optimization_level(rhai::OptimizationLevel::Full);
    let ast = engine.compile(HOLDER_RHAI).expect("the script compiles");
    let (zero, one) = (rd(Decimal::ZERO), rd(Decimal::ONE));
    let (op_rate, op_sprate, op_xdc) = (
        rd(operator["rate"]),
        rd(operator["sprate"]),
        rd(operator["xdc"]),
    );
    let rhai_run = |record: &BTreeMap<String, Decimal>| {
        let mut scope = Scope::new();
        for (name, value) in [
            ("stka", record["stka"]),
            ("stkb", record["stkb"]),
            ("xdc", record["xdc"]),
            ("bl", record["bl"]),
        ] {
            scope.push(name, rd(value));
        }
        scope.push("op_rate", op_rate);
        scope.push("op_sprate", op_sprate);
        scope.push("op_xdc", op_xdc);
        scope.push("zero", zero);
        scope.push("one", one);
        let result: rhai::Array = engine
            .eval_ast_with_scope(&mut scope, &ast)
            .expect("the script runs");
        let field = |v: &Dynamic| -> Decimal {
            let value: rust_decimal::Decimal = v.clone().cast();
            d(&value.normalize().to_string())
        };
        (result.len() == 2).then(|| (field(&result[0]), field(&result[1])))
    };

    // Same inputs, same results.
    let mut written = 0;
    for record in &records {
        let (ours, theirs) = (vm(record), rhai_run(record));
        assert_eq!(ours, theirs, "results differ on {record:?}");
        written += usize::from(ours.is_some());
    }
    assert!(
        written > 0 && written < records.len(),
        "both paths exercised"
    );

    let time = |f: &dyn Fn(&Record) -> Written| {
        let started = Instant::now();
        let mut sink = 0usize;
        for i in 0..runs {
            sink += usize::from(f(&records[i % records.len()]).is_some());
        }
        std::hint::black_box(sink);
        runs as f64 / started.elapsed().as_secs_f64()
    };
    let vm_rate = time(&vm);
    let rhai_rate = time(&rhai_run);
    println!(
        "seed holder contract, {runs} runs over {} records, results equal",
        records.len()
    );
    println!("  cairn VM: {vm_rate:>12.0} runs/s");
    println!("  rhai:     {rhai_rate:>12.0} runs/s");
    println!(
        "  ratio:    {:>12.1}x (target: at least 5x)",
        vm_rate / rhai_rate
    );
}
