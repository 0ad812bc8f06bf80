//! The pin's read queue as plain data: the queued reads in arrival order, their frames (one per
//! KSSTREAM_HEADER, each with its own identity), the leading edge and the clones on the frames,
//! which of them are locked, and the cancellations waiting for a lock to go. It knows no IRP and
//! no KSSTREAM_POINTER: a read is an opaque token `R`, a clone an opaque token `C` (the emulation
//! uses the IRP's and the pointer's addresses) and a frame carries a payload `F` (where its header
//! and buffer are); its callers complete the reads it reports finished and call the cancel
//! callbacks of the clones it names.
//!
//! The rules ([`super::pointers`] and [`super::reads`] document the sources):
//! - the leading edge stands on the first frame not yet released, or past the last (waiting for
//!   data); advancing it releases its frame (recording how far the pointer got into it) and moves
//!   it to the next; it may be locked on its frame;
//! - a clone holds one frame (or none, once advanced past the last), found by the frame's
//!   identity; advancing a clone moves it to the next queued frame; a clone starts in its
//!   source's lock state;
//! - a frame is done when released and no clone holds it; a read finishes when all its frames
//!   are done (as it was asked, or as cancelled if it was cancelled meanwhile);
//! - cancelling a read waits while a locked pointer (the leading edge or a clone) is on one of
//!   its frames ("a locked pointer's frame cannot be cancelled"); then the read is removed with
//!   its frames, unless clones hold some: it is marked cancelled, the clones on it are named for
//!   their cancel callbacks, and it finishes when the last of them goes. The leading edge never
//!   stands on a cancelled read's frame: it moves past them (it "advances if that frame's IRP is
//!   cancelled").

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A frame's identity: unique in its queue for the queue's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FrameId(u64);

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

/// A frame that was done (released, no clone on it), with its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DoneFrame<F> {
    /// Where the frame is.
    pub(crate) payload: F,
    /// How far (bytes) the pointer that let it go last had advanced into it (`Count` -
    /// `Remaining` of its offset).
    pub(crate) advanced: u32,
    /// Its read is being cancelled (its data is not delivered).
    pub(crate) cancelled: bool,
}

/// What [`ReadQueue::settle`] found to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Settled<R, F, C> {
    /// Frames done since the last settle, in queue order.
    pub(crate) done: Vec<DoneFrame<F>>,
    /// Reads finished, to complete in this order.
    pub(crate) finished: Vec<Finished<R>>,
    /// Clones on reads just cancelled: their cancel callbacks are due.
    pub(crate) notify: Vec<C>,
}

impl<R, F, C> Default for Settled<R, F, C> {
    fn default() -> Self {
        Settled {
            done: Vec::new(),
            finished: Vec::new(),
            notify: Vec::new(),
        }
    }
}

/// Where a read's cancellation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CancelState {
    /// Not asked for.
    None,
    /// Asked for, waiting for the locks on its frames to go.
    Requested,
    /// Cancelled; waiting for the clones on its frames to go.
    Cancelled,
}

/// One frame of a queued read.
#[derive(Debug)]
struct Frame<R, F> {
    id: FrameId,
    read: R,
    payload: F,
    /// The leading edge has moved past it.
    released: bool,
    /// Clones on it.
    holds: u32,
    /// Locked clones on it.
    locks: u32,
    /// Progress of the last pointer that let it go.
    advanced: u32,
}

/// A queued read.
#[derive(Debug)]
struct Read<R> {
    read: R,
    frames_left: usize,
    output_len: usize,
    cancel: CancelState,
}

/// A clone: the frame it holds (none once advanced past the last) and whether it is locked.
#[derive(Clone, Copy, Debug)]
struct CloneState {
    frame: Option<FrameId>,
    locked: bool,
}

