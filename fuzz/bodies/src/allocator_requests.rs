//! Fuzz body over the allocator core's parsers (`avcam_allocator::framing` and `::requests`).
//!
//! Input: one selector byte, then the selected parser's operands:
//! - 0 create name: the rest is the `FileName` bytes;
//! - 1 create parameters: the rest is the bytes after `KSSTRING_Allocator\`;
//! - 2 `KSALLOCATOR_FRAMING_EX`: a u16-prefixed buffer, a byte (odd: a pin framing follows), the
//!   rest as the pin's framing;
//! - 3 property: a u16 output length, the rest is the request;
//! - 4 method: a u16-prefixed request, the rest is the data buffer;
//! - 5 events: a u16-prefixed `KSEVENT`, the rest is the `KSEVENTDATA` (enabled, then disabled).
//!
//! Invariants: nothing panics; an accepted framing obeys every create rule and is the framing the
//! bytes hold (it round-trips); an accepted `KSALLOCATOR_FRAMING_EX` has its items in the buffer,
//! each consistent and fitting a pin item; an accepted request is what its bytes say; answers fit
//! the output or say how much they need; every error is a failure NTSTATUS.

use avcam_allocator::framing::{
    create_parameters_offset, is_alignment_mask, parse_create_name, parse_create_parameters,
    validate_framing_ex, Framing, CREATE_PARAMETERS_SIZE, FRAMING_EX_HEADER_SIZE,
    FRAMING_ITEM_SIZE, KNOWN_FRAMING_FLAGS, MAX_FRAMES, MAX_TOTAL_BYTES,
};
use avcam_allocator::requests::{
    answer_method_support, answer_property, parse_disable_event, parse_enable_event, parse_method,
    parse_property, write_frame_address, AllocatorMethod, AllocatorProperty, DisableRequest,
    EventRequest, MethodRequest, Notification, PropertyRequest, PropertyValues, FRAME_POINTER_SIZE,
    IDENTIFIER_SIZE, STATUS_SIZE,
};
use avcam_allocator::Error;
use ks::guid::{
    KSEVENTSETID_StreamAllocator, KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator,
    KSMEMORY_TYPE_DONT_CARE,
};
use ks::ks::{
    KSALLOCATOR_FRAMING, KSEVENTDATA, KSEVENTF_EVENT_HANDLE, KSEVENTF_EVENT_OBJECT,
    KSEVENT_TYPE_ENABLE, KSIDENTIFIER, KSPROPERTY_TYPE_GET, KSSTREAMALLOCATOR_STATUS,
    KS_FRAMING_ITEM,
};
use zerocopy::{FromBytes, IntoBytes};

use crate::input::Input;

/// The body: see the module docs for the input layout.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 6 {
        0 => create_name(input.rest()),
        1 => create_parameters(input.rest()),
        2 => {
            let buffer = input.chunk();
            let with_pin = input.byte() & 1 == 1;
            let pin = input.rest();
            framing_ex(buffer, with_pin.then_some(pin));
        }
        3 => {
            let output_len = usize::from(input.u16() % 128);
            property(input.rest(), output_len);
        }
        4 => {
            let request = input.chunk();
            method(request, input.rest());
        }
        _ => {
            let request = input.chunk();
            events(request, input.rest());
        }
    }
}

/// Every create rule, checked on the raw framing an accepted one reports.
fn assert_obeys_create_rules(framing: &Framing) {
    let raw = framing.to_raw();
    assert!((1..=MAX_FRAMES).contains(&raw.Frames), "{raw:?}");
    assert!(raw.FrameSize >= 1, "{raw:?}");
    assert!(is_alignment_mask(raw.FileAlignment) && raw.FileAlignment < 4096);
    assert_eq!(raw.Flags & !KNOWN_FRAMING_FLAGS, 0);
    let stride = u64::from(raw.FrameSize) + u64::from(raw.FileAlignment);
    assert!(u64::from(raw.Frames) * stride <= MAX_TOTAL_BYTES, "{raw:?}");
    assert!([0, 1, 4, 5, 512, 516].contains(&raw.PoolType), "{raw:?}");
    let per_frame = framing.pool_bytes_per_frame();
    assert!(per_frame >= raw.FrameSize as usize);
    assert!(per_frame as u64 <= MAX_TOTAL_BYTES);
    assert_eq!(
        Framing::validate(&raw),
        Ok(*framing),
        "validation is stable"
    );
}

fn assert_failure(error: &Error) {
    assert!(error.status() < 0, "{error:?} maps to a failure status");
}

