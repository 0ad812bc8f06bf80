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
//! the shell: the clock and the bytes delivered (for `AverageFrameSize`). [`WorkingSet`] chooses
//! the stores of each render from the buffers the consumer cycles through.

use crate::clock::{DropCounters, FrameClock, FrameStamp};
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

/// The stream state a pin's delivery decisions need (under the pin's spin lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamState {
    /// Which frame is due when, and which went out.
    pub clock: FrameClock,
    delivered_bytes: u64,
}

impl StreamState {
    /// A stopped stream at `rate`.
    pub const fn new(rate: FrameRate) -> StreamState {
        StreamState {
            clock: FrameClock::new(rate),
            delivered_bytes: 0,
        }
    }

    /// What to do at `now` with `buffer`, for frames of `layout`. A [`Delivery::Render`] takes
    /// its frame from the clock and counts its bytes as delivered.
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
        let Some(stamp) = self.clock.take_frame(now) else {
            return Delivery::Wait;
        };
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

    /// ACQUIRE -> STOP: frame 0 next, every counter zero.
    pub fn reset(&mut self) {
        self.clock.reset();
        self.delivered_bytes = 0;
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
