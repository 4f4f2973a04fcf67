//! Arbitrary bytes read as a Thanos aggregate chunk body (encoding 0xFF):
//! the checks of `aion_downsample::fuzz::aggr_chunk`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion_downsample::fuzz::aggr_chunk(data);
});
