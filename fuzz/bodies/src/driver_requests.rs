//! Fuzz body over the whole driver: avcam loaded into the emulation, its filter opened, a pin
//! and an allocator created from the input, IOCTLs from the input sent to all three, then
//! everything closed and the driver unloaded.
//!
//! Input:
//! - a setup byte: bit 0 creates a pin, bit 1 an allocator on it, bit 2 opens the filter as a
//!   user-mode client (an application: the pin and the allocator are then user-mode files too),
//!   bit 3 turns the device's `FaultInjection` registry value on (so avcam's fault set is served,
//!   not refused);
//! - with a pin: a u16-prefixed `KSPIN_CONNECT` + format (sent with `KSSTRING_Pin\` as the name);
//! - with an allocator: u16-prefixed create parameters (sent after `KSSTRING_Allocator\`);
//! - then up to [`MAX_REQUESTS`] requests, each a target byte (filter, pin, allocator), a kind
//!   byte, a u16 output length (mod [`MAX_OUTPUT`]), a u16-prefixed input, and as many bytes as
//!   the output is long for its initial contents. The kinds: IOCTL_KS_PROPERTY, IOCTL_KS_METHOD,
//!   IOCTL_KS_ENABLE_EVENT, IOCTL_KS_DISABLE_EVENT, a FREE of a frame an earlier ALLOC returned
//!   (the input's first byte picks it), an `IoCancelIrp` of a pending request, and, reading
//!   their own layout from the input after the kind byte instead: an IOCTL_KS_READ_STREAM with
//!   fuzzed headers ([`crate::stream_reads`]), a move of the virtual clock (a u16 x 1 us), a
//!   KSPROPERTY_CONNECTION_STATE SET (a byte: STOP..RUN, or above 3 a u32 from the input), and a
//!   property of a set the driver serves (connection, stream, dropped frames, pin, ProcAmp, video
//!   control, avcam's pattern and fault sets: a byte picks the set and id, a byte the flags: GET,
//!   SET, BASICSUPPORT, SETSUPPORT or a u32 from the input; then a u16 output length, a chunk
//!   appended to the KSPROPERTY and the output's initial bytes as above).
//!
//! Two things are made safe rather than fuzzed, since a kernel-mode caller is trusted with them:
//! a `KSEVENTF_EVENT_OBJECT` notification gets a real `KEVENT` (not the input's pointer), and
//! allocator parameters asking for more than [`MAX_FRAME_BYTES`] of frames are scaled down (the
//! size rules themselves are fuzzed by the allocator_requests target).
//!
//! Invariants: no request panics; a request that completes synchronously is not STATUS_PENDING
//! and, when successful, reports at most its output length as Information; an ALLOC that succeeds
//! returns a non-null frame; a completed read keeps each header's `Size`, `Data` and
//! `FrameExtent`, writes nothing past a header's `Size` (nor past its KS_FRAME_INFO), uses at most
//! `FrameExtent` bytes, and gives a user-mode client no kernel address ([`crate::stream_reads`]);
//! closing the allocator, the pin and the filter succeeds and leaves no request pending; after
//! unloading, the emulation has recorded no driver bug (IRQL, locks, IRP completion, the IRP
//! fields of the I/O manager...; a panic in the driver, its bug check, aborts the run) and the pool, the object references, the handles and the timers show no
//! leak.

use std::mem::MaybeUninit;

