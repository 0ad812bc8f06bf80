//! Fuzz body over the whole driver: avcam loaded into the emulation, its filter opened, a pin
//! and an allocator created from the input, IOCTLs from the input sent to all three, then
//! everything closed and the driver unloaded.
//!
//! Input:
//! - a setup byte: bit 0 creates a pin, bit 1 an allocator on it;
//! - with a pin: a u16-prefixed `KSPIN_CONNECT` + format (sent with `KSSTRING_Pin\` as the name);
//! - with an allocator: u16-prefixed create parameters (sent after `KSSTRING_Allocator\`);
//! - then up to [`MAX_REQUESTS`] requests, each a target byte (filter, pin, allocator), a kind
//!   byte, a u16 output length (mod [`MAX_OUTPUT`]), a u16-prefixed input, and as many bytes as
//!   the output is long for its initial contents. The kinds: IOCTL_KS_PROPERTY, IOCTL_KS_METHOD,
//!   IOCTL_KS_ENABLE_EVENT, IOCTL_KS_DISABLE_EVENT, a FREE of a frame an earlier ALLOC returned
//!   (the input's first byte picks it), and an `IoCancelIrp` of a pending request.
//!
//! Two things are made safe rather than fuzzed, since a kernel-mode caller is trusted with them:
//! a `KSEVENTF_EVENT_OBJECT` notification gets a real `KEVENT` (not the input's pointer), and
//! allocator parameters asking for more than [`MAX_FRAME_BYTES`] of frames are scaled down (the
//! size rules themselves are fuzzed by the allocator_requests target).
//!
//! Invariants: no request panics; a request that completes synchronously is not STATUS_PENDING
//! and, when successful, reports at most its output length as Information; an ALLOC that succeeds
//! returns a non-null frame; closing the allocator, the pin and the filter succeeds and leaves no
//! request pending; after unloading, the emulation has recorded no driver bug (IRQL, locks, IRP
//! completion...) and the pool, the object references, the handles and the timers show no leak.

use std::mem::MaybeUninit;

use avcam_allocator::framing::MAX_FRAMES;
use avcam_allocator::requests::{parse_method, MethodRequest};
use avcam_emulation::services::KeInitializeEvent;
use avcam_emulation::{AsyncIo, File, Kernel, PendingIrp};
use ks::guid::{KSMETHODSETID_StreamAllocator, KSCATEGORY_VIDEO_CAMERA};
use ks::ks::{
    IOCTL_KS_DISABLE_EVENT, IOCTL_KS_ENABLE_EVENT, IOCTL_KS_METHOD, IOCTL_KS_PROPERTY,
    KSALLOCATOR_FRAMING, KSEVENTF_EVENT_OBJECT, KSIDENTIFIER, KSMETHOD_STREAMALLOCATOR_FREE,
    KSMETHOD_TYPE_READ,
};
use ks::nt::{NotificationEvent, DRIVER_OBJECT, KEVENT, UNICODE_STRING};
use ks::status::{nt_success, STATUS_PENDING, STATUS_SUCCESS};
use ks::NTSTATUS;
use zerocopy::{FromBytes, IntoBytes};

use crate::input::Input;

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

/// What a request is (the kind byte, mod 6).
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
}

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
    let filter = kernel.open_interface(&interface).expect("the filter opens");
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
        event,
        report: Report::default(),
    };
    let setup = input.byte();
    if setup & SETUP_PIN != 0 {
        let connect = input.chunk();
        session.pin = session.kernel.create_pin(filter, connect).ok();
    }
    if setup & SETUP_ALLOCATOR != 0 {
        let parameters = bounded_parameters(input.chunk());
        if let Some(pin) = session.pin {
            let created = session.kernel.create_allocator_raw(pin, &parameters);
            session.allocator = created.ok();
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
        let kind = input.byte() % 6;
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
