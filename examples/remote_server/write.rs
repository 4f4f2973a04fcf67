//! `POST /api/v1/write`: the body goes to `aion_remote`'s receiver on a
//! blocking thread; its answer becomes the status, the RW 2.0
//! `X-Prometheus-Remote-Write-*-Written` headers and a text message, as
//! Prometheus's receiver answers.

use std::sync::Arc;

use aion_remote::write::Receiver;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::body::{full, ResponseBody};
use crate::http::{header, read_body, text};
use crate::State;

/// The largest compressed body read off a connection (the receiver also
/// caps the decoded size before allocating it).
pub const MAX_WRITE_BODY: usize = 32 << 20;

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<ResponseBody> {
    let content_type = header(&req, "content-type");
    let content_encoding = header(&req, "content-encoding");
    let body = match read_body(req, MAX_WRITE_BODY).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let answer = tokio::task::spawn_blocking(move || {
        Receiver::new(&state.db).receive(
            content_type.as_deref(),
            content_encoding.as_deref(),
            &body,
        )
    })
    .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return text(500, format!("remote write handler failed: {e}")),
    };
    let code = answer.status.code();
    let mut resp = if answer.message.is_empty() {
        let mut r = Response::new(full(Vec::new()));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or_default();
        r
    } else {
        if code >= 500 {
            eprintln!("remote write: {code}: {}", answer.message);
        }
        text(code, answer.message.clone())
    };
    for (name, value) in answer.headers() {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes());
        let value = hyper::header::HeaderValue::from_str(&value);
        if let (Ok(n), Ok(v)) = (name, value) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}
