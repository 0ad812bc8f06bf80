//! Stress statistics, kept as the frames arrive in memory that does not grow with the run: per
//! frame the stress loop hands a [`FrameSample`] (its presentation time and the time it arrived,
//! both passed in; no clock is read here) to a [`StressRecorder`], which keeps counters and
//! [`LogHistogram`]s of the frame intervals, their jitter and the frames' latencies, and turns
//! them into a [`StressReport`] at the end.
//!
//! Percentiles are nearest-rank (the p-th percentile of n values is the value of rank
//! `ceil(p / 100 x n)`), read from the histograms: a value that was observed, never below the
//! exact nearest-rank value and above it by at most 1/1,024 of it
//! ([`crate::histogram::RELATIVE_ERROR`]); exact when the intervals repeat exactly. Minimum,
//! maximum, mean and every count are exact. Details per figure on [`StressRecorder`].

use serde::Serialize;

use crate::camera::{FrameMemory, StreamStats};
use crate::histogram::{midpoint, nearest_rank, LogHistogram};

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
    /// Whether it came without a picture (`DataUsed` 0).
    pub empty: bool,
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
    /// `allocator` (frames of the viewer's allocator on the pin) or `copy` (the viewer's own
    /// buffers).
    pub frame_path: String,
}

/// Frames counted by whose memory they arrived in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemorySeen {
    /// Frames that lay in frames of the client's allocator on the pin.
    pub pin_allocator: u64,
    /// Frames that lay in the client's own buffers.
    pub client_buffer: u64,
}

/// The stress report, as printed and as `--json` (see docs/viewer.md for every field).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressReport {
    /// Identifies this JSON layout: `avcam-viewer-stress/3`.
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
    /// The status of the viewer's allocator on the pin at the end (allocator mode), if known.
    pub allocator: Option<crate::camera::AllocatorStatus>,
    /// Frames delivered in frames of the viewer's allocator, as the backend counted them.
    pub frames_in_allocator_frames: u64,
    /// Frames delivered in the viewer's own buffers, as the backend counted them.
    pub frames_in_client_buffers: u64,
    /// Frames by memory, as the viewer saw them.
    pub memory_seen: MemorySeen,
    /// Frames that came without a picture (`DataUsed` 0).
    pub frames_empty: u64,
    /// With `--inject`: the faults the camera injected and what the viewer observed; `None`
    /// without.
    pub faults: Option<crate::inject::FaultReport>,
}

/// The JSON schema identifier of [`StressReport`].
pub const STRESS_SCHEMA: &str = "avcam-viewer-stress/3";

/// The intervals between consecutive frames as one clock saw them, in that clock's unit.
#[derive(Clone, Debug, Default)]
struct Intervals {
    /// Nanoseconds per unit: 100 for presentation times, 1 for arrivals.
    unit_ns: u64,
    /// The nominal interval in units, when the run was paced.
    nominal: Option<i64>,
    /// The intervals.
    intervals: LogHistogram,
    /// `|interval - nominal|`, when the run was paced.
    jitter: LogHistogram,
}

impl Intervals {
    fn new(unit_ns: u64, nominal_100ns: Option<u64>) -> Self {
        Intervals {
            unit_ns,
            nominal: nominal_100ns.map(|n| (n * 100 / unit_ns) as i64),
            ..Intervals::default()
        }
    }

    fn record(&mut self, interval: i64) {
        self.intervals.record(interval);
        if let Some(nominal) = self.nominal {
            self.jitter
                .record(interval.saturating_sub(nominal).saturating_abs());
        }
    }

    /// Microseconds of `units`.
    fn us(&self, units: f64) -> f64 {
        units * self.unit_ns as f64 / 1000.0
    }

    /// The summary; `None` without intervals.
    fn report(&self) -> Option<IntervalReport> {
        let intervals = &self.intervals;
        let (min, max, mean) = (intervals.min()?, intervals.max()?, intervals.mean()?);
        let percentile = |p| intervals.percentile(p).unwrap_or(0) as f64;
        let (reference, jitter) = match self.nominal {
            Some(nominal) => {
                let percentile = |p| self.jitter.percentile(p).unwrap_or(0) as f64;
                let jitter = JitterSummary {
                    p50: self.us(percentile(50.0)),
                    p99: self.us(percentile(99.0)),
                    max: self.us(self.jitter.max().unwrap_or(0) as f64),
                };
                (nominal as f64, jitter)
            }
            None => (mean, self.jitter_around(mean)),
        };
        Some(IntervalReport {
            samples: intervals.count(),
            reference_us: self.us(reference),
            interval_us: IntervalSummary {
                min: self.us(min as f64),
                mean: self.us(mean),
                p50: self.us(percentile(50.0)),
                p99: self.us(percentile(99.0)),
                max: self.us(max as f64),
            },
            jitter_us: jitter,
        })
    }

