//! An honest recording: when the picture numbers skip (the viewer was too slow, or the camera
//! dropped frames), `record` writes the previous frame again once per skipped number, so that
//! frame `i` of the file is always the `i`-th frame interval, and says at the end how many it
//! missed; `--strict` fails instead. A deterministic slow sink on the test double's virtual
//! clock stands in for a viewer that cannot keep up; no test here reads the wall clock.

mod support;

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use support::{entries, picture_shown, run_into, run_with, scratch, FakeCamera, Faults, SlowSink};

const WIDTH: usize = 320;
const HEIGHT: usize = 240;
/// One raw NV12 frame.
const FRAME_BYTES: usize = WIDTH * HEIGHT * 3 / 2;
/// 100 fps, in 100 ns units.
const INTERVAL: u64 = 100_000;

/// The picture each frame of a raw NV12 recording shows.
fn pictures_in_raw(bytes: &[u8]) -> Vec<i64> {
    assert_eq!(bytes.len() % FRAME_BYTES, 0, "whole frames");
    bytes
        .chunks_exact(FRAME_BYTES)
        .map(|frame| picture_shown(&frame[..WIDTH * HEIGHT], WIDTH, HEIGHT))
        .collect()
}

/// Records `frames` raw frames at 100 fps into a sink that takes `cost` (100 ns units) per frame
/// on the camera's virtual clock.
fn record_to_slow_sink(
    frames: &str,
    cost: u64,
    more: &[&str],
) -> (support::Outcome, Vec<u8>, FakeCamera) {
    let clock = Arc::new(AtomicU64::new(0));
    let mut camera = FakeCamera::new();
    camera.clock = Some(clock.clone());
    let mut sink = SlowSink::new(clock, FRAME_BYTES, cost);
    let mut args = vec![
        "--size", "320x240", "--fps", "100", "record", "--frames", frames, "-o", "-",
    ];
    args.extend_from_slice(more);
    let stop = AtomicBool::new(false);
    let out = run_into(
        &camera,
        &args,
        avcam_viewer::DisplayEnv::default(),
        &mut sink,
        &stop,
    );
    (out, sink.bytes, camera)
}

#[test]
fn a_sink_that_keeps_up_gets_every_frame_in_order() {
    let (out, bytes, camera) = record_to_slow_sink("20", INTERVAL / 2, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(pictures_in_raw(&bytes), (0..20).collect::<Vec<i64>>());
    assert!(!out.stderr.contains("missed"), "{}", out.stderr);
    assert_eq!(camera.log.lock().unwrap().frames, 20);
}

#[test]
fn a_slow_sink_gets_the_previous_frame_again_in_place_of_each_missed_one() {
    // Each frame written (a repeat too) costs 1.25 intervals: the camera gets ahead.
    let (out, bytes, camera) = record_to_slow_sink("30", INTERVAL * 5 / 4, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = pictures_in_raw(&bytes);
    assert_eq!(shown.len(), 30, "the recording has the frames asked for");
    // Frame i of the file is interval i: either picture i, or a repeat of the one before it.
    let mut repeats = 0;
    for (slot, &picture) in shown.iter().enumerate() {
        if picture != slot as i64 {
            repeats += 1;
            assert!(
                slot > 0 && picture == shown[slot - 1],
                "slot {slot}: {shown:?}"
            );
        }
    }
    let delivered = camera.log.lock().unwrap().frames;
    assert!(repeats > 0, "the sink was slow: {shown:?}");
    let received = 30 - repeats;
    assert!(
        delivered == received || delivered == received + 1,
        "every frame delivered is in the file, but perhaps one due after its end: \
         {delivered} delivered, {received} in the file"
    );
    // The report says how many, and the camera's own count agrees.
    let expected = format!("{repeats} of the 30 frames repeat the frame before them");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(out.stderr.contains("the viewer missed"), "{}", out.stderr);
    let missed: u64 = out
        .stderr
        .split("the viewer missed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(missed >= repeats, "{}", out.stderr);
    let drops = format!("DropCount grew by {missed})");
    assert!(out.stderr.contains(&drops), "{}", out.stderr);
}

#[test]
fn strict_fails_on_the_first_missed_frame() {
    let (out, bytes, camera) = record_to_slow_sink("30", INTERVAL * 5 / 4, &["--strict"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "--strict: the camera skipped 1 frames before picture number 5, after 4 recorded"
        ),
        "{}",
        out.stderr
    );
    // Pictures 0 to 3 went out before the gap was seen.
    assert_eq!(pictures_in_raw(&bytes), [0, 1, 2, 3]);
    assert_eq!(camera.log.lock().unwrap().stops, 1);

    // To a file: nothing is kept.
    let dir = scratch("strict-file");
    let y4m = dir.join("out.y4m");
    let camera = FakeCamera::with_faults(Faults {
        drop_every: Some(3),
        ..Faults::default()
    });
    let out = run_with(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "500",
            "record",
            "--frames",
            "10",
            "--strict",
            "-o",
            y4m.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("after 3 recorded (its DropCount grew by 1)"),
        "{}",
        out.stderr
    );
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn camera_drops_are_filled_in_the_y4m_and_reported() {
    let dir = scratch("drops-y4m");
    let y4m = dir.join("out.y4m");
    let png = dir.join("last.png");
    let camera = FakeCamera::with_faults(Faults {
        drop_every: Some(4),
        ..Faults::default()
    });
    let out = run_with(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "500",
            "record",
            "--frames",
            "12",
            "-o",
            y4m.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = fs::read(&y4m).unwrap();
    let body = &bytes[bytes.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let frame = 6 + FRAME_BYTES;
    assert_eq!(body.len(), 12 * frame, "12 frames");
    let shown: Vec<i64> = body
        .chunks_exact(frame)
        .map(|f| picture_shown(&f[6..6 + WIDTH * HEIGHT], WIDTH, HEIGHT))
        .collect();
    // The double skips one picture number after every 4 frames it delivers.
    assert_eq!(shown, [0, 1, 2, 3, 3, 5, 6, 7, 8, 8, 10, 11]);
    assert_eq!(
        body[4 * frame..5 * frame],
        body[3 * frame..4 * frame],
        "an exact repeat"
    );
    assert!(
        out.stderr.contains(
            "the viewer missed 2 frames (picture-number gaps; the camera's DropCount grew by 2): \
             2 of the 12 frames repeat the frame before them"
        ),
        "{}",
        out.stderr
    );
    // The PNG is the last frame recorded: picture 11's box.
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut rgb).unwrap();
    let top = (HEIGHT * 13 / 16) & !1;
    let grey_at = |x: usize| rgb[(top * WIDTH + x) * 3] > 100;
    assert!(
        grey_at(88) && !grey_at(86),
        "box of picture 11 starts at x = 88"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_gap_past_the_end_fills_the_recording_with_the_last_frame() {
    // 1 frame costs 6 intervals: 0, then picture 6 is due; 5 repeats fill frames 1..=5.
    let (out, bytes, _camera) = record_to_slow_sink("4", INTERVAL * 6, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(pictures_in_raw(&bytes), [0, 0, 0, 0]);
    assert!(
        out.stderr.contains("the viewer missed 5 frames") && out.stderr.contains("3 of the 4"),
        "{}",
        out.stderr
    );
}
