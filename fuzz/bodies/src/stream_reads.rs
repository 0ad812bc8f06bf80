//! The IOCTL_KS_READ_STREAM requests of [`crate::driver_requests`]: stream headers built from the
//! fuzzer's bytes, and the checks made on them when the read completes.
//!
//! A read's input is one to three header descriptions, each:
//! - a size byte: `Size` = sizeof(KSSTREAM_HEADER) (0), + sizeof(KS_FRAME_INFO) (1), + 8 (2), or
//!   the next u16 of the input, truncated to a multiple of 4 (3: malformed sizes);
//! - a buffer byte: `Data` NULL with the fuzzed `FrameExtent` (0), a buffer of the body's own of
//!   `FrameExtent` bytes (1), a frame an earlier ALLOC returned (2); from a user-mode requestor
//!   also a kernel-half address (3) or a range that wraps the address space (4), which the probe
//!   must refuse (a kernel-mode requestor is trusted with its addresses, so there they are the
//!   body's own buffer);
//! - a u32 `FrameExtent`, masked to at most [`MAX_EXTENT`] for the body's own buffers (a frame
//!   of an allocator is at most its frame size: the kernel-mode caller is trusted);
//! - a flags byte: bit 0 takes `DataUsed` and `OptionsFlags` from the next 8 input bytes (ks.sys
//!   refuses a read with either non-zero) instead of 0;
//! - 16 bytes of `PresentationTime`, then up to `Size - 56` bytes of what follows the header
//!   (its KS_FRAME_INFO), zero-filled when the input runs out.
//!
//! Checked when the read completes (at once, or after the clock moved, or at the end): it is
//! not STATUS_PENDING; its output is its headers, each keeping its `Size`, `FrameExtent`, `Data`,
//! `TypeSpecificFlags` and `Reserved`, with `DataUsed` at most its `FrameExtent`; a header
//! completed empty (`DataUsed` 0) has nothing else written, unless fault injection is on and
//! the header carries a stamp (an injected empty frame is stamped and not rendered:
//! avcam_avstream::faults), when it is checked as a frame is; of a KS_FRAME_INFO only the fields
//! the pin stamps (up to `DropCount`) change, and past the KS_FRAME_INFO (or past the header when
//! `Size` has none) nothing does. So no header is written past its `Size`: such a write lands on
//! the next header, caught by these checks, or past the buffer, which AddressSanitizer reports
//! under cargo-fuzz. From a user-mode requestor, no 8-byte word the driver changed is a kernel
//! address (the kernel half, a pool block, an allocator frame).

use std::mem::offset_of;
use std::ops::Range;

use avcam_emulation::{AsyncIo, File, Kernel, PendingIrp};
use ks::status::{nt_success, STATUS_PENDING};
use ks::video::{KSSTREAM_HEADER, KS_FRAME_INFO};
use zerocopy::{FromBytes, IntoBytes};

use crate::input::Input;

/// sizeof(KSSTREAM_HEADER).
const HEADER: usize = std::mem::size_of::<KSSTREAM_HEADER>();
/// sizeof(KS_FRAME_INFO).
const FRAME_INFO: usize = std::mem::size_of::<KS_FRAME_INFO>();
/// The largest buffer the body allocates for one header: 8 MiB (a 1080p RGB24 frame is 6 MiB).
pub const MAX_EXTENT: u32 = (8 << 20) - 1;
/// The most bytes of the body's own read buffers alive at once (32 MiB): beyond it a header
/// gets no buffer.
const MAX_LIVE_BUFFERS: usize = 32 << 20;
/// The lowest kernel-mode address of x64 Windows.
const KERNEL_SPACE: u64 = 0xFFFF_8000_0000_0000;

/// A read sent, with the buffers its headers point at (alive until it completes).
pub(crate) struct Read {
    io: Option<PendingIrp>,
    /// The result of a read that completed at once.
    done: Option<(ks::NTSTATUS, Vec<u8>)>,
    headers: Vec<u8>,
    user_mode: bool,
    faults: bool,
    _buffers: Vec<Vec<u8>>,
}

/// What [`send`] needs to know of the session.
pub(crate) struct Context<'a> {
    /// The kernel.
    pub(crate) kernel: &'a Kernel,
    /// Frames earlier ALLOCs returned, with the allocator's frame size.
    pub(crate) frames: &'a [u64],
    /// The allocator's frame size (0 without one).
    pub(crate) frame_size: u32,
    /// Whether the requestor is a user-mode client.
    pub(crate) user_mode: bool,
    /// Whether the device allows fault injection (an empty frame may then be stamped).
    pub(crate) faults: bool,
    /// Bytes of read buffers alive now.
    pub(crate) live_bytes: usize,
}

