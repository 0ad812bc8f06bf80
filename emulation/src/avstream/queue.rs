//! The pin's read queue as plain data: the queued reads in arrival order, their frames (one per
//! KSSTREAM_HEADER), where the leading edge stands, and which frames are released or held by
//! clones. It knows no IRP and no pointer: a read is an opaque token `R` and a frame an opaque
//! token `F` (the emulation uses the IRP's and the header's addresses); its callers complete the
//! reads it reports finished.
//!
//! The rules (the behaviour [`super::pointers`] and [`super::reads`] document):
//! - the leading edge stands on the first frame not yet released, or past the last (waiting for
//!   data); releasing moves it to the next frame;
//! - a frame is done when released and no clone holds it; a read finishes when all its frames are
//!   done, with its output length, or as cancelled if it was cancelled meanwhile;
//! - cancelling a read (its cancel routine, or every read at STOP) removes it with its frames,
//!   unless a clone holds one of them: then it is marked cancelled and finishes when the last
//!   clone on it goes.

use std::collections::VecDeque;

/// A read the queue is done with; the caller completes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Finished<R> {
    /// The read.
    pub(crate) read: R,
    /// How it ends.
    pub(crate) outcome: Outcome,
}

/// How a finished read ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// All its frames are done: STATUS_SUCCESS, `Information` = the output length.
    Done {
        /// The read's output length, as queued.
        output_len: usize,
    },
    /// Cancelled: STATUS_CANCELLED, `Information` 0.
    Cancelled,
}

/// What [`ReadQueue::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancel<R> {
    /// The read is not in this queue.
    NotQueued,
    /// A clone holds one of its frames: marked cancelled, it finishes when no clone holds any
    /// ([`ReadQueue::take_cancelled`]) or when all its frames are done.
    Held,
    /// Removed with its frames; the caller completes it.
    Removed(Finished<R>),
}

/// One frame of a queued read.
#[derive(Debug)]
struct Frame<R, F> {
    read: R,
    frame: F,
    /// The leading edge has moved past it.
    released: bool,
    /// Clones on it.
    clones: u32,
}

/// A queued read.
#[derive(Debug)]
struct Read<R> {
    read: R,
    frames_left: usize,
    output_len: usize,
    cancelled: bool,
}

/// The queued reads of one pin and their frames.
#[derive(Debug)]
pub(crate) struct ReadQueue<R, F> {
    frames: VecDeque<Frame<R, F>>,
    /// In arrival order.
    reads: Vec<Read<R>>,
    /// Index in `frames` of the leading edge's frame (`frames.len()`: waiting for data).
    leading: usize,
}

impl<R, F> Default for ReadQueue<R, F> {
    fn default() -> Self {
        ReadQueue {
            frames: VecDeque::new(),
            reads: Vec::new(),
            leading: 0,
        }
    }
}

impl<R: Copy + Eq, F: Copy + Eq> ReadQueue<R, F> {
    /// Queues `read` (`output_len` bytes of output) with its frames, in order, behind the frames
    /// already queued. A read needs at least one frame to finish.
    pub(crate) fn push(&mut self, read: R, output_len: usize, frames: impl IntoIterator<Item = F>) {
        let before = self.frames.len();
        self.frames.extend(frames.into_iter().map(|frame| Frame {
            read,
            frame,
            released: false,
            clones: 0,
        }));
        self.reads.push(Read {
            read,
            frames_left: self.frames.len() - before,
            output_len,
            cancelled: false,
        });
    }

    /// Whether `read` is queued (finished reads are not).
    #[cfg(test)]
    fn contains(&self, read: R) -> bool {
        self.reads.iter().any(|r| r.read == read)
    }

    /// The leading edge's frame; `None` while it waits for data.
    pub(crate) fn leading(&self) -> Option<F> {
        self.frames.get(self.leading).map(|f| f.frame)
    }

    /// The frames from the leading edge on (0: waiting for data).
    pub(crate) fn available(&self) -> usize {
        self.frames.len() - self.leading
    }

    /// Releases the leading edge's frame and moves the edge to the next one; false (nothing
    /// changed) while the edge waits for data.
    pub(crate) fn release_leading(&mut self) -> bool {
        let Some(frame) = self.frames.get_mut(self.leading) else {
            return false;
        };
        frame.released = true;
        self.leading += 1;
        true
    }

    /// A clone on `frame` (the first queued frame with that token); false if none is queued.
    pub(crate) fn hold(&mut self, frame: F) -> bool {
        match self.frames.iter_mut().find(|f| f.frame == frame) {
            Some(f) => {
                f.clones += 1;
                true
            }
            None => false,
        }
    }

    /// A clone on `frame` is gone (nothing if the frame is not queued).
    ///
    /// # Panics
    /// If no clone holds the frame (a clone released twice).
    pub(crate) fn unhold(&mut self, frame: F) {
        if let Some(f) = self.frames.iter_mut().find(|f| f.frame == frame) {
            f.clones -= 1;
        }
    }

