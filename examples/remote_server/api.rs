//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//! `/api/v1/labels` and `/api/v1/label/NAME/values`, answered as
//! Prometheus's HTTP API answers them: the `status`/`data`/`errorType`/
//! `error`/`warnings`/`infos` envelope, its parameter names, defaults,
//! error texts and statuses (400 bad_data, 422 execution, 503 timeout,
//! 500 internal), so Grafana and Prometheus's own clients can use the
//! server as a Prometheus data source. Query results are encoded by
//! `aion_promql::json`, as `aion query --format json` prints them.

use std::collections::BTreeSet;
use std::time::Duration;

use aion_model::gotext::{go_quote, write_json_string};
use aion_model::{Labels, Matcher};
use aion_promql::{json, Engine, Error as QueryError, QueryOptions, QueryResult, Value};
use aion_storage::{Queryable, SelectHints};

use crate::form::Form;
use crate::timeparse;

/// Prometheus's API refuses range queries with more points per series.
const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// `MinTime` of Prometheus's API in milliseconds: the default `start` of
/// the series and label endpoints.
const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// `MaxTime` of Prometheus's API in milliseconds: the default `end`.
const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// Prometheus's error types, with the status each is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
}

impl ErrorType {
    fn name(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
        }
    }

    /// The HTTP status (Prometheus's `getDefaultErrorCode`).
    pub fn status(self) -> u16 {
        match self {
            ErrorType::BadData => 400,
            ErrorType::Execution => 422,
            ErrorType::Timeout | ErrorType::Canceled => 503,
            ErrorType::Internal => 500,
        }
    }
}

/// A failed API call.
#[derive(Debug)]
pub struct ApiError {
    pub typ: ErrorType,
    pub message: String,
}

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        ApiError {
            typ: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// Prometheus's `invalidParamError`.
    fn param(name: &str, err: impl std::fmt::Display) -> Self {
        ApiError::bad(format!("invalid parameter {}: {err}", go_quote(name)))
    }

    fn storage(e: aion_storage::Error) -> Self {
        ApiError {
            typ: ErrorType::Internal,
            message: e.to_string(),
        }
    }
}

/// A successful call: the `data` JSON and the annotations.
pub struct ApiData {
    pub data: String,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl ApiData {
    fn plain(data: String, warnings: Vec<String>) -> Self {
        ApiData {
            data,
            warnings,
            infos: Vec::new(),
        }
    }
}

pub type ApiResult = Result<ApiData, ApiError>;

/// The whole JSON answer and its status.
pub fn envelope(result: &ApiResult) -> (u16, String) {
    let mut out = String::new();
    let status = match result {
        Ok(d) => {
            out.push_str("{\"status\":\"success\",\"data\":");
            out.push_str(&d.data);
            push_strings(&mut out, "warnings", &d.warnings);
            push_strings(&mut out, "infos", &d.infos);
            200
        }
        Err(e) => {
            out.push_str("{\"status\":\"error\",\"errorType\":\"");
            out.push_str(e.typ.name());
            out.push_str("\",\"error\":");
            write_json_string(&mut out, &e.message);
            e.typ.status()
        }
    };
    out.push('}');
    (status, out)
}

/// `,"key":[...]`, omitted when empty (Go's `omitempty`).
fn push_strings(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    write_string_array(out, items.iter().map(String::as_str));
}

fn write_string_array<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, s);
    }
    out.push(']');
}

/// Prometheus's `parseTime`: unix seconds (fraction rounded to the
/// millisecond) or RFC 3339.
fn parse_time(s: &str) -> Result<i64, String> {
    timeparse::parse_time_ms(s)
        .map_err(|_| format!("cannot parse {} to a valid timestamp", go_quote(s)))
}

/// Prometheus's `parseTimeParam`: `default` when the parameter is absent.
fn time_param(form: &Form, name: &str, default: i64) -> Result<i64, ApiError> {
    match form.value(name) {
        "" => Ok(default),
        s => parse_time(s).map_err(|e| ApiError::param(name, e)),
    }
}

/// Prometheus's `parseDuration`: seconds as a float or a duration like
/// `1m30s`; in milliseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = secs * 1e9;
        if !(i64::MIN as f64..=i64::MAX as f64).contains(&ns) {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        // Go converts to nanoseconds, the engine truncates to ms.
        return Ok((ns as i64) / 1_000_000);
    }
    timeparse::parse_duration_ms(s)
        .map_err(|_| format!("cannot parse {} to a valid duration", go_quote(s)))
}

