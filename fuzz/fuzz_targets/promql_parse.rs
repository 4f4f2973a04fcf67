//! PromQL parser: any text either fails with an error or parses into a
//! tree that prints back to text parsing to the same tree. Never panics,
//! never overflows the stack.
#![no_main]

use aion::promql::{parse_with, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    for opts in [ParseOptions::experimental(), ParseOptions::default()] {
        if let Ok(expr) = parse_with(query, &opts) {
            let printed = expr.to_string();
            let again = parse_with(&printed, &opts)
                .unwrap_or_else(|e| panic!("{query:?} printed as {printed:?}: {e}"));
            assert_eq!(again, expr, "{query:?} printed as {printed:?}");
            assert_eq!(again.to_string(), printed);
        }
    }
});
