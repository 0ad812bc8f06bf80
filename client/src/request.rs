//! Request builders and answer parsers: the bytes of KS requests, independent of how they are
//! sent ([`crate::Transport`]: the emulation, or `DeviceIoControl` on real handles on Windows).

use ks::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
    KSIDENTIFIER, KSPROPERTY_DESCRIPTION, KSPROPERTY_MEMBERSHEADER, KSPROPERTY_MEMBER_FLAG_DEFAULT,
    KSPROPERTY_MEMBER_STEPPEDRANGES, KSPROPERTY_MEMBER_VALUES, KSPROPERTY_STEPPING_LONG,
    KSPROPERTY_TYPE_GET, VT_UI4,
};
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Pin, KSDATAFORMAT,
    KSMULTIPLE_ITEM, KSPIN_CONNECT, KSPROPERTY_VIDEOCONTROL_CAPS_S, KSPROPERTY_VIDEOCONTROL_MODE_S,
    KSPROPERTY_VIDEOPROCAMP_S, KSP_PIN, KSSTREAM_HEADER, KS_FRAME_INFO,
    PROPSETID_VIDCAP_VIDEOCONTROL, PROPSETID_VIDCAP_VIDEOPROCAMP,
};
use ks::GUID;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

/// A `KSPROPERTY` (KSIDENTIFIER) request.
pub fn property(set: GUID, id: u32, flags: u32) -> Vec<u8> {
    KSIDENTIFIER {
        Set: set,
        Id: id,
        Flags: flags,
    }
    .as_bytes()
    .to_vec()
}

/// A `KSP_PIN` GET request of KSPROPSETID_Pin.
pub fn pin_property(id: u32, pin_id: u32) -> Vec<u8> {
    KSP_PIN {
        Property: KSIDENTIFIER {
            Set: KSPROPSETID_Pin,
            Id: id,
            Flags: KSPROPERTY_TYPE_GET,
        },
        PinId: pin_id,
        Reserved: 0,
    }
    .as_bytes()
    .to_vec()
}

/// A `KSPROPERTY_VIDEOPROCAMP_S` of property `id` with `flags` (`KSPROPERTY_TYPE_GET` or
/// `SET`): the request, and (the same bytes) the value of a SET: `Value`, manual mode.
pub fn procamp(id: u32, flags: u32, value: i32) -> Vec<u8> {
    KSPROPERTY_VIDEOPROCAMP_S {
        Property: KSIDENTIFIER {
            Set: PROPSETID_VIDCAP_VIDEOPROCAMP,
            Id: id,
            Flags: flags,
        },
        Value: value,
        Flags: ks::video::KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL,
        Capabilities: 0,
        _pad: 0,
    }
    .as_bytes()
    .to_vec()
}

/// A `KSPROPERTY_VIDEOCONTROL_CAPS_S` GET for the stream (pin factory) `stream`.
pub fn video_control_caps(stream: u32) -> Vec<u8> {
    KSPROPERTY_VIDEOCONTROL_CAPS_S {
        Property: KSIDENTIFIER {
            Set: PROPSETID_VIDCAP_VIDEOCONTROL,
            Id: ks::video::KSPROPERTY_VIDEOCONTROL_CAPS,
            Flags: KSPROPERTY_TYPE_GET,
        },
        StreamIndex: stream,
        VideoControlCaps: 0,
    }
    .as_bytes()
    .to_vec()
}

/// A `KSPROPERTY_VIDEOCONTROL_MODE_S` with `flags` (GET or SET) for `stream`: the request, and
/// the value of a SET (`Mode`).
pub fn video_control_mode(stream: u32, flags: u32, mode: i32) -> Vec<u8> {
    KSPROPERTY_VIDEOCONTROL_MODE_S {
        Property: KSIDENTIFIER {
            Set: PROPSETID_VIDCAP_VIDEOCONTROL,
            Id: ks::video::KSPROPERTY_VIDEOCONTROL_MODE,
            Flags: flags,
        },
        StreamIndex: stream,
        Mode: mode,
    }
    .as_bytes()
    .to_vec()
}

/// One stepped range of a property's values (a `KSPROPERTY_STEPPING_LONG`, read as signed or,
/// for a `VT_UI4` property, unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteppedRange {
    /// The smallest value.
    pub min: i64,
    /// The largest value.
    pub max: i64,
    /// The step between valid values.
    pub step: u32,
}

/// A BASICSUPPORT answer: the `KSPROPERTY_DESCRIPTION` and what its members lists say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDescription {
    /// `AccessFlags` (`KSPROPERTY_TYPE_GET` / `SET` / `BASICSUPPORT`).
    pub access: u32,
    /// The value's type (`PropTypeSet.Id`: a `VT_*` of `KSPROPTYPESETID_General`).
    pub vt: u32,
    /// The stepped ranges (`KSPROPERTY_MEMBER_STEPPEDRANGES` lists).
    pub ranges: Vec<SteppedRange>,
    /// The default (a `KSPROPERTY_MEMBER_VALUES` list flagged `KSPROPERTY_MEMBER_FLAG_DEFAULT`).
    pub default: Option<i64>,
}

