//! The `GUID` type and the GUIDs avcam uses, each with its registry form above it.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `GUID`: 16 bytes, `Data1..Data3` little-endian on Windows.
#[repr(C)]
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GUID {
    /// First 32 bits.
    pub Data1: u32,
    /// Next 16 bits.
    pub Data2: u16,
    /// Next 16 bits.
    pub Data3: u16,
    /// Last 64 bits, byte by byte.
    pub Data4: [u8; 8],
}

impl GUID {
    /// The all-zero GUID (`GUID_NULL`, also `KSDATAFORMAT_SUBTYPE_WILDCARD`'s neighbour).
    pub const NULL: GUID = GUID::from_u128(0);

    /// Builds a GUID from its registry form read as one hexadecimal number, e.g.
    /// `{CF6E4342-EC87-11CF-A130-0020AFD156E4}` is `0xCF6E4342_EC87_11CF_A130_0020AFD156E4`.
    pub const fn from_u128(v: u128) -> GUID {
        GUID {
            Data1: (v >> 96) as u32,
            Data2: (v >> 80) as u16,
            Data3: (v >> 64) as u16,
            Data4: (v as u64).to_be_bytes(),
        }
    }

    /// The registry form without braces, upper case, as UTF-16 code units (36 of them).
    pub fn to_utf16(&self) -> [u16; 36] {
        let mut out = [0u16; 36];
        let mut text = [0u8; 36];
        self.write_ascii(&mut text);
        for (o, t) in out.iter_mut().zip(text.iter()) {
            *o = u16::from(*t);
        }
        out
    }

    /// Writes the registry form without braces, upper case (36 ASCII bytes).
    pub fn write_ascii(&self, out: &mut [u8; 36]) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut bytes = [0u8; 16];
        bytes[0..4].copy_from_slice(&self.Data1.to_be_bytes());
        bytes[4..6].copy_from_slice(&self.Data2.to_be_bytes());
        bytes[6..8].copy_from_slice(&self.Data3.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.Data4);
        let mut pos = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[pos] = b'-';
                pos += 1;
            }
            out[pos] = HEX[usize::from(b >> 4)];
            out[pos + 1] = HEX[usize::from(b & 0xF)];
            pos += 2;
        }
    }

    /// Parses the registry form (with or without braces, any case) from UTF-16 code units.
    pub fn parse_utf16(text: &[u16]) -> Option<GUID> {
        let text = match text {
            [0x7B, inner @ .., 0x7D] => inner,
            _ => text,
        };
        if text.len() != 36 {
            return None;
        }
        let mut value: u128 = 0;
        for (i, &c) in text.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != u16::from(b'-') {
                    return None;
                }
                continue;
            }
            let digit = char::from_u32(u32::from(c))?.to_digit(16)?;
            value = (value << 4) | u128::from(digit);
        }
        Some(GUID::from_u128(value))
    }
}

impl core::fmt::Debug for GUID {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut text = [0u8; 36];
        self.write_ascii(&mut text);
        // The registry form is pure ASCII by construction.
        let text = core::str::from_utf8(&text).map_err(|_| core::fmt::Error)?;
        write!(f, "{{{text}}}")
    }
}

// --- Stream allocator sets (ks.h) ---

/// {CF6E4342-EC87-11CF-A130-0020AFD156E4}
pub const KSPROPSETID_StreamAllocator: GUID =
    GUID::from_u128(0xCF6E4342_EC87_11CF_A130_0020AFD156E4);
/// {CF6E4341-EC87-11CF-A130-0020AFD156E4}
pub const KSMETHODSETID_StreamAllocator: GUID =
    GUID::from_u128(0xCF6E4341_EC87_11CF_A130_0020AFD156E4);
/// {75D95571-073C-11D0-A161-0020AFD156E4}
pub const KSEVENTSETID_StreamAllocator: GUID =
    GUID::from_u128(0x75D95571_073C_11D0_A161_0020AFD156E4);
/// {642F5D00-4791-11D0-A5D6-28DB04C10000}: the allocator's create-item name (`KSSTRING_Allocator`).
pub const KSNAME_Allocator: GUID = GUID::from_u128(0x642F5D00_4791_11D0_A5D6_28DB04C10000);

// --- Memory and bus types for KS_FRAMING_ITEM (ks.h) ---

/// {00000000-0000-0000-0000-000000000000}: `KSMEMORY_TYPE_DONT_CARE`.
pub const KSMEMORY_TYPE_DONT_CARE: GUID = GUID::NULL;
/// {4A6D5FC4-7895-11D1-B069-00A0C9062802}: `KSMEMORY_TYPE_KERNEL_NONPAGED`.
pub const KSMEMORY_TYPE_KERNEL_NONPAGED: GUID =
    GUID::from_u128(0x4A6D5FC4_7895_11D1_B069_00A0C9062802);
