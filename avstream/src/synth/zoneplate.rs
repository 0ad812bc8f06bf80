//! The moving zone plate: concentric rings around the picture's centre whose spatial frequency
//! rises with the radius (the phase grows with `r^2`) up to half a cycle per pixel, the Nyquist
//! limit, at half the picture's larger side, with aliasing rings beyond it, in the corners. The
//! phase drifts by 1/64 of a cycle per frame, so the rings move: what a scaler or codec test
//! wants (every frequency, every orientation, motion).
//!
//! Each pixel is an index into a 256-step grey table ([`ZONE_GREY`], `round(127.5 + 127.5
//! cos(2 pi i / 256))`), turned into bytes through a table built with the picture controls
//! applied (`Synthesizer`'s zone look-up table). Unlike the other patterns it is computed per
//! pixel and frame (no row templates): a multiply-add and two look-ups per pixel.

/// Phase steps per frame (of 256 per cycle).
pub const ZONE_SPEED: u64 = 4;

/// The grey of each of the 256 phase steps: `round(127.5 + 127.5 cos(2 pi i / 256))`.
pub const ZONE_GREY: [u8; 256] = [
    255, 255, 255, 255, 254, 254, 254, 253, 253, 252, 251, 250, 250, 249, 248, 246, 245, 244, 243,
    241, 240, 238, 237, 235, 234, 232, 230, 228, 226, 224, 222, 220, 218, 215, 213, 211, 208, 206,
    203, 201, 198, 196, 193, 190, 188, 185, 182, 179, 176, 173, 170, 167, 165, 162, 158, 155, 152,
    149, 146, 143, 140, 137, 134, 131, 128, 124, 121, 118, 115, 112, 109, 106, 103, 100, 97, 93,
    90, 88, 85, 82, 79, 76, 73, 70, 67, 65, 62, 59, 57, 54, 52, 49, 47, 44, 42, 40, 37, 35, 33, 31,
    29, 27, 25, 23, 21, 20, 18, 17, 15, 14, 12, 11, 10, 9, 7, 6, 5, 5, 4, 3, 2, 2, 1, 1, 1, 0, 0,
    0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 5, 6, 7, 9, 10, 11, 12, 14, 15, 17, 18, 20, 21, 23, 25,
    27, 29, 31, 33, 35, 37, 40, 42, 44, 47, 49, 52, 54, 57, 59, 62, 65, 67, 70, 73, 76, 79, 82, 85,
    88, 90, 93, 97, 100, 103, 106, 109, 112, 115, 118, 121, 124, 127, 131, 134, 137, 140, 143, 146,
    149, 152, 155, 158, 162, 165, 167, 170, 173, 176, 179, 182, 185, 188, 190, 193, 196, 198, 201,
    203, 206, 208, 211, 213, 215, 218, 220, 222, 224, 226, 228, 230, 232, 234, 235, 237, 238, 240,
    241, 243, 244, 245, 246, 248, 249, 250, 250, 251, 252, 253, 253, 254, 254, 254, 255, 255, 255,
];

/// The zone plate of a `width` x `height` picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonePlate {
    /// Picture columns.
    pub width: usize,
    /// Picture rows.
    pub height: usize,
    /// `128 x 2^32 / max(width, height)`: the phase (256 steps a cycle) is
    /// `(dx^2 + dy^2) x gain >> 32`, half a cycle per pixel at half the larger side.
    gain: u64,
}

impl ZonePlate {
    /// The zone plate of a picture.
    pub const fn new(width: usize, height: usize) -> ZonePlate {
        let side = if width > height { width } else { height };
        let side = if side > 0 { side } else { 1 };
        ZonePlate {
            width,
            height,
            gain: (128u64 << 32) / side as u64,
        }
    }

