//! Shared helpers of the allocator's integration tests: a kernel with a parent object (standing
//! in for a pin) whose allocator create item goes to `allocator_create_dispatch`, and the request
//! bytes clients send (KSPROPERTY, KSMETHOD, KSEVENT, KSEVENTDATA).
//!
//! Requests that carry data *into* the driver in their output buffer (the frame pointer of a
//! FREE, the KSEVENTDATA of an ENABLE_EVENT) are sent the way a kernel-mode client sends them:
//! `KsSynchronousIoControlDevice` with the caller's own buffers (METHOD_NEITHER passes them as
//! they are). The forwarder ([`forward`]) covers what no client call can produce: the parent's
//! DeviceIoControl handler (test code) unpacks an envelope from its input, points the IRP's stack
//! location at the allocator's file object with another major function (READ, WRITE, FLUSH) or
//! requestor mode (UserMode), and hands it to ks.sys's `KsDispatchIrp`, which routes it through
//! the allocator's object header like any other IRP.
#![allow(dead_code)] // each test binary uses a subset

use std::ffi::c_void;

use avcam_allocator::allocator_create_dispatch;
use avcam_emulation::{AsyncIo, CreateItem, File, IoOutput, IoResult, Kernel};
use avcam_kernel::irp;
use ks::guid::{
    KSEVENTSETID_StreamAllocator, KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator,
};
use ks::ks::*;

use ks::nt::{
    irp_mj, KernelMode, NonPagedPoolNx, DEVICE_OBJECT, FILE_OBJECT, IO_STACK_PARAMETERS, IRP,
    KPROCESSOR_MODE,
};
use ks::status::{STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS};
use ks::{GUID, NTSTATUS};
use zerocopy::{FromBytes, IntoBytes};

/// A framing with `frames` frames of `frame_size` bytes aligned to `alignment_mask`, from
/// no-execute non-paged pool.
pub fn framing(frames: u32, frame_size: u32, alignment_mask: u32) -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        Flags: KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
        PoolType: NonPagedPoolNx,
        Frames: frames,
        FrameSize: frame_size,
        FileAlignment: alignment_mask,
        Reserved: 0,
    }
}

/// `KSPROPERTY` / `KSMETHOD` / `KSEVENT` bytes.
pub fn identifier(set: GUID, id: u32, flags: u32) -> Vec<u8> {
    KSIDENTIFIER {
        Set: set,
        Id: id,
        Flags: flags,
    }
    .as_bytes()
    .to_vec()
}

/// A KSEVENTDATA.
pub fn event_data(notification: u32, object: u64) -> KSEVENTDATA {
    KSEVENTDATA {
        NotificationType: notification,
        _pad: 0,
        Object: object,
        Extra: 0,
        Reserved: 0,
    }
}

/// The function table's entries, callable.
#[ks::kernel_abi]
pub type AllocateFrameFn =
    unsafe extern "system" fn(*mut FILE_OBJECT, *mut *mut c_void) -> NTSTATUS;
/// See [`AllocateFrameFn`].
#[ks::kernel_abi]
pub type FreeFrameFn = unsafe extern "system" fn(*mut FILE_OBJECT, *mut c_void);

/// `KsValidateAllocatorCreateRequest`'s signature.
#[ks::kernel_abi]
pub type ValidateCreateRequestFn =
    unsafe extern "system" fn(*mut IRP, *mut *mut KSALLOCATOR_FRAMING) -> NTSTATUS;
/// `KsValidateAllocatorFramingEx`'s signature.
#[ks::kernel_abi]
pub type ValidateFramingExFn = unsafe extern "system" fn(
    *mut KSALLOCATOR_FRAMING_EX,
    u32,
    *const KSALLOCATOR_FRAMING_EX,
) -> NTSTATUS;

