//! Request builders and answer parsers: the bytes of KS requests, independent of how they are
//! sent ([`crate::Transport`]: the emulation, or `DeviceIoControl` on real handles on Windows).

use ks::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
    KSIDENTIFIER, KSPROPERTY_TYPE_GET,
};
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Pin, KSDATAFORMAT,
    KSMULTIPLE_ITEM, KSPIN_CONNECT, KSP_PIN, KSSTREAM_HEADER, KS_FRAME_INFO,
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
    fn inconsistent_lists_are_refused() {
        let mut list = multiple_item(&[&[0u8; 64]]);
        list[8..12].copy_from_slice(&200u32.to_le_bytes());
        assert!(split_multiple_item(&list).is_none());
    }
}
