//! The checker and code generator: a syntax tree to bytecode for the VM.
//!
//! The checker refuses what would be a mistake at run time: a local read before every path to
//! it has assigned it. The code is a flat list of instructions for a stack machine, each with
//! the place in the source it came from, so a run-time error names its line and column.

use std::collections::{BTreeSet, HashMap};

use crate::decimal::Decimal;
use crate::error::{CompileError, Span};
use crate::lexer::tokenize;
use crate::parser::{Expr, Parser, Stmt};

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Push a literal.
    Push(Decimal),
    /// Push local slot N.
    Load(u16),
    /// Pop into local slot N.
    Store(u16),
    /// Push field N (of the name table) of the record.
    Field(u16),
    /// Push field N of the operator's record.
    OperatorField(u16),
    /// Push the value of name N (schedule conditions).
    Name(u16),
    /// Pop into field N of the record (a write, kept only if the run succeeds).
    Write(u16),
    /// Pop into field N of the operator's record (kept only if the run succeeds).
    WriteOperator(u16),
    /// Pop into the value returned to the caller.
    SetReturn,
    /// Arithmetic on the top two values.
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// Negate the top value.
    Neg,
    /// 1 if the top value is 0, else 0.
    Not,
    /// Comparisons: 1 if true, 0 if false.
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// Go to instruction N.
    Jump(u32),
    /// Pop; go to instruction N if it was 0.
    JumpIfZero(u32),
    /// Pop; go to instruction N if it was not 0.
    JumpIfNonZero(u32),
    /// Stop.
    Halt,
}

impl Op {
    /// What the instruction costs in gas.
    pub fn gas(self) -> u64 {
        match self {
            Op::Halt => 0,
            Op::Push(_) | Op::Load(_) | Op::Store(_) | Op::Jump(_) | Op::JumpIfZero(_) => 1,
            Op::JumpIfNonZero(_) | Op::Neg | Op::Not => 1,
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => 1,
            Op::Add | Op::Sub => 2,
            Op::Mul | Op::Div => 4,
            Op::Field(_) | Op::OperatorField(_) | Op::Name(_) => 10,
            Op::Write(_) | Op::WriteOperator(_) | Op::SetReturn => 20,
        }
    }
}

/// Compiled code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    /// The instructions.
    pub ops: Vec<Op>,
    /// Where each instruction came from.
    pub spans: Vec<Span>,
    /// Field and name table.
    pub names: Vec<String>,
    /// Local variables, by slot.
    pub locals: Vec<String>,
    /// The fields of the record it may read (`p.f`), each once, in first-read order: what a
    /// host reads before running it.
    pub record_reads: Vec<String>,
    /// The fields of the operator's record it may read (`p.$f`), each once.
    pub operator_reads: Vec<String>,
}

impl Program {
    /// The fields of its record this program writes.
    pub fn writes(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().filter_map(|op| match op {
            Op::Write(n) => self.names.get(usize::from(*n)).map(String::as_str),
            _ => None,
        })
    }

    /// The fields of the operator's record this program writes (`p.w.$f`).
    pub fn operator_writes(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().filter_map(|op| match op {
            Op::WriteOperator(n) => self.names.get(usize::from(*n)).map(String::as_str),
            _ => None,
        })
    }
}

/// Compiles a contract body, `{ … }`, that starts at `start` in its file.
pub fn compile_contract(source: &str, start: Span) -> Result<Program, CompileError> {
    let tokens = tokenize(source, start)?;
    let end = end_of(source, start);
    let mut parser = Parser::new(&tokens, end, false);
    let body = parser.block()?;
    if !parser.done() {
        return Err(CompileError::new(
            parser.span(),
            "text after the contract's closing `}`",
        ));
    }
    check_block(&body, &mut BTreeSet::new())?;
    let mut code = Codegen::default();
    code.block(&body)?;
    code.emit(Op::Halt, end);
    Ok(code.finish())
}

