//! The pin's own frame pool: an allocator created through the documented allocator create
//! request on the pin itself, so every frame the camera renders comes from our
//! `KsCreateDefaultAllocatorEx` (crate `avcam_allocator`).
//!
//! - At create the pin adds a `KSSTRING_Allocator` create item to its object header whose
//!   handler is `avcam_allocator::allocator_create_dispatch` (→ `KsCreateDefaultAllocator(Ex)`);
//!   see [`add_allocator_create_item`].
//! - At STOP -> ACQUIRE, [`FramePool::open`] opens a kernel handle to the pin's own file object
//!   (`ObOpenObjectByPointer`), sends the allocator create request on it (`KsCreateAllocator`
//!   with a `KSALLOCATOR_FRAMING` sized from the negotiated format), references the allocator's
//!   file object and asks it for `KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE`
//!   (`KsSynchronousIoControlDevice`), whose `AllocateFrame` / `FreeFrame` the frame path calls.
//! - At ACQUIRE -> STOP, [`FramePool::close`] dereferences and closes all of it.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::null_mut;

use avcam_kernel::{
    file_object_type, KsAddObjectCreateItemToObjectHeader, KsCreateAllocator,
    KsSynchronousIoControlDevice, ObOpenObjectByPointer, ObReferenceObjectByHandle,
    ObfDereferenceObject, ZwClose,
};
use ks::guid::KSPROPSETID_StreamAllocator;
use ks::ks::{
    IOCTL_KS_PROPERTY, KSALLOCATOR_FRAMING, KSIDENTIFIER, KSOBJECT_HEADER,
    KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, KSPROPERTY_TYPE_GET, KSSTREAMALLOCATOR_FUNCTIONTABLE,
};
use ks::nt::{KernelMode, FILE_OBJECT, HANDLE, OBJ_KERNEL_HANDLE};
use ks::status::STATUS_SUCCESS;

use crate::error::DriverError;

/// Frames in the pin's pool: [`LEASE_WINDOW`] lent to a shared-mode client plus one being
/// rendered, so the pool never runs dry while a client holds frames within the window.
pub const POOL_FRAMES: u32 = 4;

/// Shared mode's lease window K: a frame lent to a client stays lent (its bytes unchanged) until
/// K more frames have been lent after it; lending the K-th later frame returns it to the pool.
/// K = the pool's frame count - 1 (one frame is always free to render into).
pub const LEASE_WINDOW: usize = POOL_FRAMES as usize - 1;

// A client can hold one frame with another read queued.
const _: () = assert!(LEASE_WINDOW >= 2);

/// Pool bytes above which the pin renders with streaming (non-temporal) stores: larger than the
/// last-level cache of the machines measured (32 MiB L3), so ordinary stores would first read
/// every destination line from memory. Measured (docs/performance.md): a 4K NV12 ring of four
/// frames renders 1.75x faster streamed; a cache-resident 1080p NV12 ring renders slower.
pub const STREAMING_STORES_ABOVE: u64 = 32 << 20;

/// Whether a pool of [`POOL_FRAMES`] frames of `frame_size` bytes outgrows the cache
/// ([`STREAMING_STORES_ABOVE`]).
pub const fn outgrows_cache(frame_size: u32) -> bool {
    POOL_FRAMES as u64 * frame_size as u64 > STREAMING_STORES_ABOVE
}

/// The frames lent in shared mode, oldest first: at most [`LEASE_WINDOW`], in a fixed array
/// (nothing allocated per frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leases {
    frames: [*mut u8; LEASE_WINDOW],
    len: usize,
}

impl Default for Leases {
    fn default() -> Self {
        Leases::new()
    }
}

impl Leases {
    /// No frame lent.
    pub const fn new() -> Leases {
        Leases {
            frames: [null_mut(); LEASE_WINDOW],
            len: 0,
        }
    }

    /// Records `frame` as lent (the newest lease). When the window was full, the oldest lease
    /// ends: that frame is returned for the caller to free.
    pub fn lend(&mut self, frame: *mut u8) -> Option<*mut u8> {
        let ended = if self.len == LEASE_WINDOW {
            self.end_oldest()
        } else {
            None
        };
        self.frames[self.len] = frame;
        self.len += 1;
        ended
    }

    /// Ends the oldest lease (when the pool would otherwise run dry, and at STOP): its frame, for
    /// the caller to free, or `None` when nothing is lent.
    pub fn end_oldest(&mut self) -> Option<*mut u8> {
        if self.len == 0 {
            return None;
        }
        let oldest = self.frames[0];
        self.frames.copy_within(1..self.len, 0);
        self.len -= 1;
        self.frames[self.len] = null_mut();
        Some(oldest)
    }

    /// The lent frames, oldest first.
    pub fn frames(&self) -> &[*mut u8] {
        &self.frames[..self.len]
    }

