//! Allocator create requests: the create name, the `KSALLOCATOR_FRAMING` it carries, and the
//! rules of `KsValidateAllocatorCreateRequest` and `KsValidateAllocatorFramingEx`.
//!
//! A create request names the allocator class and appends the framing's raw bytes:
//! `{642F5D00-4791-11D0-A5D6-28DB04C10000}\` + 24 bytes of `KSALLOCATOR_FRAMING`, the UTF-16 name
//! `KsCreateAllocator` builds relative to the pin's file object. [`parse_create_name`] checks the
//! prefix, reads the parameters with zerocopy and returns a validated [`Framing`]; code past that
//! point never re-checks a field.

use ks::guid::KSMEMORY_TYPE_DONT_CARE;
use ks::ks::{
    KSSTRING_Allocator, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX,
    KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY, KS_FRAMING_ITEM,
};
use ks::nt::{
    self, PAGE_SIZE, POOL_FLAGS, POOL_FLAG_CACHE_ALIGNED, POOL_FLAG_NON_PAGED, POOL_FLAG_PAGED,
    POOL_TYPE,
};
use zerocopy::FromBytes;

use crate::error::Error;

/// The most frames one allocator may have: `Frames` above it is refused.
///
/// KS allocators carry a handful of frames (video pins ask for 2 to 30); 1024 leaves room for
/// any real use while bounding the per-allocator slot table (1024 * 24 bytes).
pub const MAX_FRAMES: u32 = 1024;

/// The most memory one allocator's frames may take, alignment padding included: 1 GiB (2^30).
///
/// 30 frames of 3840x2160 RGB32 (33 177 600 bytes each) are 995 MB and fit; more would exhaust
/// the non-paged pool of most machines.
pub const MAX_TOTAL_BYTES: u64 = 1 << 30;

/// The bits `KSALLOCATOR_FRAMING.OptionsFlags`/`RequirementsFlags` (one shared ULONG) may carry:
/// `KSALLOCATOR_OPTIONF_COMPATIBLE | KSALLOCATOR_OPTIONF_SYSTEM_MEMORY` and the four
/// `KSALLOCATOR_REQUIREMENTF_*` flags `INPLACE_MODIFIER | SYSTEM_MEMORY | FRAME_INTEGRITY |
/// MUST_ALLOCATE` = 0xF (the two sets overlap; a test checks the union).
pub const KNOWN_FRAMING_FLAGS: u32 = 0xF;

/// The alignment `ExAllocatePool2` guarantees on x64 below `PAGE_SIZE`: 16 bytes.
pub const POOL_ALIGNMENT: u32 = 16;

/// The size of the create parameters: `sizeof(KSALLOCATOR_FRAMING)` = 24.
pub const CREATE_PARAMETERS_SIZE: usize = core::mem::size_of::<KSALLOCATOR_FRAMING>();

/// The pool a framing's frames come from (`KSALLOCATOR_FRAMING.PoolType`, a `POOL_TYPE`).
///
/// Accepted: the non-paged and paged pools and their cache-aligned and no-execute variants.
/// Refused: the obsolete MustSucceed types (2, 6), `DontUseThisType` (3), session pools (32 and
/// up: frames must be valid in every process, which session memory is not), and anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// `NonPagedPool` (0). Frames are data, so they come from no-execute non-paged memory.
    NonPaged,
    /// `PagedPool` (1).
    Paged,
    /// `NonPagedPoolCacheAligned` (4).
    NonPagedCacheAligned,
    /// `PagedPoolCacheAligned` (5).
    PagedCacheAligned,
    /// `NonPagedPoolNx` (512), the Windows 8+ default for drivers.
    NonPagedNx,
    /// `NonPagedPoolNxCacheAligned` (516).
    NonPagedNxCacheAligned,
}

