//! A small kernel-streaming client for the avcam camera, speaking only KS requests: open the
//! filter through its device interface, enumerate pins and data ranges
//! (`KSPROPERTY_PIN_DATARANGES`), intersect (`KSPROPERTY_PIN_DATAINTERSECTION`), create a pin
//! (`KSPIN_CONNECT` + format), set its state (`KSPROPERTY_CONNECTION_STATE`), read frames
//! (`IOCTL_KS_READ_STREAM` into the client's own buffers), query dropped frames
//! (`KSPROPERTY_DROPPEDFRAMES_CURRENT`), create an allocator on the pin and query it
//! (`KSPROPERTY_STREAMALLOCATOR_STATUS`, ALLOC/FREE methods), get and set the camera's controls
//! and fault injection ([`properties`], by name through [`controls`]), and close.
//!
//! The requests travel through a [`Transport`]: the emulation (`avcam_emulation::Kernel`, the
//! default, on every host) or, on Windows, `windows::WindowsKs` over real KS handles
//! (SetupDi, `CreateFileW`, `KsCreatePin`, `DeviceIoControl`). The request bytes come from one
//! place, [`request`], whatever the transport. Every error carries the NTSTATUS the driver
//! answered, or the Win32 code when that is all the system gives ([`ClientError`]).
//!
//! Two ways to read frames, as on Windows:
//! - **copy mode** ([`Pin::read`], [`Pin::read_into`]): the client's own buffers, what every
//!   user-mode application does (the Camera app's frame server included);
//! - **allocator mode** ([`Pin::create_frame_allocator`], [`Allocator::take_frame`],
//!   [`Pin::read_into_frame`]): what a kernel-mode consumer does: it creates an allocator on the
//!   pin (served by the pin's `KSALLOCATOR_DISPATCH` through our `KsCreateDefaultAllocatorEx`),
//!   takes frames from it, queues them as the reads' buffers and gives them back after use. Its
//!   frames are kernel memory: only a kernel-mode consumer may hold them, so the bytes are
//!   readable here only through the emulation ([`Allocator::frame_bytes`]), which shares the
//!   process's address space.

pub mod controls;
pub mod properties;
pub mod request;
pub mod transport;
pub mod win32;
#[cfg(windows)]
pub mod windows;

use std::fmt;
use std::time::Duration;

use avcam_emulation::Kernel;
use ks::avstream::KSSTATE;
use ks::guid::{KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator};
use ks::ks::{
    IOCTL_KS_METHOD, IOCTL_KS_PROPERTY, KSALLOCATOR_FRAMING, KSMETHOD_STREAMALLOCATOR_ALLOC,
    KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_WRITE, KSPROPERTY_STREAMALLOCATOR_STATUS,
    KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET, KSSTREAMALLOCATOR_STATUS,
};
use ks::video::{
    KSPROPSETID_Connection, KSPROPSETID_Pin, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_DROPPEDFRAMES_CURRENT,
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S, KSPROPERTY_PIN_CATEGORY, KSPROPERTY_PIN_CTYPES,
    KSPROPERTY_PIN_DATAINTERSECTION, KSPROPERTY_PIN_DATARANGES, KSSTREAM_HEADER, KS_FRAME_INFO,
    PROPSETID_VIDCAP_DROPPEDFRAMES,
};
use ks::{GUID, NTSTATUS};
use std::cell::RefCell;
use std::collections::HashSet;
use zerocopy::FromBytes;

pub use properties::ControlRange;
pub use transport::{Read, Reply, Status, Transport};

/// A failed KS request: what was asked and the NTSTATUS the driver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientError {
    /// The request completed with a failure status.
    Request {
        /// Which request (`"DATARANGES"`, `"create pin"`, ...).
        request: &'static str,
        /// The driver's status.
        status: NTSTATUS,
    },
    /// A system call failed with this Win32 error code (real handles only).
    Win32 {
        /// Which request or call.
        request: &'static str,
        /// `GetLastError()`.
        code: u32,
    },
    /// No device interface of the category is registered.
    NoDevice(GUID),
    /// The answer was shorter or stranger than the request's documented shape.
    Malformed(&'static str),
    /// A read did not complete within the wait.
    Timeout,
    /// A value the property cannot carry (outside its 32-bit type): nothing was sent.
    Unrepresentable {
        /// The control.
        control: &'static str,
        /// The value.
        value: i64,
    },
}

