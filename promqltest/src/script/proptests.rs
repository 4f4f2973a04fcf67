//! Property tests of the script parser: any text is a script or an error
//! naming a line, never a panic.

use super::*;
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("# comment".to_string()),
        Just("clear".to_string()),
        Just("load 1m".to_string()),
        Just("load_with_nhcb 10s".to_string()),
        Just("eval instant at 1m m".to_string()),
        Just("eval range from 0 to 2m step 1m m".to_string()),
        Just("eval_fail instant at 0 m".to_string()),
        Just("  expect warn msg: x".to_string()),
        Just("  expect fail regex: (".to_string()),
        Just("  expect range vector from 0 to 1m step 30s".to_string()),
        Just("  expect string \"a\"".to_string()),
        "  m\\{a=\"[a-z]{0,3}\"\\} [-0-9_x+.e{}: ]{0,20}",
        "  m@st [-0-9msx_+ ]{0,20}",
        "\\PC{0,30}",
    ]
}

proptest! {
    /// Any text, and any mix of plausible lines, is a script or an
    /// error with a line number: never a panic.
    #[test]
    fn scripts_never_panic(lines in proptest::collection::vec(line(), 0..12), raw in "\\PC{0,200}") {
        for text in [lines.join("\n"), raw] {
            if let Err(e) = parse_script(&text) {
                prop_assert!(e.line >= 1);
            }
        }
    }
}
