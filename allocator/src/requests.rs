//! Property, method and event requests on byte slices: the allocator's three KS sets.
//!
//! - `KSPROPSETID_StreamAllocator`: FUNCTIONTABLE (0) and STATUS (1), GET only, plus the
//!   BASICSUPPORT and SETSUPPORT queries every KS property set answers;
//! - `KSMETHODSETID_StreamAllocator`: ALLOC (0, `KSMETHOD_TYPE_WRITE`: the frame pointer is
//!   written to the method's data buffer, the IOCTL's output buffer) and FREE (1,
//!   `KSMETHOD_TYPE_READ`: the frame pointer is read from that same buffer), `sizeof(PVOID)` each,
//!   as `DEFINE_KSMETHOD_ITEM_STREAMALLOCATOR_*` in ks.h declare them;
//! - `KSEVENTSETID_StreamAllocator`: INTERNAL_FREEFRAME (0) and FREEFRAME (1), enabled with a
//!   `KSEVENTDATA` in the output buffer and disabled with the same `KSEVENTDATA` as input.
//!
//! Each request is parsed once (zerocopy) into a typed request; the answers are written here too.
//! Statuses chosen where the public documentation leaves a choice (all in [`Error`]):
//! input shorter than the identifier is `STATUS_INVALID_PARAMETER`; an unknown set
//! `STATUS_PROPSET_NOT_FOUND`; an unknown id `STATUS_NOT_FOUND`; an unsupported request type
//! (property SET, event ONESHOT, ...) `STATUS_NOT_SUPPORTED`; an output too small, including a
//! zero-length size query, `STATUS_BUFFER_TOO_SMALL` with the needed size as Information.

use ks::guid::{
    KSEVENTSETID_StreamAllocator, KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator,
};
use ks::ks::*;
use ks::status::STATUS_INVALID_PARAMETER;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::Error;

/// `sizeof(KSPROPERTY)` = `sizeof(KSMETHOD)` = `sizeof(KSEVENT)` = 24.
pub const IDENTIFIER_SIZE: usize = core::mem::size_of::<KSIDENTIFIER>();
/// `sizeof(KSSTREAMALLOCATOR_STATUS)` = 32.
pub const STATUS_SIZE: usize = core::mem::size_of::<KSSTREAMALLOCATOR_STATUS>();
/// `sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE)` = 16.
pub const FUNCTION_TABLE_SIZE: usize = core::mem::size_of::<KSSTREAMALLOCATOR_FUNCTIONTABLE>();
/// `sizeof(PVOID)`: the data of ALLOC and FREE.
pub const FRAME_POINTER_SIZE: usize = core::mem::size_of::<usize>();
/// `sizeof(KSEVENTDATA)` = 32.
pub const EVENT_DATA_SIZE: usize = core::mem::size_of::<KSEVENTDATA>();
/// `sizeof(ULONG)`: the short answer to a BASICSUPPORT query.
pub const ACCESS_FLAGS_SIZE: usize = core::mem::size_of::<u32>();
/// `sizeof(KSPROPERTY_DESCRIPTION)` = 40: the long answer to a property BASICSUPPORT query.
pub const DESCRIPTION_SIZE: usize = core::mem::size_of::<KSPROPERTY_DESCRIPTION>();

/// The access flags of both allocator properties: GET and BASICSUPPORT, no SET.
pub const PROPERTY_ACCESS: u32 = KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT;

fn identifier(input: &[u8]) -> Result<KSIDENTIFIER, Error> {
    KSIDENTIFIER::read_from_prefix(input)
        .map(|(id, _)| id)
        .map_err(|_| Error::ShortInput {
            length: input.len(),
            needed: IDENTIFIER_SIZE,
        })
}

// --- Properties ---

/// An allocator property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorProperty {
    /// `KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE`.
    FunctionTable,
    /// `KSPROPERTY_STREAMALLOCATOR_STATUS`.
    Status,
}