    /// The frame lent last, if any.
    pub fn newest(&self) -> Option<*mut u8> {
        self.frames().last().copied()
    }

    /// How many frames are lent.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no frame is lent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `KSSTRING_Allocator` as the NUL-terminated UTF-16 string `KsAddObjectCreateItemToObjectHeader`
/// takes.
static ALLOCATOR_CLASS: [u16; 39] = {
    let text = ks::ks::KSSTRING_Allocator.as_bytes();
    let mut units = [0u16; 39];
    let mut i = 0;
    while i < text.len() {
        units[i] = text[i] as u16;
        i += 1;
    }
    units
};

fn check(call: &'static str, status: i32) -> Result<(), DriverError> {
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        Err(DriverError::Kernel { call, status })
    }
}

/// Adds the allocator create item to the pin's object header (at pin create).
///
/// # Safety
/// `file` is the pin's live file object, whose `FsContext` starts with its `KSOBJECT_HEADER`
/// (the KS convention ks.sys follows for AVStream pins).
pub unsafe fn add_allocator_create_item(file: *mut FILE_OBJECT) -> Result<(), DriverError> {
    // SAFETY: a live file object (caller's contract).
    let fs_context = unsafe { (*file).FsContext };
    if fs_context.is_null() {
        return Err(DriverError::NoObjectHeader);
    }
    // SAFETY: FsContext starts with the object header (caller's contract).
    let header = unsafe { fs_context.cast::<KSOBJECT_HEADER>().read() };
    // SAFETY: a live header; the handler and the class string are static.
    let status = unsafe {
        KsAddObjectCreateItemToObjectHeader(
            header,
            Some(avcam_allocator::allocator_create_dispatch),
            null_mut(),
            ALLOCATOR_CLASS.as_ptr().cast_mut(),
            null_mut(),
        )
    };
    check("KsAddObjectCreateItemToObjectHeader", status)
}

/// An open allocator on the pin and its direct-call table.
pub struct FramePool {
    connection: HANDLE,
    allocator: HANDLE,
    file: *mut FILE_OBJECT,
    table: KSSTREAMALLOCATOR_FUNCTIONTABLE,
    frame_size: u32,
}

impl FramePool {
    /// Creates the pool on `pin_file` with [`POOL_FRAMES`] frames of `frame_size` bytes.
    ///
    /// # Safety
    /// `pin_file` is the pin's live file object; called at PASSIVE_LEVEL.
    pub unsafe fn open(
        pin_file: *mut FILE_OBJECT,
        frame_size: u32,
    ) -> Result<FramePool, DriverError> {
        let mut connection: HANDLE = null_mut();
        // SAFETY: a live file object; `connection` is writable.
        let status = unsafe {
            ObOpenObjectByPointer(
                pin_file.cast(),
                OBJ_KERNEL_HANDLE,
                null_mut(),
                0,
                file_object_type(),
                KernelMode,
                &mut connection,
            )
        };
        check("ObOpenObjectByPointer", status)?;
        let mut pool = FramePool {
            connection,
            allocator: null_mut(),
            file: null_mut(),
            table: KSSTREAMALLOCATOR_FUNCTIONTABLE {
                AllocateFrame: None,
                FreeFrame: None,
            },
            frame_size,
        };
        // SAFETY: `pool` holds what was opened so far; on error `close` releases it.
        match unsafe { pool.finish_open() } {
            Ok(()) => Ok(pool),
            Err(error) => {
                // SAFETY: releases exactly what finish_open managed to open.
                unsafe { pool.close() };
                Err(error)
            }
        }
    }

    /// The allocator create request, its file object and its function table.
    ///
    /// # Safety
    /// `self.connection` is an open kernel handle to the pin.
    unsafe fn finish_open(&mut self) -> Result<(), DriverError> {
        let mut framing = KSALLOCATOR_FRAMING {
            Flags: 0,
            PoolType: 0,
            Frames: POOL_FRAMES,
            FrameSize: self.frame_size,
            FileAlignment: 0,
            Reserved: 0,
        };
        // SAFETY: an open handle; `framing` and `self.allocator` are writable.
        let status =
            unsafe { KsCreateAllocator(self.connection, &mut framing, &mut self.allocator) };
        check("KsCreateAllocator", status)?;
        let mut object: *mut c_void = null_mut();
        // SAFETY: an open kernel handle of a file object; `object` is writable.
        let status = unsafe {
            ObReferenceObjectByHandle(
                self.allocator,
                0,
                file_object_type().cast(),
                KernelMode,
                &mut object,
                null_mut(),
            )
        };
        check("ObReferenceObjectByHandle", status)?;
        self.file = object.cast();
        let mut request = KSIDENTIFIER {
            Set: KSPROPSETID_StreamAllocator,
            Id: KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
            Flags: KSPROPERTY_TYPE_GET,
        };
        let mut returned = 0u32;
        // SAFETY: a referenced file object; both buffers live for their sizes.
        let status = unsafe {
            KsSynchronousIoControlDevice(
                self.file,
                KernelMode,
                IOCTL_KS_PROPERTY,
                (&raw mut request).cast(),
                size_of::<KSIDENTIFIER>() as u32,
                (&raw mut self.table).cast(),
                size_of::<KSSTREAMALLOCATOR_FUNCTIONTABLE>() as u32,
                &mut returned,
            )
        };
        check("FUNCTIONTABLE", status)?;
        if self.table.AllocateFrame.is_none() || self.table.FreeFrame.is_none() {
            return Err(DriverError::Kernel {
                call: "FUNCTIONTABLE",
                status: ks::status::STATUS_INVALID_PARAMETER,
            });
        }
        Ok(())
    }