impl ClientError {
    /// The NTSTATUS, for the failures that have one.
    pub fn status(&self) -> Option<NTSTATUS> {
        match self {
            ClientError::Request { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Win32 error code, for the failures that have one.
    pub fn win32_code(&self) -> Option<u32> {
        match self {
            ClientError::Win32 { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Request { request, status } => {
                write!(f, "{request} failed with NTSTATUS {:#010x}", *status as u32)
            }
            ClientError::Win32 { request, code } => {
                write!(f, "{request} failed with Win32 error {code}")
            }
            ClientError::NoDevice(category) => write!(
                f,
                "no device interface in category {}",
                win32::registry_form(category)
            ),
            ClientError::Malformed(what) => write!(f, "malformed answer to {what}"),
            ClientError::Timeout => write!(f, "the read did not complete in time"),
            ClientError::Unrepresentable { control, value } => {
                write!(f, "{control} cannot carry {value}: outside its 32-bit type")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// The client's result.
pub type Result<T> = std::result::Result<T, ClientError>;

/// A property GET with the size protocol on `handle`: asks the size first, then the data.
fn get_sized<T: Transport>(
    transport: &T,
    handle: T::Handle,
    request: &'static str,
    input: &[u8],
) -> Result<Vec<u8>> {
    let size = transport.ioctl(handle, IOCTL_KS_PROPERTY, input, &mut []);
    if size.status != Status::BUFFER_OVERFLOW {
        size.status.check(request)?;
        return Ok(Vec::new());
    }
    let mut data = vec![0u8; size.information];
    let result = transport.ioctl(handle, IOCTL_KS_PROPERTY, input, &mut data);
    result.status.check(request)?;
    data.truncate(result.information);
    Ok(data)
}

/// An open camera filter, over the transport `T` (the emulation unless said otherwise).
pub struct Camera<'k, T: Transport = Kernel> {
    kernel: &'k T,
    filter: T::Handle,
}

impl<'k> Camera<'k, Kernel> {
    /// Opens the first device interface of `category` as a user-mode application does: the
    /// filter, and every pin and allocator created on it, are user-mode handles (their stream
    /// headers captured, their buffers probed: kernel memory is refused). [`Camera::open`] on the
    /// emulation opens as a kernel-mode consumer.
    pub fn open_as_application(kernel: &'k Kernel, category: &GUID) -> Result<Camera<'k, Kernel>> {
        let interfaces = kernel.device_interfaces(category);
        let interface = interfaces.first().ok_or(ClientError::NoDevice(*category))?;
        let filter =
            kernel
                .open_interface_user(interface)
                .map_err(|status| ClientError::Request {
                    request: "open filter",
                    status,
                })?;
        Ok(Camera { kernel, filter })
    }
}

impl<'k, T: Transport> Camera<'k, T> {
    /// Opens the first device interface of `category` (e.g. KSCATEGORY_VIDEO_CAMERA).
    pub fn open(kernel: &'k T, category: &GUID) -> Result<Camera<'k, T>> {
        let filter = kernel.open_filter(category)?;
        Ok(Camera { kernel, filter })
    }

    /// The filter's handle (for raw requests in tests).
    pub fn file(&self) -> T::Handle {
        self.filter
    }

    /// A property GET with the size protocol: asks the size first, then the data.
    fn get_sized(&self, request: &'static str, input: &[u8]) -> Result<Vec<u8>> {
        get_sized(self.kernel, self.filter, request, input)
    }

    /// `KSPROPERTY_PIN_CTYPES`: how many pin factories the filter has.
    pub fn pin_count(&self) -> Result<u32> {
        let mut count = [0u8; 4];
        let input = request::property(KSPROPSETID_Pin, KSPROPERTY_PIN_CTYPES, KSPROPERTY_TYPE_GET);
        let result = self
            .kernel
            .ioctl(self.filter, IOCTL_KS_PROPERTY, &input, &mut count);
        result.status.check("CTYPES")?;
        Ok(u32::from_le_bytes(count))
    }

    /// `KSPROPERTY_PIN_CATEGORY`: the pin's category (e.g. `PINNAME_VIDEO_CAPTURE`).
    pub fn pin_category(&self, pin_id: u32) -> Result<GUID> {
        let input = request::pin_property(KSPROPERTY_PIN_CATEGORY, pin_id);
        let mut answer = [0u8; std::mem::size_of::<GUID>()];
        let result = self
            .kernel
            .ioctl(self.filter, IOCTL_KS_PROPERTY, &input, &mut answer);
        result.status.check("CATEGORY")?;
        GUID::read_from_bytes(&answer).map_err(|_| ClientError::Malformed("CATEGORY"))
    }

    /// `KSPROPERTY_PIN_DATARANGES`: the pin's ranges, each as its `FormatSize` bytes.
    pub fn data_ranges(&self, pin_id: u32) -> Result<Vec<Vec<u8>>> {
        let data = self.get_sized(
            "DATARANGES",
            &request::pin_property(KSPROPERTY_PIN_DATARANGES, pin_id),
        )?;
        request::split_multiple_item(&data).ok_or(ClientError::Malformed("DATARANGES"))
    }

    /// `KSPROPERTY_PIN_DATAINTERSECTION` with one client range: the format the pin proposes.
    pub fn intersect(&self, pin_id: u32, range: &[u8]) -> Result<Vec<u8>> {
        let mut input = request::pin_property(KSPROPERTY_PIN_DATAINTERSECTION, pin_id);
        input.extend_from_slice(&request::multiple_item(&[range]));
        self.get_sized("DATAINTERSECTION", &input)
    }

    /// Creates a pin with `format` (a full `KSDATAFORMAT` + specifier, e.g. from
    /// [`Camera::intersect`]).
    pub fn create_pin(&self, pin_id: u32, format: &[u8]) -> Result<Pin<'k, T>> {
        self.create_pin_raw(&request::pin_connect(pin_id, format))
    }

    /// Creates a pin from raw `KSPIN_CONNECT` + format bytes (malformed ones welcome).
    pub fn create_pin_raw(&self, connect: &[u8]) -> Result<Pin<'k, T>> {
        let pin = self.kernel.create_pin(self.filter, connect)?;
        Ok(Pin {
            kernel: self.kernel,
            pin,
        })
    }

    /// Closes the filter.
    pub fn close(self) -> Result<()> {
        self.kernel.close(self.filter)
    }
}

/// `KSPROPERTY_DROPPEDFRAMES_CURRENT`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedFrames {
    /// Frames the camera produced or dropped so far.
    pub picture_number: i64,
    /// Frames dropped.
    pub drop_count: i64,
    /// Bytes per delivered frame.
    pub average_frame_size: u32,
}

/// One delivered frame.
#[derive(Debug)]
pub struct Frame {
    /// The stream header as the driver left it.
    pub header: KSSTREAM_HEADER,
    /// The video extended header after it.
    pub info: KS_FRAME_INFO,
    /// Copy mode: the frame's bytes (`DataUsed` of them); empty in allocator mode.
    pub data: Vec<u8>,
    /// Allocator mode: the allocator frame the pin rendered into (`DataUsed` bytes of it, read
    /// with [`Allocator::frame_bytes`]), to give back with [`Allocator::give_back`] or to queue
    /// again with [`Pin::read_into_frame`].
    pub frame: Option<AllocatorFrame>,
}

/// A frame taken from an [`Allocator`]: kernel memory the consumer owns until it gives it back
/// (or closes the allocator, which frees every frame). Not `Clone`: one owner at a time, so a
/// frame cannot be read while a read into it is in flight.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AllocatorFrame {
    address: u64,
    size: u32,
}

impl AllocatorFrame {
    /// The frame's address (a kernel address on Windows).
    pub fn address(&self) -> u64 {
        self.address
    }

    /// The frame's size in bytes (the allocator's `FrameSize`).
    pub fn size(&self) -> u32 {
        self.size
    }
}

/// A read in flight: the buffer the driver writes into stays alive until it completes.
pub struct PendingRead<T: Transport = Kernel> {
    // Declared first so that it is dropped first: a transport that must cancel and wait for an
    // unfinished read does so before `buffer` is freed.
    io: T::Read,
    buffer: Vec<u8>,
    frame: Option<AllocatorFrame>,
}

impl<T: Transport> Drop for PendingRead<T> {
    /// A read dropped unfinished is cancelled and waited for, so its buffer is never freed under
    /// the driver; if it still does not complete, the buffer is leaked rather than freed (the
    /// allocator frame, if any, stays the read's and goes with the allocator).
    fn drop(&mut self) {
        if self.io.is_done() {
            return;
        }
        self.io.cancel();
        if self.io.wait(DROP_WAIT).is_none() {
            std::mem::forget(std::mem::take(&mut self.buffer));
        }
    }
}

/// How long a [`PendingRead`] dropped unfinished waits for its cancellation.
const DROP_WAIT: Duration = Duration::from_secs(5);

impl<T: Transport> PendingRead<T> {
    /// Whether the read has completed.
    pub fn is_done(&self) -> bool {
        self.io.is_done()
    }

    /// Waits up to `timeout` for the read to complete, keeping it; whether it did.
    pub fn ready(&self, timeout: Duration) -> bool {
        self.io.wait(timeout).is_some()
    }

    /// Waits up to `timeout` for the frame.
    pub fn wait(mut self, timeout: Duration) -> Result<Frame> {
        let (status, output) = self.io.wait(timeout).ok_or(ClientError::Timeout)?;
        status.check("READ_STREAM")?;
        let (header, rest) = KSSTREAM_HEADER::read_from_prefix(&output)
            .map_err(|_| ClientError::Malformed("READ_STREAM"))?;
        let (info, _) = KS_FRAME_INFO::read_from_prefix(rest)
            .map_err(|_| ClientError::Malformed("READ_STREAM"))?;
        self.buffer
            .truncate((header.DataUsed as usize).min(self.buffer.len()));
        Ok(Frame {
            header,
            info,
            data: std::mem::take(&mut self.buffer),
            frame: self.frame.take(),
        })
    }

    /// Cancels the read (IoCancelIrp / CancelIoEx) and waits for it to finish: its status, and
    /// the allocator frame it was reading into, if any (`None` with it if the wait ran out: the
    /// frame stays the read's and is freed with the allocator).
    pub fn cancel(mut self, timeout: Duration) -> (Option<Status>, Option<AllocatorFrame>) {
        if !self.io.is_done() {
            self.io.cancel();
        }
        match self.io.wait(timeout) {
            Some((status, _)) => (Some(status), self.frame.take()),
            None => (None, None),
        }
    }
}

/// An open capture pin, over the transport `T`.
pub struct Pin<'k, T: Transport = Kernel> {
    kernel: &'k T,
    pin: T::Handle,
}

impl<'k, T: Transport> Pin<'k, T> {
    /// The pin's handle (for raw requests in tests).
    pub fn file(&self) -> T::Handle {
        self.pin
    }

    /// `KSPROPERTY_CONNECTION_STATE` SET.
    pub fn set_state(&self, state: KSSTATE) -> Result<()> {
        let mut data = state.to_le_bytes();
        let input = request::property(
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_STATE,
            KSPROPERTY_TYPE_SET,
        );
        let result = self
            .kernel
            .ioctl(self.pin, IOCTL_KS_PROPERTY, &input, &mut data);
        result.status.check("set state")
    }

    /// `KSPROPERTY_CONNECTION_STATE` GET.
    pub fn state(&self) -> Result<KSSTATE> {
        let mut data = [0u8; 4];
        let input = request::property(
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_STATE,
            KSPROPERTY_TYPE_GET,
        );
        let result = self
            .kernel
            .ioctl(self.pin, IOCTL_KS_PROPERTY, &input, &mut data);
        result.status.check("get state")?;
        Ok(u32::from_le_bytes(data))
    }

    /// `KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX`: the pin's framing requirements (raw
    /// `KSALLOCATOR_FRAMING_EX` bytes, size protocol).
    pub fn allocator_framing_ex(&self) -> Result<Vec<u8>> {
        let input = request::property(
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
            KSPROPERTY_TYPE_GET,
        );
        get_sized(self.kernel, self.pin, "ALLOCATORFRAMING_EX", &input)
    }

    /// Queues one `IOCTL_KS_READ_STREAM` into a fresh buffer of `frame_bytes` (copy mode: the
    /// driver renders into the client's buffer).
    pub fn read(&self, frame_bytes: usize) -> PendingRead<T> {
        self.read_into(vec![0u8; frame_bytes])
    }

    /// Queues one `IOCTL_KS_READ_STREAM` into `buffer` (copy mode), e.g. the [`Frame::data`] of
    /// an earlier frame handed back for reuse: its capacity is the frame extent offered.
    pub fn read_into(&self, mut buffer: Vec<u8>) -> PendingRead<T> {
        buffer.resize(buffer.capacity(), 0);
        let headers = request::read_headers(&mut buffer);
        PendingRead {
            io: self.kernel.read_stream(self.pin, headers),
            buffer,
            frame: None,
        }
    }

    /// Queues one `IOCTL_KS_READ_STREAM` whose buffer is `frame`, a frame of an allocator the
    /// consumer created on this pin (allocator mode): the pin renders straight into it. The
    /// frame comes back in [`Frame::frame`].
    pub fn read_into_frame(&self, frame: AllocatorFrame) -> PendingRead<T> {
        let headers = request::read_headers_at(frame.address, frame.size);
        PendingRead {
            io: self.kernel.read_stream(self.pin, headers),
            buffer: Vec::new(),
            frame: Some(frame),
        }
    }

    /// Creates an allocator on the pin with `framing` (the allocator create request
    /// `KsCreateAllocator` sends, served by the pin's `KSSTRING_Allocator` create item: ks.sys,
    /// with the pin's `KSALLOCATOR_DISPATCH`).
    pub fn create_allocator(&self, framing: &KSALLOCATOR_FRAMING) -> Result<Allocator<'k, T>> {
        let file = self.kernel.create_allocator(self.pin, framing)?;
        Ok(Allocator {
            kernel: self.kernel,
            file,
            framing: *framing,
            outstanding: RefCell::new(HashSet::new()),
        })
    }

    /// Creates the allocator a kernel-mode consumer of this pin would: the pin's own framing
    /// requirements (`KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX`) as the create request
    /// ([`request::allocator_framing`]).
    pub fn create_frame_allocator(&self) -> Result<Allocator<'k, T>> {
        let framing = request::allocator_framing(&self.allocator_framing_ex()?)
            .ok_or(ClientError::Malformed("ALLOCATORFRAMING_EX"))?;
        self.create_allocator(&framing)
    }

    /// `KSPROPERTY_DROPPEDFRAMES_CURRENT`.
    pub fn dropped_frames(&self) -> Result<DroppedFrames> {
        let input = request::property(
            PROPSETID_VIDCAP_DROPPEDFRAMES,
            KSPROPERTY_DROPPEDFRAMES_CURRENT,
            KSPROPERTY_TYPE_GET,
        );
        let mut data = vec![0u8; std::mem::size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>()];
        data[..input.len()].copy_from_slice(&input);
        let result = self
            .kernel
            .ioctl(self.pin, IOCTL_KS_PROPERTY, &input, &mut data);
        result.status.check("DROPPEDFRAMES_CURRENT")?;
        let (answer, _) = KSPROPERTY_DROPPEDFRAMES_CURRENT_S::read_from_prefix(&data)
            .map_err(|_| ClientError::Malformed("DROPPEDFRAMES_CURRENT"))?;
        Ok(DroppedFrames {
            picture_number: answer.PictureNumber,
            drop_count: answer.DropCount,
            average_frame_size: answer.AverageFrameSize,
        })
    }

    /// Closes the pin's handle: IRP_MJ_CLEANUP now, IRP_MJ_CLOSE once no read of it is in flight
    /// (ks.sys does not step the pin down to STOP: its Close dispatch does what must be done).
    pub fn close(self) -> Result<()> {
        self.kernel.close(self.pin)
    }
}

/// An allocator the client created on a pin, and the frames it handed out and the client has
/// not given back yet.
pub struct Allocator<'k, T: Transport = Kernel> {
    kernel: &'k T,
    file: T::Handle,
    framing: KSALLOCATOR_FRAMING,
    outstanding: RefCell<HashSet<u64>>,
}

impl<T: Transport> Allocator<'_, T> {
    /// The allocator's handle.
    pub fn file(&self) -> T::Handle {
        self.file
    }

