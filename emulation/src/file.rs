//! File objects: their requestor mode, their handle and reference counts, and the IRP_MJ_CLEANUP
//! and IRP_MJ_CLOSE those counts decide.
//!
//! As the I/O manager and the object manager do it (learn.microsoft.com, kernel/irp-mj-cleanup
//! and kernel/irp-mj-close):
//! - a file object has **handles** (the client's [`File`](crate::File)s, the driver's kernel
//!   handles from `ObOpenObjectByPointer` and `KsCreateAllocator`) and **references** (one per
//!   handle, one per IRP in flight other than create, cleanup and close, one per
//!   `ObReferenceObjectByHandle` the driver has not dropped);
//! - closing its last handle sends IRP_MJ_CLEANUP at once, in the closer's context ("the last
//!   handle ... has been closed", even with I/O outstanding);
//! - dropping its last reference sends IRP_MJ_CLOSE ("All outstanding I/O requests have been
//!   completed or canceled"), always at PASSIVE_LEVEL: at once when a handle close (the client's
//!   close, `ZwClose`) or an `ObfDereferenceObject` at PASSIVE_LEVEL drops it. When the last IRP
//!   in flight completes, the I/O manager drops the IRP's reference in its completion APC, in the
//!   requesting thread (ReactOS `IopCompleteRequest`, ntoskrnl/io/iomgr/irp.c): the emulation
//!   sends that CLOSE at the next point where no driver code is on the thread's stack (a client
//!   call returning, a thread leaving the kernel, a DPC or work item done; see
//!   `run_pending_closes`), so never inside a DPC nor nested in the driver's own completion;
//! - the requestor mode is the opener's: a file opened by a user-mode client is a user-mode file,
//!   and the files the client opens relative to it (pins, allocators) are too; every IRP on it
//!   carries that mode in `Irp->RequestorMode`. The driver's own opens are kernel-mode;
//! - a relative open takes no lasting reference on its parent: `RelatedFileObject` "is only valid
//!   during the processing of the IRP_MJ_CREATE requests" (wdm FILE_OBJECT), and ReactOS's
//!   `IopParseDevice` takes none. Only the parent's FILE_OBJECT *memory* is kept while the child
//!   lives (a stale `RelatedFileObject` then reads a dead object, not freed host memory);
//! - a create that fails leaves a file object that was never opened: no CLEANUP, no CLOSE
//!   (ReactOS `IopCreateFile` clears such a file object's DeviceObject before dereferencing it).

use std::collections::{BTreeMap, HashMap};
use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use ks::ks::KSOBJECT_HEADER;
use ks::nt::{
    irp_mj, FILE_OBJECT, IO_TYPE_FILE, KPROCESSOR_MODE, LIST_ENTRY, PASSIVE_LEVEL, UNICODE_STRING,
};

use crate::io;
use crate::kernel::{current_irql, KernelState};
use crate::memory::{field_ptr, zeroed, RawBox, RawBuffer};

/// A file object and the memory it points to.
pub(crate) struct FileRecord {
    object: RawBox<FILE_OBJECT>,
    /// The buffer `FileName` points to.
    _name: RawBuffer,
    /// The related (parent) file object's memory, kept so that a stale `RelatedFileObject` stays
    /// readable; no reference on the parent object (see the module docs).
    _parent_memory: Option<Arc<FileRecord>>,
    /// Memory the emulation put behind `FsContext` (for the test parents of `client`).
    _owned_context: Option<Box<dyn Send + Sync>>,
    /// For a test parent: its emulation-owned object header, dropped after its CLOSE.
    test_header: Option<usize>,
    /// `KernelMode` or `UserMode`: the opener's mode, carried by every IRP on the file.
    mode: KPROCESSOR_MODE,
    life: Mutex<Life>,
}

/// The counts that decide CLEANUP and CLOSE.
#[derive(Default)]
struct Life {
    handles: usize,
    references: usize,
    /// The create succeeded (a file object never opened gets neither CLEANUP nor CLOSE).
    opened: bool,
    /// The CLOSE is queued or sent: the object is gone for every new use.
    closing: bool,
}