/// {D833F8F8-7894-11D1-B069-00A0C9062802}: `KSMEMORY_TYPE_KERNEL_PAGED`.
pub const KSMEMORY_TYPE_KERNEL_PAGED: GUID =
    GUID::from_u128(0xD833F8F8_7894_11D1_B069_00A0C9062802);
/// {091BB638-603F-11D1-B067-00A0C9062802}: `KSMEMORY_TYPE_SYSTEM`.
pub const KSMEMORY_TYPE_SYSTEM: GUID = GUID::from_u128(0x091BB638_603F_11D1_B067_00A0C9062802);
/// {00000000-0000-0000-0000-000000000000}: `GUID_NULL`.
pub const GUID_NULL: GUID = GUID::NULL;

// --- Device interface categories, proxy and device class (what the INF registers) ---

/// {65E8773D-8F56-11D0-A3B9-00A0C9223196}: `KSCATEGORY_CAPTURE` (ks.h).
pub const KSCATEGORY_CAPTURE: GUID = GUID::from_u128(0x65E8773D_8F56_11D0_A3B9_00A0C9223196);
/// {6994AD05-93EF-11D0-A3CC-00A0C9223196}: `KSCATEGORY_VIDEO` (ksmedia.h).
pub const KSCATEGORY_VIDEO: GUID = GUID::from_u128(0x6994AD05_93EF_11D0_A3CC_00A0C9223196);
/// {E5323777-F976-4F5B-9B55-B94699C46E44}: `KSCATEGORY_VIDEO_CAMERA` (ks.h): the interface Media
/// Foundation's frame server and the Camera app enumerate.
pub const KSCATEGORY_VIDEO_CAMERA: GUID = GUID::from_u128(0xE5323777_F976_4F5B_9B55_B94699C46E44);
/// {17CCA71B-ECD7-11D0-B908-00A0C9223196}: `CLSID_Proxy` (ksproxy.h), the KS proxy every
/// interface's `CLSID` value names.
pub const CLSID_Proxy: GUID = GUID::from_u128(0x17CCA71B_ECD7_11D0_B908_00A0C9223196);
/// {CA3E7AB9-B4C3-4AE6-8251-579EF933890F}: `GUID_DEVCLASS_CAMERA` (devguid.h), the `Camera`
/// setup class (recommended for cameras since Windows 10 1709).
pub const GUID_DEVCLASS_CAMERA: GUID = GUID::from_u128(0xCA3E7AB9_B4C3_4AE6_8251_579EF933890F);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_form_round_trips() {
        let text: [u16; 36] = KSPROPSETID_StreamAllocator.to_utf16();
        let ascii: alloc_free::Ascii = alloc_free::Ascii::from(&text);
        assert_eq!(ascii.as_str(), "CF6E4342-EC87-11CF-A130-0020AFD156E4");
        assert_eq!(GUID::parse_utf16(&text), Some(KSPROPSETID_StreamAllocator));
    }

    #[test]
    fn parse_accepts_braces_and_lower_case_and_rejects_garbage() {
        let text: [u16; 38] = {
            let s = b"{642f5d00-4791-11d0-a5d6-28db04c10000}";
            let mut out = [0u16; 38];
            for (o, c) in out.iter_mut().zip(s) {
                *o = u16::from(*c);
            }
            out
        };
        assert_eq!(GUID::parse_utf16(&text), Some(KSNAME_Allocator));
        assert_eq!(GUID::parse_utf16(&text[..37]), None);
        let mut bad = text;
        bad[9] = u16::from(b'x');
        assert_eq!(GUID::parse_utf16(&bad), None);
    }

    #[test]
    fn data1_is_little_endian_in_memory() {
        use zerocopy::IntoBytes;
        assert_eq!(&KSNAME_Allocator.as_bytes()[..4], &[0x00, 0x5D, 0x2F, 0x64]);
        assert_eq!(
            &KSNAME_Allocator.as_bytes()[8..],
            &[0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00]
        );
    }

    mod alloc_free {
        pub struct Ascii([u8; 36]);
        impl From<&[u16; 36]> for Ascii {
            fn from(t: &[u16; 36]) -> Self {
                let mut out = [0u8; 36];
                for (o, c) in out.iter_mut().zip(t) {
                    *o = *c as u8;
                }
                Ascii(out)
            }
        }
        impl Ascii {
            pub fn as_str(&self) -> &str {
                core::str::from_utf8(&self.0).unwrap()
            }
        }
    }
}
