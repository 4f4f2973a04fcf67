//! Arbitrary bytes read as a Prometheus rule file, strict and lenient, and
//! every label and annotation template of a file that validates parsed and
//! expanded, as a rule evaluation would. Nothing may panic, and every
//! rejection carries a message.
#![no_main]

use aion::model::Labels;
use aion::rules::rulefmt::{parse, ParseOptions};
use aion::rules::template::{Expander, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ignore_unknown_fields in [false, true] {
        let options = ParseOptions {
            ignore_unknown_fields,
            ..ParseOptions::default()
        };
        match parse(data, &options) {
            Err(errors) => {
                assert!(!errors.is_empty(), "a rejection without an error");
                for e in errors {
                    assert!(!e.to_string().is_empty(), "an error without a message");
                }
            }
            Ok(groups) => {
                let labels = Labels::from_pairs(&[("instance", "a:9090"), ("job", "x")])
                    .expect("valid labels");
                let expander = Expander {
                    labels: &labels,
                    external_labels: &labels,
                    external_url: "http://localhost:9090",
                    value: 0.5,
                };
                for rule in groups.groups.iter().flat_map(|g| &g.rules) {
                    for (name, text) in rule.labels.iter().chain(&rule.annotations) {
                        if let Ok(t) = Template::parse(name, text) {
                            let _ = expander.expand(&t);
                        }
                    }
                }
            }
        }
    }
});
