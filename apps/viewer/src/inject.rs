//! `stress --inject SPEC`: the faults to ask the camera for (`PROPSETID_AVCAM_FAULTS`), and what
//! the viewer observed of them, frame by frame, to set against what the camera says it injected.
//!
//! SPEC is a comma list of `key=value`:
//!
//! | key | value | fault |
//! |---|---|---|
//! | `seed` | a number | the seed of every random decision (same seed, same faults) |
//! | `drop` | `P%` (0..=100, hundredths) | drop that share of frames |
//! | `burst` | `LEN/PERIOD` | drop LEN frames in a row every PERIOD |
//! | `delay` | a duration (<= 1 s) | complete every frame that late |
//! | `jitter` | a duration (<= 1 s) | plus a uniform random 0..=that |
//! | `spike` | `DUR/EVERY` (DUR <= 1 s) | plus DUR on every EVERY-th frame |
//! | `empty` | EVERY | deliver every EVERY-th frame empty (`DataUsed` 0) |
//! | `discontinuity` | EVERY | flag every EVERY-th frame a discontinuity |
//! | `time-offset`, `time-wrap` | durations | presentation times `(t + offset) mod wrap` |
//! | `picture-offset`, `picture-wrap` | numbers | picture numbers `(n + offset) mod wrap` |
//! | `stall` | `DUR@SECONDS` (DUR <= 10 s) | one stall of DUR, asked for SECONDS into the run |
//!
//! Durations are a number with `us`, `ms` or `s` (`2ms`, `1.5s`, `-20ms` for an offset).

use serde::Serialize;

use crate::camera::{FaultCounters, FaultPlan, Frame};
use crate::error::ViewerError;

/// The longest delay, jitter or spike the camera accepts (microseconds).
pub const MAX_DELAY_US: u64 = 1_000_000;
/// The longest stall the camera accepts (milliseconds).
pub const MAX_STALL_MS: u64 = 10_000;

/// What `--inject` asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Injection {
    /// The text given.
    pub spec: String,
    /// The plan for the whole run.
    pub plan: FaultPlan,
    /// One stall: its length (ms) and when to ask for it (seconds into the run).
    pub stall: Option<(u32, f64)>,
}

/// A bad `--inject`: one line naming the key and what it takes.
fn bad(message: String) -> ViewerError {
    ViewerError::BadArguments {
        message: format!("--inject: {message}"),
    }
}

/// A duration in 100 ns units (`2ms`, `500us`, `1.5s`, negative when `signed`).
fn duration_100ns(key: &str, text: &str, signed: bool) -> Result<i64, ViewerError> {
    let forms = || {
        bad(format!(
            "{key}={text}: a duration with us, ms or s, e.g. 2ms{}",
            if signed { " (may be negative)" } else { "" }
        ))
    };
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 10.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 10_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 10_000_000.0)
    } else {
        return Err(forms());
    };
    let value: f64 = number.trim().parse().map_err(|_| forms())?;
    if !value.is_finite() || (!signed && value < 0.0) || (value * scale).abs() > 9.0e18 {
        return Err(forms());
    }
    Ok((value * scale).round() as i64)
}

/// A duration of at most `max_us` microseconds, in microseconds.
fn micros(key: &str, text: &str, max_us: u64) -> Result<u32, ViewerError> {
    let us = duration_100ns(key, text, false)? / 10;
    if us as u64 > max_us {
        return Err(bad(format!("{key}={text}: at most {} ms", max_us / 1000)));
    }
    Ok(us as u32)
}

/// A whole number.
fn number<T: std::str::FromStr>(key: &str, text: &str, what: &str) -> Result<T, ViewerError> {
    text.trim()
        .parse()
        .map_err(|_| bad(format!("{key}={text}: {what}")))
}

/// `A/B` of two whole numbers.
fn pair<'t>(key: &str, text: &'t str, forms: &str) -> Result<(&'t str, &'t str), ViewerError> {
    text.split_once('/')
        .ok_or_else(|| bad(format!("{key}={text}: {forms}")))
}

/// The keys `--inject` takes.
pub const KEYS: &str = "seed, drop, burst, delay, jitter, spike, empty, discontinuity, \
                        time-offset, time-wrap, picture-offset, picture-wrap, stall";

