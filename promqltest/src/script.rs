//! Parser of Prometheus's PromQL test scripts (`.test` files): `load`,
//! `clear` and `eval` commands, the expanding series notation and the
//! `expect` lines, as `docs/promql-test-scripts.md` describes them.

use aion_model::Labels;

use aion_promql::parser::parse_duration;

use crate::numbers::parse_go_number;

use aion_promql::parser::series_desc::{self, MAX_POSITIONS};
pub use aion_promql::parser::series_desc::{parse_histogram, HistLiteral, SeqValue};

/// A script error: what is wrong and on which (1-based) line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ScriptError> {
    Err(ScriptError {
        line,
        message: message.into(),
    })
}

/// A series of a `load` block.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSeries {
    /// The series.
    pub labels: Labels,
    /// `(timestamp ms, value)` of every non-omitted position.
    pub samples: Vec<(i64, SeqValue)>,
    /// Start timestamps (ms) per sample, when an `@st` line gave them.
    pub start_timestamps: Option<Vec<Option<i64>>>,
}

/// A `load` command.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadCmd {
    /// 1-based line of the command.
    pub line: usize,
    /// `load_with_nhcb`: classic histograms are also loaded as native
    /// histograms with custom buckets.
    pub with_nhcb: bool,
    /// Its series, in file order; a label set given twice keeps the later
    /// line.
    pub series: Vec<LoadSeries>,
}

/// How an expected text is matched.
#[derive(Debug, Clone)]
pub enum TextMatch {
    /// Anything matches.
    Any,
    /// Exactly this text.
    Exact(String),
    /// This (unanchored) regular expression.
    Regex(regex::Regex),
}

impl TextMatch {
    /// Whether `s` satisfies the expectation.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(m) => m == s,
            TextMatch::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextMatch::Any => f.write_str("anything"),
            TextMatch::Exact(m) => write!(f, "msg {m:?}"),
            TextMatch::Regex(r) => write!(f, "regex {:?}", r.as_str()),
        }
    }
}

/// When an eval runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    /// `eval instant at T`.
    Instant {
        /// Evaluation time (ms).
        at: i64,
    },
    /// `eval range from S to E step D`.
    Range {
        /// Start (ms).
        start: i64,
        /// End (ms).
        end: i64,
        /// Step (ms).
        step: i64,
    },
}

/// An expected series of an eval.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Values per position.
    pub values: Vec<SeqValue>,
    /// 1-based position among the expected series (for `expect ordered`).
    pub position: usize,
}

/// An `eval` command with its expectations.
#[derive(Debug, Clone)]
pub struct EvalCmd {
    /// 1-based line of the command.
    pub line: usize,
    /// The PromQL query text.
    pub query: String,
    /// Instant or range.
    pub kind: EvalKind,
    /// The query must fail (`eval_fail` or `expect fail`).
    pub fail: bool,
    /// Expectations on the error text (all must hold).
    pub fail_matches: Vec<TextMatch>,
    /// Result order matters (`eval_ordered` or `expect ordered`).
    pub ordered: bool,
    /// Legacy `eval_warn`: at least one warning.
    pub any_warning: bool,
    /// Legacy `eval_info`: at least one info.
    pub any_info: bool,
    /// `expect warn` lines.
    pub warn: Vec<TextMatch>,
    /// `expect info` lines.
    pub info: Vec<TextMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// Expected series (later lines with equal labels replace earlier).
    pub series: Vec<ExpectedSeries>,
    /// An expected scalar (a bare number line).
    pub scalar: Option<f64>,
    /// `expect string "..."`.
    pub string: Option<String>,
    /// `expect range vector from S to E step D` (instant evals).
    pub range_vector: Option<(i64, i64, i64)>,
}

impl EvalCmd {
    /// Whether any expected value is a native histogram.
    pub fn expects_histograms(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.values.iter().any(|v| matches!(v, SeqValue::Histogram(_))))
    }

    /// Whether the range-mode cross-check of instant evals applies.
    pub fn range_check(&self) -> bool {
        self.range_vector.is_none() && self.string.is_none()
    }
}

/// A command of a script.
#[derive(Debug, Clone)]
pub enum Command {
    /// Discard all data.
    Clear {
        /// 1-based line.
        line: usize,
    },
    /// Add data.
    Load(LoadCmd),
    /// Run a query and check its result.
    Eval(Box<EvalCmd>),
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear { line: i + 1 });
            i += 1;
        } else if word.starts_with("load") {
            let (next, cmd) = parse_load(&lines, i)?;
            cmds.push(Command::Load(cmd));
            i = next;
        } else if word.starts_with("eval") {
            let (next, cmd) = parse_eval(&lines, i)?;
            cmds.push(Command::Eval(Box::new(cmd)));
            i = next;
        } else {
            return err(i + 1, format!("invalid command {l:?}"));
        }
    }
    Ok(cmds)
}

