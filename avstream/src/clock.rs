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
//! - At time `t`, `due(t)` frames are due in all; a tick takes the newest due frame (a live
//!   camera never sends stale pictures), and any older frame not delivered is dropped:
//!   `dropped = due - delivered`. `PictureNumber` counts the frames due up to and including the
//!   one delivered, `DropCount` the dropped ones among them, so
//!   `PictureNumber - DropCount = delivered`.
//! - Pausing stops the deadlines; the frames due so far stay counted and resuming continues the
//!   presentation-time grid from the next frame, due at once. Stopping resets everything.

use ks::video::{
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S, KSSTREAM_HEADER, KSSTREAM_HEADER_OPTIONSF_DURATIONVALID,
    KSSTREAM_HEADER_OPTIONSF_TIMEVALID, KSTIME, KS_FRAME_INFO, KS_VIDEO_FLAG_FRAME,
    KS_VIDEO_FLAG_I_FRAME,
};

use crate::rate::FrameRate;

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
    /// `KSSTREAM_HEADER.PresentationTime.Time` (100 ns, stream time).
    pub presentation_time: i64,
    /// `KSSTREAM_HEADER.Duration` (100 ns).
    pub duration: i64,
    /// The absolute time the frame was due.
    pub deadline: i64,
}

impl FrameStamp {
    /// `KSSTREAM_HEADER.OptionsFlags` for a video frame: time and duration valid, a key frame.
    pub const OPTIONS_FLAGS: u32 = KSSTREAM_HEADER_OPTIONSF_TIMEVALID
        | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID
        | ks::video::KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT;

    /// Fills the timing fields of a stream header (`PresentationTime` in 100 ns units,
    /// `Duration`, `OptionsFlags`, and `Size` to cover the `KS_FRAME_INFO` that follows);
    /// `Data`, `FrameExtent` and `DataUsed` are the caller's.
    pub fn fill_header(&self, header: &mut KSSTREAM_HEADER) {
        header.Size = STREAM_HEADER_SIZE + FRAME_INFO_SIZE;
        header.PresentationTime = KSTIME {
            Time: self.presentation_time,
            Numerator: 1,
            Denominator: 1,
        };
        header.Duration = self.duration;
        header.OptionsFlags |= FrameStamp::OPTIONS_FLAGS;
    }

    /// The `KS_FRAME_INFO` that follows the stream header.
    pub fn frame_info(&self) -> KS_FRAME_INFO {
        KS_FRAME_INFO {
            ExtendedHeaderSize: FRAME_INFO_SIZE,
            dwFrameFlags: KS_VIDEO_FLAG_FRAME | KS_VIDEO_FLAG_I_FRAME,
            PictureNumber: saturate(self.picture_number),
            DropCount: saturate(self.drop_count),
            ..Default::default()
        }
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

    /// The presentation time of frame `n` (100 ns, stream time).
    pub const fn presentation_time(&self, n: u64) -> i64 {
        self.rate.time_of_frame(n)
    }

    /// The duration of frame `n` (100 ns): exact, so consecutive durations add up.
    pub const fn duration(&self, n: u64) -> i64 {
        self.rate.time_of_frame(n + 1) - self.rate.time_of_frame(n)
    }

    /// A buffer is ready at `now`: takes the newest due frame not yet delivered, or `None` if
    /// none is due (called before the next deadline, or the clock is stopped and the newest
    /// due frame went out already).
    pub fn take_frame(&mut self, now: i64) -> Option<FrameStamp> {
        let due = self.frames_due(now);
        let index = due.checked_sub(1)?;
        if self.last_taken.is_some_and(|last| last >= index) {
            return None;
        }
        self.delivered += 1;
        self.last_taken = Some(index);
        let picture_number = index + 1;
        Some(FrameStamp {
            index,
            picture_number,
            drop_count: picture_number - self.delivered,
            presentation_time: self.presentation_time(index),
            duration: self.duration(index),
            deadline: self.deadline(index).unwrap_or(now),
        })
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
            assert_eq!(f.presentation_time, exact(n, num, den));
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

    #[test]
    fn a_million_frames_at_60_fps_land_on_exact_times() {
        run_on_time(60, 1, 1_000_000);
        // 60 fps: every 60th frame is on a whole second.
        let c = FrameClock::new(FrameRate::per_second(60));
        assert_eq!(c.presentation_time(60 * 16_666), 16_666 * 10_000_000);
    }

    #[test]
    fn a_million_frames_at_ntsc_30_land_on_exact_times() {
        run_on_time(30_000, 1001, 1_000_000);
        let c = FrameClock::new(FrameRate::new(30_000, 1001).unwrap());
        // 30000 frames last exactly 1001 s.
        assert_eq!(c.presentation_time(30_000 * 33), 33 * 1001 * 10_000_000);
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
    fn nothing_is_due_before_start_or_while_stopped() {
        let mut clock = FrameClock::new(FrameRate::per_second(10));
        assert_eq!(clock.frames_due(1_000_000_000), 0);
        assert!(clock.take_frame(5).is_none());
        clock.start(1_000);
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
            (f.index, f.presentation_time, f.drop_count),
            (3, 3_000_000, 1)
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
    fn header_filling() {
        let mut clock = FrameClock::new(FrameRate::per_second(60));
        clock.start(7);
        let f = clock.take_frame(7 + 166_667).unwrap();
        let mut h = KSSTREAM_HEADER::default();
        f.fill_header(&mut h);
        assert_eq!(h.PresentationTime.Time, 166_666);
        assert_eq!(h.Duration, 166_667);
        assert_eq!(h.Size, 56 + 72);
        assert_ne!(h.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_TIMEVALID, 0);
        assert_ne!(h.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, 0);
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
