//! `info()`: enriching series with the data labels of info metrics.

use super::error::{Error, Result};
use super::eval::{Evaluator, Sink};
use crate::ast::Call;

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_info(&self, _c: &Call, _sink: Sink) -> Result<()> {
        Err(Error::Unsupported(
            "info() is not supported by this engine yet".into(),
        ))
    }
}
