//! Whole-body codecs: snappy block + protobuf, both ways, for each message
//! a remote-write or remote-read endpoint receives or sends.

use prost::Message;

use crate::proto::{v2, ReadRequest, ReadResponse, WriteRequest};
use crate::{snappy, DecodeError};

/// The decoded-size limit hosts get by default: 32 MiB, well above
/// Prometheus's default batch (2,000 samples per send, a few hundred KiB
/// decoded) and small enough to bound memory per request.
pub const DEFAULT_MAX_DECODED_BYTES: usize = 32 << 20;

fn decode_message<M: Message + Default>(
    message: &'static str,
    body: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
) -> Result<M, DecodeError> {
    snappy::decompress_into(body, limit, scratch)?;
    M::decode(scratch.as_slice()).map_err(|source| DecodeError::Protobuf {
        message,
        len: scratch.len(),
        source,
    })
}

fn encode_message<M: Message>(m: &M) -> Vec<u8> {
    snappy::compress(&m.encode_to_vec())
}

/// Decodes a snappy-compressed remote write 1.0 body, refusing bodies that
/// decode to more than `limit` bytes. `scratch` holds the decompressed
/// bytes and is reused across calls.
///
/// ```
/// use aion_remote::{codec, proto};
/// let req = proto::WriteRequest::default();
/// let body = codec::encode_write_v1(&req);
/// let mut scratch = Vec::new();
/// assert_eq!(codec::decode_write_v1(&body, 1 << 20, &mut scratch).unwrap(), req);
/// ```
pub fn decode_write_v1(
    body: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
) -> Result<WriteRequest, DecodeError> {
    decode_message("prometheus.WriteRequest", body, limit, scratch)
}

/// Decodes a snappy-compressed remote write 2.0 body, as
/// [`decode_write_v1`].
pub fn decode_write_v2(
    body: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
) -> Result<v2::Request, DecodeError> {
    decode_message("io.prometheus.write.v2.Request", body, limit, scratch)
}

/// Decodes a snappy-compressed remote-read request.
pub fn decode_read_request(
    body: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
) -> Result<ReadRequest, DecodeError> {
    decode_message("prometheus.ReadRequest", body, limit, scratch)
}

/// Decodes a snappy-compressed SAMPLES remote-read answer (for clients).
pub fn decode_read_response(
    body: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
) -> Result<ReadResponse, DecodeError> {
    decode_message("prometheus.ReadResponse", body, limit, scratch)
}

/// A remote write 1.0 body: the request, protobuf-encoded and
/// snappy-compressed.
pub fn encode_write_v1(req: &WriteRequest) -> Vec<u8> {
    encode_message(req)
}

/// A remote write 2.0 body.
pub fn encode_write_v2(req: &v2::Request) -> Vec<u8> {
    encode_message(req)
}

/// A remote-read request body.
pub fn encode_read_request(req: &ReadRequest) -> Vec<u8> {
    encode_message(req)
}

/// A SAMPLES remote-read answer body.
pub fn encode_read_response(resp: &ReadResponse) -> Vec<u8> {
    encode_message(resp)
}
