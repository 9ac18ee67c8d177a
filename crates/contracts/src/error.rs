//! Compile errors with their place, rendered as `FILE:LINE:COL: message` and a caret.

use std::fmt;

/// A place in a source file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Why a package or contract does not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl CompileError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }

    /// `FILE:LINE:COL: message`, then the source line and a caret under the spot.
    pub fn render(&self, file: &str, source: &str) -> String {
        let mut out = format!("{file}:{}: {}", self.span, self.message);
        let line = source
            .lines()
            .nth(self.span.line.saturating_sub(1) as usize);
        if let Some(line) = line {
            let caret: String = line
                .chars()
                .take(self.span.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n{line}\n{caret}^"));
        }
        out
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.span, self.message)
    }
}

impl std::error::Error for CompileError {}
