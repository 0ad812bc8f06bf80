//! The allocator object: what `FileObject->FsContext` points to, its creation by
//! `KsCreateDefaultAllocatorEx` and its destruction at IRP_MJ_CLOSE.
//!
//! The object lives in one non-paged pool block and begins with its KSOBJECT_HEADER, the KS
//! convention through which ks.sys's `KsDispatchIrp` finds the object's dispatch table. The header
//! comes from `KsAllocateObjectHeader(.., Irp, ..)`, which records the create item in
//! `KSCREATE_ITEM_IRP_STORAGE(Irp)`; `KsQueryObjectCreateItem(header)` gives it back and
//! `KsDispatchQuerySecurity`/`KsDispatchSetSecurity` use it. That is how, with the real ks.sys, "the
//! create item is stored in FsContext for security queries": FsContext -> object -> header ->
//! create item.
//!
//! Every frame is obtained at create, from the pool or from the external `DefaultAllocate`, and
//! given back at close (see [`crate::frames`]); after create, no pool call is made per frame.

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use avcam_kernel::sync::SpinLock;
use avcam_kernel::{irp, KsAllocateObjectHeader, KsFreeObjectHeader};
use ks::ks::{
    KSOBJECT_HEADER, PFNKSDEFAULTALLOCATE, PFNKSDEFAULTFREE, PFNKSDELETEALLOCATOR,
    PFNKSINITIALIZEALLOCATOR,
};
use ks::nt::{FILE_OBJECT, IRP, POOL_FLAGS, POOL_FLAG_NON_PAGED};
use ks::status::nt_success;

use super::dispatch::DISPATCH_TABLE;
use super::memory::{self, PoolArray, FRAME_TAG, OBJECT_TAG};
use super::queue::IrpQueue;
use crate::error::{failure_or_unsuccessful, Error};
use crate::frames::{index_len, FrameBook, Slot};
use crate::framing::{create_parameters_offset, parse_create_parameters, Framing};
use crate::state::AllocatorState;

/// The state of an allocator in pool memory.
pub type PoolState = AllocatorState<PoolArray<Slot>, PoolArray<u32>>;

/// What the spin lock protects: the frames and events, and the ALLOC requests waiting.
pub struct Locked {
    /// Frames, events, status.
    pub core: PoolState,
    /// ALLOC IRPs waiting for a frame, oldest first.
    pub waiting: IrpQueue,
}

/// The allocator object. `#[repr(C)]` with the header first: the KS convention.
#[repr(C)]
pub struct AllocatorObject {
    /// The KS object header (first field: ks.sys reads `*(KSOBJECT_HEADER*)FsContext`).
    header: KSOBJECT_HEADER,
    /// Everything that changes after create.
    pub locked: SpinLock<Locked>,
    /// Where frames come from and go back to.
    source: FrameSource,
}

/// The external allocator given to `KsCreateDefaultAllocatorEx`, as passed.
#[derive(Clone, Copy)]
pub struct Callbacks {
    /// `InitializeContext`.
    pub initialize_context: *mut c_void,
    /// `DefaultAllocate`.
    pub allocate: PFNKSDEFAULTALLOCATE,
    /// `DefaultFree`.
    pub free: PFNKSDEFAULTFREE,
    /// `InitializeAllocator`.
    pub initialize: PFNKSINITIALIZEALLOCATOR,
    /// `DeleteAllocator`.
    pub delete: PFNKSDELETEALLOCATOR,
}

/// Where an allocator's frames come from.
#[derive(Clone, Copy)]
#[ks::kernel_abi]
enum Frames {
    /// `ExAllocatePool2(flags, bytes, FRAME_TAG)`, aligned up to the mask inside the block.
    Pool {
        flags: POOL_FLAGS,
        bytes: usize,
        mask: usize,
    },
    /// `DefaultAllocate(context)` / `DefaultFree(context, frame)`.
    External {
        allocate: unsafe extern "system" fn(*mut c_void) -> *mut c_void,
        free: unsafe extern "system" fn(*mut c_void, *mut c_void),
    },
}

