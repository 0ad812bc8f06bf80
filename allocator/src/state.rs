//! One allocator's state and what happens on ALLOC and FREE: the behaviour, without the IRPs.
//!
//! The IRP adapter keeps an [`AllocatorState`] under a spin lock and a queue of waiting ALLOC
//! requests next to it. On FREE the state gives the frame back, signals `FREEFRAME` listeners,
//! hands free frames to the waiters in arrival order, and signals `INTERNAL_FREEFRAME` listeners
//! if a frame is still free afterwards. So a frame is never free while a request waits.

use core::ops::DerefMut;

use ks::ks::KSSTREAMALLOCATOR_STATUS;

use crate::error::Error;
use crate::events::{EventTable, Registration};
use crate::frames::{FrameBook, Slot};
use crate::framing::Framing;
use crate::requests::AllocatorEvent;

/// The requests waiting for a frame, in arrival order (the adapter's queue of pending ALLOC IRPs).
pub trait Waiters {
    /// What a waiter is (an IRP pointer in the driver).
    type Waiter;
    /// Takes the oldest waiter that can still be served (cancelled ones are skipped).
    fn pop_front(&mut self) -> Option<Self::Waiter>;
}

/// No waiters: for callers that never queue (the function table, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoWaiters;

impl Waiters for NoWaiters {
    type Waiter = core::convert::Infallible;
    fn pop_front(&mut self) -> Option<Self::Waiter> {
        None
    }
}

/// The state of one allocator.
#[derive(Debug)]
pub struct AllocatorState<S, I> {
    framing: Framing,
    book: FrameBook<S, I>,
    events: EventTable,
}

