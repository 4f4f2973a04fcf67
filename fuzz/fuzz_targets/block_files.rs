//! Arbitrary bytes as a block's chunk segment file, tombstones file and
//! meta.json: the decoders must refuse or accept them without panicking
//! or reading out of bounds, and what a reader accepts must read back
//! consistently.
#![no_main]

use std::path::Path;

use aion::tsdb::block::{BlockMeta, Tombstones};
use aion::tsdb::chunks::ChunkSegmentReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a segment file, with and without a valid header in front.
    let mut with_header = vec![0x85, 0xBD, 0x40, 0xDD, 1, 0, 0, 0];
    with_header.extend_from_slice(data);
    for file in [data.to_vec(), with_header] {
        if let Ok(r) = ChunkSegmentReader::from_bytes("fuzz", vec![file]) {
            let mut refs = Vec::new();
            let _ = r.for_each_chunk(|r, _, _| refs.push(r));
            for c in refs {
                r.chunk(c).expect("a chunk the walk found reads back");
            }
            for w in data.chunks(8) {
                let mut b = [0u8; 8];
                b[..w.len()].copy_from_slice(w);
                let _ = r.chunk(u64::from_le_bytes(b));
            }
        }
    }
    // As tombstones, raw and with a valid frame.
    let _ = Tombstones::decode(data, Path::new("tombstones"));
    let mut framed = vec![0x01, 0x30, 0xBA, 0x30, 0x01];
    framed.extend_from_slice(data);
    let crc = crc32c_of(&framed[5..]);
    framed.extend_from_slice(&crc.to_be_bytes());
    if let Ok(t) = Tombstones::decode(&framed, Path::new("tombstones")) {
        let again = Tombstones::decode(&t.encode(), Path::new("tombstones")).unwrap();
        assert_eq!(again, t);
    }
    // As meta.json: what parses must write and parse back the same.
    if let Ok(m) = BlockMeta::parse(data, Path::new("meta.json")) {
        let again = BlockMeta::parse(m.to_json().as_bytes(), Path::new("meta.json")).unwrap();
        assert_eq!(again, m);
    }
});

/// CRC-32C (Castagnoli), bitwise: the fuzz crate avoids extra dependencies.
fn crc32c_of(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}
