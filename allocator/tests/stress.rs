//! Several threads allocate and free at once, through the function table and the ALLOC/FREE
//! methods (which wait when every frame is out): no frame is lost, none is handed to two holders,
//! and every byte a holder writes is intact when it frees. Bounded in iterations.

mod common;

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use common::{framing, Fixture};
use ks::ks::file_alignment;
use ks::status::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};

const THREADS: usize = 4;
/// Rounds per thread; fewer under Miri, which interprets every request (and explores the
/// threads' interleavings, the point of this test there).
const ROUNDS: usize = if cfg!(miri) { 40 } else { 4000 };
const FRAMES: u32 = 3;
const FRAME_SIZE: usize = 1024;

#[test]
fn racing_allocs_and_frees_lose_and_duplicate_no_frame() {
    let fixture = Arc::new(Fixture::new());
    let file = fixture
        .create(&framing(FRAMES, FRAME_SIZE as u32, file_alignment::B64))
        .unwrap();
    let (allocate, free) = fixture.function_table(file);
    let object = fixture.kernel.file_object(file) as usize;
    let holders: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
    let seen: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (fixture, holders, seen) = (fixture.clone(), holders.clone(), seen.clone());
            fixture.kernel.clone().spawn(move || {
                let object = object as *mut ks::nt::FILE_OBJECT;
                let mut table_misses = 0usize;
                for round in 0..ROUNDS {
                    let through_table = (round + thread) % 2 == 0;
                    let frame = if through_table {
                        let mut frame: *mut c_void = std::ptr::null_mut();
                        // SAFETY: the allocator's file object stays open until the workers end.
                        let status = unsafe { allocate(object, &mut frame) };
                        if status == STATUS_INSUFFICIENT_RESOURCES {
                            table_misses += 1;
                            continue;
                        }
                        assert_eq!(status, STATUS_SUCCESS);
                        frame as usize
                    } else {
                        // May wait for another thread's free.
                        let mut output = [0u8; 8];
                        let input = common::identifier(
                            ks::guid::KSMETHODSETID_StreamAllocator,
                            ks::ks::KSMETHOD_STREAMALLOCATOR_ALLOC,
                            ks::ks::KSMETHOD_TYPE_WRITE,
                        );
                        let result = fixture.kernel.ioctl(
                            file,
                            ks::ks::IOCTL_KS_METHOD,
                            &input,
                            &mut output,
                        );
                        assert_eq!(result.status, STATUS_SUCCESS);
                        usize::from_ne_bytes(output)
                    };
                    assert_eq!(
                        holders.lock().unwrap().insert(frame, thread),
                        None,
                        "frame {frame:#x} held twice"
                    );
                    seen.lock().unwrap().insert(frame);
                    let fill = (thread * 31 + round) as u8;
                    // SAFETY: the frame is ours (outstanding, FRAME_SIZE bytes) until we free it.
                    let bytes =
                        unsafe { std::slice::from_raw_parts_mut(frame as *mut u8, FRAME_SIZE) };
                    bytes.fill(fill);
                    std::thread::yield_now();
                    assert!(
                        bytes.iter().all(|&b| b == fill),
                        "frame {frame:#x} written by another holder"
                    );
                    assert_eq!(holders.lock().unwrap().remove(&frame), Some(thread));
                    if through_table {
                        let _entered = fixture.kernel.enter();
                        // SAFETY: as above; the frame is outstanding and ours.
                        unsafe { free(object, frame as *mut c_void) };
                    } else {
                        assert_eq!(fixture.free(file, frame).status, STATUS_SUCCESS);
                    }
                }
                table_misses
            })
        })
        .collect();
    let misses: usize = workers
        .into_iter()
        .map(|w| w.join().expect("a worker failed"))
        .sum();
    assert!(misses < THREADS * ROUNDS, "most table allocations succeed");
    assert_eq!(fixture.allocated(file), 0, "every frame came back");
    assert!(
        seen.lock().unwrap().len() <= FRAMES as usize,
        "no frame appeared from nowhere"
    );
    // All frames are still there: FRAMES allocations succeed now, one more does not.
    let all: HashSet<usize> = (0..FRAMES).map(|_| fixture.alloc(file).unwrap()).collect();
    assert_eq!(all.len(), FRAMES as usize);
    fixture.kernel.close(file);
    Arc::try_unwrap(fixture)
        .ok()
        .expect("the workers are done")
        .finish();
}