    /// `KSPROPERTY_STREAMALLOCATOR_STATUS`: its framing and frames handed out.
    pub fn status(&self) -> Result<KSSTREAMALLOCATOR_STATUS> {
        let input = request::property(
            KSPROPSETID_StreamAllocator,
            KSPROPERTY_STREAMALLOCATOR_STATUS,
            KSPROPERTY_TYPE_GET,
        );
        let mut data = [0u8; std::mem::size_of::<KSSTREAMALLOCATOR_STATUS>()];
        let result = self
            .kernel
            .ioctl(self.file, IOCTL_KS_PROPERTY, &input, &mut data);
        result.status.check("allocator STATUS")?;
        KSSTREAMALLOCATOR_STATUS::read_from_bytes(&data)
            .map_err(|_| ClientError::Malformed("allocator STATUS"))
    }

    fn method(&self, id: u32, data: &mut [u8; 8]) -> Result<()> {
        let input = request::property(KSMETHODSETID_StreamAllocator, id, KSMETHOD_TYPE_WRITE);
        let result = self.kernel.ioctl(self.file, IOCTL_KS_METHOD, &input, data);
        result.status.check("allocator method")
    }

    /// The framing the allocator was created with.
    pub fn framing(&self) -> KSALLOCATOR_FRAMING {
        self.framing
    }

