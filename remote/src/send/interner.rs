//! RW 2.0's symbol table, built while encoding.

use std::collections::HashMap;

/// Interns strings into a request's symbol table: each distinct string is
/// stored once and referred to by index; index 0 is always `""`, as the
/// spec requires.
///
/// ```
/// use aion_remote::send::Interner;
/// let mut i = Interner::new();
/// assert_eq!(i.intern(""), 0);
/// let a = i.intern("job");
/// assert_eq!(i.intern("job"), a);
/// assert_eq!(i.symbols(), ["", "job"]);
/// ```
#[derive(Debug, Clone)]
pub struct Interner {
    index: HashMap<String, u32>,
    symbols: Vec<String>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

impl Interner {
    /// A table holding only `""`.
    pub fn new() -> Self {
        let mut index = HashMap::new();
        index.insert(String::new(), 0);
        Interner {
            index,
            symbols: vec![String::new()],
        }
    }

    /// The reference of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&r) = self.index.get(s) {
            return r;
        }
        let r = u32::try_from(self.symbols.len()).expect("more than 2^32 symbols in one request");
        self.symbols.push(s.to_string());
        self.index.insert(s.to_string(), r);
        r
    }

    /// The table so far.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// The table, leaving the interner with only `""` again (for the next
    /// request: RW 2.0 tables are per request).
    pub fn take(&mut self) -> Vec<String> {
        let out = std::mem::replace(&mut self.symbols, vec![String::new()]);
        self.index.clear();
        self.index.insert(String::new(), 0);
        out
    }
}
