//! Exact frame rates: a rational number of frames per second, and the time of frame `n` in
//! 100 ns units computed with integers, so 30000/1001 fps or 60 fps (166666.67 units) never
//! accumulate error: frame `n` is at `floor(n * 10^7 * den / num)`, always from frame 0.

/// 100 ns units per second (`REFERENCE_TIME` scale).
pub const HNS_PER_SECOND: u64 = 10_000_000;

/// A frame rate of `num / den` frames per second; both non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRate {
    num: u32,
    den: u32,
}

impl FrameRate {
    /// `num / den` frames per second; `None` if either is zero.
    pub const fn new(num: u32, den: u32) -> Option<FrameRate> {
        if num == 0 || den == 0 {
            None
        } else {
            Some(FrameRate { num, den })
        }
    }

    /// A whole number of frames per second (at least 1).
    pub const fn per_second(fps: u32) -> FrameRate {
        FrameRate {
            num: if fps == 0 { 1 } else { fps },
            den: 1,
        }
    }

    /// The numerator (frames).
    pub const fn num(self) -> u32 {
        self.num
    }

    /// The denominator (seconds).
    pub const fn den(self) -> u32 {
        self.den
    }

    /// The rate a client means by an integer `AvgTimePerFrame` (100 ns units), which is the
    /// exact interval rounded or truncated. The rule, in order:
    /// 1. a whole rate `f` whose exact interval `10^7 / f` is within one unit of `avg`
    ///    (333333 and 333334 are 30 fps, 166666 and 166667 are 60 fps);
    /// 2. an NTSC rate `f * 1000 / 1001` within one unit (333667 is 30000/1001);
    /// 3. otherwise exactly `10^7 / avg` frames per second.
    ///
    /// `None` for a zero or negative interval, or one beyond `u32::MAX`.
    pub fn from_interval(avg: i64) -> Option<FrameRate> {
        let avg = u32::try_from(avg).ok().filter(|a| *a > 0)?;
        let avg64 = u64::from(avg);
        // 1: whole rates. |avg * f - 10^7| < f  <=>  |avg - 10^7 / f| < 1.
        let whole = (HNS_PER_SECOND + avg64 / 2) / avg64;
        if whole >= 1 && (avg64 * whole).abs_diff(HNS_PER_SECOND) < whole {
            return FrameRate::new(u32::try_from(whole).ok()?, 1);
        }
        // 2: NTSC rates f * 1000 / 1001: interval = 10^7 * 1001 / (1000 f).
        let ntsc_num = HNS_PER_SECOND * 1001;
        let ntsc = (ntsc_num + avg64 * 500) / (avg64 * 1000);
        if ntsc >= 1 && (avg64 * 1000 * ntsc).abs_diff(ntsc_num) < 1000 * ntsc {
            if let Ok(num) = u32::try_from(ntsc * 1000) {
                return FrameRate::new(num, 1001);
            }
        }
        // 3: exact.
        FrameRate::new(HNS_PER_SECOND as u32, avg)
    }

    /// The interval truncated to 100 ns units: what `AvgTimePerFrame` reports (333333 for 30).
    pub const fn interval_hns(self) -> i64 {
        (HNS_PER_SECOND * self.den as u64 / self.num as u64) as i64
    }

    /// The time of frame `n` after frame 0, in 100 ns units: `floor(n * 10^7 * den / num)`,
    /// exact for any `n` (saturating at `i64::MAX`).
    pub const fn time_of_frame(self, n: u64) -> i64 {
        let t = n as u128 * HNS_PER_SECOND as u128 * self.den as u128 / self.num as u128;
        if t > i64::MAX as u128 {
            i64::MAX
        } else {
            t as i64
        }
    }