fn limit_param(form: &Form) -> Result<usize, ApiError> {
    match form.value("limit") {
        "" => Ok(0),
        s => {
            let n: i64 = s.parse().map_err(|_| {
                ApiError::param(
                    "limit",
                    format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)),
                )
            })?;
            if n < 0 {
                return Err(ApiError::param("limit", "limit must be non-negative"));
            }
            Ok(n as usize)
        }
    }
}

fn query_options(form: &Form) -> Result<QueryOptions, ApiError> {
    let mut opts = QueryOptions::default();
    let timeout = form.value("timeout");
    if !timeout.is_empty() {
        let ms = parse_duration(timeout).map_err(|e| ApiError::param("timeout", e))?;
        opts.timeout = Some(Duration::from_millis(ms.max(0) as u64));
    }
    let lookback = form.value("lookback_delta");
    if !lookback.is_empty() {
        let ms = parse_duration(lookback)
            .map_err(|e| ApiError::bad(format!("error parsing lookback delta duration: {e}")))?;
        if ms < 0 {
            return Err(ApiError::bad(format!(
                "negative lookback delta duration {lookback}"
            )));
        }
        opts.lookback_delta = Some(ms);
    }
    Ok(opts)
}

/// Maps an engine error as Prometheus's API does: a query that does not
/// parse (or is of the wrong type) is a bad `query` parameter; timeouts,
/// cancellation and storage failures have their own types; the rest is
/// an execution error.
fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Parse(_) | QueryError::InvalidRangeQueryType(_) => ApiError::param("query", e),
        QueryError::Timeout => ApiError {
            typ: ErrorType::Timeout,
            message: e.to_string(),
        },
        QueryError::Canceled => ApiError {
            typ: ErrorType::Canceled,
            message: e.to_string(),
        },
        QueryError::Querier(_) | QueryError::Storage(_) => ApiError {
            typ: ErrorType::Internal,
            message: e.to_string(),
        },
        other => ApiError {
            typ: ErrorType::Execution,
            message: other.to_string(),
        },
    }
}

