//! `stress`: stream for T seconds, then report delivered fps, drops, interval jitter, on-time
//! share and allocator counters, as text or one JSON object, with an optional histogram PNG.
//! With `--inject SPEC` the camera injects faults ([`crate::inject`]) and the report sets what
//! it says it injected against what the viewer observed.
//!
//! The loop hands each frame's sample (presentation time, arrival on a monotonic clock, picture
//! number, drop count, memory kind) to a [`StressRecorder`], whose memory does not grow with the
//! run ([`crate::stats`]); the report is built after the stream stopped. `--seconds` is at most
//! [`crate::settings::MAX_SECONDS`]. A signal stops the run before the next frame: no report, no plot.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::sync::atomic::AtomicBool;

use crate::atomic::AtomicFile;
use crate::camera::{CameraError, Rate, Stream};
use crate::cli::{StreamArgs, StressArgs};
use crate::convert::Picture;
use crate::error::ViewerError;
use crate::inject::{self, FaultObserver};
use crate::interrupt;
use crate::output::Plan;
use crate::plot::{render_histogram, PLOT_HEIGHT, PLOT_WIDTH};
use crate::settings::{check_seconds, resolve, Resolved};
use crate::snapshot::write_png_into;
use crate::stats::{FrameSample, RunConfig, StressRecorder, StressReport};
use crate::{camera_error, open, with_stream, Context, OpenCamera};
use ks::status::STATUS_ACCESS_DENIED;