/// Parses a whole BASICSUPPORT answer (description and members lists, one after the other);
/// `None` when it is shorter than its headers say. Lists of other kinds are skipped.
pub fn parse_description(bytes: &[u8]) -> Option<PropertyDescription> {
    let (description, mut rest) = KSPROPERTY_DESCRIPTION::read_from_prefix(bytes).ok()?;
    let unsigned = description.PropTypeSet.Id == VT_UI4;
    let widen = |v: i32| {
        if unsigned {
            i64::from(v as u32)
        } else {
            i64::from(v)
        }
    };
    let mut answer = PropertyDescription {
        access: description.AccessFlags,
        vt: description.PropTypeSet.Id,
        ranges: Vec::new(),
        default: None,
    };
    for _ in 0..description.MembersListCount {
        let (header, tail) = KSPROPERTY_MEMBERSHEADER::read_from_prefix(rest).ok()?;
        let size = (header.MembersSize as usize).checked_mul(header.MembersCount as usize)?;
        let members = tail.get(..size)?;
        rest = &tail[size..];
        let count = header.MembersCount as usize;
        match (header.MembersFlags, header.MembersSize) {
            (KSPROPERTY_MEMBER_STEPPEDRANGES, 16) => {
                for chunk in members.chunks_exact(16).take(count) {
                    let range = KSPROPERTY_STEPPING_LONG::read_from_bytes(chunk).ok()?;
                    answer.ranges.push(SteppedRange {
                        min: widen(range.SignedMinimum),
                        max: widen(range.SignedMaximum),
                        step: range.SteppingDelta,
                    });
                }
            }
            (KSPROPERTY_MEMBER_VALUES, 4) if header.Flags & KSPROPERTY_MEMBER_FLAG_DEFAULT != 0 => {
                let first = members.get(..4)?;
                answer.default = Some(widen(i32::from_le_bytes(first.try_into().ok()?)));
            }
            _ => {}
        }
    }
    Some(answer)
}

fn pad8(bytes: &mut Vec<u8>) {
    while bytes.len() % 8 != 0 {
        bytes.push(0);
    }
}

