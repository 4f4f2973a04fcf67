//! Decoding XOR chunks.

use std::error::Error as StdError;

use super::{sign_extend, HEADER_LEN};
use crate::bstream::{BitReader, REFILL_BITS};
use crate::{Error, SampleIterator, ValueType};

/// A cursor over the samples of an XOR chunk, reading borrowed bytes.
///
/// It works on any byte slice, including one that is not a valid chunk:
/// malformed or truncated data ends iteration with [`ValueType::None`] and
/// an [`Error`] from [`XorIterator::error`] / [`SampleIterator::err`] that
/// names the sample and bit offset. Each step does a bounded amount of work
/// and allocates nothing.
///
/// It decodes up to 32 samples ahead into an inline buffer (the iterator
/// is about 600 bytes, none of them on the heap), or, for
/// [`SampleIterator::read_floats`], straight into the caller's arrays;
/// samples decoded before a corrupt spot are still served, and the error
/// is reported after them.
///
/// ```
/// use aion_chunkenc::{SampleIterator, ValueType, XorIterator};
///
/// // A chunk claiming one sample, cut off after 3 bytes.
/// let mut it = XorIterator::new(&[0x00, 0x01, 0xd0]);
/// assert_eq!(it.next(), ValueType::None);
/// let err = it.err().unwrap().to_string();
/// assert!(err.contains("truncated"), "{err}");
/// ```
#[derive(Debug, Clone)]
pub struct XorIterator<'a> {
    dec: Decoder<'a>,
    /// Samples decoded ahead, served by `next`; `pos` is the current one.
    ts: [i64; BATCH],
    vs: [f64; BATCH],
    len: u8,
    pos: u8,
    /// `None` has been returned; every later call returns `None` too.
    exhausted: bool,
    /// The error that ended decoding; reported once the samples decoded
    /// before it have been served and `next` has returned `None`.
    err: Option<Error>,
}

/// Samples decoded per batch.
///
/// The decoder runs in batches with its state in local variables, so it
/// stays in registers however the iterator itself is stored (in a struct,
/// boxed as `dyn SampleIterator`); `next` then only steps through the
/// batch. That makes the cost per sample independent of how well a
/// caller's loop is optimised.
const BATCH: usize = 16;

/// The decoding state of an XOR chunk: where the bit stream stands and
/// what the last sample and value window were.
#[derive(Debug, Clone, Copy)]
struct Decoder<'a> {
    reader: BitReader<'a>,
    /// The header's sample count.
    declared: u16,
    num_read: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    /// The value window: trailing zeros in the low 8 bits, significant
    /// bits above (one register instead of two in the hot loop).
    window: u32,
}

/// What an appender needs to continue the chunk this iterator has read to
/// its end.
pub(crate) struct EndState {
    pub(crate) num_samples: u16,
    pub(crate) t: i64,
    pub(crate) v: u64,
    pub(crate) t_delta: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
    pub(crate) bit_len: u64,
}

impl<'a> XorIterator<'a> {
    /// An iterator over the chunk data `bytes` (sample-count header first).
    pub fn new(bytes: &'a [u8]) -> Self {
        let (declared, err) = match bytes {
            [hi, lo, ..] => (u16::from_be_bytes([*hi, *lo]), None),
            _ => (0, Some(Error::MissingHeader { len: bytes.len() })),
        };
        let mut ts = [0; BATCH];
        let mut vs = [0.0; BATCH];
        // What `at` reports before the first `next`.
        ts[0] = i64::MIN;
        vs[0] = f64::NAN;
        XorIterator {
            dec: Decoder {
                reader: BitReader::new(bytes, (HEADER_LEN * 8) as u64),
                declared,
                num_read: 0,
                t: 0,
                v: 0,
                t_delta: 0,
                // Prometheus's reader starts at leading 0, trailing 0.
                window: 64 << 8,
            },
            ts,
            vs,
            len: 0,
            pos: 0,
            exhausted: false,
            err,
        }
    }

