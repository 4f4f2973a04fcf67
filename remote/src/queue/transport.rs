//! What the host supplies to move request bytes: the library has no
//! networking of its own.

/// A receiver's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first header called `name`, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request body (already snappy-compressed protobuf) with its
/// headers to the receiver, e.g. as an HTTP `POST`. An `Err` is a network
/// failure (refused, reset, timed out): the queue retries it.
pub trait Transport: Send + Sync {
    /// Sends `body` with `headers`; returns the receiver's answer.
    fn send(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Response, String>;
}
