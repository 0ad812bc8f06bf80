//! Histograms for the stress statistics: [`LogHistogram`], a streaming log-linear histogram
//! whose memory does not grow with the number of values, and [`Histogram`], equal-width bins
//! for the plot.
//!
//! A [`LogHistogram`] keeps, per bucket, the count and the smallest and largest value seen in
//! it. Values of magnitude below 2,048 get a bucket each; above, every power-of-two range is cut
//! into 1,024 buckets, so a bucket spans at most 1/1,024 of its values ([`RELATIVE_ERROR`]). Its
//! nearest-rank percentile ([`LogHistogram::percentile`]) is the largest value seen in the
//! bucket that holds the exact nearest-rank percentile: always a value that was recorded, never
//! below the exact percentile and above it by at most [`RELATIVE_ERROR`] of its magnitude; exact
//! when the bucket holds one distinct value (e.g. a stream paced exactly).
//! Memory: buckets are allocated in blocks of 1,024 (24 KiB, one power of two's worth), each
//! when a value first reaches it; at most [`MAX_BUCKETS`] buckets per sign (56 blocks, 1.3 MiB),
//! whatever the count; in practice a handful of blocks per histogram.

/// Bits of precision: a bucket above the exact range spans `1 / 2^PRECISION_BITS` of its values.
pub const PRECISION_BITS: u32 = 10;
/// The largest relative distance between a bucket's values: `2^-10`, about 0.098 %.
pub const RELATIVE_ERROR: f64 = 1.0 / (1u64 << PRECISION_BITS) as f64;
/// Magnitudes below this (2,048) have a bucket each, so they are kept exactly.
const EXACT_BELOW: u64 = 1 << (PRECISION_BITS + 1);
/// Buckets per power of two above the exact range (1,024).
const PER_OCTAVE: u64 = 1 << PRECISION_BITS;
/// Buckets for magnitudes `0..=u64::MAX`: the most one sign of a histogram ever allocates.
pub const MAX_BUCKETS: usize = bucket_index(u64::MAX) + 1;
/// Buckets allocated together (1,024).
const BLOCK: usize = PER_OCTAVE as usize;

/// The bucket of magnitude `value`: `value` itself below [`EXACT_BELOW`], else the octave
/// (`shift`, from 1) and the top [`PRECISION_BITS`] + 1 bits of the value.
const fn bucket_index(value: u64) -> usize {
    if value < EXACT_BELOW {
        return value as usize;
    }
    let shift = (63 - value.leading_zeros()) - PRECISION_BITS;
    let top = value >> shift;
    (EXACT_BELOW + (shift as u64 - 1) * PER_OCTAVE + (top - PER_OCTAVE)) as usize
}

/// One bucket: how many values, and the smallest and largest of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    count: u64,
    min: i64,
    max: i64,
}

/// The buckets of one sign, by magnitude, in blocks of [`BLOCK`] allocated when first reached.
#[derive(Clone, Debug, Default)]
struct Buckets {
    blocks: Vec<Option<Box<[Bucket]>>>,
}

impl Buckets {
    /// The bucket at `index`, allocating its block if needed.
    fn at(&mut self, index: usize) -> &mut Bucket {
        let (block, offset) = (index / BLOCK, index % BLOCK);
        if self.blocks.len() <= block {
            self.blocks.resize_with(block + 1, || None);
        }
        let block = self.blocks[block].get_or_insert_with(|| vec![Bucket::default(); BLOCK].into());
        &mut block[offset]
    }

    /// Every bucket of the allocated blocks, in ascending magnitude.
    fn iter(&self) -> impl DoubleEndedIterator<Item = &Bucket> + Clone {
        self.blocks.iter().flatten().flat_map(|block| block.iter())
    }

    /// Heap bytes: the allocated blocks and the list of them.
    fn heap_bytes(&self) -> usize {
        let blocks = self.blocks.iter().flatten().count();
        blocks * BLOCK * std::mem::size_of::<Bucket>()
            + self.blocks.capacity() * std::mem::size_of::<Option<Box<[Bucket]>>>()
    }
}

