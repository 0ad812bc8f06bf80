//! Property tests: random framings and random sequences of ALLOC (IOCTL and function table),
//! FREE (IOCTL and function table), foreign and double frees, checked against a model after
//! every step: outstanding <= Frames, AllocatedFrames == outstanding, every frame aligned as
//! requested and FrameSize long (written in full and checked intact), waiting ALLOCs served in
//! order.

mod common;

use std::collections::VecDeque;
use std::ffi::c_void;

use avcam_emulation::PendingIrp;
use common::{framing, Fixture};
use ks::ks::file_alignment;
use ks::status::{STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// ALLOC through IOCTL_KS_METHOD (waits when all frames are out).
    AllocMethod,
    /// AllocateFrame through the function table.
    AllocTable,
    /// FREE (method or table) of the n-th outstanding frame.
    Free { pick: usize, through_table: bool },
    /// FREE of an address near an outstanding frame that is not a frame.
    FreeForeign { pick: usize, offset: usize },
    /// FREE of the most recently freed frame again (if it was not handed out since).
    FreeAgain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::AllocMethod),
        3 => Just(Op::AllocTable),
        5 => (any::<usize>(), any::<bool>()).prop_map(|(pick, through_table)| Op::Free { pick, through_table }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(pick, offset)| Op::FreeForeign { pick, offset }),
        1 => Just(Op::FreeAgain),
    ]
}

const MASKS: [u32; 6] = [
    file_alignment::BYTE,
    file_alignment::LONG,
    file_alignment::OCTA,
    file_alignment::B64,
    file_alignment::B512,
    0xFFF,
];

/// The model's view of a frame: its address and the byte it was filled with.
#[derive(Debug, Clone, Copy)]
struct Held {
    address: usize,
    fill: u8,
}

struct Run {
    fixture: Fixture,
    file: avcam_emulation::File,
    frames: u32,
    frame_size: usize,
    mask: usize,
    held: Vec<Held>,
    waiting: VecDeque<PendingIrp>,
    last_freed: Option<usize>,
    next_fill: u8,
}

