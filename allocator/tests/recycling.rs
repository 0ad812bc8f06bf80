//! Frames are recycled: after create, ALLOC and FREE make no pool call, however many there are.

mod common;

use std::collections::HashSet;
use std::ffi::c_void;

use common::{framing, Fixture};
use ks::ks::file_alignment;
use ks::status::STATUS_SUCCESS;

/// ALLOC/FREE rounds of each kind; fewer under Miri, which interprets every one (the point, no
/// pool call after create, is the same after 20 rounds).
const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

#[test]
fn no_pool_call_per_frame_after_create() {
    let fixture = Fixture::new();
    let pool = fixture.kernel.pool();
    let before_create = pool.allocation_calls();
    let file = fixture
        .create(&framing(4, 3_110_400, file_alignment::B64))
        .unwrap();
    let create_calls = pool.allocation_calls() - before_create;
    let after_create = pool.allocation_calls();
    let bytes_after_create = pool.outstanding_bytes();

    let mut seen = HashSet::new();
    for _ in 0..ROUNDS {
        let frame = fixture.alloc(file).unwrap();
        seen.insert(frame);
        assert_eq!(fixture.free(file, frame).status, STATUS_SUCCESS);
    }
    let (allocate, free) = fixture.function_table(file);
    {
        let _entered = fixture.kernel.enter();
        let object = fixture.kernel.file_object(file);
        for _ in 0..ROUNDS {
            let mut frames = [std::ptr::null_mut::<c_void>(); 4];
            for frame in &mut frames {
                // SAFETY: the live allocator's file object; `frame` is writable.
                let status = unsafe { allocate(object, frame) };
                assert_eq!(status, STATUS_SUCCESS);
                seen.insert(*frame as usize);
            }
            for frame in frames {
                // SAFETY: as above; each frame is outstanding.
                unsafe { free(object, frame) };
            }
        }
    }
    assert_eq!(
        pool.allocation_calls(),
        after_create,
        "{} ALLOC/FREE pairs, no pool call",
        5 * ROUNDS
    );
    assert_eq!(pool.outstanding_bytes(), bytes_after_create);
    assert_eq!(seen.len(), 4, "the same four frames, recycled");
    assert_eq!(
        create_calls,
        3 + 4 + 1,
        "object, slots, index, 4 frames, object header"
    );
    fixture.kernel.close(file);
    fixture.finish();
}