/// Compiles an expression (a schedule condition: bare names allowed) that starts at `start`.
pub fn compile_condition(source: &str, start: Span) -> Result<Program, CompileError> {
    let tokens = tokenize(source, start)?;
    let end = end_of(source, start);
    let mut parser = Parser::new(&tokens, end, true);
    let expr = parser.expression()?;
    if !parser.done() {
        return Err(CompileError::new(
            parser.span(),
            "unexpected text after the condition",
        ));
    }
    check_expr(&expr, &BTreeSet::new())?;
    let mut code = Codegen::default();
    code.expr(&expr)?;
    code.emit(Op::Halt, end);
    Ok(code.finish())
}

fn end_of(source: &str, start: Span) -> Span {
    let lines = source.matches('\n').count() as u32;
    let last = source.rsplit('\n').next().unwrap_or("");
    if lines == 0 {
        Span {
            line: start.line,
            col: start.col + last.chars().count() as u32,
        }
    } else {
        Span {
            line: start.line + lines,
            col: last.chars().count() as u32 + 1,
        }
    }
}

/// Definite assignment: returns whether the block always ends in `return`.
fn check_block(
    block: &[(Stmt, Span)],
    assigned: &mut BTreeSet<String>,
) -> Result<bool, CompileError> {
    for (stmt, _) in block {
        match stmt {
            Stmt::SetLocal(name, value) => {
                check_expr(value, assigned)?;
                assigned.insert(name.clone());
            }
            Stmt::Write(_, value) | Stmt::WriteOperator(_, value) | Stmt::SetReturn(value) => {
                check_expr(value, assigned)?
            }
            Stmt::If(condition, then, otherwise) => {
                check_expr(condition, assigned)?;
                let mut a = assigned.clone();
                let mut b = assigned.clone();
                let then_returns = check_block(then, &mut a)?;
                let else_returns = check_block(otherwise, &mut b)?;
                match (then_returns, else_returns) {
                    (true, true) => return Ok(true),
                    (true, false) => *assigned = b,
                    (false, true) => *assigned = a,
                    (false, false) => *assigned = a.intersection(&b).cloned().collect(),
                }
            }
            Stmt::Return => return Ok(true),
        }
    }
    Ok(false)
}

fn check_expr(
    (expr, span): &(Expr, Span),
    assigned: &BTreeSet<String>,
) -> Result<(), CompileError> {
    match expr {
        Expr::Local(name) if !assigned.contains(name) => Err(CompileError::new(
            *span,
            format!("`${name}` is read before it is assigned"),
        )),
        Expr::Unary(_, operand) => check_expr(operand, assigned),
        Expr::Binary(_, left, right) => {
            check_expr(left, assigned)?;
            check_expr(right, assigned)
        }
        _ => Ok(()),
    }
}

#[derive(Default)]
struct Codegen {
    program: Program,
    names: HashMap<String, u16>,
    locals: HashMap<String, u16>,
}

impl Codegen {
    fn emit(&mut self, op: Op, span: Span) -> usize {
        self.program.ops.push(op);
        self.program.spans.push(span);
        self.program.ops.len() - 1
    }

    fn here(&self) -> u32 {
        self.program.ops.len() as u32
    }

    fn patch(&mut self, at: usize, target: u32) {
        self.program.ops[at] = match self.program.ops[at] {
            Op::Jump(_) => Op::Jump(target),
            Op::JumpIfZero(_) => Op::JumpIfZero(target),
            Op::JumpIfNonZero(_) => Op::JumpIfNonZero(target),
            other => other,
        };
    }

    fn name(&mut self, name: &str, span: Span) -> Result<u16, CompileError> {
        intern(&mut self.names, &mut self.program.names, name, span)
    }

    fn local(&mut self, name: &str, span: Span) -> Result<u16, CompileError> {
        intern(&mut self.locals, &mut self.program.locals, name, span)
    }