impl FileRecord {
    /// The FILE_OBJECT.
    pub(crate) fn object(&self) -> *mut FILE_OBJECT {
        self.object.as_ptr()
    }

    /// The requestor mode of the IRPs on this file.
    pub(crate) fn mode(&self) -> KPROCESSOR_MODE {
        self.mode
    }

    fn life(&self) -> MutexGuard<'_, Life> {
        self.life.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new handle (and the reference it holds); false if the object is already closing.
    pub(crate) fn add_handle(&self) -> bool {
        let mut life = self.life();
        if life.closing || !life.opened {
            return false;
        }
        life.handles += 1;
        life.references += 1;
        true
    }

    /// A new reference (an IRP in flight, `ObReferenceObjectByHandle`).
    pub(crate) fn add_reference(&self) {
        self.life().references += 1;
    }

    /// Whether IRP_MJ_CLOSE is queued or sent.
    pub(crate) fn is_closing(&self) -> bool {
        self.life().closing
    }
}

/// Every file object of one kernel that is open or waiting for its CLOSE, the CLOSEs waiting for a
/// safe point, and the client's handles.
#[derive(Default)]
pub(crate) struct Files {
    /// Opened file objects whose CLOSE has not completed, by FILE_OBJECT address.
    live: Mutex<HashMap<usize, Arc<FileRecord>>>,
    /// File objects whose last reference went where the CLOSE could not be sent at once.
    pending_closes: Mutex<Vec<Arc<FileRecord>>>,
    /// The client's handles ([`crate::File`]), by id; ids grow, so the newest is the last.
    pub(crate) client: Mutex<ClientHandles>,
}

/// The client's open handles.
#[derive(Default)]
pub(crate) struct ClientHandles {
    /// By id.
    pub(crate) by_id: BTreeMap<u64, Arc<FileRecord>>,
    /// The last id handed out.
    pub(crate) last_id: u64,
}

impl Files {
    fn live(&self) -> MutexGuard<'_, HashMap<usize, Arc<FileRecord>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, Vec<Arc<FileRecord>>> {
        self.pending_closes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Whether CLOSEs wait for a safe point.
    pub(crate) fn has_pending_closes(&self) -> bool {
        !self.pending().is_empty()
    }

    /// The client's handle table.
    pub(crate) fn client(&self) -> MutexGuard<'_, ClientHandles> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live file object at `object` (open, or closed by every handle and waiting for its
    /// last reference), if any.
    pub(crate) fn live_file(&self, object: *mut FILE_OBJECT) -> Option<Arc<FileRecord>> {
        self.live()
            .get(&(object as usize))
            .filter(|record| !record.is_closing())
            .cloned()
    }

    /// File objects every handle of which is closed but whose CLOSE was never sent (references
    /// left: IRPs never completed, references the driver kept), for the leak report.
    pub(crate) fn unclosed(&self) -> Vec<String> {
        let mut unclosed: Vec<String> = self
            .live()
            .values()
            .filter_map(|record| {
                let life = record.life();
                (life.handles == 0 && !life.closing).then(|| {
                    format!(
                        "file object {:#x}: every handle closed, IRP_MJ_CLOSE never sent ({} \
                         reference(s) left: IRPs not completed or references not dropped)",
                        record.object() as usize,
                        life.references
                    )
                })
            })
            .collect();
        unclosed.sort();
        unclosed
    }
}

