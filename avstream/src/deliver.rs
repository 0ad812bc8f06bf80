//! Frame delivery: what the capture pin does with the buffer at its leading edge.
//!
//! The pin renders each frame straight into the buffer its stream pointer describes (a client's
//! buffer from `IOCTL_KS_READ_STREAM`, or a frame a kernel-mode consumer took from the pin's
//! allocator); this module decides, from what that buffer offers and what the
//! [`FrameClock`] says is due, one of:
//! - [`Delivery::Render`]: render frame `stamp` into the buffer, rows `pitch` bytes apart, and
//!   complete it with `DataUsed = data_used` (without `KSPIN_FLAG_GENERATE_MAPPINGS` the
//!   minidriver sets `DataUsed` itself: the `KSSTREAM_HEADER` reference page);
//! - [`Delivery::Empty`]: complete the buffer at once, `DataUsed` 0, no frame spent on it: the
//!   header brought no buffer (a user-mode header with `Data` NULL, which avshws's capture pin
//!   also skips with a plain advance), the buffer cannot hold a frame, or the client's surface
//!   pitch cannot be honoured. The frame that falls due meanwhile goes to the next buffer;
//! - [`Delivery::Wait`]: nothing is due; keep the buffer for the next deadline.
//!
//! The client's `KS_FRAME_INFO.lSurfacePitch` (when its header is long enough to carry a
//! `KS_FRAME_INFO`) is the distance between rows in its buffer: 0 means the format's own stride
//! (`biWidth` rounded as the format requires); a positive pitch at least one row long is
//! honoured (every plane's rows that far apart, NV12's chroma plane after `pitch * height`
//! bytes); a negative or shorter pitch is refused with an empty buffer.
//!
//! [`StreamState`] is the part of a pin's state this needs, kept under the pin's spin lock by
//! the shell: the clock, the bytes delivered (for `AverageFrameSize`) and the faults to inject
//! ([`crate::faults`]): frames dropped on purpose are skipped (they count as dropped), a frame
//! whose completion is delayed is held back (`Delivery::Wait` until its release time, when it
//! goes out with its own deadline as its presentation time), an empty one is stamped but not
//! rendered (`data_used` 0), and times and picture numbers are shifted as the plan says. What
//! was injected is tallied until the shell takes it ([`StreamState::take_injected`]).
//! [`WorkingSet`] chooses the stores of each render from the buffers the consumer cycles
//! through.

use crate::clock::{DropCounters, FrameClock, FrameStamp};
use crate::faults::{DropKind, FaultCounters, FaultPlan};
use crate::pixel::FrameLayout;
use crate::rate::FrameRate;

/// What the leading edge's buffer offers, as the shell read it from the stream pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBuffer {
    /// Whether the header brought a buffer at all (`OffsetOut.Data` not NULL).
    pub present: bool,
    /// `OffsetOut.Remaining`: bytes writable at `OffsetOut.Data`.
    pub remaining: u32,
    /// The client's `KS_FRAME_INFO.lSurfacePitch`, or 0 when its header carries none.
    pub surface_pitch: i32,
}

/// Why a buffer goes back empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyReason {
    /// The header brought no buffer (`Data` NULL).
    NoBuffer,
    /// The buffer is smaller than a frame at the pitch asked for.
    TooSmall {
        /// `OffsetOut.Remaining`.
        remaining: u32,
        /// Bytes a frame needs.
        needed: usize,
    },
    /// The surface pitch is negative, shorter than a row, or too large to address.
    InvalidPitch(i32),
}

/// What to do with the buffer at the leading edge (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Render `stamp` into the buffer with rows `pitch` bytes apart; `DataUsed = data_used`.
    /// A `data_used` of 0 is an injected empty frame: stamp its headers, render nothing.
    Render {
        /// The frame: its number, drops, stream time, duration and deadline.
        stamp: FrameStamp,
        /// Bytes between rows in the buffer.
        pitch: usize,
        /// The bytes the frame occupies at that pitch.
        data_used: u32,
    },
    /// Complete the buffer now, `DataUsed` 0, no frame spent.
    Empty(EmptyReason),
    /// No frame is due: keep the buffer.
    Wait,
}