/// A streaming histogram of `i64` values (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct LogHistogram {
    /// Buckets of negative values, by magnitude.
    negative: Buckets,
    /// Buckets of values from zero up.
    positive: Buckets,
    count: u64,
    sum: i128,
    min: i64,
    max: i64,
}

/// A bucket as [`LogHistogram::buckets`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketView {
    /// Values in the bucket.
    pub count: u64,
    /// The smallest of them.
    pub min: i64,
    /// The largest of them.
    pub max: i64,
}

impl LogHistogram {
    /// An empty histogram (allocates nothing until the first value).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `value` once. Allocates only when a value first reaches a block of buckets.
    pub fn record(&mut self, value: i64) {
        self.record_n(value, 1);
    }

    /// Records `value` `n` times.
    pub fn record_n(&mut self, value: i64, n: u64) {
        if n == 0 {
            return;
        }
        let side = if value < 0 {
            &mut self.negative
        } else {
            &mut self.positive
        };
        let bucket = side.at(bucket_index(value.unsigned_abs()));
        if bucket.count == 0 {
            (bucket.min, bucket.max) = (value, value);
        } else {
            bucket.min = bucket.min.min(value);
            bucket.max = bucket.max.max(value);
        }
        bucket.count += n;
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += n;
        self.sum += i128::from(value) * i128::from(n);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value recorded (exact).
    pub fn min(&self) -> Option<i64> {
        (self.count > 0).then_some(self.min)
    }

    /// The largest value recorded (exact).
    pub fn max(&self) -> Option<i64> {
        (self.count > 0).then_some(self.max)
    }

    /// The mean of the values recorded (exact sum, one division).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The non-empty buckets in ascending order of value.
    pub fn buckets(&self) -> impl Iterator<Item = BucketView> + Clone + '_ {
        self.negative
            .iter()
            .rev()
            .chain(self.positive.iter())
            .filter(|bucket| bucket.count > 0)
            .map(|bucket| BucketView {
                count: bucket.count,
                min: bucket.min,
                max: bucket.max,
            })
    }

    /// The nearest-rank `p`-th percentile (0 < p <= 100): the largest value in the bucket holding
    /// the value of rank `ceil(p / 100 x count)`; `None` if empty. See the module documentation
    /// for its bound.
    pub fn percentile(&self, p: f64) -> Option<i64> {
        let rank = nearest_rank(p, self.count)?;
        let mut seen = 0;
        self.buckets()
            .find(|bucket| {
                seen += bucket.count;
                seen >= rank
            })
            .map(|bucket| bucket.max)
    }

    /// How many values are below `threshold`: exact, except that the values of a bucket that
    /// holds values on both sides of it (they are within [`RELATIVE_ERROR`] of it) count as
    /// below when the middle of the bucket's values is.
    pub fn count_below(&self, threshold: i64) -> u64 {
        self.buckets()
            .filter(|bucket| {
                bucket.max < threshold
                    || (bucket.min < threshold
                        && midpoint(bucket.min, bucket.max) < threshold as f64)
            })
            .map(|bucket| bucket.count)
            .sum()
    }

    /// Bytes of heap the buckets take now (at most `2 x MAX_BUCKETS x 24` and the block lists).
    pub fn heap_bytes(&self) -> usize {
        self.negative.heap_bytes() + self.positive.heap_bytes()
    }
}

/// The middle of `low..=high`, without overflow.
pub fn midpoint(low: i64, high: i64) -> f64 {
    (low as f64 + high as f64) / 2.0
}

/// The 1-based nearest rank of the `p`-th percentile among `count` values: `ceil(p / 100 x count)`,
/// at least 1; `None` when there are none.
pub fn nearest_rank(p: f64, count: u64) -> Option<u64> {
    if count == 0 {
        return None;
    }
    let rank = (p / 100.0 * count as f64).ceil() as u64;
    Some(rank.clamp(1, count))
}

