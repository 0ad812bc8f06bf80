//! Stress statistics: per-frame samples in, a report out; no clock is read here.
//!
//! The stress loop records one [`FrameSample`] per frame (its presentation time and the time it
//! arrived, both passed in) and [`analyse`] turns them into frame-interval percentiles, jitter,
//! on-time share and counters. Percentiles are nearest-rank: the p-th percentile of n sorted
//! values is the value at rank `ceil(p / 100 * n)` (1-based), so it is always an observed value.

use serde::Serialize;

use crate::camera::{FrameMemory, StreamStats};

/// What the viewer noted about one delivered frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSample {
    /// The frame's presentation time in 100 ns units, if it had one.
    pub presentation_time: Option<i64>,
    /// When it arrived, in nanoseconds since the run started (a monotonic clock).
    pub arrival_ns: u64,
    /// `KS_FRAME_INFO.PictureNumber`.
    pub picture_number: i64,
    /// `KS_FRAME_INFO.DropCount`.
    pub drop_count: i64,
    /// Whose memory the bytes were.
    pub memory: FrameMemory,
}

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `sorted` (ascending); 0 if empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Distribution of frame intervals, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IntervalSummary {
    /// Shortest interval.
    pub min: f64,
    /// Mean interval.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Longest interval.
    pub max: f64,
}

/// Distribution of jitter, `|interval - reference|`, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct JitterSummary {
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Intervals between consecutive frames as one clock saw them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IntervalReport {
    /// Number of intervals (frames - 1).
    pub samples: u64,
    /// The interval jitter is measured against, in microseconds: the nominal frame interval,
    /// or the mean interval when the run was unthrottled.
    pub reference_us: f64,
    /// Interval distribution.
    pub interval_us: IntervalSummary,
    /// Jitter distribution.
    pub jitter_us: JitterSummary,
}

/// Summarizes `intervals` (microseconds) against `nominal_us` (or their mean if `None`).
/// `None` if there are no intervals.
pub fn summarize(intervals: &[f64], nominal_us: Option<f64>) -> Option<IntervalReport> {
    if intervals.is_empty() {
        return None;
    }
    let mut sorted = intervals.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
    let reference = nominal_us.unwrap_or(mean);
    let mut jitter: Vec<f64> = intervals.iter().map(|i| (i - reference).abs()).collect();
    jitter.sort_by(f64::total_cmp);
    Some(IntervalReport {
        samples: intervals.len() as u64,
        reference_us: reference,
        interval_us: IntervalSummary {
            min: sorted[0],
            mean,
            p50: percentile(&sorted, 50.0),
            p99: percentile(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
        },
        jitter_us: JitterSummary {
            p50: percentile(&jitter, 50.0),
            p99: percentile(&jitter, 99.0),
            max: jitter[jitter.len() - 1],
        },
    })
}

/// Intervals between consecutive presentation times in microseconds; `None` unless every
/// sample has a presentation time.
pub fn presentation_intervals_us(samples: &[FrameSample]) -> Option<Vec<f64>> {
    let times: Option<Vec<i64>> = samples.iter().map(|s| s.presentation_time).collect();
    let times = times?;
    Some(
        times
            .windows(2)
            .map(|pair| (pair[1] - pair[0]) as f64 / 10.0)
            .collect(),
    )
}

/// Intervals between consecutive arrivals in microseconds.
pub fn arrival_intervals_us(samples: &[FrameSample]) -> Vec<f64> {
    samples
        .windows(2)
        .map(|pair| pair[1].arrival_ns.saturating_sub(pair[0].arrival_ns) as f64 / 1000.0)
        .collect()
}

/// The share of frames that arrived on time: a frame is on time if its latency (arrival minus
/// presentation time) exceeds the smallest latency of the run by less than one frame interval,
/// i.e. it arrived before the next frame was due. Needs presentation times on every frame and a
/// nominal interval; `None` otherwise (e.g. unthrottled runs).
pub fn on_time_share(samples: &[FrameSample], nominal_interval_100ns: Option<u64>) -> Option<f64> {
    let interval_ns = i128::from(nominal_interval_100ns?) * 100;
    let first = samples.first()?.presentation_time?;
    let latencies: Option<Vec<i128>> = samples
        .iter()
        .map(|s| {
            s.presentation_time
                .map(|pts| i128::from(s.arrival_ns) - i128::from(pts - first) * 100)
        })
        .collect();
    let latencies = latencies?;
    let best = latencies.iter().copied().min()?;
    let on_time = latencies
        .iter()
        .filter(|&&l| l - best < interval_ns)
        .count();
    Some(on_time as f64 / samples.len() as f64)
}

/// Frames missing between consecutive picture numbers, as the viewer saw them.
pub fn picture_number_gaps(samples: &[FrameSample]) -> u64 {
    samples
        .windows(2)
        .map(|pair| (pair[1].picture_number - pair[0].picture_number - 1).max(0) as u64)
        .sum()
}

/// A stress run's settings, as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunConfig {
    /// The device's name.
    pub device: String,
    /// The pin streamed from.
    pub pin: u32,
    /// Pixel format name.
    pub format: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second asked for; 0 = unthrottled.
    pub fps_requested: u32,
    /// The nominal frame interval in microseconds; `None` when unthrottled.
    pub nominal_interval_us: Option<f64>,
    /// The test pattern.
    pub pattern: String,
    /// `shared` (the pin allocator's frames) or `copy` (read-stream copies).
    pub frame_path: String,
}

