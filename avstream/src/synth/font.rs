//! A small built-in bitmap font for the burnt-in counters: 5x7 glyphs in 8x8 cells, ASCII
//! digits, a few capitals and punctuation; and the fixed-width text of the overlay lines.
//!
//! A glyph is eight rows of eight bits, bit 7 the leftmost pixel; the 5x7 shape sits in columns
//! 1..=5 and rows 0..=6, so neighbouring cells keep a gap.

/// Width and height of a cell in font pixels.
pub const CELL: usize = 8;

/// The 5x7 shapes (bit 4 leftmost) of the characters the overlay uses.
const SHAPES: [(u8, [u8; 7]); 24] = [
    (b'0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    (b'1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    (b'2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    (b'3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    (b'4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    (b'5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    (b'6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    (b'7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    (b'8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    (b'9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    (b':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    (b'.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (b'#', [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A]),
    (b'=', [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00]),
    (b'-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    (b'A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    (b'D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    (b'E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
    (b'F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    (b'M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    (b'O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    (b'P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    (b'R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    (b'T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
];

/// The 8x8 cell of every ASCII code (blank for characters without a shape).
pub const FONT: [[u8; CELL]; 128] = {
    let mut font = [[0u8; CELL]; 128];
    let mut i = 0;
    while i < SHAPES.len() {
        let (ch, rows) = SHAPES[i];
        let mut r = 0;
        while r < 7 {
            font[ch as usize][r] = rows[r] << 2;
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
/// Overlay lines.
pub const TEXT_LINES: usize = 3;

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
    write_decimal(&mut lines[1][11..14], ms % 1000);
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
    fn every_used_character_has_a_distinct_glyph() {
        for (i, (a, _)) in SHAPES.iter().enumerate() {
            assert_ne!(glyph(*a), &[0u8; 8], "{}", *a as char);
            assert_eq!(glyph(*a)[7], 0, "bottom row is the gap");
            for (b, _) in &SHAPES[i + 1..] {
                assert_ne!(glyph(*a), glyph(*b), "{} vs {}", *a as char, *b as char);
            }
        }
        assert_eq!(glyph(b' '), &[0u8; 8]);
    }
}
