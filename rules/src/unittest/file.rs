//! The unit-test file as promtool reads it (`yaml.UnmarshalStrict` into
//! its `unitTestFile`): strict fields, Prometheus durations, and the
//! `unmarshal errors` wording of Go's YAML decoder.

use aion_model::Labels;
use aion_promql::parser::parse_duration;

use crate::yaml::{self, parse_float, Kind, Node, Tag};

/// A unit-test file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestFile {
    /// `rule_files`, as written (relative to the test file, globs).
    pub rule_files: Vec<String>,
    /// `evaluation_interval` (ms; 0 when not given: promtool then uses
    /// 1 minute).
    pub evaluation_interval: i64,
    /// `group_eval_order`: group names evaluated in this order.
    pub group_eval_order: Vec<String>,
    /// `tests`.
    pub tests: Vec<TestGroup>,
    /// `fuzzy_compare`: floats one ULP apart compare equal.
    pub fuzzy_compare: bool,
}

/// One entry of `tests`: input series and the checks over them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestGroup {
    /// `interval` between input samples (ms; 0: `evaluation_interval`).
    pub interval: i64,
    /// `input_series`.
    pub input_series: Vec<InputSeries>,
    /// `alert_rule_test`.
    pub alert_rule_tests: Vec<AlertTestCase>,
    /// `promql_expr_test`.
    pub promql_expr_tests: Vec<PromqlTestCase>,
    /// `external_labels`.
    pub external_labels: Labels,
    /// `external_url`.
    pub external_url: String,
    /// `name`.
    pub name: String,
    /// `start_timestamp` (ms since the epoch; 0 when not given).
    pub start_timestamp: i64,
}

/// One input series: a series description and its values in the
/// expanding notation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputSeries {
    /// `series`: `name{label="value"}`.
    pub series: String,
    /// `values`: `1+2x3 _ stale`.
    pub values: String,
}

/// One `alert_rule_test` item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertTestCase {
    /// `eval_time` (ms after the start).
    pub eval_time: i64,
    /// `alertname`.
    pub alertname: String,
    /// `exp_alerts`: the firing alerts expected.
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpAlert {
    /// `exp_labels` (without `alertname`, which promtool adds).
    pub labels: Vec<(String, String)>,
    /// `exp_annotations`.
    pub annotations: Vec<(String, String)>,
}

/// One `promql_expr_test` item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromqlTestCase {
    /// `expr`.
    pub expr: String,
    /// `eval_time` (ms after the start).
    pub eval_time: i64,
    /// `exp_samples`.
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpSample {
    /// `labels`, as a series description (`name{a="b"}`, may be empty).
    pub labels: String,
    /// `value`.
    pub value: f64,
    /// `histogram` literal; when set, `value` is ignored.
    pub histogram: String,
}

/// Reads a unit-test file's text. The error is promtool's message.
pub fn parse_test_file(text: &str, ignore_unknown_fields: bool) -> Result<TestFile, String> {
    let root = yaml::parse(text).map_err(|e| e.to_string())?;
    let mut d = Decoder {
        strict: !ignore_unknown_fields,
        errors: Vec::new(),
    };
    let mut out = TestFile::default();
    if let Some(root) = &root {
        d.file(root, &mut out)?;
    }
    if d.errors.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "yaml: unmarshal errors:\n  {}",
            d.errors.join("\n  ")
        ))
    }
}

/// A fatal error (a bad duration or timestamp), which stops decoding.
type Fatal = Result<(), String>;

struct Decoder {
    strict: bool,
    errors: Vec<String>,
}

impl Decoder {
    fn terror(&mut self, n: &Node, into: &str) {
        self.errors.push(n.type_error(into));
    }

