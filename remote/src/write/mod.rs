//! The remote-write receiver: `decode → validate → append` into any
//! [`Appendable`], answered as a [`WriteResponse`] the host maps to its
//! HTTP response.
//!
//! | file | holds |
//! |---|---|
//! | `response.rs` | [`WriteResponse`], [`Status`], [`Written`]: what the host sends back |
//! | `batch.rs` | one request's appender: partial writes, refusals, commit |
//! | `v1.rs` | appending a `prometheus.WriteRequest` |
//! | `v2.rs` | appending an `io.prometheus.write.v2.Request` (symbol refs resolved and checked) |
//!
//! # Answers
//!
//! As the remote write specs and Prometheus's receiver answer:
//!
//! - **204** when everything was appended.
//! - **400** for a body that is not snappy or not the protobuf message,
//!   a series with duplicate or empty-named labels or no
//!   `__name__`, an RW 2.0 request whose `symbols[0]` is not `""` or with
//!   a reference out of range, an inconsistent histogram, and samples the
//!   storage refuses as the caller's fault ([`ErrorKind::is_bad_input`]:
//!   out of order, out of bounds, too old, duplicate). The write is
//!   **partial**: every acceptable series is appended and committed, and
//!   the answer names the first refused one (the sender does not retry a
//!   4xx, so retrying cannot duplicate anything).
//! - Labels out of byte order are sorted, not refused, as Prometheus's
//!   receiver does (see [`labels_from_pairs`](crate::convert::labels_from_pairs)).
//! - **415** for a `Content-Type` or `Content-Encoding` this receiver does
//!   not read.
//! - **500** for storage failures. The request's appends are rolled back,
//!   so the sender's retry writes everything once. This includes a store
//!   that does not keep native histograms ([`ErrorKind::Unsupported`]):
//!   Prometheus answers its `ErrNativeHistogramsDisabled` with 500 too,
//!   the sender keeps the data and retries until the store is configured
//!   to take it, rather than losing it to a 4xx.
//!
//! Exemplars and metadata are decoded and checked but not stored: the
//! [`Appender`](aion_storage::Appender) trait has no exemplar or metadata
//! calls yet, so RW 2.0's exemplar count is always 0. RW 2.0 start
//! timestamps are decoded but not stored for the same reason.
//!
//! ```
//! use aion_remote::write::{Receiver, Status};
//! use aion_remote::send::WriteRequestBuilder;
//! use aion_model::Labels;
//! use aion_storage::MemStorage;
//!
//! let store = MemStorage::new();
//! let mut b = WriteRequestBuilder::new();
//! b.add_samples(&Labels::from_pairs(&[("__name__", "up")]).unwrap(), &[(1000, 1.0)]);
//! let body = b.encode();
//! let answer = Receiver::new(&store).receive(Some("application/x-protobuf"), Some("snappy"), &body);
//! assert_eq!(answer.status, Status::NoContent);
//! assert_eq!(store.num_samples(), 1);
//! ```

mod batch;
mod response;
mod v1;
mod v2;

use aion_storage::{Appendable, ErrorKind};

use crate::codec::{self, DEFAULT_MAX_DECODED_BYTES};
use crate::content_type::{negotiate_write, WriteProto};
use crate::proto;

pub use response::{Status, WriteResponse, Written};

/// A remote-write endpoint over a store: holds the store and the host's
/// per-request memory limit.
#[derive(Debug, Clone)]
pub struct Receiver<A> {
    store: A,
    max_decoded_bytes: usize,
}

impl<A: Appendable> Receiver<A> {
    /// A receiver appending to `store`, with
    /// [`DEFAULT_MAX_DECODED_BYTES`] as the body limit.
    pub fn new(store: A) -> Self {
        Receiver {
            store,
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
        }
    }

    /// Refuses (400) bodies whose snappy header announces more than
    /// `limit` decoded bytes, before allocating for them. The host should
    /// also cap the compressed body it reads off the connection.
    pub fn with_max_decoded_bytes(mut self, limit: usize) -> Self {
        self.max_decoded_bytes = limit;
        self
    }

    /// The store appended to.
    pub fn store(&self) -> &A {
        &self.store
    }

    /// Handles one HTTP request body given its `Content-Type` and
    /// `Content-Encoding` headers (absent headers as `None`).
    pub fn receive(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
    ) -> WriteResponse {
        let proto = match negotiate_write(content_type, content_encoding) {
            Ok(p) => p,
            Err(e) => return WriteResponse::unsupported(e.to_string()),
        };
        let mut scratch = Vec::new();
        match proto {
            WriteProto::V1 => {
                match codec::decode_write_v1(body, self.max_decoded_bytes, &mut scratch) {
                    Ok(req) => self.append_v1(&req),
                    Err(e) => WriteResponse::bad_request(WriteProto::V1, e.to_string()),
                }
            }
            WriteProto::V2 => {
                match codec::decode_write_v2(body, self.max_decoded_bytes, &mut scratch) {
                    Ok(req) => self.append_v2(&req),
                    Err(e) => WriteResponse::bad_request(WriteProto::V2, e.to_string()),
                }
            }
        }
    }

    /// Validates and appends a decoded remote write 1.0 request.
    pub fn append_v1(&self, req: &proto::WriteRequest) -> WriteResponse {
        let mut batch = batch::Batch::new(self.store.appender(), WriteProto::V1);
        match v1::append(&mut batch, req) {
            Ok(()) => batch.commit(),
            Err(e) => batch.abort(e),
        }
    }

    /// Validates and appends a decoded remote write 2.0 request.
    pub fn append_v2(&self, req: &proto::v2::Request) -> WriteResponse {
        if let Err(msg) = v2::check_symbols(req) {
            return WriteResponse::bad_request(WriteProto::V2, msg);
        }
        let mut batch = batch::Batch::new(self.store.appender(), WriteProto::V2);
        match v2::append(&mut batch, req) {
            Ok(()) => batch.commit(),
            Err(e) => batch.abort(e),
        }
    }
}

/// Whether a storage error is the sender's fault (400) or the store's (500).
fn status_of(kind: ErrorKind) -> Status {
    if kind.is_bad_input() {
        Status::BadRequest
    } else {
        Status::InternalServerError
    }
}

#[cfg(test)]
mod tests;
