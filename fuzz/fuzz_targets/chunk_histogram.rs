//! Arbitrary bytes read as an integer histogram chunk (encoding 2):
//! decoding must never panic, end within the header's sample count, agree
//! with seeking, and re-encode to chunks that decode to the same
//! histograms (see `aion_chunkenc::fuzz::histogram_chunk`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion::chunkenc::fuzz::histogram_chunk(data);
});
