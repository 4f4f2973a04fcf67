//! Arbitrary bytes read as an XOR chunk: decoding must end within the
//! header's sample count, never panic, and agree with seeking, resumed
//! appending and re-encoding (see `aion_chunkenc::fuzz::xor_chunk`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aion_chunkenc::fuzz::xor_chunk(data);
});