fn create_name(name: &[u8]) {
    match parse_create_name(name) {
        Ok(framing) => {
            assert_obeys_create_rules(&framing);
            let offset = create_parameters_offset(name).expect("an accepted name has parameters");
            let (raw, _) = KSALLOCATOR_FRAMING::read_from_prefix(&name[offset..])
                .expect("an accepted name holds a whole framing");
            assert_eq!(framing.to_raw(), raw, "the framing is the one in the name");
        }
        Err(error) => {
            assert_failure(&error);
            // A well-formed prefix leaves the verdict to the parameters.
            if let Ok(offset) = create_parameters_offset(name) {
                assert_eq!(parse_create_parameters(&name[offset..]), Err(error));
            }
        }
    }
}

fn create_parameters(parameters: &[u8]) {
    let parsed = parse_create_parameters(parameters);
    match KSALLOCATOR_FRAMING::read_from_prefix(parameters) {
        Err(_) => {
            assert!(parameters.len() < CREATE_PARAMETERS_SIZE);
            assert_eq!(
                parsed,
                Err(Error::ShortParameters {
                    length: parameters.len()
                })
            );
        }
        Ok((raw, _)) => {
            assert_eq!(parsed, Framing::validate(&raw), "only the prefix is read");
            match parsed {
                Ok(framing) => {
                    assert_obeys_create_rules(&framing);
                    assert_eq!(framing.to_raw(), raw);
                }
                Err(error) => assert_failure(&error),
            }
        }
    }
}

fn items(buffer: &[u8]) -> Vec<KS_FRAMING_ITEM> {
    let count = u32::from_le_bytes(buffer[..4].try_into().expect("4 bytes")) as usize;
    (0..count)
        .map(|i| {
            let start = FRAMING_EX_HEADER_SIZE + i * FRAMING_ITEM_SIZE;
            KS_FRAMING_ITEM::read_from_bytes(&buffer[start..start + FRAMING_ITEM_SIZE])
                .expect("an accepted buffer holds its items")
        })
        .collect()
}

fn framing_ex(buffer: &[u8], pin: Option<&[u8]>) {
    match validate_framing_ex(buffer, pin) {
        Ok(()) => {
            let items = items(buffer);
            assert!(!items.is_empty(), "CountItems 0 is refused");
            let pin_items = pin.map(self::items);
            for item in &items {
                let range = item.FramingRange.Range;
                assert!(range.MinFrameSize <= range.MaxFrameSize);
                assert!(is_alignment_mask(item.FileAlignment));
                if let Some(pin_items) = &pin_items {
                    let fits = pin_items.iter().any(|offered| {
                        let theirs = offered.FramingRange.Range;
                        let overlap = range.MinFrameSize <= theirs.MaxFrameSize
                            && theirs.MinFrameSize <= range.MaxFrameSize;
                        let memory = item.MemoryType == offered.MemoryType
                            || item.MemoryType == KSMEMORY_TYPE_DONT_CARE
                            || offered.MemoryType == KSMEMORY_TYPE_DONT_CARE;
                        overlap && memory
                    });
                    assert!(fits, "an accepted item fits a pin item");
                }
            }
        }
        Err(error) => {
            assert!(
                matches!(
                    error,
                    Error::FramingExTooSmall { .. } | Error::FramingExMismatch { .. }
                ),
                "{error:?}"
            );
            assert_failure(&error);
        }
    }
}

fn identifier(request: &[u8]) -> Option<KSIDENTIFIER> {
    KSIDENTIFIER::read_from_prefix(request)
        .ok()
        .map(|(id, _)| id)
}

fn values() -> PropertyValues {
    PropertyValues {
        status: KSSTREAMALLOCATOR_STATUS {
            Framing: KSALLOCATOR_FRAMING {
                Flags: 0,
                PoolType: 512,
                Frames: 4,
                FrameSize: 4096,
                FileAlignment: 63,
                Reserved: 0,
            },
            AllocatedFrames: 2,
            Reserved: 0,
        },
        function_table: [0x1111_2222, 0x3333_4444],
    }
}