/// A parsed `IOCTL_KS_PROPERTY` request on the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyRequest {
    /// `KSPROPERTY_TYPE_GET`.
    Get(AllocatorProperty),
    /// `KSPROPERTY_TYPE_BASICSUPPORT`.
    BasicSupport(AllocatorProperty),
    /// `KSPROPERTY_TYPE_SETSUPPORT`: the set is supported (any id).
    SetSupport,
}

/// Parses a property request: the set, then SETSUPPORT, then the id, then the type.
pub fn parse_property(input: &[u8]) -> Result<PropertyRequest, Error> {
    let id = identifier(input)?;
    if id.Set != KSPROPSETID_StreamAllocator {
        return Err(Error::SetNotFound { set: id.Set });
    }
    if id.Flags == KSPROPERTY_TYPE_SETSUPPORT {
        return Ok(PropertyRequest::SetSupport);
    }
    let property = match id.Id {
        KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE => AllocatorProperty::FunctionTable,
        KSPROPERTY_STREAMALLOCATOR_STATUS => AllocatorProperty::Status,
        other => return Err(Error::ItemNotFound { id: other }),
    };
    match id.Flags {
        KSPROPERTY_TYPE_GET => Ok(PropertyRequest::Get(property)),
        KSPROPERTY_TYPE_BASICSUPPORT => Ok(PropertyRequest::BasicSupport(property)),
        flags => Err(Error::UnsupportedRequestType { flags }),
    }
}

/// The values the allocator reports, gathered by the caller (under its lock for the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyValues {
    /// KSPROPERTY_STREAMALLOCATOR_STATUS.
    pub status: KSSTREAMALLOCATOR_STATUS,
    /// KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE: the addresses of `AllocateFrame` and
    /// `FreeFrame`.
    pub function_table: [usize; 2],
}

/// Writes the answer to `request` into `output`; returns `IoStatus.Information`.
///
/// BASICSUPPORT writes the access flags as a ULONG, or a whole `KSPROPERTY_DESCRIPTION` (no
/// members list; type `KSPROPTYPESETID_General`/`VT_EMPTY`, a structure) when `output` has room
/// for one; with fewer than 4 bytes it asks for the description's 40.
pub fn answer_property(
    request: PropertyRequest,
    output: &mut [u8],
    values: &PropertyValues,
) -> Result<usize, Error> {
    match request {
        PropertyRequest::SetSupport => Ok(0),
        PropertyRequest::Get(AllocatorProperty::Status) => {
            write_value(output, values.status.as_bytes())
        }
        PropertyRequest::Get(AllocatorProperty::FunctionTable) => {
            write_value(output, values.function_table.as_bytes())
        }
        PropertyRequest::BasicSupport(_) => {
            if output.len() >= DESCRIPTION_SIZE {
                let description = KSPROPERTY_DESCRIPTION {
                    AccessFlags: PROPERTY_ACCESS,
                    DescriptionSize: DESCRIPTION_SIZE as u32,
                    PropTypeSet: KSIDENTIFIER {
                        Set: KSPROPTYPESETID_General,
                        Id: VT_EMPTY,
                        Flags: 0,
                    },
                    MembersListCount: 0,
                    Reserved: 0,
                };
                write_value(output, description.as_bytes())
            } else if output.len() >= ACCESS_FLAGS_SIZE {
                write_value(output, &PROPERTY_ACCESS.to_le_bytes())
            } else {
                Err(Error::BufferTooSmall {
                    needed: DESCRIPTION_SIZE,
                })
            }
        }
    }
}

fn write_value(output: &mut [u8], value: &[u8]) -> Result<usize, Error> {
    let target = output.get_mut(..value.len()).ok_or(Error::BufferTooSmall {
        needed: value.len(),
    })?;
    target.copy_from_slice(value);
    Ok(value.len())
}

// --- Methods ---

/// An allocator method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorMethod {
    /// `KSMETHOD_STREAMALLOCATOR_ALLOC`.
    Alloc,
    /// `KSMETHOD_STREAMALLOCATOR_FREE`.
    Free,
}