/// A frame held back until its delayed completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// Its index.
    index: u64,
    /// When it may complete.
    release: i64,
    /// How late that is (100 ns).
    delay: i64,
}

/// Where an injected stall stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// None asked for.
    Idle,
    /// Asked for: starts at the next due frame, lasts this long (100 ns).
    Requested(i64),
    /// Frames due before this time are dropped.
    Until(i64),
}

/// The stream state a pin's delivery decisions need (under the pin's spin lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamState {
    /// Which frame is due when, and which went out.
    pub clock: FrameClock,
    delivered_bytes: u64,
    faults: FaultPlan,
    stall: Stall,
    held: Option<Held>,
    /// The last presentation time and picture number sent (for counting wraps).
    last_sent: Option<(i64, i64)>,
    injected: FaultCounters,
}

impl StreamState {
    /// A stopped stream at `rate`, with no fault to inject.
    pub const fn new(rate: FrameRate) -> StreamState {
        StreamState {
            clock: FrameClock::new(rate),
            delivered_bytes: 0,
            faults: FaultPlan::NONE,
            stall: Stall::Idle,
            held: None,
            last_sent: None,
            injected: FaultCounters::ZERO,
        }
    }

    /// Injects `plan` from the next frame on (a frame already held back keeps its release).
    pub fn set_faults(&mut self, plan: FaultPlan) {
        self.faults = plan;
    }

    /// The plan being injected.
    pub const fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// A stall of `ms` milliseconds from the next due frame on.
    pub fn request_stall(&mut self, ms: u32) {
        self.stall = Stall::Requested(i64::from(ms) * 10_000);
    }

    /// What was injected since the last call (the shell adds it to the device's counters).
    pub fn take_injected(&mut self) -> FaultCounters {
        core::mem::take(&mut self.injected)
    }

    /// When the pin must look at its queue again after `now`: the next frame's deadline, or a
    /// held-back frame's release if earlier. `None` when the clock is stopped.
    pub fn next_wakeup(&self, now: i64) -> Option<i64> {
        let deadline = self.clock.next_deadline(now)?;
        Some(match self.held {
            Some(held) if held.release > now => deadline.min(held.release),
            _ => deadline,
        })
    }

    /// The next frame to deliver at `now` with the faults applied (drops skipped, a delayed
    /// frame held back), or `None` to wait.
    fn next_frame(&mut self, now: i64) -> Option<FrameStamp> {
        if let Some(held) = self.held {
            if now < held.release {
                return None;
            }
            self.held = None;
            self.injected.delayed += 1;
            self.injected.delay_us += (held.delay / 10) as u64;
            return Some(self.clock.take(held.index, now));
        }
        for index in self.clock.fresh(now)? {
            let deadline = self.clock.deadline(index).unwrap_or(now);
            if let Stall::Requested(length) = self.stall {
                self.stall = Stall::Until(deadline.saturating_add(length));
                self.injected.stalls += 1;
            }
            if let Stall::Until(until) = self.stall {
                if deadline < until {
                    self.clock.skip(index);
                    self.injected.stall_dropped += 1;
                    continue;
                }
                self.stall = Stall::Idle;
            }
            match self.faults.drop_of(index) {
                Some(DropKind::Random) => {
                    self.clock.skip(index);
                    self.injected.dropped += 1;
                    continue;
                }
                Some(DropKind::Burst) => {
                    self.clock.skip(index);
                    self.injected.burst_dropped += 1;
                    continue;
                }
                None => {}
            }
            let delay = self.faults.delay_of(index);
            if delay > 0 {
                self.held = Some(Held {
                    index,
                    release: deadline.saturating_add(delay),
                    delay,
                });
                // Released at once if its time has come already.
                return self.next_frame(now);
            }
            return Some(self.clock.take(index, now));
        }
        // Every fresh frame was dropped.
        None
    }