use avcam_allocator::framing::MAX_FRAMES;
use avcam_allocator::requests::{parse_method, MethodRequest};
use avcam_client::request::property;
use avcam_emulation::services::KeInitializeEvent;
use avcam_emulation::{AsyncIo, DeviceKey, File, Kernel, PendingIrp, RegistryValue};
use ks::avcam::{
    KSPROPERTY_AVCAM_CAPTION, KSPROPERTY_AVCAM_FAULTS_COUNTERS, KSPROPERTY_AVCAM_FAULTS_FAIL,
    KSPROPERTY_AVCAM_FAULTS_PLAN, KSPROPERTY_AVCAM_FAULTS_STALL, KSPROPERTY_AVCAM_NOISE_SEED,
    KSPROPERTY_AVCAM_OVERLAYS, KSPROPERTY_AVCAM_PATTERN, KSPROPERTY_AVCAM_SOLID_COLOUR,
    PROPSETID_AVCAM_FAULTS, PROPSETID_AVCAM_PATTERN,
};
use ks::guid::{KSMETHODSETID_StreamAllocator, KSCATEGORY_VIDEO_CAMERA};
use ks::ks::{
    IOCTL_KS_DISABLE_EVENT, IOCTL_KS_ENABLE_EVENT, IOCTL_KS_METHOD, IOCTL_KS_PROPERTY,
    KSALLOCATOR_FRAMING, KSEVENTF_EVENT_OBJECT, KSIDENTIFIER, KSMETHOD_STREAMALLOCATOR_FREE,
    KSMETHOD_TYPE_READ, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
    KSPROPERTY_TYPE_SETSUPPORT,
};
use ks::nt::{NotificationEvent, DRIVER_OBJECT, KEVENT, UNICODE_STRING};
use ks::status::{nt_success, STATUS_PENDING, STATUS_SUCCESS};
use ks::video::{
    KSPROPSETID_Connection, KSPROPSETID_Pin, KSPROPSETID_Stream,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, KSPROPERTY_CONNECTION_DATAFORMAT,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_DROPPEDFRAMES_CURRENT, KSPROPERTY_PIN_CATEGORY,
    KSPROPERTY_PIN_CINSTANCES, KSPROPERTY_PIN_COMMUNICATION, KSPROPERTY_PIN_CTYPES,
    KSPROPERTY_PIN_DATAFLOW, KSPROPERTY_PIN_DATAINTERSECTION, KSPROPERTY_PIN_DATARANGES,
    KSPROPERTY_PIN_INTERFACES, KSPROPERTY_PIN_MEDIUMS, KSPROPERTY_STREAM_ALLOCATOR,
    KSPROPERTY_VIDEOCONTROL_CAPS, KSPROPERTY_VIDEOCONTROL_MODE, KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS,
    KSPROPERTY_VIDEOPROCAMP_CONTRAST, KSPROPERTY_VIDEOPROCAMP_GAMMA, KSPROPERTY_VIDEOPROCAMP_HUE,
    KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY, KSPROPERTY_VIDEOPROCAMP_SATURATION,
    PROPSETID_VIDCAP_DROPPEDFRAMES, PROPSETID_VIDCAP_VIDEOCONTROL, PROPSETID_VIDCAP_VIDEOPROCAMP,
};
use ks::GUID;
use ks::NTSTATUS;
use zerocopy::{FromBytes, IntoBytes};

use crate::input::Input;
use crate::stream_reads::{self, Read};

/// The most requests one input sends (keeps one run short).
pub const MAX_REQUESTS: usize = 48;
/// Output buffers are shorter than this.
pub const MAX_OUTPUT: u16 = 1024;
/// The most frame memory an allocator created here may ask for: 4 MiB.
pub const MAX_FRAME_BYTES: u64 = 4 << 20;

/// Setup bit: create a pin.
pub const SETUP_PIN: u8 = 1;
/// Setup bit: create an allocator on the pin.
pub const SETUP_ALLOCATOR: u8 = 2;
/// Setup bit: open the filter as a user-mode client.
pub const SETUP_USER_MODE: u8 = 4;
/// Setup bit: the device's `FaultInjection` registry value is 1 (fault injection allowed).
pub const SETUP_FAULTS: u8 = 8;
/// The most a clock move advances: 65.535 ms.
pub const MAX_ADVANCE_NS: u64 = 65_535_000;

/// What a request goes to (the target byte, mod 3). A missing pin or allocator falls back to
/// the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The camera filter.
    Filter = 0,
    /// The capture pin.
    Pin = 1,
    /// The allocator on the pin.
    Allocator = 2,
}

