//! The seed corpus: a few valid requests per target, in each body's input layout, so the fuzzer
//! starts from inputs that get past the first checks. `fuzz/seeds/<target>/<name>` holds
//! exactly these (the `seed_corpus` test compares, and rewrites them with `AVCAM_WRITE_SEEDS=1`).

use avcam_avstream::intersect::ClientRange;
use avcam_avstream::ranges::KS_CAPTURE_RANGES;
use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::request::{procamp, property, video_control_mode};
use avcam_emulation::client::allocator_create_name;
use ks::avcam::{
    AVCAM_FAULT_COUNTERS, AVCAM_FAULT_PLAN, AVCAM_PATTERN_ZONE_PLATE,
    KSPROPERTY_AVCAM_FAULTS_COUNTERS, KSPROPERTY_AVCAM_FAULTS_PLAN, KSPROPERTY_AVCAM_FAULTS_STALL,
    KSPROPERTY_AVCAM_PATTERN, PROPSETID_AVCAM_FAULTS, PROPSETID_AVCAM_PATTERN,
};
use ks::guid::{
    KSEVENTSETID_StreamAllocator, KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator,
    KSMEMORY_TYPE_KERNEL_NONPAGED,
};
use ks::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSEVENTDATA, KSEVENTF_EVENT_HANDLE,
    KSEVENTF_EVENT_OBJECT, KSEVENT_STREAMALLOCATOR_FREEFRAME, KSEVENT_TYPE_ENABLE, KSIDENTIFIER,
    KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_WRITE, KSPROPERTY_STREAMALLOCATOR_STATUS,
    KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
};
use ks::nt::NonPagedPoolNx;
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin,
    KSDATARANGE, KSPIN_CONNECT, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_PIN_CTYPES, KSPROPERTY_PIN_DATAINTERSECTION,
    KSPROPERTY_PIN_DATARANGES, KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS, KSP_PIN, KSSTATE_RUN,
};
use zerocopy::{FromZeros, IntoBytes};

use crate::driver_requests::{
    Kind, Target, SETUP_ALLOCATOR, SETUP_FAULTS, SETUP_PIN, SETUP_USER_MODE,
};

/// A named seed input.
pub type Seed = (&'static str, Vec<u8>);

/// The seeds of a target by name (empty for an unknown name).
pub fn for_target(target: &str) -> Vec<Seed> {
    match target {
        "allocator_requests" => allocator_requests(),
        "camera_formats" => camera_formats(),
        "driver_requests" => driver_requests(),
        _ => Vec::new(),
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn chunk(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("a seed chunk fits a u16 length");
    cat(&[&len.to_le_bytes(), bytes])
}

/// Four 4 KiB frames from the no-execute non-paged pool, 64-byte aligned.
fn framing() -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        Flags: 0,
        PoolType: NonPagedPoolNx,
        Frames: 4,
        FrameSize: 4096,
        FileAlignment: 63,
        Reserved: 0,
    }
}

/// An allocator for the driver seeds' QVGA NV12 pin: four frames of its image (the pin's
/// allocator refuses frames too small for a picture).
fn pin_framing() -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        FrameSize: 320 * 240 * 3 / 2,
        ..framing()
    }
}

/// A one-item `KSALLOCATOR_FRAMING_EX` for frame sizes `min..=max`.
fn framing_ex(min: u32, max: u32) -> KSALLOCATOR_FRAMING_EX {
    let mut framing = KSALLOCATOR_FRAMING_EX::new_zeroed();
    framing.CountItems = 1;
    let item = &mut framing.FramingItem[0];
    item.MemoryType = KSMEMORY_TYPE_KERNEL_NONPAGED;
    item.Frames = 4;
    item.FileAlignment = 63;
    item.FramingRange.Range.MinFrameSize = min;
    item.FramingRange.Range.MaxFrameSize = max;
    framing
}

fn event_data(notification: u32, object: u64) -> Vec<u8> {
    KSEVENTDATA {
        NotificationType: notification,
        _pad: 0,
        Object: object,
        Extra: 0,
        Reserved: 0,
    }
    .as_bytes()
    .to_vec()
}

