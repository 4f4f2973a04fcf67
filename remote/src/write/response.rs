//! What a receiver answers: a status, a message, and for remote write 2.0
//! the written counts, for the host to put into its HTTP response.

use crate::content_type::WriteProto;

/// The HTTP status of a remote-write answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 204: everything appended.
    NoContent,
    /// 400: the sender's data is wrong; it must not retry.
    BadRequest,
    /// 415: the body's content type or encoding is not understood.
    UnsupportedMediaType,
    /// 500: the store failed; the sender retries.
    InternalServerError,
}

impl Status {
    /// The HTTP status code.
    pub fn code(self) -> u16 {
        match self {
            Status::NoContent => 204,
            Status::BadRequest => 400,
            Status::UnsupportedMediaType => 415,
            Status::InternalServerError => 500,
        }
    }
}

/// What a request wrote: RW 2.0's `X-Prometheus-Remote-Write-*-Written`
/// values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Written {
    /// Float samples stored.
    pub samples: u64,
    /// Native histogram samples stored.
    pub histograms: u64,
    /// Exemplars stored.
    pub exemplars: u64,
}

/// A receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResponse {
    /// The HTTP status.
    pub status: Status,
    /// The body text for an error answer (empty for 204).
    pub message: String,
    /// Which message the body was, when that was decided.
    pub proto: Option<WriteProto>,
    /// What was stored (committed): all zero unless the commit succeeded.
    pub written: Written,
}

/// Header carrying [`Written::samples`].
pub const SAMPLES_WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// Header carrying [`Written::histograms`].
pub const HISTOGRAMS_WRITTEN: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// Header carrying [`Written::exemplars`].
pub const EXEMPLARS_WRITTEN: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

impl WriteResponse {
    pub(crate) fn unsupported(message: String) -> Self {
        WriteResponse {
            status: Status::UnsupportedMediaType,
            message,
            proto: None,
            written: Written::default(),
        }
    }

    pub(crate) fn bad_request(proto: WriteProto, message: String) -> Self {
        WriteResponse {
            status: Status::BadRequest,
            message,
            proto: Some(proto),
            written: Written::default(),
        }
    }

    /// Response headers to set beyond the status: the three written counts
    /// for a remote write 2.0 request (a 2.0 sender reads them to confirm
    /// what was stored), none for 1.0.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        if self.proto != Some(WriteProto::V2) {
            return Vec::new();
        }
        vec![
            (SAMPLES_WRITTEN, self.written.samples.to_string()),
            (HISTOGRAMS_WRITTEN, self.written.histograms.to_string()),
            (EXEMPLARS_WRITTEN, self.written.exemplars.to_string()),
        ]
    }
}
