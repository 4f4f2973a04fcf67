//! The remote write 1.0 decoder and receiver over arbitrary bytes, both as
//! a raw protobuf message and as a snappy body. Nothing may panic, a
//! decoded request re-encodes stably, and the receiver answers every
//! decodable request with a 204 or a 400 (never a 5xx: MemStorage has no
//! storage failures to report).
#![no_main]

use aion::remote::codec;
use aion::remote::proto::WriteRequest;
use aion::remote::write::{Receiver, Status};
use aion::storage::MemStorage;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let store = MemStorage::new();
    let rx = Receiver::new(&store).with_max_decoded_bytes(1 << 20);
    let answer = rx.receive(None, None, data);
    assert!(matches!(answer.status, Status::NoContent | Status::BadRequest));

    let Ok(req) = WriteRequest::decode(data) else { return };
    let bytes = req.encode_to_vec();
    let again = WriteRequest::decode(bytes.as_slice()).expect("re-encoded request decodes");
    assert_eq!(again.encode_to_vec(), bytes, "stable re-encoding");
    let answer = rx.append_v1(&req);
    assert!(matches!(answer.status, Status::NoContent | Status::BadRequest));
    let body = codec::encode_write_v1(&req);
    let mut scratch = Vec::new();
    let decoded = codec::decode_write_v1(&body, usize::MAX, &mut scratch).expect("own body decodes");
    assert_eq!(decoded.encode_to_vec(), bytes);
});
