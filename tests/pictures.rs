//! What the delivered frames contain: the 75% colour bars checked per pixel format against
//! BT.601 values computed here (not taken from the camera core).

mod common;

use avcam_avstream::PixelFormat;
use common::*;

/// BT.601 limited range Y, Cb, Cr and full-range R, G, B of a bar.
fn expected(bar: (f64, f64, f64)) -> ([u8; 3], [u8; 3]) {
    let (r, g, b) = (0.75 * bar.0, 0.75 * bar.1, 0.75 * bar.2);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = (b - y) / 1.772;
    let cr = (r - y) / 1.402;
    let ycc = [
        (16.0 + 219.0 * y).round() as u8,
        (128.0 + 224.0 * cb).round() as u8,
        (128.0 + 224.0 * cr).round() as u8,
    ];
    let rgb = [
        (255.0 * r).round() as u8,
        (255.0 * g).round() as u8,
        (255.0 * b).round() as u8,
    ];
    (ycc, rgb)
}

/// The pixel at picture (x, y) of a frame: YCbCr for the YUV formats, RGB for the RGB ones.
fn pixel(
    pixel: PixelFormat,
    frame: &[u8],
    width: usize,
    height: usize,
    x: usize,
    y: usize,
) -> [u8; 3] {
    match pixel {
        PixelFormat::Nv12 => {
            let chroma = width * height + (y / 2) * width + (x & !1);
            [frame[y * width + x], frame[chroma], frame[chroma + 1]]
        }
        PixelFormat::Yuy2 => {
            let pair = y * width * 2 + (x & !1) * 2;
            [
                frame[y * width * 2 + x * 2],
                frame[pair + 1],
                frame[pair + 3],
            ]
        }
        PixelFormat::Rgb32 | PixelFormat::Rgb24 => {
            // Bottom-up DIB rows, BGR(A) bytes.
            let bpp = if pixel == PixelFormat::Rgb32 { 4 } else { 3 };
            let stride = (width * bpp).next_multiple_of(4);
            let at = (height - 1 - y) * stride + x * bpp;
            [frame[at + 2], frame[at + 1], frame[at]]
        }
    }
}

/// Checks the seven bars of picture row `height / 2` of `frame`.
fn assert_bars(format: PixelFormat, frame: &[u8], width: usize, height: usize, path: &str) {
    let row = height / 2;
    for (i, &bar) in BARS.iter().enumerate() {
        let x = (2 * i + 1) * width / 14;
        let (ycc, rgb) = expected(bar);
        let want = match format {
            PixelFormat::Nv12 | PixelFormat::Yuy2 => ycc,
            PixelFormat::Rgb32 | PixelFormat::Rgb24 => rgb,
        };
        assert_eq!(
            pixel(format, frame, width, height, x, row),
            want,
            "{format:?} bar {i} ({path})"
        );
    }
}

#[test]
fn colour_bars_match_bt601_in_every_format_on_both_frame_paths() {
    for format in PixelFormat::ALL {
        let kernel = kernel();
        let video = qvga(format);
        let (width, height) = (video.size().width as usize, video.size().height as usize);
        // Copy mode: a user-mode application's buffer.
        let app = user_camera(&kernel);
        let pin = running_pin(&app, &video);
        let read = pin.read(video.image_size() as usize);
        advance_to(&kernel, kernel.clock().now_100ns() + 1);
        let frame = read.wait(WAIT).expect("a frame");
        assert_eq!(frame.data.len(), video.image_size() as usize);
        assert_bars(format, &frame.data, width, height, "copy");
        pin.close().unwrap();
        app.close().unwrap();
        // Allocator mode: a kernel-mode consumer's allocator frame.
        let camera = camera(&kernel);
        let pin = running_pin(&camera, &video);
        let allocator = pin.create_frame_allocator().unwrap();
        let read = pin.read_into_frame(allocator.take_frame().unwrap());
        advance_to(&kernel, kernel.clock().now_100ns() + 1);
        let frame = read.wait(WAIT).expect("a frame");
        let held = frame.frame.expect("the allocator frame");
        let bytes = allocator
            .frame_bytes(&held, frame.header.DataUsed as usize)
            .unwrap();
        assert_eq!(bytes.len(), video.image_size() as usize);
        assert_bars(format, bytes, width, height, "allocator");
        allocator.give_back(held).unwrap();
        allocator.close().unwrap();
        pin.close().unwrap();
        camera.close().unwrap();
        kernel.unload_driver();
        kernel.assert_no_leaks();
    }
}
