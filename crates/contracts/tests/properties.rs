//! Properties: the VM computes what a direct evaluator of the same expression computes, error
//! for error; the compiler refuses or accepts any text without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cairn_contracts::*;
use proptest::prelude::*;

/// An expression, as the model sees it.
#[derive(Debug, Clone)]
enum E {
    Num(Decimal),
    Field(&'static str),
    Neg(Box<E>),
    Not(Box<E>),
    Bin(&'static str, Box<E>, Box<E>),
}

impl E {
    fn source(&self) -> String {
        match self {
            E::Num(n) if n.units() < 0 => format!("(0 - {})", n.checked_neg().unwrap()),
            E::Num(n) => n.to_string(),
            E::Field(f) => format!("p.{f}"),
            E::Neg(e) => format!("-({})", e.source()),
            E::Not(e) => format!("!({})", e.source()),
            E::Bin(op, a, b) => format!("({} {op} {})", a.source(), b.source()),
        }
    }

    /// The model: direct evaluation, `&&`/`||` short-circuiting, comparisons 1 or 0.
    fn eval(&self, record: &BTreeMap<String, Decimal>) -> Result<Decimal, ArithmeticError> {
        let truth = |b: bool| if b { Decimal::ONE } else { Decimal::ZERO };
        Ok(match self {
            E::Num(n) => *n,
            E::Field(f) => record.get(*f).copied().unwrap_or_default(),
            E::Neg(e) => e.eval(record)?.checked_neg()?,
            E::Not(e) => truth(e.eval(record)?.is_zero()),
            E::Bin("&&", a, b) => truth(!a.eval(record)?.is_zero() && !b.eval(record)?.is_zero()),
            E::Bin("||", a, b) => truth(!a.eval(record)?.is_zero() || !b.eval(record)?.is_zero()),
            E::Bin(op, a, b) => {
                let (x, y) = (a.eval(record)?, b.eval(record)?);
                match *op {
                    "+" => x.checked_add(y)?,
                    "-" => x.checked_sub(y)?,
                    "*" => x.checked_mul(y)?,
                    "/" => x.checked_div(y)?,
                    "==" => truth(x == y),
                    "!=" => truth(x != y),
                    "<" => truth(x < y),
                    "<=" => truth(x <= y),
                    ">" => truth(x > y),
                    _ => truth(x >= y),
                }
            }
        })
    }
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(Decimal::from_integer),
        (-(10i128.pow(21))..10i128.pow(21)).prop_map(Decimal::from_units),
        Just(Decimal::ZERO),
        Just(Decimal::MAX),
    ]
}

fn expression() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        decimal().prop_map(E::Num),
        prop::sample::select(vec!["a", "b", "missing"]).prop_map(E::Field),
    ];
    leaf.prop_recursive(6, 48, 2, |inner| {
        let ops = vec![
            "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
        ];
        prop_oneof![
            inner.clone().prop_map(|e| E::Neg(Box::new(e))),
            inner.clone().prop_map(|e| E::Not(Box::new(e))),
            (prop::sample::select(ops), inner.clone(), inner).prop_map(|(op, a, b)| E::Bin(
                op,
                Box::new(a),
                Box::new(b)
            )),
        ]
    })
}

proptest! {
    #[test]
    fn the_vm_computes_what_the_model_computes(e in expression(), a in decimal(), b in decimal()) {
        let record: BTreeMap<String, Decimal> =
            [("a".to_string(), a), ("b".to_string(), b)].into_iter().collect();
        let source = format!("{{ p.w.return = {}; }}", e.source());
        let program = compile_contract(&source, Span { line: 1, col: 1 }).unwrap();
        let empty = BTreeMap::new();
        let env = Env { record: &record, operator: &empty, names: &empty };
        let vm = run(&program, &env, u64::MAX);
        match (e.eval(&record), vm) {
            (Ok(expected), Ok(outcome)) => prop_assert_eq!(outcome.returned, Some(expected)),
            (Err(expected), Err(fault)) => prop_assert_eq!(fault.error, RunError::Arithmetic(expected)),
            (model, vm) => prop_assert!(false, "{source}: model {model:?}, vm {vm:?}"),
        }
    }

    #[test]
    fn any_text_compiles_or_is_refused_with_a_place_inside_it(
        source in "([ -~]|\r|\n|\t|\u{3000}|é|税|\u{feff}){0,200}"
    ) {
        let results = [
            compile_package(&source).err(),
            compile_contract(&source, Span { line: 1, col: 1 }).err(),
        ];
        for error in results.into_iter().flatten() {
            // The place is a line of the text and a column on it (or just past its end).
            let text = source.strip_prefix('\u{feff}').unwrap_or(&source);
            let lines: Vec<&str> = text.split('\n').collect();
            let line = error.span.line as usize;
            prop_assert!(line >= 1 && line <= lines.len(), "{error} in {source:?}");
            let width = lines[line - 1].chars().count() as u32;
            prop_assert!(error.span.col >= 1 && error.span.col <= width + 1, "{error} in {source:?}");
            let _ = error.render("x", &source);
        }
    }
}
