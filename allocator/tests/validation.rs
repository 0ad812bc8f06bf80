//! Every validation rule of an allocator create request, one row each, with its NTSTATUS,
//! through the emulation with the request bytes `KsCreateAllocator` sends; and the rules of
//! `KsValidateAllocatorFramingEx` and `KsValidateAllocatorCreateRequest` (the Linux build's, or
//! with `AVCAM_DRIVER_IMAGE` the cross-built image's exports: `common::exports`).

mod common;

use std::sync::Mutex;

use avcam_allocator::allocator_create_dispatch;
use avcam_allocator::framing::{MAX_FRAMES, MAX_TOTAL_BYTES};
use avcam_emulation::CreateItem;
use common::{exports, framing, Fixture};
use ks::guid::{
    KSMEMORY_TYPE_DONT_CARE, KSMEMORY_TYPE_KERNEL_NONPAGED, KSMEMORY_TYPE_KERNEL_PAGED,
};
use ks::ks::*;
use ks::nt::{DEVICE_OBJECT, IRP};
use ks::status::*;
use ks::NTSTATUS;
use zerocopy::IntoBytes;

fn good() -> KSALLOCATOR_FRAMING {
    framing(2, 1000, file_alignment::B64)
}

fn with(change: impl FnOnce(&mut KSALLOCATOR_FRAMING)) -> Vec<u8> {
    let mut f = good();
    change(&mut f);
    f.as_bytes().to_vec()
}