/// What a request is (the kind byte, mod 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// IOCTL_KS_PROPERTY.
    Property = 0,
    /// IOCTL_KS_METHOD.
    Method = 1,
    /// IOCTL_KS_ENABLE_EVENT.
    EnableEvent = 2,
    /// IOCTL_KS_DISABLE_EVENT.
    DisableEvent = 3,
    /// KSMETHOD_STREAMALLOCATOR_FREE of a frame an earlier ALLOC returned.
    FreeFrame = 4,
    /// `IoCancelIrp` of a pending request.
    Cancel = 5,
    /// IOCTL_KS_READ_STREAM with headers from the input.
    ReadStream = 6,
    /// The virtual clock moves forward.
    Advance = 7,
    /// KSPROPERTY_CONNECTION_STATE SET.
    State = 8,
    /// A property of a set the driver serves.
    KnownProperty = 9,
}

/// The properties [`Kind::KnownProperty`] picks from: set, id, and whether the request is a
/// KSP_PIN (a pin id follows the KSPROPERTY).
const KNOWN_PROPERTIES: [(GUID, u32, bool); 31] = [
    (KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, false),
    (
        KSPROPSETID_Connection,
        KSPROPERTY_CONNECTION_DATAFORMAT,
        false,
    ),
    (
        KSPROPSETID_Connection,
        KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
        false,
    ),
    (KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, false),
    (
        PROPSETID_VIDCAP_DROPPEDFRAMES,
        KSPROPERTY_DROPPEDFRAMES_CURRENT,
        false,
    ),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_CINSTANCES, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_CTYPES, false),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_DATAFLOW, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_DATARANGES, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_DATAINTERSECTION, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_INTERFACES, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_MEDIUMS, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_COMMUNICATION, true),
    (KSPROPSETID_Pin, KSPROPERTY_PIN_CATEGORY, true),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_CONTRAST,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_HUE,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_SATURATION,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_GAMMA,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOPROCAMP,
        KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOCONTROL,
        KSPROPERTY_VIDEOCONTROL_CAPS,
        false,
    ),
    (
        PROPSETID_VIDCAP_VIDEOCONTROL,
        KSPROPERTY_VIDEOCONTROL_MODE,
        false,
    ),
    (PROPSETID_AVCAM_PATTERN, KSPROPERTY_AVCAM_PATTERN, false),
    (PROPSETID_AVCAM_PATTERN, KSPROPERTY_AVCAM_OVERLAYS, false),
    (
        PROPSETID_AVCAM_PATTERN,
        KSPROPERTY_AVCAM_SOLID_COLOUR,
        false,
    ),
    (PROPSETID_AVCAM_PATTERN, KSPROPERTY_AVCAM_NOISE_SEED, false),
    (PROPSETID_AVCAM_PATTERN, KSPROPERTY_AVCAM_CAPTION, false),
    (PROPSETID_AVCAM_FAULTS, KSPROPERTY_AVCAM_FAULTS_PLAN, false),
    (PROPSETID_AVCAM_FAULTS, KSPROPERTY_AVCAM_FAULTS_STALL, false),
    (PROPSETID_AVCAM_FAULTS, KSPROPERTY_AVCAM_FAULTS_FAIL, false),
    (
        PROPSETID_AVCAM_FAULTS,
        KSPROPERTY_AVCAM_FAULTS_COUNTERS,
        false,
    ),
];

/// The emulation's `DriverEntry` signature over avcam's.
#[ks::kernel_abi]
unsafe extern "system" fn entry(driver: *mut DRIVER_OBJECT, path: *mut UNICODE_STRING) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its driver object and registry path.
    unsafe { avcam::driver_entry::DriverEntry(driver, path) }
}

/// The objects of one run.
struct Session {
    kernel: Kernel,
    filter: File,
    pin: Option<File>,
    allocator: Option<File>,
    pending: Vec<PendingIrp>,
    frames: Vec<u64>,
    /// The allocator's frame size (0 without one).
    frame_size: u32,
    user_mode: bool,
    /// Fault injection is allowed (the setup byte's [`SETUP_FAULTS`]).
    faults: bool,
    reads: Vec<Read>,
    /// The KEVENT an EVENT_OBJECT notification names; outlives the kernel's use of it.
    event: Box<MaybeUninit<KEVENT>>,
    report: Report,
}

