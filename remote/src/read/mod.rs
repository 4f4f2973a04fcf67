//! The remote-read server: answers a [`ReadRequest`] from any
//! [`Queryable`] (SAMPLES) or [`ChunkQueryable`] (STREAMED_XOR_CHUNKS),
//! as Prometheus's `/api/v1/read` handler does.
//!
//! | file | holds |
//! |---|---|
//! | `error.rs` | [`ReadError`] and its HTTP status |
//! | `matchers.rs` | wire matchers → [`Matcher`](aion_model::Matcher)s with external labels filtered; [`merge_labels`] |
//! | `gate.rs` | [`Gate`]: the concurrent-read limit |
//! | `samples.rs` | the SAMPLES answer (one snappy [`ReadResponse`]) |
//! | `frame.rs` | [`ChunkedWriter`] / [`ChunkedReader`]: the streamed framing |
//! | `streamed.rs` | the STREAMED_XOR_CHUNKS answer, written frame by frame |
//!
//! # External labels
//!
//! A server with external labels (Prometheus's `global.external_labels`)
//! answers as if every series carried them: an equality matcher on an
//! external label with the external value is replaced by `name=""` (the
//! stored series do not have the label), and every answered series gets
//! the external labels merged in, its own labels winning on a clash.
//!
//! ```
//! use aion_remote::proto::{Query, ReadRequest, LabelMatcher};
//! use aion_remote::read::ReadServer;
//! use aion_model::Labels;
//! use aion_storage::MemStorage;
//!
//! let store = MemStorage::new();
//! store.append(&Labels::from_pairs(&[("__name__", "up")]).unwrap(), 1000, 1.0).unwrap();
//! let server = ReadServer::new()
//!     .with_external_labels(Labels::from_pairs(&[("cluster", "eu")]).unwrap());
//! let req = ReadRequest {
//!     queries: vec![Query {
//!         start_timestamp_ms: 0,
//!         end_timestamp_ms: 2000,
//!         matchers: vec![LabelMatcher { r#type: 0, name: "__name__".into(), value: "up".into() }],
//!         hints: None,
//!     }],
//!     accepted_response_types: vec![],
//! };
//! let resp = server.read_samples(&store, &req).unwrap();
//! let ts = &resp.results[0].timeseries[0];
//! assert_eq!(ts.labels[1].name, "cluster");
//! assert_eq!(ts.samples[0].timestamp, 1000);
//! ```

mod error;
mod frame;
mod gate;
mod matchers;
mod samples;
mod streamed;

use aion_model::Labels;
use aion_storage::{ChunkQueryable, Queryable, SelectHints};

use crate::codec;
use crate::proto::{read_request::ResponseType, Query, ReadRequest, ReadResponse};

pub use error::ReadError;
pub use frame::{ChunkedReader, ChunkedWriter, FrameError};
pub use gate::{Gate, GateGuard};
pub use matchers::{merge_labels, to_matchers};
pub use streamed::StreamStats;

/// Prometheus's default `--storage.remote.read-sample-limit`.
pub const DEFAULT_SAMPLE_LIMIT: usize = 50_000_000;
/// Prometheus's default `--storage.remote.read-concurrent-limit`.
pub const DEFAULT_CONCURRENCY: usize = 10;
/// Prometheus's default `--storage.remote.read-max-bytes-in-frame`.
pub const DEFAULT_MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// A remote-read endpoint's configuration and concurrency gate; share one
/// per server (it is `Sync`).
#[derive(Debug)]
pub struct ReadServer {
    external_labels: Labels,
    sample_limit: usize,
    max_bytes_in_frame: usize,
    gate: Gate,
}

impl Default for ReadServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadServer {
    /// A server with Prometheus's defaults and no external labels.
    pub fn new() -> Self {
        ReadServer {
            external_labels: Labels::new(),
            sample_limit: DEFAULT_SAMPLE_LIMIT,
            max_bytes_in_frame: DEFAULT_MAX_BYTES_IN_FRAME,
            gate: Gate::new(DEFAULT_CONCURRENCY),
        }
    }

