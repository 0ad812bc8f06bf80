//! The capture pin's allocator framing (`KSALLOCATOR_FRAMING_EX`): what the pin factory
//! declares, and its narrowing to one frame size when a pin is created.

use avstream::ranges::{CAPTURE_RANGES, RANGE_COUNT};
use ks::guid::KSMEMORY_TYPE_KERNEL_NONPAGED;
use ks::ks::{
    KSALLOCATOR_FRAMING_EX, KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
    KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, KS_COMPRESSION, KS_FRAMING_ITEM, KS_FRAMING_RANGE,
    KS_FRAMING_RANGE_WEIGHTED,
};
use ks::GUID;

/// Frames the pin's framing asks for: what a kernel-mode consumer's allocator holds (enough
/// for one frame being rendered, one being read and two queued).
pub const FRAMES: u32 = 4;

/// The frame sizes of the pin's ranges: (smallest, largest) `biSizeImage`.
pub const FRAME_SIZE_BOUNDS: (u32, u32) = {
    let mut min = u32::MAX;
    let mut max = 0;
    let mut i = 0;
    while i < RANGE_COUNT {
        let size = CAPTURE_RANGES[i].image_size();
        if size < min {
            min = size;
        }
        if size > max {
            max = size;
        }
        i += 1;
    }
    (min, max)
};

/// `KSALLOCATOR_FRAMING_EX` of the capture pin's descriptor, as avshws declares its own with
/// `DECLARE_SIMPLE_FRAMING_EX`: kernel non-paged system memory, requirements that are
/// preferences only (`KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY`: a consumer may bring its own
/// buffers), [`FRAMES`] frames, frame sizes spanning every range's `biSizeImage`. Each pin, at
/// create, `KsEdit`s its own copy of the descriptor and of this framing and narrows the copy to
/// the negotiated format's image size ([`framing_for_frame_size`]). The static is never
/// written.
pub static PIN_FRAMING: KSALLOCATOR_FRAMING_EX = KSALLOCATOR_FRAMING_EX {
    CountItems: 1,
    PinFlags: 0,
    OutputCompression: KS_COMPRESSION {
        RatioNumerator: 1,
        RatioDenominator: 1,
        RatioConstantMargin: 0,
    },
    PinWeight: 0,
    FramingItem: [KS_FRAMING_ITEM {
        MemoryType: KSMEMORY_TYPE_KERNEL_NONPAGED,
        BusType: GUID::NULL,
        MemoryFlags: 0,
        BusFlags: 0,
        Flags: KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY | KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
        Frames: FRAMES,
        FileAlignment: 0,
        MemoryTypeWeight: 0,
        PhysicalRange: KS_FRAMING_RANGE {
            MinFrameSize: FRAME_SIZE_BOUNDS.0,
            MaxFrameSize: FRAME_SIZE_BOUNDS.1,
            Stepping: 1,
        },
        FramingRange: KS_FRAMING_RANGE_WEIGHTED {
            Range: KS_FRAMING_RANGE {
                MinFrameSize: FRAME_SIZE_BOUNDS.0,
                MaxFrameSize: FRAME_SIZE_BOUNDS.1,
                Stepping: 1,
            },
            InPlaceWeight: 0,
            NotInPlaceWeight: 0,
        },
    }],
};

/// `framing` with its first item's frame size fixed at `frame_size` (the negotiated format's
/// `biSizeImage`): `PhysicalRange` and `FramingRange.Range` both `frame_size..=frame_size`.
/// Everything else (memory type, flags, frame count, stepping) stays as declared.
pub const fn framing_for_frame_size(
    framing: KSALLOCATOR_FRAMING_EX,
    frame_size: u32,
) -> KSALLOCATOR_FRAMING_EX {
    let mut narrowed = framing;
    let item = &mut narrowed.FramingItem[0];
    item.PhysicalRange.MinFrameSize = frame_size;
    item.PhysicalRange.MaxFrameSize = frame_size;
    item.FramingRange.Range.MinFrameSize = frame_size;
    item.FramingRange.Range.MaxFrameSize = frame_size;
    narrowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framing_spans_every_range_and_passes_our_allocator_validation() {
        let (min, max) = FRAME_SIZE_BOUNDS;
        assert!(min < max);
        assert!(CAPTURE_RANGES
            .iter()
            .all(|r| (min..=max).contains(&r.image_size())));
        let bytes = zerocopy::IntoBytes::as_bytes(&PIN_FRAMING);
        assert_eq!(
            avcam_allocator::framing::validate_framing_ex(bytes, None),
            Ok(())
        );
    }

    #[test]
    fn a_narrowed_framing_is_exactly_the_frame_size_and_still_valid() {
        for range in CAPTURE_RANGES.iter() {
            let size = range.image_size();
            let framing = framing_for_frame_size(PIN_FRAMING, size);
            let item = framing.FramingItem[0];
            assert_eq!(
                (
                    item.PhysicalRange.MinFrameSize,
                    item.PhysicalRange.MaxFrameSize
                ),
                (size, size)
            );
            let weighted = item.FramingRange.Range;
            assert_eq!((weighted.MinFrameSize, weighted.MaxFrameSize), (size, size));
            assert_eq!(item.Frames, PIN_FRAMING.FramingItem[0].Frames);
            assert_eq!(item.Flags, PIN_FRAMING.FramingItem[0].Flags);
            assert_eq!(item.MemoryType, PIN_FRAMING.FramingItem[0].MemoryType);
            let bytes = zerocopy::IntoBytes::as_bytes(&framing);
            assert_eq!(
                avcam_allocator::framing::validate_framing_ex(bytes, None),
                Ok(()),
                "{size}"
            );
        }
    }
}