impl AllocatorMethod {
    /// The method item's flags in ks.h: ALLOC writes the data buffer, FREE reads it.
    pub const fn item_flags(self) -> u32 {
        match self {
            AllocatorMethod::Alloc => KSMETHOD_TYPE_WRITE,
            AllocatorMethod::Free => KSMETHOD_TYPE_READ,
        }
    }
}

/// A parsed `IOCTL_KS_METHOD` request on the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodRequest {
    /// ALLOC: the data buffer has room for the frame pointer.
    Alloc,
    /// FREE of the frame pointer read from the data buffer.
    Free {
        /// The frame address.
        address: usize,
    },
    /// `KSMETHOD_TYPE_BASICSUPPORT`: the method item's flags as a ULONG.
    BasicSupport(AllocatorMethod),
    /// `KSMETHOD_TYPE_SETSUPPORT`.
    SetSupport,
}

/// Parses a method request; `data` is the method's data buffer (the IOCTL's output buffer).
///
/// Invocation flags may be any `KSMETHOD_TYPE_*` direction value (NONE, READ/SEND, WRITE, MODIFY,
/// SOURCE): as in KS, the item's own flags decide how the buffer is used. ALLOC and FREE need a
/// `PVOID`'s worth of data, else [`Error::BufferTooSmall`].
pub fn parse_method(input: &[u8], data: &[u8]) -> Result<MethodRequest, Error> {
    let id = identifier(input)?;
    if id.Set != KSMETHODSETID_StreamAllocator {
        return Err(Error::SetNotFound { set: id.Set });
    }
    if id.Flags == KSMETHOD_TYPE_SETSUPPORT {
        return Ok(MethodRequest::SetSupport);
    }
    let method = match id.Id {
        KSMETHOD_STREAMALLOCATOR_ALLOC => AllocatorMethod::Alloc,
        KSMETHOD_STREAMALLOCATOR_FREE => AllocatorMethod::Free,
        other => return Err(Error::ItemNotFound { id: other }),
    };
    match id.Flags {
        KSMETHOD_TYPE_BASICSUPPORT => Ok(MethodRequest::BasicSupport(method)),
        KSMETHOD_TYPE_NONE..=KSMETHOD_TYPE_SOURCE => {
            let pointer = data
                .get(..FRAME_POINTER_SIZE)
                .ok_or(Error::BufferTooSmall {
                    needed: FRAME_POINTER_SIZE,
                })?;
            Ok(match method {
                AllocatorMethod::Alloc => MethodRequest::Alloc,
                AllocatorMethod::Free => {
                    let address =
                        usize::read_from_bytes(pointer).map_err(|_| Error::BufferTooSmall {
                            needed: FRAME_POINTER_SIZE,
                        })?;
                    MethodRequest::Free { address }
                }
            })
        }
        flags => Err(Error::UnsupportedRequestType { flags }),
    }
}

/// Answers a method BASICSUPPORT query: the item's flags as a ULONG.
pub fn answer_method_support(method: AllocatorMethod, data: &mut [u8]) -> Result<usize, Error> {
    write_value(data, &method.item_flags().to_le_bytes())
}

/// Writes an ALLOC result, the frame pointer, into the data buffer; returns the Information.
pub fn write_frame_address(data: &mut [u8], address: usize) -> Result<usize, Error> {
    write_value(data, &address.to_ne_bytes())
}

// --- Events ---

/// An allocator event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorEvent {
    /// `KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME`: signalled when a FREE leaves a frame free
    /// (no waiting ALLOC took it).
    InternalFreeFrame,
    /// `KSEVENT_STREAMALLOCATOR_FREEFRAME`: signalled on every FREE.
    FreeFrame,
}