/// Seeds of [`crate::allocator_requests`].
pub fn allocator_requests() -> Vec<Seed> {
    let name = allocator_create_name(framing().as_bytes());
    vec![
        ("create-name", cat(&[&[0], &name])),
        ("create-parameters", cat(&[&[1], framing().as_bytes()])),
        (
            "framing-ex-against-pin",
            cat(&[
                &[2],
                &chunk(framing_ex(4096, 8192).as_bytes()),
                &[1],
                framing_ex(1, 1 << 20).as_bytes(),
            ]),
        ),
        (
            "property-status",
            cat(&[
                &[3],
                &40u16.to_le_bytes(),
                &property(
                    KSPROPSETID_StreamAllocator,
                    KSPROPERTY_STREAMALLOCATOR_STATUS,
                    KSPROPERTY_TYPE_GET,
                ),
            ]),
        ),
        (
            "method-alloc",
            cat(&[
                &[4],
                &chunk(&property(
                    KSMETHODSETID_StreamAllocator,
                    KSMETHOD_STREAMALLOCATOR_ALLOC,
                    KSMETHOD_TYPE_WRITE,
                )),
                &[0; 8],
            ]),
        ),
        (
            "enable-freeframe",
            cat(&[
                &[5],
                &chunk(&property(
                    KSEVENTSETID_StreamAllocator,
                    KSEVENT_STREAMALLOCATOR_FREEFRAME,
                    KSEVENT_TYPE_ENABLE,
                )),
                &event_data(KSEVENTF_EVENT_HANDLE, 0x44),
            ]),
        ),
    ]
}

fn nv12_720p() -> VideoFormat {
    VideoFormat::new(PixelFormat::Nv12, FrameSize::HD720, 333_333).expect("an offered format")
}

/// `KSPIN_CONNECT` (standard interface and medium, no peer) for `pin_id`, then `format`.
fn pin_connect(pin_id: u32, format: &[u8]) -> Vec<u8> {
    let mut connect = KSPIN_CONNECT::new_zeroed();
    connect.Interface.Set = KSINTERFACESETID_Standard;
    connect.Medium.Set = KSMEDIUMSETID_Standard;
    connect.PinId = pin_id;
    cat(&[connect.as_bytes(), format])
}

/// Seeds of [`crate::camera_formats`].
pub fn camera_formats() -> Vec<Seed> {
    let wildcard = KSDATARANGE {
        FormatSize: 64,
        ..Default::default()
    };
    debug_assert!(ClientRange::parse(wildcard.as_bytes()).is_ok());
    vec![
        (
            "format-nv12-720p",
            cat(&[&[0], nv12_720p().to_ks().as_bytes()]),
        ),
        (
            "intersect-first-range",
            cat(&[&[1], &152u16.to_le_bytes(), KS_CAPTURE_RANGES[0].as_bytes()]),
        ),
        (
            "intersect-wildcard",
            cat(&[&[1], &152u16.to_le_bytes(), wildcard.as_bytes()]),
        ),
        (
            "pin-connect",
            cat(&[&[2, 1], &pin_connect(0, nv12_720p().to_ks().as_bytes())]),
        ),
    ]
}

/// One request of [`crate::driver_requests`]'s input.
fn request(target: Target, kind: Kind, input: &[u8], output: &[u8]) -> Vec<u8> {
    let output_len = u16::try_from(output.len()).expect("a seed output fits a u16");
    cat(&[
        &[target as u8, kind as u8],
        &output_len.to_le_bytes(),
        &chunk(input),
        output,
    ])
}

fn pin_property(id: u32) -> Vec<u8> {
    KSP_PIN {
        Property: KSIDENTIFIER {
            Set: KSPROPSETID_Pin,
            Id: id,
            Flags: KSPROPERTY_TYPE_GET,
        },
        PinId: 0,
        Reserved: 0,
    }
    .as_bytes()
    .to_vec()
}

/// A request of a kind that reads its own layout ([`Kind::ReadStream`], [`Kind::Advance`],
/// [`Kind::State`], [`Kind::KnownProperty`]).
fn special(target: Target, kind: Kind, layout: &[u8]) -> Vec<u8> {
    cat(&[&[target as u8, kind as u8], layout])
}