/// Parses `--inject SPEC` (see the module docs); every value is checked against what the
/// camera accepts, so a bad one is a one-line usage error before anything streams.
pub fn parse(spec: &str) -> Result<Injection, ViewerError> {
    let mut plan = FaultPlan::default();
    let mut stall = None;
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| bad(format!("{item}: expected KEY=VALUE; keys: {KEYS}")))?;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "seed" => plan.Seed = number(key, value, "a number")?,
            "drop" => {
                let percent: f64 = value
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse().ok())
                    .filter(|p: &f64| (0.0..=100.0).contains(p))
                    .ok_or_else(|| bad(format!("drop={value}: a share 0%..=100%, e.g. 5%")))?;
                plan.DropBasisPoints = (percent * 100.0).round() as u32;
            }
            "burst" => {
                let forms = "LEN/PERIOD, 1 <= LEN <= PERIOD, e.g. 3/30";
                let (length, period) = pair(key, value, forms)?;
                let length: u32 = number(key, length, forms)?;
                let period: u32 = number(key, period, forms)?;
                if length == 0 || length > period {
                    return Err(bad(format!("burst={value}: {forms}")));
                }
                (plan.BurstLength, plan.BurstPeriod) = (length, period);
            }
            "delay" => plan.DelayMicroseconds = micros(key, value, MAX_DELAY_US)?,
            "jitter" => plan.JitterMicroseconds = micros(key, value, MAX_DELAY_US)?,
            "spike" => {
                let forms = "DUR/EVERY, e.g. 20ms/10";
                let (length, every) = pair(key, value, forms)?;
                let every: u32 = number(key, every, forms)?;
                let us = micros(key, length, MAX_DELAY_US)?;
                if every == 0 || us == 0 {
                    return Err(bad(format!("spike={value}: {forms}")));
                }
                (plan.SpikeMicroseconds, plan.SpikeEvery) = (us, every);
            }
            "empty" => plan.EmptyEvery = number(key, value, "every N-th frame, e.g. 10")?,
            "discontinuity" => {
                plan.DiscontinuityEvery = number(key, value, "every N-th frame, e.g. 10")?
            }
            "time-offset" => plan.TimeOffset = duration_100ns(key, value, true)?,
            "time-wrap" => {
                plan.TimeWrap = duration_100ns(key, value, false)? as u64;
            }
            "picture-offset" => plan.PictureOffset = number(key, value, "a whole number")?,
            "picture-wrap" => {
                let wrap: u64 = number(key, value, "a whole number")?;
                if wrap > i64::MAX as u64 {
                    return Err(bad(format!("picture-wrap={value}: too large")));
                }
                plan.PictureWrap = wrap;
            }
            "stall" => {
                let forms = "DUR@SECONDS, e.g. 200ms@1";
                let (length, at) = value
                    .split_once('@')
                    .ok_or_else(|| bad(format!("stall={value}: {forms}")))?;
                let ms = duration_100ns(key, length, false)? / 10_000;
                if ms == 0 || ms as u64 > MAX_STALL_MS {
                    return Err(bad(format!("stall={value}: 1 ms to 10 s, {forms}")));
                }
                let at: f64 = at
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| bad(format!("stall={value}: {forms}")))?;
                stall = Some((ms as u32, at));
            }
            other => return Err(bad(format!("unknown key {other:?}; keys: {KEYS}"))),
        }
    }
    Ok(Injection {
        spec: spec.into(),
        plan,
        stall,
    })
}

/// `a + b`, counter by counter.
pub fn sum(a: &FaultCounters, b: &FaultCounters) -> FaultCounters {
    FaultCounters {
        FramesDropped: a.FramesDropped + b.FramesDropped,
        FramesBurstDropped: a.FramesBurstDropped + b.FramesBurstDropped,
        FramesStallDropped: a.FramesStallDropped + b.FramesStallDropped,
        Stalls: a.Stalls + b.Stalls,
        FramesDelayed: a.FramesDelayed + b.FramesDelayed,
        DelayMicroseconds: a.DelayMicroseconds + b.DelayMicroseconds,
        FramesEmpty: a.FramesEmpty + b.FramesEmpty,
        FramesDiscontinuity: a.FramesDiscontinuity + b.FramesDiscontinuity,
        FramesTimeShifted: a.FramesTimeShifted + b.FramesTimeShifted,
        TimeWraps: a.TimeWraps + b.TimeWraps,
        FramesPictureShifted: a.FramesPictureShifted + b.FramesPictureShifted,
        PictureWraps: a.PictureWraps + b.PictureWraps,
        FailedPinCreates: a.FailedPinCreates + b.FailedPinCreates,
        FailedStateChanges: a.FailedStateChanges + b.FailedStateChanges,
        FailedAllocatorCreates: a.FailedAllocatorCreates + b.FailedAllocatorCreates,
    }
}