/// Builds a read from the input and sends it to `file`.
pub(crate) fn send(context: &Context<'_>, file: File, input: &mut Input<'_>) -> Read {
    let count = 1 + usize::from(input.byte() % 3);
    let mut headers = Vec::new();
    let mut buffers = Vec::new();
    let mut live = context.live_bytes;
    for _ in 0..count {
        let size = match input.byte() % 4 {
            0 => HEADER,
            1 => HEADER + FRAME_INFO,
            2 => HEADER + 8,
            _ => usize::from(input.u16() & !3),
        };
        let choice = input.byte() % 5;
        let extent_bytes = input.bytes(4);
        let mut extent_le = [0u8; 4];
        extent_le[..extent_bytes.len()].copy_from_slice(extent_bytes);
        let mut extent = u32::from_le_bytes(extent_le);
        let data = match (choice, context.user_mode) {
            (0, _) => 0,
            (2, _) if !context.frames.is_empty() => {
                let frame = context.frames[usize::from(input.byte()) % context.frames.len()];
                if !context.user_mode {
                    extent = extent.min(context.frame_size);
                }
                frame
            }
            (3, true) => KERNEL_SPACE + u64::from(extent),
            (4, true) => u64::MAX - u64::from(extent % 4096),
            _ => {
                extent &= MAX_EXTENT;
                if live + extent as usize > MAX_LIVE_BUFFERS || extent == 0 {
                    0
                } else {
                    live += extent as usize;
                    let mut buffer = vec![0xCDu8; extent as usize];
                    let address = buffer.as_mut_ptr() as u64;
                    buffers.push(buffer);
                    address
                }
            }
        };
        let flags = input.byte();
        let (data_used, options) = if flags & 1 != 0 {
            let raw = input.bytes(8);
            let word = |at: usize| {
                let mut le = [0u8; 4];
                let part = raw.get(at..).unwrap_or(&[]);
                let n = part.len().min(4);
                le[..n].copy_from_slice(&part[..n]);
                u32::from_le_bytes(le)
            };
            (word(0), word(4))
        } else {
            (0, 0)
        };
        let time = input.bytes(16);
        let mut header = KSSTREAM_HEADER {
            Size: size as u32,
            FrameExtent: extent,
            DataUsed: data_used,
            Data: data,
            OptionsFlags: options,
            ..KSSTREAM_HEADER::default()
        };
        let mut time_bytes = [0u8; 16];
        time_bytes[..time.len()].copy_from_slice(time);
        header
            .PresentationTime
            .as_mut_bytes()
            .copy_from_slice(&time_bytes);
        let mut bytes = header.as_bytes().to_vec();
        bytes.resize(size.max(HEADER), 0);
        let tail = input.bytes(size.saturating_sub(HEADER));
        bytes[HEADER..HEADER + tail.len()].copy_from_slice(tail);
        // A malformed Size below the header's own: the bytes still hold a whole header, and the
        // probe must refuse it.
        headers.extend_from_slice(&bytes);
    }
    let (io, done) = match context.kernel.read_stream(file, &headers) {
        AsyncIo::Done(done) => (None, Some((done.result.status, done.output))),
        AsyncIo::Pending(pending) => (Some(pending), None),
    };
    Read {
        io,
        done,
        headers,
        user_mode: context.user_mode,
        faults: context.faults,
        _buffers: buffers,
    }
}

impl Read {
    /// Bytes of the body's own buffers this read keeps alive.
    pub(crate) fn buffer_bytes(&self) -> usize {
        self._buffers.iter().map(Vec::len).sum()
    }

    /// The status and output if the read has completed.
    fn result(&self) -> Option<(ks::NTSTATUS, Vec<u8>)> {
        if let Some(done) = &self.done {
            return Some(done.clone());
        }
        let io = self.io.as_ref()?;
        let result = io.poll()?;
        Some((
            result.status,
            io.output().expect("a completed read has its output"),
        ))
    }

    /// Cancels the read if it is still pending.
    pub(crate) fn cancel(&self) {
        if let Some(io) = &self.io {
            if io.poll().is_none() {
                io.cancel();
            }
        }
    }