    /// Sets the external labels merged into every answered series.
    pub fn with_external_labels(mut self, labels: Labels) -> Self {
        self.external_labels = labels;
        self
    }

    /// Caps the samples one SAMPLES query may answer (0: no limit); more
    /// is a 400, as in Prometheus. Streamed answers are not limited (they
    /// hold one frame at a time).
    pub fn with_sample_limit(mut self, limit: usize) -> Self {
        self.sample_limit = limit;
        self
    }

    /// Caps concurrent reads (0: no limit); further reads wait.
    pub fn with_concurrency_limit(mut self, limit: usize) -> Self {
        self.gate = Gate::new(limit);
        self
    }

    /// Sets where streamed frames are cut (default 1 MiB): a frame is
    /// closed once its chunks reach this size, so frames end near it.
    pub fn with_max_bytes_in_frame(mut self, bytes: usize) -> Self {
        self.max_bytes_in_frame = bytes.max(1);
        self
    }

    /// The external labels.
    pub fn external_labels(&self) -> &Labels {
        &self.external_labels
    }

    /// The answer format for `req`: the first of its accepted types this
    /// server implements (SAMPLES when it lists none), as Prometheus
    /// negotiates.
    pub fn response_type(&self, req: &ReadRequest) -> Result<ResponseType, ReadError> {
        if req.accepted_response_types.is_empty() {
            return Ok(ResponseType::Samples);
        }
        req.accepted_response_types
            .iter()
            .find_map(|&t| ResponseType::try_from(t).ok())
            .ok_or_else(|| ReadError::NoAcceptedResponseType(req.accepted_response_types.clone()))
    }

    /// Decodes a snappy-compressed request body (limited to `limit`
    /// decoded bytes).
    pub fn decode_request(&self, body: &[u8], limit: usize) -> Result<ReadRequest, ReadError> {
        let mut scratch = Vec::new();
        Ok(codec::decode_read_request(body, limit, &mut scratch)?)
    }

    /// Answers `req` in SAMPLES form.
    pub fn read_samples(
        &self,
        store: &dyn Queryable,
        req: &ReadRequest,
    ) -> Result<ReadResponse, ReadError> {
        let _guard = self.gate.enter();
        samples::read(store, req, &self.external_labels, self.sample_limit)
    }

    /// Answers `req` in SAMPLES form as the response body (protobuf,
    /// snappy-compressed); the host sends it with
    /// `Content-Type: application/x-protobuf` and
    /// `Content-Encoding: snappy`.
    pub fn answer_samples(
        &self,
        store: &dyn Queryable,
        req: &ReadRequest,
    ) -> Result<Vec<u8>, ReadError> {
        Ok(codec::encode_read_response(&self.read_samples(store, req)?))
    }

    /// Answers `req` in STREAMED_XOR_CHUNKS form, writing frames to `out`
    /// as series are read (the host sends
    /// [`CONTENT_TYPE_STREAMED`](crate::content_type::CONTENT_TYPE_STREAMED)
    /// with no content encoding). Once a frame is written the status is
    /// sent; a later error can only end the stream early.
    pub fn stream_chunks<W: std::io::Write>(
        &self,
        store: &dyn ChunkQueryable,
        req: &ReadRequest,
        out: W,
    ) -> Result<StreamStats, ReadError> {
        let _guard = self.gate.enter();
        streamed::stream(
            store,
            req,
            &self.external_labels,
            self.max_bytes_in_frame,
            out,
        )
    }
}

/// The select hints of a query, as Prometheus builds them: the query's
/// own range, the rest from its hints.
fn hints_of(q: &Query) -> SelectHints<'_> {
    let h = q.hints.as_ref();
    SelectHints {
        start: q.start_timestamp_ms,
        end: q.end_timestamp_ms,
        step: h.map_or(0, |h| h.step_ms),
        range: h.map_or(0, |h| h.range_ms),
        func: h.map(|h| h.func.as_str()).filter(|f| !f.is_empty()),
        grouping: h.map_or(&[][..], |h| h.grouping.as_slice()),
        by: h.is_some_and(|h| h.by),
    }
}

#[cfg(test)]
mod tests;
