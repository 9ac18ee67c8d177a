//! ACS, Cairn's contract language (seed 003, section 4): fixed-point decimals, a compiler
//! (lexer → parser → checker → bytecode) with `FILE:LINE:COL` errors, and a metered VM.
//!
//! Pure: no I/O, no storage. The ledger hands a run the record it runs on and the operator's
//! record, and applies the writes of a run that succeeded.
//!
//! The language, as the seed writes it:
//!
//! | form | meaning |
//! | --- | --- |
//! | `$x = e;` | set local `$x` |
//! | `p.w.f = e;` | write field `f` of the record the contract runs on |
//! | `p.w.return = e;` | write the value returned to the caller |
//! | `if (c) {…} else {…}` | branch; `else if` chains |
//! | `return;` | stop (writes so far stand) |
//! | `p.f`, `p.$f`, `$x` | field of this record (missing reads as 0), field of the operator's record, local |
//! | `+ - * /`, `( )`, `== != < <= > >=`, `&& \|\| !`, unary `-` | arithmetic, comparisons (1 or 0), logic (0 is false) |
//!
//! Numbers are [`Decimal`]s: 18 places in an `i128`, products and quotients truncated toward
//! zero, overflow and division by zero run-time errors.

mod compile;
mod decimal;
mod error;
mod lexer;
mod package;
mod parser;
mod schedule;
mod vm;

pub use compile::{Op, Program, compile_condition, compile_contract};
pub use decimal::{ArithmeticError, Decimal, ParseDecimalError, SCALE};
pub use error::{CompileError, Span};
pub use package::{Action, Contract, Package, Role, Schedule, Trigger, compile_package};
pub use parser::MAX_DEPTH;
pub use schedule::{ChainPoint, Due, civil_from_days, days_from_civil};
pub use vm::{Env, Fault, Fields, MAX_STACK, Outcome, RunError, run};