/// The queued reads of one pin, their frames and the pointers on them.
#[derive(Debug)]
pub(crate) struct ReadQueue<R, F, C> {
    frames: VecDeque<Frame<R, F>>,
    /// In arrival order.
    reads: Vec<Read<R>>,
    /// Index in `frames` of the leading edge's frame (`frames.len()`: waiting for data).
    leading: usize,
    leading_locked: bool,
    clones: HashMap<C, CloneState>,
    next_id: u64,
    /// How often the leading edge moved (frames or offsets): the processing loop's measure of
    /// progress.
    moves: u64,
}

impl<R, F, C> Default for ReadQueue<R, F, C> {
    fn default() -> Self {
        ReadQueue {
            frames: VecDeque::new(),
            reads: Vec::new(),
            leading: 0,
            leading_locked: false,
            clones: HashMap::new(),
            next_id: 0,
            moves: 0,
        }
    }
}

impl<R: Copy + Eq, F: Copy, C: Copy + Eq + Hash> ReadQueue<R, F, C> {
    /// Queues `read` (`output_len` bytes of output) with its frames, in order, behind the frames
    /// already queued. Returns whether the leading edge was waiting for data (nothing at or ahead
    /// of it): the "data arrives in an empty queue" of the processing rules. A read needs at
    /// least one frame to finish.
    pub(crate) fn push(
        &mut self,
        read: R,
        output_len: usize,
        frames: impl IntoIterator<Item = F>,
    ) -> bool {
        let was_empty = self.available() == 0;
        let before = self.frames.len();
        for payload in frames {
            self.next_id += 1;
            self.frames.push_back(Frame {
                id: FrameId(self.next_id),
                read,
                payload,
                released: false,
                holds: 0,
                locks: 0,
                advanced: 0,
            });
        }
        self.reads.push(Read {
            read,
            frames_left: self.frames.len() - before,
            output_len,
            cancel: CancelState::None,
        });
        was_empty
    }

    /// Whether `read` is queued (finished reads are not).
    #[cfg(test)]
    fn contains(&self, read: R) -> bool {
        self.reads.iter().any(|r| r.read == read)
    }

    fn frame(&self, id: FrameId) -> Option<&Frame<R, F>> {
        self.frames.iter().find(|f| f.id == id)
    }

    fn frame_mut(&mut self, id: FrameId) -> Option<&mut Frame<R, F>> {
        self.frames.iter_mut().find(|f| f.id == id)
    }

    fn position(&self, id: FrameId) -> Option<usize> {
        self.frames.iter().position(|f| f.id == id)
    }

    /// The payload of a queued frame.
    pub(crate) fn payload(&self, id: FrameId) -> Option<F> {
        self.frame(id).map(|f| f.payload)
    }

    /// The leading edge's frame; `None` while it waits for data.
    pub(crate) fn leading(&self) -> Option<(FrameId, F)> {
        self.frames.get(self.leading).map(|f| (f.id, f.payload))
    }

    /// The frames from the leading edge on (0: waiting for data).
    pub(crate) fn available(&self) -> usize {
        self.frames.len() - self.leading
    }

    /// How often the leading edge has moved so far.
    pub(crate) fn moves(&self) -> u64 {
        self.moves
    }

    /// Counts a move of the leading edge within its frame (offsets advanced).
    pub(crate) fn moved_within(&mut self) {
        self.moves += 1;
    }

    /// Locks or unlocks the leading edge; it can only be locked on a frame. Returns its state.
    pub(crate) fn lock_leading(&mut self, locked: bool) -> bool {
        self.leading_locked = locked && self.available() > 0;
        self.leading_locked
    }

    /// Whether the leading edge is locked.
    pub(crate) fn leading_locked(&self) -> bool {
        self.leading_locked
    }

    /// Releases the leading edge's frame (the pointer got `advanced` bytes into it) and moves
    /// the edge to the next one, keeping its lock if there is one to lock; false (nothing
    /// changed) while the edge waits for data.
    pub(crate) fn advance_leading(&mut self, advanced: u32) -> bool {
        let Some(frame) = self.frames.get_mut(self.leading) else {
            return false;
        };
        frame.released = true;
        frame.advanced = advanced;
        self.leading += 1;
        self.moves += 1;
        self.skip_cancelled();
        if self.available() == 0 {
            self.leading_locked = false;
        }
        true
    }