impl PoolKind {
    /// The pool kind of a `POOL_TYPE`, or `None` for the refused ones.
    pub const fn from_pool_type(pool_type: POOL_TYPE) -> Option<PoolKind> {
        match pool_type {
            nt::NonPagedPool => Some(PoolKind::NonPaged),
            nt::PagedPool => Some(PoolKind::Paged),
            nt::NonPagedPoolCacheAligned => Some(PoolKind::NonPagedCacheAligned),
            nt::PagedPoolCacheAligned => Some(PoolKind::PagedCacheAligned),
            nt::NonPagedPoolNx => Some(PoolKind::NonPagedNx),
            nt::NonPagedPoolNxCacheAligned => Some(PoolKind::NonPagedNxCacheAligned),
            _ => None,
        }
    }

    /// The `POOL_TYPE` value.
    pub const fn pool_type(self) -> POOL_TYPE {
        match self {
            PoolKind::NonPaged => nt::NonPagedPool,
            PoolKind::Paged => nt::PagedPool,
            PoolKind::NonPagedCacheAligned => nt::NonPagedPoolCacheAligned,
            PoolKind::PagedCacheAligned => nt::PagedPoolCacheAligned,
            PoolKind::NonPagedNx => nt::NonPagedPoolNx,
            PoolKind::NonPagedNxCacheAligned => nt::NonPagedPoolNxCacheAligned,
        }
    }

    /// The `ExAllocatePool2` flags for frames from this pool: `POOL_FLAG_NON_PAGED` (no-execute)
    /// or `POOL_FLAG_PAGED`, plus `POOL_FLAG_CACHE_ALIGNED` for the cache-aligned types.
    pub const fn pool_flags(self) -> POOL_FLAGS {
        match self {
            PoolKind::NonPaged | PoolKind::NonPagedNx => POOL_FLAG_NON_PAGED,
            PoolKind::Paged => POOL_FLAG_PAGED,
            PoolKind::NonPagedCacheAligned | PoolKind::NonPagedNxCacheAligned => {
                POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED
            }
            PoolKind::PagedCacheAligned => POOL_FLAG_PAGED | POOL_FLAG_CACHE_ALIGNED,
        }
    }
}

/// A `KSALLOCATOR_FRAMING` that passed every create rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    flags: u32,
    pool: PoolKind,
    frames: u32,
    frame_size: u32,
    alignment_mask: u32,
    reserved: u32,
}

impl Framing {
    /// Applies the create rules to a raw framing, in this order:
    /// `PREFERENCES_ONLY` and unknown flags, the pool type, `FrameSize` 0, `Frames` 0, the
    /// `FileAlignment` mask, [`MAX_FRAMES`], then [`MAX_TOTAL_BYTES`].
    pub fn validate(raw: &KSALLOCATOR_FRAMING) -> Result<Framing, Error> {
        if raw.Flags & KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY != 0 {
            return Err(Error::PreferencesOnly);
        }
        let unknown = raw.Flags & !KNOWN_FRAMING_FLAGS;
        if unknown != 0 {
            return Err(Error::UnknownFlags { flags: unknown });
        }
        let pool = PoolKind::from_pool_type(raw.PoolType).ok_or(Error::UnsupportedPoolType {
            pool_type: raw.PoolType,
        })?;
        if raw.FrameSize == 0 {
            return Err(Error::ZeroFrameSize);
        }
        if raw.Frames == 0 {
            return Err(Error::ZeroFrames);
        }
        if !is_alignment_mask(raw.FileAlignment) {
            return Err(Error::BadFileAlignment {
                mask: raw.FileAlignment,
            });
        }
        if raw.Frames > MAX_FRAMES {
            return Err(Error::TooManyFrames { frames: raw.Frames });
        }
        let stride = u64::from(raw.FrameSize) + u64::from(raw.FileAlignment);
        let total_bytes = u64::from(raw.Frames).saturating_mul(stride);
        if total_bytes > MAX_TOTAL_BYTES {
            return Err(Error::FramesTooLarge { total_bytes });
        }
        Ok(Framing {
            flags: raw.Flags,
            pool,
            frames: raw.Frames,
            frame_size: raw.FrameSize,
            alignment_mask: raw.FileAlignment,
            reserved: raw.Reserved,
        })
    }

