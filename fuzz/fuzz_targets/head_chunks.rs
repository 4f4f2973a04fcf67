//! Arbitrary bytes read as a `chunks_head/` file: scanning never panics,
//! accepted records lie within the file in order, and their chunks decode
//! within their sample counts (see `aion_tsdb::fuzz::head_chunk_file`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion_tsdb::fuzz::head_chunk_file(data);
});