fn property(request: &[u8], output_len: usize) {
    let parsed = match parse_property(request) {
        Ok(parsed) => parsed,
        Err(error) => {
            assert_failure(&error);
            assert_eq!(
                identifier(request).is_none(),
                request.len() < IDENTIFIER_SIZE
            );
            return;
        }
    };
    let id = identifier(request).expect("an accepted request holds a KSPROPERTY");
    assert_eq!(id.Set, KSPROPSETID_StreamAllocator);
    if let PropertyRequest::Get(which) = parsed {
        assert_eq!(id.Flags, KSPROPERTY_TYPE_GET);
        let expected = match which {
            AllocatorProperty::FunctionTable => 0,
            AllocatorProperty::Status => 1,
        };
        assert_eq!(id.Id, expected);
    }
    let mut output = vec![0xA5u8; output_len];
    match answer_property(parsed, &mut output, &values()) {
        Ok(written) => {
            assert!(written <= output_len, "{written} > {output_len}");
            if parsed == PropertyRequest::Get(AllocatorProperty::Status) {
                assert_eq!(written, STATUS_SIZE);
                assert_eq!(&output[..written], values().status.as_bytes());
            }
            assert!(
                output[written..].iter().all(|&b| b == 0xA5),
                "nothing past the answer"
            );
        }
        Err(Error::BufferTooSmall { needed }) => {
            assert!(output_len < needed, "{output_len} >= {needed}");
            assert!(
                output.iter().all(|&b| b == 0xA5),
                "nothing written on failure"
            );
        }
        Err(other) => panic!("answering a parsed property failed: {other:?}"),
    }
}

fn method(request: &[u8], data: &[u8]) {
    match parse_method(request, data) {
        Ok(parsed) => {
            let id = identifier(request).expect("an accepted request holds a KSMETHOD");
            assert_eq!(id.Set, KSMETHODSETID_StreamAllocator);
            match parsed {
                MethodRequest::Alloc => {
                    assert!(data.len() >= FRAME_POINTER_SIZE);
                    let mut out = data.to_vec();
                    assert_eq!(
                        write_frame_address(&mut out, 0x5000),
                        Ok(FRAME_POINTER_SIZE)
                    );
                    let free = parse_method(&with_free_id(request), &out);
                    assert_eq!(free, Ok(MethodRequest::Free { address: 0x5000 }));
                }
                MethodRequest::Free { address } => {
                    let bytes: [u8; FRAME_POINTER_SIZE] =
                        data[..FRAME_POINTER_SIZE].try_into().expect("a pointer");
                    assert_eq!(address, usize::from_ne_bytes(bytes));
                }
                MethodRequest::BasicSupport(method) => {
                    let mut flags = [0u8; 4];
                    assert_eq!(answer_method_support(method, &mut flags), Ok(4));
                    // ks.h: ALLOC (0) is KSMETHOD_TYPE_WRITE (2), FREE (1) KSMETHOD_TYPE_READ
                    // (1); written out here, not asked of the code under test.
                    let (expected_id, expected_flags) = match method {
                        AllocatorMethod::Alloc => (0, 2),
                        AllocatorMethod::Free => (1, 1),
                    };
                    assert_eq!(u32::from_le_bytes(flags), expected_flags);
                    assert_eq!(id.Id, expected_id);
                }
                MethodRequest::SetSupport => {}
            }
        }
        Err(error) => assert_failure(&error),
    }
}

/// `request` naming FREE instead of ALLOC (same flags).
fn with_free_id(request: &[u8]) -> Vec<u8> {
    let mut bytes = request.to_vec();
    bytes[16..20].copy_from_slice(&1u32.to_le_bytes());
    bytes
}

fn events(request: &[u8], event_data: &[u8]) {
    match parse_enable_event(request, event_data) {
        Ok(parsed) => {
            let id = identifier(request).expect("an accepted request holds a KSEVENT");
            assert_eq!(id.Set, KSEVENTSETID_StreamAllocator);
            if let EventRequest::Enable { notification, .. } = parsed {
                assert_eq!(id.Flags, KSEVENT_TYPE_ENABLE);
                let (data, _) = KSEVENTDATA::read_from_prefix(event_data).expect("KSEVENTDATA");
                match notification {
                    Notification::EventHandle { handle } => {
                        assert_eq!(data.NotificationType, KSEVENTF_EVENT_HANDLE);
                        assert_eq!(handle as u64, data.Object);
                    }
                    Notification::EventObject { event } => {
                        assert_eq!(data.NotificationType, KSEVENTF_EVENT_OBJECT);
                        assert!(event != 0, "a null KEVENT is refused");
                        assert_eq!(event as u64, data.Object);
                    }
                }
            }
        }
        Err(error) => assert_failure(&error),
    }
    // Disable takes the same KSEVENTDATA, at some address.
    let address = 0x7000;
    match parse_disable_event(address, event_data) {
        Ok(DisableRequest::All) => assert!(event_data.is_empty()),
        Ok(DisableRequest::One { key, .. }) => {
            assert_eq!(key, address);
            assert!(KSEVENTDATA::read_from_prefix(event_data).is_ok());
        }
        Err(error) => {
            assert_failure(&error);
            assert!(KSEVENTDATA::read_from_prefix(event_data).is_err());
        }
    }
}
