//! Fuzz body over the camera's byte parsers (`avcam_avstream`): `VideoFormat::parse`,
//! `best_match` / `intersect` and `PinConnect::parse`.
//!
//! Input: one selector byte, then:
//! - 0 format: the rest is a `KS_DATAFORMAT_VIDEOINFOHEADER` candidate;
//! - 1 intersection: a u16 output length (mod 256), the rest is the client's range;
//! - 2 pin connect: a byte (the filter's pin count, mod 4), the rest is `KSPIN_CONNECT` + format.
//!
//! Invariants: nothing panics; every error is a failure NTSTATUS; an accepted format is in an
//! offered range at an allowed rate, is what its bytes say (subtype, size, interval) and
//! re-serialises to bytes that parse to the same format; an intersection answers a format that
//! parses back and honours every constraint of the client's range, with the KS size protocol;
//! a pin connect names an existing pin and carries the format its tail parses to.

use avcam_avstream::connect::PIN_CONNECT_SIZE;
use avcam_avstream::format::VIDEO_FORMAT_SIZE;
use avcam_avstream::intersect::{best_match, intersect, ClientRange};
use avcam_avstream::ranges::CAPTURE_RANGES;
use avcam_avstream::{Error, PinConnect, VideoFormat};
use ks::video::KS_DATAFORMAT_VIDEOINFOHEADER;
use zerocopy::{FromBytes, IntoBytes};

use crate::input::Input;

/// The body: see the module docs for the input layout.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => format(input.rest()),
        1 => {
            let output_len = usize::from(input.u16() % 256);
            intersection(input.rest(), output_len);
        }
        _ => {
            let pin_count = u32::from(input.byte() % 4);
            pin_connect(input.rest(), pin_count);
        }
    }
}

fn assert_failure(error: &Error) {
    assert!(error.status() < 0, "{error} maps to a failure status");
}

/// What every format the camera agrees to must satisfy.
fn assert_offered(format: &VideoFormat) {
    assert!(CAPTURE_RANGES.contains(&format.range()), "{format:?}");
    assert!(
        format.range().allows_interval(format.interval()),
        "{format:?}"
    );
    let ks = format.to_ks();
    assert_eq!(ks.DataFormat.FormatSize as usize, VIDEO_FORMAT_SIZE);
    assert_eq!(
        ks.VideoInfoHeader.bmiHeader.biSizeImage,
        format.image_size()
    );
    assert_eq!(
        VideoFormat::parse(ks.as_bytes()),
        Ok(*format),
        "re-serialised"
    );
}

fn format(bytes: &[u8]) {
    match VideoFormat::parse(bytes) {
        Ok(parsed) => {
            assert_offered(&parsed);
            let (given, _) = KS_DATAFORMAT_VIDEOINFOHEADER::read_from_prefix(bytes)
                .expect("an accepted format is whole");
            let ours = parsed.to_ks();
            assert_eq!(given.DataFormat.MajorFormat, ours.DataFormat.MajorFormat);
            assert_eq!(given.DataFormat.SubFormat, ours.DataFormat.SubFormat);
            assert_eq!(given.DataFormat.Specifier, ours.DataFormat.Specifier);
            let (g, o) = (&given.VideoInfoHeader, &ours.VideoInfoHeader);
            assert_eq!(g.AvgTimePerFrame, o.AvgTimePerFrame);
            assert_eq!(
                (g.bmiHeader.biWidth, g.bmiHeader.biHeight),
                (o.bmiHeader.biWidth, o.bmiHeader.biHeight)
            );
            assert_eq!(g.bmiHeader.biSizeImage, o.bmiHeader.biSizeImage);
        }
        Err(error) => assert_failure(&error),
    }
}

fn intersection(client: &[u8], output_len: usize) {
    let matched = best_match(client);
    let mut out = vec![0x5Au8; output_len];
    let answered = intersect(client, &mut out);
    match matched {
        Ok(format) => {
            assert_offered(&format);
            let wanted = ClientRange::parse(client).expect("a matched range parses");
            if let Some(pixel) = wanted.format {
                assert_eq!(format.pixel_format(), pixel);
            }
            if let Some((width, height)) = wanted.size {
                let size = format.size();
                assert_eq!(i64::from(width), i64::from(size.width));
                assert_eq!(i64::from(height).abs(), i64::from(size.height));
            }
            if let Some(interval) = wanted.interval {
                assert_eq!(format.interval(), interval);
            }
            if let Some((lo, hi)) = wanted.interval_window {
                assert!((lo..=hi).contains(&format.interval()), "{format:?}");
            }
            match answered {
                Ok(written) => {
                    assert_eq!(written, VIDEO_FORMAT_SIZE);
                    assert_eq!(VideoFormat::parse(&out[..written]), Ok(format));
                }
                Err(Error::SizeQuery { needed }) => {
                    assert_eq!((output_len, needed), (0, VIDEO_FORMAT_SIZE));
                }
                Err(Error::BufferTooSmall { len, needed }) => {
                    assert_eq!((len, needed), (output_len, VIDEO_FORMAT_SIZE));
                    assert!(output_len < VIDEO_FORMAT_SIZE);
                    assert!(out.iter().all(|&b| b == 0x5A), "nothing written");
                }
                Err(other) => panic!("a match answered {other}"),
            }
        }
        Err(error) => {
            assert_failure(&error);
            assert_eq!(
                answered,
                Err(error),
                "no match is decided before the buffer"
            );
            assert!(out.iter().all(|&b| b == 0x5A), "nothing written");
        }
    }
}

fn pin_connect(bytes: &[u8], pin_count: u32) {
    match PinConnect::parse(bytes, pin_count) {
        Ok(connect) => {
            assert!(connect.pin_id < pin_count);
            assert_eq!(
                VideoFormat::parse(&bytes[PIN_CONNECT_SIZE..]),
                Ok(connect.format)
            );
            assert_offered(&connect.format);
        }
        Err(error) => assert_failure(&error),
    }
}
