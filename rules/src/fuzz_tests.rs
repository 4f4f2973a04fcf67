//! Bad input never panics: arbitrary rule files and templates.

use proptest::prelude::*;

use crate::rulefmt::{parse, ParseOptions};
use crate::template::{Expander, Template};

/// Fragments rule files and templates are made of, so generated inputs
/// reach deep into the decoder and the template parser.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("groups:\n".to_string()),
        Just("  - name: g\n".to_string()),
        Just("    rules:\n".to_string()),
        Just("      - record: r\n".to_string()),
        Just("      - alert: A\n".to_string()),
        Just("        expr: up\n".to_string()),
        Just("        for: 5m\n".to_string()),
        Just("        labels: {a: '{{ $value }}'}\n".to_string()),
        Just("    interval: x\n".to_string()),
        Just("[".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just(" if ".to_string()),
        Just(" end ".to_string()),
        Just("$labels.x".to_string()),
        Just(" | humanize ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        "[ -~\n]{0,8}",
    ]
}

proptest! {
    #[test]
    fn rule_files_never_panic(parts in proptest::collection::vec(fragment(), 0..24)) {
        let src = parts.concat();
        let _ = parse(src.as_bytes(), &ParseOptions::default());
    }

    #[test]
    fn templates_never_panic(parts in proptest::collection::vec(fragment(), 0..16)) {
        let text = parts.concat();
        if let Ok(t) = Template::parse("t", &text) {
            let l = aion_model::Labels::from_pairs(&[("x", "1")]).unwrap();
            let e = Expander { labels: &l, external_labels: &l, external_url: "", value: 0.5 };
            let _ = e.expand(&t);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes, &ParseOptions::default());
    }
}
