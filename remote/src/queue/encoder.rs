//! Request bodies for the queue from the crate's own request builders.

use super::{Encoder, Protocol, QueuedSample};
use crate::send::{RequestBuilder, WriteRequestBuilder};

/// Encodes a batch with [`WriteRequestBuilder`] (1.0) or
/// [`RequestBuilder`] (2.0, interned symbols): one series entry per series
/// in the batch, its samples in queue order.
#[derive(Debug, Default)]
pub struct ProtoEncoder {
    v1: WriteRequestBuilder,
    v2: RequestBuilder,
    order: Vec<usize>,
    run: Vec<(i64, f64)>,
    run_v2: Vec<(i64, f64, i64)>,
}

impl Encoder for ProtoEncoder {
    fn encode(&mut self, protocol: Protocol, batch: &[QueuedSample], out: &mut Vec<u8>) {
        // Group by series, keeping each series' samples in order (the
        // sort is stable).
        self.order.clear();
        self.order.extend(0..batch.len());
        self.order.sort_by_key(|&i| batch[i].series);
        let mut i = 0;
        while i < self.order.len() {
            let first = &batch[self.order[i]];
            let mut j = i;
            self.run.clear();
            self.run_v2.clear();
            while j < self.order.len() && batch[self.order[j]].series == first.series {
                let s = &batch[self.order[j]];
                self.run.push((s.t, s.v));
                self.run_v2.push((s.t, s.v, 0));
                j += 1;
            }
            match protocol {
                Protocol::V1 => {
                    self.v1.add_samples(&first.labels, &self.run);
                }
                Protocol::V2 => {
                    self.v2.add_samples(&first.labels, &self.run_v2, None);
                }
            }
            i = j;
        }
        *out = match protocol {
            Protocol::V1 => self.v1.encode(),
            Protocol::V2 => self.v2.encode(),
        };
    }
}
