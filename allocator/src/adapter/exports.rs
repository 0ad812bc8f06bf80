//! The ks.sys functions avcam implements itself, with their exact C names and signatures, and
//! the ready-made create-item handler pins route their allocator create item to.

use core::ffi::c_void;

use avcam_kernel::irp;
use ks::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, PFNKSCREATEDEFAULTALLOCATOREX,
    PFNKSDEFAULTALLOCATE, PFNKSDEFAULTFREE, PFNKSDELETEALLOCATOR, PFNKSINITIALIZEALLOCATOR,
};
use ks::nt::{DEVICE_OBJECT, IRP};
use ks::status::STATUS_SUCCESS;
use ks::NTSTATUS;

use super::object::{create, validate_create_request, Callbacks};
use crate::error::Error;
use crate::framing::{validate_framing_ex, FRAMING_EX_HEADER_SIZE, FRAMING_ITEM_SIZE};

fn status_of(result: Result<(), Error>) -> NTSTATUS {
    match result {
        Ok(()) => STATUS_SUCCESS,
        Err(error) => error.status(),
    }
}

/// `NTSTATUS KsCreateDefaultAllocatorEx(PIRP Irp, PVOID InitializeContext, PFNKSDEFAULTALLOCATE
/// DefaultAllocate, PFNKSDEFAULTFREE DefaultFree, PFNKSINITIALIZEALLOCATOR InitializeAllocator,
/// PFNKSDELETEALLOCATOR DeleteAllocator)`.
///
/// Creates the allocator for the create request `Irp`: validates the request (the rules of
/// [`KsValidateAllocatorCreateRequest`]), obtains every frame (from the pool the framing names,
/// or from `DefaultAllocate` when an external allocator is given, after
/// `InitializeAllocator(InitializeContext, &framing, &Context)`), allocates the KS object header
/// with the allocator's dispatch table and points `FileObject->FsContext` at the allocator object.
/// Returns STATUS_SUCCESS or why it failed (an `InitializeAllocator` failure status unchanged),
/// with nothing left allocated. It never completes `Irp` and never sets its `IoStatus`: the
/// caller does both, once.
///
/// `DefaultAllocate` and `DefaultFree` come together or not at all (else
/// STATUS_INVALID_PARAMETER). Without `InitializeAllocator` the context is `InitializeContext`.
/// `DeleteAllocator(Context)`, if given, is called exactly once: at close, or when a create fails
/// after `InitializeAllocator` succeeded.
///
/// # Safety
/// `Irp` must be a live IRP_MJ_CREATE the caller owns, at PASSIVE_LEVEL, with its create item in
/// `KSCREATE_ITEM_IRP_STORAGE(Irp)`; the callbacks must follow their documented contracts.
#[no_mangle]
#[ks::kernel_abi]
pub unsafe extern "system" fn KsCreateDefaultAllocatorEx(
    Irp: *mut IRP,
    InitializeContext: *mut c_void,
    DefaultAllocate: PFNKSDEFAULTALLOCATE,
    DefaultFree: PFNKSDEFAULTFREE,
    InitializeAllocator: PFNKSINITIALIZEALLOCATOR,
    DeleteAllocator: PFNKSDELETEALLOCATOR,
) -> NTSTATUS {
    if Irp.is_null() {
        return Error::NullPointer.status();
    }
    let callbacks = Callbacks {
        initialize_context: InitializeContext,
        allocate: DefaultAllocate,
        free: DefaultFree,
        initialize: InitializeAllocator,
        delete: DeleteAllocator,
    };
    // SAFETY: forwarded from the caller.
    status_of(unsafe { create(Irp, callbacks) })
}

/// Compile-time proof that the export has exactly the C signature of ks.h.
const _: PFNKSCREATEDEFAULTALLOCATOREX = KsCreateDefaultAllocatorEx;

/// `NTSTATUS KsCreateDefaultAllocator(PIRP Irp)`: [`KsCreateDefaultAllocatorEx`] without an
/// external allocator (frames from the pool the framing names).
///
/// # Safety
/// As for [`KsCreateDefaultAllocatorEx`].
#[no_mangle]
#[ks::kernel_abi]
pub unsafe extern "system" fn KsCreateDefaultAllocator(Irp: *mut IRP) -> NTSTATUS {
    // SAFETY: forwarded from the caller; no callbacks.
    unsafe { KsCreateDefaultAllocatorEx(Irp, core::ptr::null_mut(), None, None, None, None) }
}

