//! Every WAL record decoder over arbitrary bytes. Nothing may panic, and a
//! record that decodes re-encodes to bytes that decode to the same items.
#![no_main]

use aion::wal::record::{self, Record, RecordDecoder};
use libfuzzer_sys::fuzz_target;

fn reencode(rec: &Record<'_>) -> Option<Vec<u8>> {
    let mut b = Vec::new();
    match rec {
        Record::Series(s) => record::encode_series(s, &mut b),
        Record::Samples(s) => record::encode_samples(s, &mut b),
        Record::Tombstones(t) => record::encode_tombstones(t, &mut b),
        Record::Exemplars(e) => record::encode_exemplars(e, &mut b),
        Record::MmapMarkers(m) => record::encode_mmap_markers(m, &mut b),
        Record::Metadata(m) => record::encode_metadata(m, &mut b),
        Record::HistogramSamples(h) => record::encode_histogram_samples(h, &mut b),
        Record::FloatHistogramSamples(h) => record::encode_float_histogram_samples(h, &mut b),
        Record::Unknown(_) => return None,
    }
    Some(b)
}

fuzz_target!(|data: &[u8]| {
    let _ = record::decode_series(data, &mut Vec::new());
    let _ = record::decode_samples(data, &mut Vec::new());
    // The filtering decoder (replay's) agrees with decoding then filtering.
    let (mut all, mut even) = (Vec::new(), Vec::new());
    let whole = record::decode_samples(data, &mut all);
    let filtered = record::decode_samples_where(data, &mut even, |s| s.t % 2 == 0);
    assert_eq!(whole.is_ok(), filtered.is_ok(), "same verdict");
    if let Ok(dropped) = filtered {
        let want: Vec<_> = all.iter().copied().filter(|s| s.t % 2 == 0).collect();
        assert_eq!((even.len(), dropped as usize), (want.len(), all.len() - want.len()));
    }
    let _ = record::decode_tombstones(data, &mut Vec::new());
    let _ = record::decode_exemplars(data, &mut Vec::new());
    let _ = record::decode_mmap_markers(data, &mut Vec::new());
    let _ = record::decode_metadata(data, &mut Vec::new());
    let _ = record::decode_histogram_samples(data, &mut Vec::new());
    let _ = record::decode_float_histogram_samples(data, &mut Vec::new());

    let mut first = RecordDecoder::default();
    let Ok(decoded) = first.decode(data) else { return };
    let Some(bytes) = reencode(&decoded) else { return };
    let mut second = RecordDecoder::default();
    let again = second.decode(&bytes).expect("re-encoded record decodes");
    assert_eq!(reencode(&again).as_deref(), Some(&bytes[..]), "stable re-encoding");
});
