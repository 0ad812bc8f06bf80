//! The image's memory: one anonymous private mapping of `SizeOfImage` bytes, written while it is
//! read-write (sections, relocations, imports), then given each section's protection; unmapped
//! when dropped.

use std::io;

use crate::pe::{Protection, PAGE_SIZE};

/// An anonymous mapping owned by an image.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; after loading, every thread only reads
// it (or runs the image's code in it, which writes only to its own `.data` as the driver's code
// would on Windows), and it is unmapped only when the owner drops it.
unsafe impl Send for Mapping {}
// SAFETY: as for Send: shared access never goes through `&Mapping` to mutate anything.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `len` bytes (rounded up to whole pages) of zeroed, read-write memory anywhere in the
    /// address space.
    pub(crate) fn new(len: usize) -> io::Result<Mapping> {
        let len = len.div_ceil(PAGE_SIZE as usize) * PAGE_SIZE as usize;
        // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
        // existing memory; the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            base: base.cast(),
            len,
        })
    }

    /// The mapping's first byte.
    pub(crate) fn base(&self) -> usize {
        self.base as usize
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The whole mapping as bytes, to write while it is still read-write (before any
    /// [`Mapping::protect`]).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, readable and writable until `protect` is first
        // called (which takes `&self` after the loader is done with this slice), and owned by
        // `self`, borrowed mutably here.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// Gives `len` bytes at `offset` (page-aligned) the protection.
    pub(crate) fn protect(
        &self,
        offset: usize,
        len: usize,
        protection: Protection,
    ) -> io::Result<()> {
        let end = (offset + len).div_ceil(PAGE_SIZE as usize) * PAGE_SIZE as usize;
        assert!(
            offset % PAGE_SIZE as usize == 0 && end <= self.len,
            "inside the mapping"
        );
        let flags = match protection {
            Protection::Read => libc::PROT_READ,
            Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
        };
        // SAFETY: the range is page-aligned and inside this mapping (asserted above), which no
        // Rust reference points into while the loader protects it.
        let result =
            unsafe { libc::mprotect(self.base.wrapping_add(offset).cast(), end - offset, flags) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `new` with this base and length and nothing of it is
        // used after its owner drops it (the image's contract: no kernel runs its code any more).
        let result = unsafe { libc::munmap(self.base.cast(), self.len) };
        debug_assert_eq!(result, 0, "munmap of the image's own mapping");
    }
}
