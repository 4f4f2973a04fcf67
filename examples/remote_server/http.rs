//! Routing and the small HTTP helpers the handlers share: reading a body
//! with a size cap, text and JSON answers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use crate::api;
use crate::body::{full, ResponseBody};
use crate::form::{unescape_path, Form};
use crate::State;

/// The largest form-encoded API body read.
const MAX_FORM_BODY: usize = 8 << 20;

/// A request header as text, `None` when absent or not text.
pub fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A `text/plain` answer (Go's `http.Error`: the message and a newline).
pub fn text(code: u16, mut message: String) -> Response<ResponseBody> {
    message.push('\n');
    let mut r = Response::new(full(message));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        "text/plain; charset=utf-8".parse().expect("valid header"),
    );
    r
}

fn json(code: u16, body: String) -> Response<ResponseBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("valid header"),
    );
    r
}

/// The whole body, at most `limit` bytes (more: 413; a broken
/// connection: 400).
pub async fn read_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<Bytes, Response<ResponseBody>> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(text(413, format!("request body larger than {limit} bytes")))
        }
        Err(e) => Err(text(400, format!("reading request body: {e}"))),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The query endpoints' parameters: URL query plus, for a form POST, the
/// body.
async fn form(req: Request<Incoming>) -> Result<Form, Response<ResponseBody>> {
    let query = req.uri().query().map(str::to_string);
    let is_form = req.method() == Method::POST
        && header(&req, "content-type").is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let body = if is_form {
        Some(read_body(req, MAX_FORM_BODY).await?)
    } else {
        None
    };
    Form::parse(query.as_deref(), body.as_deref()).map_err(|e| {
        let err: api::ApiResult = Err(api::ApiError {
            typ: api::ErrorType::BadData,
            message: format!("error parsing form values: {e}"),
        });
        let (code, body) = api::envelope(&err);
        json(code, body)
    })
}

/// Which query endpoint a path names.
enum Endpoint {
    Query,
    QueryRange,
    Series,
    Labels,
    LabelValues(String),
}

fn endpoint(path: &str) -> Option<Endpoint> {
    Some(match path {
        "/api/v1/query" => Endpoint::Query,
        "/api/v1/query_range" => Endpoint::QueryRange,
        "/api/v1/series" => Endpoint::Series,
        "/api/v1/labels" => Endpoint::Labels,
        _ => {
            let name = path
                .strip_prefix("/api/v1/label/")?
                .strip_suffix("/values")?;
            if name.contains('/') {
                return None;
            }
            Endpoint::LabelValues(name.to_string())
        }
    })
}

async fn api_call(
    state: Arc<State>,
    req: Request<Incoming>,
    ep: Endpoint,
) -> Response<ResponseBody> {
    let get_only = matches!(ep, Endpoint::LabelValues(_));
    if !(req.method() == Method::GET || (req.method() == Method::POST && !get_only)) {
        return text(405, "method not allowed".into());
    }
    let form = match form(req).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let now = now_ms();
    let result = tokio::task::spawn_blocking(move || {
        let db = &state.db;
        match &ep {
            Endpoint::Query => api::query(db, &state.engine, &form, now),
            Endpoint::QueryRange => api::query_range(db, &state.engine, &form),
            Endpoint::Series => api::series(db, &form),
            Endpoint::Labels => api::labels(db, &form, None),
            Endpoint::LabelValues(raw) => match unescape_path(raw) {
                Ok(name) => api::labels(db, &form, Some(&name)),
                Err(e) => Err(api::ApiError {
                    typ: api::ErrorType::BadData,
                    message: e,
                }),
            },
        }
    })
    .await;
    let result = result.unwrap_or_else(|e| {
        Err(api::ApiError {
            typ: api::ErrorType::Internal,
            message: format!("query handler failed: {e}"),
        })
    });
    let (code, body) = api::envelope(&result);
    json(code, body)
}

/// Answers one request.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let path = req.uri().path().to_string();
    let post = req.method() == Method::POST;
    Ok(match path.as_str() {
        "/api/v1/write" if post => crate::write::handle(state, req).await,
        "/api/v1/read" if post => crate::read::handle(state, req).await,
        "/api/v1/write" | "/api/v1/read" => text(405, "method not allowed".into()),
        "/-/ready" | "/-/healthy" => text(200, "Aion remote server is ready.".into()),
        p => match endpoint(p) {
            Some(ep) => api_call(state, req, ep).await,
            None => text(404, "404 page not found".into()),
        },
    })
}