    /// The allocator's file object (for status queries).
    pub fn allocator_file(&self) -> *mut FILE_OBJECT {
        self.file
    }

    /// Bytes per frame.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// One frame of [`FramePool::frame_size`] bytes, or `None` when the pool is exhausted.
    pub fn allocate(&self) -> Option<*mut u8> {
        let allocate = self.table.AllocateFrame?;
        let mut frame: *mut c_void = null_mut();
        // SAFETY: the allocator's own function on its referenced file object.
        let status = unsafe { allocate(self.file, &mut frame) };
        (status == STATUS_SUCCESS && !frame.is_null()).then_some(frame.cast())
    }

    /// Returns a frame [`FramePool::allocate`] handed out.
    ///
    /// # Safety
    /// `frame` came from this pool's `allocate` and is not used afterwards.
    pub unsafe fn free(&self, frame: *mut u8) {
        if let Some(free) = self.table.FreeFrame {
            // SAFETY: the caller's guarantee; the allocator's own function.
            unsafe { free(self.file, frame.cast()) };
        }
    }

    /// Dereferences the allocator and closes both handles (what was opened).
    ///
    /// # Safety
    /// No frame of the pool is still in use; called at PASSIVE_LEVEL.
    pub unsafe fn close(&mut self) {
        if !self.file.is_null() {
            // SAFETY: referenced by finish_open, dereferenced once.
            unsafe { ObfDereferenceObject(self.file.cast()) };
            self.file = null_mut();
        }
        if !self.allocator.is_null() {
            // SAFETY: opened by KsCreateAllocator, closed once.
            unsafe { ZwClose(self.allocator) };
            self.allocator = null_mut();
        }
        if !self.connection.is_null() {
            // SAFETY: opened by ObOpenObjectByPointer, closed once.
            unsafe { ZwClose(self.connection) };
            self.connection = null_mut();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pools_larger_than_the_cache_use_streaming_stores() {
        // 1080p NV12 and YUY2: 12.4 and 16.6 MB pools, cache-resident; 4K NV12: 49.8 MB.
        assert!(!outgrows_cache(1920 * 1080 * 3 / 2));
        assert!(!outgrows_cache(1920 * 1080 * 2));
        assert!(outgrows_cache(3840 * 2160 * 3 / 2));
        assert!(outgrows_cache(3840 * 2160 * 2));
    }

    fn frame(n: usize) -> *mut u8 {
        (n * 0x1000) as *mut u8
    }

    #[test]
    fn leases_end_oldest_first_once_the_window_is_full() {
        let mut leases = Leases::new();
        assert!(leases.is_empty());
        for n in 1..=LEASE_WINDOW {
            assert_eq!(leases.lend(frame(n)), None, "within the window");
        }
        assert_eq!(leases.len(), LEASE_WINDOW);
        assert_eq!(leases.frames()[0], frame(1));
        // The K-th frame lent after frame 1 ends frame 1's lease.
        assert_eq!(leases.lend(frame(LEASE_WINDOW + 1)), Some(frame(1)));
        assert_eq!(leases.len(), LEASE_WINDOW);
        assert_eq!(leases.frames()[0], frame(2));
        assert_eq!(leases.newest(), Some(frame(LEASE_WINDOW + 1)));
    }

    #[test]
    fn ending_leases_empties_the_window_in_lending_order() {
        let mut leases = Leases::new();
        leases.lend(frame(7));
        leases.lend(frame(3));
        assert_eq!(leases.end_oldest(), Some(frame(7)));
        assert_eq!(leases.end_oldest(), Some(frame(3)));
        assert_eq!(leases.end_oldest(), None);
        assert_eq!(leases, Leases::new());
    }

    #[test]
    fn the_allocator_class_is_the_ks_string_nul_terminated() {
        let text: std::string::String = char::decode_utf16(ALLOCATOR_CLASS[..38].iter().copied())
            .map(|c| c.unwrap())
            .collect();
        assert_eq!(text, ks::ks::KSSTRING_Allocator);
        assert_eq!(ALLOCATOR_CLASS[38], 0);
    }
}
