//! The frame clock: which frame is due at a given time, on absolute deadlines, and the
//! presentation time, duration, `PictureNumber` and `DropCount` of each frame delivered.
//!
//! Time is passed in (100 ns units of whatever clock the caller uses: `KeQueryInterruptTime` in
//! the driver, a virtual clock in tests), never read here.
//!
//! - Frame `n` of the stream has the presentation time `pts(n) = floor(n * 10^7 * den / num)`
//!   ([`FrameRate::time_of_frame`]) and lasts `pts(n + 1) - pts(n)`: exact, no accumulated error.
//! - While running, frame `n` is due at `epoch + pts(n) - pts(first)`, where the clock was
//!   started at `epoch` with frame `first` next; a timer re-armed at [`FrameClock::next_deadline`]
//!   never drifts.
//! - At time `t`, `due(t)` frames are due in all. A buffer ready at `t` takes the oldest frame
//!   not yet delivered that is still fresh: due no earlier than [`CATCH_UP_WINDOW`] before `t`,
//!   and at least the newest due frame. So a pass that runs late (a timer expiring after its due
//!   time, processing in a work item after the timer's DPC) still delivers every frame that fell
//!   due since the last pass, each with its own deadline, as a hardware camera keeps filling
//!   queued buffers whatever the CPU does; a frame older than the window, which found no buffer
//!   in time, is dropped: `dropped = due - delivered`. `PictureNumber` counts the frames due up
//!   to and including the one delivered, `DropCount` the dropped ones among them, so
//!   `PictureNumber - DropCount = delivered`.
//! - Each frame is stamped with the absolute time it was due ([`FrameStamp::deadline`]): the
//!   caller's clock is `KeQueryPerformanceCounter` converted to 100 ns units, so presentation
//!   times share the QPC epoch, as avscamera stamps them and as Media Foundation's device
//!   timestamps expect. [`FrameStamp::stream_time`] (0-based, for the picture's overlay) is the
//!   frame's place on the stream's own grid.
//! - Pausing stops the deadlines; the frames due so far stay counted and resuming continues the
//!   presentation-time grid from the next frame, due at once. Stopping resets everything.

use core::ops::RangeInclusive;

use ks::video::{
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S, KSSTREAM_HEADER,
    KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY, KSSTREAM_HEADER_OPTIONSF_DURATIONVALID,
    KSSTREAM_HEADER_OPTIONSF_TIMEVALID, KSTIME, KS_FRAME_INFO, KS_VIDEO_FLAG_FRAME,
    KS_VIDEO_FLAG_I_FRAME,
};

use crate::rate::FrameRate;

/// How far back (100 ns) a late pass still delivers frames that fell due before it: 5 ms. A
/// high-resolution timer may expire up to about 1 ms after its due time (learn.microsoft.com,
/// "High-resolution timers"), and Process runs after the timer's callback, in a work item; a
/// frame due earlier than this found no buffer in time and is dropped.
pub const CATCH_UP_WINDOW: i64 = 50_000;

/// `sizeof(KS_FRAME_INFO)`.
pub const FRAME_INFO_SIZE: u32 = core::mem::size_of::<KS_FRAME_INFO>() as u32;
/// `sizeof(KSSTREAM_HEADER)`.
pub const STREAM_HEADER_SIZE: u32 = core::mem::size_of::<KSSTREAM_HEADER>() as u32;

/// A running stretch of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// When the segment started (100 ns).
    epoch: i64,
    /// The first frame of the segment, due at `epoch`.
    first: u64,
}

/// The frame clock of one pin (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameClock {
    rate: FrameRate,
    running: Option<Segment>,
    /// Frames due when the clock last stopped: the first frame of the next segment.
    due_when_stopped: u64,
    delivered: u64,
    /// The newest frame delivered.
    last_taken: Option<u64>,
}