    /// Applies the plan's flags and shifts to a frame about to go out, and counts them.
    fn mark(&mut self, stamp: &mut FrameStamp) -> bool {
        let faults = self.faults;
        let empty = faults.empty(stamp.index);
        stamp.discontinuity = faults.discontinuity(stamp.index);
        if empty {
            self.injected.empty += 1;
        }
        if stamp.discontinuity {
            self.injected.discontinuity += 1;
        }
        let time = faults.shift_time(stamp.deadline);
        let picture = faults.shift_picture(i64::try_from(stamp.picture_number).unwrap_or(i64::MAX));
        if faults.shifts_time() {
            self.injected.time_shifted += 1;
        }
        if faults.shifts_picture() {
            self.injected.picture_shifted += 1;
        }
        if let Some((last_time, last_picture)) = self.last_sent {
            if time < last_time {
                self.injected.time_wraps += 1;
            }
            if picture < last_picture {
                self.injected.picture_wraps += 1;
            }
        }
        self.last_sent = Some((time, picture));
        stamp.deadline = time;
        stamp.picture_number = picture as u64;
        empty
    }

    /// What to do at `now` with `buffer`, for frames of `layout`. A [`Delivery::Render`] takes
    /// its frame from the clock, with the faults applied, and counts its bytes as delivered.
    pub fn plan(&mut self, layout: &FrameLayout, buffer: OutputBuffer, now: i64) -> Delivery {
        if !buffer.present {
            return Delivery::Empty(EmptyReason::NoBuffer);
        }
        let pitch = match buffer.surface_pitch {
            0 => layout.stride,
            p => match usize::try_from(p) {
                Ok(pitch) => pitch,
                Err(_) => return Delivery::Empty(EmptyReason::InvalidPitch(p)),
            },
        };
        let Some(needed) = layout.bytes_at_pitch(pitch) else {
            return Delivery::Empty(EmptyReason::InvalidPitch(buffer.surface_pitch));
        };
        let Ok(data_used) = u32::try_from(needed) else {
            return Delivery::Empty(EmptyReason::InvalidPitch(buffer.surface_pitch));
        };
        if buffer.remaining < data_used {
            return Delivery::Empty(EmptyReason::TooSmall {
                remaining: buffer.remaining,
                needed,
            });
        }
        let Some(mut stamp) = self.next_frame(now) else {
            return Delivery::Wait;
        };
        let data_used = if self.mark(&mut stamp) { 0 } else { data_used };
        self.delivered_bytes += u64::from(data_used);
        Delivery::Render {
            stamp,
            pitch,
            data_used,
        }
    }

    /// `AverageFrameSize`: bytes per delivered frame (0 before the first).
    pub fn average_frame_size(&self) -> u32 {
        let average = self
            .delivered_bytes
            .checked_div(self.clock.delivered())
            .unwrap_or(0);
        u32::try_from(average).unwrap_or(u32::MAX)
    }

    /// The `KSPROPERTY_DROPPEDFRAMES_CURRENT` counters at `now`.
    pub fn counters(&self, now: i64) -> DropCounters {
        self.clock.counters(now)
    }

    /// ACQUIRE -> STOP: frame 0 next, every counter zero, no frame held back, no stall pending
    /// (the fault plan stays).
    pub fn reset(&mut self) {
        self.clock.reset();
        self.delivered_bytes = 0;
        self.stall = Stall::Idle;
        self.held = None;
        self.last_sent = None;
        self.injected = FaultCounters::default();
    }
}

/// Bytes above which a consumer's buffers are assumed not to stay in the last-level cache
/// between two renders into the same one: 32 MiB, the L3 of the machines measured
/// (docs/performance.md).
pub const CACHE_BYTES: usize = 32 << 20;

/// Renders whose buffers [`WorkingSet`] remembers.
pub const WORKING_SET_WINDOW: usize = 8;

/// Whether `buffers` distinct buffers of `frame_bytes` each, rendered into in turn, outgrow the
/// cache ([`CACHE_BYTES`]): then the pin writes them with streaming (non-temporal) stores,
/// which skip reading each destination line first; into cache-resident buffers ordinary stores
/// are faster (docs/performance.md: a 4K NV12 ring of four frames renders 1.75x faster
/// streamed, one reused 1080p NV12 buffer 2x slower).
pub const fn outgrows_cache(buffers: usize, frame_bytes: usize) -> bool {
    buffers.saturating_mul(frame_bytes) > CACHE_BYTES
}

