//! The metered VM: runs a [`Program`] against a record, charging gas per instruction.
//!
//! A run's writes are collected, not applied: a run that fails (out of gas, overflow,
//! division by zero) yields only its error, with the line and column of the instruction that
//! failed, so every write of that run is reverted by construction. Reads see the run's earlier
//! writes (`p.w.bl = …; … p.bl` reads the new balance, `p.w.$bl` and `p.$bl` likewise), as the
//! seed's "written at once" says. There are no loops, so every run ends.

use std::collections::BTreeMap;

use crate::compile::{Op, Program};
use crate::decimal::{ArithmeticError, Decimal};
use crate::error::Span;

/// Most values on the stack at once (the parser bounds nesting far below this).
pub const MAX_STACK: usize = 1_024;

/// Fields a run reads: a record, the operator's record, or the names of a condition. A field
/// that is not there reads as 0.
pub trait Fields {
    /// The field's value (0 if absent).
    fn get(&self, name: &str) -> Decimal;
}

impl Fields for BTreeMap<String, Decimal> {
    fn get(&self, name: &str) -> Decimal {
        BTreeMap::get(self, name).copied().unwrap_or_default()
    }
}

/// What a run reads.
pub struct Env<'a> {
    /// The record the contract runs on (`p.f`).
    pub record: &'a dyn Fields,
    /// The package operator's record (`p.$f`).
    pub operator: &'a dyn Fields,
    /// Bare names (schedule conditions).
    pub names: &'a dyn Fields,
}

/// A run that ended well.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The record's fields the run wrote, with their new values.
    pub writes: BTreeMap<String, Decimal>,
    /// The operator's fields the run wrote (`p.w.$f`), with their new values.
    pub operator_writes: BTreeMap<String, Decimal>,
    /// What `p.w.return` set, if anything.
    pub returned: Option<Decimal>,
    /// Gas spent.
    pub gas_used: u64,
    /// The value left on the stack (a condition's result).
    pub value: Option<Decimal>,
}

/// Why a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The gas limit was reached.
    #[error("out of gas")]
    OutOfGas,
    /// Overflow or division by zero.
    #[error("{0}")]
    Arithmetic(#[from] ArithmeticError),
    /// The stack outgrew its bound.
    #[error("expression too deep")]
    StackOverflow,
    /// The program is not well formed (never produced by the compiler).
    #[error("malformed program")]
    Malformed,
}

/// A failed run: the error, where, and the gas spent up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {error}")]
pub struct Fault {
    /// What went wrong.
    pub error: RunError,
    /// Where in the source.
    pub span: Span,
    /// Gas spent, the failing instruction included.
    pub gas_used: u64,
}