    /// Checks the read if it completed; returns whether it did, and whether it succeeded.
    pub(crate) fn check(&self, kernel: &Kernel, frames: &[u64]) -> Option<bool> {
        let (status, output) = self.result()?;
        assert_ne!(
            status, STATUS_PENDING,
            "a read completed with STATUS_PENDING"
        );
        assert_eq!(output.len(), self.headers.len(), "the read's output length");
        if self.user_mode {
            assert_no_kernel_address(kernel, frames, &self.headers, &output);
        }
        let mut at = 0;
        while at + HEADER <= self.headers.len() {
            let (before, _) = KSSTREAM_HEADER::read_from_prefix(&self.headers[at..]).unwrap();
            let (after, _) = KSSTREAM_HEADER::read_from_prefix(&output[at..]).unwrap();
            assert_eq!(after.Size, before.Size, "header at {at}: Size changed");
            assert_eq!(after.Data, before.Data, "header at {at}: Data changed");
            assert_eq!(
                after.FrameExtent, before.FrameExtent,
                "header at {at}: FrameExtent changed"
            );
            if nt_success(status) {
                assert!(
                    after.DataUsed <= after.FrameExtent,
                    "header at {at}: DataUsed {} past FrameExtent {}",
                    after.DataUsed,
                    after.FrameExtent
                );
            }
            let size = before.Size as usize;
            if size < HEADER || at + size > self.headers.len() {
                break;
            }
            let unchanged = |range: Range<usize>, what: &str| {
                let range = at + range.start..at + range.end;
                assert_eq!(
                    output[range.clone()],
                    self.headers[range],
                    "header at {at}: {what} written"
                );
            };
            unchanged(
                field(offset_of!(KSSTREAM_HEADER, TypeSpecificFlags), 4),
                "TypeSpecificFlags",
            );
            unchanged(field(offset_of!(KSSTREAM_HEADER, Reserved), 4), "Reserved");
            let frame_info = size >= HEADER + FRAME_INFO;
            // An injected empty frame (fault injection on) is stamped: its OptionsFlags are set.
            let injected_empty = self.faults && after.OptionsFlags != before.OptionsFlags;
            if nt_success(status) && after.DataUsed == 0 && !injected_empty {
                // A buffer completed empty: DataUsed 0, nothing else written.
                unchanged(
                    field(0, offset_of!(KSSTREAM_HEADER, FrameExtent)),
                    "an empty header's stamp",
                );
                unchanged(
                    field(offset_of!(KSSTREAM_HEADER, OptionsFlags), 4),
                    "an empty header's OptionsFlags",
                );
                if frame_info {
                    unchanged(field(HEADER, FRAME_INFO), "an empty header's KS_FRAME_INFO");
                }
            } else if frame_info {
                // The pin writes ExtendedHeaderSize, dwFrameFlags, PictureNumber and DropCount;
                // the rest of the KS_FRAME_INFO (lSurfacePitch included) is the client's.
                let written = offset_of!(KS_FRAME_INFO, DropCount) + 8;
                unchanged(
                    field(HEADER + written, FRAME_INFO - written),
                    "KS_FRAME_INFO past DropCount",
                );
            }
            // Past the header and its KS_FRAME_INFO, nothing is written.
            let known = HEADER + if frame_info { FRAME_INFO } else { 0 };
            if size > known {
                unchanged(
                    known..size,
                    "bytes past its KSSTREAM_HEADER and KS_FRAME_INFO",
                );
            }
            at += size;
        }
        Some(nt_success(status))
    }
}

/// The byte range of a field at `offset` of `len` bytes.
fn field(offset: usize, len: usize) -> Range<usize> {
    offset..offset + len
}

/// Panics if an 8-byte word of `output` the driver changed (from `input`) is a kernel address: in
/// the kernel half, inside a live pool block, or an allocator frame. (A word the client put
/// there itself, a kernel address it was refused for, comes back as it was.)
fn assert_no_kernel_address(kernel: &Kernel, frames: &[u64], input: &[u8], output: &[u8]) {
    let blocks = kernel.pool().outstanding();
    let words = output.chunks_exact(8).zip(input.chunks_exact(8));
    for (index, (word, sent)) in words.enumerate() {
        if word == sent {
            continue;
        }
        let value = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let in_pool = blocks
            .iter()
            .any(|b| (b.address as u64..b.address as u64 + b.size as u64).contains(&value));
        assert!(
            value < KERNEL_SPACE && !in_pool && !frames.contains(&value),
            "a user-mode read's output holds the kernel address {value:#x} at byte {}",
            index * 8
        );
    }
}