    /// How many frames have started by time `t` (frames `n` with `time_of_frame(n) <= t`):
    /// `ceil((t + 1) * num / (10^7 * den))` for `t >= 0`, else 0.
    pub const fn frames_started_by(self, t: i64) -> u64 {
        if t < 0 {
            return 0;
        }
        let scaled = (t as u128 + 1) * self.num as u128;
        let unit = HNS_PER_SECOND as u128 * self.den as u128;
        let frames = scaled.div_ceil(unit);
        if frames > u64::MAX as u128 {
            u64::MAX
        } else {
            frames as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_intervals_map_to_the_rates_they_mean() {
        assert_eq!(FrameRate::from_interval(333_333), FrameRate::new(30, 1));
        assert_eq!(FrameRate::from_interval(333_334), FrameRate::new(30, 1));
        assert_eq!(FrameRate::from_interval(166_666), FrameRate::new(60, 1));
        assert_eq!(FrameRate::from_interval(166_667), FrameRate::new(60, 1));
        assert_eq!(FrameRate::from_interval(10_000), FrameRate::new(1000, 1));
        assert_eq!(FrameRate::from_interval(10_000_000), FrameRate::new(1, 1));
        assert_eq!(
            FrameRate::from_interval(333_667),
            FrameRate::new(30_000, 1001)
        );
        assert_eq!(
            FrameRate::from_interval(417_083),
            FrameRate::new(24_000, 1001)
        );
        assert_eq!(
            FrameRate::from_interval(166_833),
            FrameRate::new(60_000, 1001)
        );
        // 41_709 is 0.67 units from 240000/1001's 41708.33: a rate whose quotient rounds up.
        assert_eq!(
            FrameRate::from_interval(41_709),
            FrameRate::new(240_000, 1001)
        );
        // Exactly one unit from 1000 fps's 10_000 is not "within one unit": the exact rate.
        assert_eq!(
            FrameRate::from_interval(10_001),
            FrameRate::new(10_000_000, 10_001)
        );
        // ... and exactly one unit from 500000/1001's 20_020 neither.
        assert_eq!(
            FrameRate::from_interval(20_021),
            FrameRate::new(10_000_000, 20_021)
        );
        // 333_000 is none of those: exactly 10^7 / 333000 fps.
        assert_eq!(
            FrameRate::from_interval(333_000),
            FrameRate::new(10_000_000, 333_000)
        );
        let ntsc = FrameRate::new(30_000, 1001).unwrap();
        assert_eq!((ntsc.num(), ntsc.den()), (30_000, 1001));
        assert_eq!(FrameRate::from_interval(0), None);
        assert_eq!(FrameRate::from_interval(-5), None);
    }

    #[test]
    fn reported_interval_truncates() {
        assert_eq!(FrameRate::per_second(30).interval_hns(), 333_333);
        assert_eq!(FrameRate::per_second(60).interval_hns(), 166_666);
        assert_eq!(
            FrameRate::new(30_000, 1001).unwrap().interval_hns(),
            333_666
        );
    }

    #[test]
    fn frame_times_land_exactly_on_whole_seconds() {
        let r = FrameRate::per_second(60);
        assert_eq!(r.time_of_frame(1), 166_666);
        assert_eq!(r.time_of_frame(2), 333_333);
        assert_eq!(r.time_of_frame(3), 500_000);
        assert_eq!(r.time_of_frame(60 * 3600), 3600 * 10_000_000);
        let ntsc = FrameRate::new(30_000, 1001).unwrap();
        // 30000 frames take exactly 1001 seconds.
        assert_eq!(ntsc.time_of_frame(30_000), 1001 * 10_000_000);
    }

    #[test]
    fn frames_started_by_inverts_time_of_frame() {
        for r in [
            FrameRate::per_second(30),
            FrameRate::per_second(60),
            FrameRate::per_second(7),
            FrameRate::new(30_000, 1001).unwrap(),
            FrameRate::new(10_000_000, 333_000).unwrap(),
        ] {
            assert_eq!(r.frames_started_by(-1), 0);
            assert_eq!(r.frames_started_by(0), 1);
            for n in 1..2000u64 {
                let t = r.time_of_frame(n);
                assert_eq!(r.frames_started_by(t), n + 1, "{r:?} n={n}");
                assert_eq!(r.frames_started_by(t - 1), n, "{r:?} n={n}");
            }
        }
        // 2^63 x 2^32 / 10^7 frames do not fit a u64: the count saturates, never wraps.
        let fastest = FrameRate::new(u32::MAX, 1).unwrap();
        assert_eq!(fastest.frames_started_by(i64::MAX), u64::MAX);
        // ... and the time of the last frame at 1 fps saturates at i64::MAX.
        assert_eq!(FrameRate::per_second(1).time_of_frame(u64::MAX), i64::MAX);
    }
}