/// Frames counted by whose memory they arrived in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemorySeen {
    /// Frames that were the pin allocator's own memory.
    pub pin_allocator: u64,
    /// Frames that were copies in client buffers.
    pub client_copy: u64,
}

/// The stress report, as printed and as `--json` (see docs/viewer.md for every field).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressReport {
    /// Identifies this JSON layout: `avcam-viewer-stress/1`.
    pub schema: &'static str,
    /// What ran.
    pub config: RunConfig,
    /// Wall-clock duration of the run in seconds (first request to last frame).
    pub seconds: f64,
    /// Frames the viewer received.
    pub frames_delivered: u64,
    /// `frames_delivered / seconds`.
    pub fps_delivered: f64,
    /// The camera's dropped-frame count at the end (`KSPROPERTY_DROPPEDFRAMES_CURRENT`).
    pub frames_dropped: u64,
    /// `KS_FRAME_INFO.DropCount` of the last frame received.
    pub drop_count_last_frame: i64,
    /// Frames missing between consecutive picture numbers, as the viewer saw them.
    pub picture_number_gaps: u64,
    /// Intervals from presentation times; `None` if frames carried none.
    pub presentation: Option<IntervalReport>,
    /// Intervals from arrival times; `None` with fewer than two frames.
    pub arrival: Option<IntervalReport>,
    /// Share of frames that arrived before the next frame was due; `None` when unthrottled.
    pub on_time_share: Option<f64>,
    /// The pin allocator's status at the end, if known.
    pub allocator: Option<crate::camera::AllocatorStatus>,
    /// Frames delivered without a copy, as the backend counted them.
    pub copies_avoided: u64,
    /// Frames delivered as copies, as the backend counted them.
    pub frames_copied: u64,
    /// Frames by memory, as the viewer saw them.
    pub memory_seen: MemorySeen,
}

/// The JSON schema identifier of [`StressReport`].
pub const STRESS_SCHEMA: &str = "avcam-viewer-stress/1";

/// Builds the report from the samples of a run of `seconds` and the stream's final counters.
pub fn analyse(
    config: RunConfig,
    nominal_interval_100ns: Option<u64>,
    samples: &[FrameSample],
    seconds: f64,
    final_stats: &StreamStats,
) -> StressReport {
    let nominal_us = nominal_interval_100ns.map(|interval| interval as f64 / 10.0);
    let presentation =
        presentation_intervals_us(samples).and_then(|intervals| summarize(&intervals, nominal_us));
    let arrival = summarize(&arrival_intervals_us(samples), nominal_us);
    let mut memory_seen = MemorySeen::default();
    for sample in samples {
        match sample.memory {
            FrameMemory::PinAllocator => memory_seen.pin_allocator += 1,
            FrameMemory::ClientCopy => memory_seen.client_copy += 1,
        }
    }
    let frames = samples.len() as u64;
    StressReport {
        schema: STRESS_SCHEMA,
        config,
        seconds,
        frames_delivered: frames,
        fps_delivered: if seconds > 0.0 {
            frames as f64 / seconds
        } else {
            0.0
        },
        frames_dropped: final_stats.frames_dropped,
        drop_count_last_frame: samples.last().map_or(0, |s| s.drop_count),
        picture_number_gaps: picture_number_gaps(samples),
        presentation,
        arrival,
        on_time_share: on_time_share(samples, nominal_interval_100ns),
        allocator: final_stats.allocator,
        copies_avoided: final_stats.copies_avoided,
        frames_copied: final_stats.frames_copied,
        memory_seen,
    }
}