    /// `Frames`: the most frames outstanding at once (1..=[`MAX_FRAMES`]).
    pub const fn frames(&self) -> u32 {
        self.frames
    }

    /// `FileAlignment`: every frame address `a` satisfies `a & mask == 0`.
    pub const fn alignment_mask(&self) -> u32 {
        self.alignment_mask
    }

    /// The pool the frames come from.
    pub const fn pool(&self) -> PoolKind {
        self.pool
    }

    /// The pool bytes to ask for one frame, so that an address honouring `FileAlignment` with
    /// `FrameSize` bytes after it fits in the block.
    ///
    /// `ExAllocatePool2` documents its alignment on x64: page-aligned blocks from `PAGE_SIZE`
    /// bytes up, 16-byte aligned below. So no padding is needed when `FrameSize >= PAGE_SIZE` (the
    /// mask is at most `PAGE_SIZE - 1`) or when the mask is below 16; otherwise `FileAlignment`
    /// bytes are added and the start is aligned up. (Frame addresses are still checked against
    /// the mask, so a pool breaking that promise fails the create instead of misaligning.)
    /// Never above [`MAX_TOTAL_BYTES`].
    pub const fn pool_bytes_per_frame(&self) -> usize {
        let size = self.frame_size as usize;
        if size >= PAGE_SIZE || self.alignment_mask < POOL_ALIGNMENT {
            size
        } else {
            size + self.alignment_mask as usize
        }
    }

    /// The framing as the C structure (reported by KSPROPERTY_STREAMALLOCATOR_STATUS and passed
    /// to an external `InitializeAllocator`).
    pub const fn to_raw(&self) -> KSALLOCATOR_FRAMING {
        KSALLOCATOR_FRAMING {
            Flags: self.flags,
            PoolType: self.pool.pool_type(),
            Frames: self.frames,
            FrameSize: self.frame_size,
            FileAlignment: self.alignment_mask,
            Reserved: self.reserved,
        }
    }
}

/// Whether `mask` is a `FILE_*_ALIGNMENT` mask avcam honours: `2^n - 1` and at most
/// `PAGE_SIZE - 1`.
pub const fn is_alignment_mask(mask: u32) -> bool {
    (mask as usize) < PAGE_SIZE && mask & mask.wrapping_add(1) == 0
}

/// Reads and validates the create parameters: the bytes after `KSSTRING_Allocator\`.
///
/// Fewer than [`CREATE_PARAMETERS_SIZE`] bytes is [`Error::ShortParameters`]
/// (`STATUS_INVALID_BUFFER_SIZE`); bytes beyond the framing are ignored, as KS reads a prefix.
pub fn parse_create_parameters(parameters: &[u8]) -> Result<Framing, Error> {
    let (raw, _) =
        KSALLOCATOR_FRAMING::read_from_prefix(parameters).map_err(|_| Error::ShortParameters {
            length: parameters.len(),
        })?;
    Framing::validate(&raw)
}

/// Finds the create parameters in a create name: the `FileObject->FileName` bytes (its `Length`
/// bytes, UTF-16LE). Returns the byte offset where the parameters start.
///
/// The name is `KSSTRING_Allocator` (case-insensitive) then `\`, optionally preceded by one `\`.
/// Nothing past `name` is ever read.
pub fn create_parameters_offset(name: &[u8]) -> Result<usize, Error> {
    const BACKSLASH: u16 = b'\\' as u16;
    let mut offset = 0;
    if unit_at(name, 0) == Some(BACKSLASH) {
        offset = 2;
    }
    for (i, expected) in KSSTRING_Allocator.bytes().enumerate() {
        let unit = unit_at(name, offset + 2 * i).ok_or(Error::NotAnAllocatorName)?;
        let matches = u8::try_from(unit).is_ok_and(|byte| byte.eq_ignore_ascii_case(&expected));
        if !matches {
            return Err(Error::NotAnAllocatorName);
        }
    }
    offset += 2 * KSSTRING_Allocator.len();
    match unit_at(name, offset) {
        Some(BACKSLASH) => Ok(offset + 2),
        // The class alone: the separator and the parameters are missing.
        None => Err(Error::ShortParameters { length: 0 }),
        Some(_) => Err(Error::NotAnAllocatorName),
    }
}

