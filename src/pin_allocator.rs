//! The capture pin's kernel-level allocator, declared the documented way: a
//! `KSALLOCATOR_DISPATCH` in the pin's `KSPIN_DISPATCH.Allocator` ("AVStream Allocators" on
//! learn.microsoft.com).
//!
//! AVStream uses it only for kernel-mode connections: when a kernel-mode consumer creates an
//! allocator on the pin (the allocator create request `KsCreateAllocator` sends), ks.sys builds
//! the allocator object and calls these four callbacks for its frames. A user-mode client (the
//! Camera app's frame server) brings its own buffers and never triggers them, and memory they
//! return must never reach user mode. In the emulation avcam's own
//! `KsCreateDefaultAllocatorEx(Irp, Pin, Allocate, Free, InitializeAllocator, DeleteAllocator)`
//! plays ks.sys's part (how ks.sys wires them is not documented: docs/ks-fidelity.md).
//!
//! The frame store is deliberately independent of the pin: the allocator file object may
//! outlive the pin's (a related file object keeps no reference on its parent), so the context
//! holds only the frame size, and frames are plain pool blocks freed by [`free`].

use core::ffi::c_void;
use core::ptr::null_mut;

use avcam_kernel::{ExAllocatePool2, ExFreePoolWithTag};
use ks::avstream::{KSALLOCATOR_DISPATCH, KSPIN};
use ks::ks::KSALLOCATOR_FRAMING;
use ks::nt::POOL_FLAG_NON_PAGED;
use ks::status::{STATUS_BUFFER_TOO_SMALL, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use ks::NTSTATUS;

use crate::device_state::Request;
use crate::identity::FRAME_POOL_TAG;
use crate::pin::context;
use crate::pool_box::PoolBox;

/// The pin's `KSALLOCATOR_DISPATCH`.
pub static PIN_ALLOCATOR: KSALLOCATOR_DISPATCH = KSALLOCATOR_DISPATCH {
    InitializeAllocator: Some(initialize),
    DeleteAllocator: Some(delete),
    Allocate: Some(allocate),
    Free: Some(free),
};

/// One allocator's frame store: the bytes of each frame.
#[derive(Debug)]
struct FrameStore {
    frame_size: u32,
}

/// `PFNKSPININITIALIZEALLOCATOR`: a frame store for the consumer's framing. Frames smaller than
/// the pin's image (`biSizeImage` of its format) could never hold a picture:
/// STATUS_BUFFER_TOO_SMALL, and the allocator create fails. A failure injected for the next
/// allocator create (`KSPROPERTY_AVCAM_FAULTS_FAIL`) fails it with its status.
///
/// # Safety
/// ks.sys's contract: `pin` is the live pin the allocator is created on (its create IRP is in
/// flight), `framing` the validated request, `context` writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn initialize(
    pin: *mut KSPIN,
    framing: *mut KSALLOCATOR_FRAMING,
    out: *mut *mut c_void,
) -> NTSTATUS {
    // SAFETY: the validated KSALLOCATOR_FRAMING of the create request (ks.sys's contract); it
    // may sit at an odd address inside the create name, so read it unaligned.
    let framing = unsafe { framing.read_unaligned() };
    // SAFETY: a live pin of this driver, its Context ours once Create succeeded.
    let Some(pin) = (unsafe { context(pin) }) else {
        return STATUS_BUFFER_TOO_SMALL;
    };
    if let Some(status) = pin
        .device()
        .and_then(|d| d.take_failure(Request::AllocatorCreate))
    {
        return status;
    }
    if framing.FrameSize < pin.format.image_size() {
        return STATUS_BUFFER_TOO_SMALL;
    }
    let Some(store) = PoolBox::new(FrameStore {
        frame_size: framing.FrameSize,
    }) else {
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    // SAFETY: `out` is writable (ks.sys's contract).
    unsafe { out.write(PoolBox::into_raw(store).cast()) };
    STATUS_SUCCESS
}

/// `PFNKSDELETEALLOCATOR`: frees the frame store (every frame was given back with [`free`]).
///
/// # Safety
/// `context` came from [`initialize`] and is not used afterwards.
#[ks::kernel_abi]
pub unsafe extern "system" fn delete(context: *mut c_void) {
    // SAFETY: boxed by `initialize`, released once here (the caller's contract).
    drop(unsafe { PoolBox::from_raw(context.cast::<FrameStore>()) });
}

/// `PFNKSDEFAULTALLOCATE`: one zero-filled frame from the non-paged pool (NULL when the pool is
/// exhausted).
///
/// # Safety
/// `context` came from [`initialize`] and is live.
#[ks::kernel_abi]
pub unsafe extern "system" fn allocate(context: *mut c_void) -> *mut c_void {
    // SAFETY: a live frame store (the caller's contract).
    let Some(store) = (unsafe { context.cast::<FrameStore>().as_ref() }) else {
        return null_mut();
    };
    // SAFETY: a plain pool request; callable at IRQL <= DISPATCH_LEVEL.
    unsafe {
        ExAllocatePool2(
            POOL_FLAG_NON_PAGED,
            store.frame_size as usize,
            FRAME_POOL_TAG,
        )
    }
}

/// `PFNKSDEFAULTFREE`: gives a frame [`allocate`] returned back to the pool.
///
/// # Safety
/// `buffer` came from [`allocate`] and is not used afterwards.
#[ks::kernel_abi]
pub unsafe extern "system" fn free(_context: *mut c_void, buffer: *mut c_void) {
    if !buffer.is_null() {
        // SAFETY: a frame from `allocate`, tagged FRAME_POOL_TAG, freed once (caller's contract).
        unsafe { ExFreePoolWithTag(buffer, FRAME_POOL_TAG) };
    }
}