/// The allocator's exported functions under test: the exports of the image
/// `AVCAM_DRIVER_IMAGE` names (the cross-built avcam.sys, loaded once per test process), else the
/// Linux build's. The tests that go through them run the same in both modes.
#[derive(Clone, Copy)]
pub struct Exports {
    /// `KsCreateDefaultAllocatorEx`.
    pub create_default_allocator_ex: PFNKSCREATEDEFAULTALLOCATOREX,
    /// `KsValidateAllocatorCreateRequest`.
    pub validate_create_request: ValidateCreateRequestFn,
    /// `KsValidateAllocatorFramingEx`.
    pub validate_framing_ex: ValidateFramingExFn,
}

/// See [`Exports`].
pub fn exports() -> Exports {
    let Some(image) = avcam_loader::image_from_env() else {
        return Exports {
            create_default_allocator_ex: avcam_allocator::KsCreateDefaultAllocatorEx,
            validate_create_request: avcam_allocator::KsValidateAllocatorCreateRequest,
            validate_framing_ex: avcam_allocator::KsValidateAllocatorFramingEx,
        };
    };
    let missing = |name: &str| -> ! { panic!("{} exports no {name}", image.path().display()) };
    // SAFETY: KsCreateDefaultAllocatorEx's C signature with the boundary's convention (the image
    // is built from the same source, whose Linux build has this very type), and the image stays
    // loaded for the process's lifetime.
    let create = unsafe { image.export("KsCreateDefaultAllocatorEx") };
    // SAFETY: KsValidateAllocatorCreateRequest's signature, in an image loaded for good.
    let validate_create = unsafe { image.export("KsValidateAllocatorCreateRequest") };
    // SAFETY: KsValidateAllocatorFramingEx's signature, in an image loaded for good.
    let validate_framing = unsafe { image.export("KsValidateAllocatorFramingEx") };
    Exports {
        create_default_allocator_ex: create
            .unwrap_or_else(|| missing("KsCreateDefaultAllocatorEx")),
        validate_create_request: validate_create
            .unwrap_or_else(|| missing("KsValidateAllocatorCreateRequest")),
        validate_framing_ex: validate_framing
            .unwrap_or_else(|| missing("KsValidateAllocatorFramingEx")),
    }
}

/// A kernel, a parent with an allocator create item, and request helpers.
pub struct Fixture {
    /// The emulated kernel.
    pub kernel: Kernel,
    /// The parent object allocators are created relative to.
    pub parent: File,
}

impl Fixture {
    /// A parent whose allocator create item goes to `allocator_create_dispatch`.
    pub fn new() -> Fixture {
        Fixture::with_item(CreateItem::allocator(allocator_create_dispatch))
    }

    /// A parent with this one create item (and the forwarder as its DeviceIoControl).
    pub fn with_item(item: CreateItem) -> Fixture {
        let kernel = Kernel::new();
        let parent = kernel.create_parent_with_table(&[item], &FORWARDER_TABLE);
        Fixture { kernel, parent }
    }

    /// A request to `file` with initial output bytes, through the forwarder; may pend.
    pub fn forward_async(&self, file: File, request: Forwarded<'_>) -> AsyncIo {
        let envelope = request.envelope(self.kernel.file_object(file));
        self.kernel
            .ioctl_async(self.parent, FORWARD, &envelope, request.output_len)
    }

    /// A request to `file` with initial output bytes, through the forwarder, that completes.
    pub fn forward(&self, file: File, request: Forwarded<'_>) -> IoOutput {
        self.forward_async(file, request).expect_done()
    }

    /// The request `KsCreateAllocator` sends.
    pub fn create(&self, framing: &KSALLOCATOR_FRAMING) -> Result<File, NTSTATUS> {
        self.kernel.create_allocator(self.parent, framing)
    }

    /// A property request; returns the result and the output buffer.
    pub fn property(
        &self,
        file: File,
        id: u32,
        flags: u32,
        output_len: usize,
    ) -> (IoResult, Vec<u8>) {
        self.property_of_set(file, KSPROPSETID_StreamAllocator, id, flags, output_len)
    }