    /// A new clone `clone`, in lock state `locked`, on frame `frame`; false if that frame is not
    /// queued (or `clone` exists).
    pub(crate) fn add_clone(&mut self, clone: C, frame: FrameId, locked: bool) -> bool {
        if self.clones.contains_key(&clone) {
            return false;
        }
        let Some(f) = self.frame_mut(frame) else {
            return false;
        };
        f.holds += 1;
        f.locks += u32::from(locked);
        self.clones.insert(
            clone,
            CloneState {
                frame: Some(frame),
                locked,
            },
        );
        true
    }

    /// Whether `clone` exists, and the frame it holds.
    pub(crate) fn clone_frame(&self, clone: C) -> Option<Option<FrameId>> {
        self.clones.get(&clone).map(|c| c.frame)
    }

    /// Whether `clone` is locked (false if unknown).
    pub(crate) fn clone_locked(&self, clone: C) -> bool {
        self.clones.get(&clone).is_some_and(|c| c.locked)
    }

    /// Locks or unlocks a clone (a clone holding no frame cannot be locked).
    pub(crate) fn lock_clone(&mut self, clone: C, locked: bool) {
        let Some(state) = self.clones.get(&clone).copied() else {
            return;
        };
        let Some(frame) = state.frame else {
            return;
        };
        if state.locked == locked {
            return;
        }
        if let Some(f) = self.frame_mut(frame) {
            if locked {
                f.locks += 1;
            } else {
                f.locks -= 1;
            }
        }
        if let Some(c) = self.clones.get_mut(&clone) {
            c.locked = locked;
        }
    }

    /// Lets go of a clone's frame (the clone got `advanced` bytes into it).
    fn let_go(&mut self, clone: C, advanced: u32) -> Option<CloneState> {
        let state = *self.clones.get(&clone)?;
        if let Some(f) = state.frame.and_then(|frame| self.frame_mut(frame)) {
            f.holds -= 1;
            f.locks -= u32::from(state.locked);
            f.advanced = advanced;
        }
        Some(state)
    }

    /// Moves a clone to the queued frame after its own, keeping its lock state (it got
    /// `advanced` bytes into the frame it leaves). Returns the new frame; `None` if there is no
    /// next frame (the clone then holds nothing and is unlocked) or the clone is unknown.
    pub(crate) fn advance_clone(&mut self, clone: C, advanced: u32) -> Option<FrameId> {
        let old = self
            .clones
            .get(&clone)
            .and_then(|state| state.frame)
            .and_then(|frame| self.position(frame));
        let state = self.let_go(clone, advanced)?;
        let next = old
            .map(|position| position + 1)
            .and_then(|position| self.frames.get_mut(position))
            .map(|f| {
                f.holds += 1;
                f.locks += u32::from(state.locked);
                f.id
            });
        let entry = self.clones.get_mut(&clone)?;
        entry.frame = next;
        entry.locked = state.locked && next.is_some();
        next
    }

    /// Deletes a clone (it got `advanced` bytes into its frame); false if unknown.
    pub(crate) fn delete_clone(&mut self, clone: C, advanced: u32) -> bool {
        if self.let_go(clone, advanced).is_none() {
            return false;
        }
        self.clones.remove(&clone);
        true
    }

    /// Asks for `read` to be cancelled (it is done at the next [`ReadQueue::settle`], once no
    /// locked pointer is on its frames). False if it is not queued.
    pub(crate) fn request_cancel(&mut self, read: R) -> bool {
        match self.reads.iter_mut().find(|r| r.read == read) {
            Some(r) => {
                if r.cancel == CancelState::None {
                    r.cancel = CancelState::Requested;
                }
                true
            }
            None => false,
        }
    }

