//! The client side: a safe API to create objects, send requests and close them, for tests and
//! later the viewer.
//!
//! Every call enters the kernel on the calling thread for its duration (at PASSIVE_LEVEL), builds
//! the IRP as the I/O manager would for a kernel-mode caller, sends it through the driver's
//! `MajorFunction` table, and raises any driver bug detected meanwhile (see [`crate::bugs`]).
//!
//! - [`Kernel::create_parent`]: a test parent object (standing in for a pin) whose file object
//!   carries a KS object header with the given create items;
//! - [`Kernel::create`] / [`Kernel::create_bytes`]: IRP_MJ_CREATE relative to a parent;
//! - [`Kernel::create_allocator`] / [`Kernel::create_allocator_raw`]: the request
//!   `KsCreateAllocator` sends;
//! - [`Kernel::ioctl`] (synchronous) and [`Kernel::ioctl_async`] (a [`PendingIrp`] when the
//!   driver returns STATUS_PENDING): METHOD_NEITHER IOCTLs (IOCTL_KS_PROPERTY, ...);
//! - [`Kernel::close`]: IRP_MJ_CLOSE. The emulation sends it when the client closes, even with
//!   IRPs pending (Windows would send IRP_MJ_CLEANUP and hold the close until they complete);
//!   IRPs still pending once the close completes are reported as a driver bug.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ks::ks::{
    KSSTRING_Allocator, KSALLOCATOR_FRAMING, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM,
    KSOBJECT_HEADER,
};
use ks::nt::{
    irp_mj, NotificationEvent, DEVICE_IO_CONTROL_PARAMETERS, DEVICE_OBJECT, DRIVER_OBJECT,
    EVENT_TYPE, FILE_OBJECT, HANDLE, IO_STACK_PARAMETERS, IRP, UNICODE_STRING,
};
use ks::status::{nt_success, STATUS_PENDING, STATUS_SUCCESS};
use ks::NTSTATUS;
use zerocopy::IntoBytes;

use crate::bugs::Bug;
use crate::io::{self, complete_with, IoResult, IrpRecord, OpenFile};
use crate::ks::ObjectHeader;
use crate::memory::{zeroed, RawBox, RawBuffer};
use crate::{event, Kernel};

/// An open file object of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct File(pub(crate) u64);

/// `PDRIVER_DISPATCH` without the Option: a create handler.
pub type DispatchFn = unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS;

/// A create item of a test parent.
#[derive(Clone, Debug)]
pub struct CreateItem {
    name: Vec<u16>,
    create: Option<DispatchFn>,
    context: *mut c_void,
    flags: u32,
    security_descriptor: bool,
}

impl CreateItem {
    /// An item named `object_class` whose creates go to `create`.
    pub fn new(object_class: &str, create: DispatchFn) -> CreateItem {
        CreateItem {
            name: object_class.encode_utf16().collect(),
            create: Some(create),
            context: std::ptr::null_mut(),
            flags: 0,
            security_descriptor: false,
        }
    }

    /// The item KsCreateAllocator's requests match (`KSSTRING_Allocator`).
    pub fn allocator(create: DispatchFn) -> CreateItem {
        CreateItem::new(KSSTRING_Allocator, create)
    }

    /// Sets `Context`.
    pub fn with_context(mut self, context: *mut c_void) -> CreateItem {
        self.context = context;
        self
    }

    /// Sets `Flags` (`KSCREATE_ITEM_*`).
    pub fn with_flags(mut self, flags: u32) -> CreateItem {
        self.flags = flags;
        self
    }

    /// Gives the item a security descriptor (an opaque blob: the emulation has no security model).
    pub fn with_security_descriptor(mut self) -> CreateItem {
        self.security_descriptor = true;
        self
    }
}

/// The memory behind a test parent's `FsContext`: its items, their names, its header.
struct ParentParts {
    _context: RawBox<KSOBJECT_HEADER>,
    _items: RawBuffer,
    _names: Vec<RawBuffer>,
    _descriptors: Vec<RawBuffer>,
}

/// A test parent's dispatch table: close succeeds, everything else is an invalid request.
static PARENT_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: None,
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(close_parent),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

/// IRP_MJ_CLOSE of a test parent: the emulation frees its header itself.
unsafe extern "system" fn close_parent(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP it was given.
    unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
}

/// The result of a request that completed, with the output buffer's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoOutput {
    /// Status and information.
    pub result: IoResult,
    /// The output buffer as the driver left it.
    pub output: Vec<u8>,
}