    /// Jitter around a reference known only at the end (the mean): `|value - reference|` for
    /// each bucket's middle value, so a percentile is within one bucket's span (1/1,024 of the
    /// interval) of the exact one; the maximum is exact.
    fn jitter_around(&self, reference: f64) -> JitterSummary {
        let mut jitter: Vec<(f64, u64)> = self
            .intervals
            .buckets()
            .map(|b| ((midpoint(b.min, b.max) - reference).abs(), b.count))
            .collect();
        jitter.sort_by(|a, b| a.0.total_cmp(&b.0));
        let percentile = |p| {
            let rank = nearest_rank(p, self.intervals.count()).unwrap_or(1);
            let mut seen = 0;
            jitter
                .iter()
                .find(|(_, count)| {
                    seen += count;
                    seen >= rank
                })
                .map_or(0.0, |(value, _)| *value)
        };
        let (min, max) = (
            self.intervals.min().unwrap_or(0) as f64,
            self.intervals.max().unwrap_or(0) as f64,
        );
        JitterSummary {
            p50: self.us(percentile(50.0)),
            p99: self.us(percentile(99.0)),
            max: self.us((max - reference).max(reference - min)),
        }
    }

    /// Heap bytes of the histograms.
    fn heap_bytes(&self) -> usize {
        self.intervals.heap_bytes() + self.jitter.heap_bytes()
    }
}

/// The statistics of a stress run, kept frame by frame in bounded memory.
///
/// - `presentation`: intervals between consecutive presentation times (100 ns units), as long as
///   every frame has one (the first frame without one ends them: `None` in the report).
/// - `arrival`: intervals between consecutive arrival times (nanoseconds).
/// - jitter: recorded frame by frame against the nominal interval when the run is paced (the
///   same bound as any percentile); when unthrottled, the reference is the mean, known only at
///   the end, and the jitter percentiles come from the interval buckets (within 1/1,024 of the
///   interval; the maximum is exact).
/// - on time: each frame's latency (arrival minus presentation time, relative to the first
///   frame) goes into a histogram; the share below `smallest + nominal interval` is exact but
///   for frames within 1/1,024 of that boundary ([`LogHistogram::count_below`]).
#[derive(Clone, Debug)]
pub struct StressRecorder {
    nominal_100ns: Option<u64>,
    frames: u64,
    frames_empty: u64,
    memory_seen: MemorySeen,
    previous: Option<FrameSample>,
    first_presentation: Option<i64>,
    every_frame_timed: bool,
    picture_number_gaps: u64,
    presentation: Intervals,
    arrival: Intervals,
    latency_ns: LogHistogram,
}

impl StressRecorder {
    /// A recorder for a run paced at `nominal_interval_100ns` (`None`: unthrottled).
    pub fn new(nominal_interval_100ns: Option<u64>) -> Self {
        StressRecorder {
            nominal_100ns: nominal_interval_100ns,
            frames: 0,
            frames_empty: 0,
            memory_seen: MemorySeen::default(),
            previous: None,
            first_presentation: None,
            every_frame_timed: true,
            picture_number_gaps: 0,
            presentation: Intervals::new(100, nominal_interval_100ns),
            arrival: Intervals::new(1, nominal_interval_100ns),
            latency_ns: LogHistogram::new(),
        }
    }

