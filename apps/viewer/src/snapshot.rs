//! PNG snapshots: RGB8 pictures encoded with the `png` crate, written atomically.

use std::io::Write;
use std::path::Path;

use crate::atomic::AtomicFile;
use crate::error::ViewerError;

/// Encodes `rgb` (`width * height * 3` bytes, top-down) as an 8-bit RGB PNG into `out`.
pub fn encode_png(
    out: impl Write,
    width: u32,
    height: u32,
    rgb: &[u8],
) -> Result<(), png::EncodingError> {
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()
}

/// Writes `rgb` as a PNG at `path` (named by command-line `option`), whole or not at all.
pub fn save_png(
    option: &'static str,
    path: &Path,
    width: u32,
    height: u32,
    rgb: &[u8],
) -> Result<(), ViewerError> {
    let mut file = AtomicFile::create(option, path)?;
    write_png_into(&mut file, width, height, rgb)?;
    file.commit()
}

/// Encodes into an already created [`AtomicFile`] (the caller commits it).
pub fn write_png_into(
    file: &mut AtomicFile,
    width: u32,
    height: u32,
    rgb: &[u8],
) -> Result<(), ViewerError> {
    let what = format!("PNG {}", file.target().display());
    encode_png(std::io::BufWriter::new(file), width, height, rgb).map_err(|error| match error {
        png::EncodingError::IoError(source) => ViewerError::io(what, source),
        other => ViewerError::io(what, std::io::Error::other(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_png_that_decodes_to_the_same_pixels() {
        let rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        let mut bytes = Vec::new();
        encode_png(&mut bytes, 2, 2, &rgb).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(
            (info.width, info.height, info.color_type),
            (2, 2, png::ColorType::Rgb)
        );
        assert_eq!(&pixels[..12], rgb);
    }

    #[test]
    fn a_wrong_buffer_size_is_an_error_not_a_file() {
        let dir = std::env::temp_dir().join(format!("avcam-viewer-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.png");
        assert!(save_png("--png", &path, 2, 2, &[0; 5]).is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
