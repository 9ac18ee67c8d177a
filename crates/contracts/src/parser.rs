//! The parser: tokens to a syntax tree, by recursive descent for statements and precedence
//! climbing for expressions. Nesting is bounded, so hostile source cannot exhaust the stack.

use crate::decimal::Decimal;
use crate::error::{CompileError, Span};
use crate::lexer::Token;

/// Deepest nesting of blocks and parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal.
    Number(Decimal),
    /// `$x`.
    Local(String),
    /// `p.f`: a field of the record the contract runs on.
    Field(String),
    /// `p.$f`: a field of the package operator's record.
    OperatorField(String),
    /// A bare name (schedule conditions only).
    Name(String),
    /// `-e`, `!e`.
    Unary(&'static str, Box<(Expr, Span)>),
    /// `a op b`.
    Binary(&'static str, Box<(Expr, Span)>, Box<(Expr, Span)>),
}

/// A statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `$x = e;`
    SetLocal(String, (Expr, Span)),
    /// `p.w.f = e;`
    Write(String, (Expr, Span)),
    /// `p.w.$f = e;` (an extension): write field `f` of the operator's record.
    WriteOperator(String, (Expr, Span)),
    /// `p.w.return = e;`
    SetReturn((Expr, Span)),
    /// `if (c) {…} else {…}`
    If((Expr, Span), Vec<(Stmt, Span)>, Vec<(Stmt, Span)>),
    /// `return;`
    Return,
}

/// Reads tokens.
pub struct Parser<'a> {
    tokens: &'a [(Token, Span)],
    at: usize,
    /// Where the text ends (for "expected … at the end").
    end: Span,
    depth: usize,
    /// Whether bare names are allowed (schedule conditions).
    names: bool,
}

impl<'a> Parser<'a> {
    /// A parser of `tokens`; `end` is where the source ends.
    pub fn new(tokens: &'a [(Token, Span)], end: Span, names: bool) -> Self {
        Self {
            tokens,
            at: 0,
            end,
            depth: 0,
            names,
        }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    /// Where the next token is (or the end).
    pub fn span(&self) -> Span {
        self.tokens.get(self.at).map_or(self.end, |(_, s)| *s)
    }

    fn bump(&mut self) -> Option<&'a (Token, Span)> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn is_sym(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Sym(s)) if *s == symbol)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == name)
    }

    fn expect_sym(&mut self, symbol: &str) -> Result<Span, CompileError> {
        let span = self.span();
        if self.is_sym(symbol) {
            self.at += 1;
            Ok(span)
        } else {
            Err(CompileError::new(
                span,
                format!("expected `{symbol}`, found {}", self.found()),
            ))
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "the end".into(),
            Some(Token::Number(n)) => format!("`{n}`"),
            Some(Token::Dollar(n)) => format!("`${n}`"),
            Some(Token::Name(n)) => format!("`{n}`"),
            Some(Token::Sym(s)) => format!("`{s}`"),
        }
    }

