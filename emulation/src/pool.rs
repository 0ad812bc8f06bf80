//! The tracked pool behind `ExAllocatePool2` / `ExFreePoolWithTag`.
//!
//! Every allocation is recorded with its tag and size, so a test can list what is outstanding and
//! name each leak by tag. A request for zero bytes, or with a tag that is 0, has a character
//! outside 0x20..0x7E or no letter or digit, gets NULL and is reported (the ExAllocatePool2 page;
//! BAD_POOL_CALLER 0x00, 0x9B, 0x9D). Freeing twice, freeing a pointer the pool never handed out, or freeing
//! with another tag than the allocation's are reported as driver bugs. Alignment is as on Windows
//! x64: 16 bytes, a page for blocks of PAGE_SIZE or more (64 with POOL_FLAG_CACHE_ALIGNED).
//! Blocks are zeroed unless POOL_FLAG_UNINITIALIZED is given; then they are filled with
//! [`UNINITIALIZED_FILL`] so code that relies on zeroed memory shows up.
//!
//! The fault injector makes the Nth allocation call from now return NULL, and counts the calls,
//! so a test can sweep "fail each allocation in turn".

use std::alloc::Layout;
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::fmt;
use std::sync::Mutex;

use ks::nt::{
    APC_LEVEL, DISPATCH_LEVEL, KIRQL, PAGE_SIZE, POOL_FLAGS, POOL_FLAG_CACHE_ALIGNED,
    POOL_FLAG_NON_PAGED, POOL_FLAG_NON_PAGED_EXECUTE, POOL_FLAG_PAGED, POOL_FLAG_SESSION,
    POOL_FLAG_UNINITIALIZED, POOL_FLAG_USE_QUOTA,
};

use crate::bugs::{Bug, BugLog};

/// The byte that fills blocks allocated with POOL_FLAG_UNINITIALIZED.
pub const UNINITIALIZED_FILL: u8 = 0xA5;

/// The largest block the emulated pool hands out; larger requests get NULL, as a real pool would
/// refuse them (the figure is the emulation's choice).
pub const MAX_ALLOCATION: usize = 1 << 30;

/// A pool tag. Shown as its four bytes in memory order, like poolmon: the C literal `'acvA'`
/// (0x61637641) is shown `Avca`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// The tag whose bytes in memory are `text` (`Tag::from_bytes(*b"Avca")`).
    pub const fn from_bytes(text: [u8; 4]) -> Tag {
        Tag(u32::from_le_bytes(text))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.to_le_bytes() {
            if byte.is_ascii_graphic() || byte == b' ' {
                write!(f, "{}", char::from(byte))?;
            } else {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag('{self}')")
    }
}

/// A live pool allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Its address.
    pub address: usize,
    /// The size asked for.
    pub size: usize,
    /// Its tag.
    pub tag: Tag,
    /// Whether it is paged pool.
    pub paged: bool,
}

/// The leaks of one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The tag.
    pub tag: Tag,
    /// How many blocks.
    pub blocks: usize,
    /// How many bytes in all.
    pub bytes: usize,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool tag '{}': {} block(s), {} byte(s) never freed",
            self.tag, self.blocks, self.bytes
        )
    }
}

struct Block {
    size: usize,
    tag: Tag,
    paged: bool,
    layout: Layout,
    sequence: u64,
}

#[derive(Default)]
struct PoolInner {
    live: HashMap<usize, Block>,
    /// Addresses freed and not handed out again, to tell a double free from a foreign pointer.
    freed: HashSet<usize>,
    calls: u64,
    fail_at_call: Option<u64>,
    injected_failures: u64,
}

/// Whether `tag` is one a driver may allocate with: not 0 (ExAllocatePool2 returns NULL for
/// it; BAD_POOL_CALLER 0x9B), each of its one to four characters (the non-zero bytes) in 0x20 to
/// 0x7E (the ExAllocatePool2 page), and at least one a letter or a digit (BAD_POOL_CALLER 0x9D).
fn valid_tag(tag: u32) -> bool {
    let bytes = tag.to_le_bytes();
    tag != 0
        && bytes.iter().all(|&b| b == 0 || (0x20..=0x7E).contains(&b))
        && bytes.iter().any(u8::is_ascii_alphanumeric)
}

