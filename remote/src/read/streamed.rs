//! The STREAMED_XOR_CHUNKS answer: series after series, each in one or
//! more frames of whole stored chunks, written as they are read, so the
//! server holds one frame at a time, never the whole answer.

use std::io::Write;

use aion_model::Labels;
use aion_storage::ChunkQueryable;
use bytes::Bytes;
use prost::Message;

use super::{hints_of, merge_labels, to_matchers, ChunkedWriter, ReadError};
use crate::convert::labels_to_proto;
use crate::proto::{Chunk, ChunkedReadResponse, ChunkedSeries, ReadRequest};

/// What a streamed answer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// Frames written.
    pub frames: u64,
    /// Series answered.
    pub series: u64,
    /// Chunks sent.
    pub chunks: u64,
    /// Bytes written, frame headers included.
    pub bytes: u64,
}

pub(super) fn stream<W: Write>(
    store: &dyn ChunkQueryable,
    req: &ReadRequest,
    external: &Labels,
    max_bytes_in_frame: usize,
    out: W,
) -> Result<StreamStats, ReadError> {
    let mut w = ChunkedWriter::new(out);
    let mut stats = StreamStats::default();
    // One frame message, reused: its series' labels are set once per
    // series, its chunk vector refilled per frame.
    let mut frame = ChunkedReadResponse {
        chunked_series: vec![ChunkedSeries::default()],
        query_index: 0,
    };
    let max = max_bytes_in_frame as i64;
    for (query, q) in req.queries.iter().enumerate() {
        let storage = |source| ReadError::Storage { query, source };
        let matchers = to_matchers(query, &q.matchers, external)?;
        let querier = store
            .chunk_querier(q.start_timestamp_ms, q.end_timestamp_ms)
            .map_err(storage)?;
        let hints = hints_of(q);
        frame.query_index = query as i64;
        // Sorted: the spec promises series in block order.
        let mut set = querier.select(true, Some(&hints), &matchers);
        while let Some(series) = set.next() {
            let mut series = series.map_err(storage)?;
            let labels = labels_to_proto(&merge_labels(&series.labels, external));
            let labels_size: i64 = labels.iter().map(|l| l.encoded_len() as i64).sum();
            frame.chunked_series[0].labels = labels;
            frame.chunked_series[0].chunks.clear();
            let mut left = max - labels_size;
            let mut sent_any = false;
            while let Some(chunk) = series.chunks.next() {
                let c = chunk.map_err(storage)?;
                let pc = Chunk {
                    min_time_ms: c.min_time,
                    max_time_ms: c.max_time,
                    r#type: i32::from(u8::from(c.encoding)),
                    data: Bytes::copy_from_slice(c.data),
                };
                let chunks = &mut frame.chunked_series[0].chunks;
                if !chunks.is_empty() && left <= 0 {
                    stats.bytes += w.write(&frame)? as u64;
                    stats.frames += 1;
                    frame.chunked_series[0].chunks.clear();
                    left = max - labels_size;
                }
                left -= pc.encoded_len() as i64;
                stats.chunks += 1;
                frame.chunked_series[0].chunks.push(pc);
                sent_any = true;
            }
            if !frame.chunked_series[0].chunks.is_empty() {
                stats.bytes += w.write(&frame)? as u64;
                stats.frames += 1;
            }
            if sent_any {
                stats.series += 1;
            }
        }
    }
    Ok(stats)
}
