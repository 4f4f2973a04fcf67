//! The STREAMED_XOR_CHUNKS framing: each frame is
//! `uvarint(len) | be32 CRC32C(message) | message`, the message a
//! protobuf `ChunkedReadResponse`.

use std::io::{Read, Write};

use aion_model::encoding::{crc32c, put_be32, put_uvarint};
use prost::Message;

use crate::proto::ChunkedReadResponse;

/// A frame that cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The underlying writer or reader failed.
    #[error("frame at byte {offset}: {source}")]
    Io {
        /// Offset of the frame in the stream.
        offset: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The stream ends inside a frame.
    #[error("frame at byte {offset}: stream ends inside the {part}")]
    Truncated {
        /// Offset of the frame.
        offset: u64,
        /// `length`, `checksum` or `message`.
        part: &'static str,
    },
    /// The length prefix is not a valid uvarint.
    #[error("frame at byte {offset}: invalid length prefix")]
    BadLength {
        /// Offset of the frame.
        offset: u64,
    },
    /// A frame larger than the reader accepts.
    #[error("frame at byte {offset}: {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Offset of the frame.
        offset: u64,
        /// Announced length.
        len: u64,
        /// The reader's limit.
        limit: usize,
    },
    /// The message does not match its checksum.
    #[error("frame at byte {offset}: CRC32C {got:#010x} does not match {want:#010x}")]
    Checksum {
        /// Offset of the frame.
        offset: u64,
        /// Checksum in the frame.
        want: u32,
        /// Checksum of the message read.
        got: u32,
    },
    /// The message is not a `ChunkedReadResponse`.
    #[error("frame at byte {offset}: not a prometheus.ChunkedReadResponse: {source}")]
    Protobuf {
        /// Offset of the frame.
        offset: u64,
        /// prost's error.
        #[source]
        source: prost::DecodeError,
    },
}

/// Writes frames to a stream, flushing after each so the client gets
/// series as they are read (reusing one buffer for every frame).
#[derive(Debug)]
pub struct ChunkedWriter<W> {
    out: W,
    buf: Vec<u8>,
    offset: u64,
}