/// A `KSMULTIPLE_ITEM` list of `items`, each padded to 8 bytes.
pub fn multiple_item(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for item in items {
        body.extend_from_slice(item);
        pad8(&mut body);
    }
    let mut bytes = KSMULTIPLE_ITEM {
        Size: (8 + body.len()) as u32,
        Count: items.len() as u32,
    }
    .as_bytes()
    .to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// Splits a `KSMULTIPLE_ITEM` list of KSDATARANGEs/KSDATAFORMATs by their `FormatSize`
/// (8-byte aligned); `None` if it is inconsistent.
pub fn split_multiple_item(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (list, mut rest) = KSMULTIPLE_ITEM::read_from_prefix(bytes).ok()?;
    let mut items = Vec::with_capacity(list.Count as usize);
    for _ in 0..list.Count {
        let (header, _) = KSDATAFORMAT::read_from_prefix(rest).ok()?;
        let size = header.FormatSize as usize;
        if size < std::mem::size_of::<KSDATAFORMAT>() || size > rest.len() {
            return None;
        }
        items.push(rest[..size].to_vec());
        rest = &rest[size.next_multiple_of(8).min(rest.len())..];
    }
    Some(items)
}

/// `KSPIN_CONNECT` (standard interface and medium, no peer) followed by `format`.
pub fn pin_connect(pin_id: u32, format: &[u8]) -> Vec<u8> {
    let connect = KSPIN_CONNECT {
        Interface: KSIDENTIFIER {
            Set: KSINTERFACESETID_Standard,
            Id: 0,
            Flags: 0,
        },
        Medium: KSIDENTIFIER {
            Set: KSMEDIUMSETID_Standard,
            Id: 0,
            Flags: 0,
        },
        PinId: pin_id,
        ..KSPIN_CONNECT::new_zeroed()
    };
    let mut bytes = connect.as_bytes().to_vec();
    bytes.extend_from_slice(format);
    bytes
}

/// Size of one video stream header: `KSSTREAM_HEADER` + `KS_FRAME_INFO`.
pub const VIDEO_HEADER_SIZE: usize =
    std::mem::size_of::<KSSTREAM_HEADER>() + std::mem::size_of::<KS_FRAME_INFO>();

/// The output buffer of one `IOCTL_KS_READ_STREAM`: a video stream header over `buffer` (an
/// empty `buffer` gives `Data` NULL and `FrameExtent` 0: a header without a buffer).
pub fn read_headers(buffer: &mut [u8]) -> Vec<u8> {
    let data = if buffer.is_empty() {
        0
    } else {
        buffer.as_mut_ptr() as u64
    };
    read_headers_at(data, buffer.len() as u32)
}

/// The output buffer of one `IOCTL_KS_READ_STREAM` over `extent` bytes at address `data` (a
/// frame of an allocator, for a kernel-mode consumer): a `KSSTREAM_HEADER` and a zeroed
/// `KS_FRAME_INFO` (`lSurfacePitch` 0: the format's own stride; `DataUsed` and `OptionsFlags` 0,
/// as ks.sys requires of a read).
pub fn read_headers_at(data: u64, extent: u32) -> Vec<u8> {
    let mut bytes = KSSTREAM_HEADER {
        Size: VIDEO_HEADER_SIZE as u32,
        FrameExtent: extent,
        Data: data,
        ..Default::default()
    }
    .as_bytes()
    .to_vec();
    bytes.extend_from_slice(KS_FRAME_INFO::new_zeroed().as_bytes());
    bytes
}

/// The allocator create request (`KSALLOCATOR_FRAMING`) a kernel-mode consumer makes from a
/// pin's `KSALLOCATOR_FRAMING_EX` (as `KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX` answers it):
/// the first framing item's frame count, largest frame size, alignment and requirement flags,
/// without `KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY` (a pin's framing may carry it, as
/// avshws's does; an allocator create request may not). Pool: non-paged. `None` when the
/// answer holds no framing item.
pub fn allocator_framing(framing_ex: &[u8]) -> Option<KSALLOCATOR_FRAMING> {
    let (framing, _) = KSALLOCATOR_FRAMING_EX::read_from_prefix(framing_ex).ok()?;
    if framing.CountItems == 0 {
        return None;
    }
    let item = framing.FramingItem[0];
    Some(KSALLOCATOR_FRAMING {
        Flags: item.Flags & !KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
        PoolType: 0,
        Frames: item.Frames,
        FrameSize: item.FramingRange.Range.MaxFrameSize,
        FileAlignment: item.FileAlignment,
        Reserved: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_items_round_trip_with_padding() {
        let a = KSDATAFORMAT {
            FormatSize: 64,
            ..Default::default()
        };
        let mut b = vec![0u8; 70];
        b[..4].copy_from_slice(&70u32.to_le_bytes());
        let list = multiple_item(&[a.as_bytes(), &b]);
        assert_eq!(list.len(), 8 + 64 + 72);
        let items = split_multiple_item(&list).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].len(), 70);
    }

    #[test]
    fn a_pins_framing_becomes_a_create_request_without_preferences_only() {
        let mut framing = KSALLOCATOR_FRAMING_EX::new_zeroed();
        framing.CountItems = 1;
        let item = &mut framing.FramingItem[0];
        item.Flags = 2 | KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY;
        item.Frames = 4;
        item.FileAlignment = 0x3F;
        item.FramingRange.Range.MinFrameSize = 100;
        item.FramingRange.Range.MaxFrameSize = 115_200;
        let request = allocator_framing(framing.as_bytes()).unwrap();
        assert_eq!(
            (
                request.Flags,
                request.Frames,
                request.FrameSize,
                request.FileAlignment,
                request.PoolType
            ),
            (2, 4, 115_200, 0x3F, 0)
        );
        framing.CountItems = 0;
        assert_eq!(allocator_framing(framing.as_bytes()), None);
        assert_eq!(allocator_framing(&[0u8; 8]), None);
    }

    #[test]
    fn a_description_with_a_stepped_range_and_a_default_is_read_in_the_values_type() {
        let mut bytes = KSPROPERTY_DESCRIPTION {
            AccessFlags: 0x203,
            DescriptionSize: 40 + 32 + 20,
            PropTypeSet: KSIDENTIFIER {
                Set: ks::ks::KSPROPTYPESETID_General,
                Id: VT_UI4,
                Flags: 0,
            },
            MembersListCount: 2,
            Reserved: 0,
        }
        .as_bytes()
        .to_vec();
        let header = |flags, size, count, f| KSPROPERTY_MEMBERSHEADER {
            MembersFlags: flags,
            MembersSize: size,
            MembersCount: count,
            Flags: f,
        };
        bytes.extend_from_slice(header(KSPROPERTY_MEMBER_STEPPEDRANGES, 16, 1, 0).as_bytes());
        let range = KSPROPERTY_STEPPING_LONG {
            SteppingDelta: 1,
            Reserved: 0,
            SignedMinimum: 0,
            SignedMaximum: -1,
        };
        bytes.extend_from_slice(range.as_bytes());
        let default = header(
            KSPROPERTY_MEMBER_VALUES,
            4,
            1,
            KSPROPERTY_MEMBER_FLAG_DEFAULT,
        );
        bytes.extend_from_slice(default.as_bytes());
        bytes.extend_from_slice(&0x8000_0000u32.to_le_bytes());
        let answer = parse_description(&bytes).unwrap();
        assert_eq!(
            answer.ranges,
            [SteppedRange {
                min: 0,
                max: u32::MAX as i64,
                step: 1
            }]
        );
        assert_eq!(answer.default, Some(0x8000_0000));
        assert_eq!(answer.access, 0x203);
        assert!(parse_description(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn inconsistent_lists_are_refused() {
        let mut list = multiple_item(&[&[0u8; 64]]);
        list[8..12].copy_from_slice(&200u32.to_le_bytes());
        assert!(split_multiple_item(&list).is_none());
    }
}
