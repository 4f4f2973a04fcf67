//! Opens an index file from arbitrary bytes and walks everything: symbols,
//! series, postings, label names/values, selections, full verification.
//! Errors are expected; panics and out-of-bounds reads are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aion::index::disk::walk_index_bytes(data);
});
