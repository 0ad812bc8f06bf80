//! Property tests of the core's parsers on arbitrary bytes (a fuzz pass that runs with the
//! tests): none panics or reads past its input, and whatever they accept obeys every rule.

use avcam_allocator::framing::{
    is_alignment_mask, parse_create_name, validate_framing_ex, Framing, KNOWN_FRAMING_FLAGS,
    MAX_FRAMES, MAX_TOTAL_BYTES,
};
use avcam_allocator::requests::{
    parse_disable_event, parse_enable_event, parse_method, parse_property, MethodRequest,
};
use ks::ks::{KSSTRING_Allocator, KSALLOCATOR_FRAMING};
use proptest::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

fn accepted_framings_obey_every_rule(framing: &Framing) -> Result<(), TestCaseError> {
    let raw = framing.to_raw();
    prop_assert!(raw.Frames >= 1 && raw.Frames <= MAX_FRAMES);
    prop_assert!(raw.FrameSize >= 1);
    prop_assert!(is_alignment_mask(raw.FileAlignment) && raw.FileAlignment < 4096);
    prop_assert_eq!(raw.Flags & !KNOWN_FRAMING_FLAGS, 0);
    let total = u64::from(raw.Frames) * (u64::from(raw.FrameSize) + u64::from(raw.FileAlignment));
    prop_assert!(total <= MAX_TOTAL_BYTES);
    prop_assert!([0, 1, 4, 5, 512, 516].contains(&raw.PoolType));
    prop_assert!(framing.pool_bytes_per_frame() >= raw.FrameSize as usize);
    Ok(())
}

fn small_framing() -> impl Strategy<Value = KSALLOCATOR_FRAMING> {
    (
        0u32..0x20,
        prop_oneof![Just(0u32), Just(1), Just(2), Just(512), any::<u32>()],
        0u32..2000,
        0u32..5_000_000,
        prop_oneof![(0u32..13).prop_map(|n| (1u32 << n) - 1), any::<u32>()],
        any::<u32>(),
    )
        .prop_map(|(flags, pool_type, frames, frame_size, mask, reserved)| {
            KSALLOCATOR_FRAMING {
                Flags: flags,
                PoolType: pool_type,
                Frames: frames,
                FrameSize: frame_size,
                FileAlignment: mask,
                Reserved: reserved,
            }
        })
}

proptest! {
    #[test]
    fn create_names_of_any_bytes_are_parsed_safely(name in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(framing) = parse_create_name(&name) {
            accepted_framings_obey_every_rule(&framing)?;
        }
    }

    #[test]
    fn well_formed_names_round_trip_their_framing(raw in small_framing(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut name: Vec<u8> = KSSTRING_Allocator.encode_utf16().chain([u16::from(b'\\')]).flat_map(u16::to_le_bytes).collect();
        name.extend_from_slice(raw.as_bytes());
        name.extend_from_slice(&tail);
        match (parse_create_name(&name), Framing::validate(&raw)) {
            (Ok(parsed), Ok(direct)) => {
                prop_assert_eq!(parsed, direct);
                prop_assert_eq!(parsed.to_raw(), raw);
                accepted_framings_obey_every_rule(&parsed)?;
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "the name and the framing disagree: {:?} / {:?}", a, b),
        }
    }

    #[test]
    fn framing_ex_buffers_of_any_bytes_are_checked_safely(
        buffer in proptest::collection::vec(any::<u8>(), 0..400),
        pin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..400)),
    ) {
        let _ = validate_framing_ex(&buffer, pin.as_deref());
    }

    #[test]
    fn requests_of_any_bytes_are_parsed_safely(
        input in proptest::collection::vec(any::<u8>(), 0..64),
        data in proptest::collection::vec(any::<u8>(), 0..48),
        address in any::<usize>(),
    ) {
        let _ = parse_property(&input);
        if let Ok(MethodRequest::Free { address }) = parse_method(&input, &data) {
            prop_assert_eq!(address, usize::read_from_bytes(&data[..8]).unwrap());
        }
        let _ = parse_enable_event(&input, &data);
        let _ = parse_disable_event(address, &data);
    }
}