    /// `KSMETHOD_STREAMALLOCATOR_ALLOC`: a frame's address (raw: nothing recorded, for tests
    /// of the allocator itself).
    pub fn allocate(&self) -> Result<u64> {
        let mut data = [0u8; 8];
        self.method(KSMETHOD_STREAMALLOCATOR_ALLOC, &mut data)?;
        Ok(u64::from_le_bytes(data))
    }

    /// `KSMETHOD_STREAMALLOCATOR_FREE` of an address (raw: foreign and double frees welcome, for
    /// tests of the allocator itself).
    pub fn free(&self, frame: u64) -> Result<()> {
        let mut data = frame.to_le_bytes();
        self.method(KSMETHOD_STREAMALLOCATOR_FREE, &mut data)
    }

    /// Takes a frame (`KSMETHOD_STREAMALLOCATOR_ALLOC`), owned by the client until
    /// [`Allocator::give_back`].
    pub fn take_frame(&self) -> Result<AllocatorFrame> {
        let address = self.allocate()?;
        if address == 0 {
            return Err(ClientError::Malformed("allocator ALLOC"));
        }
        self.outstanding.borrow_mut().insert(address);
        Ok(AllocatorFrame {
            address,
            size: self.framing.FrameSize,
        })
    }

    /// Gives a frame back (`KSMETHOD_STREAMALLOCATOR_FREE`).
    pub fn give_back(&self, frame: AllocatorFrame) -> Result<()> {
        self.outstanding.borrow_mut().remove(&frame.address);
        self.free(frame.address)
    }