    /// Restarts on other chunk data, keeping nothing from before.
    pub fn reset(&mut self, bytes: &'a [u8]) {
        *self = XorIterator::new(bytes);
    }

    /// The sample count from the chunk header.
    pub fn num_samples(&self) -> usize {
        usize::from(self.dec.declared)
    }

    /// Why iteration stopped early, as the concrete error type (once
    /// `next` has returned `None`).
    pub fn error(&self) -> Option<&Error> {
        self.err.as_ref().filter(|_| self.exhausted)
    }

    /// The decoder state after the last sample, or the error that stopped
    /// decoding.
    pub(crate) fn end_state(mut self) -> Result<EndState, Error> {
        while self.next() == ValueType::Float {}
        if let Some(err) = self.err {
            return Err(err);
        }
        let d = self.dec;
        Ok(EndState {
            num_samples: d.num_read,
            t: d.t,
            v: d.v,
            t_delta: d.t_delta,
            leading: (64 - (d.window >> 8) - (d.window & 0xff)) as u8,
            trailing: (d.window & 0xff) as u8,
            bit_len: d.reader.position(),
        })
    }

    /// Decodes the next batch; `None` when there is nothing more.
    #[inline(never)]
    fn next_batch(&mut self) -> ValueType {
        if self.exhausted || self.err.is_some() {
            // An error ends decoding; the samples before it were served.
            self.exhausted = true;
            return ValueType::None;
        }
        let (n, err) = self.dec.decode::<true>(&mut self.ts, &mut self.vs);
        self.err = err;
        if n == 0 {
            // `ts[pos]`/`vs[pos]` keep the last sample served for `at`.
            self.exhausted = true;
            return ValueType::None;
        }
        self.len = n as u8;
        self.pos = 0;
        ValueType::Float
    }

    /// `read_floats` once the decoded batch is used up: decodes straight
    /// into `ts`/`vs` (which have room) in runs of [`BATCH`]; the samples
    /// of the last run past `maxt` become the iterator's batch.
    fn read_floats_direct(
        &mut self,
        ts: &mut [i64],
        vs: &mut [f64],
        maxt: i64,
        mut n: usize,
    ) -> (usize, ValueType) {
        let room = ts.len().min(vs.len());
        while n < room {
            if self.err.is_some() {
                self.exhausted = true;
                return (n, ValueType::None);
            }
            let end = room.min(n + BATCH);
            let (k, err) = self.dec.decode::<true>(&mut ts[n..end], &mut vs[n..end]);
            self.err = err;
            if k == 0 {
                self.exhausted = true;
                return (n, ValueType::None);
            }
            let run = &ts[n..n + k];
            if run[k - 1] > maxt {
                // Keep what lies past the bound for later calls.
                let keep = run.partition_point(|&t| t <= maxt);
                let rest = k - keep;
                self.ts[..rest].copy_from_slice(&ts[n + keep..n + k]);
                self.vs[..rest].copy_from_slice(&vs[n + keep..n + k]);
                self.len = rest as u8;
                self.pos = 0;
                return (n + keep, ValueType::Float);
            }
            n += k;
        }
        // Full: stand on the next sample, as `next` would.
        self.pos = self.len.saturating_sub(1);
        (n, self.next_batch())
    }
}

/// Every sample of `bytes` and the error that ended decoding, decoded in
/// batches of [`BATCH`] with (`fast`) or without the common-case loop.
#[cfg(test)]
pub(crate) fn decode_all(bytes: &[u8], fast: bool) -> (Vec<(i64, u64)>, Option<Error>) {
    let mut it = XorIterator::new(bytes);
    let mut out = Vec::new();
    if let Some(err) = it.err {
        return (out, Some(err));
    }
    let (mut ts, mut vs) = ([0i64; BATCH], [0f64; BATCH]);
    loop {
        let (n, err) = if fast {
            it.dec.decode::<true>(&mut ts, &mut vs)
        } else {
            it.dec.decode::<false>(&mut ts, &mut vs)
        };
        out.extend(ts[..n].iter().zip(&vs[..n]).map(|(t, v)| (*t, v.to_bits())));
        if err.is_some() || n == 0 {
            return (out, err);
        }
    }
}