#[test]
fn one_row_per_create_rule() {
    let too_large_frame = (MAX_TOTAL_BYTES / 2) as u32 + 1;
    let rows: Vec<(&str, Vec<u8>, NTSTATUS)> = vec![
        ("a good framing", with(|_| ()), STATUS_SUCCESS),
        ("no parameters", Vec::new(), STATUS_INVALID_BUFFER_SIZE),
        (
            "23 parameter bytes",
            with(|_| ())[..23].to_vec(),
            STATUS_INVALID_BUFFER_SIZE,
        ),
        (
            "an odd byte count short of a framing",
            with(|_| ())[..13].to_vec(),
            STATUS_INVALID_BUFFER_SIZE,
        ),
        (
            "trailing bytes are ignored",
            [with(|_| ()), vec![0xAB; 6]].concat(),
            STATUS_SUCCESS,
        ),
        (
            "FrameSize 0",
            with(|f| f.FrameSize = 0),
            STATUS_INVALID_PARAMETER,
        ),
        ("Frames 0", with(|f| f.Frames = 0), STATUS_INVALID_PARAMETER),
        (
            "an unknown flag (0x10)",
            with(|f| f.Flags |= 0x10),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "an unknown flag (0x4000_0000)",
            with(|f| f.Flags |= 0x4000_0000),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "PREFERENCES_ONLY",
            with(|f| f.Flags |= KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY),
            STATUS_INVALID_PARAMETER,
        ),
        ("every known flag", with(|f| f.Flags = 0xF), STATUS_SUCCESS),
        (
            "FileAlignment not 2^n-1 (5)",
            with(|f| f.FileAlignment = 5),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "FileAlignment not 2^n-1 (0x100)",
            with(|f| f.FileAlignment = 0x100),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "FileAlignment above PAGE_SIZE-1",
            with(|f| f.FileAlignment = 0x1FFF),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "FileAlignment PAGE_SIZE-1",
            with(|f| f.FileAlignment = 0xFFF),
            STATUS_SUCCESS,
        ),
        (
            "FileAlignment byte",
            with(|f| f.FileAlignment = 0),
            STATUS_SUCCESS,
        ),
        (
            "Frames above the cap",
            with(|f| f.Frames = MAX_FRAMES + 1),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "Frames at the cap",
            with(|f| {
                f.Frames = MAX_FRAMES;
                f.FrameSize = 16
            }),
            STATUS_SUCCESS,
        ),
        (
            "FrameSize*Frames above the byte cap",
            with(|f| {
                f.Frames = 2;
                f.FrameSize = too_large_frame
            }),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "FrameSize*Frames overflows 32 bits",
            with(|f| {
                f.Frames = 16;
                f.FrameSize = u32::MAX / 8
            }),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "FrameSize*Frames overflows with padding",
            with(|f| {
                f.Frames = MAX_FRAMES;
                f.FrameSize = u32::MAX
            }),
            STATUS_INVALID_PARAMETER,
        ),
        ("NonPagedPool", with(|f| f.PoolType = 0), STATUS_SUCCESS),
        ("PagedPool", with(|f| f.PoolType = 1), STATUS_SUCCESS),
        (
            "NonPagedPoolCacheAligned",
            with(|f| f.PoolType = 4),
            STATUS_SUCCESS,
        ),
        (
            "PagedPoolCacheAligned",
            with(|f| f.PoolType = 5),
            STATUS_SUCCESS,
        ),
        ("NonPagedPoolNx", with(|f| f.PoolType = 512), STATUS_SUCCESS),
        (
            "NonPagedPoolNxCacheAligned",
            with(|f| f.PoolType = 516),
            STATUS_SUCCESS,
        ),
        (
            "NonPagedPoolMustSucceed (obsolete)",
            with(|f| f.PoolType = 2),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "DontUseThisType",
            with(|f| f.PoolType = 3),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "NonPagedPoolCacheAlignedMustS (obsolete)",
            with(|f| f.PoolType = 6),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "NonPagedPoolSession",
            with(|f| f.PoolType = 32),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "PagedPoolSession",
            with(|f| f.PoolType = 33),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "NonPagedPoolSessionNx",
            with(|f| f.PoolType = 544),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "an unknown pool type (7)",
            with(|f| f.PoolType = 7),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "an unknown pool type (513)",
            with(|f| f.PoolType = 513),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "an unknown pool type (u32::MAX)",
            with(|f| f.PoolType = u32::MAX),
            STATUS_INVALID_PARAMETER,
        ),
    ];
    let fixture = Fixture::new();
    let mut failures = Vec::new();
    for (name, parameters, expected) in &rows {
        let result = fixture
            .kernel
            .create_allocator_raw(fixture.parent, parameters);
        let status = match result {
            Ok(file) => {
                assert_eq!(fixture.kernel.close(file), STATUS_SUCCESS);
                STATUS_SUCCESS
            }
            Err(status) => status,
        };
        if status != *expected {
            failures.push(format!(
                "{name}: got {:?}, expected {:?}",
                status_name(status),
                status_name(*expected)
            ));
        }
        fixture.kernel.pool().assert_no_leaks();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    fixture.finish();
}

#[test]
fn the_class_is_matched_case_insensitively_and_other_names_are_refused() {
    // A wildcard item hands every name to the allocator's handler, so it sees foreign names.
    let fixture = Fixture::with_item(
        CreateItem::allocator(allocator_create_dispatch).with_flags(KSCREATE_ITEM_WILDCARD),
    );
    let parameters = good();
    let lower: Vec<u8> = "{642f5d00-4791-11d0-a5d6-28db04c10000}\\"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .chain(parameters.as_bytes().iter().copied())
        .collect();
    let file = fixture
        .kernel
        .create_bytes(fixture.parent, &lower)
        .expect("a lower-case class is the same class");
    fixture.kernel.close(file);
    let other: Vec<u8> = "Pin\\"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .chain(parameters.as_bytes().iter().copied())
        .collect();
    assert_eq!(
        fixture.kernel.create_bytes(fixture.parent, &other),
        Err(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    fixture.finish();
}

/// What `KsValidateAllocatorCreateRequest` reported to the probe handler, by test.
static VALIDATED: Mutex<Vec<(NTSTATUS, Option<KSALLOCATOR_FRAMING>)>> = Mutex::new(Vec::new());

/// A create handler that only validates (as a pin with its own allocator would) and fails the
/// create with what it learnt, so no object is needed.
#[ks::kernel_abi]
unsafe extern "system" fn validate_only(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let mut framing: *mut KSALLOCATOR_FRAMING = std::ptr::null_mut();
    // SAFETY: the handler owns the live create IRP; `framing` is writable.
    let status = unsafe { (exports().validate_create_request)(irp, &mut framing) };
    let value = (status == STATUS_SUCCESS).then(|| {
        // SAFETY: on success the pointer addresses the framing inside the create name, which
        // lives while the create is processed; it may be unaligned.
        unsafe { framing.read_unaligned() }
    });
    VALIDATED.lock().unwrap().push((status, value));
    let reported = if status == STATUS_SUCCESS {
        STATUS_NOT_SUPPORTED
    } else {
        status
    };
    // SAFETY: the handler owns the IRP and completes it once.
    unsafe { avcam_kernel::irp::complete(irp, reported, 0) };
    reported
}

#[test]
fn validate_create_request_points_at_the_framing_in_the_name() {
    let fixture = Fixture::with_item(CreateItem::allocator(validate_only));
    let parameters = framing(3, 4096, file_alignment::B512);
    assert_eq!(fixture.create(&parameters), Err(STATUS_NOT_SUPPORTED));
    assert_eq!(
        fixture
            .kernel
            .create_allocator_raw(fixture.parent, &[0; 10]),
        Err(STATUS_INVALID_BUFFER_SIZE)
    );
    let bad = KSALLOCATOR_FRAMING {
        Frames: 0,
        ..parameters
    };
    assert_eq!(fixture.create(&bad), Err(STATUS_INVALID_PARAMETER));
    let seen = std::mem::take(&mut *VALIDATED.lock().unwrap());
    assert_eq!(
        seen,
        vec![
            (STATUS_SUCCESS, Some(parameters)),
            (STATUS_INVALID_BUFFER_SIZE, None),
            (STATUS_INVALID_PARAMETER, None),
        ]
    );
    fixture.finish();
}

fn item(min: u32, max: u32, memory: ks::GUID) -> KS_FRAMING_ITEM {
    KS_FRAMING_ITEM {
        MemoryType: memory,
        Frames: 2,
        FramingRange: KS_FRAMING_RANGE_WEIGHTED {
            Range: KS_FRAMING_RANGE {
                MinFrameSize: min,
                MaxFrameSize: max,
                Stepping: 1,
            },
            InPlaceWeight: 0,
            NotInPlaceWeight: 0,
        },
        ..Default::default()
    }
}

/// A KSALLOCATOR_FRAMING_EX with these items, in a buffer aligned for the structure.
fn framing_ex(items: &[KS_FRAMING_ITEM]) -> Vec<u32> {
    let mut header = KSALLOCATOR_FRAMING_EX {
        CountItems: items.len() as u32,
        ..Default::default()
    };
    if let Some(first) = items.first() {
        header.FramingItem[0] = *first;
    }
    let mut bytes = header.as_bytes().to_vec();
    for extra in items.iter().skip(1) {
        bytes.extend_from_slice(extra.as_bytes());
    }
    bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn validate_ex(buffer: &mut [u32], size: usize, pin: Option<&[u32]>) -> NTSTATUS {
    assert!(size <= buffer.len() * 4);
    let pin = pin.map_or(std::ptr::null(), |p| {
        p.as_ptr().cast::<KSALLOCATOR_FRAMING_EX>()
    });
    // SAFETY: `buffer` holds `size` readable bytes; `pin` is NULL or a complete framing.
    unsafe { (exports().validate_framing_ex)(buffer.as_mut_ptr().cast(), size as u32, pin) }
}

#[test]
fn one_row_per_framing_ex_rule() {
    let pin = framing_ex(&[item(1000, 2000, KSMEMORY_TYPE_KERNEL_NONPAGED)]);
    let one = framing_ex(&[item(1500, 3000, KSMEMORY_TYPE_DONT_CARE)]);
    let three = framing_ex(&[item(1, 2, KSMEMORY_TYPE_DONT_CARE); 3]);
    let mut zero_items = one.clone();
    zero_items[0] = 0;
    let inverted = framing_ex(&[item(300, 200, KSMEMORY_TYPE_DONT_CARE)]);
    let other_memory = framing_ex(&[item(1000, 2000, KSMEMORY_TYPE_KERNEL_PAGED)]);
    let below_pin = framing_ex(&[item(10, 999, KSMEMORY_TYPE_DONT_CARE)]);
    /// Name, buffer, BufferSize, pin framing, expected status.
    type Row<'a> = (&'a str, Vec<u32>, usize, Option<&'a [u32]>, NTSTATUS);
    let rows: Vec<Row> = vec![
        ("a whole framing", one.clone(), 112, None, STATUS_SUCCESS),
        (
            "a whole framing that fits the pin",
            one.clone(),
            112,
            Some(&pin),
            STATUS_SUCCESS,
        ),
        (
            "a buffer one byte short of the structure",
            one.clone(),
            111,
            None,
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "an empty buffer",
            one.clone(),
            0,
            None,
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "three items in full",
            three.clone(),
            24 + 3 * 88,
            None,
            STATUS_SUCCESS,
        ),
        (
            "a buffer short of CountItems items",
            three.clone(),
            24 + 3 * 88 - 1,
            None,
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "CountItems 0",
            zero_items,
            112,
            None,
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "MinFrameSize above MaxFrameSize",
            inverted,
            112,
            None,
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "another memory type than the pin's",
            other_memory,
            112,
            Some(&pin),
            STATUS_INVALID_DEVICE_REQUEST,
        ),
        (
            "a frame range outside the pin's",
            below_pin,
            112,
            Some(&pin),
            STATUS_INVALID_DEVICE_REQUEST,
        ),
    ];
    for (name, mut buffer, size, pin, expected) in rows {
        assert_eq!(validate_ex(&mut buffer, size, pin), expected, "{name}");
    }
    // SAFETY: a NULL framing with a zero size is read as an empty buffer.
    let null =
        unsafe { (exports().validate_framing_ex)(std::ptr::null_mut(), 0, std::ptr::null()) };
    assert_eq!(null, STATUS_INVALID_DEVICE_REQUEST);
}