    /// Asks for every queued read to be cancelled (the flush at STOP).
    pub(crate) fn request_cancel_all(&mut self) {
        for read in &mut self.reads {
            if read.cancel == CancelState::None {
                read.cancel = CancelState::Requested;
            }
        }
    }

    /// Carries out what the last changes allow: the cancellations no lock holds back any more
    /// (a cancelled read's clones named for their callbacks), the leading edge moved past
    /// cancelled frames, the done frames taken out, and the reads that are over.
    pub(crate) fn settle(&mut self) -> Settled<R, F, C> {
        let mut settled = Settled::default();
        // Frames the pointers are done with first: a read whose last frame was filled while its
        // cancellation waited for a lock is delivered.
        self.take_done(&mut settled);
        let mut index = 0;
        while index < self.reads.len() {
            let read = self.reads[index].read;
            if self.reads[index].cancel != CancelState::Requested || self.locked(read) {
                index += 1;
                continue;
            }
            if self.held(read) {
                self.reads[index].cancel = CancelState::Cancelled;
                settled.notify.extend(self.clones_on(read));
                index += 1;
            } else {
                settled.finished.push(self.remove(index));
            }
        }
        self.skip_cancelled();
        self.take_done(&mut settled);
        let mut index = 0;
        while index < self.reads.len() {
            let read = &self.reads[index];
            if read.cancel == CancelState::Cancelled && !self.held(read.read) {
                settled.finished.push(self.remove(index));
            } else {
                index += 1;
            }
        }
        if self.available() == 0 {
            self.leading_locked = false;
        }
        settled
    }

    /// Moves the (unlocked) leading edge past the frames of cancelled reads.
    fn skip_cancelled(&mut self) {
        if self.leading_locked {
            return;
        }
        while let Some(frame) = self.frames.get(self.leading) {
            let cancelled = self
                .reads
                .iter()
                .any(|r| r.read == frame.read && r.cancel == CancelState::Cancelled);
            if !cancelled {
                break;
            }
            self.frames[self.leading].released = true;
            self.leading += 1;
        }
    }

    /// Removes the done frames (released, no clone on them) into `settled`, with the reads that
    /// have no frame left.
    fn take_done(&mut self, settled: &mut Settled<R, F, C>) {
        while let Some(position) = self.frames.iter().position(|f| f.released && f.holds == 0) {
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
            settled.done.push(DoneFrame {
                payload: frame.payload,
                advanced: frame.advanced,
                cancelled: read.cancel == CancelState::Cancelled,
            });
            read.frames_left -= 1;
            if read.frames_left == 0 {
                let read = self.reads.remove(index);
                settled.finished.push(Finished {
                    read: read.read,
                    outcome: if read.cancel == CancelState::Cancelled {
                        Outcome::Cancelled
                    } else {
                        Outcome::Done {
                            output_len: read.output_len,
                        }
                    },
                });
            }
        }
    }

    /// Whether a locked pointer is on one of `read`'s frames.
    fn locked(&self, read: R) -> bool {
        let leading = self.leading_locked
            && self
                .frames
                .get(self.leading)
                .is_some_and(|f| f.read == read);
        leading || self.frames.iter().any(|f| f.read == read && f.locks > 0)
    }

    /// Whether a clone holds one of `read`'s frames.
    fn held(&self, read: R) -> bool {
        self.frames.iter().any(|f| f.read == read && f.holds > 0)
    }

    /// The clones on `read`'s frames.
    fn clones_on(&self, read: R) -> Vec<C> {
        let frames: Vec<FrameId> = self
            .frames
            .iter()
            .filter(|f| f.read == read)
            .map(|f| f.id)
            .collect();
        self.clones
            .iter()
            .filter(|(_, c)| c.frame.is_some_and(|f| frames.contains(&f)))
            .map(|(&clone, _)| clone)
            .collect()
    }

