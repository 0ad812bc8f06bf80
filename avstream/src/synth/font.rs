//! The burnt-in text's font and lines: the public-domain 8x8 font of the `font8x8` crate (every
//! printable ASCII character, so a user's caption reads too), and the fixed-width text of the
//! counter lines.
//!
//! A glyph here is eight rows of eight bits, bit 7 the leftmost pixel (`font8x8` stores bit 0
//! leftmost: each row is bit-reversed once, at compile time).

/// Width and height of a cell in font pixels.
pub const CELL: usize = 8;

/// The 8x8 cell of every ASCII code (`font8x8::legacy::BASIC_LEGACY`, bit 7 leftmost; blank for
/// control characters).
pub const FONT: [[u8; CELL]; 128] = {
    let mut font = [[0u8; CELL]; 128];
    let mut i = 0;
    while i < 128 {
        let mut r = 0;
        while r < CELL {
            font[i][r] = font8x8::legacy::BASIC_LEGACY[i][r].reverse_bits();
            r += 1;
        }
        i += 1;
    }
    font
};

/// The cell of `ch` (blank for unknown characters).
pub const fn glyph(ch: u8) -> &'static [u8; CELL] {
    &FONT[(ch & 0x7F) as usize]
}

/// Characters per overlay line.
pub const TEXT_COLUMNS: usize = 16;
/// Counter lines (`FRAME`, `T`, `DROP`); the caption is the line after them.
pub const TEXT_LINES: usize = 3;
/// Characters of the caption line (an `AVCAM_CAPTION` without its NUL).
pub const CAPTION_COLUMNS: usize = 31;

/// The overlay text: `FRAME nnnnnnnnnn` (picture number mod 10^10), `T hh:mm:ss.mmm` (the
/// stream time, hours mod 100), `DROP nnnnnnnnnnn` (drop count mod 10^11).
pub fn overlay_text(
    picture_number: u64,
    stream_time: i64,
    drop_count: u64,
) -> [[u8; TEXT_COLUMNS]; TEXT_LINES] {
    let mut lines = [[b' '; TEXT_COLUMNS]; TEXT_LINES];
    lines[0][..6].copy_from_slice(b"FRAME ");
    write_decimal(&mut lines[0][6..], picture_number);
    let ms = u64::try_from(stream_time / 10_000).unwrap_or(0);
    lines[1][..2].copy_from_slice(b"T ");
    write_decimal(&mut lines[1][2..4], ms / 3_600_000);
    lines[1][4] = b':';
    write_decimal(&mut lines[1][5..7], ms / 60_000 % 60);
    lines[1][7] = b':';
    write_decimal(&mut lines[1][8..10], ms / 1000 % 60);
    lines[1][10] = b'.';
    // The milliseconds: write_decimal keeps the last three digits.
    write_decimal(&mut lines[1][11..14], ms);
    lines[2][..5].copy_from_slice(b"DROP ");
    write_decimal(&mut lines[2][5..], drop_count);
    lines
}

/// Writes `value` in decimal, zero-padded, keeping the last `out.len()` digits.
fn write_decimal(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_read_as_expected() {
        // 1 h 2 min 3.456 s.
        let t = (3_723_456i64) * 10_000;
        let lines = overlay_text(123, t, 7);
        assert_eq!(&lines[0], b"FRAME 0000000123");
        assert_eq!(&lines[1], b"T 01:02:03.456  ");
        assert_eq!(&lines[2], b"DROP 00000000007");
        // Wraps rather than overflowing.
        assert_eq!(&overlay_text(12_345_678_901, 0, 0)[0], b"FRAME 2345678901");
    }

    #[test]
    fn every_printable_character_has_a_distinct_glyph() {
        for a in b'!'..=b'~' {
            assert_ne!(glyph(a), &[0u8; 8], "{}", a as char);
            for b in a + 1..=b'~' {
                assert_ne!(glyph(a), glyph(b), "{} vs {}", a as char, b as char);
            }
        }
        assert_eq!(glyph(b' '), &[0u8; 8]);
        // Bit 7 is the leftmost pixel: the vertical bar of 'L' is on the left.
        assert!(glyph(b'L').iter().take(6).all(|row| row & 0xC0 != 0));
    }
}
