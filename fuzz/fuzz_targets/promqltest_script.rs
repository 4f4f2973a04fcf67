//! PromQL test-script parser: any text is either a script or an error
//! naming a line; never a panic.
#![no_main]

use aion_promqltest::parse_script;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(text) = std::str::from_utf8(input) {
        if let Err(e) = parse_script(text) {
            assert!(e.line >= 1);
        }
    }
});