/// What [`Kernel::ioctl_async`] gives back.
pub enum AsyncIo {
    /// The dispatch routine returned something other than STATUS_PENDING.
    Done(IoOutput),
    /// The dispatch routine returned STATUS_PENDING.
    Pending(PendingIrp),
}

impl AsyncIo {
    /// The pending IRP; panics if the request was not pended.
    pub fn expect_pending(self) -> PendingIrp {
        match self {
            AsyncIo::Pending(pending) => pending,
            AsyncIo::Done(done) => panic!(
                "expected STATUS_PENDING, the request completed: {:?}",
                done.result
            ),
        }
    }

    /// The completed result; panics if the request was pended.
    pub fn expect_done(self) -> IoOutput {
        match self {
            AsyncIo::Done(done) => done,
            AsyncIo::Pending(_) => {
                panic!("expected a completed request, the driver returned STATUS_PENDING")
            }
        }
    }
}

/// An IRP the driver returned STATUS_PENDING for.
pub struct PendingIrp {
    kernel: Kernel,
    record: Arc<IrpRecord>,
}

impl PendingIrp {
    /// The result, if the IRP is completed.
    pub fn poll(&self) -> Option<IoResult> {
        self.record.result()
    }

    /// Waits up to `timeout` for completion.
    pub fn wait(&self, timeout: Duration) -> Option<IoResult> {
        self.record.wait(timeout)
    }

    /// The output buffer, once completed.
    pub fn output(&self) -> Option<Vec<u8>> {
        self.record.result().map(|_| self.record.output())
    }

    /// `IoCancelIrp`: sets the IRP's Cancel flag and calls its cancel routine, if one is set.
    /// Returns whether a routine was called.
    pub fn cancel(&self) -> bool {
        let called = {
            let _entered = self.kernel.enter();
            io::cancel(&self.kernel.state, &self.record)
        };
        self.kernel.check();
        called
    }

    /// The IRP (for tests that look inside).
    pub fn irp(&self) -> *mut IRP {
        self.record.irp()
    }
}

impl Drop for PendingIrp {
    fn drop(&mut self) {
        // A completed IRP is done with; one still pending stays registered, so the driver can
        // still complete it.
        if self.record.result().is_some() {
            self.kernel.state.io.retire(&self.record);
        }
    }
}

/// The name KsCreateAllocator opens: `KSSTRING_Allocator`, `\`, then `parameters` (the raw
/// KSALLOCATOR_FRAMING bytes), as bytes of UTF-16.
pub fn allocator_create_name(parameters: &[u8]) -> Vec<u8> {
    let mut name: Vec<u8> = KSSTRING_Allocator
        .encode_utf16()
        .chain([u16::from(b'\\')])
        .flat_map(u16::to_le_bytes)
        .collect();
    name.extend_from_slice(parameters);
    name
}

impl Kernel {
    /// The driver object (its `MajorFunction` slots go to `KsDispatchIrp`).
    pub fn driver_object(&self) -> *mut DRIVER_OBJECT {
        self.state.io.driver()
    }

    /// The device object every file object is opened on.
    pub fn device_object(&self) -> *mut DEVICE_OBJECT {
        self.state.io.device()
    }

    /// The FILE_OBJECT of an open file.
    pub fn file_object(&self, file: File) -> *mut FILE_OBJECT {
        self.open_record(file).object()
    }

    /// Files the client has open (parents included).
    pub fn open_files(&self) -> usize {
        self.state
            .io
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }

    /// The client file whose FILE_OBJECT is `object`, if the client has it open.
    pub(crate) fn file_of_object(
        &self,
        object: *mut FILE_OBJECT,
    ) -> Option<(File, Arc<io::FileRecord>)> {
        let files = self
            .state
            .io
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        files
            .by_id
            .iter()
            .find(|(_, open)| open.record.object() == object)
            .map(|(&id, open)| (File(id), open.record.clone()))
    }

    fn open_record(&self, file: File) -> Arc<io::FileRecord> {
        let files = self
            .state
            .io
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match files.by_id.get(&file.0) {
            Some(open) => open.record.clone(),
            None => panic!(
                "avcam-emulation: {file:?} is not open (closed already, or from another kernel)"
            ),
        }
    }

    fn register(&self, record: Arc<io::FileRecord>, parent_header: Option<usize>) -> File {
        let mut files = self
            .state
            .io
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        files.last_id += 1;
        let id = files.last_id;
        files.by_id.insert(
            id,
            OpenFile {
                record,
                parent_header,
            },
        );
        File(id)
    }

