//! Conversion throughput at 1080p per pixel format: frames per second of the window conversion
//! (to 0RGB), scaling into a 1280x720 window, Y4M writing and raw writing (into memory), next
//! to a plain copy of the frame's bytes measured in the same run (the memory-bandwidth bound).
//! "raw kept" is the raw writer `record --output -` uses, which keeps each frame packed to write
//! it again in the place of a missed one: its cost next to "raw" is that copy.
//!
//! Run: `cargo bench -p avcam-viewer --bench convert` (prints one line per format; each figure
//! is the best of four 250 ms rounds).

use std::hint::black_box;
use std::time::{Duration, Instant};

use avcam_viewer::camera::{Frame, FrameMemory, PixelFormat, Size};
use avcam_viewer::convert::{to_xrgb, Picture, Scaler};
use avcam_viewer::y4m::{write_raw_frame, RawWriter, Y4mWriter};

/// A writer that copies into a reused buffer (so writing costs what storing the bytes costs).
struct MemorySink {
    buffer: Vec<u8>,
    position: usize,
}

impl std::io::Write for MemorySink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.position + bytes.len() > self.buffer.len() {
            self.position = 0;
        }
        let end = (self.position + bytes.len()).min(self.buffer.len());
        let written = end - self.position;
        self.buffer[self.position..end].copy_from_slice(&bytes[..written]);
        self.position = end;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Measuring time of one round.
const ROUND: Duration = Duration::from_millis(250);
/// Rounds per figure; the best one is reported (the machine is shared: the best round is the
/// one least disturbed by other work).
const ROUNDS: usize = 4;

/// Runs `step` repeatedly for [`ROUNDS`] rounds of at least [`ROUND`]; returns the best round's
/// calls per second.
fn rate(mut step: impl FnMut()) -> f64 {
    step(); // warm up: buffers sized, caches touched
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < ROUND {
                step();
                calls += 1;
            }
            calls as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let (width, height) = (1920u32, 1080u32);
    println!("avcam-viewer conversions at {width}x{height}, frames per second (higher is better)");
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "format", "copy", "to 0RGB", "scale 720p", "Y4M", "raw", "raw kept"
    );
    for format in PixelFormat::ALL {
        let stride = format.row_bytes(width as usize);
        let len = stride * format.stored_rows(height as usize);
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let frame = Frame {
            pixel_format: format,
            width,
            height,
            stride,
            bottom_up: format.is_rgb(),
            data: &data,
            presentation_time: Some(0),
            duration: Some(333_333),
            picture_number: 0,
            drop_count: 0,
            memory: FrameMemory::PinAllocator,
            arrival_time: None,
            discontinuity: false,
        };
        let picture = Picture::new(&frame).unwrap();
        let mut copy = vec![0u8; len];
        let copy_rate = rate(|| {
            copy.copy_from_slice(black_box(&data));
            black_box(&copy);
        });
        let mut xrgb = Vec::new();
        let convert_rate = rate(|| {
            to_xrgb(black_box(&picture), &mut xrgb);
            black_box(&xrgb);
        });
        let mut window = vec![0u32; 1280 * 720];
        let mut scaler = Scaler::new();
        let scale_rate = rate(|| {
            scaler.scale(black_box(&xrgb), 1920, 1080, &mut window, 1280, 720);
            black_box(&window);
        });
        let memory = || MemorySink {
            buffer: vec![0; 4 * len],
            position: 0,
        };
        let mut y4m = Y4mWriter::new(memory(), format, Size::new(width, height), 30).unwrap();
        let y4m_rate = rate(|| {
            y4m.write_frame(black_box(&picture)).unwrap();
            black_box(&y4m);
        });
        let mut sink = memory();
        let raw_rate = rate(|| {
            write_raw_frame(&mut sink, black_box(&picture)).unwrap();
            black_box(&sink.buffer);
        });
        let mut kept = RawWriter::new(memory());
        let kept_rate = rate(|| {
            kept.write_frame(black_box(&picture)).unwrap();
            black_box(&kept);
        });
        println!(
            "{:<6} {copy_rate:>10.0} {convert_rate:>10.0} {scale_rate:>10.0} {y4m_rate:>10.0} {raw_rate:>10.0} {kept_rate:>10.0}",
            format.name()
        );
    }
}