fn duration(line: usize, s: &str) -> Result<i64, ScriptError> {
    parse_duration(s).map_err(|e| ScriptError { line, message: e })
}

fn parse_load(lines: &[String], start: usize) -> Result<(usize, LoadCmd), ScriptError> {
    let line = start + 1;
    let mut words = lines[start].split_whitespace();
    let cmd = words.next().unwrap_or("");
    let with_nhcb = match cmd {
        "load" => false,
        "load_with_nhcb" => true,
        _ => {
            return err(
                line,
                "invalid load command. (load[_with_nhcb] <step:duration>)",
            )
        }
    };
    let step = match (words.next(), words.next()) {
        (Some(s), None) => duration(line, s)?,
        _ => {
            return err(
                line,
                "invalid load command. (load[_with_nhcb] <step:duration>)",
            )
        }
    };
    let mut series: Vec<LoadSeries> = Vec::new();
    let mut pending_st: Option<(Labels, Vec<Option<i64>>, usize)> = None;
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let def = &lines[i];
        if is_st_line(def) {
            if let Some((_, _, l)) = pending_st {
                return err(l, "@st line has no following sample line");
            }
            let (labels, sts) = parse_st_line(i + 1, def)?;
            pending_st = Some((labels, sts, i + 1));
            i += 1;
            continue;
        }
        let (labels, values) = parse_series_line(i + 1, def)?;
        let mut start_timestamps = None;
        if let Some((st_labels, sts, st_line)) = pending_st.take() {
            if st_labels != labels {
                return err(
                    st_line,
                    "@st metric does not match the following sample line metric",
                );
            }
            if sts.len() != values.len() {
                return err(
                    st_line,
                    format!(
                        "@st line has {} values but sample line has {}",
                        sts.len(),
                        values.len()
                    ),
                );
            }
            start_timestamps = Some(sts);
        }
        let mut samples = Vec::new();
        let mut sample_sts = Vec::new();
        for (pos, v) in values.iter().enumerate() {
            if *v == SeqValue::Omitted {
                continue;
            }
            let t = (pos as i64).checked_mul(step).ok_or_else(|| ScriptError {
                line: i + 1,
                message: "sample timestamp out of range".into(),
            })?;
            samples.push((t, v.clone()));
            if let Some(sts) = &start_timestamps {
                sample_sts.push(sts[pos].map(|off| t.saturating_add(off)));
            }
        }
        let s = LoadSeries {
            labels,
            samples,
            start_timestamps: start_timestamps.map(|_| sample_sts),
        };
        match series.iter_mut().find(|x| x.labels == s.labels) {
            Some(existing) => *existing = s,
            None => series.push(s),
        }
        i += 1;
    }
    if let Some((_, _, l)) = pending_st {
        return err(l, "@st line has no following sample line");
    }
    Ok((
        i,
        LoadCmd {
            line,
            with_nhcb,
            series,
        },
    ))
}

fn is_st_line(def: &str) -> bool {
    match def.find([' ', '\t']) {
        Some(i) => def[..i].ends_with("@st"),
        None => false,
    }
}

fn parse_st_line(line: usize, def: &str) -> Result<(Labels, Vec<Option<i64>>), ScriptError> {
    let i = def.find([' ', '\t']).unwrap_or(def.len());
    let metric = def[..i].trim_end_matches("@st");
    let (labels, rest) = parse_labels(line, metric)?;
    if !rest.trim().is_empty() {
        return err(line, format!("invalid @st line metric {metric:?}"));
    }
    let mut out = Vec::new();
    for item in def[i..].split_whitespace() {
        parse_st_item(line, item, &mut out)?;
    }
    Ok((labels, out))
}

/// A signed single-unit duration at the start of `s` (`-1m`, `30s`,
/// `-59999ms`, `0`), and the rest.
fn duration_prefix(line: usize, s: &str) -> Result<(i64, &str), ScriptError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return err(line, format!("expected digits in duration {s:?}"));
    }
    let unit = body[digits..]
        .bytes()
        .take_while(|b| b.is_ascii_alphabetic() && *b != b'x')
        .count();
    let ms = duration(line, &body[..digits + unit])?;
    Ok((if neg { -ms } else { ms }, &body[digits + unit..]))
}

