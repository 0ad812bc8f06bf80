//! KsCreateDefaultAllocatorEx with an external allocator: each callback counted, failures of
//! InitializeAllocator and DefaultAllocate, misaligned and incomplete external allocators. The
//! function is the Linux build's, or with `AVCAM_DRIVER_IMAGE` the cross-built image's export
//! (`common::exports`).

mod common;

use std::alloc::Layout;
use std::collections::HashSet;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use avcam_emulation::CreateItem;
use avcam_kernel::irp;
use common::{exports, framing, Fixture};
use ks::ks::{file_alignment, KSALLOCATOR_FRAMING};
use ks::nt::{DEVICE_OBJECT, IRP};
use ks::status::*;
use ks::NTSTATUS;

/// An external allocator that counts its calls; it is the InitializeContext.
#[derive(Default)]
struct External {
    initialize: AtomicUsize,
    allocate: AtomicUsize,
    free: AtomicUsize,
    delete: AtomicUsize,
    /// What InitializeAllocator returns (0: success).
    initialize_status: NTSTATUS,
    /// DefaultAllocate returns NULL on this call (1-based; 0: never).
    fail_allocate_at: usize,
    /// Offset added to each frame (to hand out misaligned frames).
    skew: usize,
    /// The framing InitializeAllocator saw.
    framing: Mutex<Option<KSALLOCATOR_FRAMING>>,
    /// Frames handed out and not given back.
    live: Mutex<HashSet<usize>>,
    /// Which callbacks the test creates with: (allocate, free).
    with: (bool, bool),
}

const FRAME_LAYOUT: Layout = match Layout::from_size_align(4096, 4096) {
    Ok(layout) => layout,
    Err(_) => panic!("a valid layout"),
};

/// The context the allocator passes to DefaultAllocate/DefaultFree/DeleteAllocator: InitializeAllocator
/// returns this (the External plus one, to prove the returned context is the one used).
fn context_of(external: *const External) -> *mut c_void {
    external.cast::<u8>().wrapping_add(1).cast_mut().cast()
}

fn external_of<'a>(context: *mut c_void) -> &'a External {
    // SAFETY: every context handed out is `context_of` a live External of the running test.
    unsafe { &*context.cast::<u8>().wrapping_sub(1).cast::<External>() }
}

#[ks::kernel_abi]
unsafe extern "system" fn initialize(
    initial: *mut c_void,
    framing: *mut KSALLOCATOR_FRAMING,
    context: *mut *mut c_void,
) -> NTSTATUS {
    // SAFETY: the InitializeContext is the test's External.
    let external = unsafe { &*initial.cast::<External>() };
    external.initialize.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the allocator passes a readable framing for the call.
    *external.framing.lock().unwrap() = Some(unsafe { framing.read() });
    if external.initialize_status != STATUS_SUCCESS {
        return external.initialize_status;
    }
    // SAFETY: the allocator passes a writable context pointer.
    unsafe { context.write(context_of(external)) };
    STATUS_SUCCESS
}

#[ks::kernel_abi]
unsafe extern "system" fn allocate(context: *mut c_void) -> *mut c_void {
    let external = external_of(context);
    let call = external.allocate.fetch_add(1, Ordering::SeqCst) + 1;
    if call == external.fail_allocate_at {
        return std::ptr::null_mut();
    }
    // SAFETY: a non-zero layout.
    let block = unsafe { std::alloc::alloc_zeroed(FRAME_LAYOUT) } as usize;
    assert_ne!(block, 0);
    let frame = block + external.skew;
    external.live.lock().unwrap().insert(frame);
    frame as *mut c_void
}

#[ks::kernel_abi]
unsafe extern "system" fn free(context: *mut c_void, frame: *mut c_void) {
    let external = external_of(context);
    external.free.fetch_add(1, Ordering::SeqCst);
    assert!(
        external.live.lock().unwrap().remove(&(frame as usize)),
        "a frame this allocator never gave out"
    );
    // SAFETY: the block came from `allocate` with FRAME_LAYOUT.
    unsafe { std::alloc::dealloc((frame as usize - external.skew) as *mut u8, FRAME_LAYOUT) };
}

#[ks::kernel_abi]
unsafe extern "system" fn delete(context: *mut c_void) {
    external_of(context).delete.fetch_add(1, Ordering::SeqCst);
}

/// The create item handler of a pin with an external allocator.
#[ks::kernel_abi]
unsafe extern "system" fn external_create(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the handler owns the live create IRP.
    let item = unsafe { irp::create_item(irp) };
    // SAFETY: ks.sys stored the matched create item; its Context is the test's External.
    let initial = unsafe { (*item).Context };
    // SAFETY: as above.
    let (with_allocate, with_free) = unsafe { (*initial.cast::<External>()).with };
    // SAFETY: the handler owns the live create IRP; the callbacks follow their contracts.
    let status = unsafe {
        (exports().create_default_allocator_ex)(
            irp,
            initial,
            with_allocate.then_some(allocate as _),
            with_free.then_some(free as _),
            Some(initialize),
            Some(delete),
        )
    };
    // SAFETY: the handler completes the IRP once.
    unsafe { irp::complete(irp, status, 0) };
    status
}

fn fixture(external: &External) -> Fixture {
    let context = (external as *const External).cast_mut().cast();
    Fixture::with_item(CreateItem::allocator(external_create).with_context(context))
}

fn counts(external: &External) -> [usize; 4] {
    [
        &external.initialize,
        &external.allocate,
        &external.free,
        &external.delete,
    ]
    .map(|c| c.load(Ordering::SeqCst))
}

