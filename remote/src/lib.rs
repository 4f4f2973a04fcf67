//! Prometheus remote write (1.0 and 2.0) and remote read for Aion: the
//! codecs, a receiver that appends into any
//! [`Appendable`](aion_storage::Appendable), a read server that answers
//! from any [`Queryable`](aion_storage::Queryable) /
//! [`ChunkQueryable`](aion_storage::ChunkQueryable), and the sender-side
//! encoders.
//!
//! Aion stays network-free: this crate turns request bodies into appends
//! and queries into answer bytes; the host's HTTP layer moves the bytes
//! and maps [`write::WriteResponse`] / [`read::ReadError`] to statuses.
//!
//! | module | holds |
//! |---|---|
//! | [`proto`] | the protobuf messages, field for field as upstream's `.proto` files |
//! | [`snappy`] | snappy block format, bounded decoding |
//! | [`codec`] | whole bodies: snappy + protobuf, both ways |
//! | [`content_type`] | header negotiation and the content-type constants |
//! | [`convert`] | wire ⇄ model: labels (validated), native histograms |
//! | [`write`](mod@write) | the receiver |
//! | [`read`] | the read server: SAMPLES and STREAMED_XOR_CHUNKS, frames |
//! | [`send`] | building RW 1.0 and 2.0 requests |
//! | [`queue`] | the sharded send queue: batching, retries, resharding, stats |
//!
//! # Why prost's derive and not a hand-written decoder
//!
//! The messages are `prost` derives written by hand from upstream's
//! `.proto` files: no `protoc`, no build script, and a decoder that is
//! the field's standard, fuzzed by its own project and ours. A
//! hand-written zero-copy decoder (borrowing label strings from the
//! request buffer as VictoriaMetrics does) could save the per-label
//! `String` allocations, but the receiver builds an owned
//! [`Labels`](aion_model::Labels) per series anyway, so the saving is a
//! second copy of each label, not the first; until a measurement shows
//! decode dominating receive time, the standard decoder wins on
//! correctness. Chunk data is decoded as [`bytes::Bytes`].
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub mod codec;
pub mod content_type;
pub mod convert;
mod error;
pub mod proto;
pub mod queue;
pub mod read;
pub mod send;
pub mod snappy;
pub mod write;

pub use error::DecodeError;