    /// A property request in any set.
    pub fn property_of_set(
        &self,
        file: File,
        set: GUID,
        id: u32,
        flags: u32,
        output_len: usize,
    ) -> (IoResult, Vec<u8>) {
        let mut output = vec![0u8; output_len];
        let result = self.kernel.ioctl(
            file,
            IOCTL_KS_PROPERTY,
            &identifier(set, id, flags),
            &mut output,
        );
        (result, output)
    }

    /// KSPROPERTY_STREAMALLOCATOR_STATUS.
    pub fn status(&self, file: File) -> KSSTREAMALLOCATOR_STATUS {
        let (result, output) = self.property(
            file,
            KSPROPERTY_STREAMALLOCATOR_STATUS,
            KSPROPERTY_TYPE_GET,
            32,
        );
        assert_eq!(
            result,
            IoResult {
                status: STATUS_SUCCESS,
                information: 32
            }
        );
        KSSTREAMALLOCATOR_STATUS::read_from_bytes(&output).unwrap()
    }

    /// `AllocatedFrames`.
    pub fn allocated(&self, file: File) -> u32 {
        self.status(file).AllocatedFrames
    }

    /// The ALLOC method, which may pend.
    pub fn alloc_async(&self, file: File) -> AsyncIo {
        let input = identifier(
            KSMETHODSETID_StreamAllocator,
            KSMETHOD_STREAMALLOCATOR_ALLOC,
            KSMETHOD_TYPE_WRITE,
        );
        self.kernel.ioctl_async(file, IOCTL_KS_METHOD, &input, 8)
    }

    /// The ALLOC method, expected to complete at once: the frame or the failure status.
    pub fn alloc(&self, file: File) -> Result<usize, NTSTATUS> {
        let done = self.alloc_async(file).expect_done();
        if done.result.status == STATUS_SUCCESS {
            assert_eq!(done.result.information, 8);
            Ok(usize::from_ne_bytes(done.output[..8].try_into().unwrap()))
        } else {
            Err(done.result.status)
        }
    }

    /// `KsSynchronousIoControlDevice(file, KernelMode, code, input, output)` with the caller's
    /// buffers, at PASSIVE_LEVEL: the status and BytesReturned.
    pub fn kernel_ioctl(
        &self,
        file: File,
        code: u32,
        input: &mut [u8],
        output: &mut [u8],
    ) -> (NTSTATUS, u32) {
        let _entered = self.kernel.enter();
        let object = self.kernel.file_object(file);
        let mut returned = 0u32;
        let pointer = |b: &mut [u8]| {
            if b.is_empty() {
                std::ptr::null_mut()
            } else {
                b.as_mut_ptr().cast()
            }
        };
        // SAFETY: `object` is an open file object; the buffers are valid for their lengths for
        // the whole (synchronous) call; `returned` is writable.
        let status = unsafe {
            avcam_kernel::KsSynchronousIoControlDevice(
                object,
                KernelMode,
                code,
                pointer(input),
                input.len() as u32,
                pointer(output),
                output.len() as u32,
                &mut returned,
            )
        };
        (status, returned)
    }

    /// The FREE method: the frame pointer in the data buffer (the IOCTL's output buffer).
    pub fn free(&self, file: File, frame: usize) -> IoResult {
        let mut input = identifier(
            KSMETHODSETID_StreamAllocator,
            KSMETHOD_STREAMALLOCATOR_FREE,
            KSMETHOD_TYPE_READ,
        );
        let mut data = frame.to_ne_bytes();
        let (status, returned) = self.kernel_ioctl(file, IOCTL_KS_METHOD, &mut input, &mut data);
        assert_ne!(status, STATUS_PENDING);
        IoResult {
            status,
            information: returned as usize,
        }
    }

