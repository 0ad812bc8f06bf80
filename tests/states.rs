//! The pin state machine driven through KSPROPERTY_CONNECTION_STATE by random sequences of
//! targets, checked against a model: ks.sys steps one state at a time, so every target is
//! reached; resources (the synthesizer's pool memory) exist exactly from ACQUIRE up; frames
//! flow only in RUN; nothing leaks.

mod common;

use std::time::Duration;

use avcam_avstream::PixelFormat;
use common::*;
use ks::avstream::{KSSTATE_ACQUIRE, KSSTATE_RUN, KSSTATE_STOP};
use ks::status::STATUS_INVALID_PARAMETER;
use proptest::prelude::*;

/// Bytes the driver holds in the pool under its own tag (its pin state, and from ACQUIRE up
/// the synthesizer's templates).
fn our_pool_bytes(kernel: &avcam_emulation::Kernel) -> usize {
    let tag = avcam_emulation::Tag(avcam::identity::POOL_TAG);
    kernel
        .pool()
        .outstanding()
        .iter()
        .filter(|block| block.tag == tag)
        .map(|block| block.size)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_state_targets_follow_the_model(targets in proptest::collection::vec(0u32..5, 1..12)) {
        let kernel = kernel();
        let camera = camera(&kernel);
        let format = qvga(PixelFormat::Nv12);
        let bytes = negotiate(&camera, &format);
        let pin = camera.create_pin(0, &bytes).unwrap();
        let stopped = our_pool_bytes(&kernel);
        let mut model = KSSTATE_STOP;
        for target in targets {
            let result = pin.set_state(target);
            if target > KSSTATE_RUN {
                prop_assert_eq!(result.unwrap_err().status(), Some(STATUS_INVALID_PARAMETER));
            } else {
                prop_assert!(result.is_ok());
                model = target;
            }
            prop_assert_eq!(pin.state().unwrap(), model);
            prop_assert_eq!(our_pool_bytes(&kernel) > stopped, model >= KSSTATE_ACQUIRE);
            if model == KSSTATE_RUN {
                // A frame flows (the first due one, or the one due after a step of the clock).
                let read = pin.read(format.image_size() as usize);
                advance_to(&kernel, kernel.clock().now_100ns() + 333_334);
                prop_assert!(read.wait(WAIT).is_ok());
            } else if model > KSSTATE_ACQUIRE {
                // PAUSE: reads queue but nothing is delivered.
                let read = pin.read(format.image_size() as usize);
                advance_to(&kernel, kernel.clock().now_100ns() + 1_000_000);
                prop_assert!(!read.is_done());
                prop_assert_eq!(read.cancel(Duration::from_secs(5)).0, Some(avcam_client::Status::Nt(ks::status::STATUS_CANCELLED)));
            }
        }
        pin.close().unwrap();
        camera.close().unwrap();
        kernel.unload_driver();
        kernel.assert_no_leaks();
    }
}

#[test]
fn two_clients_each_with_their_own_filter_and_pin_stream_at_once() {
    let kernel = kernel();
    let first = camera(&kernel);
    let second = camera(&kernel);
    let format = qvga(PixelFormat::Yuy2);
    let image = format.image_size() as usize;
    let a = running_pin(&first, &format);
    let b = running_pin(&second, &format);
    let epoch = kernel.clock().now_100ns();
    for n in 0..5u64 {
        let ra = a.read(image);
        let rb = b.read(image);
        // Frame n is due at epoch + floor(n * 10^7 / 30).
        advance_to(&kernel, epoch + (n * 10_000_000 / 30) as i64 + 1);
        let fa = ra.wait(WAIT).unwrap();
        let fb = rb.wait(WAIT).unwrap();
        assert_eq!(fa.data.len(), image);
        assert_eq!(fb.data.len(), image);
        assert_eq!(fa.info.PictureNumber, n as i64 + 1);
        assert_eq!(fb.info.PictureNumber, n as i64 + 1);
    }
    let (da, db) = (a.dropped_frames().unwrap(), b.dropped_frames().unwrap());
    assert_eq!((da.picture_number, da.drop_count), (5, 0));
    assert_eq!(da, db);
    a.close().unwrap();
    b.close().unwrap();
    first.close().unwrap();
    second.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
