//! The static descriptors AVStream builds the camera from: the device, its one capture filter
//! (categories and reference string from [`crate::identity`]; NULL `ReferenceGuid` = "GLOBAL") and the filter's video
//! capture pin (the data ranges of `avstream::ranges`, the pin dispatch of
//! [`crate::capture_pin`], the DROPPEDFRAMES automation table).
//!
//! Everything here is `static` and immutable: ks.sys only reads descriptors. Raw pointers are
//! not `Sync`, so each static sits in [`Shared`], which asserts that read-only sharing is fine.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{null, null_mut};

use avstream::ranges::{CAPTURE_RANGES, KS_CAPTURE_RANGES, RANGE_COUNT};
use ks::avstream::{
    KSAUTOMATION_TABLE, KSDEVICE_DESCRIPTOR, KSDEVICE_DESCRIPTOR_VERSION, KSDEVICE_DISPATCH,
    KSEVENT_SET, KSFILTER_DESCRIPTOR, KSFILTER_DESCRIPTOR_VERSION, KSFILTER_DISPATCH, KSMETHOD_SET,
    KSPIN_COMMUNICATION_BOTH, KSPIN_DATAFLOW_OUT, KSPIN_DESCRIPTOR, KSPIN_DESCRIPTOR_EX,
    KSPIN_DISPATCH, KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, KSPIN_INTERFACE, KSPIN_MEDIUM,
    KSPROPERTY_ITEM, KSPROPERTY_SET,
};
use ks::guid::KSMEMORY_TYPE_KERNEL_NONPAGED;
use ks::ks::{
    KSALLOCATOR_FRAMING_EX, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, KS_COMPRESSION,
    KS_FRAMING_ITEM, KS_FRAMING_RANGE, KS_FRAMING_RANGE_WEIGHTED,
};
use ks::video::{
    KSPROPERTY_DROPPEDFRAMES_CURRENT, KSPROPERTY_DROPPEDFRAMES_CURRENT_S, PINNAME_VIDEO_CAPTURE,
    PROPSETID_VIDCAP_DROPPEDFRAMES,
};
use ks::GUID;

use crate::capture_pin;
use crate::identity::FILTER_CATEGORIES;

/// The capture pin's factory id (the filter's only pin).
pub const CAPTURE_PIN_ID: u32 = 0;
/// How many capture pins may exist at once on one filter.
pub const CAPTURE_PIN_INSTANCES: u32 = 1;

/// A read-only descriptor shared by every thread.
#[repr(transparent)]
pub struct Shared<T>(pub T);

// SAFETY: the wrapped descriptors are never written after compilation (ks.sys and the driver
// only read them), and what their pointers point to is itself static and immutable.
unsafe impl<T> Sync for Shared<T> {}

/// `KSDATARANGE*` table of the capture pin: one pointer per `KS_CAPTURE_RANGES` entry.
static CAPTURE_RANGE_POINTERS: Shared<[*const c_void; RANGE_COUNT]> = Shared({
    let mut table = [null::<c_void>(); RANGE_COUNT];
    let mut i = 0;
    while i < RANGE_COUNT {
        table[i] = (&raw const KS_CAPTURE_RANGES[i]).cast();
        i += 1;
    }
    table
});

static CATEGORIES: [GUID; 3] = FILTER_CATEGORIES;
static PIN_NAME: GUID = PINNAME_VIDEO_CAPTURE;
static PIN_CATEGORY: GUID = PINNAME_VIDEO_CAPTURE;
static DROPPED_FRAMES_SET: GUID = PROPSETID_VIDCAP_DROPPEDFRAMES;

/// `KSPROPERTY_DROPPEDFRAMES_CURRENT` (GET only): the request and the answer are the whole
/// `KSPROPERTY_DROPPEDFRAMES_CURRENT_S`.
static DROPPED_FRAMES_ITEMS: Shared<[KSPROPERTY_ITEM; 1]> = Shared([KSPROPERTY_ITEM {
    PropertyId: KSPROPERTY_DROPPEDFRAMES_CURRENT,
    GetPropertyHandler: Some(capture_pin::dropped_frames_get),
    MinProperty: size_of::<ks::ks::KSIDENTIFIER>() as u32,
    MinData: size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>() as u32,
    SetPropertyHandler: None,
    Values: null_mut(),
    RelationsCount: 0,
    Relations: null_mut(),
    SupportHandler: None,
    SerializedSize: 0,
}]);

static PIN_PROPERTY_SETS: Shared<[KSPROPERTY_SET; 1]> = Shared([KSPROPERTY_SET {
    Set: &DROPPED_FRAMES_SET,
    PropertiesCount: 1,
    PropertyItem: (&raw const DROPPED_FRAMES_ITEMS.0).cast(),
    FastIoCount: 0,
    FastIoTable: null_mut(),
}]);

/// The capture pin's automation table: PROPSETID_VIDCAP_DROPPEDFRAMES.
static PIN_AUTOMATION: Shared<KSAUTOMATION_TABLE> = Shared(KSAUTOMATION_TABLE {
    PropertySetsCount: 1,
    PropertyItemSize: size_of::<KSPROPERTY_ITEM>() as u32,
    PropertySets: (&raw const PIN_PROPERTY_SETS.0).cast(),
    MethodSetsCount: 0,
    MethodItemSize: 0,
    MethodSets: null_mut::<KSMETHOD_SET>(),
    EventSetsCount: 0,
    EventItemSize: 0,
    EventSets: null_mut::<KSEVENT_SET>(),
});

