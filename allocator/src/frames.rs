//! Frame accounting: which frames exist, which are outstanding, and which one to hand out next.
//!
//! All of an allocator's frames exist from its creation to its close (pool frames and external
//! `DefaultAllocate` frames alike are obtained at create), so after create nothing is ever
//! allocated: ALLOC pops a free list and FREE pushes it back, both O(1). FREE finds the frame's
//! slot through an open-addressing hash index built once at create (expected O(1), linear
//! probing, load factor at most 1/2), which is also how a pointer this allocator never handed out,
//! or one already freed, is refused without touching any state.
//!
//! The book holds no memory of its own: the slot table and the index are storage the caller
//! provides (pool arrays in the driver, `Vec`s or arrays in tests), and frame addresses are plain
//! numbers it never dereferences.

use core::ops::DerefMut;

use crate::error::Error;
use crate::framing::MAX_FRAMES;

/// The end of the free list and an empty index bucket.
const NONE: u32 = u32::MAX;

/// One frame's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    address: usize,
    backing: usize,
    next_free: u32,
    outstanding: bool,
}

impl Slot {
    /// A placeholder to fill storage with before the frames are known.
    pub const EMPTY: Slot = Slot {
        address: 0,
        backing: 0,
        next_free: NONE,
        outstanding: false,
    };

    /// A frame at `address` (what clients get), obtained from its memory source as `backing`
    /// (what is given back at close; equal to `address` unless the start was aligned up).
    pub const fn new(address: usize, backing: usize) -> Slot {
        Slot {
            address,
            backing,
            next_free: NONE,
            outstanding: false,
        }
    }

    /// The address to give back to the memory source.
    pub const fn backing(&self) -> usize {
        self.backing
    }
}

/// The length of the hash index for `frames` frames: the smallest power of two at least twice
/// the frame count (so at most half the buckets are used and probes stay short).
pub const fn index_len(frames: usize) -> usize {
    let wanted = if frames == 0 { 2 } else { frames * 2 };
    wanted.next_power_of_two()
}

/// The frames of one allocator and their state.
///
/// Invariants (kept by every method, checked by the tests): every slot is either on the free list
/// exactly once or outstanding; `outstanding()` is the number of outstanding slots; the index
/// maps each slot's address to its position and nothing else.
#[derive(Debug)]
pub struct FrameBook<S, I> {
    slots: S,
    index: I,
    free_head: u32,
    outstanding: u32,
}

impl<S, I> FrameBook<S, I>
where
    S: DerefMut<Target = [Slot]>,
    I: DerefMut<Target = [u32]>,
{
    /// Takes the frames in `slots` (built with [`Slot::new`]) and an index of
    /// [`index_len`]`(slots.len())` entries, checks each frame honours `alignment_mask` and
    /// appears once, and puts them all on the free list.
    ///
    /// Errors: [`Error::MisalignedFrame`], [`Error::DuplicateFrame`], [`Error::OutOfMemory`] for
    /// a null frame, and [`Error::TooManyFrames`] for more than [`MAX_FRAMES`] frames or an index
    /// of another length. On error
    /// the slots come back with the error, so the caller can still give every frame back.
    pub fn new(mut slots: S, mut index: I, alignment_mask: u32) -> Result<Self, (Error, S)> {
        match link(&mut slots, &mut index, alignment_mask) {
            Ok(()) => {
                let free_head = if slots.is_empty() { NONE } else { 0 };
                Ok(FrameBook {
                    slots,
                    index,
                    free_head,
                    outstanding: 0,
                })
            }
            Err(error) => Err((error, slots)),
        }
    }

    /// Hands out a free frame's address, O(1); [`Error::AllFramesOutstanding`] when none is free.
    pub fn allocate(&mut self) -> Result<usize, Error> {
        let position = self.free_head;
        let slot = self
            .slots
            .get_mut(position as usize)
            .ok_or(Error::AllFramesOutstanding)?;
        self.free_head = slot.next_free;
        slot.next_free = NONE;
        slot.outstanding = true;
        self.outstanding += 1;
        Ok(slot.address)
    }

    /// Takes back an outstanding frame, expected O(1). A foreign address
    /// ([`Error::ForeignFrame`]) or a frame that is not outstanding
    /// ([`Error::FrameNotOutstanding`]) is refused and changes nothing.
    pub fn free(&mut self, address: usize) -> Result<(), Error> {
        let position = self
            .position_of(address)
            .ok_or(Error::ForeignFrame { address })?;
        let slot = &mut self.slots[position as usize];
        if !slot.outstanding {
            return Err(Error::FrameNotOutstanding { address });
        }
        slot.outstanding = false;
        slot.next_free = self.free_head;
        self.free_head = position;
        self.outstanding -= 1;
        Ok(())
    }

    /// The number of frames handed out and not yet freed (`AllocatedFrames`).
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Whether a frame is free right now.
    pub fn has_free_frame(&self) -> bool {
        self.free_head != NONE
    }

    /// Every frame, free or outstanding (for close, which gives them all back).
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    fn position_of(&self, address: usize) -> Option<u32> {
        for bucket in probe(address, self.index.len() - 1) {
            let position = self.index[bucket];
            if position == NONE {
                return None;
            }
            if self.slots[position as usize].address == address {
                return Some(position);
            }
        }
        None
    }
}

