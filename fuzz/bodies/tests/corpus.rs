//! The fuzz bodies on stable: each replays its committed seed corpus (`fuzz/seeds/<target>/`,
//! checked to be what `avcam_fuzz::seeds` builds), then a bounded number of proptest mutations
//! of the seeds and of random bytes. A failure prints the input to commit as a regression seed.

use std::path::PathBuf;

use avcam_fuzz::{seeds, TARGETS};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../seeds")
        .join(target)
}

/// Every file of the target's corpus directory (seeds and any regression inputs added later).
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .expect("the corpus directory exists")
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a corpus file"))
        })
        .collect();
    files.sort();
    files
}

fn body(target: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, body)| *body)
        .expect("a known target")
}

#[test]
fn seed_corpus_is_what_the_generator_builds() {
    let write = std::env::var_os("AVCAM_WRITE_SEEDS").is_some();
    for (target, _) in TARGETS {
        let dir = corpus_dir(target);
        for (name, bytes) in seeds::for_target(target) {
            let path = dir.join(name);
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "{} differs from seeds::{target}(); AVCAM_WRITE_SEEDS=1 cargo test -p avcam-fuzz \
                 rewrites it",
                path.display()
            );
        }
    }
}

/// Replays the corpus, then `cases` mutations: a seed with a few bytes overwritten, truncated or
/// extended, or random bytes.
fn replay_and_mutate(target: &str, cases: u32) {
    let run = body(target);
    let corpus = corpus(target);
    assert!(!corpus.is_empty(), "{target} has a seed corpus");
    for (name, bytes) in &corpus {
        println!("{target}: replaying {name}");
        run(bytes);
    }
    let seeds: Vec<Vec<u8>> = corpus.into_iter().map(|(_, bytes)| bytes).collect();
    let count = seeds.len();
    let mutated = (
        0..count,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(move |(seed, edits, cut, tail)| {
            let mut bytes = seeds[seed].clone();
            for (at, value) in edits {
                let len = bytes.len().max(1);
                if let Some(byte) = bytes.get_mut(at.index(len)) {
                    *byte = value;
                }
            }
            // Cut at a random point in a third of the cases, extend in another third.
            match cut.index(3) {
                0 => bytes.truncate(cut.index(bytes.len() + 1)),
                1 => bytes.extend_from_slice(&tail),
                _ => {}
            }
            bytes
        });
    let strategy = prop_oneof![
        4 => mutated,
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ];
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&strategy, |input| {
            run(&input);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{target}: {failure}"));
}

#[test]
fn allocator_requests_replay_and_mutations() {
    replay_and_mutate("allocator_requests", 2000);
}

#[test]
fn camera_formats_replay_and_mutations() {
    replay_and_mutate("camera_formats", 2000);
}

#[test]
fn driver_requests_replay_and_mutations() {
    replay_and_mutate("driver_requests", 200);
}

#[test]
fn driver_seeds_reach_the_pin_and_the_allocator() {
    use avcam_fuzz::driver_requests::{run_with_report, Report};
    let report = |name: &str| {
        let (_, bytes) = seeds::driver_requests()
            .into_iter()
            .find(|(seed, _)| *seed == name)
            .expect("a seed of that name");
        run_with_report(&bytes)
    };
    let filter = report("filter-properties");
    // CTYPES and DATAINTERSECTION succeed; DATARANGES is a size query (STATUS_BUFFER_OVERFLOW).
    assert_eq!((filter.requests, filter.succeeded), (3, 2), "{filter:?}");
    let pin = report("pin-run-and-stop");
    assert!(pin.pin && !pin.allocator, "{pin:?}");
    assert_eq!((pin.requests, pin.succeeded), (3, 3), "{pin:?}");
    let allocator = report("allocator-alloc-free-events");
    assert_eq!(
        allocator,
        Report {
            pin: true,
            allocator: true,
            requests: 6,
            succeeded: 6,
            frames: 2,
            pended: 0,
            reads: 0,
            reads_succeeded: 0,
        }
    );
    // Reads into the body's buffers: the two with a buffer get frames (the others complete
    // empty, which is a success too), and STOP leaves nothing queued.
    let reads = report("pin-reads");
    assert_eq!((reads.reads, reads.reads_succeeded), (3, 3), "{reads:?}");
    // From user mode: the kernel-half buffer is refused, the other read delivered.
    let user = report("user-mode-reads");
    assert_eq!((user.reads, user.reads_succeeded), (2, 1), "{user:?}");
    assert_eq!(user.succeeded, 2, "RUN and DROPPEDFRAMES: {user:?}");
    // A kernel-mode consumer reading into a frame of its allocator.
    let frame = report("allocator-frame-reads");
    assert_eq!(
        (frame.frames, frame.reads, frame.reads_succeeded),
        (1, 1, 1),
        "{frame:?}"
    );
    // The device's controls, pattern, fault plan and stall are set (five SETs), RUN, then the
    // two reads complete (a frame, or one the plan drops or empties: a success either way), the
    // counters are read and STOP.
    let faults = report("controls-and-faults");
    assert!(faults.pin, "{faults:?}");
    assert_eq!(
        (
            faults.requests,
            faults.succeeded,
            faults.reads,
            faults.reads_succeeded
        ),
        (8, 8, 2, 2),
        "{faults:?}"
    );
    // One frame: the second ALLOC waits, the FREE serves it, the third waits and is cancelled.
    let exhausted = report("allocator-exhausted");
    assert!(exhausted.allocator, "{exhausted:?}");
    assert_eq!(
        (exhausted.frames, exhausted.pended),
        (1, 2),
        "{exhausted:?}"
    );
}