fn parse_st_item(line: usize, item: &str, out: &mut Vec<Option<i64>>) -> Result<(), ScriptError> {
    if out.len() >= MAX_POSITIONS {
        return err(
            line,
            format!("more than {MAX_POSITIONS} values on one line"),
        );
    }
    if item == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n = repeat_count(line, item, n)?;
        if n == 0 {
            return err(
                line,
                format!("invalid ST item {item:?}: invalid repeat count"),
            );
        }
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    let (base, rest) = duration_prefix(line, item)?;
    if rest.is_empty() {
        out.push(Some(base));
        return Ok(());
    }
    let count = |s: &str| repeat_count(line, item, s);
    if let Some(n) = rest.strip_prefix('x') {
        out.extend(std::iter::repeat_n(Some(base), count(n)? + 1));
        return Ok(());
    }
    let neg = rest.starts_with('-');
    if !neg && !rest.starts_with('+') {
        return err(line, format!("invalid ST item {item:?}"));
    }
    let (delta, rest) = duration_prefix(line, &rest[1..])?;
    let delta = if neg { -delta } else { delta };
    let Some(n) = rest.strip_prefix('x') else {
        return err(
            line,
            format!("invalid ST item {item:?}: expected 'x<count>'"),
        );
    };
    let mut v = base;
    for _ in 0..=count(n)? {
        out.push(Some(v));
        v += delta;
    }
    Ok(())
}

/// The notation's errors carry no line; the script adds it.
fn at_line<T>(line: usize, r: Result<T, String>) -> Result<T, ScriptError> {
    r.map_err(|message| ScriptError { line, message })
}

fn repeat_count(line: usize, item: &str, s: &str) -> Result<usize, ScriptError> {
    at_line(line, series_desc::repeat_count(item, s))
}

/// A quoted string at the start of `s`, and the rest.
fn quoted(line: usize, s: &str) -> Result<(String, &str), ScriptError> {
    at_line(line, series_desc::parse_quoted(s))
}

/// A label set in selector syntax with equality matchers only, and the
/// rest of the line.
pub(crate) fn parse_labels(line: usize, s: &str) -> Result<(Labels, &str), ScriptError> {
    at_line(line, series_desc::parse_series_labels(s))
}

/// A series line: labels and the expanded values.
pub(crate) fn parse_series_line(
    line: usize,
    s: &str,
) -> Result<(Labels, Vec<SeqValue>), ScriptError> {
    at_line(line, series_desc::parse_series_desc(s))
}

