//! Arbitrary text parsed as an alerting template (Go `text/template` with
//! Prometheus's functions) and expanded. Nothing may panic, loop forever or
//! fail without a message.
#![no_main]

use aion::model::Labels;
use aion::rules::template::{Expander, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Template::parse("fuzz", text) {
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a message"),
        Ok(t) => {
            let labels = Labels::from_pairs(&[("instance", "a:9090"), ("job", "x")])
                .expect("valid labels");
            let expander = Expander {
                labels: &labels,
                external_labels: &labels,
                external_url: "http://localhost:9090",
                value: 1234.5678,
            };
            if let Err(e) = expander.expand(&t) {
                assert!(!e.to_string().is_empty(), "an error without a message");
            }
        }
    }
});