/// What the camera says it injected (`KSPROPERTY_AVCAM_FAULTS_COUNTERS` at the end of the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Injected {
    /// Frames dropped by the drop share.
    pub dropped: u64,
    /// Frames dropped in bursts.
    pub burst_dropped: u64,
    /// Frames dropped in stalls.
    pub stall_dropped: u64,
    /// Stalls.
    pub stalls: u64,
    /// Frames completed late.
    pub delayed: u64,
    /// Their mean delay in microseconds (`None` without one).
    pub delay_mean_us: Option<f64>,
    /// Frames delivered empty.
    pub empty: u64,
    /// Frames flagged a discontinuity.
    pub discontinuity: u64,
    /// Frames whose presentation time went backwards.
    pub time_wraps: u64,
    /// Frames whose picture number went backwards.
    pub picture_wraps: u64,
}

impl Injected {
    /// From the camera's counters.
    pub fn from_counters(c: &FaultCounters) -> Injected {
        Injected {
            dropped: c.FramesDropped,
            burst_dropped: c.FramesBurstDropped,
            stall_dropped: c.FramesStallDropped,
            stalls: c.Stalls,
            delayed: c.FramesDelayed,
            delay_mean_us: (c.FramesDelayed > 0)
                .then(|| c.DelayMicroseconds as f64 / c.FramesDelayed as f64),
            empty: c.FramesEmpty,
            discontinuity: c.FramesDiscontinuity,
            time_wraps: c.TimeWraps,
            picture_wraps: c.PictureWraps,
        }
    }

    /// Every frame dropped on purpose.
    pub fn all_dropped(&self) -> u64 {
        self.dropped + self.burst_dropped + self.stall_dropped
    }
}

/// What the viewer observed of the faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Frames missing: the first frame's `DropCount`, then the gaps between consecutive picture
    /// numbers (dropped by the camera, on purpose or not); 0 when picture numbers are shifted
    /// (they cannot tell).
    pub missing: u64,
    /// Frames that came empty (`DataUsed` 0).
    pub empty: u64,
    /// Frames flagged `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY`.
    pub discontinuity: u64,
    /// Frames whose presentation time went backwards.
    pub time_wraps: u64,
    /// Frames whose picture number went backwards.
    pub picture_wraps: u64,
    /// Frames that arrived at least 1 us after their presentation time, on the camera's clock
    /// (exact on the emulated backend unthrottled; `None` when the backend cannot tell or
    /// presentation times are shifted).
    pub late: Option<u64>,
    /// Their mean lateness in microseconds.
    pub late_mean_us: Option<f64>,
    /// The largest lateness in microseconds.
    pub late_max_us: Option<f64>,
}

/// The `faults` object of the stress report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultReport {
    /// `--inject` as given.
    pub spec: String,
    /// What the camera says it injected.
    pub injected: Injected,
    /// What the viewer observed.
    pub observed: Observed,
}

/// Notes the faults frame by frame, in bounded memory.
#[derive(Clone, Debug, Default)]
pub struct FaultObserver {
    observed: Observed,
    previous: Option<(Option<i64>, i64)>,
    late_total_us: f64,
    lateness_known: bool,
    shifts_time: bool,
    shifts_pictures: bool,
    draining: bool,
}

impl FaultObserver {
    /// An observer for `plan`; lateness is measured when frames carry their arrival time on the
    /// camera's clock (the first frame tells).
    pub fn new(plan: &FaultPlan) -> FaultObserver {
        let shifts_time = plan.TimeOffset != 0 || plan.TimeWrap != 0;
        FaultObserver {
            lateness_known: !shifts_time,
            shifts_time,
            shifts_pictures: plan.PictureOffset != 0 || plan.PictureWrap != 0,
            ..FaultObserver::default()
        }
    }

    /// From now on the frames are the drain's, after the plan ended: shifted times and
    /// picture numbers go back to the camera's own, a jump that is no wrap, so wraps of what
    /// the plan shifted are no longer counted.
    pub fn begin_drain(&mut self) {
        self.draining = true;
    }