impl<W: Write> ChunkedWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        ChunkedWriter {
            out,
            buf: Vec::new(),
            offset: 0,
        }
    }

    /// Writes one frame; returns its size in bytes (header included).
    pub fn write(&mut self, msg: &ChunkedReadResponse) -> Result<usize, FrameError> {
        let len = msg.encoded_len();
        self.buf.clear();
        self.buf.reserve(len + 14);
        put_uvarint(&mut self.buf, len as u64);
        let header = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        // Encoding into a Vec cannot run out of space.
        msg.encode(&mut self.buf)
            .expect("encoding into a Vec never fails");
        let crc = crc32c(&self.buf[header + 4..]);
        let mut be = Vec::with_capacity(4);
        put_be32(&mut be, crc);
        self.buf[header..header + 4].copy_from_slice(&be);
        let offset = self.offset;
        let io = |source| FrameError::Io { offset, source };
        self.out.write_all(&self.buf).map_err(io)?;
        self.out.flush().map_err(io)?;
        self.offset += self.buf.len() as u64;
        Ok(self.buf.len())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads frames from a stream (the client side, and tests), checking each
/// checksum and refusing frames over a size limit before allocating.
#[derive(Debug)]
pub struct ChunkedReader<R> {
    input: R,
    limit: usize,
    buf: Vec<u8>,
    offset: u64,
}

impl<R: Read> ChunkedReader<R> {
    /// A reader over `input` accepting frames up to `limit` bytes.
    pub fn new(input: R, limit: usize) -> Self {
        ChunkedReader {
            input,
            limit,
            buf: Vec::new(),
            offset: 0,
        }
    }

    fn read_byte(&mut self) -> Result<Option<u8>, FrameError> {
        let mut b = [0u8];
        loop {
            match self.input.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => return Ok(Some(b[0])),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(FrameError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
    }

    fn read_exact(&mut self, n: usize, part: &'static str) -> Result<(), FrameError> {
        self.buf.clear();
        self.buf.resize(n, 0);
        let offset = self.offset;
        self.input.read_exact(&mut self.buf).map_err(|source| {
            if source.kind() == std::io::ErrorKind::UnexpectedEof {
                FrameError::Truncated { offset, part }
            } else {
                FrameError::Io { offset, source }
            }
        })
    }

    /// The next frame's message, `None` at a clean end of stream.
    pub fn next_frame(&mut self) -> Result<Option<ChunkedReadResponse>, FrameError> {
        let offset = self.offset;
        let mut len = 0u64;
        let mut header = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(b) = self.read_byte()? else {
                if shift == 0 {
                    return Ok(None);
                }
                return Err(FrameError::Truncated {
                    offset,
                    part: "length",
                });
            };
            header += 1;
            if shift == 63 && b > 1 {
                return Err(FrameError::BadLength { offset });
            }
            len |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            if shift == 63 {
                return Err(FrameError::BadLength { offset });
            }
        }
        if len > self.limit as u64 {
            return Err(FrameError::TooLarge {
                offset,
                len,
                limit: self.limit,
            });
        }
        self.read_exact(4, "checksum")?;
        let want = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        self.read_exact(len as usize, "message")?;
        let got = crc32c(&self.buf);
        if got != want {
            return Err(FrameError::Checksum { offset, want, got });
        }
        let msg = ChunkedReadResponse::decode(self.buf.as_slice())
            .map_err(|source| FrameError::Protobuf { offset, source })?;
        self.offset += header + 4 + len;
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Chunk, ChunkedSeries, Label};
    use proptest::prelude::*;

    fn frame(i: i64, data: Vec<u8>) -> ChunkedReadResponse {
        ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: format!("m{i}"),
                }],
                chunks: vec![Chunk {
                    min_time_ms: i,
                    max_time_ms: i + 1,
                    r#type: 1,
                    data: data.into(),
                }],
            }],
            query_index: i,
        }
    }

    #[test]
    fn layout_is_uvarint_be_crc_message() {
        let msg = frame(1, vec![0, 1, 2]);
        let mut w = ChunkedWriter::new(Vec::new());
        w.write(&msg).unwrap();
        let out = w.into_inner();
        let body = msg.encode_to_vec();
        assert_eq!(out[0] as usize, body.len());
        assert_eq!(&out[1..5], crc32c(&body).to_be_bytes());
        assert_eq!(&out[5..], body);
    }

    #[test]
    fn damage_is_reported_with_its_offset() {
        let mut w = ChunkedWriter::new(Vec::new());
        w.write(&frame(0, vec![1; 10])).unwrap();
        let first = w.bytes_written();
        w.write(&frame(1, vec![2; 10])).unwrap();
        let mut out = w.into_inner();
        let last = out.len() - 1;
        out[last] ^= 0xff;
        let mut r = ChunkedReader::new(out.as_slice(), 1 << 20);
        assert_eq!(r.next_frame().unwrap(), Some(frame(0, vec![1; 10])));
        match r.next_frame() {
            Err(FrameError::Checksum { offset, .. }) => assert_eq!(offset, first),
            other => panic!("{other:?}"),
        }
        out.truncate(last);
        let mut r = ChunkedReader::new(out.as_slice(), 1 << 20);
        r.next_frame().unwrap();
        assert!(matches!(
            r.next_frame(),
            Err(FrameError::Truncated {
                part: "message",
                ..
            })
        ));
        let big = [0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(
            ChunkedReader::new(&big[..], 1 << 20).next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            ChunkedReader::new(&[0xffu8; 11][..], 1 << 20).next_frame(),
            Err(FrameError::BadLength { .. })
        ));
    }

    proptest! {
        #[test]
        fn frames_round_trip(datas in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6)) {
            let frames: Vec<_> = datas.into_iter().enumerate().map(|(i, d)| frame(i as i64, d)).collect();
            let mut w = ChunkedWriter::new(Vec::new());
            for f in &frames { w.write(f).unwrap(); }
            let out = w.into_inner();
            let mut r = ChunkedReader::new(out.as_slice(), 1 << 20);
            let mut back = Vec::new();
            while let Some(f) = r.next_frame().unwrap() { back.push(f); }
            prop_assert_eq!(back, frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = ChunkedReader::new(data.as_slice(), 1 << 16);
            while let Ok(Some(_)) = r.next_frame() {}
        }
    }
}