/// A new file object on the kernel's device, named `name` (`Length` = `name_bytes`, which may be
/// odd), relative to `parent`, with requestor mode `mode`. `context` is memory the emulation puts
/// behind `FsContext` (test parents) and keeps alive with the file object; `test_header` is a test
/// parent's object header. It has no handle until [`opened`] and a handle are added.
pub(crate) fn new_file(
    state: &KernelState,
    parent: Option<Arc<FileRecord>>,
    name: RawBuffer,
    name_bytes: u16,
    mode: KPROCESSOR_MODE,
    context: Option<(*mut c_void, Box<dyn Send + Sync>)>,
    test_header: Option<KSOBJECT_HEADER>,
) -> Arc<FileRecord> {
    let object = RawBox::<FILE_OBJECT>::zeroed();
    let mut value: FILE_OBJECT = zeroed();
    value.Type = IO_TYPE_FILE;
    value.Size = std::mem::size_of::<FILE_OBJECT>() as i16;
    value.DeviceObject = state.io.device();
    value.RelatedFileObject = parent.as_ref().map_or(std::ptr::null_mut(), |p| p.object());
    value.FileName = UNICODE_STRING {
        Length: name_bytes,
        MaximumLength: name.len() as u16,
        Buffer: name.as_ptr().cast(),
    };
    let list: *mut LIST_ENTRY = field_ptr!(object.as_ptr(), FILE_OBJECT, IrpList);
    value.IrpList = LIST_ENTRY {
        Flink: list,
        Blink: list,
    };
    let owned_context = context.map(|(fs_context, owner)| {
        value.FsContext = fs_context;
        owner
    });
    // SAFETY: the object was just allocated and nobody else knows it yet.
    unsafe { object.as_ptr().write(value) };
    Arc::new(FileRecord {
        object,
        _name: name,
        _parent_memory: parent,
        _owned_context: owned_context,
        test_header: test_header.map(|h| h as usize),
        mode,
        life: Mutex::new(Life::default()),
    })
}

/// Marks `record` opened (its create succeeded) and registers it as live; the caller adds its
/// first handle.
pub(crate) fn opened(state: &KernelState, record: &Arc<FileRecord>) {
    record.life().opened = true;
    state
        .io
        .files
        .live()
        .insert(record.object() as usize, record.clone());
}

/// When a CLOSE that the last reference decides is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// At once if the caller is at PASSIVE_LEVEL (a handle close, `ObfDereferenceObject`), else
    /// at the next safe point.
    Now,
    /// At the next safe point (an IRP's reference, dropped by the completion APC).
    Deferred,
}

/// Closes one handle of `record`: IRP_MJ_CLEANUP if it was the last, then drops the handle's
/// reference. False if the object had no handle open.
pub(crate) fn close_handle(state: &KernelState, record: &Arc<FileRecord>) -> bool {
    let last = {
        let mut life = record.life();
        if life.handles == 0 {
            return false;
        }
        life.handles -= 1;
        life.handles == 0
    };
    if last {
        send(state, record, irp_mj::CLEANUP);
    }
    release_reference(state, record, Release::Now);
    true
}

/// Drops one reference of `record`; the last one (with no handle left) decides the CLOSE.
pub(crate) fn release_reference(state: &KernelState, record: &Arc<FileRecord>, when: Release) {
    {
        let mut life = record.life();
        life.references = life.references.saturating_sub(1);
        if life.references > 0 || life.handles > 0 || life.closing || !life.opened {
            return;
        }
        life.closing = true;
    }
    if when == Release::Now && current_irql() == PASSIVE_LEVEL {
        send_close(state, record);
    } else {
        state.io.files.pending().push(record.clone());
    }
}

/// Sends the CLOSEs waiting for a safe point (at PASSIVE_LEVEL, with no driver code on this
/// thread's stack); does nothing above PASSIVE_LEVEL.
pub(crate) fn run_pending_closes(state: &KernelState) {
    if current_irql() != PASSIVE_LEVEL {
        return;
    }
    loop {
        let next = {
            let mut pending = state.io.files.pending();
            if pending.is_empty() {
                return;
            }
            pending.remove(0)
        };
        send_close(state, &next);
    }
}

/// IRP_MJ_CLOSE: the last reference is gone. The file object is forgotten afterwards.
fn send_close(state: &KernelState, record: &Arc<FileRecord>) {
    send(state, record, irp_mj::CLOSE);
    state.io.files.live().remove(&(record.object() as usize));
    if let Some(header) = record.test_header {
        state.ks.drop_emulation_header(header as KSOBJECT_HEADER);
    }
}

/// Sends a CLEANUP or CLOSE (no parameters, no buffers) and waits for it; its status is the
/// driver's business (a close cannot fail).
fn send(state: &KernelState, record: &Arc<FileRecord>, major: u8) {
    let irp = state.io.new_irp(
        major,
        record,
        zeroed(),
        RawBuffer::zeroed(0),
        RawBuffer::zeroed(0),
        false,
    );
    let _ = io::call_driver_and_wait(state, &irp);
    state.io.retire(&irp);
}