/// How an enabled event is signalled (`KSEVENTDATA.NotificationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// `KSEVENTF_EVENT_HANDLE`: an event handle, referenced with `ObReferenceObjectByHandle`.
    EventHandle {
        /// The handle value.
        handle: usize,
    },
    /// `KSEVENTF_EVENT_OBJECT`: a `KEVENT` pointer from a kernel-mode client.
    EventObject {
        /// The `KEVENT` address (never 0).
        event: usize,
    },
}

/// A parsed `IOCTL_KS_ENABLE_EVENT` request on the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRequest {
    /// `KSEVENT_TYPE_ENABLE`.
    Enable {
        /// Which event.
        event: AllocatorEvent,
        /// How to signal it.
        notification: Notification,
    },
    /// `KSEVENT_TYPE_BASICSUPPORT`: the event exists (no data).
    BasicSupport(AllocatorEvent),
    /// `KSEVENT_TYPE_SETSUPPORT`.
    SetSupport,
}

/// Parses an enable request: `input` holds the `KSEVENT`, `event_data` the `KSEVENTDATA`.
///
/// Only `KSEVENT_TYPE_ENABLE` enables (ONESHOT, ENABLEBUFFERED, QUERYBUFFER are
/// `STATUS_NOT_SUPPORTED`); only `KSEVENTF_EVENT_HANDLE` and `KSEVENTF_EVENT_OBJECT` are
/// supported (semaphores, DPCs and work items are `STATUS_NOT_SUPPORTED`). A `KSEVENTDATA` shorter
/// than 32 bytes is [`Error::ShortInput`]; a null `KEVENT` pointer is
/// [`Error::EventObjectRejected`] with `STATUS_INVALID_PARAMETER`.
pub fn parse_enable_event(input: &[u8], event_data: &[u8]) -> Result<EventRequest, Error> {
    let id = identifier(input)?;
    if id.Set != KSEVENTSETID_StreamAllocator {
        return Err(Error::SetNotFound { set: id.Set });
    }
    if id.Flags == KSEVENT_TYPE_SETSUPPORT {
        return Ok(EventRequest::SetSupport);
    }
    let event = match id.Id {
        KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME => AllocatorEvent::InternalFreeFrame,
        KSEVENT_STREAMALLOCATOR_FREEFRAME => AllocatorEvent::FreeFrame,
        other => return Err(Error::ItemNotFound { id: other }),
    };
    match id.Flags {
        KSEVENT_TYPE_BASICSUPPORT => return Ok(EventRequest::BasicSupport(event)),
        KSEVENT_TYPE_ENABLE => {}
        flags => return Err(Error::UnsupportedRequestType { flags }),
    }
    let (data, _) = KSEVENTDATA::read_from_prefix(event_data).map_err(|_| Error::ShortInput {
        length: event_data.len(),
        needed: EVENT_DATA_SIZE,
    })?;
    let notification = notification_of(&data)?;
    Ok(EventRequest::Enable {
        event,
        notification,
    })
}

/// A parsed `IOCTL_KS_DISABLE_EVENT` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableRequest {
    /// No input: disable every event enabled on the allocator.
    All,
    /// Disable one event: the one enabled with the `KSEVENTDATA` at `key` (KS's rule: the same
    /// structure is passed to enable and disable), or failing that the first one enabled with the
    /// same notification (for clients whose `KSEVENTDATA` was copied in between).
    One {
        /// The address of the `KSEVENTDATA` passed to disable.
        key: usize,
        /// Its notification, when it names a supported one.
        notification: Option<Notification>,
    },
}

/// Parses a disable request: `input` is the `KSEVENTDATA` passed (at `input_address`). No input
/// disables all; otherwise the input must be a whole `KSEVENTDATA`.
pub fn parse_disable_event(input_address: usize, input: &[u8]) -> Result<DisableRequest, Error> {
    if input.is_empty() {
        return Ok(DisableRequest::All);
    }
    let short = Error::ShortInput {
        length: input.len(),
        needed: EVENT_DATA_SIZE,
    };
    let (data, _) = KSEVENTDATA::read_from_prefix(input).map_err(|_| short)?;
    if input_address == 0 {
        return Err(short);
    }
    Ok(DisableRequest::One {
        key: input_address,
        notification: notification_of(&data).ok(),
    })
}