#[test]
fn every_callback_is_called_as_documented_and_frames_come_from_the_external_allocator() {
    let external = External {
        with: (true, true),
        ..Default::default()
    };
    let fixture = fixture(&external);
    let asked = framing(3, 4096, file_alignment::B512);
    let file = fixture.create(&asked).unwrap();
    assert_eq!(
        counts(&external),
        [1, 3, 0, 0],
        "initialize once, one allocate per frame, at create"
    );
    assert_eq!(*external.framing.lock().unwrap(), Some(asked));
    let frames: Vec<usize> = (0..3).map(|_| fixture.alloc(file).unwrap()).collect();
    let live = external.live.lock().unwrap().clone();
    assert_eq!(
        frames.iter().copied().collect::<HashSet<_>>(),
        live,
        "every frame is an external one"
    );
    fixture.free(file, frames[0]);
    fixture.alloc(file).unwrap();
    assert_eq!(
        counts(&external),
        [1, 3, 0, 0],
        "alloc and free recycle, no callback per frame"
    );
    // No frame of the external allocator went to the pool: only the object and tables did.
    assert!(fixture.kernel.pool().outstanding_bytes() < 4096);
    assert_eq!(fixture.kernel.close(file), STATUS_SUCCESS);
    assert_eq!(
        counts(&external),
        [1, 3, 3, 1],
        "every frame freed, delete once, at close"
    );
    assert!(external.live.lock().unwrap().is_empty());
    fixture.finish();
}

#[test]
fn an_initialize_allocator_failure_is_returned_with_nothing_allocated() {
    let external = External {
        with: (true, true),
        initialize_status: STATUS_DEVICE_NOT_READY,
        ..Default::default()
    };
    let fixture = fixture(&external);
    assert_eq!(
        fixture.create(&framing(2, 64, 0)),
        Err(STATUS_DEVICE_NOT_READY)
    );
    assert_eq!(
        counts(&external),
        [1, 0, 0, 0],
        "no frame asked for, no delete for a failed initialize"
    );
    fixture.kernel.pool().assert_no_leaks();
    fixture.finish();
}

#[test]
fn a_default_allocate_failure_gives_back_what_was_allocated() {
    let external = External {
        with: (true, true),
        fail_allocate_at: 3,
        ..Default::default()
    };
    let fixture = fixture(&external);
    assert_eq!(
        fixture.create(&framing(4, 64, 0)),
        Err(STATUS_INSUFFICIENT_RESOURCES)
    );
    assert_eq!(
        counts(&external),
        [1, 3, 2, 1],
        "the two frames obtained are freed, then delete"
    );
    assert!(external.live.lock().unwrap().is_empty());
    fixture.finish();
}

#[test]
fn misaligned_external_frames_are_refused() {
    let external = External {
        with: (true, true),
        skew: 16,
        ..Default::default()
    };
    let fixture = fixture(&external);
    assert_eq!(
        fixture.create(&framing(2, 64, file_alignment::B64)),
        Err(STATUS_DATATYPE_MISALIGNMENT_ERROR)
    );
    assert_eq!(counts(&external), [1, 2, 2, 1]);
    assert!(external.live.lock().unwrap().is_empty());
    // The same frames are fine for a 16-byte alignment.
    let file = fixture
        .create(&framing(2, 64, file_alignment::OCTA))
        .unwrap();
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn an_allocate_without_a_free_is_refused_before_any_callback() {
    for with in [(true, false), (false, true)] {
        let external = External {
            with,
            ..Default::default()
        };
        let fixture = fixture(&external);
        assert_eq!(
            fixture.create(&framing(2, 64, 0)),
            Err(STATUS_INVALID_PARAMETER)
        );
        assert_eq!(counts(&external), [0, 0, 0, 0]);
        fixture.finish();
    }
}

#[test]
fn initialize_and_delete_without_frame_callbacks_use_pool_frames() {
    let external = External {
        with: (false, false),
        ..Default::default()
    };
    let fixture = fixture(&external);
    let file = fixture.create(&framing(2, 8192, 0)).unwrap();
    assert_eq!(counts(&external), [1, 0, 0, 0]);
    assert!(
        fixture.kernel.pool().outstanding_bytes() >= 2 * 8192,
        "the frames came from the pool"
    );
    fixture.kernel.close(file);
    assert_eq!(counts(&external), [1, 0, 0, 1]);
    fixture.finish();
}

#[test]
fn a_fault_sweep_over_an_external_create_returns_every_frame_and_deletes_once() {
    let probe = External {
        with: (true, true),
        ..Default::default()
    };
    let probe_fixture = fixture(&probe);
    let pool = probe_fixture.kernel.pool();
    let before = pool.allocation_calls();
    let file = probe_fixture.create(&framing(3, 64, 0)).unwrap();
    let calls = pool.allocation_calls() - before;
    assert_eq!(
        calls, 4,
        "object, slot table, index, object header: frames come from the callbacks"
    );
    probe_fixture.kernel.close(file);
    probe_fixture.finish();
    for n in 1..=calls {
        let external = External {
            with: (true, true),
            ..Default::default()
        };
        let fixture = fixture(&external);
        fixture.kernel.pool().fail_nth_allocation(n);
        assert_eq!(
            fixture.create(&framing(3, 64, 0)),
            Err(STATUS_INSUFFICIENT_RESOURCES),
            "failing allocation {n}"
        );
        let [initialized, allocated, freed, deleted] = counts(&external);
        assert_eq!(
            allocated, freed,
            "every external frame given back (allocation {n})"
        );
        assert_eq!(
            deleted, initialized,
            "DeleteAllocator exactly when InitializeAllocator succeeded (allocation {n})"
        );
        assert!(external.live.lock().unwrap().is_empty());
        fixture.finish();
    }
}