/// The frame source and the external allocator's context and destructor.
#[derive(Clone, Copy)]
struct FrameSource {
    frames: Frames,
    /// The context `InitializeAllocator` returned (or `InitializeContext` without one).
    context: *mut c_void,
    /// `DeleteAllocator`, called once with `context` when the allocator goes away.
    delete: PFNKSDELETEALLOCATOR,
}

impl FrameSource {
    /// Fills every slot with a new frame; on failure gives back the frames already obtained.
    fn obtain(&self, slots: &mut [Slot]) -> Result<(), Error> {
        for position in 0..slots.len() {
            match self.obtain_one() {
                Ok(slot) => slots[position] = slot,
                Err(error) => {
                    self.give_back(&slots[..position]);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    fn obtain_one(&self) -> Result<Slot, Error> {
        match self.frames {
            Frames::Pool { flags, bytes, mask } => {
                let block = memory::allocate(flags, bytes, FRAME_TAG)?.as_ptr() as usize;
                // The block has room for FrameSize bytes after the aligned start (see
                // `Framing::pool_bytes_per_frame`); the book checks the alignment.
                let aligned = block.checked_add(mask).map_or(block, |end| end & !mask);
                Ok(Slot::new(aligned, block))
            }
            Frames::External { allocate, .. } => {
                // SAFETY: the external allocator's contract: DefaultAllocate(Context) with the
                // context its InitializeAllocator returned, at PASSIVE_LEVEL during create.
                let frame = unsafe { allocate(self.context) } as usize;
                if frame == 0 {
                    return Err(Error::OutOfMemory { bytes: 0 });
                }
                Ok(Slot::new(frame, frame))
            }
        }
    }

    /// Gives every frame of `slots` back to where it came from.
    fn give_back(&self, slots: &[Slot]) {
        for slot in slots {
            let Some(block) = NonNull::new(slot.backing() as *mut c_void) else {
                continue;
            };
            match self.frames {
                // SAFETY: the block came from `memory::allocate` with FRAME_TAG in `obtain_one`,
                // and its slot is dropped with the allocator, so it is not used again.
                Frames::Pool { .. } => unsafe { memory::free(block, FRAME_TAG) },
                // SAFETY: the frame came from DefaultAllocate(context) and goes back once.
                Frames::External { free, .. } => unsafe { free(self.context, block.as_ptr()) },
            }
        }
    }

    /// `DeleteAllocator(Context)`, once: consumes the source.
    fn delete(self) {
        if let Some(delete) = self.delete {
            // SAFETY: the external allocator's contract: called once, after its last frame was
            // given back, with the context its InitializeAllocator returned.
            unsafe { delete(self.context) };
        }
    }
}

/// The file name bytes of `file` (`FileName.Length` bytes; empty if there is no buffer).
///
/// # Safety
/// `file` must be a live FILE_OBJECT whose `FileName` is valid for the returned lifetime.
unsafe fn file_name<'a>(file: *mut FILE_OBJECT) -> &'a [u8] {
    // SAFETY: the caller guarantees the file object is live.
    let name = unsafe { (*file).FileName };
    if name.Buffer.is_null() || name.Length == 0 {
        return &[];
    }
    // SAFETY: the I/O manager's contract: `Buffer` holds `Length` bytes while the create is
    // processed; nothing past `Length` is read.
    unsafe { core::slice::from_raw_parts(name.Buffer.cast::<u8>(), usize::from(name.Length)) }
}

/// Validates the create request of `irp` (the `KsValidateAllocatorCreateRequest` rules) and
/// returns the framing and the byte offset of the parameters in the file name.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE the caller owns.
pub unsafe fn validate_create_request(irp: *mut IRP) -> Result<(Framing, usize), Error> {
    // SAFETY: the caller owns the live IRP.
    let file = unsafe { irp::file_object(irp) };
    if file.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: a create IRP's file object and its name live while the create is processed.
    let name = unsafe { file_name(file) };
    let offset = create_parameters_offset(name)?;
    let framing = parse_create_parameters(&name[offset..])?;
    Ok((framing, offset))
}

/// `KsCreateDefaultAllocatorEx`: builds the allocator for the create request `irp` and points
/// its file object's `FsContext` at it. Never completes the IRP or touches its `IoStatus`.
///
/// Order of work (each failure undoes what came before, so nothing leaks): validate the request
/// and the callbacks; allocate the object block; `InitializeAllocator`; the slot table and the
/// index; every frame; the frame book; `KsAllocateObjectHeader`.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE the caller owns, at PASSIVE_LEVEL; the callbacks must
/// follow their documented contracts.
pub unsafe fn create(irp: *mut IRP, callbacks: Callbacks) -> Result<(), Error> {
    // SAFETY: forwarded from the caller.
    let (framing, _) = unsafe { validate_create_request(irp) }?;
    let frames = match (callbacks.allocate, callbacks.free) {
        (Some(allocate), Some(free)) => Frames::External { allocate, free },
        (None, None) => Frames::Pool {
            flags: framing.pool().pool_flags(),
            bytes: framing.pool_bytes_per_frame(),
            mask: framing.alignment_mask() as usize,
        },
        _ => return Err(Error::IncompleteCallbacks),
    };
    let size = core::mem::size_of::<AllocatorObject>();
    let block = memory::allocate(POOL_FLAG_NON_PAGED, size, OBJECT_TAG)?;
    // SAFETY: forwarded from the caller.
    match unsafe { build(irp, &framing, frames, callbacks) } {
        Ok(object) => {
            let object_ptr = block.cast::<AllocatorObject>().as_ptr();
            // SAFETY: the block is fresh, non-paged, large enough, and 16-byte aligned (the pool's
            // guarantee), which covers AllocatorObject's alignment.
            unsafe { object_ptr.write(object) };
            // SAFETY: the caller owns the live create IRP.
            let file = unsafe { irp::file_object(irp) };
            // SAFETY: the create IRP's file object is live (checked non-NULL when validating).
            unsafe { (*file).FsContext = object_ptr.cast() };
            Ok(())
        }
        Err(error) => {
            // SAFETY: the block came from `memory::allocate` with OBJECT_TAG and was never
            // published.
            unsafe { memory::free(block, OBJECT_TAG) };
            Err(error)
        }
    }
}

/// Everything but the object's own block; on failure nothing is left behind.
///
/// # Safety
/// As for [`create`].
unsafe fn build(
    irp: *mut IRP,
    framing: &Framing,
    frames: Frames,
    callbacks: Callbacks,
) -> Result<AllocatorObject, Error> {
    let mut context = callbacks.initialize_context;
    if let Some(initialize) = callbacks.initialize {
        // The callback gets a copy of the framing; changes it makes are not taken into account.
        let mut raw = framing.to_raw();
        // SAFETY: the external allocator's contract: InitializeAllocator(InitializeContext,
        // &framing, &Context) at PASSIVE_LEVEL; both pointers are valid for the call.
        let status = unsafe { initialize(callbacks.initialize_context, &mut raw, &mut context) };
        if !nt_success(status) {
            return Err(Error::InitializeAllocatorFailed { status });
        }
    }
    let source = FrameSource {
        frames,
        context,
        delete: callbacks.delete,
    };
    // SAFETY: forwarded from the caller.
    match unsafe { build_locked(irp, framing, &source) } {
        Ok((header, core)) => Ok(AllocatorObject {
            header,
            locked: SpinLock::new(Locked {
                core,
                waiting: IrpQueue::new(),
            }),
            source,
        }),
        Err(error) => {
            source.delete();
            Err(error)
        }
    }
}

/// The tables, the frames and the object header.
///
/// # Safety
/// As for [`create`].
unsafe fn build_locked(
    irp: *mut IRP,
    framing: &Framing,
    source: &FrameSource,
) -> Result<(KSOBJECT_HEADER, PoolState), Error> {
    let count = framing.frames() as usize;
    let mut slots = PoolArray::new(count, Slot::EMPTY)?;
    let index = PoolArray::new(index_len(count), 0u32)?;
    source.obtain(&mut slots)?;
    let book = match FrameBook::new(slots, index, framing.alignment_mask()) {
        Ok(book) => book,
        Err((error, slots)) => {
            source.give_back(&slots);
            return Err(error);
        }
    };
    let mut header: KSOBJECT_HEADER = ptr::null_mut();
    // SAFETY: `header` is writable; no create items; the caller's live create IRP carries the
    // create item in KSCREATE_ITEM_IRP_STORAGE; the dispatch table is a static.
    let status =
        unsafe { KsAllocateObjectHeader(&mut header, 0, ptr::null_mut(), irp, &DISPATCH_TABLE) };
    if !nt_success(status) {
        source.give_back(book.slots());
        let status = failure_or_unsuccessful(status);
        return Err(Error::ServiceFailed { status });
    }
    Ok((header, AllocatorState::new(*framing, book)))
}

/// The allocator behind an allocator file object.
///
/// # Safety
/// `file` must be a live allocator file object (created by [`create`], not yet closed); the
/// object is valid until IRP_MJ_CLOSE reaches [`destroy`].
pub unsafe fn object_of<'a>(file: *mut FILE_OBJECT) -> &'a AllocatorObject {
    // SAFETY: the caller guarantees a live allocator file object.
    let context = unsafe { (*file).FsContext };
    // SAFETY: its FsContext points to a live AllocatorObject (set by `create`).
    unsafe { &*context.cast::<AllocatorObject>() }
}

/// The allocator an IRP is for (through its current stack location's file object).
///
/// # Safety
/// `irp` must be a live IRP owned by the caller, for a live allocator file object (see
/// [`object_of`]).
pub unsafe fn object_of_irp<'a>(irp: *mut IRP) -> &'a AllocatorObject {
    // SAFETY: the caller owns the live IRP.
    let file = unsafe { irp::file_object(irp) };
    // SAFETY: the caller guarantees it is an allocator's file object.
    unsafe { object_of(file) }
}

/// Frees the allocator behind `file` and clears `FsContext`: every frame (outstanding or not)
/// goes back to its source, then `DeleteAllocator`, the tables, the header and the object block.
///
/// # Safety
/// `file` must be a live allocator file object at IRP_MJ_CLOSE, with no waiting IRPs and no
/// other thread using the object; neither is used afterwards.
pub unsafe fn destroy(file: *mut FILE_OBJECT) {
    // SAFETY: the caller guarantees the file object is live.
    let object_ptr = unsafe { (*file).FsContext }.cast::<AllocatorObject>();
    // SAFETY: as above; the object is unpublished before it is taken apart.
    unsafe { (*file).FsContext = ptr::null_mut() };
    // SAFETY: FsContext pointed to a live object written by `create`; it is moved out once.
    let object = unsafe { object_ptr.read() };
    if let Some(block) = NonNull::new(object_ptr.cast::<c_void>()) {
        // SAFETY: the block came from `memory::allocate` with OBJECT_TAG in `create`; its value
        // was moved out above.
        unsafe { memory::free(block, OBJECT_TAG) };
    }
    let AllocatorObject {
        header,
        locked,
        source,
    } = object;
    let locked = locked.into_inner();
    source.give_back(locked.core.book().slots());
    drop(locked);
    source.delete();
    // SAFETY: the header came from KsAllocateObjectHeader in `create` and is freed once.
    unsafe { KsFreeObjectHeader(header) };
}