    /// The function table, through KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE.
    pub fn function_table(&self, file: File) -> (AllocateFrameFn, FreeFrameFn) {
        let (result, output) = self.property(
            file,
            KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
            KSPROPERTY_TYPE_GET,
            16,
        );
        assert_eq!(
            result,
            IoResult {
                status: STATUS_SUCCESS,
                information: 16
            }
        );
        let [allocate, free] = <[usize; 2]>::read_from_bytes(&output).unwrap();
        assert!(allocate != 0 && free != 0);
        // SAFETY: the property reports the address of the allocator's AllocateFrame, which has
        // exactly this signature.
        let allocate = unsafe { std::mem::transmute::<usize, AllocateFrameFn>(allocate) };
        // SAFETY: as above, for FreeFrame.
        let free = unsafe { std::mem::transmute::<usize, FreeFrameFn>(free) };
        (allocate, free)
    }

    /// Enables an event with this KSEVENTDATA, passed in the output buffer as KS wants it; the
    /// same structure (same address) disables it later.
    pub fn enable_event(&self, file: File, id: u32, data: &mut KSEVENTDATA) -> NTSTATUS {
        self.enable_event_with_flags(file, id, KSEVENT_TYPE_ENABLE, data)
    }

    /// An ENABLE_EVENT request with any KSEVENT flags.
    pub fn enable_event_with_flags(
        &self,
        file: File,
        id: u32,
        flags: u32,
        data: &mut KSEVENTDATA,
    ) -> NTSTATUS {
        let mut input = identifier(KSEVENTSETID_StreamAllocator, id, flags);
        self.kernel_ioctl(file, IOCTL_KS_ENABLE_EVENT, &mut input, data.as_mut_bytes())
            .0
    }

    /// Disables the event enabled with this KSEVENTDATA (or all, with `None`).
    pub fn disable_event(&self, file: File, data: Option<&mut KSEVENTDATA>) -> NTSTATUS {
        let input = data.map_or(&mut [][..], |d| d.as_mut_bytes());
        self.kernel_ioctl(file, IOCTL_KS_DISABLE_EVENT, input, &mut [])
            .0
    }

    /// Closes the parent and checks the kernel saw no bug and nothing leaked.
    pub fn finish(self) {
        self.kernel.close(self.parent);
        self.kernel.check();
        self.kernel.assert_no_leaks();
    }
}

/// The parent's IOCTL that carries an envelope for [`forward`].
pub const FORWARD: u32 = 0x0022_2003;
const ENVELOPE_MAGIC: u64 = 0x4457_4644_4D41_4341; // "ACAMDFWD"
const ENVELOPE_HEADER: usize = 32;

/// A request for the forwarder.
#[derive(Clone, Copy)]
pub struct Forwarded<'a> {
    /// The major function the allocator sees.
    pub major: u8,
    /// The requestor mode the allocator sees.
    pub mode: KPROCESSOR_MODE,
    /// The IOCTL code.
    pub code: u32,
    /// `Type3InputBuffer`'s bytes.
    pub input: &'a [u8],
    /// The first bytes of the output buffer.
    pub output: &'a [u8],
    /// `OutputBufferLength`.
    pub output_len: usize,
}

impl<'a> Forwarded<'a> {
    /// A kernel-mode IRP_MJ_DEVICE_CONTROL.
    pub fn ioctl(code: u32, input: &'a [u8], output: &'a [u8], output_len: usize) -> Forwarded<'a> {
        Forwarded {
            major: irp_mj::DEVICE_CONTROL,
            mode: KernelMode,
            code,
            input,
            output,
            output_len,
        }
    }

    /// The same request with another major function.
    pub fn as_major(self, major: u8) -> Forwarded<'a> {
        Forwarded { major, ..self }
    }

    /// The same request from another requestor mode.
    pub fn in_mode(self, mode: KPROCESSOR_MODE) -> Forwarded<'a> {
        Forwarded { mode, ..self }
    }

    fn envelope(&self, target: *mut FILE_OBJECT) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&ENVELOPE_MAGIC.to_ne_bytes());
        bytes.extend_from_slice(&(target as u64).to_ne_bytes());
        bytes.extend_from_slice(&self.code.to_ne_bytes());
        bytes.extend_from_slice(&(self.input.len() as u32).to_ne_bytes());
        bytes.extend_from_slice(&(self.output.len() as u32).to_ne_bytes());
        bytes.extend_from_slice(&[self.major, self.mode as u8, 0, 0]);
        bytes.extend_from_slice(self.input);
        bytes.extend_from_slice(self.output);
        bytes
    }
}