    /// A test parent object with these create items and a dispatch table that only closes.
    pub fn create_parent(&self, items: &[CreateItem]) -> File {
        self.create_parent_with_table(items, &PARENT_TABLE)
    }

    /// A test parent object with these create items and its own dispatch table (for a test that
    /// stands in for a pin's property handling, say).
    pub fn create_parent_with_table(
        &self,
        items: &[CreateItem],
        table: &'static KSDISPATCH_TABLE,
    ) -> File {
        let mut names = Vec::new();
        let mut descriptors = Vec::new();
        let item_array =
            RawBuffer::zeroed(items.len() * std::mem::size_of::<KSOBJECT_CREATE_ITEM>());
        let first_item = item_array.as_ptr().cast::<KSOBJECT_CREATE_ITEM>();
        for (index, item) in items.iter().enumerate() {
            let name_bytes: Vec<u8> = item.name.iter().flat_map(|u| u.to_le_bytes()).collect();
            let Ok(length) = u16::try_from(name_bytes.len()) else {
                panic!("avcam-emulation: create item name too long");
            };
            let name = RawBuffer::from_bytes(&name_bytes);
            let descriptor = if item.security_descriptor {
                let blob = RawBuffer::from_bytes(&[1, 0, 4, 0x80]);
                let pointer = blob.as_ptr().cast();
                descriptors.push(blob);
                pointer
            } else {
                std::ptr::null_mut()
            };
            let value = KSOBJECT_CREATE_ITEM {
                Create: item.create,
                Context: item.context,
                ObjectClass: UNICODE_STRING {
                    Length: length,
                    MaximumLength: length,
                    Buffer: name.as_ptr().cast(),
                },
                SecurityDescriptor: descriptor,
                Flags: item.flags,
            };
            names.push(name);
            // SAFETY: `item_array` holds `items.len()` 16-byte aligned slots; nobody else knows it.
            unsafe { first_item.wrapping_add(index).write(value) };
        }
        let header = self.state.ks.new_emulation_header(ObjectHeader {
            items: if items.is_empty() {
                std::ptr::null_mut()
            } else {
                first_item
            },
            item_count: items.len() as u32,
            table,
            create_item: std::ptr::null_mut(),
        });
        // FsContext -> a structure whose first field is the header.
        let context = RawBox::new(header);
        let fs_context = context.as_ptr().cast();
        let parts = ParentParts {
            _context: context,
            _items: item_array,
            _names: names,
            _descriptors: descriptors,
        };
        let record = self.state.io.new_file(
            None,
            RawBuffer::zeroed(0),
            0,
            Some((fs_context, Box::new(parts))),
        );
        self.register(record, Some(header as usize))
    }

    /// IRP_MJ_CREATE of `name_units` relative to `parent`.
    pub fn create(&self, parent: File, name_units: &[u16]) -> Result<File, NTSTATUS> {
        let bytes: Vec<u8> = name_units.iter().flat_map(|u| u.to_le_bytes()).collect();
        self.create_bytes(parent, &bytes)
    }

    /// IRP_MJ_CREATE of a name given as raw bytes (`FileName.Length` = `name.len()`, which may be
    /// odd) relative to `parent`.
    pub fn create_bytes(&self, parent: File, name: &[u8]) -> Result<File, NTSTATUS> {
        let outcome = self.create_bytes_unchecked(parent, name);
        self.check();
        outcome
    }

    /// [`Kernel::create_bytes`] without raising driver bugs (for the services that create on the
    /// driver's behalf, which cannot panic).
    pub(crate) fn create_bytes_unchecked(
        &self,
        parent: File,
        name: &[u8],
    ) -> Result<File, NTSTATUS> {
        let Ok(length) = u16::try_from(name.len()) else {
            panic!(
                "avcam-emulation: a file name of {} bytes does not fit a UNICODE_STRING",
                name.len()
            );
        };
        let parent = self.open_record(parent);
        self.send_create(Some(parent), name, length)
    }

    /// IRP_MJ_CREATE with no related file object, named `name` (raw bytes of UTF-16): what
    /// opening a device interface sends. Bugs are left for the caller to raise.
    pub(crate) fn create_root_bytes(&self, name: &[u8]) -> Result<File, NTSTATUS> {
        let Ok(length) = u16::try_from(name.len()) else {
            return Err(ks::status::STATUS_INVALID_PARAMETER);
        };
        self.send_create(None, name, length)
    }

