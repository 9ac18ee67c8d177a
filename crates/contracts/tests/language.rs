//! The language: the seed's own package compiles as printed and computes hand-checked values;
//! every construct does what the reference says; every error names its line and column.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cairn_contracts::*;

const SEED: &str = include_str!("seed/nbcs.properties");

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Decimal> {
    pairs.iter().map(|(k, v)| (k.to_string(), d(v))).collect()
}

fn run_on(
    program: &Program,
    record: &BTreeMap<String, Decimal>,
    operator: &BTreeMap<String, Decimal>,
) -> Result<Outcome, Fault> {
    let none = BTreeMap::new();
    run(
        program,
        &Env {
            record,
            operator,
            names: &none,
        },
        1_000_000,
    )
}

/// A contract body alone, compiled as if it started at line 1, column 1.
fn contract(body: &str) -> Program {
    compile_contract(body, Span { line: 1, col: 1 }).unwrap()
}

/// Each package is refused at (line, col) with a message containing the text given.
fn assert_package_errors(cases: &[(&str, u32, u32, &str)]) {
    for (source, line, col, message) in cases {
        let error = compile_package(source).unwrap_err();
        assert_eq!(
            (error.span.line, error.span.col),
            (*line, *col),
            "{source:?}: {error}"
        );
        assert!(error.message.contains(message), "{source:?}: {error}");
    }
}

fn apply(record: &mut BTreeMap<String, Decimal>, outcome: &Outcome) {
    record.extend(outcome.writes.clone());
}

#[test]
fn the_seeds_package_compiles_as_printed() {
    let package = compile_package(SEED).unwrap();
    let names: Vec<(&str, Role)> = package
        .contracts
        .iter()
        .map(|c| (c.name.as_str(), c.role))
        .collect();
    assert_eq!(
        names,
        [
            ("operator", Role::Operator),
            ("holder", Role::Holder),
            ("holder.getvbl", Role::Holder)
        ]
    );
    assert_eq!(
        package.constants,
        fields(&[("afs.nbcs.max.eps", "1"), ("afs.nbcs.profit.rate", "0.05")])
    );
    assert_eq!(package.schedule.len(), 1);
    let line = &package.schedule[0];
    assert_eq!(
        (line.trigger, &line.action),
        (Trigger::OnStart, &Action::CommitAcs)
    );
    // `ebs>=1`: the condition reads the name `ebs`.
    let condition = line.condition.as_ref().unwrap();
    let none = BTreeMap::new();
    let names = fields(&[("ebs", "1")]);
    let env = Env {
        record: &none,
        operator: &none,
        names: &names,
    };
    assert_eq!(
        run(condition, &env, 1_000).unwrap().value,
        Some(Decimal::ONE)
    );
    let env = Env {
        names: &none,
        ..env
    };
    assert_eq!(
        run(condition, &env, 1_000).unwrap().value,
        Some(Decimal::ZERO)
    );
    // The operator contract writes what the seed says it sets.
    let writes: Vec<&str> = package
        .contract("operator")
        .unwrap()
        .program
        .writes()
        .collect();
    for field in [
        "rgstka", "stkasp", "rgstkb", "stkbv", "stkav", "bl", "xdbl", "xdc",
    ] {
        assert!(writes.contains(&field), "{field} not written: {writes:?}");
    }
}

