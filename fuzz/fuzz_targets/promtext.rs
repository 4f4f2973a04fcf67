//! Arbitrary bytes as Prometheus text (0.0.4): parsing must never panic, must stop
//! at the first error (which names a line and column inside the input), and
//! every sample it yields must have a non-empty, sorted label set.
#![no_main]

use aion::tsdb::textparse::{Entry, PromTextParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for e in PromTextParser::new(data) {
        match e {
            Ok(Entry::Sample(s)) => {
                assert!(!s.labels.is_empty());
                assert!(s.labels.get("__name__").is_some());
                assert!(s.line >= 1 && s.line <= lines);
            }
            Ok(_) => {}
            Err(err) => {
                assert!(err.line >= 1 && err.line <= lines + 1, "{err}");
                assert!(err.column >= 1);
                break;
            }
        }
    }
});