impl<S, I> AllocatorState<S, I>
where
    S: DerefMut<Target = [Slot]>,
    I: DerefMut<Target = [u32]>,
{
    /// A state over a frame book built for `framing`.
    pub fn new(framing: Framing, book: FrameBook<S, I>) -> AllocatorState<S, I> {
        AllocatorState {
            framing,
            book,
            events: EventTable::new(),
        }
    }

    /// The framing the allocator was created with.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// The frames.
    pub fn book(&self) -> &FrameBook<S, I> {
        &self.book
    }

    /// The enabled events.
    pub fn events(&mut self) -> &mut EventTable {
        &mut self.events
    }

    /// KSPROPERTY_STREAMALLOCATOR_STATUS: the framing and the frames outstanding now.
    pub fn status(&self) -> KSSTREAMALLOCATOR_STATUS {
        KSSTREAMALLOCATOR_STATUS {
            Framing: self.framing.to_raw(),
            AllocatedFrames: self.book.outstanding(),
            Reserved: 0,
        }
    }

    /// ALLOC: a free frame, or [`Error::AllFramesOutstanding`].
    pub fn allocate(&mut self) -> Result<usize, Error> {
        self.book.allocate()
    }

    /// FREE: gives the frame back, then signals and serves as the module documents.
    ///
    /// `serve(waiter, frame)` is called for each waiter that gets a frame, in order; `signal`
    /// for each event registration to signal. A refused free ([`Error::ForeignFrame`],
    /// [`Error::FrameNotOutstanding`]) calls neither and changes nothing.
    pub fn free<W: Waiters>(
        &mut self,
        address: usize,
        waiters: &mut W,
        mut serve: impl FnMut(W::Waiter, usize),
        mut signal: impl FnMut(&Registration),
    ) -> Result<(), Error> {
        self.book.free(address)?;
        self.events
            .of(AllocatorEvent::FreeFrame)
            .for_each(&mut signal);
        while self.book.has_free_frame() {
            let Some(waiter) = waiters.pop_front() else {
                break;
            };
            let frame = self.book.allocate()?;
            serve(waiter, frame);
        }
        if self.book.has_free_frame() {
            self.events
                .of(AllocatorEvent::InternalFreeFrame)
                .for_each(&mut signal);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::collections::VecDeque;
    use std::vec;
    use std::vec::Vec;

    use ks::ks::KSALLOCATOR_FRAMING;

    use super::*;
    use crate::frames::index_len;

    struct Queue(VecDeque<u32>);
    impl Waiters for Queue {
        type Waiter = u32;
        fn pop_front(&mut self) -> Option<u32> {
            self.0.pop_front()
        }
    }

    fn state(frames: usize) -> AllocatorState<Vec<Slot>, Vec<u32>> {
        let raw = KSALLOCATOR_FRAMING {
            Frames: frames as u32,
            FrameSize: 64,
            ..Default::default()
        };
        let framing = Framing::validate(&raw).unwrap();
        let slots = (1..=frames)
            .map(|i| Slot::new(i * 0x100, i * 0x100))
            .collect();
        let book = FrameBook::new(slots, vec![0; index_len(frames)], 0)
            .map_err(|(e, _)| e)
            .unwrap();
        AllocatorState::new(framing, book)
    }

    fn listen(state: &mut AllocatorState<Vec<Slot>, Vec<u32>>, key: usize, event: AllocatorEvent) {
        state
            .events()
            .add(Registration {
                event,
                key,
                notification: crate::requests::Notification::EventObject { event: key },
                object: key,
                referenced: false,
            })
            .unwrap();
    }

    #[test]
    fn status_counts_outstanding_frames_up_and_down() {
        let mut state = state(2);
        let a = state.allocate().unwrap();
        assert_eq!(state.status().AllocatedFrames, 1);
        let b = state.allocate().unwrap();
        assert_eq!(state.status().AllocatedFrames, 2);
        state
            .free(a, &mut NoWaiters, |never, _| match never {}, |_| ())
            .unwrap();
        assert_eq!(state.status().AllocatedFrames, 1);
        state
            .free(b, &mut NoWaiters, |never, _| match never {}, |_| ())
            .unwrap();
        assert_eq!(state.status().AllocatedFrames, 0);
        assert_eq!(state.status().Framing.Frames, 2);
    }

    #[test]
    fn frees_serve_waiters_in_order_and_signal_the_right_events() {
        let mut state = state(2);
        listen(&mut state, 1, AllocatorEvent::FreeFrame);
        listen(&mut state, 2, AllocatorEvent::InternalFreeFrame);
        let a = state.allocate().unwrap();
        let b = state.allocate().unwrap();
        let mut queue = Queue(VecDeque::from([7, 8, 9]));
        let mut served = Vec::new();
        let mut signalled = Vec::new();
        state
            .free(
                b,
                &mut queue,
                |w, f| served.push((w, f)),
                |r| signalled.push(r.key),
            )
            .unwrap();
        assert_eq!(served, [(7, b)]);
        // FREEFRAME on every free; INTERNAL_FREEFRAME only if a frame stayed free.
        assert_eq!(signalled, [1]);
        state
            .free(
                a,
                &mut queue,
                |w, f| served.push((w, f)),
                |r| signalled.push(r.key),
            )
            .unwrap();
        assert_eq!(served, [(7, b), (8, a)]);
        assert_eq!(state.status().AllocatedFrames, 2);
        let mut empty = Queue(VecDeque::new());
        signalled.clear();
        state
            .free(
                a,
                &mut empty,
                |w, f| served.push((w, f)),
                |r| signalled.push(r.key),
            )
            .unwrap();
        assert_eq!(signalled, [1, 2]);
        assert_eq!(queue.0, [9]);
    }

    #[test]
    fn a_refused_free_serves_and_signals_nothing() {
        let mut state = state(1);
        listen(&mut state, 1, AllocatorEvent::FreeFrame);
        let mut queue = Queue(VecDeque::from([7]));
        let (mut served, mut signalled) = (0, 0);
        assert_eq!(
            state.free(0x999, &mut queue, |_, _| served += 1, |_| signalled += 1),
            Err(Error::ForeignFrame { address: 0x999 })
        );
        assert_eq!(
            state.free(0x100, &mut queue, |_, _| served += 1, |_| signalled += 1),
            Err(Error::FrameNotOutstanding { address: 0x100 })
        );
        assert_eq!((served, signalled), (0, 0));
        assert_eq!(queue.0, [7]);
    }
}
