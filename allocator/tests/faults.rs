//! Fault injection: every pool allocation of a create fails in turn, and every run either fails
//! with STATUS_INSUFFICIENT_RESOURCES or (past the last allocation) succeeds, leaking nothing.
//! ALLOC, FREE, events and close make no pool call at all, so nothing can fail there: the sweep
//! over them arms the injector and checks it never fires.

mod common;

use common::{event_data, framing, Fixture};
use ks::ks::{
    file_alignment, KSALLOCATOR_FRAMING, KSEVENTF_EVENT_HANDLE, KSEVENT_STREAMALLOCATOR_FREEFRAME,
};
use ks::nt::{NonPagedPool, PagedPool};
use ks::status::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};

/// Pool allocation calls a create of `framing` makes.
fn create_calls(fixture: &Fixture, framing: &KSALLOCATOR_FRAMING) -> u64 {
    let pool = fixture.kernel.pool();
    let before = pool.allocation_calls();
    let file = fixture
        .create(framing)
        .expect("the create succeeds without faults");
    let calls = pool.allocation_calls() - before;
    fixture.kernel.close(file);
    pool.assert_no_leaks();
    calls
}

fn sweep_create(framing: &KSALLOCATOR_FRAMING) {
    let fixture = Fixture::new();
    let calls = create_calls(&fixture, framing);
    // The object, the slot table, the index, one block per frame, and ks.sys's object header.
    assert_eq!(calls, 3 + u64::from(framing.Frames) + 1, "{framing:?}");
    let pool = fixture.kernel.pool();
    for n in 1..=calls + 1 {
        let injected_before = pool.injected_failures();
        pool.fail_nth_allocation(n);
        let result = fixture.create(framing);
        pool.fail_nth_allocation(0);
        if n <= calls {
            assert_eq!(
                pool.injected_failures(),
                injected_before + 1,
                "allocation {n} was failed"
            );
            assert_eq!(
                result,
                Err(STATUS_INSUFFICIENT_RESOURCES),
                "failing allocation {n} of {calls}"
            );
        } else {
            assert_eq!(
                pool.injected_failures(),
                injected_before,
                "past the last allocation"
            );
            let file = result.expect("the sweep is past the last allocation");
            fixture.kernel.close(file);
        }
        pool.assert_no_leaks();
    }
    fixture.finish();
}

#[test]
fn every_create_allocation_failure_is_reported_and_leaks_nothing() {
    sweep_create(&framing(1, 64, 0));
    sweep_create(&framing(4, 4096, file_alignment::B64));
    sweep_create(&KSALLOCATOR_FRAMING {
        PoolType: PagedPool,
        ..framing(3, 100, file_alignment::B256)
    });
    sweep_create(&KSALLOCATOR_FRAMING {
        PoolType: NonPagedPool,
        ..framing(5, 3_110_400, file_alignment::B512)
    });
}

/// ALLOC past `Frames` (one waits), FREE, an event enabled and signalled, close with frames out.
fn run_and_close(fixture: &Fixture, event: ks::nt::HANDLE) {
    let file = fixture
        .create(&framing(2, 4096, file_alignment::B64))
        .unwrap();
    let pool = fixture.kernel.pool();
    let before = pool.allocation_calls();
    let mut data = event_data(KSEVENTF_EVENT_HANDLE, event as u64);
    assert_eq!(
        fixture.enable_event(file, KSEVENT_STREAMALLOCATOR_FREEFRAME, &mut data),
        STATUS_SUCCESS
    );
    let a = fixture.alloc(file).unwrap();
    let _b = fixture.alloc(file).unwrap();
    let waiting = fixture.alloc_async(file).expect_pending();
    assert_eq!(fixture.free(file, a).status, STATUS_SUCCESS);
    assert!(waiting.poll().is_some());
    let (allocate, free) = fixture.function_table(file);
    {
        let _entered = fixture.kernel.enter();
        let object = fixture.kernel.file_object(file);
        let mut frame = std::ptr::null_mut();
        // SAFETY: the live allocator's file object; `frame` is writable.
        let status = unsafe { allocate(object, &mut frame) };
        assert_ne!(status, STATUS_SUCCESS, "all out");
        // SAFETY: as above.
        unsafe { free(object, a as *mut _) };
    }
    let _ = fixture.status(file);
    assert_eq!(fixture.kernel.close(file), STATUS_SUCCESS);
    assert_eq!(pool.allocation_calls(), before, "no pool call after create");
}

#[test]
fn alloc_free_events_and_close_make_no_pool_call_so_nothing_can_fail() {
    let fixture = Fixture::new();
    let event = fixture.kernel.create_event();
    run_and_close(&fixture, event);
    let pool = fixture.kernel.pool();
    for n in 1..=16 {
        // Arm the injector past the create's own allocations: only later calls could trip it.
        let injected_before = pool.injected_failures();
        let calls_before = pool.allocation_calls();
        let create_calls = 3 + 2 + 1;
        pool.fail_nth_allocation(create_calls + n);
        run_and_close(&fixture, event);
        pool.fail_nth_allocation(0);
        assert_eq!(pool.allocation_calls() - calls_before, create_calls);
        assert_eq!(
            pool.injected_failures(),
            injected_before,
            "nothing to fail after create"
        );
        pool.assert_no_leaks();
    }
    fixture.kernel.close_handle(event);
    fixture.finish();
}

#[test]
fn every_pool_block_carries_its_documented_tag() {
    // The tags as pool tools show them: 'avAo' the object, 'avAt' its slot table and hash
    // index, 'avAf' each frame (ks.sys's object header has its own).
    use avcam_emulation::ks::OBJECT_HEADER_TAG;
    let fixture = Fixture::new();
    let pool = fixture.kernel.pool();
    let before: Vec<usize> = pool.outstanding().iter().map(|a| a.address).collect();
    let file = fixture
        .create(&framing(3, 4096, file_alignment::B64))
        .unwrap();
    let mut tags: Vec<String> = pool
        .outstanding()
        .iter()
        .filter(|a| !before.contains(&a.address) && a.tag != OBJECT_HEADER_TAG)
        .map(|a| a.tag.to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, ["avAf", "avAf", "avAf", "avAo", "avAt", "avAt"]);
    fixture.kernel.close(file);
    fixture.finish();
}