#[test]
fn the_seeds_dividends_compute_hand_checked_values() {
    let package = compile_package(SEED).unwrap();
    let program = |name: &str| &package.contract(name).unwrap().program;
    // The operator: 100 members, 1,000 in the pool, threshold 1, tax 5 %.
    let mut operator = fields(&[
        ("rate", "0.05"),
        ("sprate", "1"),
        ("rc", "100"),
        ("bl", "1000"),
    ]);
    let empty = BTreeMap::new();
    let first = run_on(program("operator"), &operator, &empty).unwrap();
    // eps = 1000 / 100 = 10 >= 1: pay axd = 1 * 100 out of the pool into the reserve.
    assert_eq!(
        first.writes,
        fields(&[
            ("rgstka", "1000000"),
            ("stkasp", "0.2"),
            ("rgstkb", "4000000"),
            ("stkbv", "9900"),
            ("stkav", "3300"),
            ("bl", "900"),
            ("xdbl", "100"),
            ("xdc", "1"),
        ])
    );
    apply(&mut operator, &first);
    // A second run: eps = 900 / 100 = 9, another dividend.
    let second = run_on(program("operator"), &operator, &empty).unwrap();
    apply(&mut operator, &second);
    assert_eq!(operator["bl"], d("800"));
    assert_eq!(operator["xdc"], d("2"));
    assert_eq!(operator["xdbl"], d("200"));

    // A holder with 10 A shares, 50 in balance, no dividend taken yet.
    let mut holder = fields(&[("stka", "10"), ("bl", "50")]);
    // getvbl before: 50 + 10 * (2 - 0) * 1 * (1 - 0.05) = 69.
    let before = run_on(program("holder.getvbl"), &holder, &operator).unwrap();
    assert_eq!(before.returned, Some(d("69")));
    assert!(before.writes.is_empty());
    // holder: axdc = 2, axd = 2 * 1 * 0.95 = 1.9 (the seed's holder does not scale by shares).
    let taken = run_on(program("holder"), &holder, &operator).unwrap();
    assert_eq!(taken.writes, fields(&[("xdc", "2"), ("bl", "51.9")]));
    apply(&mut holder, &taken);
    // getvbl after: nothing pending, the balance itself.
    let after = run_on(program("holder.getvbl"), &holder, &operator).unwrap();
    assert_eq!(after.returned, Some(d("51.9")));
    // Running holder again takes nothing more.
    assert!(
        run_on(program("holder"), &holder, &operator)
            .unwrap()
            .writes
            .is_empty()
    );

    // A holder without A or B shares leaves at once.
    let nobody = fields(&[("bl", "5")]);
    let outcome = run_on(program("holder"), &nobody, &operator).unwrap();
    assert!(outcome.writes.is_empty() && outcome.returned.is_none());
    // With B shares only, the dividend is taken.
    let b_only = fields(&[("stkb", "3")]);
    let outcome = run_on(program("holder"), &b_only, &operator).unwrap();
    assert_eq!(outcome.writes, fields(&[("xdc", "2"), ("bl", "1.9")]));

    // An operator with more than 100,000 members prices A shares at 6,600.
    let big = fields(&[("sprate", "1"), ("rc", "100001"), ("bl", "1")]);
    let outcome = run_on(program("operator"), &big, &empty).unwrap();
    assert_eq!(outcome.writes["stkav"], d("6600"));
    // eps below the threshold: no dividend, the pool untouched.
    assert!(!outcome.writes.contains_key("bl"));
}