impl<'a> Decoder<'a> {
    /// Decodes the next samples into `ts`/`vs`: as many as both hold and
    /// the header has left. Returns how many, and the error that stopped
    /// decoding before that, if one did (the samples before it are good).
    ///
    /// The state lives in a local copy for the whole loop, so it stays in
    /// registers whoever owns the decoder.
    ///
    /// `FAST` false leaves every sample to the full decoder: the reference
    /// the common-case loop is tested against.
    #[inline(always)]
    fn decode<const FAST: bool>(
        &mut self,
        ts: &mut [i64],
        vs: &mut [f64],
    ) -> (usize, Option<Error>) {
        let left = usize::from(self.declared.saturating_sub(self.num_read));
        let want = ts.len().min(vs.len()).min(left);
        let (ts, vs) = (&mut ts[..want], &mut vs[..want]);
        let mut n = 0;
        // The first two samples have their own formats; after them the
        // loop runs the hot path only.
        while n < want && self.num_read < 2 {
            if let Err(err) = self.read_head_sample() {
                return (n, Some(err));
            }
            ts[n] = self.t;
            vs[n] = f64::from_bits(self.v);
            n += 1;
        }
        let first_later = n;
        let mut dec = *self;
        let mut failed = None;
        while n < want {
            if FAST {
                n = dec.decode_common(ts, vs, n);
                if n == want {
                    break;
                }
            }
            // A sample the common-case loop leaves to the full decoder.
            let before = dec.t;
            match dec.read_later(want - n) {
                Ok(1) => {
                    ts[n] = dec.t;
                    vs[n] = f64::from_bits(dec.v);
                    n += 1;
                }
                Ok(count) => {
                    // A run that repeats the interval and the value.
                    let v = f64::from_bits(dec.v);
                    let mut t = before;
                    for k in n..n + count {
                        t = t.wrapping_add(dec.t_delta as i64);
                        ts[k] = t;
                        vs[k] = v;
                    }
                    n += count;
                }
                Err(mut err) => {
                    // The hot path does not count samples; the loop does.
                    set_sample(&mut err, dec.num_read + (n - first_later) as u16);
                    failed = Some(err);
                    break;
                }
            }
        }
        dec.num_read += (n - first_later) as u16;
        *self = dec;
        (n, failed)
    }

