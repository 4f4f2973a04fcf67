//! The byte cursor both text parsers read with: position, line
//! bookkeeping for errors that name `line:column`, and the tokens whose
//! rules the two formats share (metric and label names).

use super::entry::ParseError;

/// A position in exposition text and the line it is on.
pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub pos: usize,
    /// 1-based number of the current line.
    pub line: usize,
    /// Offset of the current line's first byte.
    pub line_start: usize,
    /// What running out of input means to this format (OpenMetrics:
    /// a missing `# EOF`); `None`: "found end of input".
    end_of_input: Option<&'static str>,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `b`, which is line `first_line`.
    pub fn new(b: &'a [u8], first_line: usize, end_of_input: Option<&'static str>) -> Self {
        Cursor {
            b,
            pos: 0,
            line: first_line,
            line_start: 0,
            end_of_input,
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// An error at byte offset `at` of the current line.
    pub fn err_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: at.saturating_sub(self.line_start) + 1,
            message: message.into(),
        }
    }

    /// "`what`, found …" naming the byte at the cursor.
    pub fn unexpected(&self, what: &str) -> ParseError {
        match (self.peek(), self.end_of_input) {
            (None, Some(message)) => self.err_at(self.pos, message),
            (None, None) => self.err_at(self.pos, format!("{what}, found end of input")),
            (Some(b'\n'), _) => self.err_at(self.pos, format!("{what}, found end of line")),
            (Some(c), _) => self.err_at(self.pos, format!("{what}, found {:?}", char::from(c))),
        }
    }

    /// Steps over the newline at the cursor onto the next line.
    pub fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric names) or, without colons,
    /// label names.
    pub fn name(&mut self, colons: bool, what: &str) -> Result<&'a str, ParseError> {
        let start = self.pos;
        let ok_first = |c: u8| c.is_ascii_alphabetic() || c == b'_' || (colons && c == b':');
        match self.peek() {
            Some(c) if ok_first(c) => self.pos += 1,
            _ => return Err(self.unexpected(&format!("expected {what}"))),
        }
        while matches!(self.peek(), Some(c) if ok_first(c) || c.is_ascii_digit()) {
            self.pos += 1;
        }
        Ok(std::str::from_utf8(&self.b[start..self.pos]).expect("ASCII"))
    }
}