/// How often the progress bar is updated.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Runs `stress`.
pub fn run(
    stream_args: &StreamArgs,
    args: &StressArgs,
    open_camera: &mut OpenCamera<'_>,
    context: &mut Context<'_>,
) -> Result<(), ViewerError> {
    let run_for = check_seconds("--seconds", args.seconds)?;
    let report_name = if args.json {
        "the JSON report"
    } else {
        "the report"
    };
    crate::stdout::require_open(context.stdout, report_name)?;
    if let Some(path) = &args.plot {
        Plan::new().file("--plot", path, "png")?;
    }
    let plot = args
        .plot
        .as_ref()
        .map(|path| AtomicFile::create("--plot", path))
        .transpose()?;
    let injection = args.inject.as_deref().map(inject::parse).transpose()?;
    let (mut camera, info) = open(open_camera)?;
    let mut resolved = resolve(stream_args, &info, true)?;
    if let Some(injection) = &injection {
        resolved.config.faults = Some(injection.plan);
    }

    let progress = if context.stderr_is_terminal {
        let bar = ProgressBar::with_draw_target(
            Some(run_for.as_millis() as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} stress [{bar:40}] {elapsed}/{duration} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut recorder = StressRecorder::new(resolved.nominal_interval());
    let mut observer = injection
        .as_ref()
        .map(|injection| FaultObserver::new(&injection.plan));
    let stall = injection.as_ref().and_then(|i| i.stall);
    let stream = camera
        .start(&resolved.config)
        .map_err(|source| match source {
            CameraError::Request { status, .. }
                if injection.is_some() && status == STATUS_ACCESS_DENIED as u32 =>
            {
                ViewerError::Unsupported {
                    message: format!(
                        "--inject: the camera refuses fault injection: set the device's {} \
                     registry value to 1 (docs/viewer.md, \"Test your pipeline\")",
                        ks::avcam::AVCAM_FAULT_INJECTION_VALUE
                    ),
                }
            }
            source => ViewerError::Camera {
                during: "starting the stream",
                source,
            },
        })?;
    let start = Instant::now();
    let stop = context.stop;
    let collected = with_stream(stream, |stream| {
        let seconds = collect(
            stream,
            &resolved,
            Run {
                start,
                run_for,
                progress: &progress,
                stop,
                stall,
            },
            &mut recorder,
            observer.as_mut(),
        )?;
        match observer.as_mut() {
            Some(observer) => {
                let counters = drain(stream, &resolved, start, observer, &mut recorder)?;
                Ok((start.elapsed().as_secs_f64(), counters))
            }
            None => Ok((seconds, None)),
        }
    });
    progress.finish_and_clear();
    let ((seconds, counters), final_stats) = collected?;

    let config = &resolved.config;
    let run_config = RunConfig {
        device: info.name.clone(),
        pin: config.pin,
        format: config.pixel_format.name().into(),
        width: config.size.width,
        height: config.size.height,
        fps_requested: match config.rate {
            Rate::Fps(fps) => fps,
            Rate::Unthrottled => 0,
        },
        nominal_interval_us: resolved.nominal_interval().map(|i| i as f64 / 10.0),
        pattern: config.pattern.clone(),
        frame_path: config.frame_path.name().into(),
    };
    let mut report = recorder.report(run_config, seconds, &final_stats);
    if let (Some(injection), Some(observer)) = (&injection, &observer) {
        let counters = counters.ok_or_else(|| ViewerError::Unsupported {
            message: "--inject: the camera did not report what it injected".into(),
        })?;
        report.faults = Some(observer.report(injection, &counters));
    }

    if args.json {
        let mut json = serde_json::to_string_pretty(&report)
            .map_err(|e| ViewerError::io("the JSON report", e.into()))?;
        json.push('\n');
        context.stdout.write_all(json.as_bytes())
    } else {
        context.stdout.write_all(render_text(&report).as_bytes())
    }
    .and_then(|()| context.stdout.flush())
    .map_err(|e| ViewerError::stdout("the report to stdout", e))?;

    if let (Some(mut file), Some(path)) = (plot, args.plot.as_ref()) {
        let pixels = render_histogram(&report, recorder.arrival_intervals_ns(), path)?;
        write_png_into(&mut file, PLOT_WIDTH, PLOT_HEIGHT, &pixels)?;
        file.commit()?;
    }
    Ok(())
}

/// How long a run lasts and what happens in it.
struct Run<'a> {
    start: Instant,
    run_for: Duration,
    progress: &'a ProgressBar,
    stop: &'a AtomicBool,
    /// A stall to ask for: its length (ms) and when (seconds into the run).
    stall: Option<(u32, f64)>,
}

/// Pulls frames until `run.run_for` has passed since `run.start` or `run.stop` is set, asking
/// for the stall when its time comes; returns the seconds actually run.
fn collect(
    stream: &mut dyn Stream,
    resolved: &Resolved,
    mut run: Run<'_>,
    recorder: &mut StressRecorder,
    mut observer: Option<&mut FaultObserver>,
) -> Result<f64, ViewerError> {
    let timeout = resolved.frame_timeout();
    let mut next_progress = PROGRESS_EVERY;
    loop {
        let elapsed = run.start.elapsed();
        if interrupt::requested(run.stop) {
            return Err(ViewerError::Interrupted {
                progress: format!(
                    "after {:.1} of {:.1} s ({} frames)",
                    elapsed.as_secs_f64(),
                    run.run_for.as_secs_f64(),
                    recorder.frames()
                ),
            });
        }
        if elapsed >= run.run_for {
            return Ok(elapsed.as_secs_f64());
        }
        if elapsed >= next_progress {
            run.progress.set_position(elapsed.as_millis() as u64);
            run.progress
                .set_message(format!("{} frames", recorder.frames()));
            next_progress = elapsed + PROGRESS_EVERY;
        }
        if let Some((ms, at)) = run.stall {
            if elapsed.as_secs_f64() >= at {
                stream
                    .stall(ms)
                    .map_err(camera_error("asking for a stall"))?;
                run.stall = None;
            }
        }
        let frame = stream
            .next_frame(timeout)
            .map_err(camera_error("waiting for a frame"))?;
        let arrival = run.start.elapsed();
        // Validate the frame as any consumer would before touching its bytes (an empty frame
        // has none).
        if !frame.is_empty() {
            Picture::new(&frame)?;
        }
        if let Some(observer) = observer.as_deref_mut() {
            observer.record(&frame);
        }
        recorder.record(sample(&frame, arrival));
    }
}

/// The statistics' sample of `frame`, arrived `arrival` after the run started.
fn sample(frame: &crate::camera::Frame<'_>, arrival: Duration) -> FrameSample {
    FrameSample {
        presentation_time: frame.presentation_time,
        arrival_ns: u64::try_from(arrival.as_nanos()).unwrap_or(u64::MAX),
        picture_number: frame.picture_number,
        drop_count: frame.drop_count,
        memory: frame.memory,
        empty: frame.is_empty(),
    }
}

/// Frames pulled after the run to see the faults' tail: more than any backend keeps queued.
pub const DRAIN_FRAMES: usize = 8;

/// Ends the fault plan and pulls [`DRAIN_FRAMES`] more frames (part of the run: the report
/// counts them), so every fault injected during the run is seen (a drop shows only in the next
/// frame's picture number; frames already rendered wait in the queued reads); returns
/// everything the camera injected, before the plan ended and after (a frame it held back
/// completes late afterwards).
fn drain(
    stream: &mut dyn Stream,
    resolved: &Resolved,
    start: Instant,
    observer: &mut FaultObserver,
    recorder: &mut StressRecorder,
) -> Result<Option<crate::camera::FaultCounters>, ViewerError> {
    let during = stream
        .end_faults()
        .map_err(camera_error("ending the fault plan"))?;
    observer.begin_drain();
    for _ in 0..DRAIN_FRAMES {
        let frame = stream
            .next_frame(resolved.frame_timeout())
            .map_err(camera_error("waiting for a frame"))?;
        observer.record(&frame);
        recorder.record(sample(&frame, start.elapsed()));
    }
    let after = stream
        .fault_counters()
        .map_err(camera_error("reading the fault counters"))?;
    Ok(during.map(|during| inject::sum(&during, &after.unwrap_or_default())))
}

/// Formats microseconds compactly.
fn us(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The text report.
pub fn render_text(report: &StressReport) -> String {
    let config = &report.config;
    let rate = match config.fps_requested {
        0 => "unthrottled".to_string(),
        fps => format!("{fps} fps"),
    };
    let mut text = format!(
        "stress: {} {} {}x{} {}, pattern {}, {} frames, {:.2} s\n",
        config.device,
        config.format,
        config.width,
        config.height,
        rate,
        config.pattern,
        config.frame_path,
        report.seconds
    );
    text += &format!(
        "  delivered       {} frames, {:.1} fps\n",
        report.frames_delivered, report.fps_delivered
    );
    text += &format!(
        "  dropped         {} (last DropCount {}, picture-number gaps {})\n",
        report.frames_dropped, report.drop_count_last_frame, report.picture_number_gaps
    );
    for (name, intervals) in [
        ("presentation", &report.presentation),
        ("arrival", &report.arrival),
    ] {
        match intervals {
            Some(r) => {
                text += &format!(
                    "  {name:<14}  interval us p50 {} p99 {} max {} | jitter us p50 {} p99 {} max {} (vs {} us)\n",
                    us(r.interval_us.p50),
                    us(r.interval_us.p99),
                    us(r.interval_us.max),
                    us(r.jitter_us.p50),
                    us(r.jitter_us.p99),
                    us(r.jitter_us.max),
                    us(r.reference_us)
                )
            }
            None => text += &format!("  {name:<14}  n/a\n"),
        }
    }
    match report.on_time_share {
        Some(share) => {
            text += &format!(
                "  on time         {:.2} % (arrived before the next frame was due)\n",
                share * 100.0
            )
        }
        None => text += "  on time         n/a (unthrottled)\n",
    }
    match &report.allocator {
        Some(allocator) => {
            let count = |value: Option<u64>| value.map_or_else(|| "?".into(), |v| v.to_string());
            text += &format!(
                "  allocator       {} frames x {} B (align mask {:#x}, pool {}), allocs {}, frees {}, outstanding {}\n",
                allocator.framing.frames,
                allocator.framing.frame_size,
                allocator.framing.alignment_mask,
                allocator.framing.pool_type,
                count(allocator.allocs),
                count(allocator.frees),
                allocator.frames_outstanding
            );
        }
        None => text += "  allocator       n/a\n",
    }
    text += &format!(
        "  frame memory    {} in allocator frames, {} in client buffers (seen: {} pin-allocator, {} client-buffer)\n",
        report.frames_in_allocator_frames,
        report.frames_in_client_buffers,
        report.memory_seen.pin_allocator,
        report.memory_seen.client_buffer
    );
    if report.frames_empty > 0 {
        text += &format!("  empty frames    {} (DataUsed 0)\n", report.frames_empty);
    }
    if let Some(faults) = &report.faults {
        text += &inject::render_text(faults);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MAX_SECONDS;

    #[test]
    fn seconds_must_be_finite_positive_and_at_most_the_maximum() {
        assert_eq!(
            check_seconds("--seconds", 1.5).unwrap(),
            Duration::from_millis(1500)
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                check_seconds("--seconds", bad),
                Err(ViewerError::NotPositive {
                    option: "--seconds",
                    ..
                })
            ));
        }
        for long in [MAX_SECONDS as f64 * 1.001, 1e6, 1e300] {
            assert!(matches!(
                check_seconds("--seconds", long),
                Err(ViewerError::TooLong { .. })
            ));
        }
    }
}