#[test]
fn every_construct_does_what_the_reference_says() {
    let empty = BTreeMap::new();
    let value = |expr: &str| {
        let program = contract(&format!("{{ p.w.return = {expr}; }}"));
        run_on(&program, &empty, &empty).unwrap().returned.unwrap()
    };
    assert_eq!(value("1 + 2 * 3"), d("7"));
    assert_eq!(value("(1 + 2) * 3"), d("9"));
    assert_eq!(value("10 - 4 - 3"), d("3"));
    assert_eq!(value("12 / 4 / 3"), d("1"));
    assert_eq!(value("-2 * -3"), d("6"));
    assert_eq!(value("1 / 3 * 3"), d("0.999999999999999999"));
    for (expr, expected) in [
        ("1 == 1", "1"),
        ("1 != 1", "0"),
        ("1 < 2", "1"),
        ("2 <= 2", "1"),
        ("1 > 2", "0"),
        ("2 >= 3", "0"),
        ("1 && 0", "0"),
        ("1 && 2", "1"),
        ("0 || 0", "0"),
        ("0 || 5", "1"),
        ("!0", "1"),
        ("!7", "0"),
        ("1 < 2 && 3 < 4 || 0", "1"),
    ] {
        assert_eq!(value(expr), d(expected), "{expr}");
    }
    // && and || do not evaluate a side that cannot change the result.
    assert_eq!(value("0 && 1 / 0"), d("0"));
    assert_eq!(value("1 || 1 / 0"), d("1"));
    // A missing field reads as 0; reads see the run's own earlier writes.
    let program = contract("{ p.w.a = p.a + 5; p.w.b = p.a * 2; }");
    let outcome = run_on(&program, &empty, &empty).unwrap();
    assert_eq!(outcome.writes, fields(&[("a", "5"), ("b", "10")]));
    // else if chains; return stops and keeps the writes before it.
    let program = contract(
        "{ if (p.x < 1) { p.w.r = 1; } else if (p.x < 2) { p.w.r = 2; } else { p.w.r = 3; } \
         if (p.stop == 1) { return; } p.w.after = 1; }",
    );
    for (x, r) in [("0", "1"), ("1", "2"), ("5", "3")] {
        let record = fields(&[("x", x)]);
        assert_eq!(run_on(&program, &record, &empty).unwrap().writes["r"], d(r));
    }
    let stopped = run_on(&program, &fields(&[("stop", "1")]), &empty).unwrap();
    assert_eq!(stopped.writes, fields(&[("r", "1")]));
    // Operator fields are read from the operator's record; empty statements are allowed.
    let program = contract("{ ;; $v = p.$v; p.w.return = $v * 2;; }");
    let operator = fields(&[("v", "21")]);
    assert_eq!(
        run_on(&program, &empty, &operator).unwrap().returned,
        Some(d("42"))
    );
}

#[test]
fn every_compile_error_names_its_line_and_column() {
    let cases: &[(&str, u32, u32, &str)] = &[
        ("{ $x = ; }", 1, 8, "expected a value, found `;`"),
        ("{ $y = $x; }", 1, 8, "`$x` is read before it is assigned"),
        (
            "{ if (p.a) { $x = 1; } p.w.b = $x; }",
            1,
            32,
            "`$x` is read before it is assigned",
        ),
        ("{ p.w.a = 1 }", 1, 13, "expected `;`, found `}`"),
        ("{ a = 1; }", 1, 3, "expected a statement"),
        ("{ $x = p.w.a; }", 1, 10, "`p.w.` is for writing"),
        ("{ $x = q; }", 1, 8, "unknown name `q`"),
        ("{ $x = 1 < 2 < 3; }", 1, 14, "comparisons do not chain"),
        (
            "{ $x = 1.0000000000000000001; }",
            1,
            8,
            "is not a number ACS can hold",
        ),
        ("{ $x = 1 # 2; }", 1, 10, "unexpected character '#'"),
        ("{ $x = 1;", 1, 10, "expected `}` before the end"),
        ("{ $ = 1; }", 1, 3, "`$` must be followed by a name"),
        ("{ p.a = 1; }", 1, 5, "only `p.w.FIELD = …`"),
        (
            "{ $x = 1; } $y",
            1,
            13,
            "text after the contract's closing `}`",
        ),
        (
            "{\n  $x = 1;\n  $z = $x +;\n}",
            3,
            12,
            "expected a value, found `;`",
        ),
    ];
    for (source, line, col, message) in cases {
        let error = compile_contract(source, Span { line: 1, col: 1 }).unwrap_err();
        assert_eq!(
            (error.span.line, error.span.col),
            (*line, *col),
            "{source}: {error}"
        );
        assert!(error.message.contains(message), "{source}: {error}");
    }
    let deep = format!("{{ $x = {}1{}; }}", "(".repeat(65), ")".repeat(65));
    let error = compile_contract(&deep, Span { line: 1, col: 1 }).unwrap_err();
    assert!(error.message.contains("nested more than 64"), "{error}");
    let fine = format!("{{ $x = {}1{}; }}", "(".repeat(60), ")".repeat(60));
    assert!(compile_contract(&fine, Span { line: 1, col: 1 }).is_ok());
}