static FORWARDER_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: Some(forward),
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

/// IRP_MJ_CLOSE of the parent (the emulation frees the parent's header itself).
#[ks::kernel_abi]
unsafe extern "system" fn close_parent(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP.
    unsafe { irp::complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

/// The parent's DeviceIoControl: unpacks the envelope and re-dispatches the IRP to the allocator.
///
/// # Safety
/// ks.sys calls it with a live device-control IRP for the parent, which it owns; the emulation's
/// buffers are valid for their lengths while the IRP lives.
#[ks::kernel_abi]
unsafe extern "system" fn forward(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP.
    let parameters = unsafe { irp::device_io_control(irp) };
    let length = parameters.InputBufferLength as usize;
    let base = parameters.Type3InputBuffer.cast::<u8>();
    if base.is_null() || length < ENVELOPE_HEADER {
        // SAFETY: as above; completed once.
        unsafe { irp::complete(irp, STATUS_INVALID_PARAMETER, 0) };
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the input buffer holds `length` readable bytes (the emulation's copy).
    let envelope = unsafe { std::slice::from_raw_parts(base, length) };
    let word = |at: usize| u64::from_ne_bytes(envelope[at..at + 8].try_into().unwrap());
    let half = |at: usize| u32::from_ne_bytes(envelope[at..at + 4].try_into().unwrap());
    assert_eq!(word(0), ENVELOPE_MAGIC);
    let target = word(8) as usize as *mut FILE_OBJECT;
    let (code, input_len, output_init) = (half(16), half(20) as usize, half(24) as usize);
    let (major, mode) = (envelope[28], envelope[29] as i8);
    assert_eq!(length, ENVELOPE_HEADER + input_len + output_init);
    let initial_output = &envelope[ENVELOPE_HEADER + input_len..];
    // SAFETY: as above.
    let output = unsafe { (*irp).UserBuffer }.cast::<u8>();
    let copy = output_init.min(parameters.OutputBufferLength as usize);
    if copy > 0 {
        // SAFETY: the output buffer holds OutputBufferLength writable bytes, not overlapping the
        // input buffer (two emulation buffers).
        unsafe { std::ptr::copy_nonoverlapping(initial_output.as_ptr(), output, copy) };
    }
    // SAFETY: as above.
    let stack = unsafe { irp::current_stack_location(irp) };
    let mut rewritten = parameters;
    rewritten.IoControlCode = code;
    rewritten.InputBufferLength = input_len as u32;
    rewritten.Type3InputBuffer = if input_len == 0 {
        std::ptr::null_mut()
    } else {
        envelope[ENVELOPE_HEADER..].as_ptr().cast_mut().cast()
    };
    // SAFETY: the IRP's current stack location is ours while we own the IRP.
    unsafe { (*stack).MajorFunction = major };
    // SAFETY: as above; the target is the allocator's open file object.
    unsafe { (*stack).FileObject = target };
    // SAFETY: as above.
    unsafe {
        (*stack).Parameters = IO_STACK_PARAMETERS {
            DeviceIoControl: rewritten,
        }
    };
    // SAFETY: as above.
    unsafe { (*irp).RequestorMode = mode };
    // SAFETY: the IRP is handed to ks.sys, which routes it through the allocator's header.
    unsafe { avcam_kernel::KsDispatchIrp(device, irp) }
}