/// Runs `program` with at most `gas_limit` gas.
pub fn run(program: &Program, env: &Env<'_>, gas_limit: u64) -> Result<Outcome, Fault> {
    let mut stack: Vec<Decimal> = Vec::with_capacity(16);
    let mut locals = vec![Decimal::ZERO; program.locals.len()];
    let mut outcome = Outcome::default();
    let mut pc = 0usize;
    loop {
        let (Some(op), Some(span)) = (program.ops.get(pc).copied(), program.spans.get(pc).copied())
        else {
            return Err(fault(
                RunError::Malformed,
                Span::default(),
                outcome.gas_used,
            ));
        };
        let fail = |error: RunError, gas: u64| fault(error, span, gas);
        outcome.gas_used += op.gas();
        if outcome.gas_used > gas_limit {
            return Err(fail(RunError::OutOfGas, gas_limit));
        }
        let gas = outcome.gas_used;
        let name = |slot: u16| {
            program
                .names
                .get(usize::from(slot))
                .ok_or(fail(RunError::Malformed, gas))
        };
        pc += 1;
        match op {
            Op::Halt => {
                outcome.value = stack.pop();
                return Ok(outcome);
            }
            Op::Push(value) => push(&mut stack, value).map_err(|e| fail(e, gas))?,
            Op::Load(slot) => {
                let value = *locals
                    .get(usize::from(slot))
                    .ok_or(fail(RunError::Malformed, gas))?;
                push(&mut stack, value).map_err(|e| fail(e, gas))?;
            }
            Op::Store(slot) => {
                let value = pop(&mut stack).map_err(|e| fail(e, gas))?;
                *locals
                    .get_mut(usize::from(slot))
                    .ok_or(fail(RunError::Malformed, gas))? = value;
            }
            Op::Field(slot) | Op::OperatorField(slot) => {
                // This run's own writes first, then the record as it was.
                let field = name(slot)?;
                let (written, fields) = if matches!(op, Op::Field(_)) {
                    (&outcome.writes, env.record)
                } else {
                    (&outcome.operator_writes, env.operator)
                };
                let value = written
                    .get(field)
                    .copied()
                    .unwrap_or_else(|| fields.get(field));
                push(&mut stack, value).map_err(|e| fail(e, gas))?;
            }
            Op::Name(slot) => {
                let value = env.names.get(name(slot)?);
                push(&mut stack, value).map_err(|e| fail(e, gas))?;
            }
            Op::Write(slot) | Op::WriteOperator(slot) => {
                let field = name(slot)?.clone();
                let value = pop(&mut stack).map_err(|e| fail(e, gas))?;
                let target = if matches!(op, Op::Write(_)) {
                    &mut outcome.writes
                } else {
                    &mut outcome.operator_writes
                };
                target.insert(field, value);
            }
            Op::SetReturn => {
                outcome.returned = Some(pop(&mut stack).map_err(|e| fail(e, gas))?);
            }
            Op::Neg | Op::Not => {
                let value = pop(&mut stack).map_err(|e| fail(e, gas))?;
                let result = if op == Op::Neg {
                    value.checked_neg().map_err(|e| fail(e.into(), gas))?
                } else {
                    truth(value.is_zero())
                };
                push(&mut stack, result).map_err(|e| fail(e, gas))?;
            }
            Op::Jump(target) => pc = target as usize,
            Op::JumpIfZero(target) | Op::JumpIfNonZero(target) => {
                let value = pop(&mut stack).map_err(|e| fail(e, gas))?;
                if value.is_zero() == matches!(op, Op::JumpIfZero(_)) {
                    pc = target as usize;
                }
            }
            binary => {
                let right = pop(&mut stack).map_err(|e| fail(e, gas))?;
                let left = pop(&mut stack).map_err(|e| fail(e, gas))?;
                let result = match binary {
                    Op::Add => left.checked_add(right),
                    Op::Sub => left.checked_sub(right),
                    Op::Mul => left.checked_mul(right),
                    Op::Div => left.checked_div(right),
                    Op::Eq => Ok(truth(left == right)),
                    Op::Ne => Ok(truth(left != right)),
                    Op::Lt => Ok(truth(left < right)),
                    Op::Le => Ok(truth(left <= right)),
                    Op::Gt => Ok(truth(left > right)),
                    Op::Ge => Ok(truth(left >= right)),
                    _ => return Err(fail(RunError::Malformed, gas)),
                }
                .map_err(|e| fail(e.into(), gas))?;
                push(&mut stack, result).map_err(|e| fail(e, gas))?;
            }
        }
    }
}

fn fault(error: RunError, span: Span, gas_used: u64) -> Fault {
    Fault {
        error,
        span,
        gas_used,
    }
}

fn truth(condition: bool) -> Decimal {
    if condition {
        Decimal::ONE
    } else {
        Decimal::ZERO
    }
}

fn push(stack: &mut Vec<Decimal>, value: Decimal) -> Result<(), RunError> {
    if stack.len() >= MAX_STACK {
        return Err(RunError::StackOverflow);
    }
    stack.push(value);
    Ok(())
}

fn pop(stack: &mut Vec<Decimal>) -> Result<Decimal, RunError> {
    stack.pop().ok_or(RunError::Malformed)
}