/// Counts of `values` in `bins` equal-width bins from their minimum to their maximum.
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
        let bins = bins.max(1);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if values.is_empty() {
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
        for value in values {
            let index = ((value - start) / bin_width) as usize;
            counts[index.min(bins - 1)] += 1;
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

    fn sample(pts: i64, arrival_ns: u64, picture_number: i64) -> FrameSample {
        FrameSample {
            presentation_time: Some(pts),
            arrival_ns,
            picture_number,
            drop_count: 0,
            memory: FrameMemory::PinAllocator,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        // 5 values: p50 = rank ceil(2.5) = 3, p99 = rank ceil(4.95) = 5.
        let five = [10.0, 20.0, 30.0, 40.0, 1000.0];
        assert_eq!(percentile(&five, 50.0), 30.0);
        assert_eq!(percentile(&five, 99.0), 1000.0);
        assert_eq!(percentile(&[7.0], 1.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn intervals_and_jitter_from_both_clocks() {
        // 30 fps nominal (333333 x 100 ns); presentation exact, arrivals with one late frame.
        let samples = [
            sample(0, 1_000_000, 0),
            sample(333_333, 34_333_300, 1),
            sample(666_666, 67_666_600, 2),
            sample(999_999, 110_000_000, 3), // arrived 9 ms late
            sample(1_333_332, 134_333_200, 4),
        ];
        let presentation = presentation_intervals_us(&samples).unwrap();
        assert_eq!(presentation, [33_333.3; 4]);
        let arrival = arrival_intervals_us(&samples);
        assert_eq!(arrival, [33_333.3, 33_333.3, 42_333.4, 24_333.2]);

        let report = summarize(&arrival, Some(33_333.3)).unwrap();
        assert_eq!(report.samples, 4);
        assert_eq!(report.interval_us.min, 24_333.2);
        assert_eq!(report.interval_us.p50, 33_333.3);
        assert_eq!(report.interval_us.max, 42_333.4);
        // Jitter sorted: 0, 0, 9000.1, 9000.1 -> p50 = rank 2 = 0, p99 = rank 4.
        assert_eq!(report.jitter_us.p50, 0.0);
        assert!((report.jitter_us.max - 9_000.1).abs() < 1e-6);

        // Only the late frame's latency exceeds the best by more than an interval? No: 9 ms < 33 ms.
        assert_eq!(on_time_share(&samples, Some(333_333)), Some(1.0));
        let mut very_late = samples;
        very_late[3].arrival_ns += 40_000_000;
        assert_eq!(on_time_share(&very_late, Some(333_333)), Some(0.8));
        assert_eq!(on_time_share(&samples, None), None);
    }

    #[test]
    fn missing_presentation_times_give_no_presentation_report() {
        let mut samples = [sample(0, 0, 0), sample(10, 1_000, 1)];
        samples[1].presentation_time = None;
        assert_eq!(presentation_intervals_us(&samples), None);
        assert_eq!(on_time_share(&samples, Some(10)), None);
        assert_eq!(arrival_intervals_us(&samples), [1.0]);
    }

    #[test]
    fn gaps_in_picture_numbers_are_counted() {
        let samples = [
            sample(0, 0, 5),
            sample(1, 1, 6),
            sample(2, 2, 9),
            sample(3, 3, 10),
        ];
        assert_eq!(picture_number_gaps(&samples), 2);
        assert_eq!(picture_number_gaps(&samples[..1]), 0);
    }

    #[test]
    fn the_report_counts_memory_and_fps() {
        let mut samples = vec![sample(0, 0, 0), sample(333_333, 33_333_300, 1)];
        samples[1].memory = FrameMemory::ClientCopy;
        samples[1].drop_count = 3;
        let config = RunConfig {
            device: "test".into(),
            pin: 0,
            format: "nv12".into(),
            width: 4,
            height: 2,
            fps_requested: 30,
            nominal_interval_us: Some(33_333.3),
            pattern: "bars".into(),
            frame_path: "shared".into(),
        };
        let stats = StreamStats {
            frames_delivered: 2,
            frames_dropped: 3,
            copies_avoided: 1,
            frames_copied: 1,
            allocator: None,
        };
        let report = analyse(config, Some(333_333), &samples, 0.5, &stats);
        assert_eq!(report.fps_delivered, 4.0);
        assert_eq!(report.frames_dropped, 3);
        assert_eq!(report.drop_count_last_frame, 3);
        assert_eq!(
            report.memory_seen,
            MemorySeen {
                pin_allocator: 1,
                client_copy: 1
            }
        );
        assert_eq!(report.on_time_share, Some(1.0));
        assert!(report.presentation.is_some() && report.arrival.is_some());
    }

    #[test]
    fn histograms_cover_min_to_max() {
        let histogram = Histogram::new(&[0.0, 1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(histogram.start, 0.0);
        assert_eq!(histogram.bin_width, 1.0);
        assert_eq!(histogram.counts, [1, 1, 1, 2]);
        assert_eq!(histogram.end(), 4.0);
        let flat = Histogram::new(&[5.0, 5.0], 3);
        assert_eq!(flat.counts.iter().sum::<u64>(), 2);
        assert!(flat.start < 5.0 && flat.end() > 5.0);
        assert_eq!(Histogram::new(&[], 2).counts, [0, 0]);
    }
}