    /// Sends IRP_MJ_CREATE for a new file object named `name` (`length` bytes), relative to
    /// `parent` if any, and registers the file when the driver succeeds.
    fn send_create(
        &self,
        parent: Option<Arc<io::FileRecord>>,
        name: &[u8],
        length: u16,
    ) -> Result<File, NTSTATUS> {
        let outcome = {
            let _entered = self.enter();
            let record = self
                .state
                .io
                .new_file(parent, RawBuffer::from_bytes(name), length, None);
            let irp = self.state.io.new_irp(
                irp_mj::CREATE,
                &record,
                zeroed(),
                RawBuffer::zeroed(0),
                RawBuffer::zeroed(0),
            );
            let result = io::call_driver_and_wait(&self.state, &irp);
            self.state.io.retire(&irp);
            if nt_success(result.status) {
                Ok(record)
            } else {
                Err(result.status)
            }
        };
        outcome.map(|record| self.register(record, None))
    }

    /// The allocator create request `KsCreateAllocator` sends: `KSSTRING_Allocator`, `\`, and the
    /// 24 bytes of `framing` (as 12 UTF-16 units).
    pub fn create_allocator(
        &self,
        parent: File,
        framing: &KSALLOCATOR_FRAMING,
    ) -> Result<File, NTSTATUS> {
        self.create_allocator_raw(parent, framing.as_bytes())
    }

    /// An allocator create request with arbitrary parameter bytes after `KSSTRING_Allocator\`
    /// (short, long, odd-length: malformed requests).
    pub fn create_allocator_raw(&self, parent: File, parameters: &[u8]) -> Result<File, NTSTATUS> {
        self.create_bytes(parent, &allocator_create_name(parameters))
    }

    fn new_ioctl_with(
        &self,
        file: File,
        code: u32,
        input: &[u8],
        output: RawBuffer,
    ) -> Arc<IrpRecord> {
        let output_len = output.len();
        let record = self.open_record(file);
        let input = RawBuffer::from_bytes(input);
        let mut parameters: IO_STACK_PARAMETERS = zeroed();
        parameters.DeviceIoControl = DEVICE_IO_CONTROL_PARAMETERS {
            OutputBufferLength: output_len as u32,
            _pad0: 0,
            InputBufferLength: input.len() as u32,
            _pad1: 0,
            IoControlCode: code,
            _pad2: 0,
            Type3InputBuffer: input.as_ptr().cast(),
        };
        self.state
            .io
            .new_irp(irp_mj::DEVICE_CONTROL, &record, parameters, input, output)
    }

    /// A synchronous METHOD_NEITHER IOCTL (`Type3InputBuffer` = a copy of `input`, `UserBuffer` =
    /// a copy of `output`, where a property SET's data travels, copied back into `output`; both
    /// NULL when empty). If the driver pends it, waits for the completion.
    pub fn ioctl(&self, file: File, code: u32, input: &[u8], output: &mut [u8]) -> IoResult {
        let result = {
            let _entered = self.enter();
            let irp = self.new_ioctl_with(file, code, input, RawBuffer::from_bytes(output));
            let result = io::call_driver_and_wait(&self.state, &irp);
            if !output.is_empty() {
                output.copy_from_slice(&irp.output());
            }
            if irp.result().is_some() {
                self.state.io.retire(&irp);
            }
            result
        };
        self.check();
        result
    }

    /// A METHOD_NEITHER IOCTL that may pend: [`AsyncIo::Pending`] when the dispatch routine
    /// returns STATUS_PENDING.
    pub fn ioctl_async(&self, file: File, code: u32, input: &[u8], output_len: usize) -> AsyncIo {
        self.ioctl_async_raw(file, code, input, RawBuffer::zeroed(output_len))
    }

    /// A METHOD_NEITHER IOCTL with no input whose output buffer starts as a copy of `output`
    /// (IOCTL_KS_READ_STREAM: the KSSTREAM_HEADERs), which may pend.
    pub fn ioctl_async_with_output(&self, file: File, code: u32, output: &[u8]) -> AsyncIo {
        self.ioctl_async_raw(file, code, &[], RawBuffer::from_bytes(output))
    }

    fn ioctl_async_raw(&self, file: File, code: u32, input: &[u8], output: RawBuffer) -> AsyncIo {
        let outcome = {
            let _entered = self.enter();
            let irp = self.new_ioctl_with(file, code, input, output);
            let returned = io::call_driver(&self.state, &irp);
            if returned == STATUS_PENDING {
                AsyncIo::Pending(PendingIrp {
                    kernel: self.clone(),
                    record: irp,
                })
            } else {
                let result = irp.result().unwrap_or(IoResult {
                    status: returned,
                    information: 0,
                });
                let output = irp.output();
                if irp.result().is_some() {
                    self.state.io.retire(&irp);
                }
                AsyncIo::Done(IoOutput { result, output })
            }
        };
        self.check();
        outcome
    }

