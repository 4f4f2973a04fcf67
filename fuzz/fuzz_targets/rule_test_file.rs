//! Arbitrary bytes read as a `promtool test rules` unit-test file. Nothing
//! may panic, and every rejection carries a message.
#![no_main]

use aion::rules::unittest::parse_test_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for ignore_unknown_fields in [false, true] {
        if let Err(message) = parse_test_file(text, ignore_unknown_fields) {
            assert!(!message.is_empty(), "a rejection without a message");
        }
    }
});