/// The buffers a pin rendered into lately, to choose its stores for the next render: a
/// consumer reusing one or two buffers keeps them cache-resident (ordinary stores), one cycling
/// through many large frames does not (streaming stores). Fixed size, nothing allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkingSet {
    recent: [usize; WORKING_SET_WINDOW],
    next: usize,
}

impl WorkingSet {
    /// Records a render of `frame_bytes` into the buffer at `address` and says whether to
    /// stream: whether the distinct buffers among the last [`WORKING_SET_WINDOW`] renders (this
    /// one included) outgrow the cache together.
    pub fn streaming_for(&mut self, address: usize, frame_bytes: usize) -> bool {
        self.recent[self.next] = address;
        self.next = (self.next + 1) % WORKING_SET_WINDOW;
        let mut distinct = 0;
        for (i, &a) in self.recent.iter().enumerate() {
            if a != 0 && !self.recent[..i].contains(&a) {
                distinct += 1;
            }
        }
        outgrows_cache(distinct, frame_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::{FrameSize, PixelFormat};

    #[test]
    fn buffers_outgrow_the_cache_only_past_its_size() {
        assert!(!outgrows_cache(1, CACHE_BYTES));
        assert!(outgrows_cache(1, CACHE_BYTES + 1));
        assert!(!outgrows_cache(4, CACHE_BYTES / 4));
        assert!(
            outgrows_cache(usize::MAX, 2),
            "saturates instead of wrapping"
        );
    }

    const VGA_NV12: FrameLayout = PixelFormat::Nv12.layout(FrameSize::VGA);

    fn running() -> StreamState {
        let mut stream = StreamState::new(FrameRate::per_second(30));
        stream.clock.start(1_000);
        stream
    }

    fn buffer(remaining: u32, surface_pitch: i32) -> OutputBuffer {
        OutputBuffer {
            present: true,
            remaining,
            surface_pitch,
        }
    }

    #[test]
    fn a_due_frame_is_rendered_at_the_formats_stride_with_data_used_set() {
        let mut stream = running();
        let image = VGA_NV12.image_size as u32;
        match stream.plan(&VGA_NV12, buffer(image, 0), 1_000) {
            Delivery::Render {
                stamp,
                pitch,
                data_used,
            } => {
                assert_eq!((stamp.index, stamp.deadline), (0, 1_000));
                assert_eq!((pitch, data_used), (640, image));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stream.average_frame_size(), image);
        // The same instant again: nothing more is due.
        assert_eq!(
            stream.plan(&VGA_NV12, buffer(image, 0), 1_000),
            Delivery::Wait
        );
    }

    #[test]
    fn a_client_pitch_is_honoured_and_sizes_the_frame() {
        let mut stream = running();
        // NV12 640x480 at pitch 768: 480 luma rows + 240 chroma rows.
        let needed = 768 * 720;
        assert_eq!(
            stream.plan(&VGA_NV12, buffer(needed - 1, 768), 1_000),
            Delivery::Empty(EmptyReason::TooSmall {
                remaining: needed - 1,
                needed: needed as usize
            })
        );
        match stream.plan(&VGA_NV12, buffer(needed, 768), 1_000) {
            Delivery::Render {
                pitch, data_used, ..
            } => assert_eq!((pitch, data_used), (768, needed)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn buffers_that_cannot_take_a_frame_go_back_empty_without_spending_one() {
        let mut stream = running();
        let image = VGA_NV12.image_size as u32;
        let refused = [
            (
                OutputBuffer {
                    present: false,
                    remaining: 0,
                    surface_pitch: 0,
                },
                Delivery::Empty(EmptyReason::NoBuffer),
            ),
            (
                buffer(image - 1, 0),
                Delivery::Empty(EmptyReason::TooSmall {
                    remaining: image - 1,
                    needed: image as usize,
                }),
            ),
            (
                buffer(image, -640),
                Delivery::Empty(EmptyReason::InvalidPitch(-640)),
            ),
            (
                buffer(image, 639),
                Delivery::Empty(EmptyReason::InvalidPitch(639)),
            ),
            (
                buffer(u32::MAX, i32::MAX),
                Delivery::Empty(EmptyReason::InvalidPitch(i32::MAX)),
            ),
        ];
        for (offer, expected) in refused {
            assert_eq!(stream.plan(&VGA_NV12, offer, 1_000), expected, "{offer:?}");
        }
        assert_eq!(stream.clock.delivered(), 0, "no frame was spent");
        assert!(matches!(
            stream.plan(&VGA_NV12, buffer(image, 0), 1_000),
            Delivery::Render { stamp, .. } if stamp.index == 0 && stamp.drop_count == 0
        ));
    }

    #[test]
    fn streaming_stores_only_for_buffers_that_outgrow_the_cache_together() {
        const UHD_NV12: usize = 3840 * 2160 * 3 / 2;
        const HD_NV12: usize = 1920 * 1080 * 3 / 2;
        // One reused 4K buffer: cache-resident, ordinary stores.
        let mut one = WorkingSet::default();
        assert!((0..20).all(|_| !one.streaming_for(0x1000, UHD_NV12)));
        // A ring of four 4K frames: streaming once the third distinct one comes round.
        let mut ring = WorkingSet::default();
        let choices: std::vec::Vec<bool> = (0..8)
            .map(|n| ring.streaming_for(0x1000 * (1 + n % 4), UHD_NV12))
            .collect();
        assert_eq!(choices, [false, false, true, true, true, true, true, true]);
        // The same ring of 1080p frames stays cache-resident.
        let mut small = WorkingSet::default();
        assert!((0..8).all(|n| !small.streaming_for(0x1000 * (1 + n % 4), HD_NV12)));
        // A consumer that goes back to one buffer is back on ordinary stores within the window.
        let last = (0..WORKING_SET_WINDOW)
            .map(|_| ring.streaming_for(0x9000, UHD_NV12))
            .last();
        assert_eq!(last, Some(false));
    }

    /// Plans every buffer offered at each of `times` (one buffer per time, always big enough)
    /// and returns what went out: (index, picture number, drop count, deadline, data used,
    /// discontinuity).
    fn deliver_at(
        stream: &mut StreamState,
        times: &[i64],
    ) -> std::vec::Vec<(u64, u64, u64, i64, u32, bool)> {
        let image = VGA_NV12.image_size as u32;
        times
            .iter()
            .filter_map(|&now| match stream.plan(&VGA_NV12, buffer(image, 0), now) {
                Delivery::Render {
                    stamp, data_used, ..
                } => Some((
                    stamp.index,
                    stamp.picture_number,
                    stamp.drop_count,
                    stamp.deadline,
                    data_used,
                    stamp.discontinuity,
                )),
                Delivery::Wait => None,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// The deadlines of frames 0..n of a 30 fps stream started at 1000.
    fn deadlines(n: u64) -> std::vec::Vec<i64> {
        let rate = FrameRate::per_second(30);
        (0..n).map(|i| 1_000 + rate.time_of_frame(i)).collect()
    }

    #[test]
    fn injected_drops_are_skipped_counted_and_seen_in_the_drop_count() {
        let mut stream = running();
        stream.set_faults(FaultPlan {
            burst_length: 2,
            burst_period: 5,
            ..FaultPlan::NONE
        });
        let out = deliver_at(&mut stream, &deadlines(10));
        // Frames 0, 1, 5, 6 dropped: the others out, their drop counts rising.
        let indices: std::vec::Vec<u64> = out.iter().map(|f| f.0).collect();
        assert_eq!(indices, [2, 3, 4, 7, 8, 9]);
        assert_eq!(out[0].2, 2);
        assert_eq!(out[3].2, 4);
        assert_eq!(stream.take_injected().burst_dropped, 4);
        assert!(stream.take_injected().is_zero(), "taken once");
    }

    #[test]
    fn a_delayed_frame_waits_for_its_release_and_keeps_its_deadline() {
        let mut stream = running();
        stream.set_faults(FaultPlan {
            delay_us: 2_000,
            ..FaultPlan::NONE
        });
        let image = VGA_NV12.image_size as u32;
        // At its deadline the frame is held: wake up 2 ms later, not at the next deadline.
        assert_eq!(
            stream.plan(&VGA_NV12, buffer(image, 0), 1_000),
            Delivery::Wait
        );
        assert_eq!(stream.next_wakeup(1_000), Some(1_000 + 20_000));
        assert_eq!(
            stream.plan(&VGA_NV12, buffer(image, 0), 20_999),
            Delivery::Wait
        );
        match stream.plan(&VGA_NV12, buffer(image, 0), 21_000) {
            Delivery::Render { stamp, .. } => {
                assert_eq!(
                    (stamp.index, stamp.deadline, stamp.drop_count),
                    (0, 1_000, 0)
                )
            }
            other => panic!("{other:?}"),
        }
        let injected = stream.take_injected();
        assert_eq!((injected.delayed, injected.delay_us), (1, 2_000));
        // Nothing held: the next wake-up is the next deadline.
        assert_eq!(stream.next_wakeup(21_000), Some(1_000 + 333_333));
    }

    #[test]
    fn a_stall_drops_every_frame_due_within_it_once() {
        let mut stream = running();
        let times = deadlines(12);
        assert_eq!(deliver_at(&mut stream, &times[..2]).len(), 2);
        // 100 ms from frame 2's deadline: frames 2, 3, 4 (at 66.7, 100, 133.3 ms) ... 2..=4.
        stream.request_stall(100);
        let out = deliver_at(&mut stream, &times[2..]);
        let indices: std::vec::Vec<u64> = out.iter().map(|f| f.0).collect();
        assert_eq!(indices, [5, 6, 7, 8, 9, 10, 11]);
        let injected = stream.take_injected();
        assert_eq!((injected.stalls, injected.stall_dropped), (1, 3));
    }

    #[test]
    fn empty_and_discontinuity_frames_and_shifted_times_are_marked_and_counted() {
        let mut stream = running();
        stream.set_faults(FaultPlan {
            empty_every: 3,
            discontinuity_every: 4,
            time_wrap: 700_000,
            picture_offset: 100,
            ..FaultPlan::NONE
        });
        let out = deliver_at(&mut stream, &deadlines(8));
        let image = VGA_NV12.image_size as u32;
        let used: std::vec::Vec<u32> = out.iter().map(|f| f.4).collect();
        assert_eq!(used, [image, image, 0, image, image, 0, image, image]);
        let flagged: std::vec::Vec<bool> = out.iter().map(|f| f.5).collect();
        assert_eq!(
            flagged,
            [false, false, false, true, false, false, false, true]
        );
        assert_eq!(out[0].1, 101, "picture numbers offset");
        let times: std::vec::Vec<i64> = out.iter().map(|f| f.3).collect();
        let expected: std::vec::Vec<i64> = deadlines(8).iter().map(|t| t % 700_000).collect();
        assert_eq!(times, expected);
        let injected = stream.take_injected();
        // Deadlines 1000 + 333333.3 n wrap at 700000 after frames 2 and 4 and 6.
        assert_eq!(
            (
                injected.empty,
                injected.discontinuity,
                injected.time_shifted,
                injected.picture_shifted
            ),
            (2, 2, 8, 8)
        );
        let wraps = expected.windows(2).filter(|w| w[1] < w[0]).count() as u64;
        assert_eq!((injected.time_wraps, injected.picture_wraps), (wraps, 0));
        // An empty frame counts no bytes.
        assert_eq!(stream.average_frame_size(), image * 6 / 8);
    }

    #[test]
    fn without_a_plan_every_frame_goes_out_as_due_and_nothing_counts_as_injected() {
        let mut stream = running();
        let times = deadlines(10);
        let out = deliver_at(&mut stream, &times);
        let image = VGA_NV12.image_size as u32;
        let expected: std::vec::Vec<_> = (0..10u64)
            .map(|n| (n, n + 1, 0, times[n as usize], image, false))
            .collect();
        assert_eq!(out, expected);
        assert_eq!(stream.take_injected(), FaultCounters::ZERO);
    }

    #[test]
    fn random_drops_are_skipped_and_counted() {
        let mut stream = running();
        let plan = FaultPlan {
            seed: 7,
            drop_basis_points: 2_500,
            ..FaultPlan::NONE
        };
        stream.set_faults(plan);
        let out = deliver_at(&mut stream, &deadlines(40));
        let kept: std::vec::Vec<u64> = (0..40).filter(|&n| plan.drop_of(n).is_none()).collect();
        let indices: std::vec::Vec<u64> = out.iter().map(|f| f.0).collect();
        assert_eq!(indices, kept);
        assert!(
            kept.len() > 20 && kept.len() < 40,
            "a quarter dropped: {kept:?}"
        );
        // Each frame's drop count is the frames skipped before it.
        for (delivered, frame) in out.iter().enumerate() {
            assert_eq!(frame.2, frame.0 - delivered as u64, "{frame:?}");
        }
        let injected = stream.take_injected();
        assert_eq!(injected.dropped, 40 - kept.len() as u64);
        assert_eq!(injected.burst_dropped, 0);
        // 100 %: nothing goes out, every frame counted.
        let mut all = running();
        all.set_faults(FaultPlan {
            drop_basis_points: 10_000,
            ..FaultPlan::NONE
        });
        assert!(deliver_at(&mut all, &deadlines(5)).is_empty());
        assert_eq!(all.take_injected().dropped, 5);
        assert_eq!(all.counters(deadlines(5)[4]).drop_count, 5);
    }

    #[test]
    fn only_values_that_go_backwards_count_as_wraps() {
        // At 30 fps from 1000, deadlines modulo 333333 are 1000, 1000, 1000, 1001, ...: equal
        // or later, never earlier; picture numbers 1, 2, 3, ... modulo 3 are 1, 2, 0, 1, ...
        let mut stream = running();
        stream.set_faults(FaultPlan {
            time_wrap: 333_333,
            picture_wrap: 3,
            ..FaultPlan::NONE
        });
        let out = deliver_at(&mut stream, &deadlines(10));
        let times: std::vec::Vec<i64> = out.iter().map(|f| f.3).collect();
        assert_eq!(times[..4], [1_000, 1_000, 1_000, 1_001]);
        let pictures: std::vec::Vec<u64> = out.iter().map(|f| f.1).collect();
        assert_eq!(pictures, [1, 2, 0, 1, 2, 0, 1, 2, 0, 1]);
        let injected = stream.take_injected();
        assert_eq!((injected.time_wraps, injected.picture_wraps), (0, 3));
        // A wrap of 1: every picture number 0, none going backwards.
        let mut zero = running();
        zero.set_faults(FaultPlan {
            picture_wrap: 1,
            ..FaultPlan::NONE
        });
        let out = deliver_at(&mut zero, &deadlines(4));
        assert!(out.iter().all(|f| f.1 == 0), "{out:?}");
        let injected = zero.take_injected();
        assert_eq!((injected.picture_shifted, injected.picture_wraps), (4, 0));
    }

    #[test]
    fn the_wakeup_is_always_after_now() {
        let mut stream = running();
        stream.set_faults(FaultPlan {
            delay_us: 2_000,
            ..FaultPlan::NONE
        });
        let image = VGA_NV12.image_size as u32;
        // Frame 0 (due at 1000) is held until 21000.
        assert_eq!(
            stream.plan(&VGA_NV12, buffer(image, 0), 1_000),
            Delivery::Wait
        );
        assert_eq!(stream.next_wakeup(20_999), Some(21_000));
        // No buffer came at its release: the frame waits for one, the timer for frame 1.
        let frame_1 = 1_000 + 333_333;
        for now in [21_000, 21_001, 300_000] {
            assert_eq!(stream.next_wakeup(now), Some(frame_1), "at {now}");
        }
    }

    #[test]
    fn reset_clears_the_counters() {
        let mut stream = running();
        let image = VGA_NV12.image_size as u32;
        stream.plan(&VGA_NV12, buffer(image, 0), 1_000);
        assert_eq!(stream.counters(1_000).picture_number, 1);
        stream.reset();
        assert_eq!(stream.average_frame_size(), 0);
        assert_eq!(stream.counters(i64::MAX).picture_number, 0);
        assert!(!stream.clock.is_running());
    }
}