    fn block(&mut self, block: &[(Stmt, Span)]) -> Result<(), CompileError> {
        for (stmt, span) in block {
            match stmt {
                Stmt::SetLocal(name, value) => {
                    self.expr(value)?;
                    let slot = self.local(name, *span)?;
                    self.emit(Op::Store(slot), *span);
                }
                Stmt::Write(field, value) => {
                    self.expr(value)?;
                    let slot = self.name(field, *span)?;
                    self.emit(Op::Write(slot), *span);
                }
                Stmt::WriteOperator(field, value) => {
                    self.expr(value)?;
                    let slot = self.name(field, *span)?;
                    self.emit(Op::WriteOperator(slot), *span);
                }
                Stmt::SetReturn(value) => {
                    self.expr(value)?;
                    self.emit(Op::SetReturn, *span);
                }
                Stmt::If(condition, then, otherwise) => {
                    self.expr(condition)?;
                    let to_else = self.emit(Op::JumpIfZero(0), condition.1);
                    self.block(then)?;
                    let to_end = self.emit(Op::Jump(0), *span);
                    let else_start = self.here();
                    self.patch(to_else, else_start);
                    self.block(otherwise)?;
                    let end = self.here();
                    self.patch(to_end, end);
                }
                Stmt::Return => {
                    self.emit(Op::Halt, *span);
                }
            }
        }
        Ok(())
    }

    fn expr(&mut self, (expr, span): &(Expr, Span)) -> Result<(), CompileError> {
        let span = *span;
        match expr {
            Expr::Number(n) => {
                self.emit(Op::Push(*n), span);
            }
            Expr::Local(name) => {
                let slot = self.local(name, span)?;
                self.emit(Op::Load(slot), span);
            }
            Expr::Field(name) => {
                let slot = self.name(name, span)?;
                self.emit(Op::Field(slot), span);
            }
            Expr::OperatorField(name) => {
                let slot = self.name(name, span)?;
                self.emit(Op::OperatorField(slot), span);
            }
            Expr::Name(name) => {
                let slot = self.name(name, span)?;
                self.emit(Op::Name(slot), span);
            }
            Expr::Unary(operator, operand) => {
                self.expr(operand)?;
                self.emit(if *operator == "-" { Op::Neg } else { Op::Not }, span);
            }
            Expr::Binary(operator @ ("&&" | "||"), left, right) => {
                // Short-circuit: the right side runs only when it decides.
                let and = *operator == "&&";
                let jump = |at| {
                    if and {
                        Op::JumpIfZero(at)
                    } else {
                        Op::JumpIfNonZero(at)
                    }
                };
                self.expr(left)?;
                let first = self.emit(jump(0), span);
                self.expr(right)?;
                let second = self.emit(jump(0), span);
                self.emit(
                    Op::Push(if and { Decimal::ONE } else { Decimal::ZERO }),
                    span,
                );
                let to_end = self.emit(Op::Jump(0), span);
                let decided = self.here();
                self.patch(first, decided);
                self.patch(second, decided);
                self.emit(
                    Op::Push(if and { Decimal::ZERO } else { Decimal::ONE }),
                    span,
                );
                let end = self.here();
                self.patch(to_end, end);
            }
            Expr::Binary(operator, left, right) => {
                self.expr(left)?;
                self.expr(right)?;
                let op = match *operator {
                    "+" => Op::Add,
                    "-" => Op::Sub,
                    "*" => Op::Mul,
                    "/" => Op::Div,
                    "==" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    _ => Op::Ge,
                };
                self.emit(op, span);
            }
        }
        Ok(())
    }

    fn finish(self) -> Program {
        let mut program = self.program;
        let mut seen = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        let (mut record, mut operator) = (Vec::new(), Vec::new());
        for op in &program.ops {
            let (slot, set, list) = match *op {
                Op::Field(slot) => (slot, &mut seen.0, &mut record),
                Op::OperatorField(slot) => (slot, &mut seen.1, &mut operator),
                _ => continue,
            };
            if set.insert(slot)
                && let Some(name) = program.names.get(usize::from(slot))
            {
                list.push(name.clone());
            }
        }
        program.record_reads = record;
        program.operator_reads = operator;
        program
    }
}

fn intern(
    index: &mut HashMap<String, u16>,
    table: &mut Vec<String>,
    name: &str,
    span: Span,
) -> Result<u16, CompileError> {
    if let Some(slot) = index.get(name) {
        return Ok(*slot);
    }
    let slot = u16::try_from(table.len())
        .map_err(|_| CompileError::new(span, "more than 65,536 distinct names"))?;
    index.insert(name.to_string(), slot);
    table.push(name.to_string());
    Ok(slot)
}