    /// Removes the done frames (released, no clone on them) and returns the reads that have no
    /// frame left, in the order their last frame was queued.
    pub(crate) fn take_done(&mut self) -> Vec<Finished<R>> {
        let mut finished = Vec::new();
        while let Some(position) = self.frames.iter().position(|f| f.released && f.clones == 0) {
            let Some(frame) = self.frames.remove(position) else {
                break;
            };
            if position < self.leading {
                self.leading -= 1;
            }
            let Some(index) = self.reads.iter().position(|r| r.read == frame.read) else {
                continue;
            };
            let read = &mut self.reads[index];
            read.frames_left -= 1;
            if read.frames_left == 0 {
                finished.push(Self::finish(self.reads.remove(index)));
            }
        }
        finished
    }

    /// Cancels `read`: removed with its frames unless a clone holds one (see [`Cancel`]).
    pub(crate) fn cancel(&mut self, read: R) -> Cancel<R> {
        let Some(index) = self.reads.iter().position(|r| r.read == read) else {
            return Cancel::NotQueued;
        };
        if self.held(read) {
            self.reads[index].cancelled = true;
            return Cancel::Held;
        }
        Cancel::Removed(self.remove(index))
    }

    /// Cancels every read (the flush at STOP): those no clone holds are removed and returned in
    /// arrival order; the others are marked cancelled and keep their frames, all behind the
    /// leading edge, which waits for the next read's frames.
    pub(crate) fn cancel_all(&mut self) -> Vec<Finished<R>> {
        let mut finished = Vec::new();
        let mut index = 0;
        while index < self.reads.len() {
            if self.held(self.reads[index].read) {
                self.reads[index].cancelled = true;
                index += 1;
            } else {
                finished.push(self.remove(index));
            }
        }
        self.leading = self.frames.len();
        finished
    }

    /// Removes the cancelled reads no clone holds any more, with their frames, and returns them
    /// in arrival order.
    pub(crate) fn take_cancelled(&mut self) -> Vec<Finished<R>> {
        let mut finished = Vec::new();
        let mut index = 0;
        while index < self.reads.len() {
            let read = &self.reads[index];
            if read.cancelled && !self.held(read.read) {
                finished.push(self.remove(index));
            } else {
                index += 1;
            }
        }
        finished
    }

    /// Whether a clone holds one of `read`'s frames.
    fn held(&self, read: R) -> bool {
        self.frames.iter().any(|f| f.read == read && f.clones > 0)
    }

    /// Removes the read at `index` of `reads` and its frames, keeping the leading edge on its
    /// frame (or on the next one, if the removed read had it).
    fn remove(&mut self, index: usize) -> Finished<R> {
        let read = self.reads.remove(index);
        let before_leading = self
            .frames
            .iter()
            .take(self.leading)
            .filter(|f| f.read == read.read)
            .count();
        self.frames.retain(|f| f.read != read.read);
        self.leading -= before_leading;
        Finished {
            read: read.read,
            outcome: Outcome::Cancelled,
        }
    }