/// What one run reached (for the tests that check the seeds get deep).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// The pin was created.
    pub pin: bool,
    /// The allocator was created.
    pub allocator: bool,
    /// Requests sent.
    pub requests: usize,
    /// Requests that completed with a success status.
    pub succeeded: usize,
    /// Frames ALLOC handed out.
    pub frames: usize,
    /// Requests pended (ALLOCs waiting for a frame).
    pub pended: usize,
    /// READ_STREAM requests sent.
    pub reads: usize,
    /// Reads that completed successfully.
    pub reads_succeeded: usize,
}

/// The body: see the module docs for the input layout.
pub fn run(data: &[u8]) {
    run_with_report(data);
}

/// [`run`], saying how far the input got.
pub fn run_with_report(data: &[u8]) -> Report {
    let mut input = Input::new(data);
    let kernel = Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx);
    // Bugs are collected and asserted on at the end, with the whole picture.
    kernel.expect_bugs();
    assert_eq!(kernel.load_driver(entry), STATUS_SUCCESS);
    let interface = kernel
        .device_interfaces(&KSCATEGORY_VIDEO_CAMERA)
        .into_iter()
        .next()
        .expect("the camera registers its interface");
    let setup = input.byte();
    let user_mode = setup & SETUP_USER_MODE != 0;
    if setup & SETUP_FAULTS != 0 {
        kernel.set_device_registry_value(
            DeviceKey::Hardware,
            avcam::identity::FAULT_INJECTION_VALUE,
            Some(RegistryValue::dword(1)),
        );
    }
    let filter = if user_mode {
        kernel.open_interface_user(&interface)
    } else {
        kernel.open_interface(&interface)
    }
    .expect("the filter opens");
    let mut event = Box::new(MaybeUninit::<KEVENT>::uninit());
    // SAFETY: the box is writable memory for a KEVENT, alive until the session ends (after the
    // driver is unloaded, so no signal comes later).
    unsafe { KeInitializeEvent(event.as_mut_ptr(), NotificationEvent, 0) };
    let mut session = Session {
        kernel,
        filter,
        pin: None,
        allocator: None,
        pending: Vec::new(),
        frames: Vec::new(),
        frame_size: 0,
        user_mode,
        faults: setup & SETUP_FAULTS != 0,
        reads: Vec::new(),
        event,
        report: Report::default(),
    };
    if setup & SETUP_PIN != 0 {
        let connect = input.chunk();
        session.pin = session.kernel.create_pin(filter, connect).ok();
    }
    if setup & SETUP_ALLOCATOR != 0 {
        let parameters = bounded_parameters(input.chunk());
        if let Some(pin) = session.pin {
            let created = session.kernel.create_allocator_raw(pin, &parameters);
            session.allocator = created.ok();
            if session.allocator.is_some() {
                session.frame_size = KSALLOCATOR_FRAMING::read_from_prefix(&parameters)
                    .map_or(0, |(framing, _)| framing.FrameSize);
            }
        }
    }
    for _ in 0..MAX_REQUESTS {
        if input.is_empty() {
            break;
        }
        session.request(&mut input);
    }
    let report = Report {
        pin: session.pin.is_some(),
        allocator: session.allocator.is_some(),
        frames: session.frames.len(),
        pended: session.pending.len(),
        ..session.report
    };
    session.finish();
    report
}

/// Allocator create parameters whose frames take at most [`MAX_FRAME_BYTES`].
fn bounded_parameters(parameters: &[u8]) -> Vec<u8> {
    let mut bytes = parameters.to_vec();
    if let Ok((mut framing, _)) = KSALLOCATOR_FRAMING::read_from_prefix(&bytes) {
        let total = u64::from(framing.Frames) * u64::from(framing.FrameSize);
        if (1..=MAX_FRAMES).contains(&framing.Frames) && total > MAX_FRAME_BYTES {
            framing.FrameSize = (MAX_FRAME_BYTES / u64::from(framing.Frames)) as u32;
            bytes[..framing.as_bytes().len()].copy_from_slice(framing.as_bytes());
        }
    }
    bytes
}