/// One header description of a [`Kind::ReadStream`] (see [`crate::stream_reads`]): `size` and
/// `buffer` choices, `FrameExtent`, `DataUsed` and `OptionsFlags` 0, a zero PresentationTime and
/// a zeroed KS_FRAME_INFO when the size choice has one.
fn read_header(size: u8, buffer: u8, extent: u32) -> Vec<u8> {
    let tail = if size == 1 { 72 } else { 0 };
    let frame_index: &[u8] = if buffer == 2 { &[0] } else { &[] };
    cat(&[
        &[size, buffer],
        &extent.to_le_bytes(),
        frame_index,
        &[0],
        &[0; 16],
        &vec![0; tail],
    ])
}

/// A [`Kind::ReadStream`] of these header descriptions.
fn read(headers: &[Vec<u8>]) -> Vec<u8> {
    let count = u8::try_from(headers.len() - 1).expect("at most three headers");
    let mut layout = vec![count];
    for header in headers {
        layout.extend_from_slice(header);
    }
    special(Target::Pin, Kind::ReadStream, &layout)
}

/// A [`Kind::Advance`] of `ms` milliseconds.
fn advance(ms: u16) -> Vec<u8> {
    special(Target::Pin, Kind::Advance, &(ms * 1000).to_le_bytes())
}

/// A [`Kind::State`] to `state`.
fn set_state(state: u8) -> Vec<u8> {
    special(Target::Pin, Kind::State, &[state])
}