/// Everything a delivered frame's headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStamp {
    /// The frame's index in the stream (0-based, dropped frames included).
    pub index: u64,
    /// `KS_FRAME_INFO.PictureNumber`: `index + 1`.
    pub picture_number: u64,
    /// `KS_FRAME_INFO.DropCount`: frames dropped up to this one.
    pub drop_count: u64,
    /// The frame's time on the stream's own grid (100 ns from the first frame, pauses not
    /// counted): what the picture's time overlay shows.
    pub stream_time: i64,
    /// `KSSTREAM_HEADER.Duration` (100 ns).
    pub duration: i64,
    /// The absolute time the frame was due, in the caller's clock (100 ns):
    /// `KSSTREAM_HEADER.PresentationTime.Time`.
    pub deadline: i64,
    /// `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY` (an injected fault).
    pub discontinuity: bool,
}

impl FrameStamp {
    /// `KSSTREAM_HEADER.OptionsFlags` for a video frame: time and duration valid, a key frame
    /// (and `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY` when [`FrameStamp::discontinuity`]).
    pub const OPTIONS_FLAGS: u32 = KSSTREAM_HEADER_OPTIONSF_TIMEVALID
        | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID
        | ks::video::KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT;

    /// Fills the timing fields of a stream header (`PresentationTime` = the deadline in 100 ns
    /// units, `Duration`, `OptionsFlags`); `Size`, `Data`, `FrameExtent` and `DataUsed` are
    /// the caller's.
    pub fn fill_header(&self, header: &mut KSSTREAM_HEADER) {
        header.PresentationTime = KSTIME {
            Time: self.deadline,
            Numerator: 1,
            Denominator: 1,
        };
        header.Duration = self.duration;
        header.OptionsFlags |= FrameStamp::OPTIONS_FLAGS;
        if self.discontinuity {
            header.OptionsFlags |= KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY;
        }
    }

    /// Writes this frame's fields of the `KS_FRAME_INFO` that follows the stream header
    /// (`ExtendedHeaderSize`, `dwFrameFlags`, `PictureNumber`, `DropCount`), as avshws does;
    /// the rest is the client's (its `lSurfacePitch` stays as it asked).
    pub fn fill_frame_info(&self, info: &mut KS_FRAME_INFO) {
        info.ExtendedHeaderSize = FRAME_INFO_SIZE;
        info.dwFrameFlags = KS_VIDEO_FLAG_FRAME | KS_VIDEO_FLAG_I_FRAME;
        info.PictureNumber = saturate(self.picture_number);
        info.DropCount = saturate(self.drop_count);
    }

    /// A `KS_FRAME_INFO` with only this frame's fields set ([`FrameStamp::fill_frame_info`]).
    pub fn frame_info(&self) -> KS_FRAME_INFO {
        let mut info = KS_FRAME_INFO::default();
        self.fill_frame_info(&mut info);
        info
    }
}

/// The counters of `KSPROPERTY_DROPPEDFRAMES_CURRENT` at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropCounters {
    /// Frames due so far (`PictureNumber`).
    pub picture_number: u64,
    /// Frames due and not delivered (`DropCount`).
    pub drop_count: u64,
}

impl DropCounters {
    /// Fills the answer of `KSPROPERTY_DROPPEDFRAMES_CURRENT`.
    pub fn fill(&self, answer: &mut KSPROPERTY_DROPPEDFRAMES_CURRENT_S, average_frame_size: u32) {
        answer.PictureNumber = saturate(self.picture_number);
        answer.DropCount = saturate(self.drop_count);
        answer.AverageFrameSize = average_frame_size;
    }
}