/// The result as `data`, truncated to `limit` series (0: all) as
/// Prometheus's `truncateResults` does.
fn result_data(expr: &str, mut result: QueryResult, limit: usize) -> ApiData {
    let mut warnings: Vec<String> = result
        .annotations
        .warnings()
        .map(|a| a.render(expr))
        .collect();
    let infos: Vec<String> = result.annotations.infos().map(|a| a.render(expr)).collect();
    if limit > 0 {
        let truncated = match &mut result.value {
            Value::Vector(v) if v.len() > limit => {
                v.truncate(limit);
                true
            }
            Value::Matrix(m) if m.len() > limit => {
                m.truncate(limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push("results truncated due to limit".into());
        }
    }
    ApiData {
        data: json::encode_data(&result.value),
        warnings,
        infos,
    }
}

/// `/api/v1/query`.
pub fn query(db: &dyn Queryable, engine: &Engine, form: &Form, now_ms: i64) -> ApiResult {
    let limit = limit_param(form)?;
    let t = time_param(form, "time", now_ms)?;
    let opts = query_options(form)?;
    let expr = form.value("query");
    let result = engine
        .instant_query_with(db, expr, t, &opts)
        .map_err(query_error)?;
    Ok(result_data(expr, result, limit))
}

/// `/api/v1/query_range`.
pub fn query_range(db: &dyn Queryable, engine: &Engine, form: &Form) -> ApiResult {
    let limit = limit_param(form)?;
    let start = parse_time(form.value("start")).map_err(|e| ApiError::param("start", e))?;
    let end = parse_time(form.value("end")).map_err(|e| ApiError::param("end", e))?;
    if end < start {
        return Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = parse_duration(form.value("step")).map_err(|e| ApiError::param("step", e))?;
    if step <= 0 {
        return Err(ApiError::param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let opts = query_options(form)?;
    let expr = form.value("query");
    let result = engine
        .range_query_with(db, expr, start, end, step, &opts)
        .map_err(query_error)?;
    Ok(result_data(expr, result, limit))
}

/// The `match[]` selectors (Prometheus's `parseMatchersParam`): each must
/// have a matcher that does not match the empty string.
fn matcher_sets(form: &Form) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::new();
    for s in form.values("match[]") {
        let ms = aion_promql::parse_metric_selector(s).map_err(|e| e.to_string())?;
        if ms.iter().all(Matcher::matches_empty) {
            return Err("match[] must contain at least one non-empty matcher".into());
        }
        sets.push(ms);
    }
    Ok(sets)
}

fn time_range(form: &Form) -> Result<(i64, i64), ApiError> {
    Ok((
        time_param(form, "start", MIN_TIME_MS)?,
        time_param(form, "end", MAX_TIME_MS)?,
    ))
}

/// `/api/v1/series`: the label sets of the series matching any `match[]`,
/// sorted, each once.
pub fn series(db: &dyn Queryable, form: &Form) -> ApiResult {
    if form.values("match[]").is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let limit = limit_param(form)?;
    let (start, end) = time_range(form)?;
    let sets = matcher_sets(form).map_err(|e| ApiError::param("match[]", e))?;
    let q = db.querier(start, end).map_err(ApiError::storage)?;
    let hints = SelectHints {
        start,
        end,
        func: Some("series"),
        ..SelectHints::default()
    };
    let mut found: BTreeSet<Labels> = BTreeSet::new();
    // What the storage knew was damaged when it opened, as the engine
    // reports it for queries.
    let mut warnings = q.warnings();
    for ms in &sets {
        let mut set = q.select(true, Some(&hints), ms);
        while let Some(s) = set.next() {
            found.insert(s.map_err(ApiError::storage)?.labels);
        }
        warnings.extend(set.warnings());
    }
    let mut data = String::from("[");
    for (i, labels) in found.iter().enumerate() {
        if limit > 0 && i == limit {
            warnings.push("results truncated due to limit".into());
            break;
        }
        if i > 0 {
            data.push(',');
        }
        data.push('{');
        for (j, l) in labels.iter().enumerate() {
            if j > 0 {
                data.push(',');
            }
            write_json_string(&mut data, l.name);
            data.push(':');
            write_json_string(&mut data, l.value);
        }
        data.push('}');
    }
    data.push(']');
    Ok(ApiData::plain(data, warnings))
}

/// `/api/v1/labels` (`name` `None`) and `/api/v1/label/NAME/values`.
pub fn labels(db: &dyn Queryable, form: &Form, name: Option<&str>) -> ApiResult {
    if name == Some("") {
        return Err(ApiError::bad("invalid label name: \"\""));
    }
    let limit = limit_param(form)?;
    let (start, end) = time_range(form)?;
    let sets = matcher_sets(form).map_err(ApiError::bad)?;
    let q = db.querier(start, end).map_err(ApiError::storage)?;
    let lookup = |ms: &[Matcher]| match name {
        Some(n) => q.label_values(n, ms),
        None => q.label_names(ms),
    };
    let exec = |e: aion_storage::Error| ApiError {
        typ: ErrorType::Execution,
        message: e.to_string(),
    };
    let found: BTreeSet<String> = if sets.is_empty() {
        lookup(&[]).map_err(exec)?.into_iter().collect()
    } else {
        let mut all = BTreeSet::new();
        for ms in &sets {
            all.extend(lookup(ms).map_err(exec)?);
        }
        all
    };
    let mut warnings = q.warnings();
    let n = if limit > 0 && found.len() > limit {
        warnings.push("results truncated due to limit".into());
        limit
    } else {
        found.len()
    };
    let mut data = String::new();
    write_string_array(&mut data, found.iter().take(n).map(String::as_str));
    Ok(ApiData::plain(data, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_as_prometheus() {
        let ok: ApiResult = Ok(ApiData {
            data: "[]".into(),
            warnings: vec!["w<".into()],
            infos: vec![],
        });
        assert_eq!(
            envelope(&ok),
            (
                200,
                r#"{"status":"success","data":[],"warnings":["w\u003c"]}"#.to_string()
            )
        );
        let err: ApiResult = Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
        assert_eq!(
            envelope(&err),
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}"#
                    .to_string()
            )
        );
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(
            parse_duration("x").unwrap_err(),
            r#"cannot parse "x" to a valid duration"#
        );
        assert_eq!(parse_time("1700000000.5"), Ok(1_700_000_000_500));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time("").unwrap_err(),
            r#"cannot parse "" to a valid timestamp"#
        );
        assert_eq!(MIN_TIME_MS, -9_223_309_901_257_974_000);
        assert_eq!(MAX_TIME_MS, 9_223_309_901_257_974_999);
    }
}