#[test]
fn package_errors_are_rendered_with_file_line_column_and_a_caret() {
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "a.acs.operator={ $x = 1;\n",
            1,
            16,
            "this `{` is never closed",
        ),
        (
            "a.acs.banker={ $x = 1; }\n",
            1,
            1,
            "starts with `operator` or `holder`",
        ),
        (
            "#when trigger=onStart run(holder)\n",
            1,
            1,
            "no contract `holder`",
        ),
        (
            "#when trigger=weekly commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        (
            "#when trigger=every(0 s) commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        (
            "#when trigger=monthly(31) commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        ("#when trigger=onStart launch\n", 1, 23, "is not an action"),
        (
            "#when x >= trigger=onStart commitACS\n",
            1,
            12,
            "expected a value",
        ),
        ("#when onStart commitACS\n", 1, 6, "needs trigger="),
        (
            "a.max=lots\n",
            1,
            7,
            "neither a decimal constant nor a contract",
        ),
        ("a.max=1\na.max=2\n", 2, 1, "is set twice"),
        ("just words\n", 1, 1, "expected KEY=VALUE"),
        (
            "a.acs.holder={ $x = 1;\n} trailing\n",
            2,
            3,
            "text after the contract's closing `}`",
        ),
        (
            "x=1\na.acs.holder={\n  p.w.a = ;\n}\n",
            3,
            11,
            "expected a value",
        ),
    ];
    assert_package_errors(cases);
    let source = "x=1\na.acs.holder={\n  p.w.a = ;\n}\n";
    let rendered = compile_package(source)
        .unwrap_err()
        .render("rent.properties", source);
    assert_eq!(
        rendered,
        "rent.properties:3:11: expected a value, found `;`\n  p.w.a = ;\n          ^"
    );
}

#[test]
fn schedules_parse_every_trigger() {
    let source = "a.acs.holder={ p.w.paid = p.paid + 1; }\n\
                  #when trigger=every(10 blocks) run(holder)\n\
                  #when trigger=every(30 s) run(holder)\n\
                  #when p.due > 0 && active == 1 trigger=monthly(1) run(holder)\n\
                  #when trigger=monthly(28, 09:30) run(holder)\n";
    let package = compile_package(source).unwrap();
    let triggers: Vec<Trigger> = package.schedule.iter().map(|s| s.trigger).collect();
    assert_eq!(
        triggers,
        [
            Trigger::EveryBlocks(10),
            Trigger::EverySeconds(30),
            Trigger::Monthly {
                day: 1,
                hour: 0,
                minute: 0
            },
            Trigger::Monthly {
                day: 28,
                hour: 9,
                minute: 30
            },
        ]
    );
    assert!(package.schedule[2].condition.is_some());
    assert!(
        package
            .schedule
            .iter()
            .all(|s| s.action == Action::Run("holder".into()))
    );
}

#[test]
fn gas_is_charged_for_every_instruction_and_running_out_reverts_everything() {
    let program = contract(
        "{ p.w.a = 1; $x = p.b * 2 + 3; if ($x > 1) { p.w.c = $x / 2; } p.w.return = p.a; }",
    );
    let empty = BTreeMap::new();
    let env = Env {
        record: &empty,
        operator: &empty,
        names: &empty,
    };
    let done = run(&program, &env, u64::MAX).unwrap();
    // Every instruction on the path taken costs its price; together exactly what was charged.
    let path_cost: u64 = program.ops.iter().map(|op| op.gas()).sum();
    assert_eq!(
        done.gas_used, path_cost,
        "every instruction of this program runs once"
    );
    assert_eq!(done.writes, fields(&[("a", "1"), ("c", "1.5")]));
    for limit in 0..done.gas_used {
        let fault = run(&program, &env, limit).unwrap_err();
        assert_eq!(fault.error, RunError::OutOfGas, "limit {limit}");
        assert_eq!(fault.gas_used, limit);
    }
    assert_eq!(run(&program, &env, done.gas_used).unwrap(), done);
}