    /// Removes the read at `index` of `reads` and its frames (none held), keeping the leading
    /// edge on its frame (or on the next one, if the removed read had it).
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
}

#[cfg(test)]
mod tests {
    use super::*;

    type Queue = ReadQueue<u32, u32, u32>;

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

    /// Read 1 with frames 10, 11; read 2 with frame 20 (payloads).
    fn two_reads() -> Queue {
        let mut queue = Queue::default();
        assert!(queue.push(1, 160, [10, 11]), "into an empty queue");
        assert!(!queue.push(2, 80, [20]), "behind queued frames");
        queue
    }

    fn leading_payload(queue: &Queue) -> Option<u32> {
        queue.leading().map(|(_, payload)| payload)
    }

    #[test]
    fn an_empty_queue_waits_for_data() {
        let mut queue = Queue::default();
        assert_eq!(queue.leading(), None);
        assert_eq!(queue.available(), 0);
        assert!(!queue.advance_leading(0));
        assert!(!queue.lock_leading(true), "nothing to lock");
        assert_eq!(queue.settle(), Settled::default());
        assert!(!queue.request_cancel(1));
        assert!(!queue.add_clone(7, FrameId(1), false));
    }

    #[test]
    fn a_read_finishes_when_its_last_frame_is_released_and_reports_each_frame() {
        let mut queue = two_reads();
        assert_eq!((leading_payload(&queue), queue.available()), (Some(10), 3));
        assert!(queue.advance_leading(16));
        let settled = queue.settle();
        assert_eq!(settled.finished, [], "read 1 still has frame 11");
        assert_eq!(
            settled.done,
            [DoneFrame {
                payload: 10,
                advanced: 16,
                cancelled: false
            }]
        );
        assert!(queue.advance_leading(0));
        assert_eq!(queue.settle().finished, [done(1, 160)]);
        assert!(!queue.contains(1) && queue.contains(2));
        assert_eq!((leading_payload(&queue), queue.available()), (Some(20), 1));
        assert!(queue.advance_leading(0));
        assert_eq!(queue.settle().finished, [done(2, 80)]);
        assert_eq!((queue.leading(), queue.available()), (None, 0));
        assert_eq!(queue.moves(), 3);
    }

    #[test]
    fn push_reports_whether_the_leading_edge_was_waiting() {
        let mut queue = Queue::default();
        assert!(queue.push(1, 80, [10]));
        assert!(!queue.push(2, 80, [20]), "a frame is at the leading edge");
        assert!(queue.advance_leading(0));
        assert!(queue.advance_leading(0));
        assert!(queue.push(3, 80, [30]), "every frame consumed: empty again");
    }

    #[test]
    fn the_leading_edge_keeps_its_lock_while_it_has_a_frame() {
        let mut queue = two_reads();
        assert!(queue.lock_leading(true));
        assert!(queue.advance_leading(0));
        assert!(queue.leading_locked(), "relocked on frame 11");
        assert!(queue.advance_leading(0));
        assert!(queue.advance_leading(0));
        assert!(
            !queue.leading_locked(),
            "nothing to lock after the last frame"
        );
    }