    /// The grey-table index of picture pixel `(x, y)` at frame `picture_number`.
    pub fn index(&self, x: usize, y: usize, picture_number: u64) -> u8 {
        let dx = x as i64 - (self.width / 2) as i64;
        let dy = y as i64 - (self.height / 2) as i64;
        let r2 = (dx * dx + dy * dy) as u64;
        let phase = ((r2 * self.gain) >> 32).wrapping_add(picture_number.wrapping_mul(ZONE_SPEED));
        (phase & 0xFF) as u8
    }

    /// Calls `put(column, phase)` for every pixel of picture row `y`, left to right, the column
    /// mirrored when `mirror` (the horizontal flip); the phase indexes [`ZONE_GREY`].
    pub fn row(&self, y: usize, picture_number: u64, mirror: bool, mut put: impl FnMut(usize, u8)) {
        let dy = y as i64 - (self.height / 2) as i64;
        let dy2 = (dy * dy) as u64;
        let motion = picture_number.wrapping_mul(ZONE_SPEED);
        let left = (self.width / 2) as i64;
        for x in 0..self.width {
            let dx = x as i64 - left;
            let r2 = (dx * dx) as u64 + dy2;
            let phase = ((r2 * self.gain) >> 32).wrapping_add(motion);
            put(
                if mirror { self.width - 1 - x } else { x },
                (phase & 0xFF) as u8,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grey_table_is_a_cosine() {
        for (i, &g) in ZONE_GREY.iter().enumerate() {
            let exact = 127.5 + 127.5 * (2.0 * core::f64::consts::PI * i as f64 / 256.0).cos();
            assert!((f64::from(g) - exact).abs() <= 0.5 + 1e-9, "{i}");
        }
    }

    #[test]
    fn rings_are_centred_in_landscape_and_portrait_pictures() {
        // Portrait too: in a landscape picture an off-centre column shifts every phase by a
        // whole number of cycles (the gain follows the width), which would hide it.
        for (w, h) in [(640, 480), (1080, 1920)] {
            let z = ZonePlate::new(w, h);
            let (cx, cy) = (w / 2, h / 2);
            assert_eq!(z.index(cx, cy, 0), 0, "{w}x{h}: phase 0 at the centre");
            for d in [1, 7, 100, cy - 1] {
                let d = d.min(cx - 1);
                assert_eq!(
                    z.index(cx + d, cy, 3),
                    z.index(cx - d, cy, 3),
                    "{w}x{h} dx {d}"
                );
                assert_eq!(
                    z.index(cx, cy + d, 3),
                    z.index(cx, cy - d, 3),
                    "{w}x{h} dy {d}"
                );
            }
            for y in [0, 77, cy, h - 1] {
                let mut row = std::vec![0u8; w];
                z.row(y, 9, false, |x, phase| row[x] = phase);
                assert!(
                    (0..w).all(|x| row[x] == z.index(x, y, 9)),
                    "{w}x{h} row {y}"
                );
            }
        }
    }

    #[test]
    fn rings_reach_half_a_cycle_per_pixel_at_half_the_side_and_move() {
        let z = ZonePlate::new(640, 480);
        let phase = |x: usize| u64::from(z.index(x, 240, 0));
        // Near the centre the phase hardly moves from pixel to pixel ...
        assert!((phase(321) + 256 - phase(320)) % 256 <= 1);
        // ... at half the side it moves by about 128 steps (half a cycle) per pixel.
        let step = (phase(639) + 256 - phase(638)) % 256;
        assert!((120..=136).contains(&step), "{step}");
        // The next frame shifts every phase by the speed.
        assert_eq!(
            u64::from(z.index(100, 100, 1)),
            (u64::from(z.index(100, 100, 0)) + ZONE_SPEED) % 256
        );
        let mut row = [0u8; 640];
        z.row(77, 9, false, |x, phase| row[x] = phase);
        assert!((0..640).all(|x| row[x] == z.index(x, 77, 9)));
        z.row(77, 9, true, |x, phase| row[x] = phase);
        assert!((0..640).all(|x| row[639 - x] == z.index(x, 77, 9)));
    }
}