fn saturate(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl FrameClock {
    /// A stopped clock at `rate`.
    pub const fn new(rate: FrameRate) -> FrameClock {
        FrameClock {
            rate,
            running: None,
            due_when_stopped: 0,
            delivered: 0,
            last_taken: None,
        }
    }

    /// The rate.
    pub const fn rate(&self) -> FrameRate {
        self.rate
    }

    /// Whether the clock is running.
    pub const fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// PAUSE -> RUN: the next frame is due at `now`. Does nothing if already running.
    pub fn start(&mut self, now: i64) {
        if self.running.is_none() {
            self.running = Some(Segment {
                epoch: now,
                first: self.due_when_stopped,
            });
        }
    }

    /// RUN -> PAUSE: freezes the count of frames due. Does nothing if not running.
    pub fn stop(&mut self, now: i64) {
        if self.running.is_some() {
            self.due_when_stopped = self.frames_due(now);
            self.running = None;
        }
    }

    /// ACQUIRE -> STOP: back to frame 0, all counters zero.
    pub fn reset(&mut self) {
        *self = FrameClock::new(self.rate);
    }

    /// How many frames are due at `now` since the stream started (dropped ones included).
    pub fn frames_due(&self, now: i64) -> u64 {
        match self.running {
            None => self.due_when_stopped,
            Some(seg) => {
                let since = now.saturating_sub(seg.epoch);
                if since < 0 {
                    return seg.first;
                }
                let base = self.rate.time_of_frame(seg.first);
                // Frame n >= first is due when pts(n) - pts(first) <= since; the frames
                // started by pts(first) + since are exactly those plus the `first` before.
                self.rate
                    .frames_started_by(base.saturating_add(since))
                    .max(seg.first)
            }
        }
    }

    /// The absolute time frame `n` is due, if the clock is running and `n` belongs to the
    /// current segment.
    pub fn deadline(&self, n: u64) -> Option<i64> {
        let seg = self.running?;
        if n < seg.first {
            return None;
        }
        let offset = self.rate.time_of_frame(n) - self.rate.time_of_frame(seg.first);
        Some(seg.epoch.saturating_add(offset))
    }

    /// When the next frame after those due at `now` is due: where to arm the timer.
    pub fn next_deadline(&self, now: i64) -> Option<i64> {
        self.deadline(self.frames_due(now))
    }

    /// The time of frame `n` on the stream's grid (100 ns, 0 for frame 0).
    pub const fn stream_time(&self, n: u64) -> i64 {
        self.rate.time_of_frame(n)
    }

    /// The duration of frame `n` (100 ns): exact, so consecutive durations add up.
    pub const fn duration(&self, n: u64) -> i64 {
        self.rate.time_of_frame(n + 1) - self.rate.time_of_frame(n)
    }

    /// A buffer is ready at `now`: takes the oldest frame not yet delivered that is due no
    /// earlier than [`CATCH_UP_WINDOW`] before `now` (at least the newest due frame; older
    /// undelivered frames are dropped), or `None` if none is due (called before the next
    /// deadline, or every due frame went out already): the first of [`FrameClock::fresh`],
    /// then [`FrameClock::take`].
    pub fn take_frame(&mut self, now: i64) -> Option<FrameStamp> {
        let index = *self.fresh(now)?.start();
        Some(self.take(index, now))
    }

    /// The frames that may go out at `now`, oldest first: from the one
    /// [`FrameClock::take_frame`] would take to the newest due (a finite range, so a caller
    /// passing over some of them with [`FrameClock::skip`] ends), or `None` if none is due.
    pub fn fresh(&self, now: i64) -> Option<RangeInclusive<u64>> {
        let newest = self.frames_due(now).checked_sub(1)?;
        let next = self.last_taken.map_or(0, |last| last + 1);
        if next > newest {
            return None;
        }
        // Frames due at or before `now - window - 1` are stale: the first fresh one follows them.
        let first_fresh = self.frames_due(now.saturating_sub(CATCH_UP_WINDOW + 1));
        Some(next.max(first_fresh.min(newest))..=newest)
    }

    /// Delivers frame `index` (one [`FrameClock::fresh`] named, or one held back since, at
    /// least the next one after the last taken): its stamp. Frames between the last taken and
    /// `index` stay undelivered: dropped.
    pub fn take(&mut self, index: u64, now: i64) -> FrameStamp {
        self.delivered += 1;
        self.last_taken = Some(index);
        let picture_number = index + 1;
        FrameStamp {
            index,
            picture_number,
            drop_count: picture_number.saturating_sub(self.delivered),
            stream_time: self.stream_time(index),
            duration: self.duration(index),
            deadline: self.deadline(index).unwrap_or(now),
            discontinuity: false,
        }
    }

    /// Passes over frame `index` without delivering it (a drop on purpose): the next frame taken
    /// comes after it, and it counts as dropped.
    pub fn skip(&mut self, index: u64) {
        self.last_taken = Some(index);
    }

    /// Frames delivered so far.
    pub const fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Frames due at `now` and not delivered: `due - delivered`.
    pub fn dropped(&self, now: i64) -> u64 {
        self.frames_due(now).saturating_sub(self.delivered)
    }

    /// The `KSPROPERTY_DROPPEDFRAMES_CURRENT` counters at `now`.
    pub fn counters(&self, now: i64) -> DropCounters {
        let due = self.frames_due(now);
        DropCounters {
            picture_number: due,
            drop_count: due.saturating_sub(self.delivered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const START: i64 = 123_456_789;

    /// Frame `n`'s time from the definition, computed independently with i128.
    fn exact(n: u64, num: u32, den: u32) -> i64 {
        (i128::from(n) * 10_000_000 * i128::from(den) / i128::from(num)) as i64
    }

    fn run_on_time(num: u32, den: u32, frames: u64) {
        let mut clock = FrameClock::new(FrameRate::new(num, den).unwrap());
        clock.start(START);
        let mut now = START;
        let mut total_duration = 0i64;
        for n in 0..frames {
            assert_eq!(clock.next_deadline(now - 1).unwrap_or(now), now);
            let f = clock
                .take_frame(now)
                .expect("a frame is due at its deadline");
            assert_eq!(f.index, n);
            assert_eq!(f.stream_time, exact(n, num, den));
            assert_eq!(f.deadline, START + exact(n, num, den));
            assert_eq!(f.drop_count, 0);
            total_duration += f.duration;
            assert!(clock.take_frame(now).is_none(), "one frame per deadline");
            now = clock.next_deadline(now).unwrap();
        }
        assert_eq!(total_duration, exact(frames, num, den));
        assert_eq!(now, START + exact(frames, num, den));
        assert_eq!(clock.dropped(now - 1), 0);
    }

    /// "A million" frames: a thousand under Miri, which interprets every one (the exactness
    /// checked is the same at every frame; the million shows no drift accumulates natively).
    const MILLION: u64 = if cfg!(miri) { 1_000 } else { 1_000_000 };

    #[test]
    fn a_million_frames_at_60_fps_land_on_exact_times() {
        run_on_time(60, 1, MILLION);
        // 60 fps: every 60th frame is on a whole second.
        let c = FrameClock::new(FrameRate::per_second(60));
        assert_eq!(c.stream_time(60 * 16_666), 16_666 * 10_000_000);
    }

    #[test]
    fn a_million_frames_at_ntsc_30_land_on_exact_times() {
        run_on_time(30_000, 1001, MILLION);
        let c = FrameClock::new(FrameRate::new(30_000, 1001).unwrap());
        // 30000 frames last exactly 1001 s.
        assert_eq!(c.stream_time(30_000 * 33), 33 * 1001 * 10_000_000);
    }

    #[test]
    fn late_ticks_within_an_interval_drop_nothing() {
        let mut clock = FrameClock::new(FrameRate::per_second(30));
        clock.start(0);
        for n in 0..1000u64 {
            // Serviced 90% of an interval late, still before the next deadline.
            let late = clock.deadline(n).unwrap() + 300_000;
            let f = clock.take_frame(late).unwrap();
            assert_eq!((f.index, f.drop_count), (n, 0));
        }
    }

    #[test]
    fn starving_drops_exactly_the_missed_frames() {
        let mut clock = FrameClock::new(FrameRate::per_second(30));
        clock.start(START);
        for n in 0..100u64 {
            clock.take_frame(clock.deadline(n).unwrap()).unwrap();
        }
        // No buffers for frames 100..=149; the next tick is at frame 150's deadline.
        let at = clock.deadline(150).unwrap();
        assert_eq!(clock.dropped(at), 51, "150 is due but not yet delivered");
        let f = clock.take_frame(at).unwrap();
        assert_eq!((f.index, f.picture_number, f.drop_count), (150, 151, 50));
        assert_eq!(f.picture_number - f.drop_count, clock.delivered());
        assert_eq!(
            clock.counters(at),
            DropCounters {
                picture_number: 151,
                drop_count: 50
            }
        );
        let info = f.frame_info();
        assert_eq!(
            (info.PictureNumber, info.DropCount, info.ExtendedHeaderSize),
            (151, 50, 72)
        );
    }

    #[test]
    fn a_late_pass_delivers_every_frame_due_within_the_window_oldest_first() {
        // 1000 fps: one frame per 10_000. A pass 3.5 ms late finds frames 0..=3 due.
        let mut clock = FrameClock::new(FrameRate::per_second(1000));
        clock.start(START);
        let late = START + 35_000;
        // At most 5 taken: a clock handing out a frame twice fails here, not hangs.
        let taken: Vec<(u64, i64, u64)> = core::iter::from_fn(|| clock.take_frame(late))
            .take(5)
            .map(|f| (f.index, f.deadline, f.drop_count))
            .collect();
        assert_eq!(
            taken,
            (0..4)
                .map(|n| (n, START + n as i64 * 10_000, 0))
                .collect::<Vec<_>>(),
            "each frame with its own deadline, none dropped"
        );
        assert_eq!(clock.dropped(late), 0);
    }

    #[test]
    fn frames_older_than_the_window_are_dropped_and_the_newest_is_always_fresh() {
        let mut clock = FrameClock::new(FrameRate::per_second(1000));
        clock.start(0);
        // 20 ms late: frames 0..=20 are due; those due before 15 ms are stale.
        let now = 200_000;
        let first = clock.take_frame(now).unwrap();
        assert_eq!(first.deadline, now - CATCH_UP_WINDOW);
        assert_eq!((first.index, first.drop_count), (15, 15));
        let rest: Vec<u64> = core::iter::from_fn(|| clock.take_frame(now))
            .take(6)
            .map(|f| f.index)
            .collect();
        assert_eq!(rest, (16..=20).collect::<Vec<_>>());
        assert_eq!(clock.dropped(now), 15);
        // At 30 fps the window is shorter than an interval: only the newest due frame goes out,
        // however late the pass.
        let mut slow = FrameClock::new(FrameRate::per_second(30));
        slow.start(0);
        let f = slow.take_frame(10 * 333_333 + 300_000).unwrap();
        assert_eq!((f.index, f.drop_count), (10, 10));
        assert!(slow.take_frame(10 * 333_333 + 300_000).is_none());
    }

    #[test]
    fn nothing_is_due_before_start_or_while_stopped() {
        let mut clock = FrameClock::new(FrameRate::per_second(10));
        assert_eq!(clock.frames_due(1_000_000_000), 0);
        assert!(clock.take_frame(5).is_none());
        assert!(!clock.is_running());
        clock.start(1_000);
        assert!(clock.is_running());
        assert_eq!(clock.frames_due(999), 0);
        assert_eq!(clock.frames_due(1_000), 1);
        assert!(clock.take_frame(500).is_none());
    }

    #[test]
    fn pause_freezes_counts_and_resume_continues_the_grid() {
        let mut clock = FrameClock::new(FrameRate::per_second(10)); // 1_000_000 per frame
        clock.start(0);
        clock.take_frame(0).unwrap();
        clock.take_frame(1_000_000).unwrap();
        clock.stop(2_500_000); // frames 0, 1, 2 are due; 2 undelivered
        assert_eq!(clock.frames_due(99_000_000), 3);
        assert_eq!(clock.dropped(99_000_000), 1);
        assert!(clock.next_deadline(3_000_000).is_none());
        clock.start(50_000_000);
        assert_eq!(clock.deadline(3), Some(50_000_000));
        assert_eq!(clock.deadline(4), Some(51_000_000));
        let f = clock.take_frame(50_000_000).unwrap();
        assert_eq!(
            (f.index, f.stream_time, f.deadline, f.drop_count),
            (3, 3_000_000, 50_000_000, 1)
        );
        clock.reset();
        assert_eq!(
            (
                clock.frames_due(i64::MAX),
                clock.delivered(),
                clock.is_running()
            ),
            (0, 0, false)
        );
    }

    #[test]
    fn a_skipped_frame_is_passed_over_and_counts_as_dropped() {
        // 1000 fps: frames 0, 1 and 2 all due within the catch-up window of frame 2's deadline.
        let rate = FrameRate::per_second(1000);
        let mut clock = FrameClock::new(rate);
        clock.start(START);
        let now = START + rate.time_of_frame(2);
        assert_eq!(clock.fresh(START - 1), None, "nothing due yet");
        assert_eq!(clock.fresh(now), Some(0..=2));
        clock.skip(0);
        assert_eq!(clock.fresh(now), Some(1..=2));
        let f = clock.take_frame(now).unwrap();
        assert_eq!((f.index, f.picture_number, f.drop_count), (1, 2, 1));
        assert_eq!(clock.fresh(now), Some(2..=2));
        clock.skip(2);
        assert_eq!(clock.fresh(now), None, "every due frame passed");
        assert_eq!(clock.counters(now).drop_count, 2);
        assert_eq!(clock.fresh(now + rate.time_of_frame(1)), Some(3..=3));
    }

    #[test]
    fn header_filling() {
        let mut clock = FrameClock::new(FrameRate::per_second(60));
        clock.start(7);
        let f = clock.take_frame(7 + 166_667).unwrap();
        let mut h = KSSTREAM_HEADER {
            Size: 56 + 72,
            ..Default::default()
        };
        f.fill_header(&mut h);
        // The absolute deadline (the caller's QPC-derived clock), not the stream time.
        assert_eq!((f.stream_time, f.deadline), (166_666, 7 + 166_666));
        assert_eq!(h.PresentationTime.Time, 7 + 166_666);
        assert_eq!(
            (h.PresentationTime.Numerator, h.PresentationTime.Denominator),
            (1, 1)
        );
        assert_eq!(h.Duration, 166_667);
        assert_eq!(h.Size, 56 + 72, "Size is the caller's");
        assert_ne!(h.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_TIMEVALID, 0);
        assert_ne!(h.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, 0);
        assert_eq!(
            h.OptionsFlags,
            FrameStamp::OPTIONS_FLAGS,
            "no discontinuity unasked"
        );
        // An injected discontinuity adds its flag to the frame's own.
        let flagged = FrameStamp {
            discontinuity: true,
            ..f
        };
        let mut d = KSSTREAM_HEADER::default();
        flagged.fill_header(&mut d);
        assert_eq!(
            d.OptionsFlags,
            FrameStamp::OPTIONS_FLAGS | KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY
        );
        let mut answer = KSPROPERTY_DROPPEDFRAMES_CURRENT_S {
            Property: ks::ks::KSIDENTIFIER {
                Set: ks::GUID::NULL,
                Id: 0,
                Flags: 0,
            },
            PictureNumber: 0,
            DropCount: 0,
            AverageFrameSize: 0,
            _pad: 0,
        };
        clock.counters(7 + 166_667).fill(&mut answer, 460_800);
        assert_eq!(
            (
                answer.PictureNumber,
                answer.DropCount,
                answer.AverageFrameSize
            ),
            (2, 1, 460_800)
        );
    }
}
