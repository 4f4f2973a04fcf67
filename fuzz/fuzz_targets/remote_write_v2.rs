//! The remote write 2.0 decoder and receiver over arbitrary bytes: symbol
//! references out of range, odd label lists and bad symbol tables must
//! be 400s, never panics or out-of-bounds reads.
#![no_main]

use aion::remote::codec;
use aion::remote::content_type::CONTENT_TYPE_V2;
use aion::remote::proto::v2::Request;
use aion::remote::write::{Receiver, Status};
use aion::storage::MemStorage;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let store = MemStorage::new();
    let rx = Receiver::new(&store).with_max_decoded_bytes(1 << 20);
    let answer = rx.receive(Some(CONTENT_TYPE_V2), None, data);
    assert!(matches!(answer.status, Status::NoContent | Status::BadRequest));

    let Ok(req) = Request::decode(data) else { return };
    let bytes = req.encode_to_vec();
    let again = Request::decode(bytes.as_slice()).expect("re-encoded request decodes");
    assert_eq!(again.encode_to_vec(), bytes, "stable re-encoding");
    let answer = rx.append_v2(&req);
    assert!(matches!(answer.status, Status::NoContent | Status::BadRequest));
    assert_eq!(answer.headers().len(), 3);
    let body = codec::encode_write_v2(&req);
    let mut scratch = Vec::new();
    let decoded = codec::decode_write_v2(&body, usize::MAX, &mut scratch).expect("own body decodes");
    assert_eq!(decoded.encode_to_vec(), bytes);
});