    /// Decodes samples 2 and later into `ts`/`vs` from index `n` while
    /// they take the common encodings, with the bit reader in registers
    /// and refilled inline: a timestamp delta-of-delta of 0 or in the
    /// 14-bit bucket, a value unchanged or changed within at most 56
    /// significant bits, at least 8 bytes of data left. Returns the index
    /// of the first sample not decoded (`ts.len()` when done); that sample
    /// (a run of repeats, a wider bucket, the end of the data, an error)
    /// is left to [`Decoder::read_later`], with the state as before it.
    ///
    /// Every field is read from bits inside the data, so nothing here can
    /// overrun; the checks the full decoder makes per sample are not
    /// needed.
    #[inline(always)]
    fn decode_common(&mut self, ts: &mut [i64], vs: &mut [f64], mut n: usize) -> usize {
        let (data, mut buf, mut avail, mut next) = self.reader.into_parts();
        let (mut t, mut v, mut t_delta, mut window) = (self.t, self.v, self.t_delta, self.window);
        // While `next + 8 <= data.len()` a refill loads eight data bytes.
        let last_load = data.len().saturating_sub(8);
        // Tops the buffer up to at least 56 bits from `bytes`, the eight
        // at `next`, as `BitReader::refill`.
        let refill = |buf: &mut u64, avail: &mut u32, next: &mut usize, bytes: &[u8]| {
            let word = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
            *buf |= word >> *avail;
            let bytes = (63 - *avail) >> 3;
            *next += bytes as usize;
            *avail += bytes * 8;
        };
        while n < ts.len() {
            // The loop's bound and the load's bounds check in one.
            let Some(bytes) = data.get(next..next + 8) else {
                break;
            };
            refill(&mut buf, &mut avail, &mut next, bytes);
            // The timestamp: `0` (delta repeats) or `10` + 14 bits.
            let (dod, dod_bits) = if (buf as i64) >= 0 {
                if ((buf << 1) as i64) >= 0 {
                    // `0` `0`: a run of repeats, counted by the full
                    // decoder.
                    break;
                }
                (0, 1)
            } else if ((buf << 1) as i64) >= 0 {
                (sign_extend((buf << 2) >> 50, 14), 16)
            } else {
                break;
            };
            // The value: `0`, `10` + window bits, `11` + 5 + 6 + bits
            // (at least 40 bits are buffered after the timestamp).
            let w = buf << dod_bits;
            let changed = w >> 63 != 0;
            let fresh = w >> 62 == 3;
            let leading = ((w >> 57) & 0x1f) as u32;
            let significant = ((((w >> 51) as u32) + 63) & 0x3f) + 1;
            if fresh && leading + significant > 64 {
                // An invalid window: the full decoder reports it.
                break;
            }
            let fresh_window = significant << 8 | 64u32.wrapping_sub(leading + significant);
            let win = if fresh { fresh_window } else { window };
            let header = if fresh { 13 } else { 1 + u32::from(changed) };
            let used = dod_bits + header;
            let sig = win >> 8;
            // Decided before anything is consumed, so that leaving the
            // sample to the full decoder needs no saved state.
            let short = sig > avail - used;
            if changed && short && (sig > REFILL_BITS || next > last_load) {
                break;
            }
            buf <<= used;
            avail -= used;
            let mut delta = 0;
            if changed {
                if short {
                    let at = next;
                    refill(&mut buf, &mut avail, &mut next, &data[at..at + 8]);
                }
                // 1 <= sig <= avail <= 63.
                delta = (buf >> (64 - sig)) << (win & 0xff);
                buf <<= sig;
                avail -= sig;
            }
            t_delta = t_delta.wrapping_add(dod as u64);
            t = t.wrapping_add(t_delta as i64);
            v ^= delta;
            window = win;
            ts[n] = t;
            vs[n] = f64::from_bits(v);
            n += 1;
        }
        self.reader = BitReader::from_parts(data, buf, avail, next);
        (self.t, self.v, self.t_delta, self.window) = (t, v, t_delta, window);
        n
    }

    /// Decodes sample 0 or 1 (there must be one by the header) into `t`
    /// and `v`. On error the state is left as it was, as by all readers.
    ///
    /// Like every `Decoder` method it is inlined into `next_batch` (its
    /// only caller), so no call takes the decoder by reference and its
    /// state stays in registers for the whole batch.
    #[inline(always)]
    fn read_head_sample(&mut self) -> Result<(), Error> {
        match self.num_read {
            0 => self.read_first(),
            _ => self.read_second(),
        }
    }

    #[inline(always)]
    fn truncated(&self) -> Error {
        Error::Truncated {
            sample: self.num_read,
            num_samples: self.declared,
            bit_offset: self.reader.position(),
            len: (self.reader.len_bits() / 8) as usize,
        }
    }

    /// Sample 0: a varint timestamp and the raw value bits.
    #[inline(always)]
    fn read_first(&mut self) -> Result<(), Error> {
        let mut r = self.reader;
        let Some(zigzag) = read_uvarint(&mut r) else {
            return Err(Error::VarintOverflow {
                sample: 0,
                byte_offset: (self.reader.position() / 8) as usize,
            });
        };
        let v = r.read_bits(64);
        if r.overran() {
            return Err(self.truncated());
        }
        self.reader = r;
        self.t = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        self.v = v;
        self.num_read = 1;
        Ok(())
    }

    /// Sample 1: a uvarint timestamp delta and an XOR-compressed value.
    #[inline(always)]
    fn read_second(&mut self) -> Result<(), Error> {
        let mut r = self.reader;
        let Some(t_delta) = read_uvarint(&mut r) else {
            return Err(Error::VarintOverflow {
                sample: 1,
                byte_offset: (self.reader.position() / 8) as usize,
            });
        };
        r.refill();
        self.finish_sample(r, t_delta)?;
        self.num_read = 2;
        Ok(())
    }

