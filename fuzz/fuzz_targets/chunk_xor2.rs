//! Arbitrary bytes read as an XOR2 chunk (encoding 4): the checks of
//! `aion_chunkenc::fuzz::xor2_chunk`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion::chunkenc::fuzz::xor2_chunk(data);
});