    /// IRP_MJ_CLOSE; the file is gone afterwards whatever the status (a close cannot fail).
    pub fn close(&self, file: File) -> NTSTATUS {
        let status = self.close_unchecked(file);
        self.check();
        status
    }

    /// [`Kernel::close`] without raising driver bugs.
    pub(crate) fn close_unchecked(&self, file: File) -> NTSTATUS {
        let open = {
            let mut files = self
                .state
                .io
                .files
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match files.by_id.remove(&file.0) {
                Some(open) => open,
                None => panic!("avcam-emulation: {file:?} is not open (closed twice?)"),
            }
        };
        let _entered = self.enter();
        let irp = self.state.io.new_irp(
            irp_mj::CLOSE,
            &open.record,
            zeroed(),
            RawBuffer::zeroed(0),
            RawBuffer::zeroed(0),
        );
        let result = io::call_driver_and_wait(&self.state, &irp);
        self.state.io.retire(&irp);
        let pending = self.state.io.pending_irps_of(&open.record);
        if pending > 0 {
            self.state
                .report(Bug::IrpsPendingAfterClose { count: pending });
        }
        if let Some(header) = open.parent_header {
            self.state
                .ks
                .drop_emulation_header(header as KSOBJECT_HEADER);
        }
        result.status
    }

    fn security_request(&self, file: File, major: u8) -> IoResult {
        let result = {
            let _entered = self.enter();
            let record = self.open_record(file);
            let irp = self.state.io.new_irp(
                major,
                &record,
                zeroed(),
                RawBuffer::zeroed(0),
                RawBuffer::zeroed(0),
            );
            let result = io::call_driver_and_wait(&self.state, &irp);
            self.state.io.retire(&irp);
            result
        };
        self.check();
        result
    }

    /// IRP_MJ_QUERY_SECURITY.
    pub fn query_security(&self, file: File) -> IoResult {
        self.security_request(file, irp_mj::QUERY_SECURITY)
    }

    /// IRP_MJ_SET_SECURITY.
    pub fn set_security(&self, file: File) -> IoResult {
        self.security_request(file, irp_mj::SET_SECURITY)
    }

    /// A notification event, not signalled, and a handle to it.
    pub fn create_event(&self) -> HANDLE {
        self.create_event_of(NotificationEvent, false)
    }

    /// An event of `kind` (NotificationEvent or SynchronizationEvent) and a handle to it.
    pub fn create_event_of(&self, kind: EVENT_TYPE, signalled: bool) -> HANDLE {
        self.state.objects.create_event(kind, signalled)
    }

    fn event_of(&self, handle: HANDLE) -> *mut ks::nt::KEVENT {
        match self.state.objects.event_of(handle) {
            Some(event) => event,
            None => panic!("avcam-emulation: {handle:?} is not an open event handle"),
        }
    }

    /// Waits up to `timeout` for the event behind `handle`; a synchronization event is reset by
    /// the wait. Returns whether it was signalled.
    pub fn wait_event(&self, handle: HANDLE, timeout: Duration) -> bool {
        let event = self.event_of(handle);
        // SAFETY: the event lives while its handle is open; the test closes it only afterwards.
        unsafe { event::wait(&self.state, event, timeout) }
    }

    /// Whether the event behind `handle` is signalled (without consuming it).
    pub fn event_signalled(&self, handle: HANDLE) -> bool {
        let event = self.event_of(handle);
        // SAFETY: as above.
        unsafe { event::is_signalled(event) }
    }

    /// Resets the event behind `handle`.
    pub fn reset_event(&self, handle: HANDLE) {
        let event = self.event_of(handle);
        // SAFETY: as above.
        unsafe { event::reset(event) };
    }

    /// Closes a handle; returns whether it was open.
    pub fn close_handle(&self, handle: HANDLE) -> bool {
        self.state.objects.close_handle(handle)
    }

    /// Waits up to `timeout` for a KEVENT the driver owns.
    ///
    /// # Safety
    /// `event` must point to a live, initialised KEVENT for the whole wait.
    pub unsafe fn wait_kevent(&self, event: *mut ks::nt::KEVENT, timeout: Duration) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { event::wait(&self.state, event, timeout) }
    }
}
