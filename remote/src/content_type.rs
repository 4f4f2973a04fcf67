//! Content negotiation for remote write: which message a body holds, from
//! its `Content-Type` and `Content-Encoding` headers, as the 2.0 spec and
//! Prometheus's receiver decide it.

/// `Content-Type` of remote write 1.0 bodies and SAMPLES read answers.
pub const PROTOBUF: &str = "application/x-protobuf";
/// The `proto` parameter naming remote write 1.0's message.
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The `proto` parameter naming remote write 2.0's message.
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";
/// `Content-Type` of remote write 2.0 bodies.
pub const CONTENT_TYPE_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
/// `Content-Type` of STREAMED_XOR_CHUNKS read answers.
pub const CONTENT_TYPE_STREAMED: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// `X-Prometheus-Remote-Write-Version` a 1.0 sender sets.
pub const VERSION_V1: &str = "0.1.0";
/// `X-Prometheus-Remote-Write-Version` a 2.0 sender sets.
pub const VERSION_V2: &str = "2.0.0";

/// The remote-write message a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteProto {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

/// Why a body's headers were refused (HTTP 415).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A media type other than `application/x-protobuf`.
    #[error("unsupported Content-Type {0:?}; expected application/x-protobuf")]
    MediaType(String),
    /// A `proto` parameter naming a message this receiver does not read.
    #[error("unsupported proto {0:?} in Content-Type; expected prometheus.WriteRequest or io.prometheus.write.v2.Request")]
    Proto(String),
    /// A `Content-Encoding` other than snappy.
    #[error("unsupported Content-Encoding {0:?}; expected snappy")]
    Encoding(String),
}

/// Decides the message of a remote-write body from its headers.
///
/// A missing `Content-Type`, or `application/x-protobuf` without a `proto`
/// parameter, is 1.0 (what 1.0 senders send); a missing
/// `Content-Encoding` is snappy, as Prometheus accepts from 1.0 senders
/// that omit it. Media types and parameter names are case-insensitive,
/// parameter values are not (as RFC 9110 says).
///
/// ```
/// use aion_remote::content_type::{negotiate_write, WriteProto};
/// assert_eq!(negotiate_write(None, None), Ok(WriteProto::V1));
/// assert_eq!(
///     negotiate_write(Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"), Some("snappy")),
///     Ok(WriteProto::V2)
/// );
/// assert!(negotiate_write(Some("application/json"), None).is_err());
/// ```
pub fn negotiate_write(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<WriteProto, NegotiationError> {
    if let Some(enc) = content_encoding.map(str::trim) {
        if !enc.is_empty() && !enc.eq_ignore_ascii_case("snappy") {
            return Err(NegotiationError::Encoding(enc.to_string()));
        }
    }
    let Some(ct) = content_type.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(WriteProto::V1);
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(PROTOBUF) {
        return Err(NegotiationError::MediaType(ct.to_string()));
    }
    let mut proto = WriteProto::V1;
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let value = value.trim().trim_matches('"');
        proto = match value {
            PROTO_V1 => WriteProto::V1,
            PROTO_V2 => WriteProto::V2,
            other => return Err(NegotiationError::Proto(other.to_string())),
        };
    }
    Ok(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_content_types() {
        let ok = [
            (None, WriteProto::V1),
            (Some(""), WriteProto::V1),
            (Some("application/x-protobuf"), WriteProto::V1),
            (Some("Application/X-Protobuf"), WriteProto::V1),
            (
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                WriteProto::V1,
            ),
            (Some(CONTENT_TYPE_V2), WriteProto::V2),
            (
                Some("application/x-protobuf; charset=utf-8; proto=\"io.prometheus.write.v2.Request\""),
                WriteProto::V2,
            ),
        ];
        for (ct, want) in ok {
            assert_eq!(negotiate_write(ct, Some("snappy")), Ok(want), "{ct:?}");
        }
        assert_eq!(
            negotiate_write(Some("application/json"), None),
            Err(NegotiationError::MediaType("application/json".into()))
        );
        assert_eq!(
            negotiate_write(
                Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
                None
            ),
            Err(NegotiationError::Proto(
                "io.prometheus.write.v3.Request".into()
            ))
        );
        assert_eq!(
            negotiate_write(None, Some("zstd")),
            Err(NegotiationError::Encoding("zstd".into()))
        );
        assert_eq!(negotiate_write(None, Some("")), Ok(WriteProto::V1));
    }
}
