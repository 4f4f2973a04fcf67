//! Number and string literals (a string keeps the bytes its escapes
//! produced, which need not be UTF-8).

use super::span::Span;

/// A number literal.
#[derive(Debug, Clone)]
pub struct NumberLiteral {
    /// The value.
    pub value: f64,
    /// Written as a duration (`5m`); printed back that way.
    pub duration: bool,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for NumberLiteral {
    /// Values compare by bits except that all NaNs are equal, so a tree
    /// holding `NaN` equals its reparsed print.
    fn eq(&self, other: &Self) -> bool {
        same_float(self.value, other.value) && self.duration == other.duration
    }
}

pub(crate) fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// A string literal, unquoted.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The value with escapes resolved. If escapes such as `"\xff"`
    /// produced bytes that are not UTF-8, invalid sequences are replaced by
    /// U+FFFD here and the exact bytes are in `invalid_utf8`.
    pub value: String,
    /// The exact bytes, only when they are not valid UTF-8 (Go strings,
    /// and so PromQL strings, may hold any bytes; the engine reports e.g.
    /// `invalid label name "a\xc5z"` for them).
    pub invalid_utf8: Option<Box<[u8]>>,
    /// Where it was written (including quotes).
    pub span: Span,
}

impl StringLiteral {
    /// The value's bytes exactly as the escapes produced them.
    pub fn bytes(&self) -> &[u8] {
        self.invalid_utf8
            .as_deref()
            .unwrap_or(self.value.as_bytes())
    }

    /// The value quoted as Go's `strconv.Quote` does, `\x` escapes for
    /// bytes that are not UTF-8 included.
    pub fn go_quoted(&self) -> String {
        let mut s = String::new();
        let _ = aion_model::gotext::write_go_quoted_bytes(&mut s, self.bytes());
        s
    }
}