/// Checks the frames, chains them all into the free list (in order) and fills the index.
fn link(slots: &mut [Slot], index: &mut [u32], alignment_mask: u32) -> Result<(), Error> {
    let count = slots.len();
    let count_u32 = u32::try_from(count).ok().filter(|&c| c <= MAX_FRAMES);
    let Some(count_u32) = count_u32.filter(|_| index.len() == index_len(count)) else {
        let frames = u32::try_from(count).unwrap_or(u32::MAX);
        return Err(Error::TooManyFrames { frames });
    };
    index.fill(NONE);
    let mask = index.len() - 1;
    for position in 0..count_u32 {
        let slot = &mut slots[position as usize];
        let address = slot.address;
        if address == 0 {
            return Err(Error::OutOfMemory { bytes: 0 });
        }
        if address & alignment_mask as usize != 0 {
            return Err(Error::MisalignedFrame {
                address,
                mask: alignment_mask,
            });
        }
        slot.outstanding = false;
        slot.next_free = if position + 1 < count_u32 {
            position + 1
        } else {
            NONE
        };
        let free_or_same = probe(address, mask).find(|&bucket| match index[bucket] {
            NONE => true,
            other => slots[other as usize].address == address,
        });
        // The index has at least twice as many buckets as there are frames, so the probe always
        // meets a free bucket (or the same address).
        let Some(bucket) = free_or_same else {
            return Err(Error::TooManyFrames { frames: count_u32 });
        };
        if index[bucket] != NONE {
            return Err(Error::DuplicateFrame { address });
        }
        index[bucket] = position;
    }
    Ok(())
}

/// The buckets a lookup or an insert visits for `address`, in order: linear probing from its
/// hash bucket, each bucket at most once, so a probe ends even in an index with no free bucket
/// (which `link` never builds: a spinning probe would hang a FREE at DISPATCH_LEVEL).
fn probe(address: usize, mask: usize) -> impl Iterator<Item = usize> {
    let start = bucket_of(address, mask);
    (0..=mask).map(move |step| (start + step) & mask)
}