/// Parses a whole create name into a validated framing (see [`create_parameters_offset`] and
/// [`parse_create_parameters`]).
pub fn parse_create_name(name: &[u8]) -> Result<Framing, Error> {
    let offset = create_parameters_offset(name)?;
    parse_create_parameters(&name[offset..])
}

fn unit_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let pair = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes([pair[0], pair[1]]))
}

/// The bytes of a `KSALLOCATOR_FRAMING_EX` up to its first item: `CountItems`, `PinFlags`,
/// `OutputCompression`, `PinWeight`.
pub const FRAMING_EX_HEADER_SIZE: usize =
    core::mem::offset_of!(KSALLOCATOR_FRAMING_EX, FramingItem);
/// `sizeof(KS_FRAMING_ITEM)` = 88.
pub const FRAMING_ITEM_SIZE: usize = core::mem::size_of::<KS_FRAMING_ITEM>();

/// A `KSALLOCATOR_FRAMING_EX` buffer whose size covers the structure and all its items.
#[derive(Debug, Clone, Copy)]
pub struct FramingEx<'a> {
    count: u32,
    items: &'a [u8],
}

impl<'a> FramingEx<'a> {
    /// Checks that `buffer` holds a `KSALLOCATOR_FRAMING_EX` (112 bytes) and `CountItems` items
    /// (`24 + 88 * CountItems` bytes); else [`Error::FramingExTooSmall`]
    /// (`STATUS_INVALID_DEVICE_REQUEST`).
    pub fn parse(buffer: &'a [u8]) -> Result<FramingEx<'a>, Error> {
        let (header, _) = KSALLOCATOR_FRAMING_EX::read_from_prefix(buffer).map_err(|_| {
            Error::FramingExTooSmall {
                buffer_size: buffer.len(),
                needed: core::mem::size_of::<KSALLOCATOR_FRAMING_EX>() as u64,
            }
        })?;
        let count = header.CountItems;
        let needed = FRAMING_EX_HEADER_SIZE as u64 + FRAMING_ITEM_SIZE as u64 * u64::from(count);
        if (buffer.len() as u64) < needed {
            return Err(Error::FramingExTooSmall {
                buffer_size: buffer.len(),
                needed,
            });
        }
        Ok(FramingEx {
            count,
            items: &buffer[FRAMING_EX_HEADER_SIZE..],
        })
    }

    /// `CountItems`.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The framing items, in order.
    pub fn items(&self) -> impl Iterator<Item = KS_FRAMING_ITEM> + 'a {
        let items = self.items;
        (0..self.count as usize).filter_map(move |i| {
            let start = i * FRAMING_ITEM_SIZE;
            let bytes = items.get(start..start + FRAMING_ITEM_SIZE)?;
            KS_FRAMING_ITEM::read_from_bytes(bytes).ok()
        })
    }
}

/// `KsValidateAllocatorFramingEx(Framing, BufferSize, PinFraming)`: every failure is
/// `STATUS_INVALID_DEVICE_REQUEST`, the one status the reference page names.
///
/// - [`Error::FramingExTooSmall`]: `buffer` smaller than `KSALLOCATOR_FRAMING_EX`, or than
///   `CountItems` items;
/// - [`Error::FramingExMismatch`]: `CountItems` is 0; an item's `FramingRange` has
///   `MinFrameSize > MaxFrameSize`; its `FileAlignment` is not a valid mask; or, with a pin
///   framing, the item fits no pin item: the frame-size ranges must overlap and the memory types
///   must be equal or one of them `KSMEMORY_TYPE_DONT_CARE` (the wildcard).
///
/// `pin`, when present, is the pin's own framing, trusted (it is the driver's structure) but
/// still read through [`FramingEx::parse`].
pub fn validate_framing_ex(buffer: &[u8], pin: Option<&[u8]>) -> Result<(), Error> {
    let framing = FramingEx::parse(buffer)?;
    let pin = match pin {
        Some(bytes) => Some(FramingEx::parse(bytes)?),
        None => None,
    };
    if framing.count() == 0 {
        return Err(Error::FramingExMismatch { item: 0 });
    }
    for (index, item) in (0u32..).zip(framing.items()) {
        let range = item.FramingRange.Range;
        let consistent =
            range.MinFrameSize <= range.MaxFrameSize && is_alignment_mask(item.FileAlignment);
        let fits_pin = match &pin {
            None => true,
            Some(pin) => pin.items().any(|pin_item| item_fits(&item, &pin_item)),
        };
        if !consistent || !fits_pin {
            return Err(Error::FramingExMismatch { item: index });
        }
    }
    Ok(())
}

