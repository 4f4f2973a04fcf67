//! Arbitrary bytes read as a float histogram chunk (encoding 3): the
//! checks of `aion_chunkenc::fuzz::float_histogram_chunk`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion::chunkenc::fuzz::float_histogram_chunk(data);
});