/// Seeds of [`crate::driver_requests`].
pub fn driver_requests() -> Vec<Seed> {
    let qvga = VideoFormat::new(PixelFormat::Nv12, FrameSize::QVGA, 333_333).expect("offered");
    let connect = pin_connect(0, qvga.to_ks().as_bytes());
    // KSP_PIN + KSMULTIPLE_ITEM { Size, Count 1 } + one range.
    let range = qvga.to_ks();
    let intersection = cat(&[
        &pin_property(KSPROPERTY_PIN_DATAINTERSECTION),
        &(8 + 152u32).to_le_bytes(),
        &1u32.to_le_bytes(),
        range.as_bytes(),
    ]);
    let state = |flags| property(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, flags);
    let alloc = property(
        KSMETHODSETID_StreamAllocator,
        KSMETHOD_STREAMALLOCATOR_ALLOC,
        KSMETHOD_TYPE_WRITE,
    );
    let status = property(
        KSPROPSETID_StreamAllocator,
        KSPROPERTY_STREAMALLOCATOR_STATUS,
        KSPROPERTY_TYPE_GET,
    );
    let enable = property(
        KSEVENTSETID_StreamAllocator,
        KSEVENT_STREAMALLOCATOR_FREEFRAME,
        KSEVENT_TYPE_ENABLE,
    );
    let signal = event_data(KSEVENTF_EVENT_OBJECT, 1);
    let image = 320 * 240 * 3 / 2;
    // A ProcAmp or video-control SET carries its structure as the data too.
    let echoed = |input: Vec<u8>| request(Target::Filter, Kind::Property, &input, &input);
    let set = |set, id, value: &[u8]| {
        request(
            Target::Filter,
            Kind::Property,
            &property(set, id, KSPROPERTY_TYPE_SET),
            value,
        )
    };
    let plan = AVCAM_FAULT_PLAN {
        Seed: 7,
        DropBasisPoints: 2500,
        EmptyEvery: 3,
        DiscontinuityEvery: 2,
        ..AVCAM_FAULT_PLAN::default()
    };
    vec![
        (
            "pin-reads",
            cat(&[
                &[SETUP_PIN],
                &chunk(&connect),
                &set_state(3),
                // A frame with its KS_FRAME_INFO, one without, one with no buffer, one too small.
                &read(&[read_header(1, 1, image)]),
                &read(&[read_header(0, 1, image), read_header(0, 0, 0)]),
                &read(&[read_header(1, 1, 64)]),
                &advance(34),
                &advance(34),
                &set_state(0),
            ]),
        ),
        (
            "user-mode-reads",
            cat(&[
                &[SETUP_PIN | SETUP_USER_MODE],
                &chunk(&connect),
                &set_state(3),
                // A buffer in the kernel half is refused by the probe; the next is delivered.
                &read(&[read_header(1, 3, image)]),
                &read(&[read_header(1, 1, image)]),
                &advance(34),
                &special(Target::Pin, Kind::KnownProperty, &[4, 0, 48, 0, 0, 0]),
            ]),
        ),
        (
            "allocator-frame-reads",
            cat(&[
                &[SETUP_PIN | SETUP_ALLOCATOR],
                &chunk(&connect),
                &chunk(pin_framing().as_bytes()),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &set_state(3),
                &read(&[read_header(1, 2, image)]),
                &advance(34),
                &request(Target::Allocator, Kind::FreeFrame, &[0], &[]),
            ]),
        ),
        (
            "filter-properties",
            cat(&[
                &[0],
                &request(
                    Target::Filter,
                    Kind::Property,
                    &pin_property(KSPROPERTY_PIN_CTYPES),
                    &[0; 4],
                ),
                &request(
                    Target::Filter,
                    Kind::Property,
                    &pin_property(KSPROPERTY_PIN_DATARANGES),
                    &[],
                ),
                &request(Target::Filter, Kind::Property, &intersection, &[0; 152]),
            ]),
        ),
        (
            "pin-run-and-stop",
            cat(&[
                &[SETUP_PIN],
                &chunk(&connect),
                &request(
                    Target::Pin,
                    Kind::Property,
                    &state(KSPROPERTY_TYPE_SET),
                    &KSSTATE_RUN.to_le_bytes(),
                ),
                &request(
                    Target::Pin,
                    Kind::Property,
                    &state(KSPROPERTY_TYPE_GET),
                    &[0; 4],
                ),
                &request(
                    Target::Pin,
                    Kind::Property,
                    &property(
                        KSPROPSETID_Connection,
                        KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
                        KSPROPERTY_TYPE_GET,
                    ),
                    &[0; 112],
                ),
            ]),
        ),
        (
            "allocator-alloc-free-events",
            cat(&[
                &[SETUP_PIN | SETUP_ALLOCATOR],
                &chunk(&connect),
                &chunk(pin_framing().as_bytes()),
                &request(Target::Allocator, Kind::EnableEvent, &enable, &signal),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &request(Target::Allocator, Kind::FreeFrame, &[0], &[]),
                &request(Target::Allocator, Kind::Property, &status, &[0; 32]),
                &request(Target::Allocator, Kind::DisableEvent, &signal, &[]),
            ]),
        ),
        (
            "controls-and-faults",
            cat(&[
                &[SETUP_PIN | SETUP_FAULTS],
                &chunk(&connect),
                &echoed(procamp(
                    KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS,
                    KSPROPERTY_TYPE_SET,
                    5000,
                )),
                // Both flips.
                &echoed(video_control_mode(0, KSPROPERTY_TYPE_SET, 3)),
                &set(
                    PROPSETID_AVCAM_PATTERN,
                    KSPROPERTY_AVCAM_PATTERN,
                    &AVCAM_PATTERN_ZONE_PLATE.to_le_bytes(),
                ),
                &set(
                    PROPSETID_AVCAM_FAULTS,
                    KSPROPERTY_AVCAM_FAULTS_PLAN,
                    plan.as_bytes(),
                ),
                &set(
                    PROPSETID_AVCAM_FAULTS,
                    KSPROPERTY_AVCAM_FAULTS_STALL,
                    &5u32.to_le_bytes(),
                ),
                &set_state(3),
                &read(&[read_header(1, 1, image)]),
                &read(&[read_header(1, 1, image)]),
                &advance(34),
                &advance(34),
                &advance(34),
                &advance(34),
                &request(
                    Target::Filter,
                    Kind::Property,
                    &property(
                        PROPSETID_AVCAM_FAULTS,
                        KSPROPERTY_AVCAM_FAULTS_COUNTERS,
                        KSPROPERTY_TYPE_GET,
                    ),
                    AVCAM_FAULT_COUNTERS::new_zeroed().as_bytes(),
                ),
                &set_state(0),
            ]),
        ),
        (
            "allocator-exhausted",
            cat(&[
                &[SETUP_PIN | SETUP_ALLOCATOR],
                &chunk(&connect),
                &chunk(
                    KSALLOCATOR_FRAMING {
                        Frames: 1,
                        ..pin_framing()
                    }
                    .as_bytes(),
                ),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &request(Target::Allocator, Kind::FreeFrame, &[0], &[]),
                &request(Target::Allocator, Kind::Method, &alloc, &[0; 8]),
                &request(Target::Allocator, Kind::Cancel, &[], &[]),
            ]),
        ),
    ]
}