/// Counts of values in `bins` equal-width bins from the smallest to the largest, for the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub start: f64,
    /// Width of every bin (1 when all values are equal).
    pub bin_width: f64,
    /// Values per bin; the maximum falls in the last bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Bins `values` (at least one bin).
    pub fn new(values: &[f64], bins: usize) -> Self {
        Self::weighted(values.iter().map(|&value| (value, 1)), bins)
    }

    /// Bins the values of `histogram`, scaled by `scale` (e.g. ns to us), each bucket's count
    /// at the middle of its values: a bucket spans at most [`RELATIVE_ERROR`] of its values, so
    /// each value lands at most that far from its own bin.
    pub fn of(histogram: &LogHistogram, scale: f64, bins: usize) -> Self {
        Self::weighted(
            histogram
                .buckets()
                .map(|bucket| (midpoint(bucket.min, bucket.max) * scale, bucket.count)),
            bins,
        )
    }

    /// Bins `(value, count)` pairs.
    fn weighted(values: impl Iterator<Item = (f64, u64)> + Clone, bins: usize) -> Self {
        let bins = bins.max(1);
        let min = values.clone().map(|v| v.0).fold(f64::INFINITY, f64::min);
        let max = values
            .clone()
            .map(|v| v.0)
            .fold(f64::NEG_INFINITY, f64::max);
        if min > max {
            return Histogram {
                start: 0.0,
                bin_width: 1.0,
                counts: vec![0; bins],
            };
        }
        let (start, bin_width) = if max > min {
            (min, (max - min) / bins as f64)
        } else {
            (min - bins as f64 / 2.0, 1.0)
        };
        let mut counts = vec![0u64; bins];
        for (value, count) in values {
            let index = ((value - start) / bin_width) as usize;
            counts[index.min(bins - 1)] += count;
        }
        Histogram {
            start,
            bin_width,
            counts,
        }
    }

    /// Upper edge of the last bin.
    pub fn end(&self) -> f64 {
        self.start + self.bin_width * self.counts.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact nearest-rank percentile of `values`: the independent oracle.
    fn exact(values: &[i64], p: f64) -> i64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted[nearest_rank(p, sorted.len() as u64).unwrap() as usize - 1]
    }

    #[test]
    fn buckets_are_contiguous_and_tight() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(2047), 2047);
        assert_eq!(bucket_index(2048), 2048);
        assert_eq!(bucket_index(2049), 2048);
        assert_eq!(bucket_index(2050), 2049);
        assert_eq!(bucket_index(4095), 3071);
        assert_eq!(bucket_index(4096), 3072);
        assert_eq!(MAX_BUCKETS, 2048 + 53 * 1024);
        // Indices grow with the value, one bucket at a time.
        for shift in 0..64 {
            let low = 1u64 << shift;
            for value in [low, low + low / 2, low.wrapping_mul(2).wrapping_sub(2)] {
                let step = bucket_index(value + 1) - bucket_index(value);
                assert!(step <= 1, "{value}: {step}");
            }
        }
    }

    #[test]
    fn nearest_rank_percentiles_of_small_sets_are_exact() {
        let mut histogram = LogHistogram::new();
        for value in 1..=100 {
            histogram.record(value);
        }
        assert_eq!(histogram.percentile(50.0), Some(50));
        assert_eq!(histogram.percentile(99.0), Some(99));
        assert_eq!(histogram.percentile(100.0), Some(100));
        assert_eq!(histogram.mean(), Some(50.5));
        let mut five = LogHistogram::new();
        for value in [10, 20, 30, 40, 1000] {
            five.record(value);
        }
        assert_eq!(five.percentile(50.0), Some(30));
        assert_eq!(five.percentile(99.0), Some(1000));
        assert_eq!(LogHistogram::new().percentile(50.0), None);
        assert_eq!(LogHistogram::new().min(), None);
    }

    #[test]
    fn repeated_large_values_stay_exact_and_negatives_sort_first() {
        let mut histogram = LogHistogram::new();
        histogram.record_n(333_333, 1000);
        histogram.record_n(666_666, 3);
        histogram.record(-5_000_000);
        assert_eq!(histogram.percentile(50.0), Some(333_333));
        assert_eq!(histogram.percentile(100.0), Some(666_666));
        assert_eq!(histogram.percentile(0.01), Some(-5_000_000));
        assert_eq!(histogram.min(), Some(-5_000_000));
        assert_eq!(histogram.count(), 1004);
        assert_eq!(histogram.count_below(333_333), 1);
        assert_eq!(histogram.count_below(333_334), 1001);
        assert_eq!(histogram.count_below(i64::MAX), 1004);
    }

    #[test]
    fn memory_is_bounded_whatever_the_values() {
        let mut histogram = LogHistogram::new();
        for shift in 0..63 {
            histogram.record(1i64 << shift);
            histogram.record(-(1i64 << shift));
        }
        histogram.record(i64::MAX);
        histogram.record(i64::MIN);
        assert!(histogram.heap_bytes() <= 2 * MAX_BUCKETS * 24 + 2 * 64 * 16);
        // One value far out costs one block, not every bucket up to it.
        let mut sparse = LogHistogram::new();
        sparse.record(1);
        sparse.record(1 << 40);
        assert!(
            sparse.heap_bytes() <= 2 * BLOCK * 24 + 64 * 16,
            "{}",
            sparse.heap_bytes()
        );
        assert_eq!(histogram.percentile(100.0), Some(i64::MAX));
        assert_eq!(histogram.percentile(0.1), Some(i64::MIN));
    }

    proptest! {
        #[test]
        fn percentiles_are_observed_values_within_the_bound(
            values in prop::collection::vec(
                prop_oneof![0i64..3000, -3000i64..0, 0i64..10_000_000_000, any::<i64>()],
                1..400,
            ),
            p in 0.01f64..=100.0,
        ) {
            let mut histogram = LogHistogram::new();
            for &value in &values {
                histogram.record(value);
            }
            let got = histogram.percentile(p).unwrap();
            let want = exact(&values, p);
            prop_assert!(values.contains(&got), "{got} was never recorded");
            prop_assert!(got >= want, "{got} < exact {want}");
            // got - want <= |want| x 2^-10, in integers.
            let above = i128::from(got) - i128::from(want);
            prop_assert!(above << PRECISION_BITS <= i128::from(want).abs(), "{got} vs exact {want}");
            prop_assert_eq!(histogram.min(), values.iter().copied().min());
            prop_assert_eq!(histogram.max(), values.iter().copied().max());
            let total = values.iter().map(|&v| i128::from(v)).sum::<i128>();
            prop_assert_eq!(histogram.mean(), Some(total as f64 / values.len() as f64));
        }

        #[test]
        fn counts_below_a_threshold_are_off_only_within_the_bound(
            values in prop::collection::vec(0i64..100_000_000, 1..400),
            threshold in 0i64..100_000_000,
        ) {
            let mut histogram = LogHistogram::new();
            for &value in &values {
                histogram.record(value);
            }
            let got = histogram.count_below(threshold);
            let slack = (threshold as f64 * RELATIVE_ERROR).ceil() as i64 + 1;
            let surely_below = values.iter().filter(|&&v| v < threshold - slack).count() as u64;
            let maybe_below = values.iter().filter(|&&v| v < threshold + slack).count() as u64;
            prop_assert!(surely_below <= got && got <= maybe_below);
        }
    }

    #[test]
    fn equal_width_bins_cover_min_to_max() {
        let histogram = Histogram::new(&[0.0, 1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(histogram.start, 0.0);
        assert_eq!(histogram.bin_width, 1.0);
        assert_eq!(histogram.counts, [1, 1, 1, 2]);
        assert_eq!(histogram.end(), 4.0);
        let flat = Histogram::new(&[5.0, 5.0], 3);
        assert_eq!(flat.counts.iter().sum::<u64>(), 2);
        assert!(flat.start < 5.0 && flat.end() > 5.0);
        assert_eq!(Histogram::new(&[], 2).counts, [0, 0]);

        let mut log = LogHistogram::new();
        for value in [0, 1, 2, 3, 4] {
            log.record(value);
        }
        assert_eq!(Histogram::of(&log, 1.0, 4), histogram);
    }
}