/// Fibonacci hashing of the address (low 4 bits dropped: frames are at least 16 apart).
fn bucket_of(address: usize, mask: usize) -> usize {
    let mixed = ((address as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as usize & mask
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    fn book(addresses: &[usize], mask: u32) -> Result<FrameBook<Vec<Slot>, Vec<u32>>, Error> {
        let slots: Vec<Slot> = addresses.iter().map(|&a| Slot::new(a, a)).collect();
        let index = vec![0; index_len(slots.len())];
        FrameBook::new(slots, index, mask).map_err(|(error, back)| {
            assert_eq!(back.len(), addresses.len(), "the slots come back whole");
            error
        })
    }

    #[test]
    fn frames_are_handed_out_until_none_is_free_then_recycled() {
        let mut book = book(&[0x1000, 0x2000, 0x3000], 0xFFF).unwrap();
        let mut seen = BTreeSet::new();
        for _ in 0..3 {
            assert!(seen.insert(book.allocate().unwrap()));
        }
        assert_eq!(seen, BTreeSet::from([0x1000, 0x2000, 0x3000]));
        assert_eq!(book.outstanding(), 3);
        assert!(!book.has_free_frame());
        assert_eq!(book.allocate(), Err(Error::AllFramesOutstanding));
        book.free(0x2000).unwrap();
        assert_eq!(book.outstanding(), 2);
        assert_eq!(book.allocate(), Ok(0x2000));
    }

    #[test]
    fn foreign_and_double_frees_change_nothing() {
        let mut book = book(&[0x1000, 0x2000], 0).unwrap();
        let a = book.allocate().unwrap();
        let before: Vec<Slot> = book.slots().to_vec();
        assert_eq!(
            book.free(0x1001),
            Err(Error::ForeignFrame { address: 0x1001 })
        );
        assert_eq!(book.free(0), Err(Error::ForeignFrame { address: 0 }));
        let other = if a == 0x1000 { 0x2000 } else { 0x1000 };
        assert_eq!(
            book.free(other),
            Err(Error::FrameNotOutstanding { address: other })
        );
        assert_eq!(book.slots(), &before[..]);
        assert_eq!(book.outstanding(), 1);
        book.free(a).unwrap();
        assert_eq!(book.free(a), Err(Error::FrameNotOutstanding { address: a }));
        assert_eq!(book.outstanding(), 0);
        // Both frames are available again, each once.
        let x = book.allocate().unwrap();
        let y = book.allocate().unwrap();
        assert_ne!(x, y);
        assert_eq!(book.allocate(), Err(Error::AllFramesOutstanding));
    }

    #[test]
    fn construction_checks_alignment_duplicates_null_and_storage() {
        assert_eq!(
            book(&[0x1000, 0x1040, 0x1010], 0x3F).unwrap_err(),
            Error::MisalignedFrame {
                address: 0x1010,
                mask: 0x3F
            }
        );
        assert_eq!(
            book(&[0x1000, 0x2000, 0x1000], 0).unwrap_err(),
            Error::DuplicateFrame { address: 0x1000 }
        );
        assert_eq!(
            book(&[0x1000, 0], 0).unwrap_err(),
            Error::OutOfMemory { bytes: 0 }
        );
        let slots = vec![Slot::new(0x10, 0x10); 3];
        let short_index = vec![0u32; 4];
        assert!(matches!(
            FrameBook::new(slots, short_index, 0),
            Err((Error::TooManyFrames { frames: 3 }, _))
        ));
        // MAX_FRAMES frames are a book; one more is not.
        let addresses = |n: usize| (1..=n).map(|i| i << 12).collect::<Vec<_>>();
        assert!(book(&addresses(1024), 0).is_ok());
        assert_eq!(
            book(&addresses(1025), 0).unwrap_err(),
            Error::TooManyFrames { frames: 1025 }
        );
    }

    #[test]
    fn borrowed_storage_works_too() {
        let mut slots = [Slot::EMPTY; 2];
        slots[0] = Slot::new(0x40, 0x3F);
        slots[1] = Slot::new(0x80, 0x7F);
        let mut index = [0u32; 4];
        let mut book = FrameBook::new(&mut slots[..], &mut index[..], 0x3F)
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(book.allocate(), Ok(0x40));
        let position = book.position_of(0x40).expect("a frame of the book") as usize;
        assert_eq!(book.slots()[position].backing(), 0x3F);
        assert!(book.slots()[position].outstanding);
        assert_eq!(book.position_of(0x41), None);
    }

    #[test]
    fn many_frames_with_colliding_addresses_are_all_found() {
        // Addresses one page apart collide in the low bits; the index must still find each.
        let addresses: Vec<usize> = (1..=1024).map(|i| i << 12).collect();
        let mut book = book(&addresses, 0xFFF).unwrap();
        // Bounded: an `allocate` that never ran out must fail the test, not hang it.
        let out: Vec<usize> = (0..=1024).map_while(|_| book.allocate().ok()).collect();
        assert_eq!(out.len(), 1024);
        assert!(!book.has_free_frame());
        for &a in out.iter().rev() {
            book.free(a).unwrap();
        }
        assert_eq!(book.outstanding(), 0);
        assert_eq!(
            book.free(1025 << 12),
            Err(Error::ForeignFrame {
                address: 1025 << 12
            })
        );
    }

    #[test]
    fn an_empty_book_never_hands_out_anything() {
        let mut book = book(&[], 0).unwrap();
        assert_eq!(book.allocate(), Err(Error::AllFramesOutstanding));
        assert_eq!(
            book.free(0x1000),
            Err(Error::ForeignFrame { address: 0x1000 })
        );
        assert_eq!(index_len(0), 2);
        assert_eq!(index_len(1), 2);
        assert_eq!(index_len(3), 8);
        assert_eq!(index_len(4), 8);
        assert_eq!(index_len(5), 16);
    }

    #[test]
    fn a_probe_of_a_full_index_ends() {
        // `link` never fills an index, but a lookup must end even in one: a FREE at
        // DISPATCH_LEVEL that spun would hang the processor.
        let addresses = [0x1000, 0x2000];
        let slots: Vec<Slot> = addresses.iter().map(|&a| Slot::new(a, a)).collect();
        let book = FrameBook {
            slots,
            index: vec![0u32, 1],
            free_head: 0,
            outstanding: 0,
        };
        assert_eq!(book.position_of(0x3000), None);
        for (position, address) in addresses.into_iter().enumerate() {
            assert_eq!(book.position_of(address), Some(position as u32));
        }
        // Every bucket is visited once, from the address's own.
        let visited: Vec<usize> = probe(0x3000, 7).collect();
        assert_eq!(visited.len(), 8);
        assert_eq!(visited[0], bucket_of(0x3000, 7));
        assert_eq!(visited.iter().copied().collect::<BTreeSet<_>>().len(), 8);
    }
}