    /// Frames taken and not given back (those in flight in reads included).
    pub fn frames_out(&self) -> usize {
        self.outstanding.borrow().len()
    }

    /// Closes the allocator (it frees every frame still out).
    pub fn close(self) -> Result<()> {
        self.kernel.close(self.file)
    }
}

impl Allocator<'_, Kernel> {
    /// The first `len` bytes of `frame` (at most its size), read in place: in the emulation the
    /// allocator's kernel frames are in this process. The frame is this allocator's, taken and
    /// not given back (so still allocated, the allocator open while the borrow lasts), and not
    /// in flight (a frame in a pending read belongs to the read): nothing writes it meanwhile.
    /// `None` for a frame this allocator did not hand out.
    pub fn frame_bytes<'a>(&'a self, frame: &'a AllocatorFrame, len: usize) -> Option<&'a [u8]> {
        if !self.outstanding.borrow().contains(&frame.address) {
            return None;
        }
        let len = len.min(frame.size as usize);
        // SAFETY: the address is a live frame of `size` bytes handed out by this open allocator
        // (checked above; the borrow of `self` keeps the allocator open, and `frame` is owned
        // by the caller, not by a read in flight, so nothing writes it while the slice lives).
        Some(unsafe { std::slice::from_raw_parts(frame.address as usize as *const u8, len) })
    }
}