    /// The pairs of a mapping destined for a struct; unknown keys are
    /// reported by the caller through [`Decoder::unknown`].
    fn fields<'n>(&mut self, n: &'n Node, into: &str) -> &'n [(Node, Node)] {
        match &n.kind {
            Kind::Map(pairs) => pairs,
            _ if n.tag == Tag::Null => &[],
            _ => {
                self.terror(n, into);
                &[]
            }
        }
    }

    fn unknown(&mut self, key: &Node, into: &str) {
        if self.strict {
            self.errors.push(format!(
                "line {}: field {} not found in type {}",
                key.line,
                key.text().unwrap_or(""),
                into
            ));
        }
    }

    fn items<'n>(&mut self, n: &'n Node, into: &str) -> &'n [Node] {
        match &n.kind {
            Kind::Seq(items) => items,
            _ => {
                if n.tag != Tag::Null {
                    self.terror(n, into);
                }
                &[]
            }
        }
    }

    fn string(&mut self, n: &Node) -> String {
        match &n.kind {
            Kind::Scalar(_) if n.tag == Tag::Null => String::new(),
            Kind::Scalar(s) => s.clone(),
            _ => {
                self.terror(n, "string");
                String::new()
            }
        }
    }

    fn strings(&mut self, n: &Node) -> Vec<String> {
        self.items(n, "[]string")
            .iter()
            .map(|i| self.string(i))
            .collect()
    }

    fn bool(&mut self, n: &Node) -> bool {
        match (n.tag, n.text()) {
            (Tag::Bool, Some(t)) => matches!(t, "true" | "True" | "TRUE"),
            (Tag::Null, _) => false,
            _ => {
                self.terror(n, "bool");
                false
            }
        }
    }

    fn float(&mut self, n: &Node) -> f64 {
        let parsed = match n.tag {
            Tag::Null => Some(0.0),
            Tag::Int | Tag::Float => n.text().and_then(parse_float),
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            self.terror(n, "float64");
            0.0
        })
    }

    /// A `model.Duration` in ms: a string parsed by `model.ParseDuration`,
    /// whose failure stops the decoding.
    fn duration(&mut self, n: &Node) -> Result<i64, String> {
        match &n.kind {
            Kind::Scalar(_) if n.tag == Tag::Null => Ok(0),
            Kind::Scalar(s) => parse_duration(s),
            _ => {
                self.terror(n, "string");
                Ok(0)
            }
        }
    }

    fn string_map(&mut self, n: &Node) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        match &n.kind {
            Kind::Map(pairs) => {
                for (k, v) in pairs {
                    let (key, value) = (self.string(k), self.string(v));
                    match out.iter_mut().find(|(x, _)| *x == key) {
                        Some(slot) => slot.1 = value,
                        None => out.push((key, value)),
                    }
                }
            }
            _ if n.tag == Tag::Null => {}
            _ => self.terror(n, "map[string]string"),
        }
        out.sort();
        out
    }

    fn file(&mut self, n: &Node, out: &mut TestFile) -> Fatal {
        const INTO: &str = "main.unitTestFile";
        for (k, v) in self.fields(n, INTO) {
            match k.text() {
                Some("rule_files") => out.rule_files = self.strings(v),
                Some("evaluation_interval") => out.evaluation_interval = self.duration(v)?,
                Some("group_eval_order") => out.group_eval_order = self.strings(v),
                Some("fuzzy_compare") => out.fuzzy_compare = self.bool(v),
                Some("tests") => {
                    for t in self.items(v, "[]main.testGroup") {
                        let mut g = TestGroup::default();
                        self.group(t, &mut g)?;
                        out.tests.push(g);
                    }
                }
                _ => self.unknown(k, INTO),
            }
        }
        Ok(())
    }

    fn group(&mut self, n: &Node, g: &mut TestGroup) -> Fatal {
        const INTO: &str = "main.testGroup";
        for (k, v) in self.fields(n, INTO) {
            match k.text() {
                Some("interval") => g.interval = self.duration(v)?,
                Some("name") => g.name = self.string(v),
                Some("external_url") => g.external_url = self.string(v),
                Some("external_labels") => {
                    let pairs = self.string_map(v);
                    g.external_labels = Labels::from_pairs(&pairs).map_err(|e| e.to_string())?;
                }
                Some("start_timestamp") => {
                    let text = self.string(v);
                    g.start_timestamp = parse_time(&text)?;
                }
                Some("input_series") => {
                    for s in self.items(v, "[]main.series") {
                        let mut series = InputSeries::default();
                        for (k, v) in self.fields(s, "main.series") {
                            match k.text() {
                                Some("series") => series.series = self.string(v),
                                Some("values") => series.values = self.string(v),
                                _ => self.unknown(k, "main.series"),
                            }
                        }
                        g.input_series.push(series);
                    }
                }
                Some("alert_rule_test") => {
                    for a in self.items(v, "[]main.alertTestCase") {
                        let mut case = AlertTestCase::default();
                        self.alert_case(a, &mut case)?;
                        g.alert_rule_tests.push(case);
                    }
                }
                Some("promql_expr_test") => {
                    for p in self.items(v, "[]main.promqlTestCase") {
                        let mut case = PromqlTestCase::default();
                        self.promql_case(p, &mut case)?;
                        g.promql_expr_tests.push(case);
                    }
                }
                _ => self.unknown(k, INTO),
            }
        }
        Ok(())
    }

    fn alert_case(&mut self, n: &Node, c: &mut AlertTestCase) -> Fatal {
        const INTO: &str = "main.alertTestCase";
        for (k, v) in self.fields(n, INTO) {
            match k.text() {
                Some("eval_time") => c.eval_time = self.duration(v)?,
                Some("alertname") => c.alertname = self.string(v),
                Some("exp_alerts") => {
                    for a in self.items(v, "[]main.alert") {
                        let mut exp = ExpAlert::default();
                        for (k, v) in self.fields(a, "main.alert") {
                            match k.text() {
                                Some("exp_labels") => exp.labels = self.string_map(v),
                                Some("exp_annotations") => exp.annotations = self.string_map(v),
                                _ => self.unknown(k, "main.alert"),
                            }
                        }
                        c.exp_alerts.push(exp);
                    }
                }
                _ => self.unknown(k, INTO),
            }
        }
        Ok(())
    }

    fn promql_case(&mut self, n: &Node, c: &mut PromqlTestCase) -> Fatal {
        const INTO: &str = "main.promqlTestCase";
        for (k, v) in self.fields(n, INTO) {
            match k.text() {
                Some("expr") => c.expr = self.string(v),
                Some("eval_time") => c.eval_time = self.duration(v)?,
                Some("exp_samples") => {
                    for s in self.items(v, "[]main.sample") {
                        let mut exp = ExpSample::default();
                        for (k, v) in self.fields(s, "main.sample") {
                            match k.text() {
                                Some("labels") => exp.labels = self.string(v),
                                Some("value") => exp.value = self.float(v),
                                Some("histogram") => exp.histogram = self.string(v),
                                _ => self.unknown(k, "main.sample"),
                            }
                        }
                        c.exp_samples.push(exp);
                    }
                }
                _ => self.unknown(k, INTO),
            }
        }
        Ok(())
    }
}

/// promtool's `parseTime`: Unix seconds (with a fraction) or RFC 3339,
/// as milliseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            return Ok((secs * 1000.0).round() as i64);
        }
    }
    aion_model::civil::parse_rfc3339_ms(s)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}