    /// Samples 2 and later: a delta-of-delta timestamp and an XOR value.
    /// Returns how many samples were read: one, or (at most `max`) a run
    /// of samples that each repeat the previous interval and value, which
    /// take two zero bits apiece and are counted off the buffer at once.
    /// It leaves `num_read` alone (the batch loop counts), and errors
    /// carry sample index 0 until the caller sets it.
    ///
    /// The hot path. Fields are cut from the reader's 64-bit buffer by
    /// shifts; the buffer is topped up once per sample at most, plus once
    /// more for a long value payload.
    #[inline(always)]
    fn read_later(&mut self, max: usize) -> Result<usize, Error> {
        let mut r = self.reader;
        if r.available() < REFILL_BITS {
            r.refill();
        }
        let w = r.peek();
        // Regular scrapes give dod 0 (`0`) or a few ms of jitter (`10` +
        // 14 bits), tested first; the rarer wider buckets come after.
        let dod = if (w as i64) >= 0 {
            if ((w << 1) as i64) >= 0 {
                // `0` `0`: interval and value repeat. So may the samples
                // after it; stop short of the end of the data, so that an
                // overrun is still found by the full decoder.
                let buffered = w.leading_zeros().min(r.available()) / 2;
                let in_data = r.len_bits().saturating_sub(r.position()) / 2;
                let run = (buffered as usize).min(max).min(in_data as usize);
                if run > 0 {
                    // run ≤ 31, so 2·run < 64 as `consume` requires.
                    r.consume(2 * run as u32);
                    self.reader = r;
                    self.t = self
                        .t
                        .wrapping_add((self.t_delta as i64).wrapping_mul(run as i64));
                    return Ok(run);
                }
            }
            r.consume(1);
            0
        } else if ((w << 1) as i64) >= 0 {
            r.consume(16);
            sign_extend((w << 2) >> 50, 14)
        } else {
            read_wide_dod(&mut r, w)
        };
        let t_delta = self.t_delta.wrapping_add(dod as u64);
        self.finish_sample(r, t_delta)?;
        Ok(1)
    }

    /// Decodes the XOR value at `r` (which holds at least 13 buffered
    /// bits), then commits the sample if the data held all of it.
    ///
    /// Whether a value reuses its window (`10`) or brings a new one (`11`)
    /// is data-dependent and would mispredict as a branch; both cases are
    /// computed and the right one selected, so the only branches left
    /// are the predictable ones (value changed at all, refill, errors).
    #[inline(always)]
    fn finish_sample(&mut self, mut r: BitReader<'a>, t_delta: u64) -> Result<(), Error> {
        let w = r.peek();
        let changed = w >> 63 != 0;
        // `11`: 5 bits of leading zeros, 6 bits of significant-bit count
        // (0 meaning 64) follow.
        let fresh = w >> 62 == 3;
        let leading = ((w >> 57) & 0x1f) as u32;
        // 1..=63 stay, 0 becomes 64, without a branch.
        let significant = ((((w >> 51) as u32) + 63) & 0x3f) + 1;
        if fresh && leading + significant > 64 {
            return Err(Error::BadValueWindow {
                sample: self.num_read,
                bit_offset: self.reader.position(),
                leading: leading as u8,
                significant: significant as u8,
            });
        }
        // The window: trailing zeros in the low 8 bits, significant bits
        // above. Before any window was read the state is 0/0, a 64-bit
        // window, as in Prometheus's reader (a resumed appender writes
        // that).
        let fresh_window = significant << 8 | 64u32.wrapping_sub(leading + significant);
        let window = if fresh { fresh_window } else { self.window };
        // `0`, `10` or `11` and the window fields.
        r.consume(if fresh { 13 } else { 1 + u32::from(changed) });
        let delta = if changed {
            r.read_bits(window >> 8) << (window & 0xff)
        } else {
            0
        };
        if r.overran() {
            return Err(self.truncated());
        }
        self.reader = r;
        self.t_delta = t_delta;
        self.t = self.t.wrapping_add(t_delta as i64);
        self.v ^= delta;
        self.window = window;
        Ok(())
    }
}

