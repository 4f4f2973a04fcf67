//! The STREAMED_XOR_CHUNKS frame reader over arbitrary bytes: damaged,
//! truncated and oversized frames are errors, never panics; a frame that
//! reads back writes back to the same bytes.
#![no_main]

use aion::remote::read::{ChunkedReader, ChunkedWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = ChunkedReader::new(data, 1 << 16);
    let mut frames = Vec::new();
    while let Ok(Some(f)) = reader.next_frame() {
        frames.push(f);
    }
    let mut w = ChunkedWriter::new(Vec::new());
    for f in &frames {
        w.write(f).expect("writing to a Vec");
    }
    let out = w.into_inner();
    let mut back = ChunkedReader::new(out.as_slice(), usize::MAX);
    for f in &frames {
        assert_eq!(back.next_frame().expect("own frame reads").as_ref(), Some(f));
    }
    assert!(back.next_frame().expect("clean end").is_none());
});