#[test]
fn run_time_errors_name_their_line_and_column() {
    let empty = BTreeMap::new();
    let program = compile_contract(
        "{ p.w.a = 1;\n  $x = p.b;\n  p.w.c = 5 / $x; }",
        Span { line: 7, col: 20 },
    )
    .unwrap();
    let fault = run_on(&program, &empty, &empty).unwrap_err();
    assert_eq!(
        fault.error,
        RunError::Arithmetic(ArithmeticError::DivisionByZero)
    );
    assert_eq!((fault.span.line, fault.span.col), (9, 13));
    let big = fields(&[("b", "100000000000000000000")]);
    let program = contract("{ p.w.a = p.b * p.b; }");
    let fault = run_on(&program, &big, &empty).unwrap_err();
    assert_eq!(fault.error, RunError::Arithmetic(ArithmeticError::Overflow));
    assert_eq!((fault.span.line, fault.span.col), (1, 15));
}

#[test]
fn hostile_shapes_are_refused_in_place() {
    let at = |source: &str| {
        let error = compile_contract(source, Span { line: 1, col: 1 }).unwrap_err();
        (error.span.line, error.span.col, error.message)
    };
    // Trailing text is reported where it starts, not at its last token.
    let (line, col, message) = at("{ $x = 1; } $y $z");
    assert_eq!((line, col), (1, 13), "{message}");
    // Keywords are not fields to write.
    let (_, col, message) = at("{ p.w.if = 1; }");
    assert_eq!(col, 7, "{message}");
    assert!(
        message.contains("expected a field name after `p.w.`"),
        "{message}"
    );
    // A long flat chain deepens the tree one level per operator: refused, not a stack
    // overflow, however long.
    let chain = format!("{{ $x = 1{}; }}", "+1".repeat(200_000));
    assert!(at(&chain).2.contains("nested more than 64"));
    let fine = format!("{{ $x = 1{}; }}", "+1".repeat(50));
    assert!(compile_contract(&fine, Span { line: 1, col: 1 }).is_ok());
    let ladder: Vec<String> = (0..70)
        .map(|i| format!("if (p.a == {i}) {{ $x = {i}; }} else"))
        .collect();
    let ladder = format!("{{ {} {{ $x = 1; }} }}", ladder.join(" "));
    assert!(at(&ladder).2.contains("nested more than 64"));

    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "#when ebs >= 1 2 trigger=onStart commitACS\n",
            1,
            16,
            "unexpected text after the condition",
        ),
        // Columns count characters, not bytes.
        (
            "\u{3000}a.acs.holder={ $x = ; }\n",
            1,
            22,
            "expected a value",
        ),
        // A byte-order mark is not part of the first line.
        ("\u{feff}a.max=x\n", 1, 7, "neither a decimal constant"),
        // Constants and contracts share one namespace of keys.
        ("a.acs.holder=1\na.acs.holder={ }\n", 2, 1, "is set twice"),
        // Numbers in triggers are digits only; times are exactly HH:MM.
        (
            "#when trigger=monthly(+1) commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        (
            "#when trigger=every(+5 s) commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        (
            "#when trigger=monthly(1,9:05) commitACS\n",
            1,
            15,
            "is not a trigger",
        ),
        // Windows line ends.
        (
            "a.acs.holder={ $x = 1; }\r\n#when x trigger=onStart nothing\r\n",
            2,
            25,
            "is not an action",
        ),
    ];
    assert_package_errors(cases);
}

#[test]
fn the_operator_write_extension_moves_value_between_records() {
    // `p.w.$f = e;` writes the operator's field, as `p.$f` reads it; later reads see it.
    let program = contract("{ p.w.bl = p.bl - 5; p.w.$bl = p.$bl + 5; p.w.return = p.$bl; }");
    let (record, operator) = (fields(&[("bl", "7")]), fields(&[("bl", "100")]));
    let outcome = run_on(&program, &record, &operator).unwrap();
    assert_eq!(outcome.writes, fields(&[("bl", "2")]));
    assert_eq!(outcome.operator_writes, fields(&[("bl", "105")]));
    assert_eq!(outcome.returned, Some(d("105")));
    assert_eq!(program.operator_writes().collect::<Vec<_>>(), ["bl"]);
    // A failed run hands over neither.
    let failing = contract("{ p.w.$bl = 1; p.w.x = 1 / 0; }");
    assert!(run_on(&failing, &record, &operator).is_err());
}