    /// Whether every token has been read.
    pub fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn enter(&mut self) -> Result<(), CompileError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CompileError::new(
                self.span(),
                format!("nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    /// `{ statements }`: a whole contract, or the branch of an `if`.
    pub fn block(&mut self) -> Result<Vec<(Stmt, Span)>, CompileError> {
        self.enter()?;
        self.expect_sym("{")?;
        let mut statements = Vec::new();
        while !self.is_sym("}") {
            if self.done() {
                return Err(CompileError::new(self.end, "expected `}` before the end"));
            }
            if self.is_sym(";") {
                self.at += 1;
                continue;
            }
            let span = self.span();
            statements.push((self.statement()?, span));
        }
        self.at += 1;
        self.depth -= 1;
        Ok(statements)
    }

    fn statement(&mut self) -> Result<Stmt, CompileError> {
        let span = self.span();
        match self.peek() {
            Some(Token::Dollar(name)) => {
                self.at += 1;
                self.expect_sym("=")?;
                let value = self.expression()?;
                self.expect_sym(";")?;
                Ok(Stmt::SetLocal(name.clone(), value))
            }
            Some(Token::Name(n)) if n == "if" => {
                self.at += 1;
                self.expect_sym("(")?;
                let condition = self.expression()?;
                self.expect_sym(")")?;
                let then = self.block()?;
                let otherwise = if self.is_name("else") {
                    self.at += 1;
                    if self.is_name("if") {
                        self.enter()?;
                        let span = self.span();
                        let nested = self.statement()?;
                        self.depth -= 1;
                        vec![(nested, span)]
                    } else {
                        self.block()?
                    }
                } else {
                    Vec::new()
                };
                Ok(Stmt::If(condition, then, otherwise))
            }
            Some(Token::Name(n)) if n == "return" => {
                self.at += 1;
                self.expect_sym(";")?;
                Ok(Stmt::Return)
            }
            Some(Token::Name(n)) if n == "p" => {
                self.at += 1;
                self.expect_sym(".")?;
                if !self.is_name("w") {
                    return Err(CompileError::new(
                        self.span(),
                        "only `p.w.FIELD = …` (a write) or `p.w.return = …` can start a statement",
                    ));
                }
                self.at += 1;
                self.expect_sym(".")?;
                let field_span = self.span();
                let (field, operator) = match self.bump() {
                    Some((Token::Name(f), _)) if f == "return" || !is_keyword(f) && f != "w" => {
                        (f.clone(), false)
                    }
                    // `p.w.$f`: the operator's field, as `p.$f` reads it.
                    Some((Token::Dollar(f), _)) => (f.clone(), true),
                    _ => {
                        return Err(CompileError::new(
                            field_span,
                            "expected a field name after `p.w.`",
                        ));
                    }
                };
                self.expect_sym("=")?;
                let value = self.expression()?;
                self.expect_sym(";")?;
                Ok(if operator {
                    Stmt::WriteOperator(field, value)
                } else if field == "return" {
                    Stmt::SetReturn(value)
                } else {
                    Stmt::Write(field, value)
                })
            }
            _ => Err(CompileError::new(
                span,
                format!(
                    "expected a statement (`$x = …;`, `p.w.f = …;`, `if`, `return;`), found {}",
                    self.found()
                ),
            )),
        }
    }

    /// An expression.
    pub fn expression(&mut self) -> Result<(Expr, Span), CompileError> {
        self.binary(0)
    }

    fn binary(&mut self, level: usize) -> Result<(Expr, Span), CompileError> {
        const LEVELS: [&[&str]; 5] = [
            &["||"],
            &["&&"],
            &["==", "!=", "<", "<=", ">", ">="],
            &["+", "-"],
            &["*", "/"],
        ];
        let Some(operators) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        // Each operator folded in makes the tree one level deeper: it counts against the
        // nesting bound, so no chain (`1+1+…`) can make the checker or the code generator
        // recurse without bound.
        let mut folded = 0;
        let result = loop {
            let span = self.span();
            let Some(Token::Sym(symbol)) = self.peek() else {
                break Ok(left);
            };
            let Some(operator) = operators.iter().find(|o| **o == *symbol) else {
                break Ok(left);
            };
            if let Err(error) = self.enter() {
                break Err(error);
            }
            folded += 1;
            self.at += 1;
            let right = match self.binary(level + 1) {
                Ok(right) => right,
                Err(error) => break Err(error),
            };
            // Comparisons do not chain: `a < b < c` means nothing useful.
            if level == 2 && matches!(self.peek(), Some(Token::Sym(s)) if operators.contains(s)) {
                break Err(CompileError::new(
                    self.span(),
                    "comparisons do not chain; combine them with && or ||",
                ));
            }
            left = (
                Expr::Binary(operator, Box::new(left), Box::new(right)),
                span,
            );
        };
        self.depth -= folded;
        result
    }

    fn unary(&mut self) -> Result<(Expr, Span), CompileError> {
        let span = self.span();
        for operator in ["-", "!"] {
            if self.is_sym(operator) {
                self.at += 1;
                self.enter()?;
                let operand = self.unary()?;
                self.depth -= 1;
                return Ok((Expr::Unary(operator, Box::new(operand)), span));
            }
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, Span), CompileError> {
        let span = self.span();
        let expr = match self.bump().map(|(t, _)| t) {
            Some(Token::Number(n)) => Expr::Number(*n),
            Some(Token::Dollar(name)) => Expr::Local(name.clone()),
            Some(Token::Sym("(")) => {
                self.enter()?;
                let (inner, _) = self.expression()?;
                self.expect_sym(")")?;
                self.depth -= 1;
                inner
            }
            Some(Token::Name(p)) if p == "p" => {
                self.expect_sym(".")?;
                let at = self.span();
                match self.bump().map(|(t, _)| t) {
                    Some(Token::Dollar(field)) => Expr::OperatorField(field.clone()),
                    Some(Token::Name(w)) if w == "w" => {
                        return Err(CompileError::new(
                            at,
                            "`p.w.` is for writing; read the field as `p.FIELD`",
                        ));
                    }
                    Some(Token::Name(field)) if !is_keyword(field) => Expr::Field(field.clone()),
                    _ => return Err(CompileError::new(at, "expected a field name after `p.`")),
                }
            }
            Some(Token::Name(name)) if self.names && !is_keyword(name) => Expr::Name(name.clone()),
            Some(Token::Name(name)) => {
                return Err(CompileError::new(
                    span,
                    format!("unknown name `{name}`: fields are `p.{name}`, locals `${name}`"),
                ));
            }
            _ => {
                self.at -= 1;
                return Err(CompileError::new(
                    span,
                    format!("expected a value, found {}", self.found()),
                ));
            }
        };
        Ok((expr, span))
    }
}

fn is_keyword(name: &str) -> bool {
    matches!(name, "if" | "else" | "return" | "p")
}
