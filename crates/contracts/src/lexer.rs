//! Tokens of ACS source, each with the line and column where it starts.

use crate::decimal::Decimal;
use crate::error::{CompileError, Span};

/// A token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A decimal literal.
    Number(Decimal),
    /// `$name`: a local variable (or, after `p.`, an operator field).
    Dollar(String),
    /// A name: `p`, `w`, a field, a keyword.
    Name(String),
    /// Punctuation and operators.
    Sym(&'static str),
}

/// Symbols, longest first so that `<=` wins over `<`.
const SYMBOLS: [&str; 20] = [
    "==", "!=", "<=", ">=", "&&", "||", "(", ")", "{", "}", ";", "=", "<", ">", "!", "+", "-", "*",
    "/", ".",
];

/// Cuts `text` (which starts at `start` in its file) into tokens.
pub fn tokenize(text: &str, start: Span) -> Result<Vec<(Token, Span)>, CompileError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut line, mut col) = (0usize, start.line, start.col);
    while i < bytes.len() {
        let here = Span { line, col };
        let b = bytes[i];
        if b == b'\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        let take = |pred: fn(u8) -> bool, from: usize| {
            let mut end = from;
            while end < bytes.len() && pred(bytes[end]) {
                end += 1;
            }
            end
        };
        let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let (token, end) = if b.is_ascii_digit() {
            let mut end = take(|c| c.is_ascii_digit(), i);
            if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
                end = take(|c| c.is_ascii_digit(), end + 1);
            }
            let literal = &text[i..end];
            let value = literal.parse::<Decimal>().map_err(|_| {
                CompileError::new(
                    here,
                    format!("{literal} is not a number ACS can hold (at most 18 decimal places, below 1.7e20)"),
                )
            })?;
            (Token::Number(value), end)
        } else if b == b'$' {
            let end = take(is_name, i + 1);
            if end == i + 1 {
                return Err(CompileError::new(here, "`$` must be followed by a name"));
            }
            (Token::Dollar(text[i + 1..end].to_string()), end)
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let end = take(is_name, i);
            (Token::Name(text[i..end].to_string()), end)
        } else if let Some(symbol) = SYMBOLS.iter().find(|s| text[i..].starts_with(**s)) {
            (Token::Sym(symbol), i + symbol.len())
        } else {
            let shown = text[i..].chars().next().unwrap_or('?');
            return Err(CompileError::new(
                here,
                format!("unexpected character {shown:?}"),
            ));
        };
        // Columns count characters; every token is ASCII.
        col += (end - i) as u32;
        i = end;
        tokens.push((token, here));
    }
    Ok(tokens)
}