fn parse_eval(lines: &[String], start: usize) -> Result<(usize, EvalCmd), ScriptError> {
    let line = start + 1;
    let header = &lines[start];
    let (cmd_word, rest) = split_word(header);
    let modifier = match cmd_word {
        "eval" => "",
        "eval_fail" => "fail",
        "eval_warn" => "warn",
        "eval_ordered" => "ordered",
        "eval_info" => "info",
        _ => return err(line, format!("invalid eval command {cmd_word:?}")),
    };
    let (form, rest) = split_word(rest);
    let (kind, query) = match form {
        "instant" => {
            let (at_kw, rest) = split_word(rest);
            let (at, rest) = split_word(rest);
            if at_kw != "at" {
                return err(
                    line,
                    "invalid evaluation command: expected 'instant at <time>'",
                );
            }
            (
                EvalKind::Instant {
                    at: duration(line, at)?,
                },
                rest,
            )
        }
        "range" => {
            let mut rest = rest;
            let mut words = [""; 6];
            for w in &mut words {
                let (a, b) = split_word(rest);
                *w = a;
                rest = b;
            }
            if words[0] != "from" || words[2] != "to" || words[4] != "step" || modifier == "ordered"
            {
                return err(
                    line,
                    "invalid evaluation command: expected 'range from <from> to <to> step <step>'",
                );
            }
            let (s, e, st) = (
                duration(line, words[1])?,
                duration(line, words[3])?,
                duration(line, words[5])?,
            );
            if e < s {
                return err(
                    line,
                    "invalid test definition, end timestamp is before start timestamp",
                );
            }
            (
                EvalKind::Range {
                    start: s,
                    end: e,
                    step: st,
                },
                rest,
            )
        }
        _ => return err(line, "invalid evaluation command"),
    };
    let query = query.trim();
    if query.is_empty() {
        return err(line, "missing query");
    }
    let mut cmd = EvalCmd {
        line,
        query: query.to_string(),
        kind,
        fail: modifier == "fail",
        fail_matches: Vec::new(),
        ordered: modifier == "ordered",
        any_warning: modifier == "warn",
        any_info: modifier == "info",
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        series: Vec::new(),
        scalar: None,
        string: None,
        range_vector: None,
    };
    let instant = matches!(kind, EvalKind::Instant { .. });
    let mut i = start + 1;
    let mut position = 0;
    let mut expect_fail_lines = 0;
    while i < lines.len() && !lines[i].is_empty() {
        let def = lines[i].as_str();
        let l = i + 1;
        i += 1;
        if cmd.fail && def.starts_with("expected_fail_message") {
            let m = def["expected_fail_message".len()..].trim();
            cmd.fail_matches.push(TextMatch::Exact(m.to_string()));
            break;
        }
        if cmd.fail && def.starts_with("expected_fail_regexp") {
            let p = def["expected_fail_regexp".len()..].trim();
            let re = regex::Regex::new(p).map_err(|e| ScriptError {
                line: l,
                message: format!("invalid regexp {p:?} for expected_fail_regexp: {e}"),
            })?;
            cmd.fail_matches.push(TextMatch::Regex(re));
            break;
        }
        if let Some(r) = def.strip_prefix("expect range vector") {
            let mut rest = r;
            let mut words = [""; 6];
            for w in &mut words {
                let (a, b) = split_word(rest);
                *w = a;
                rest = b;
            }
            if words[0] != "from"
                || words[2] != "to"
                || words[4] != "step"
                || !rest.trim().is_empty()
            {
                return err(l, format!("invalid range vector definition {def:?}"));
            }
            let (s, e, st) = (
                duration(l, words[1])?,
                duration(l, words[3])?,
                duration(l, words[5])?,
            );
            if e < s {
                return err(
                    l,
                    "invalid test definition, end timestamp is before start timestamp",
                );
            }
            cmd.range_vector = Some((s, e, st));
            if let EvalKind::Instant { at } = &mut cmd.kind {
                *at = e;
            }
            continue;
        }
        if let Some(r) = def.strip_prefix("expect string") {
            let text = r.strip_prefix(' ').unwrap_or("");
            if text.is_empty() || !(text.starts_with('"') || text.starts_with('`')) {
                return err(
                    l,
                    "expected string literal not valid - a quoted string literal is required",
                );
            }
            let (v, rest) = quoted(l, text)?;
            if !rest.is_empty() {
                return err(
                    l,
                    "expected string literal not valid - check that the string is correctly quoted",
                );
            }
            cmd.string = Some(v);
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            let (kind, m) = parse_expect(l, def)?;
            match kind {
                "fail" => {
                    expect_fail_lines += 1;
                    cmd.fail = true;
                    cmd.fail_matches.push(m);
                }
                "warn" => cmd.warn.push(m),
                "info" => cmd.info.push(m),
                "no_warn" => cmd.no_warn = true,
                "no_info" => cmd.no_info = true,
                "ordered" => cmd.ordered = true,
                _ => unreachable!(),
            }
            if !cmd.info.is_empty() && cmd.no_info {
                return err(
                    l,
                    "invalid expect lines, info and no_info cannot be used together",
                );
            }
            if !cmd.warn.is_empty() && cmd.no_warn {
                return err(
                    l,
                    "invalid expect lines, warn and no_warn cannot be used together",
                );
            }
            if expect_fail_lines > 1 {
                return err(
                    l,
                    "invalid expect lines, multiple expect fail lines are not allowed",
                );
            }
            continue;
        }
        if let Some(v) = parse_go_number(def) {
            cmd.scalar = Some(v);
            break;
        }
        let (labels, values) = parse_series_line(l, def)?;
        if values.len() > 1 && instant && cmd.range_vector.is_none() {
            return err(
                l,
                "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query",
            );
        }
        position += 1;
        let e = ExpectedSeries {
            labels,
            values,
            position,
        };
        match cmd.series.iter_mut().find(|s| s.labels == e.labels) {
            Some(existing) => *existing = e,
            None => cmd.series.push(e),
        }
    }
    Ok((i, cmd))
}

fn parse_expect(line: usize, def: &str) -> Result<(&'static str, TextMatch), ScriptError> {
    let rest = def["expect".len()..].trim_start();
    let (kind, rest) = split_word(rest);
    let kind = match kind {
        "fail" => "fail",
        "warn" => "warn",
        "info" => "info",
        "no_warn" => "no_warn",
        "no_info" => "no_info",
        "ordered" => "ordered",
        other => {
            return err(
                line,
                format!("invalid expected error/annotation type {other}"),
            )
        }
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok((kind, TextMatch::Any));
    }
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok((kind, TextMatch::Exact(m.trim().to_string())));
    }
    if let Some(p) = rest.strip_prefix("regex:") {
        let p = p.trim();
        let re = regex::Regex::new(p).map_err(|_| ScriptError {
            line,
            message: format!("invalid regex {p} for {kind}"),
        })?;
        return Ok((kind, TextMatch::Regex(re)));
    }
    err(
        line,
        "invalid expect statement, must match `expect <type> <match_type>: <string>` format",
    )
}

/// The first whitespace-separated word and the rest (leading whitespace
/// kept off both).
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