impl Session {
    fn file(&self, target: u8) -> File {
        let wanted = match target % 3 {
            0 => None,
            1 => self.pin,
            _ => self.allocator,
        };
        wanted.unwrap_or(self.filter)
    }

    /// Reads and sends one request.
    fn request(&mut self, input: &mut Input<'_>) {
        let file = self.file(input.byte());
        let kind = input.byte() % 10;
        match kind {
            6 => return self.read(file, input),
            7 => {
                let ns = u64::from(input.u16()) * 1000;
                debug_assert!(ns <= MAX_ADVANCE_NS);
                self.kernel.clock().advance(ns);
                self.check_reads();
                return;
            }
            8 => {
                let state = match input.byte() {
                    state @ 0..=3 => u32::from(state),
                    _ => {
                        u32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()])
                    }
                };
                let request = property(
                    KSPROPSETID_Connection,
                    KSPROPERTY_CONNECTION_STATE,
                    KSPROPERTY_TYPE_SET,
                );
                self.send(
                    file,
                    IOCTL_KS_PROPERTY,
                    &request,
                    state.to_le_bytes().to_vec(),
                );
                self.check_reads();
                return;
            }
            9 => return self.known_property(file, input),
            _ => {}
        }
        let output_len = usize::from(input.u16() % MAX_OUTPUT);
        let request = input.chunk().to_vec();
        let mut output = vec![0u8; output_len];
        let initial = input.bytes(output_len);
        output[..initial.len()].copy_from_slice(initial);
        let code = match kind {
            0 => IOCTL_KS_PROPERTY,
            1 => IOCTL_KS_METHOD,
            2 => {
                self.real_event_object(&mut output);
                IOCTL_KS_ENABLE_EVENT
            }
            3 => {
                let mut request = request;
                self.real_event_object(&mut request);
                self.send(file, IOCTL_KS_DISABLE_EVENT, &request, output);
                return;
            }
            4 => {
                let Some(&frame) = self
                    .frames
                    .get(usize::from(request.first().copied().unwrap_or(0)))
                    .or(self.frames.last())
                else {
                    return;
                };
                let free = KSIDENTIFIER {
                    Set: KSMETHODSETID_StreamAllocator,
                    Id: KSMETHOD_STREAMALLOCATOR_FREE,
                    Flags: KSMETHOD_TYPE_READ,
                };
                self.send(
                    file,
                    IOCTL_KS_METHOD,
                    free.as_bytes(),
                    frame.to_ne_bytes().to_vec(),
                );
                return;
            }
            _ => {
                if !self.pending.is_empty() {
                    let index = output_len % self.pending.len();
                    self.pending[index].cancel();
                }
                return;
            }
        };
        self.send(file, code, &request, output);
    }

    /// [`Kind::ReadStream`]: see [`crate::stream_reads`].
    fn read(&mut self, file: File, input: &mut Input<'_>) {
        let context = stream_reads::Context {
            kernel: &self.kernel,
            frames: &self.frames,
            frame_size: self.frame_size,
            user_mode: self.user_mode,
            faults: self.faults,
            live_bytes: self.reads.iter().map(Read::buffer_bytes).sum(),
        };
        let read = stream_reads::send(&context, file, input);
        self.report.reads += 1;
        self.reads.push(read);
        self.check_reads();
    }

    /// Checks the reads that completed, and forgets them (their buffers go).
    fn check_reads(&mut self) {
        let (kernel, frames) = (&self.kernel, &self.frames);
        let mut succeeded = 0;
        self.reads.retain(|read| match read.check(kernel, frames) {
            None => true,
            Some(ok) => {
                succeeded += usize::from(ok);
                false
            }
        });
        self.report.reads_succeeded += succeeded;
    }

    /// [`Kind::KnownProperty`].
    fn known_property(&mut self, file: File, input: &mut Input<'_>) {
        let (set, id, pin) = KNOWN_PROPERTIES[usize::from(input.byte()) % KNOWN_PROPERTIES.len()];
        let flags = match input.byte() % 5 {
            0 => KSPROPERTY_TYPE_GET,
            1 => KSPROPERTY_TYPE_SET,
            2 => KSPROPERTY_TYPE_BASICSUPPORT,
            3 => KSPROPERTY_TYPE_SETSUPPORT,
            _ => u32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()]),
        };
        let output_len = usize::from(input.u16() % MAX_OUTPUT);
        let mut request = property(set, id, flags);
        if pin {
            request.extend_from_slice(&[0; 8]); // KSP_PIN: PinId 0, Reserved
        }
        request.extend_from_slice(input.chunk());
        let mut output = vec![0u8; output_len];
        let initial = input.bytes(output_len);
        output[..initial.len()].copy_from_slice(initial);
        self.send(file, IOCTL_KS_PROPERTY, &request, output);
        self.check_reads();
    }

    /// A KSEVENTDATA naming a KEVENT by pointer gets ours.
    fn real_event_object(&self, event_data: &mut [u8]) {
        if event_data.len() >= 16 && event_data[..4] == KSEVENTF_EVENT_OBJECT.to_le_bytes() {
            let object = u64::from_le_bytes(event_data[8..16].try_into().expect("8 bytes"));
            if object != 0 {
                let event = self.event.as_ptr() as u64;
                event_data[8..16].copy_from_slice(&event.to_le_bytes());
            }
        }
    }

    /// Sends one IOCTL and checks what comes back. An ALLOC on the allocator may pend (no free
    /// frame), so it goes asynchronously with a zeroed output (ALLOC only writes it); everything
    /// else synchronously, its output starting with the input's bytes.
    fn send(&mut self, file: File, code: u32, input: &[u8], mut output: Vec<u8>) {
        let output_len = output.len();
        self.report.requests += 1;
        let is_alloc = code == IOCTL_KS_METHOD
            && Some(file) == self.allocator
            && parse_method(input, &output) == Ok(MethodRequest::Alloc);
        let result = if is_alloc {
            match self.kernel.ioctl_async(file, code, input, output_len) {
                AsyncIo::Done(done) => {
                    output = done.output;
                    done.result
                }
                AsyncIo::Pending(pending) => {
                    self.pending.push(pending);
                    return;
                }
            }
        } else {
            self.kernel.ioctl(file, code, input, &mut output)
        };
        assert_ne!(result.status, STATUS_PENDING, "completed yet pending");
        if nt_success(result.status) {
            self.report.succeeded += 1;
            assert!(
                result.information <= output_len,
                "IOCTL {code:#x}: Information {} beyond the {output_len}-byte output",
                result.information
            );
        }
        if is_alloc && result.status == STATUS_SUCCESS {
            let frame = u64::from_ne_bytes(output[..8].try_into().expect("ALLOC has 8 bytes"));
            assert_ne!(frame, 0, "ALLOC succeeded with a null frame");
            self.frames.push(frame);
        }
    }

    /// Closes everything, unloads, and checks for bugs and leaks.
    fn finish(self) {
        let kernel = &self.kernel;
        for file in [self.allocator, self.pin, Some(self.filter)]
            .into_iter()
            .flatten()
        {
            assert_eq!(kernel.close(file), STATUS_SUCCESS, "close");
        }
        // Closing a handle does not cancel its requests (their file object's IRP_MJ_CLOSE waits
        // for them, as on Windows): the client cancels what is left, which must then complete.
        for pending in &self.pending {
            if pending.poll().is_none() {
                pending.cancel();
            }
            assert!(
                pending.poll().is_some(),
                "a request is still pending after its cancellation"
            );
        }
        drop(self.pending);
        for read in &self.reads {
            read.cancel();
            assert!(
                read.check(kernel, &self.frames).is_some(),
                "a read is still pending after its cancellation"
            );
        }
        drop(self.reads);
        kernel.unload_driver();
        let bugs = kernel.take_bugs();
        assert!(
            bugs.is_empty(),
            "the emulation caught driver bugs:\n{}",
            bugs.iter()
                .map(|b| format!("  - {b}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        kernel.assert_no_leaks();
        drop(self.event);
    }
}