/// The emulated pool of one kernel.
#[derive(Default)]
pub struct Pool {
    inner: Mutex<PoolInner>,
}

/// Beyond this many remembered freed addresses, the oldest knowledge is dropped (a double free is
/// then reported as a foreign pointer: still a bug).
const FREED_MEMORY: usize = 1 << 20;

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Live allocations, oldest first.
    pub fn outstanding(&self) -> Vec<Allocation> {
        let inner = self.lock();
        let mut blocks: Vec<(&usize, &Block)> = inner.live.iter().collect();
        blocks.sort_by_key(|(_, b)| b.sequence);
        blocks
            .into_iter()
            .map(|(&address, b)| Allocation {
                address,
                size: b.size,
                tag: b.tag,
                paged: b.paged,
            })
            .collect()
    }

    /// Bytes in live allocations.
    pub fn outstanding_bytes(&self) -> usize {
        self.lock().live.values().map(|b| b.size).sum()
    }

    /// Live allocations summed by tag (sorted by tag): after a test, these are leaks.
    pub fn leaks(&self) -> Vec<Leak> {
        let mut by_tag: HashMap<Tag, Leak> = HashMap::new();
        for block in self.lock().live.values() {
            let leak = by_tag.entry(block.tag).or_insert(Leak {
                tag: block.tag,
                blocks: 0,
                bytes: 0,
            });
            leak.blocks += 1;
            leak.bytes += block.size;
        }
        let mut leaks: Vec<Leak> = by_tag.into_values().collect();
        leaks.sort_by_key(|l| l.tag);
        leaks
    }

    /// Panics naming each tag with live allocations.
    pub fn assert_no_leaks(&self) {
        let leaks = self.leaks();
        if !leaks.is_empty() {
            let lines: Vec<String> = leaks.iter().map(Leak::to_string).collect();
            panic!("avcam-emulation: pool leaks:\n  - {}", lines.join("\n  - "));
        }
    }

    /// Makes the `n`th allocation call from now (1 = the next one) return NULL. Replaces any
    /// earlier request; `n == 0` disarms the injector.
    pub fn fail_nth_allocation(&self, n: u64) {
        let mut inner = self.lock();
        inner.fail_at_call = if n == 0 { None } else { Some(inner.calls + n) };
    }

    /// Allocation calls so far (including failed ones): a sweep runs the scenario once to count
    /// them, then fails each in turn.
    pub fn allocation_calls(&self) -> u64 {
        self.lock().calls
    }

    /// Allocation calls the fault injector has failed so far.
    pub fn injected_failures(&self) -> u64 {
        self.lock().injected_failures
    }

    /// The size of the live block starting at `address`, if there is one.
    pub(crate) fn live_size(&self, address: usize) -> Option<usize> {
        self.lock().live.get(&address).map(|block| block.size)
    }

    /// `ExAllocatePool2`.
    pub(crate) fn allocate(
        &self,
        bugs: &BugLog,
        irql: KIRQL,
        flags: POOL_FLAGS,
        size: usize,
        tag: u32,
    ) -> *mut c_void {
        let mut inner = self.lock();
        inner.calls += 1;
        let kinds = flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
        let known = POOL_FLAG_USE_QUOTA
            | POOL_FLAG_UNINITIALIZED
            | POOL_FLAG_SESSION
            | POOL_FLAG_CACHE_ALIGNED
            | POOL_FLAG_NON_PAGED
            | POOL_FLAG_NON_PAGED_EXECUTE
            | POOL_FLAG_PAGED;
        if kinds.count_ones() != 1 || flags & !known != 0 {
            drop(inner);
            bugs.report(Bug::PoolInvalidFlags { flags });
            return std::ptr::null_mut();
        }
        if !valid_tag(tag) {
            drop(inner);
            bugs.report(Bug::PoolInvalidTag { tag: Tag(tag) });
            return std::ptr::null_mut();
        }
        if size == 0 {
            drop(inner);
            bugs.report(Bug::PoolZeroBytes { tag: Tag(tag) });
            return std::ptr::null_mut();
        }
        let paged = kinds == POOL_FLAG_PAGED;
        let max_irql = if paged { APC_LEVEL } else { DISPATCH_LEVEL };
        if irql > max_irql {
            drop(inner);
            bugs.report(Bug::PoolAtWrongIrql { irql, paged });
            return std::ptr::null_mut();
        }
        if inner.fail_at_call == Some(inner.calls) {
            inner.fail_at_call = None;
            inner.injected_failures += 1;
            return std::ptr::null_mut();
        }
        if size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        let align = if size >= PAGE_SIZE {
            PAGE_SIZE
        } else if flags & POOL_FLAG_CACHE_ALIGNED != 0 {
            64
        } else {
            16
        };
        let Ok(layout) = Layout::from_size_align(size.max(1), align) else {
            return std::ptr::null_mut();
        };
        let memory = if flags & POOL_FLAG_UNINITIALIZED != 0 {
            // SAFETY: `layout` has a non-zero size.
            let memory = unsafe { std::alloc::alloc(layout) };
            if !memory.is_null() {
                // SAFETY: `memory` is a fresh block of `layout.size()` writable bytes.
                unsafe { memory.write_bytes(UNINITIALIZED_FILL, layout.size()) };
            }
            memory
        } else {
            // SAFETY: `layout` has a non-zero size.
            unsafe { std::alloc::alloc_zeroed(layout) }
        };
        if memory.is_null() {
            return std::ptr::null_mut();
        }
        let address = memory as usize;
        inner.freed.remove(&address);
        let sequence = inner.calls;
        inner.live.insert(
            address,
            Block {
                size,
                tag: Tag(tag),
                paged,
                layout,
                sequence,
            },
        );
        memory.cast()
    }

    /// `ExFreePoolWithTag`. Tag 0 skips the tag check, as `ExFreePool` does.
    pub(crate) fn free(&self, bugs: &BugLog, irql: KIRQL, pointer: *mut c_void, tag: u32) {
        let address = pointer as usize;
        let mut inner = self.lock();
        let Some(block) = inner.live.get(&address) else {
            let bug = if inner.freed.contains(&address) {
                Bug::PoolDoubleFree { address }
            } else {
                Bug::PoolForeignPointer { address }
            };
            drop(inner);
            bugs.report(bug);
            return;
        };
        if tag != 0 && block.tag.0 != tag {
            let bug = Bug::PoolWrongTag {
                address,
                allocated: block.tag,
                freed_with: Tag(tag),
            };
            drop(inner);
            bugs.report(bug);
            return;
        }
        let max_irql = if block.paged {
            APC_LEVEL
        } else {
            DISPATCH_LEVEL
        };
        if irql > max_irql {
            let paged = block.paged;
            drop(inner);
            bugs.report(Bug::PoolAtWrongIrql { irql, paged });
            return;
        }
        let Some(block) = inner.live.remove(&address) else {
            return;
        };
        if inner.freed.len() >= FREED_MEMORY {
            inner.freed.clear();
        }
        inner.freed.insert(address);
        drop(inner);
        // SAFETY: `address` was returned by `alloc`/`alloc_zeroed` with `block.layout` and has
        // just been removed from the live set, so it is freed exactly once.
        unsafe { std::alloc::dealloc(address as *mut u8, block.layout) };
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The kernel is gone: give leaked blocks back to the process (they were reported, or the
        // test did not ask).
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        for (address, block) in inner.live.drain() {
            // SAFETY: every live block was allocated with its recorded layout and is freed once.
            unsafe { std::alloc::dealloc(address as *mut u8, block.layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: u32 = u32::from_le_bytes(*b"Test");

    fn pool() -> (Pool, BugLog) {
        let bugs = BugLog::default();
        bugs.expect();
        (Pool::default(), bugs)
    }

    #[test]
    fn tags_read_as_poolmon_shows_them() {
        assert_eq!(Tag(0x6163_7641).to_string(), "Avca");
        assert_eq!(Tag::from_bytes(*b"Avca"), Tag(0x6163_7641));
        assert_eq!(Tag(0x0000_4141).to_string(), "AA\\x00\\x00");
    }

    #[test]
    fn allocations_are_zeroed_aligned_and_tracked() {
        let (pool, bugs) = pool();
        let small = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 24, TAG);
        let big = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, PAGE_SIZE + 1, TAG);
        let cache = pool.allocate(
            &bugs,
            0,
            POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED,
            8,
            TAG,
        );
        assert_eq!(small as usize % 16, 0);
        assert_eq!(big as usize % PAGE_SIZE, 0);
        assert_eq!(cache as usize % 64, 0);
        // SAFETY: `big` is a live block of PAGE_SIZE + 1 bytes.
        let bytes = unsafe { std::slice::from_raw_parts(big.cast::<u8>(), PAGE_SIZE + 1) };
        assert!(bytes.iter().all(|&b| b == 0));
        let outstanding = pool.outstanding();
        assert_eq!(outstanding.len(), 3);
        assert_eq!(
            outstanding[0],
            Allocation {
                address: small as usize,
                size: 24,
                tag: Tag(TAG),
                paged: false
            }
        );
        assert_eq!(pool.outstanding_bytes(), 24 + PAGE_SIZE + 1 + 8);
        assert_eq!(
            pool.leaks(),
            vec![Leak {
                tag: Tag(TAG),
                blocks: 3,
                bytes: 24 + PAGE_SIZE + 1 + 8
            }]
        );
        for p in [small, big, cache] {
            pool.free(&bugs, 0, p, TAG);
        }
        assert!(pool.outstanding().is_empty());
        pool.assert_no_leaks();
        assert!(bugs.take().is_empty());
    }

    #[test]
    fn uninitialized_blocks_are_not_zeroed() {
        let (pool, bugs) = pool();
        let p = pool.allocate(
            &bugs,
            0,
            POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED,
            32,
            TAG,
        );
        // SAFETY: `p` is a live block of 32 bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), 32) };
        assert!(bytes.iter().all(|&b| b == UNINITIALIZED_FILL));
        pool.free(&bugs, 0, p, TAG);
    }

    #[test]
    #[should_panic(expected = "pool tag 'Leak': 2 block(s), 30 byte(s)")]
    fn leaks_are_named_by_tag() {
        let (pool, bugs) = pool();
        let tag = u32::from_le_bytes(*b"Leak");
        pool.allocate(&bugs, 0, POOL_FLAG_PAGED, 10, tag);
        pool.allocate(&bugs, 0, POOL_FLAG_PAGED, 20, tag);
        pool.assert_no_leaks();
    }

    #[test]
    fn double_free_foreign_pointer_and_wrong_tag_are_bugs() {
        let (pool, bugs) = pool();
        let p = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, TAG);
        pool.free(&bugs, 0, p, u32::from_le_bytes(*b"Othr"));
        assert_eq!(
            bugs.take(),
            vec![Bug::PoolWrongTag {
                address: p as usize,
                allocated: Tag(TAG),
                freed_with: Tag::from_bytes(*b"Othr")
            }]
        );
        assert_eq!(
            pool.outstanding().len(),
            1,
            "a free with the wrong tag frees nothing"
        );
        pool.free(&bugs, 0, p, TAG);
        pool.free(&bugs, 0, p, TAG);
        assert_eq!(
            bugs.take(),
            vec![Bug::PoolDoubleFree {
                address: p as usize
            }]
        );
        let local = 0u64;
        pool.free(&bugs, 0, (&local as *const u64).cast_mut().cast(), TAG);
        assert_eq!(
            bugs.take(),
            vec![Bug::PoolForeignPointer {
                address: &local as *const u64 as usize
            }]
        );
    }

    #[test]
    fn tag_zero_frees_without_a_tag_check() {
        let (pool, bugs) = pool();
        let p = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, TAG);
        pool.free(&bugs, 0, p, 0);
        assert!(pool.outstanding().is_empty());
        assert!(bugs.take().is_empty());
    }

    #[test]
    fn invalid_flags_and_wrong_irql_are_bugs_and_return_null() {
        let (pool, bugs) = pool();
        assert!(pool.allocate(&bugs, 0, 0, 8, TAG).is_null());
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED, 8, TAG)
            .is_null());
        assert!(pool.allocate(&bugs, 2, POOL_FLAG_PAGED, 8, TAG).is_null());
        assert_eq!(
            bugs.take(),
            vec![
                Bug::PoolInvalidFlags { flags: 0 },
                Bug::PoolInvalidFlags {
                    flags: POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED
                },
                Bug::PoolAtWrongIrql {
                    irql: 2,
                    paged: true
                },
            ]
        );
        let p = pool.allocate(&bugs, 2, POOL_FLAG_NON_PAGED, 8, TAG);
        assert!(!p.is_null(), "non-paged pool is fine at DISPATCH_LEVEL");
        pool.free(&bugs, 2, p, TAG);
        assert!(bugs.take().is_empty());
    }

    #[test]
    fn zero_bytes_and_invalid_tags_are_bugs_and_return_null() {
        let (pool, bugs) = pool();
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 0, TAG)
            .is_null());
        assert!(pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, 0).is_null());
        let control = u32::from_le_bytes([b'A', 0x07, b'B', b'C']);
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, control)
            .is_null());
        let no_letter = u32::from_le_bytes(*b"-_+ ");
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, no_letter)
            .is_null());
        assert_eq!(
            bugs.take(),
            vec![
                Bug::PoolZeroBytes { tag: Tag(TAG) },
                Bug::PoolInvalidTag { tag: Tag(0) },
                Bug::PoolInvalidTag { tag: Tag(control) },
                Bug::PoolInvalidTag {
                    tag: Tag(no_letter)
                },
            ]
        );
        assert!(pool.outstanding().is_empty());
        // A tag of fewer than four characters (the C literal 'Ab') is fine.
        let short = u32::from_le_bytes([b'b', b'A', 0, 0]);
        let p = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, short);
        assert!(!p.is_null());
        pool.free(&bugs, 0, p, short);
        assert!(bugs.take().is_empty());
    }

    #[test]
    fn the_fault_injector_fails_exactly_the_nth_call() {
        let (pool, bugs) = pool();
        pool.fail_nth_allocation(3);
        let results: Vec<*mut c_void> = (0..5)
            .map(|_| pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, TAG))
            .collect();
        let failed: Vec<bool> = results.iter().map(|p| p.is_null()).collect();
        assert_eq!(failed, [false, false, true, false, false]);
        assert_eq!(pool.allocation_calls(), 5);
        assert_eq!(pool.injected_failures(), 1);
        for p in results.into_iter().filter(|p| !p.is_null()) {
            pool.free(&bugs, 0, p, TAG);
        }
        pool.fail_nth_allocation(1);
        pool.fail_nth_allocation(0);
        let p = pool.allocate(&bugs, 0, POOL_FLAG_NON_PAGED, 8, TAG);
        assert!(!p.is_null(), "n == 0 disarms the injector");
        pool.free(&bugs, 0, p, TAG);
    }

    #[test]
    fn oversized_requests_get_null_without_a_bug() {
        let (pool, bugs) = pool();
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_NON_PAGED, MAX_ALLOCATION + 1, TAG)
            .is_null());
        assert!(pool
            .allocate(&bugs, 0, POOL_FLAG_NON_PAGED, usize::MAX, TAG)
            .is_null());
        assert!(bugs.take().is_empty());
    }
}