    /// How a read with no frame left ends.
    fn finish(read: Read<R>) -> Finished<R> {
        Finished {
            read: read.read,
            outcome: if read.cancelled {
                Outcome::Cancelled
            } else {
                Outcome::Done {
                    output_len: read.output_len,
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(read: u32, output_len: usize) -> Finished<u32> {
        Finished {
            read,
            outcome: Outcome::Done { output_len },
        }
    }

    fn cancelled(read: u32) -> Finished<u32> {
        Finished {
            read,
            outcome: Outcome::Cancelled,
        }
    }

    /// Read 1 with frames 10, 11; read 2 with frame 20.
    fn two_reads() -> ReadQueue<u32, u32> {
        let mut queue = ReadQueue::default();
        queue.push(1, 160, [10, 11]);
        queue.push(2, 80, [20]);
        queue
    }

    #[test]
    fn an_empty_queue_waits_for_data() {
        let mut queue = ReadQueue::<u32, u32>::default();
        assert_eq!(queue.leading(), None);
        assert_eq!(queue.available(), 0);
        assert!(!queue.release_leading());
        assert_eq!(queue.take_done(), []);
        assert_eq!(queue.cancel(1), Cancel::NotQueued);
        assert!(!queue.hold(10));
    }

    #[test]
    fn a_read_finishes_when_its_last_frame_is_released() {
        let mut queue = two_reads();
        assert_eq!((queue.leading(), queue.available()), (Some(10), 3));
        assert!(queue.release_leading());
        assert_eq!(queue.take_done(), [], "read 1 still has frame 11");
        assert_eq!((queue.leading(), queue.available()), (Some(11), 2));
        assert!(queue.release_leading());
        assert_eq!(queue.take_done(), [done(1, 160)]);
        assert!(!queue.contains(1) && queue.contains(2));
        assert_eq!((queue.leading(), queue.available()), (Some(20), 1));
        assert!(queue.release_leading());
        assert_eq!(queue.take_done(), [done(2, 80)]);
        assert_eq!((queue.leading(), queue.available()), (None, 0));
        assert!(!queue.release_leading());
    }

    #[test]
    fn the_leading_edge_resumes_on_the_next_read_queued() {
        let mut queue = ReadQueue::default();
        queue.push(1, 80, [10]);
        assert!(queue.release_leading());
        assert_eq!(queue.take_done(), [done(1, 80)]);
        assert_eq!(queue.leading(), None);
        queue.push(2, 80, [20]);
        assert_eq!(queue.leading(), Some(20));
    }

    #[test]
    fn a_clone_keeps_its_frame_and_read_until_it_goes() {
        let mut queue = two_reads();
        assert!(queue.hold(10));
        assert!(queue.release_leading());
        assert!(queue.release_leading());
        assert_eq!(queue.take_done(), [], "frame 10 is held");
        assert_eq!(queue.leading(), Some(20));
        queue.unhold(10);
        assert_eq!(queue.take_done(), [done(1, 160)]);
        assert_eq!((queue.leading(), queue.available()), (Some(20), 1));
    }

    #[test]
    fn a_clone_ahead_of_the_leading_edge_does_not_finish_anything() {
        let mut queue = two_reads();
        assert!(queue.hold(20));
        queue.unhold(20);
        assert_eq!(queue.take_done(), [], "frame 20 was never released");
        assert_eq!(queue.available(), 3);
    }

    #[test]
    #[should_panic]
    fn releasing_a_clone_twice_is_caught() {
        let mut queue = two_reads();
        assert!(queue.hold(10));
        queue.unhold(10);
        queue.unhold(10);
    }

    #[test]
    fn cancelling_a_read_removes_its_frames_and_keeps_the_edge_on_its_frame() {
        let mut queue = two_reads();
        queue.push(3, 80, [30]);
        assert!(queue.release_leading());
        assert!(queue.release_leading());
        // Frames 10 and 11 released but not yet taken; the edge stands on 20.
        assert_eq!(queue.cancel(1), Cancel::Removed(cancelled(1)));
        assert_eq!((queue.leading(), queue.available()), (Some(20), 2));
        assert_eq!(queue.take_done(), []);
        // Cancelling the read the edge stands on moves it to the next read's frame.
        assert_eq!(queue.cancel(2), Cancel::Removed(cancelled(2)));
        assert_eq!((queue.leading(), queue.available()), (Some(30), 1));
        assert_eq!(queue.cancel(2), Cancel::NotQueued);
    }

    #[test]
    fn a_held_read_cancelled_finishes_when_its_clone_goes() {
        let mut queue = two_reads();
        assert!(queue.hold(11));
        assert_eq!(queue.cancel(1), Cancel::Held);
        assert!(queue.contains(1));
        assert_eq!(queue.take_cancelled(), [], "still held");
        queue.unhold(11);
        assert_eq!(queue.take_cancelled(), [cancelled(1)]);
        assert_eq!((queue.leading(), queue.available()), (Some(20), 1));
        assert_eq!(queue.take_cancelled(), []);
    }

    #[test]
    fn a_cancelled_read_whose_frames_are_released_finishes_cancelled() {
        let mut queue = ReadQueue::default();
        queue.push(1, 80, [10]);
        assert!(queue.hold(10));
        assert_eq!(queue.cancel(1), Cancel::Held);
        assert!(queue.release_leading());
        queue.unhold(10);
        assert_eq!(queue.take_done(), [cancelled(1)]);
        assert_eq!(queue.take_cancelled(), []);
    }

    #[test]
    fn cancel_all_removes_the_free_reads_and_parks_the_held_ones() {
        let mut queue = two_reads();
        queue.push(3, 80, [30]);
        assert!(queue.hold(20));
        assert_eq!(queue.cancel_all(), [cancelled(1), cancelled(3)]);
        assert!(queue.contains(2));
        assert_eq!((queue.leading(), queue.available()), (None, 0));
        // A read queued after the flush is the leading edge's, ahead of the parked frame.
        queue.push(4, 80, [40]);
        assert_eq!(queue.leading(), Some(40));
        queue.unhold(20);
        assert_eq!(queue.take_done(), [], "the parked frame was never released");
        assert_eq!(queue.take_cancelled(), [cancelled(2)]);
        assert_eq!((queue.leading(), queue.available()), (Some(40), 1));
    }

    #[test]
    fn a_clone_finds_the_first_queued_frame_with_its_token() {
        let mut queue = ReadQueue::default();
        queue.push(1, 80, [10]);
        queue.push(2, 80, [10]);
        assert!(queue.hold(10));
        assert_eq!(queue.cancel(2), Cancel::Removed(cancelled(2)));
        assert_eq!(queue.cancel(1), Cancel::Held);
    }
}