    #[test]
    fn frames_are_told_apart_by_identity_not_payload() {
        // Two reads whose frames have the same payload (the same header address reused).
        let mut queue = Queue::default();
        queue.push(1, 80, [10]);
        queue.push(2, 80, [10]);
        let (first, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, first, false));
        assert!(queue.advance_leading(0));
        let (second, _) = queue.leading().unwrap();
        assert_ne!(first, second);
        assert!(queue.advance_leading(0));
        let settled = queue.settle();
        assert_eq!(
            settled.finished,
            [done(2, 80)],
            "only the unheld frame's read"
        );
        assert!(queue.delete_clone(7, 0));
        assert_eq!(queue.settle().finished, [done(1, 80)]);
    }

    #[test]
    fn a_clone_keeps_its_frame_and_read_until_it_goes() {
        let mut queue = two_reads();
        let (frame, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, frame, false));
        assert!(queue.advance_leading(0));
        assert!(queue.advance_leading(0));
        assert_eq!(queue.settle().finished, [], "frame 10 is held");
        assert_eq!(leading_payload(&queue), Some(20));
        assert!(queue.delete_clone(7, 5));
        let settled = queue.settle();
        assert_eq!(settled.finished, [done(1, 160)]);
        assert_eq!(settled.done[0].advanced, 5, "the clone let it go last");
        assert!(!queue.delete_clone(7, 0), "deleted once");
    }

    #[test]
    fn advancing_a_clone_moves_it_to_the_next_frame() {
        let mut queue = two_reads();
        let (first, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, first, true));
        let second = queue.advance_clone(7, 0).expect("frame 11 follows");
        assert_eq!(queue.payload(second), Some(11));
        assert_eq!(queue.clone_frame(7), Some(Some(second)));
        assert!(queue.clone_locked(7), "its lock state is kept");
        let third = queue.advance_clone(7, 0).expect("frame 20 follows");
        assert_eq!(queue.payload(third), Some(20));
        assert_eq!(queue.advance_clone(7, 0), None, "past the last frame");
        assert_eq!(queue.clone_frame(7), Some(None));
        assert!(!queue.clone_locked(7));
        // Every frame is free again: the leading edge finishes the reads.
        for _ in 0..3 {
            queue.advance_leading(0);
        }
        assert_eq!(queue.settle().finished, [done(1, 160), done(2, 80)]);
        assert!(queue.delete_clone(7, 0));
    }

    #[test]
    fn a_clone_ahead_of_the_leading_edge_does_not_finish_anything() {
        let mut queue = two_reads();
        let (first, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, first, false));
        queue.advance_clone(7, 0);
        queue.advance_clone(7, 0);
        assert!(queue.delete_clone(7, 0));
        assert_eq!(queue.settle().finished, [], "no frame was released");
        assert_eq!(queue.available(), 3);
    }

    #[test]
    fn cancelling_a_read_removes_its_frames_and_keeps_the_edge_on_its_frame() {
        let mut queue = two_reads();
        queue.push(3, 80, [30]);
        assert!(queue.advance_leading(7));
        // Frame 10 released, not yet taken; the edge stands on 11, read 1's second frame.
        assert!(queue.request_cancel(1));
        let settled = queue.settle();
        assert_eq!(settled.finished, [cancelled(1)]);
        assert_eq!(
            settled.done,
            [DoneFrame {
                payload: 10,
                advanced: 7,
                cancelled: false
            }],
            "the frame the pointer had finished is reported, the removed one is not"
        );
        assert_eq!((leading_payload(&queue), queue.available()), (Some(20), 2));
        // Cancelling a read ahead of the edge leaves the edge where it is.
        assert!(queue.request_cancel(3));
        assert_eq!(queue.settle().finished, [cancelled(3)]);
        assert_eq!((leading_payload(&queue), queue.available()), (Some(20), 1));
        assert!(queue.request_cancel(2));
        assert_eq!(queue.settle().finished, [cancelled(2)]);
        assert_eq!(queue.available(), 0);
        assert!(!queue.request_cancel(2));
    }

    #[test]
    fn a_read_whose_frames_were_all_released_is_delivered_despite_a_late_cancel() {
        let mut queue = two_reads();
        queue.advance_leading(0);
        queue.advance_leading(0);
        assert!(queue.request_cancel(1));
        assert_eq!(queue.settle().finished, [done(1, 160)]);
    }

    #[test]
    fn a_locked_leading_edge_keeps_its_read_from_being_cancelled_until_unlocked() {
        let mut queue = two_reads();
        assert!(queue.lock_leading(true));
        assert!(queue.request_cancel(1));
        assert_eq!(queue.settle().finished, [], "its frame is locked");
        assert!(queue.contains(1));
        assert!(queue.request_cancel(2));
        assert_eq!(
            queue.settle().finished,
            [cancelled(2)],
            "read 2 is not locked"
        );
        queue.lock_leading(false);
        assert_eq!(queue.settle().finished, [cancelled(1)]);
        assert_eq!(queue.available(), 0);
    }

    #[test]
    fn a_cancel_loses_to_the_pointer_that_finishes_the_read_meanwhile() {
        let mut queue = Queue::default();
        queue.push(1, 80, [10]);
        assert!(queue.lock_leading(true));
        assert!(queue.request_cancel(1));
        assert_eq!(queue.settle().finished, []);
        assert!(queue.advance_leading(12));
        let settled = queue.settle();
        assert_eq!(
            settled.finished,
            [done(1, 80)],
            "filled before the lock went"
        );
        assert!(!settled.done[0].cancelled);
    }

    #[test]
    fn a_locked_clone_keeps_its_read_from_being_cancelled() {
        let mut queue = two_reads();
        let (frame, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, frame, true));
        assert!(queue.advance_leading(0));
        assert!(queue.request_cancel(1));
        let settled = queue.settle();
        assert_eq!((settled.finished, settled.notify), (vec![], vec![]));
        queue.lock_clone(7, false);
        let settled = queue.settle();
        assert_eq!(settled.notify, [7], "unlocked: cancelled, its clone told");
        assert_eq!(settled.finished, []);
        assert_eq!(
            leading_payload(&queue),
            Some(20),
            "the edge left the cancelled read"
        );
        assert!(queue.delete_clone(7, 0));
        let settled = queue.settle();
        assert_eq!(settled.finished, [cancelled(1)]);
        assert!(settled.done.iter().all(|d| d.cancelled));
    }

    #[test]
    fn a_held_read_cancelled_names_its_clones_and_finishes_when_they_go() {
        let mut queue = two_reads();
        queue.advance_leading(0);
        let (frame, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, frame, false));
        assert!(queue.add_clone(8, frame, false));
        assert!(queue.request_cancel(1));
        let settled = queue.settle();
        let mut notify = settled.notify.clone();
        notify.sort_unstable();
        assert_eq!(notify, [7, 8]);
        assert_eq!(settled.finished, []);
        assert_eq!(
            leading_payload(&queue),
            Some(20),
            "the leading edge moved past the cancelled read's frame"
        );
        assert_eq!(queue.settle().notify, [], "told once");
        assert!(queue.delete_clone(7, 0));
        assert_eq!(queue.settle().finished, []);
        assert!(queue.delete_clone(8, 0));
        assert_eq!(queue.settle().finished, [cancelled(1)]);
        assert_eq!((leading_payload(&queue), queue.available()), (Some(20), 1));
    }

    #[test]
    fn the_flush_cancels_every_read_the_locks_allow() {
        let mut queue = two_reads();
        queue.push(3, 80, [30]);
        let (frame, _) = queue.leading().unwrap();
        queue.advance_leading(0);
        queue.advance_leading(0);
        let (twenty, _) = queue.leading().unwrap();
        assert!(queue.add_clone(7, twenty, false));
        assert!(queue.add_clone(8, frame, true));
        queue.request_cancel_all();
        let settled = queue.settle();
        assert_eq!(settled.finished, [cancelled(3)]);
        assert_eq!(settled.notify, [7], "read 2's clone; read 1 is locked");
        assert_eq!(queue.available(), 0, "nothing left to process");
        // A read queued after the flush is the leading edge's.
        queue.push(4, 80, [40]);
        assert_eq!(leading_payload(&queue), Some(40));
        assert!(queue.delete_clone(7, 0));
        assert_eq!(queue.settle().finished, [cancelled(2)]);
        assert!(queue.delete_clone(8, 0));
        assert_eq!(
            queue.settle().finished,
            [done(1, 160)],
            "its frames had all been released before the flush"
        );
        assert_eq!((leading_payload(&queue), queue.available()), (Some(40), 1));
    }
}