static PIN_DISPATCH: Shared<KSPIN_DISPATCH> = Shared(KSPIN_DISPATCH {
    Create: Some(capture_pin::pin_create),
    Close: Some(capture_pin::pin_close),
    Process: Some(crate::frame_path::pin_process),
    Reset: None,
    SetDataFormat: Some(capture_pin::pin_set_data_format),
    SetDeviceState: Some(capture_pin::pin_set_device_state),
    Connect: None,
    Disconnect: None,
    Clock: null_mut(),
    Allocator: null_mut(),
});

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

/// `KSALLOCATOR_FRAMING_EX` of the capture pin's descriptor: system memory (kernel non-paged),
/// [`crate::frame_pool::POOL_FRAMES`] frames, frame sizes spanning every range's `biSizeImage`.
/// This static is what a pin factory declares; each pin, at create, `KsEdit`s its own copy of
/// the descriptor and of this framing and narrows the copy to the negotiated format's image size
/// ([`framing_for_frame_size`], `capture_pin::pin_create`), as avshws does. The static itself
/// is never written.
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
        Flags: KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
        Frames: crate::frame_pool::POOL_FRAMES,
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

static PIN_DESCRIPTORS: Shared<[KSPIN_DESCRIPTOR_EX; 1]> = Shared([KSPIN_DESCRIPTOR_EX {
    Dispatch: &raw const PIN_DISPATCH.0,
    AutomationTable: &raw const PIN_AUTOMATION.0,
    PinDescriptor: KSPIN_DESCRIPTOR {
        InterfacesCount: 0,
        Interfaces: null_mut::<KSPIN_INTERFACE>(),
        MediumsCount: 0,
        Mediums: null_mut::<KSPIN_MEDIUM>(),
        DataRangesCount: RANGE_COUNT as u32,
        DataRanges: (&raw const CAPTURE_RANGE_POINTERS.0).cast(),
        DataFlow: KSPIN_DATAFLOW_OUT,
        Communication: KSPIN_COMMUNICATION_BOTH,
        Category: &PIN_CATEGORY,
        Name: &PIN_NAME,
        ConstrainedDataRangesCount: 0,
        ConstrainedDataRanges: null_mut(),
    },
    Flags: KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY,
    InstancesPossible: CAPTURE_PIN_INSTANCES,
    InstancesNecessary: 0,
    AllocatorFraming: &PIN_FRAMING,
    IntersectHandler: Some(capture_pin::pin_intersect),
}]);

static FILTER_DESCRIPTOR: Shared<KSFILTER_DESCRIPTOR> = Shared(KSFILTER_DESCRIPTOR {
    Dispatch: null_mut::<KSFILTER_DISPATCH>(),
    AutomationTable: null_mut::<KSAUTOMATION_TABLE>(),
    Version: KSFILTER_DESCRIPTOR_VERSION,
    Flags: 0,
    ReferenceGuid: null_mut::<GUID>(),
    PinDescriptorsCount: 1,
    PinDescriptorSize: size_of::<KSPIN_DESCRIPTOR_EX>() as u32,
    PinDescriptors: (&raw const PIN_DESCRIPTORS.0).cast(),
    CategoriesCount: CATEGORIES.len() as u32,
    Categories: (&raw const CATEGORIES).cast(),
    NodeDescriptorsCount: 0,
    NodeDescriptorSize: 0,
    NodeDescriptors: null_mut(),
    ConnectionsCount: 0,
    Connections: null_mut(),
    ComponentId: null_mut(),
});

static FILTER_DESCRIPTORS: Shared<[*const KSFILTER_DESCRIPTOR; 1]> =
    Shared([&raw const FILTER_DESCRIPTOR.0]);

static DEVICE_DISPATCH: Shared<KSDEVICE_DISPATCH> = Shared(KSDEVICE_DISPATCH {
    Add: None,
    Start: None,
    PostStart: None,
    QueryStop: None,
    CancelStop: None,
    Stop: None,
    QueryRemove: None,
    CancelRemove: None,
    Remove: None,
    QueryCapabilities: None,
    SurpriseRemoval: None,
    QueryPower: None,
    SetPower: None,
    QueryInterface: None,
});

/// The device descriptor handed to `KsInitializeDriver`.
pub static DEVICE_DESCRIPTOR: Shared<KSDEVICE_DESCRIPTOR> = Shared(KSDEVICE_DESCRIPTOR {
    Dispatch: &raw const DEVICE_DISPATCH.0,
    FilterDescriptorsCount: 1,
    FilterDescriptors: (&raw const FILTER_DESCRIPTORS.0).cast(),
    Version: KSDEVICE_DESCRIPTOR_VERSION,
    Flags: 0,
});

/// The capture range at `range` (a `MatchingDataRange` handed back by ks.sys), if it is one of
/// the capture pin's.
pub fn capture_range_index(range: *const c_void) -> Option<usize> {
    CAPTURE_RANGE_POINTERS.0.iter().position(|&p| p == range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_pointer_is_found_and_others_are_not() {
        for (i, &p) in CAPTURE_RANGE_POINTERS.0.iter().enumerate() {
            assert_eq!(capture_range_index(p), Some(i));
        }
        assert_eq!(capture_range_index(null()), None);
    }

    #[test]
    fn the_filter_has_one_capture_pin_with_every_range() {
        let filter = &FILTER_DESCRIPTOR.0;
        assert_eq!(filter.PinDescriptorsCount, 1);
        assert_eq!(filter.CategoriesCount, 3);
        let pin = &PIN_DESCRIPTORS.0[0];
        assert_eq!(pin.PinDescriptor.DataRangesCount as usize, RANGE_COUNT);
        assert_eq!(pin.Flags, KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY);
        assert_eq!(pin.InstancesPossible, CAPTURE_PIN_INSTANCES);
        assert_eq!(pin.AllocatorFraming, &raw const PIN_FRAMING);
    }

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
