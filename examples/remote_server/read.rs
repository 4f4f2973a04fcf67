//! `POST /api/v1/read`: remote read as Prometheus serves it. The answer
//! type is negotiated from the request's `accepted_response_types` (the
//! first one implemented; SAMPLES when none is listed): SAMPLES is one
//! snappy `ReadResponse`, STREAMED_XOR_CHUNKS is written frame by frame
//! by `aion_remote`'s read server on a blocking thread and streamed to
//! the client as it is produced.

use std::sync::Arc;

use aion_remote::codec::DEFAULT_MAX_DECODED_BYTES;
use aion_remote::content_type::{CONTENT_TYPE_STREAMED, PROTOBUF};
use aion_remote::proto::read_request::ResponseType;
use aion_remote::read::ReadError;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::mpsc;

use crate::body::{full, ChannelBody, ChannelWriter, ResponseBody};
use crate::http::{read_body, text};
use crate::State;

/// The largest request body read (a `ReadRequest` is a few matchers).
const MAX_READ_BODY: usize = 4 << 20;
/// Bytes gathered before they are handed to the connection.
const STREAM_CHUNK: usize = 64 << 10;
/// Chunks in flight between the reading thread and the connection.
const STREAM_DEPTH: usize = 4;

fn error(e: &ReadError) -> Response<ResponseBody> {
    text(e.status(), e.to_string())
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<ResponseBody> {
    let body = match read_body(req, MAX_READ_BODY).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let request = match state.read.decode_request(&body, DEFAULT_MAX_DECODED_BYTES) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let kind = match state.read.response_type(&request) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    match kind {
        ResponseType::Samples => {
            let answer =
                tokio::task::spawn_blocking(move || state.read.answer_samples(&state.db, &request))
                    .await;
            match answer {
                Ok(Ok(bytes)) => {
                    let mut r = Response::new(full(bytes));
                    let h = r.headers_mut();
                    h.insert("content-type", PROTOBUF.parse().expect("valid header"));
                    h.insert("content-encoding", "snappy".parse().expect("valid header"));
                    r
                }
                Ok(Err(e)) => error(&e),
                Err(e) => text(500, format!("remote read handler failed: {e}")),
            }
        }
        ResponseType::StreamedXorChunks => {
            let (tx, mut rx) = mpsc::channel(STREAM_DEPTH);
            let job = tokio::task::spawn_blocking(move || {
                let mut out = ChannelWriter::new(tx, STREAM_CHUNK);
                let result = state.read.stream_chunks(&state.db, &request, &mut out);
                let failure = result.as_ref().err().map(ToString::to_string);
                if out.finish(failure) {
                    if let Err(e) = &result {
                        eprintln!("remote read: stream ended early: {e}");
                    }
                }
                result
            });
            let first = match rx.recv().await {
                Some(crate::body::Piece::Data(b)) => Some(b),
                Some(crate::body::Piece::Failed(msg)) => return text(500, msg),
                // Nothing written: an empty answer, or a failure before
                // the first frame, which still gets its status.
                None => match job.await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => return error(&e),
                    Err(e) => return text(500, format!("remote read handler failed: {e}")),
                },
            };
            let mut r = Response::new(ChannelBody::boxed(first, rx));
            r.headers_mut().insert(
                "content-type",
                CONTENT_TYPE_STREAMED.parse().expect("valid header"),
            );
            r
        }
    }
}