    /// Notes one frame.
    pub fn record(&mut self, frame: &Frame<'_>) {
        let o = &mut self.observed;
        o.empty += u64::from(frame.is_empty());
        o.discontinuity += u64::from(frame.discontinuity);
        if let Some((time, picture)) = self.previous {
            if let (Some(before), Some(now)) = (time, frame.presentation_time) {
                if !(self.draining && self.shifts_time) {
                    o.time_wraps += u64::from(now < before);
                }
            }
            if frame.picture_number < picture {
                if !(self.draining && self.shifts_pictures) {
                    o.picture_wraps += 1;
                }
            } else if !self.shifts_pictures {
                o.missing += (frame.picture_number - picture).saturating_sub(1) as u64;
            }
        }
        if self.previous.is_none() && !self.shifts_pictures {
            // Frames dropped before the first one shows no gap: its DropCount says.
            o.missing += u64::try_from(frame.drop_count).unwrap_or(0);
        }
        self.previous = Some((frame.presentation_time, frame.picture_number));
        if let (true, Some(arrival), Some(time)) = (
            self.lateness_known,
            frame.arrival_time,
            frame.presentation_time,
        ) {
            let late_us = (arrival - time) as f64 / 10.0;
            if late_us >= 1.0 {
                *o.late.get_or_insert(0) += 1;
                self.late_total_us += late_us;
                o.late_max_us = Some(o.late_max_us.map_or(late_us, |m: f64| m.max(late_us)));
            } else {
                o.late.get_or_insert(0);
            }
        }
    }

    /// The report, with what the camera said it injected.
    pub fn report(&self, injection: &Injection, counters: &FaultCounters) -> FaultReport {
        let mut observed = self.observed;
        observed.late_mean_us = observed
            .late
            .filter(|&n| n > 0)
            .map(|n| self.late_total_us / n as f64);
        FaultReport {
            spec: injection.spec.clone(),
            injected: Injected::from_counters(counters),
            observed,
        }
    }
}

/// The text lines of the report's faults section.
pub fn render_text(report: &FaultReport) -> String {
    let (i, o) = (&report.injected, &report.observed);
    let mut text = format!("  faults          --inject {}\n", report.spec);
    text += &format!(
        "    dropped       injected {} (share {}, bursts {}, stalls {} in {}), observed {} missing\n",
        i.all_dropped(),
        i.dropped,
        i.burst_dropped,
        i.stall_dropped,
        i.stalls,
        o.missing
    );
    let mean = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
    let late = o.late.map_or_else(|| "n/a".into(), |n| n.to_string());
    text += &format!(
        "    late          injected {} (mean {} us), observed {} (mean {} us, max {} us)\n",
        i.delayed,
        mean(i.delay_mean_us),
        late,
        mean(o.late_mean_us),
        mean(o.late_max_us)
    );
    text += &format!(
        "    empty         injected {}, observed {}\n    discontinuity injected {}, observed {}\n",
        i.empty, o.empty, i.discontinuity, o.discontinuity
    );
    text += &format!(
        "    wraps         time injected {} observed {}, picture injected {} observed {}\n",
        i.time_wraps, o.time_wraps, i.picture_wraps, o.picture_wraps
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_becomes_the_plan_in_the_cameras_units() {
        let injection = parse(
            "drop=5%, jitter=2ms,seed=7,burst=3/30,delay=500us,spike=20ms/10,empty=9,\
             discontinuity=11,time-offset=-1.5s,time-wrap=2s,picture-offset=-3,picture-wrap=1000,\
             stall=200ms@1.5",
        )
        .unwrap();
        let p = injection.plan;
        assert_eq!((p.Seed, p.DropBasisPoints), (7, 500));
        assert_eq!((p.BurstLength, p.BurstPeriod), (3, 30));
        assert_eq!((p.DelayMicroseconds, p.JitterMicroseconds), (500, 2000));
        assert_eq!((p.SpikeMicroseconds, p.SpikeEvery), (20_000, 10));
        assert_eq!((p.EmptyEvery, p.DiscontinuityEvery), (9, 11));
        assert_eq!((p.TimeOffset, p.TimeWrap), (-15_000_000, 20_000_000));
        assert_eq!((p.PictureOffset, p.PictureWrap), (-3, 1000));
        assert_eq!(injection.stall, Some((200, 1.5)));
        assert_eq!(parse("").unwrap().plan, FaultPlan::default());
    }

    #[test]
    fn bad_specs_are_one_line_usage_errors_naming_the_forms() {
        for (spec, words) in [
            ("drop=5", "0%..=100%"),
            ("drop=101%", "0%..=100%"),
            ("burst=5/3", "LEN <= PERIOD"),
            ("delay=2s", "at most 1000 ms"),
            ("jitter=5", "us, ms or s"),
            ("stall=20s@1", "1 ms to 10 s"),
            ("stall=20ms", "DUR@SECONDS"),
            ("wobble=1", "unknown key"),
            ("seed", "KEY=VALUE"),
            ("spike=1ms/0", "DUR/EVERY"),
        ] {
            let error = parse(spec).unwrap_err();
            let line = error.to_string();
            assert!(
                line.contains(words) && !line.contains('\n'),
                "{spec}: {line}"
            );
            assert_eq!(error.exit_code(), crate::EXIT_USAGE);
        }
    }
}