/// `NTSTATUS KsValidateAllocatorCreateRequest(PIRP Irp, PKSALLOCATOR_FRAMING *AllocatorFraming)`.
///
/// Checks the create request's name (`KSSTRING_Allocator\` + parameters, the class matched
/// case-insensitively, one leading `\` allowed) and its `KSALLOCATOR_FRAMING` against every
/// create rule (see [`crate::framing`]); on success `*AllocatorFraming` points to the framing
/// inside `FileObject->FileName`'s buffer, valid while the create is processed. That address is
/// only 2-byte aligned in general (the name is UTF-16): read it with an unaligned read.
///
/// # Safety
/// `Irp` must be a live IRP_MJ_CREATE the caller owns; `AllocatorFraming` NULL or writable.
#[no_mangle]
#[ks::kernel_abi]
pub unsafe extern "system" fn KsValidateAllocatorCreateRequest(
    Irp: *mut IRP,
    AllocatorFraming: *mut *mut KSALLOCATOR_FRAMING,
) -> NTSTATUS {
    if Irp.is_null() || AllocatorFraming.is_null() {
        return Error::NullPointer.status();
    }
    // SAFETY: forwarded from the caller.
    match unsafe { validate_create_request(Irp) } {
        Ok((_, offset)) => {
            // SAFETY: the caller owns the live create IRP.
            let file = unsafe { irp::file_object(Irp) };
            // SAFETY: validated above: the create IRP's file object is live.
            let buffer = unsafe { (*file).FileName.Buffer };
            let framing = buffer
                .cast::<u8>()
                .wrapping_add(offset)
                .cast::<KSALLOCATOR_FRAMING>();
            // SAFETY: the caller guarantees `AllocatorFraming` is writable.
            unsafe { AllocatorFraming.write(framing) };
            STATUS_SUCCESS
        }
        Err(error) => error.status(),
    }
}

/// `NTSTATUS KsValidateAllocatorFramingEx(PKSALLOCATOR_FRAMING_EX Framing, ULONG BufferSize,
/// const KSALLOCATOR_FRAMING_EX *PinFraming)`: see [`validate_framing_ex`] for the rules; every
/// failure is STATUS_INVALID_DEVICE_REQUEST. A NULL `PinFraming` means no pin constraints.
///
/// # Safety
/// `Framing` must be NULL or readable for `BufferSize` bytes; `PinFraming` NULL or a complete
/// `KSALLOCATOR_FRAMING_EX` with its `CountItems` items.
#[no_mangle]
#[ks::kernel_abi]
pub unsafe extern "system" fn KsValidateAllocatorFramingEx(
    Framing: *mut KSALLOCATOR_FRAMING_EX,
    BufferSize: u32,
    PinFraming: *const KSALLOCATOR_FRAMING_EX,
) -> NTSTATUS {
    let framing: &[u8] = if Framing.is_null() {
        &[]
    } else {
        // SAFETY: the caller guarantees `BufferSize` readable bytes at `Framing`.
        unsafe { core::slice::from_raw_parts(Framing.cast::<u8>(), BufferSize as usize) }
    };
    let pin: Option<&[u8]> = if PinFraming.is_null() {
        None
    } else {
        // SAFETY: the caller guarantees a complete KSALLOCATOR_FRAMING_EX at `PinFraming`.
        let count = unsafe { (*PinFraming).CountItems }.max(1) as usize;
        let size = FRAMING_EX_HEADER_SIZE + count.saturating_mul(FRAMING_ITEM_SIZE);
        // SAFETY: as above: the structure and its `CountItems` items are readable.
        Some(unsafe { core::slice::from_raw_parts(PinFraming.cast::<u8>(), size) })
    };
    status_of(validate_framing_ex(framing, pin))
}

/// A create-item handler for allocator create items (`KSSTRING_Allocator`): calls
/// [`KsCreateDefaultAllocator`] and completes the IRP once with its status.
///
/// # Safety
/// The IRP_MJ_CREATE dispatch contract: ks.sys calls it with a live create IRP it hands over.
#[ks::kernel_abi]
pub unsafe extern "system" fn allocator_create_dispatch(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: forwarded from the caller.
    let status = unsafe { KsCreateDefaultAllocator(irp) };
    // SAFETY: the handler owns the IRP and completes it once; nothing else completes a create.
    unsafe { irp::complete(irp, status, 0) };
    status
}