    /// Adds one frame. Allocates nothing once the histograms' buckets cover the values seen.
    pub fn record(&mut self, sample: FrameSample) {
        self.frames += 1;
        self.frames_empty += u64::from(sample.empty);
        match sample.memory {
            FrameMemory::PinAllocator => self.memory_seen.pin_allocator += 1,
            FrameMemory::ClientBuffer => self.memory_seen.client_buffer += 1,
        }
        let arrival = i64::try_from(sample.arrival_ns).unwrap_or(i64::MAX);
        match (sample.presentation_time, self.every_frame_timed) {
            // Latencies serve the on-time share, which needs a nominal interval.
            (Some(_), true) if self.nominal_100ns.is_none() => {}
            (Some(time), true) => {
                let first = *self.first_presentation.get_or_insert(time);
                let presented_ns = i128::from(time.saturating_sub(first)) * 100;
                let latency = (i128::from(arrival) - presented_ns)
                    .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                self.latency_ns.record(latency as i64);
            }
            _ => self.every_frame_timed = false,
        }
        if let Some(previous) = self.previous {
            self.arrival.record(
                i64::try_from(sample.arrival_ns.saturating_sub(previous.arrival_ns))
                    .unwrap_or(i64::MAX),
            );
            if let (Some(now), Some(before), true) = (
                sample.presentation_time,
                previous.presentation_time,
                self.every_frame_timed,
            ) {
                self.presentation.record(now.saturating_sub(before));
            }
            let gap = sample
                .picture_number
                .saturating_sub(previous.picture_number)
                .saturating_sub(1);
            self.picture_number_gaps += u64::try_from(gap).unwrap_or(0);
        }
        self.previous = Some(sample);
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The arrival intervals in nanoseconds (for the plot).
    pub fn arrival_intervals_ns(&self) -> &LogHistogram {
        &self.arrival.intervals
    }

    /// Heap bytes the statistics take now: bounded by the histograms' bucket counts
    /// ([`crate::histogram::MAX_BUCKETS`]), never by the number of frames.
    pub fn heap_bytes(&self) -> usize {
        self.presentation.heap_bytes() + self.arrival.heap_bytes() + self.latency_ns.heap_bytes()
    }

    /// The share of frames on time (see the type's documentation); `None` when unthrottled or
    /// when a frame had no presentation time.
    fn on_time_share(&self) -> Option<f64> {
        let interval_ns = i64::try_from(self.nominal_100ns? * 100).ok()?;
        if !self.every_frame_timed {
            return None;
        }
        let best = self.latency_ns.min()?;
        let on_time = self
            .latency_ns
            .count_below(best.saturating_add(interval_ns));
        Some(on_time as f64 / self.frames as f64)
    }

    /// The report of a run of `seconds` with the stream's final counters.
    pub fn report(
        &self,
        config: RunConfig,
        seconds: f64,
        final_stats: &StreamStats,
    ) -> StressReport {
        StressReport {
            schema: STRESS_SCHEMA,
            config,
            seconds,
            frames_delivered: self.frames,
            fps_delivered: if seconds > 0.0 {
                self.frames as f64 / seconds
            } else {
                0.0
            },
            frames_dropped: final_stats.frames_dropped,
            drop_count_last_frame: self.previous.map_or(0, |s| s.drop_count),
            picture_number_gaps: self.picture_number_gaps,
            presentation: if self.every_frame_timed {
                self.presentation.report()
            } else {
                None
            },
            arrival: self.arrival.report(),
            on_time_share: self.on_time_share(),
            allocator: final_stats.allocator,
            frames_in_allocator_frames: final_stats.frames_in_allocator_frames,
            frames_in_client_buffers: final_stats.frames_in_client_buffers,
            memory_seen: self.memory_seen,
            frames_empty: self.frames_empty,
            faults: None,
        }
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
            empty: false,
        }
    }

    fn config() -> RunConfig {
        RunConfig {
            device: "test".into(),
            pin: 0,
            format: "nv12".into(),
            width: 4,
            height: 2,
            fps_requested: 30,
            nominal_interval_us: Some(33_333.3),
            pattern: "bars".into(),
            frame_path: "allocator".into(),
        }
    }

    fn stats() -> StreamStats {
        StreamStats {
            frames_delivered: 0,
            frames_dropped: 0,
            frames_in_allocator_frames: 0,
            frames_in_client_buffers: 0,
            allocator: None,
        }
    }

    fn report(nominal: Option<u64>, samples: &[FrameSample]) -> StressReport {
        let mut recorder = StressRecorder::new(nominal);
        for sample in samples {
            recorder.record(*sample);
        }
        recorder.report(config(), 1.0, &stats())
    }

    /// 30 fps nominal (333333 x 100 ns); presentation exact, arrivals with one late frame.
    const PACED: [(i64, u64, i64); 5] = [
        (0, 1_000_000, 0),
        (333_333, 34_333_300, 1),
        (666_666, 67_666_600, 2),
        (999_999, 110_000_000, 3), // arrived 9 ms late
        (1_333_332, 134_333_200, 4),
    ];

    fn paced() -> Vec<FrameSample> {
        PACED.iter().map(|&(p, a, n)| sample(p, a, n)).collect()
    }

    #[test]
    fn intervals_and_jitter_from_both_clocks() {
        let report = report(Some(333_333), &paced());
        let presentation = report.presentation.unwrap();
        assert_eq!(presentation.samples, 4);
        assert_eq!(presentation.interval_us.min, 33_333.3);
        assert_eq!(presentation.interval_us.max, 33_333.3);
        assert_eq!(presentation.jitter_us.max, 0.0);
        let arrival = report.arrival.unwrap();
        // Arrival intervals: 33333.3, 33333.3, 42333.4, 24333.2 us.
        assert_eq!(arrival.samples, 4);
        assert_eq!(arrival.reference_us, 33_333.3);
        assert_eq!(arrival.interval_us.min, 24_333.2);
        assert_eq!(arrival.interval_us.p50, 33_333.3);
        assert_eq!(arrival.interval_us.max, 42_333.4);
        assert!((arrival.interval_us.mean - 33_333.3).abs() < 1e-6);
        // Jitter sorted: 0, 0, 9000.1, 9000.1 -> p50 = rank 2 = 0; the max is exact.
        assert_eq!(arrival.jitter_us.p50, 0.0);
        assert!((arrival.jitter_us.max - 9_000.1).abs() < 1e-6);
        // The late frame's latency exceeds the best by 9 ms < 33 ms: still on time.
        assert_eq!(report.on_time_share, Some(1.0));
    }

