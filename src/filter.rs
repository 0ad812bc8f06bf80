//! The static descriptors ks.sys builds the camera's filter from: the capture filter
//! (categories from [`crate::identity`]) and its video capture pin (the data ranges of
//! `avstream::ranges`, the pin dispatch of [`crate::capture_pin`] and [`crate::frame_path`], the
//! kernel-level allocator of [`crate::pin_allocator`], the framing of [`crate::framing`], the
//! DROPPEDFRAMES automation table) and the filter's automation table (the picture controls,
//! pattern and fault injection of [`crate::picture_properties`] and
//! [`crate::fault_properties`]). The device ([`crate::device`]) creates the filter factory
//! from [`FILTER_DESCRIPTOR`] at PnP start.
//!
//! Everything here is `static` and immutable: ks.sys only reads descriptors. Raw pointers are
//! not `Sync`, so each static sits in [`Shared`], which asserts that read-only sharing is fine.

use core::mem::size_of;
use core::ptr::null_mut;

use avstream::ranges::RANGE_COUNT;
use ks::avcam::{PROPSETID_AVCAM_FAULTS, PROPSETID_AVCAM_PATTERN};
use ks::avstream::{
    KSAUTOMATION_TABLE, KSFILTER_DESCRIPTOR, KSFILTER_DESCRIPTOR_VERSION, KSFILTER_DISPATCH,
    KSPIN_COMMUNICATION_BOTH, KSPIN_DATAFLOW_OUT, KSPIN_DESCRIPTOR, KSPIN_DESCRIPTOR_EX,
    KSPIN_DISPATCH, KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, KSPIN_INTERFACE, KSPIN_MEDIUM,
    KSPROPERTY_ITEM, KSPROPERTY_SET,
};
use ks::video::{
    KSPROPERTY_DROPPEDFRAMES_CURRENT, KSPROPERTY_DROPPEDFRAMES_CURRENT_S, PINNAME_VIDEO_CAPTURE,
    PROPSETID_VIDCAP_DROPPEDFRAMES, PROPSETID_VIDCAP_VIDEOCONTROL, PROPSETID_VIDCAP_VIDEOPROCAMP,
};
use ks::GUID;

use crate::capture_pin;
use crate::fault_properties::FAULT_ITEMS;
use crate::framing::PIN_FRAMING;
use crate::identity::FILTER_CATEGORIES;
use crate::picture_properties::{PATTERN_ITEMS, PROCAMP_ITEMS, VIDEO_CONTROL_ITEMS};
use crate::pin_allocator::PIN_ALLOCATOR;
use crate::property::{automation, item, property_set, size};
pub use crate::ranges::Shared;
use crate::ranges::CAPTURE_RANGE_POINTERS;

/// The capture pin's factory id (the filter's only pin).
pub const CAPTURE_PIN_ID: u32 = 0;
/// How many capture pins may exist at once on one filter.
pub const CAPTURE_PIN_INSTANCES: u32 = 1;

static CATEGORIES: [GUID; 3] = FILTER_CATEGORIES;
static PIN_NAME: GUID = PINNAME_VIDEO_CAPTURE;
static PIN_CATEGORY: GUID = PINNAME_VIDEO_CAPTURE;
static DROPPED_FRAMES_SET: GUID = PROPSETID_VIDCAP_DROPPEDFRAMES;
static PROCAMP_SET: GUID = PROPSETID_VIDCAP_VIDEOPROCAMP;
static VIDEO_CONTROL_SET: GUID = PROPSETID_VIDCAP_VIDEOCONTROL;
static PATTERN_SET: GUID = PROPSETID_AVCAM_PATTERN;
static FAULTS_SET: GUID = PROPSETID_AVCAM_FAULTS;

/// `KSPROPERTY_DROPPEDFRAMES_CURRENT` (GET only): the request and the answer are the whole
/// `KSPROPERTY_DROPPEDFRAMES_CURRENT_S`.
static DROPPED_FRAMES_ITEMS: Shared<[KSPROPERTY_ITEM; 1]> = Shared([item(
    KSPROPERTY_DROPPEDFRAMES_CURRENT,
    Some(capture_pin::dropped_frames_get),
    None,
    size::<ks::ks::KSIDENTIFIER>(),
    size::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>(),
    core::ptr::null(),
)]);
static PIN_PROPERTY_SETS: Shared<[KSPROPERTY_SET; 1]> =
    Shared([property_set(&DROPPED_FRAMES_SET, &DROPPED_FRAMES_ITEMS)]);

/// The capture pin's automation table: PROPSETID_VIDCAP_DROPPEDFRAMES.
static PIN_AUTOMATION: Shared<KSAUTOMATION_TABLE> = Shared(automation(&PIN_PROPERTY_SETS));

/// The filter's property sets: the device's controls (values shared by every filter instance,
/// [`crate::device_state`]).
static FILTER_PROPERTY_SETS: Shared<[KSPROPERTY_SET; 4]> = Shared([
    property_set(&PROCAMP_SET, &PROCAMP_ITEMS),
    property_set(&VIDEO_CONTROL_SET, &VIDEO_CONTROL_ITEMS),
    property_set(&PATTERN_SET, &PATTERN_ITEMS),
    property_set(&FAULTS_SET, &FAULT_ITEMS),
]);

/// The filter's automation table: VIDEOPROCAMP, VIDEOCONTROL and avcam's pattern and fault
/// sets (crate::picture_properties, crate::fault_properties).
static FILTER_AUTOMATION: Shared<KSAUTOMATION_TABLE> = Shared(automation(&FILTER_PROPERTY_SETS));

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
    Allocator: &PIN_ALLOCATOR,
});

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

/// The capture filter's descriptor (its factory is created at PnP start).
pub static FILTER_DESCRIPTOR: Shared<KSFILTER_DESCRIPTOR> = Shared(KSFILTER_DESCRIPTOR {
    Dispatch: null_mut::<KSFILTER_DISPATCH>(),
    AutomationTable: &raw const FILTER_AUTOMATION.0,
    Version: KSFILTER_DESCRIPTOR_VERSION,
    Flags: 0,
    // Unused: the factory is created with the reference string `REFERENCE_STRING`, which
    // `KsCreateFilterFactory` prefers to this GUID (crate::device).
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // SAFETY: the static pin dispatch table.
        let dispatch = unsafe { &*pin.Dispatch };
        assert_eq!(dispatch.Allocator, &raw const PIN_ALLOCATOR);
        assert!(dispatch.Process.is_some() && dispatch.Create.is_some());
    }
}
