//! The remote-read request decoder and the read server over arbitrary
//! bytes: a request that decodes is answered (from a small store) or
//! refused with a 400-class error; nothing panics.
#![no_main]

use aion::model::Labels;
use aion::remote::proto::ReadRequest;
use aion::remote::read::ReadServer;
use aion::storage::MemStorage;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let server = ReadServer::new()
        .with_sample_limit(1000)
        .with_external_labels(Labels::from_pairs(&[("replica", "a")]).unwrap());
    let _ = server.decode_request(data, 1 << 20);
    let Ok(req) = ReadRequest::decode(data) else { return };
    let bytes = req.encode_to_vec();
    let again = ReadRequest::decode(bytes.as_slice()).expect("re-encoded request decodes");
    assert_eq!(again.encode_to_vec(), bytes, "stable re-encoding");
    // Keep regex compilation bounded: only small requests are answered.
    if req.queries.len() > 4 || bytes.len() > 4096 {
        return;
    }
    let store = MemStorage::new();
    let up = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]).unwrap();
    for t in 0..10 {
        store.append(&up, t * 1000, t as f64).unwrap();
    }
    let _ = server.response_type(&req);
    if let Err(e) = server.read_samples(&store, &req) {
        assert_eq!(e.status(), 400, "{e}");
    }
});