    #[test]
    fn a_frame_later_than_one_interval_is_not_on_time() {
        let mut samples = paced();
        samples[3].arrival_ns += 40_000_000;
        assert_eq!(report(Some(333_333), &samples).on_time_share, Some(0.8));
        assert_eq!(report(None, &samples).on_time_share, None);
    }

    #[test]
    fn unthrottled_jitter_is_measured_against_the_mean() {
        // Intervals 100, 100, 400 (x 100 ns): mean 200, jitter 100, 100, 200.
        let samples = [
            sample(0, 0, 0),
            sample(100, 10_000, 1),
            sample(200, 20_000, 2),
            sample(600, 60_000, 3),
        ];
        let report = report(None, &samples);
        let presentation = report.presentation.unwrap();
        assert_eq!(presentation.reference_us, 20.0);
        assert_eq!(presentation.jitter_us.p50, 10.0);
        assert_eq!(presentation.jitter_us.p99, 20.0);
        assert_eq!(presentation.jitter_us.max, 20.0);
        assert_eq!(report.arrival.unwrap().jitter_us, presentation.jitter_us);
        assert_eq!(report.on_time_share, None);
    }

    #[test]
    fn missing_presentation_times_give_no_presentation_report() {
        let mut samples = [sample(0, 0, 0), sample(10, 1_000, 1), sample(20, 2_000, 2)];
        samples[1].presentation_time = None;
        let report = report(Some(10), &samples);
        assert_eq!(report.presentation, None);
        assert_eq!(report.on_time_share, None);
        assert_eq!(report.arrival.unwrap().interval_us.max, 1.0);
    }

    #[test]
    fn gaps_in_picture_numbers_are_counted() {
        let samples = [
            sample(0, 0, 5),
            sample(1, 1, 6),
            sample(2, 2, 9),
            sample(3, 3, 10),
        ];
        assert_eq!(report(None, &samples).picture_number_gaps, 2);
        assert_eq!(report(None, &samples[..1]).picture_number_gaps, 0);
        assert_eq!(report(None, &samples[..1]).arrival, None);
    }

    #[test]
    fn the_report_counts_memory_and_fps() {
        let mut samples = vec![sample(0, 0, 0), sample(333_333, 33_333_300, 1)];
        samples[1].memory = FrameMemory::ClientBuffer;
        samples[1].drop_count = 3;
        let final_stats = StreamStats {
            frames_delivered: 2,
            frames_dropped: 3,
            frames_in_allocator_frames: 1,
            frames_in_client_buffers: 1,
            allocator: None,
        };
        let mut recorder = StressRecorder::new(Some(333_333));
        for sample in &samples {
            recorder.record(*sample);
        }
        let report = recorder.report(config(), 0.5, &final_stats);
        assert_eq!(report.fps_delivered, 4.0);
        assert_eq!(report.frames_dropped, 3);
        assert_eq!(report.drop_count_last_frame, 3);
        assert_eq!(
            report.memory_seen,
            MemorySeen {
                pin_allocator: 1,
                client_buffer: 1
            }
        );
        assert_eq!(report.on_time_share, Some(1.0));
        assert!(report.presentation.is_some() && report.arrival.is_some());
    }

    #[test]
    fn memory_stays_bounded_over_many_frames() {
        // A million frames at 1000 fps with arrival jitter: the statistics stay a few hundred
        // buckets, and growing the run tenfold adds nothing.
        let mut recorder = StressRecorder::new(Some(10_000));
        let feed = |recorder: &mut StressRecorder, from: u64, to: u64| {
            for frame in from..to {
                let jitter = (frame * 7919 % 1000) * 1000;
                recorder.record(sample(
                    (frame * 10_000) as i64,
                    frame * 1_000_000 + jitter,
                    frame as i64,
                ));
            }
        };
        feed(&mut recorder, 0, 100_000);
        let after_100k = recorder.heap_bytes();
        feed(&mut recorder, 100_000, 1_000_000);
        assert_eq!(recorder.heap_bytes(), after_100k);
        assert!(after_100k < 2 << 20, "{after_100k} bytes");
        assert_eq!(recorder.frames(), 1_000_000);
    }
}
