//! Any text given to the compiler either compiles or yields an error with a place inside the
//! text; whatever compiles runs to an outcome or a fault, never a panic, within its gas.
#![no_main]

use std::collections::BTreeMap;

use cairn_contracts::{Env, compile_package, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    match compile_package(source) {
        Err(error) => {
            let lines = source.split('\n').count() as u32;
            assert!(error.span.line >= 1 && error.span.line <= lines + 1, "{error}");
            let _ = error.render("fuzz.properties", source);
        }
        Ok(package) => {
            let fields: BTreeMap<String, cairn_contracts::Decimal> = package
                .constants
                .iter()
                .map(|(k, v)| (k.rsplit('.').next().unwrap_or(k).to_string(), *v))
                .collect();
            let env = Env {
                record: &fields,
                operator: &fields,
                names: &fields,
            };
            for contract in &package.contracts {
                if let Ok(outcome) = run(&contract.program, &env, 10_000) {
                    assert!(outcome.gas_used <= 10_000);
                }
            }
            for line in &package.schedule {
                if let Some(condition) = &line.condition {
                    let _ = run(condition, &env, 10_000);
                }
            }
        }
    }
});