impl Run {
    fn take(&mut self, address: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            address & self.mask,
            0,
            "frame {:#x} misaligned for mask {:#x}",
            address,
            self.mask
        );
        prop_assert!(
            self.held.iter().all(|h| h.address != address),
            "frame {:#x} handed out twice",
            address
        );
        self.next_fill = self.next_fill.wrapping_add(1).max(1);
        // SAFETY: an outstanding frame is FrameSize writable bytes owned by its holder (us).
        unsafe { std::ptr::write_bytes(address as *mut u8, self.next_fill, self.frame_size) };
        self.held.push(Held {
            address,
            fill: self.next_fill,
        });
        Ok(())
    }

    fn check_intact(&self, held: &Held) -> Result<(), TestCaseError> {
        // SAFETY: the frame is outstanding, so its FrameSize bytes are ours to read.
        let bytes =
            unsafe { std::slice::from_raw_parts(held.address as *const u8, self.frame_size) };
        prop_assert!(
            bytes.iter().all(|&b| b == held.fill),
            "frame {:#x} was written by someone else",
            held.address
        );
        Ok(())
    }

    fn table_call<T>(&self, call: impl FnOnce(*mut ks::nt::FILE_OBJECT) -> T) -> T {
        let _entered = self.fixture.kernel.enter();
        call(self.fixture.kernel.file_object(self.file))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let (allocate, free) = self.fixture.function_table(self.file);
        match *op {
            Op::AllocMethod => match self.fixture.alloc_async(self.file) {
                avcam_emulation::AsyncIo::Done(done) => {
                    prop_assert_eq!(done.result.status, STATUS_SUCCESS);
                    prop_assert!(self.held.len() < self.frames as usize && self.waiting.is_empty());
                    self.take(usize::from_ne_bytes(done.output[..8].try_into().unwrap()))?;
                }
                avcam_emulation::AsyncIo::Pending(irp) => {
                    prop_assert_eq!(
                        self.held.len(),
                        self.frames as usize,
                        "waits only when all are out"
                    );
                    self.waiting.push_back(irp);
                }
            },
            Op::AllocTable => {
                let mut frame: *mut c_void = std::ptr::null_mut();
                // SAFETY: the live allocator's file object; `frame` is writable.
                let status = self.table_call(|object| unsafe { allocate(object, &mut frame) });
                if self.held.len() < self.frames as usize {
                    prop_assert_eq!(status, STATUS_SUCCESS);
                    self.take(frame as usize)?;
                } else {
                    prop_assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
                    prop_assert!(frame.is_null());
                }
            }
            Op::Free {
                pick,
                through_table,
            } => {
                if self.held.is_empty() {
                    return Ok(());
                }
                let held = self.held.remove(pick % self.held.len());
                self.check_intact(&held)?;
                if through_table {
                    // SAFETY: as above.
                    self.table_call(|object| unsafe { free(object, held.address as *mut c_void) });
                } else {
                    prop_assert_eq!(
                        self.fixture.free(self.file, held.address).status,
                        STATUS_SUCCESS
                    );
                }
                self.last_freed = Some(held.address);
                if let Some(waiter) = self.waiting.pop_front() {
                    let result = waiter.poll();
                    prop_assert_eq!(
                        result.map(|r| r.status),
                        Some(STATUS_SUCCESS),
                        "the oldest waiter is served"
                    );
                    let output = waiter.output().unwrap();
                    let served = usize::from_ne_bytes(output[..8].try_into().unwrap());
                    prop_assert_eq!(served, held.address, "the freed frame goes to the waiter");
                    self.last_freed = None;
                    self.take(served)?;
                }
                for waiter in &self.waiting {
                    prop_assert!(waiter.poll().is_none(), "younger waiters keep waiting");
                }
            }
            Op::FreeForeign { pick, offset } => {
                let base = self
                    .held
                    .get(pick % self.held.len().max(1))
                    .map_or(0x1000, |h| h.address);
                let address = base + offset;
                if self.held.iter().any(|h| h.address == address) {
                    return Ok(());
                }
                // Any address not outstanding is refused: not a frame at all, or a free frame.
                let result = self.fixture.free(self.file, address);
                prop_assert_eq!(result.status, STATUS_INVALID_PARAMETER);
            }
            Op::FreeAgain => {
                let still_free = |address: &usize| self.held.iter().all(|h| h.address != *address);
                if let Some(address) = self.last_freed.filter(still_free) {
                    prop_assert_eq!(
                        self.fixture.free(self.file, address).status,
                        STATUS_INVALID_PARAMETER
                    );
                }
            }
        }
        let status = self.fixture.status(self.file);
        prop_assert!(self.held.len() <= self.frames as usize);
        prop_assert_eq!(status.AllocatedFrames as usize, self.held.len());
        Ok(())
    }
}

proptest! {
    // 256 cases (proptest's default; PROPTEST_CASES overrides it, as scripts/miri.sh does).
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn random_alloc_free_sequences_keep_every_invariant(
        frames in 1u32..6,
        frame_size in 1u32..3000,
        mask_index in 0usize..MASKS.len(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let fixture = Fixture::new();
        let mask = MASKS[mask_index];
        let file = fixture.create(&framing(frames, frame_size, mask)).unwrap();
        let mut run = Run {
            fixture,
            file,
            frames,
            frame_size: frame_size as usize,
            mask: mask as usize,
            held: Vec::new(),
            waiting: VecDeque::new(),
            last_freed: None,
            next_fill: 0,
        };
        for op in &ops {
            run.step(op)?;
        }
        for held in &run.held {
            run.check_intact(held)?;
        }
        let Run { fixture, file, waiting, .. } = run;
        // Closing the handle leaves the waiting allocs pending (the CLOSE waits for them); the
        // client cancels them, and the CLOSE follows the last.
        fixture.kernel.close(file);
        for waiter in waiting {
            prop_assert_eq!(waiter.poll(), None);
            prop_assert!(waiter.cancel());
            prop_assert_eq!(waiter.poll().map(|r| r.status), Some(ks::status::STATUS_CANCELLED));
        }
        fixture.finish();
    }
}
