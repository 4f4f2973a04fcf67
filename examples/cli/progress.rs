//! A one-line progress display on stderr, shared by the CLI's long-running
//! commands and the examples. It draws only when stderr is a terminal, so
//! piped or captured output never holds carriage returns.

// Each binary that includes this file uses a different part of it.
#![allow(dead_code)]

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Redraws at most this often: a faster rate costs more than the work
/// it reports on small steps.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

/// A progress bar (when the total is known) or a status line (when it
/// is not) on stderr, drawn only on a terminal.
pub struct ProgressBar {
    enabled: bool,
    last: Option<Instant>,
    drawn: usize,
}

impl ProgressBar {
    /// A bar that draws when stderr is a terminal.
    pub fn stderr() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    /// A bar that draws only when `enabled`.
    pub fn new(enabled: bool) -> Self {
        ProgressBar {
            enabled,
            last: None,
            drawn: 0,
        }
    }

    fn due(&mut self, finished: bool) -> bool {
        if !self.enabled {
            return false;
        }
        let now = Instant::now();
        if !finished
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < REDRAW_EVERY)
        {
            return false;
        }
        self.last = Some(now);
        true
    }

    fn draw(&mut self, line: String) {
        let pad = self.drawn.saturating_sub(line.chars().count());
        eprint!("\r{line}{}", " ".repeat(pad));
        self.drawn = line.chars().count();
    }

    /// Shows `done` of `total` for the stage `what`.
    pub fn show(&mut self, what: &str, done: u64, total: u64) {
        if !self.due(done >= total) {
            return;
        }
        let frac = if total == 0 {
            1.0
        } else {
            (done as f64 / total as f64).min(1.0)
        };
        let filled = ((frac * WIDTH as f64) as usize).min(WIDTH);
        self.draw(format!(
            "[{}{}] {:3.0}% {what}",
            "=".repeat(filled),
            " ".repeat(WIDTH - filled),
            frac * 100.0
        ));
    }

    /// Shows a stage whose length is unknown.
    pub fn status(&mut self, what: &str) {
        if self.due(true) {
            self.draw(format!("... {what}"));
        }
    }

    /// Erases the line, so what follows starts on a clean line.
    pub fn clear(&mut self) {
        if self.drawn > 0 {
            eprint!("\r{}\r", " ".repeat(self.drawn));
            self.drawn = 0;
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.clear();
    }
}