fn item_fits(item: &KS_FRAMING_ITEM, pin: &KS_FRAMING_ITEM) -> bool {
    let wanted = item.FramingRange.Range;
    let offered = pin.FramingRange.Range;
    let overlap =
        wanted.MinFrameSize <= offered.MaxFrameSize && offered.MinFrameSize <= wanted.MaxFrameSize;
    let memory = item.MemoryType == pin.MemoryType
        || item.MemoryType == KSMEMORY_TYPE_DONT_CARE
        || pin.MemoryType == KSMEMORY_TYPE_DONT_CARE;
    overlap && memory
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use ks::guid::{KSMEMORY_TYPE_KERNEL_NONPAGED, KSMEMORY_TYPE_KERNEL_PAGED};
    use ks::ks::{
        file_alignment, KSALLOCATOR_OPTIONF_COMPATIBLE, KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY, KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
        KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
        KS_FRAMING_RANGE,
    };
    use zerocopy::IntoBytes;

    #[test]
    fn the_known_flags_are_the_options_and_requirements_of_ks_h() {
        assert_eq!(
            KNOWN_FRAMING_FLAGS,
            KSALLOCATOR_OPTIONF_COMPATIBLE
                | KSALLOCATOR_OPTIONF_SYSTEM_MEMORY
                | KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER
                | KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY
                | KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY
                | KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE
        );
    }

    use super::*;

    fn framing() -> KSALLOCATOR_FRAMING {
        KSALLOCATOR_FRAMING {
            Flags: KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
            PoolType: nt::NonPagedPoolNx,
            Frames: 4,
            FrameSize: 4096,
            FileAlignment: file_alignment::B64,
            Reserved: 0,
        }
    }

    fn name(prefix: &str, parameters: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = prefix.encode_utf16().flat_map(u16::to_le_bytes).collect();
        out.extend_from_slice(parameters);
        out
    }

    #[test]
    fn a_good_framing_round_trips() {
        let raw = framing();
        let valid = Framing::validate(&raw).unwrap();
        assert_eq!(valid.to_raw(), raw);
        assert_eq!(valid.pool(), PoolKind::NonPagedNx);
        // A page or more is page-aligned already: no padding.
        assert_eq!(valid.pool_bytes_per_frame(), 4096);
        let small = Framing::validate(&KSALLOCATOR_FRAMING {
            FrameSize: 100,
            ..raw
        })
        .unwrap();
        assert_eq!(small.pool_bytes_per_frame(), 100 + 63);
        let octa = KSALLOCATOR_FRAMING {
            FrameSize: 100,
            FileAlignment: file_alignment::OCTA,
            ..raw
        };
        assert_eq!(
            Framing::validate(&octa).unwrap().pool_bytes_per_frame(),
            100
        );
    }

    #[test]
    fn each_create_rule_has_its_error() {
        type Breaker = fn(&mut KSALLOCATOR_FRAMING);
        let cases: [(Breaker, Error); 9] = [
            (|f| f.FrameSize = 0, Error::ZeroFrameSize),
            (|f| f.Frames = 0, Error::ZeroFrames),
            (|f| f.Flags |= 0x10, Error::UnknownFlags { flags: 0x10 }),
            (
                |f| f.Flags |= KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
                Error::PreferencesOnly,
            ),
            (|f| f.FileAlignment = 6, Error::BadFileAlignment { mask: 6 }),
            (
                |f| f.FileAlignment = 0x1FFF,
                Error::BadFileAlignment { mask: 0x1FFF },
            ),
            (
                |f| f.Frames = MAX_FRAMES + 1,
                Error::TooManyFrames {
                    frames: MAX_FRAMES + 1,
                },
            ),
            (
                |f| f.PoolType = 2,
                Error::UnsupportedPoolType { pool_type: 2 },
            ),
            (
                |f| f.PoolType = 544,
                Error::UnsupportedPoolType { pool_type: 544 },
            ),
        ];
        for (break_it, error) in cases {
            let mut raw = framing();
            break_it(&mut raw);
            assert_eq!(Framing::validate(&raw), Err(error), "{raw:?}");
        }
    }

    #[test]
    fn the_total_size_cap_counts_padding_and_never_overflows() {
        let mut raw = framing();
        raw.Frames = MAX_FRAMES;
        raw.FrameSize = u32::MAX;
        raw.FileAlignment = file_alignment::B512;
        let total = u64::from(MAX_FRAMES) * (u64::from(u32::MAX) + 511);
        assert_eq!(
            Framing::validate(&raw),
            Err(Error::FramesTooLarge { total_bytes: total })
        );
        raw.Frames = 1;
        raw.FrameSize = (MAX_TOTAL_BYTES - 511) as u32;
        assert!(Framing::validate(&raw).is_ok());
        raw.FrameSize += 1;
        assert!(matches!(
            Framing::validate(&raw),
            Err(Error::FramesTooLarge { .. })
        ));
    }

    #[test]
    fn every_documented_pool_type_is_accepted_and_no_other() {
        let accepted: Vec<u32> = (0..1024)
            .filter(|&t| PoolKind::from_pool_type(t).is_some())
            .collect();
        assert_eq!(accepted, [0, 1, 4, 5, 512, 516]);
        for t in accepted {
            assert_eq!(PoolKind::from_pool_type(t).unwrap().pool_type(), t);
        }
    }

    #[test]
    fn alignment_masks_are_two_to_the_n_minus_one_up_to_a_page() {
        let good: Vec<u32> = (0..=0x2000).filter(|&m| is_alignment_mask(m)).collect();
        assert_eq!(
            good,
            [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047, 4095]
        );
        assert!(!is_alignment_mask(u32::MAX));
    }

    #[test]
    fn names_are_matched_case_insensitively_with_an_optional_leading_backslash() {
        let params = framing();
        let upper = name(
            "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\",
            params.as_bytes(),
        );
        assert_eq!(parse_create_name(&upper).unwrap().to_raw(), params);
        let lower = name(
            "\\{642f5d00-4791-11d0-a5d6-28db04c10000}\\",
            params.as_bytes(),
        );
        assert_eq!(create_parameters_offset(&lower), Ok(80));
        assert_eq!(create_parameters_offset(&upper), Ok(78));
        assert_eq!(parse_create_name(&lower).unwrap().to_raw(), params);
    }

    #[test]
    fn wrong_names_and_short_parameters_are_refused() {
        let params = framing();
        let other = name(
            "{642F5D00-4791-11D0-A5D6-28DB04C10001}\\",
            params.as_bytes(),
        );
        assert_eq!(parse_create_name(&other), Err(Error::NotAnAllocatorName));
        let no_separator = name("{642F5D00-4791-11D0-A5D6-28DB04C10000}/", params.as_bytes());
        assert_eq!(
            parse_create_name(&no_separator),
            Err(Error::NotAnAllocatorName)
        );
        let class_only = name("{642F5D00-4791-11D0-A5D6-28DB04C10000}", &[]);
        assert_eq!(
            parse_create_name(&class_only),
            Err(Error::ShortParameters { length: 0 })
        );
        let full = name(
            "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\",
            params.as_bytes(),
        );
        for cut in 0..CREATE_PARAMETERS_SIZE {
            let short = &full[..full.len() - CREATE_PARAMETERS_SIZE + cut];
            assert_eq!(
                parse_create_name(short),
                Err(Error::ShortParameters { length: cut })
            );
        }
        // Trailing bytes are ignored.
        let mut long = full.clone();
        long.extend_from_slice(&[0xFF; 8]);
        assert_eq!(parse_create_name(&long).unwrap().to_raw(), params);
        assert_eq!(
            parse_create_name(&full[..3]),
            Err(Error::NotAnAllocatorName)
        );
    }

    fn item(min: u32, max: u32, memory: ks::GUID) -> KS_FRAMING_ITEM {
        KS_FRAMING_ITEM {
            MemoryType: memory,
            Frames: 2,
            FramingRange: ks::ks::KS_FRAMING_RANGE_WEIGHTED {
                Range: KS_FRAMING_RANGE {
                    MinFrameSize: min,
                    MaxFrameSize: max,
                    Stepping: 1,
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn framing_ex(items: &[KS_FRAMING_ITEM]) -> Vec<u8> {
        let mut header = KSALLOCATOR_FRAMING_EX {
            CountItems: items.len() as u32,
            ..Default::default()
        };
        if let Some(first) = items.first() {
            header.FramingItem[0] = *first;
        }
        let mut out = header.as_bytes().to_vec();
        for extra in items.iter().skip(1) {
            out.extend_from_slice(extra.as_bytes());
        }
        out
    }

    #[test]
    fn framing_ex_sizes_are_checked_against_count_items() {
        let one = framing_ex(&[item(100, 200, KSMEMORY_TYPE_DONT_CARE)]);
        assert_eq!(validate_framing_ex(&one, None), Ok(()));
        assert_eq!(
            validate_framing_ex(&one[..111], None),
            Err(Error::FramingExTooSmall {
                buffer_size: 111,
                needed: 112
            })
        );
        let three = framing_ex(&[item(1, 2, KSMEMORY_TYPE_DONT_CARE); 3]);
        assert_eq!(three.len(), 24 + 3 * 88);
        assert_eq!(validate_framing_ex(&three, None), Ok(()));
        assert_eq!(
            validate_framing_ex(&three[..three.len() - 1], None),
            Err(Error::FramingExTooSmall {
                buffer_size: 287,
                needed: 288
            })
        );
        let mut huge = one.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            validate_framing_ex(&huge, None),
            Err(Error::FramingExTooSmall { .. })
        ));
        let mut zero = one.clone();
        zero[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            validate_framing_ex(&zero, None),
            Err(Error::FramingExMismatch { item: 0 })
        );
    }

    #[test]
    fn framing_ex_items_must_be_consistent_and_fit_the_pin() {
        let inverted = framing_ex(&[
            item(1, 2, KSMEMORY_TYPE_DONT_CARE),
            item(300, 200, KSMEMORY_TYPE_DONT_CARE),
        ]);
        assert_eq!(
            validate_framing_ex(&inverted, None),
            Err(Error::FramingExMismatch { item: 1 })
        );
        let pin = framing_ex(&[item(1000, 2000, KSMEMORY_TYPE_KERNEL_NONPAGED)]);
        let fits = framing_ex(&[item(1500, 4000, KSMEMORY_TYPE_DONT_CARE)]);
        assert_eq!(validate_framing_ex(&fits, Some(&pin)), Ok(()));
        let too_small = framing_ex(&[item(10, 999, KSMEMORY_TYPE_KERNEL_NONPAGED)]);
        assert_eq!(
            validate_framing_ex(&too_small, Some(&pin)),
            Err(Error::FramingExMismatch { item: 0 })
        );
        let other_memory = framing_ex(&[item(1000, 2000, KSMEMORY_TYPE_KERNEL_PAGED)]);
        assert_eq!(
            validate_framing_ex(&other_memory, Some(&pin)),
            Err(Error::FramingExMismatch { item: 0 })
        );
        let mut misaligned = item(1000, 2000, KSMEMORY_TYPE_DONT_CARE);
        misaligned.FileAlignment = 5;
        assert_eq!(
            validate_framing_ex(&framing_ex(&[misaligned]), None),
            Err(Error::FramingExMismatch { item: 0 })
        );
    }
}
