//! Errors building labels and matchers.

use thiserror::Error;

/// A label set or matcher that cannot be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A label set contained a label with an empty name.
    #[error("label set has an empty label name")]
    EmptyLabelName,

    /// A label set contained the same name twice.
    #[error("label set has duplicate label name {0:?}")]
    DuplicateLabelName(String),

    /// A regular-expression matcher did not compile.
    #[error("invalid regular expression {pattern:?} in matcher for label {label:?}: {source}")]
    InvalidRegex {
        /// The label the matcher applies to.
        label: String,
        /// The pattern as written by the user (not anchored).
        pattern: String,
        /// Why the regex crate rejected it.
        #[source]
        source: Box<regex::Error>,
    },
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