fn notification_of(data: &KSEVENTDATA) -> Result<Notification, Error> {
    let object = usize::try_from(data.Object).unwrap_or(0);
    match data.NotificationType {
        KSEVENTF_EVENT_HANDLE => Ok(Notification::EventHandle { handle: object }),
        KSEVENTF_EVENT_OBJECT if object == 0 => Err(Error::EventObjectRejected {
            status: STATUS_INVALID_PARAMETER,
        }),
        KSEVENTF_EVENT_OBJECT => Ok(Notification::EventObject { event: object }),
        notification => Err(Error::UnsupportedNotification { notification }),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use ks::GUID;

    use super::*;

    fn request(set: GUID, id: u32, flags: u32) -> Vec<u8> {
        KSIDENTIFIER {
            Set: set,
            Id: id,
            Flags: flags,
        }
        .as_bytes()
        .to_vec()
    }

    fn values() -> PropertyValues {
        PropertyValues {
            status: KSSTREAMALLOCATOR_STATUS {
                Framing: KSALLOCATOR_FRAMING {
                    Frames: 3,
                    FrameSize: 100,
                    ..Default::default()
                },
                AllocatedFrames: 2,
                Reserved: 0,
            },
            function_table: [0x1111, 0x2222],
        }
    }

    #[test]
    fn status_get_writes_the_status_or_asks_for_its_size() {
        let req = parse_property(&request(
            KSPROPSETID_StreamAllocator,
            1,
            KSPROPERTY_TYPE_GET,
        ))
        .unwrap();
        assert_eq!(req, PropertyRequest::Get(AllocatorProperty::Status));
        let mut out = [0u8; 40];
        assert_eq!(answer_property(req, &mut out, &values()), Ok(32));
        let (status, _) = KSSTREAMALLOCATOR_STATUS::read_from_prefix(&out[..]).unwrap();
        assert_eq!(status, values().status);
        for len in [0, 1, 31] {
            assert_eq!(
                answer_property(req, &mut out[..len], &values()),
                Err(Error::BufferTooSmall { needed: 32 })
            );
        }
    }

    #[test]
    fn function_table_get_writes_both_addresses() {
        let req = parse_property(&request(
            KSPROPSETID_StreamAllocator,
            0,
            KSPROPERTY_TYPE_GET,
        ))
        .unwrap();
        let mut out = [0u8; 16];
        assert_eq!(answer_property(req, &mut out, &values()), Ok(16));
        assert_eq!(
            <[usize; 2]>::read_from_bytes(&out[..]).unwrap(),
            [0x1111, 0x2222]
        );
        assert_eq!(
            answer_property(req, &mut out[..15], &values()),
            Err(Error::BufferTooSmall { needed: 16 })
        );
    }

    #[test]
    fn property_errors_follow_the_documented_order() {
        assert_eq!(
            parse_property(&[0; 23]),
            Err(Error::ShortInput {
                length: 23,
                needed: 24
            })
        );
        let other = GUID::from_u128(1);
        assert_eq!(
            parse_property(&request(other, 1, KSPROPERTY_TYPE_GET)),
            Err(Error::SetNotFound { set: other })
        );
        assert_eq!(
            parse_property(&request(
                KSPROPSETID_StreamAllocator,
                2,
                KSPROPERTY_TYPE_GET
            )),
            Err(Error::ItemNotFound { id: 2 })
        );
        assert_eq!(
            parse_property(&request(
                KSPROPSETID_StreamAllocator,
                1,
                KSPROPERTY_TYPE_SET
            )),
            Err(Error::UnsupportedRequestType {
                flags: KSPROPERTY_TYPE_SET
            })
        );
        assert_eq!(
            parse_property(&request(
                KSPROPSETID_StreamAllocator,
                0,
                KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET
            )),
            Err(Error::UnsupportedRequestType { flags: 3 })
        );
        // SETSUPPORT does not look at the id.
        assert_eq!(
            parse_property(&request(
                KSPROPSETID_StreamAllocator,
                99,
                KSPROPERTY_TYPE_SETSUPPORT
            )),
            Ok(PropertyRequest::SetSupport)
        );
        // Trailing input bytes are allowed.
        let mut long = request(KSPROPSETID_StreamAllocator, 1, KSPROPERTY_TYPE_GET);
        long.extend_from_slice(&[0; 8]);
        assert!(parse_property(&long).is_ok());
    }

    #[test]
    fn basic_support_answers_flags_or_a_description() {
        let req = parse_property(&request(
            KSPROPSETID_StreamAllocator,
            1,
            KSPROPERTY_TYPE_BASICSUPPORT,
        ))
        .unwrap();
        let mut out = [0u8; 64];
        assert_eq!(answer_property(req, &mut out[..4], &values()), Ok(4));
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().unwrap()),
            PROPERTY_ACCESS
        );
        assert_eq!(answer_property(req, &mut out, &values()), Ok(40));
        let (description, _) = KSPROPERTY_DESCRIPTION::read_from_prefix(&out[..]).unwrap();
        assert_eq!(
            description.AccessFlags,
            KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT
        );
        assert_eq!(description.DescriptionSize, 40);
        assert_eq!(description.PropTypeSet.Set, KSPROPTYPESETID_General);
        assert_eq!(
            answer_property(req, &mut out[..3], &values()),
            Err(Error::BufferTooSmall { needed: 40 })
        );
    }

    #[test]
    fn methods_read_and_write_the_data_buffer() {
        let alloc = request(KSMETHODSETID_StreamAllocator, 0, KSMETHOD_TYPE_WRITE);
        assert_eq!(parse_method(&alloc, &[0; 8]), Ok(MethodRequest::Alloc));
        assert_eq!(
            parse_method(&alloc, &[0; 7]),
            Err(Error::BufferTooSmall { needed: 8 })
        );
        let free = request(KSMETHODSETID_StreamAllocator, 1, KSMETHOD_TYPE_NONE);
        assert_eq!(
            parse_method(&free, &0x1234_5678usize.to_ne_bytes()),
            Ok(MethodRequest::Free {
                address: 0x1234_5678
            })
        );
        assert_eq!(
            parse_method(&free, &[]),
            Err(Error::BufferTooSmall { needed: 8 })
        );
        let mut data = [0u8; 8];
        assert_eq!(write_frame_address(&mut data, 0xABCD), Ok(8));
        assert_eq!(usize::from_ne_bytes(data), 0xABCD);
        assert_eq!(
            parse_method(&request(KSMETHODSETID_StreamAllocator, 2, 0), &data),
            Err(Error::ItemNotFound { id: 2 })
        );
        assert_eq!(
            parse_method(&request(KSPROPSETID_StreamAllocator, 0, 0), &data),
            Err(Error::SetNotFound {
                set: KSPROPSETID_StreamAllocator
            })
        );
        assert_eq!(
            parse_method(&request(KSMETHODSETID_StreamAllocator, 0, 5), &data),
            Err(Error::UnsupportedRequestType { flags: 5 })
        );
        let support = parse_method(
            &request(KSMETHODSETID_StreamAllocator, 1, KSMETHOD_TYPE_BASICSUPPORT),
            &[],
        )
        .unwrap();
        assert_eq!(support, MethodRequest::BasicSupport(AllocatorMethod::Free));
        let mut flags = [0u8; 4];
        assert_eq!(
            answer_method_support(AllocatorMethod::Free, &mut flags),
            Ok(4)
        );
        assert_eq!(
            u32::from_le_bytes(flags),
            1,
            "ks.h: FREE is KSMETHOD_TYPE_READ (1)"
        );
        assert_eq!(
            answer_method_support(AllocatorMethod::Alloc, &mut flags),
            Ok(4)
        );
        assert_eq!(
            u32::from_le_bytes(flags),
            2,
            "ks.h: ALLOC is KSMETHOD_TYPE_WRITE (2)"
        );
        assert_eq!(
            answer_method_support(AllocatorMethod::Alloc, &mut flags[..2]),
            Err(Error::BufferTooSmall { needed: 4 })
        );
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

    #[test]
    fn events_enable_with_handles_and_kernel_objects_only() {
        let enable = request(KSEVENTSETID_StreamAllocator, 1, KSEVENT_TYPE_ENABLE);
        assert_eq!(
            parse_enable_event(&enable, &event_data(KSEVENTF_EVENT_HANDLE, 0x44)),
            Ok(EventRequest::Enable {
                event: AllocatorEvent::FreeFrame,
                notification: Notification::EventHandle { handle: 0x44 }
            })
        );
        let internal = request(KSEVENTSETID_StreamAllocator, 0, KSEVENT_TYPE_ENABLE);
        assert_eq!(
            parse_enable_event(&internal, &event_data(KSEVENTF_EVENT_OBJECT, 0x1000)),
            Ok(EventRequest::Enable {
                event: AllocatorEvent::InternalFreeFrame,
                notification: Notification::EventObject { event: 0x1000 }
            })
        );
        assert_eq!(
            parse_enable_event(&enable, &event_data(KSEVENTF_EVENT_OBJECT, 0)),
            Err(Error::EventObjectRejected {
                status: STATUS_INVALID_PARAMETER
            })
        );
        assert_eq!(
            parse_enable_event(&enable, &event_data(KSEVENTF_DPC, 0x1000)),
            Err(Error::UnsupportedNotification {
                notification: KSEVENTF_DPC
            })
        );
        assert_eq!(
            parse_enable_event(&enable, &[0; 31]),
            Err(Error::ShortInput {
                length: 31,
                needed: 32
            })
        );
        let oneshot = request(KSEVENTSETID_StreamAllocator, 1, KSEVENT_TYPE_ONESHOT);
        assert_eq!(
            parse_enable_event(&oneshot, &event_data(1, 1)),
            Err(Error::UnsupportedRequestType {
                flags: KSEVENT_TYPE_ONESHOT
            })
        );
        assert_eq!(
            parse_enable_event(&request(KSEVENTSETID_StreamAllocator, 7, 1), &[]),
            Err(Error::ItemNotFound { id: 7 })
        );
        assert_eq!(
            parse_enable_event(
                &request(KSEVENTSETID_StreamAllocator, 1, KSEVENT_TYPE_BASICSUPPORT),
                &[]
            ),
            Ok(EventRequest::BasicSupport(AllocatorEvent::FreeFrame))
        );
        assert_eq!(
            parse_enable_event(&request(GUID::NULL, 1, 1), &[]),
            Err(Error::SetNotFound { set: GUID::NULL })
        );
    }

    #[test]
    fn disable_takes_all_or_one_whole_event_data() {
        assert_eq!(parse_disable_event(0, &[]), Ok(DisableRequest::All));
        let handle = event_data(KSEVENTF_EVENT_HANDLE, 0x44);
        assert_eq!(
            parse_disable_event(0x5000, &handle),
            Ok(DisableRequest::One {
                key: 0x5000,
                notification: Some(Notification::EventHandle { handle: 0x44 })
            })
        );
        let dpc = event_data(KSEVENTF_DPC, 0x44);
        assert_eq!(
            parse_disable_event(0x5000, &dpc),
            Ok(DisableRequest::One {
                key: 0x5000,
                notification: None
            })
        );
        assert_eq!(
            parse_disable_event(0x5000, &handle[..8]),
            Err(Error::ShortInput {
                length: 8,
                needed: 32
            })
        );
        assert_eq!(
            parse_disable_event(0, &handle),
            Err(Error::ShortInput {
                length: 32,
                needed: 32
            })
        );
    }
}