/// Sets the sample index an error names.
fn set_sample(err: &mut Error, index: u16) {
    match err {
        Error::Truncated { sample, .. }
        | Error::VarintOverflow { sample, .. }
        | Error::BadValueWindow { sample, .. } => *sample = index,
        _ => {}
    }
}

/// The 17-bit, 20-bit and whole-int64 dod buckets (`110`, `1110`, `1111`),
/// read from `w`, the buffer of `r` (holding at least 56 bits); leaves at
/// least 13 bits buffered for the value's control bits.
#[inline(always)]
fn read_wide_dod(r: &mut BitReader<'_>, w: u64) -> i64 {
    match (!w).leading_zeros() {
        2 => {
            r.consume(20);
            sign_extend((w << 3) >> 47, 17)
        }
        3 => {
            r.consume(24);
            sign_extend((w << 4) >> 44, 20)
        }
        _ => {
            r.consume(4);
            let dod = r.read_bits(64) as i64;
            r.refill();
            dod
        }
    }
}

/// Reads an unsigned LEB128 varint as Go's `binary.ReadUvarint` accepts it;
/// `None` if it overflows 64 bits. Bits past the end read as zero, which
/// ends the varint; the caller reports that as truncation.
#[inline(always)]
fn read_uvarint(r: &mut BitReader<'_>) -> Option<u64> {
    let mut x = 0u64;
    let mut shift = 0;
    for i in 0..10 {
        let byte = r.read_bits(8) as u8;
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some(x | u64::from(byte) << shift);
        }
        x |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    None
}

impl SampleIterator for XorIterator<'_> {
    #[inline]
    fn next(&mut self) -> ValueType {
        if self.pos + 1 < self.len {
            self.pos += 1;
            return ValueType::Float;
        }
        self.next_batch()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.exhausted {
            return ValueType::None;
        }
        if self.len > 0 && self.at_t() >= t {
            return ValueType::Float;
        }
        loop {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
            if self.at_t() >= t {
                return ValueType::Float;
            }
        }
    }

    /// Copies what is left of the decoded batch (a `partition_point` on
    /// its timestamps and two slice copies), then decodes straight into
    /// the caller's arrays: no call and no copy per sample.
    fn read_floats(&mut self, ts: &mut [i64], vs: &mut [f64], maxt: i64) -> (usize, ValueType) {
        let room = ts.len().min(vs.len());
        if self.exhausted || self.len == 0 {
            // Not positioned on a sample (exhausted, or before the first
            // `next`).
            return (0, ValueType::None);
        }
        let (pos, len) = (usize::from(self.pos), usize::from(self.len));
        let take = (len - pos).min(room);
        let batch = &self.ts[pos..pos + take];
        // Usually the whole batch is in range: one comparison.
        let k = if batch.last().is_some_and(|&t| t <= maxt) {
            take
        } else {
            batch.partition_point(|&t| t <= maxt)
        };
        ts[..k].copy_from_slice(&batch[..k]);
        vs[..k].copy_from_slice(&self.vs[pos..pos + k]);
        if pos + k < len {
            // Stopped by `maxt` or a full buffer, inside the batch.
            self.pos = (pos + k) as u8;
            return (k, ValueType::Float);
        }
        if k == room {
            self.pos = (len - 1) as u8;
            return (k, self.next_batch());
        }
        self.read_floats_direct(ts, vs, maxt, k)
    }

    #[inline]
    fn at(&self) -> (i64, f64) {
        let i = usize::from(self.pos) % BATCH;
        (self.ts[i], self.vs[i])
    }

    #[inline]
    fn at_t(&self) -> i64 {
        self.ts[usize::from(self.pos) % BATCH]
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.error().map(|e| e as _)
    }
}
