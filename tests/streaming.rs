//! Streaming end to end through the emulation and the client, on the virtual clock with the
//! default 15.625 ms system tick: timestamps on the QPC epoch, drop accounting, copy mode into a
//! user-mode application's buffers (headers captured, `DataUsed` set by the pin), the client's
//! surface pitch, buffers the pin cannot fill, and frame timing that holds at 240 fps.

mod common;

use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::{request, Pin, Transport};
use avcam_emulation::{AsyncIo, Kernel};
use common::*;
use ks::status::{STATUS_ACCESS_VIOLATION, STATUS_SUCCESS};
use ks::video::{
    KSSTREAM_HEADER, KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, KSSTREAM_HEADER_OPTIONSF_TIMEVALID,
    KS_FRAME_INFO,
};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

/// 30 fps stream time of frame `n`, computed here: floor(n * 10^7 / 30).
fn pts_30(n: u64) -> i64 {
    (u128::from(n) * 10_000_000 / 30) as i64
}

/// `KeQueryPerformanceCounter` in 100 ns units, as the driver reads it.
fn qpc_100ns(kernel: &Kernel) -> i64 {
    let _entered = kernel.enter();
    let mut frequency = 0i64;
    // SAFETY: `frequency` is writable; callable at any IRQL.
    let counter = unsafe { avcam_kernel::KeQueryPerformanceCounter(&mut frequency) };
    (i128::from(counter) * 10_000_000 / i128::from(frequency)) as i64
}

const TIME_AND_DURATION: u32 =
    KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID;

#[test]
fn a_user_mode_client_gets_a_hundred_frames_stamped_with_their_qpc_deadlines() {
    let kernel = kernel();
    // The stream starts seven seconds after boot: its presentation times are QPC times (the
    // epoch Media Foundation's device timestamps share), not 0-based stream times.
    kernel.clock().advance(7_000_000_000);
    let camera = user_camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    assert_eq!(epoch, 70_000_000);
    let mut buffer = vec![0u8; image];
    for n in 0..100u64 {
        let read = pin.read_into(buffer);
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = read.wait(WAIT).expect("frame delivered");
        assert_eq!(frame.header.PresentationTime.Time, epoch + pts_30(n), "{n}");
        assert_eq!(
            (
                frame.header.PresentationTime.Numerator,
                frame.header.PresentationTime.Denominator
            ),
            (1, 1)
        );
        assert_eq!(frame.header.Duration, pts_30(n + 1) - pts_30(n));
        assert_eq!(
            frame.header.OptionsFlags & TIME_AND_DURATION,
            TIME_AND_DURATION
        );
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        assert_eq!(frame.info.DropCount, 0);
        // The pin set DataUsed itself: the whole image.
        assert_eq!(frame.header.DataUsed as usize, image);
        assert_eq!(frame.data.len(), image);
        buffer = frame.data;
    }
    let dropped = pin.dropped_frames().expect("DROPPEDFRAMES");
    assert_eq!((dropped.picture_number, dropped.drop_count), (100, 0));
    assert_eq!(dropped.average_frame_size as usize, image);
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_starved_client_sees_drop_count_grow_by_exactly_the_missed_frames() {
    let kernel = kernel();
    let camera = user_camera(&kernel);
    let format = qvga(PixelFormat::Yuy2);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    // Frame 0 delivered on time.
    let read = pin.read(image);
    advance_to(&kernel, epoch + 1);
    let first = read.wait(WAIT).unwrap();
    assert_eq!((first.info.PictureNumber, first.info.DropCount), (1, 0));
    // No buffer for frames 1..=7: they are dropped. The buffer queued while frame 7 is due gets
    // frame 7 (the older ones are beyond the catch-up window), so 6 missed.
    advance_to(&kernel, epoch + pts_30(7) + 1);
    let counters = pin.dropped_frames().unwrap();
    assert_eq!((counters.picture_number, counters.drop_count), (8, 7));
    let late = pin.read(image).wait(WAIT).unwrap();
    assert_eq!(late.header.PresentationTime.Time, epoch + pts_30(7));
    assert_eq!((late.info.PictureNumber, late.info.DropCount), (8, 6));
    // Then on time again: the count stays.
    let read = pin.read(image);
    advance_to(&kernel, epoch + pts_30(8) + 1);
    let next = read.wait(WAIT).unwrap();
    assert_eq!((next.info.PictureNumber, next.info.DropCount), (9, 6));
    let counters = pin.dropped_frames().unwrap();
    assert_eq!((counters.picture_number, counters.drop_count), (9, 6));
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// Queues `count` reads of `image` bytes each.
fn queue<T: Transport>(
    pin: &Pin<'_, T>,
    count: usize,
    image: usize,
) -> Vec<avcam_client::PendingRead<T>> {
    (0..count).map(|_| pin.read(image)).collect()
}

#[test]
fn at_240_fps_on_the_default_tick_every_frame_arrives_at_its_own_deadline() {
    // The default 15.625 ms system tick: a KTIMER could expire only once per tick (64 per
    // second, four frames late and three dropped each time); the pin's high-resolution timer
    // expires at each deadline.
    let kernel = kernel();
    assert_eq!(kernel.clock().tick(), 156_250, "Windows' default tick");
    let camera = user_camera(&kernel);
    let format = VideoFormat::new(PixelFormat::Nv12, FrameSize::QVGA, 41_666).unwrap();
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    let deadline = |n: u64| epoch + (u128::from(n) * 10_000_000 / 240) as i64;
    let mut reads = std::collections::VecDeque::from(queue(&pin, 3, image));
    for n in 0..240u64 {
        // Just after frame n's deadline (well before the next tick for most frames), its read
        // is complete, stamped with that deadline.
        advance_to(&kernel, deadline(n) + 1);
        let read = reads.pop_front().unwrap();
        assert!(read.is_done(), "frame {n} late");
        let frame = read.wait(WAIT).unwrap();
        assert_eq!(frame.header.PresentationTime.Time, deadline(n));
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        reads.push_back(pin.read_into(frame.data));
    }
    let counters = pin.dropped_frames().unwrap();
    assert_eq!((counters.picture_number, counters.drop_count), (240, 0));
    // STOP cancels the reads still queued; then the pin's CLOSE can come.
    pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    drop(reads);
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_late_timer_still_fills_every_queued_buffer_with_its_own_frame_at_1000_fps() {
    // High-resolution timers may expire up to about a millisecond late: at 1000 fps a pass then
    // finds two frames due, and delivers both (each with its own deadline) into queued buffers.
    let kernel = bare_kernel();
    kernel.clock().set_high_resolution_lateness(15_000);
    load(&kernel);
    let camera = camera(&kernel);
    let format = VideoFormat::new(PixelFormat::Nv12, FrameSize::QVGA, 10_000).unwrap();
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    let mut reads = std::collections::VecDeque::from(queue(&pin, 6, image));
    let mut next = 0i64;
    for _ in 0..1000 {
        advance_to(&kernel, qpc_100ns(&kernel) + 10_000);
        while reads.front().is_some_and(|r| r.is_done()) {
            let frame = reads.pop_front().unwrap().wait(WAIT).unwrap();
            assert_eq!(frame.header.PresentationTime.Time, epoch + next * 10_000);
            assert_eq!(frame.info.DropCount, 0, "frame {next}");
            next += 1;
            reads.push_back(pin.read_into(frame.data));
        }
    }
    assert!(next >= 990, "{next} frames in one second");
    pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    drop(reads);
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// The status and headers of a read that completed within its dispatch (whether the dispatch
/// answered at once or pended the IRP and completed it before returning), or `None`.
fn completed_now(read: &AsyncIo) -> Option<(ks::NTSTATUS, Vec<u8>)> {
    match read {
        AsyncIo::Done(done) => Some((done.result.status, done.output.clone())),
        AsyncIo::Pending(pending) => pending
            .poll()
            .map(|result| (result.status, pending.output().unwrap())),
    }
}

/// One read whose headers are `headers` (raw bytes), through the emulation directly.
fn raw_read(
    kernel: &Kernel,
    pin: avcam_emulation::File,
    headers: &[u8],
) -> (KSSTREAM_HEADER, KS_FRAME_INFO) {
    let read = kernel.read_stream(pin, headers);
    advance_to(kernel, qpc_100ns(kernel) + 333_334);
    let output = match read {
        AsyncIo::Done(done) => {
            assert_eq!(done.result.status, STATUS_SUCCESS);
            done.output
        }
        AsyncIo::Pending(pending) => {
            assert_eq!(pending.wait(WAIT).unwrap().status, STATUS_SUCCESS);
            pending.output().unwrap()
        }
    };
    let (header, rest) = KSSTREAM_HEADER::read_from_prefix(&output).unwrap();
    let (info, _) = KS_FRAME_INFO::read_from_prefix(rest).unwrap();
    (header, info)
}

/// The frame a header describes as the camera core renders it with the default settings, at
/// the format's own stride (an independent rendering to compare the pin's against).
fn natural_frame(
    format: &VideoFormat,
    header: &KSSTREAM_HEADER,
    info: &KS_FRAME_INFO,
    epoch: i64,
) -> Vec<u8> {
    use avcam_avstream::synth::{FrameInfo, SynthConfig, Synthesizer};
    let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(format)];
    let synth = Synthesizer::new(format, SynthConfig::default(), scratch).unwrap();
    let mut frame = vec![0u8; format.image_size() as usize];
    let stamp = FrameInfo {
        picture_number: info.PictureNumber as u64,
        stream_time: header.PresentationTime.Time - epoch,
        drop_count: info.DropCount as u64,
    };
    synth.render(&stamp, &mut frame).unwrap();
    frame
}

#[test]
fn the_clients_surface_pitch_is_the_row_distance_in_its_buffer_and_stays_as_it_asked() {
    let kernel = kernel();
    let camera = user_camera(&kernel);
    for pixel in PixelFormat::ALL {
        let format = qvga(pixel);
        let layout = format.layout();
        let pin = running_pin(&camera, &format);
        let rows = layout.rows();
        let epoch = qpc_100ns(&kernel);
        // A surface 96 bytes wider per row, the padding pre-filled.
        let pitch = layout.stride + 96;
        let mut buffer = vec![0xA5u8; pitch * rows];
        let mut headers = request::read_headers(&mut buffer);
        let mut info = KS_FRAME_INFO::new_zeroed();
        info.Reserved1 = pitch as u32;
        headers[std::mem::size_of::<KSSTREAM_HEADER>()..].copy_from_slice(info.as_bytes());
        let (header, info) = raw_read(&kernel, pin.file(), &headers);
        assert_eq!(header.DataUsed as usize, pitch * rows, "{pixel:?}");
        assert_eq!(
            info.lSurfacePitch(),
            pitch as i32,
            "kept as the client asked"
        );
        // The same frame as the camera core renders it at the format's own stride: each of its
        // rows (luma, then NV12's chroma) is a row of the client's surface, `pitch` apart, and
        // the padding is untouched.
        let expected = natural_frame(&format, &header, &info, epoch);
        for (r, got) in buffer.chunks_exact(pitch).enumerate() {
            let want = &expected[r * layout.stride..(r + 1) * layout.stride];
            assert_eq!(&got[..layout.stride], want, "{pixel:?} row {r}");
            assert!(
                got[layout.stride..].iter().all(|&b| b == 0xA5),
                "{pixel:?} row {r}"
            );
        }
        // A pitch shorter than a row, or negative: the buffer comes back empty at once.
        for bad in [layout.stride as i32 - 1, -(layout.stride as i32)] {
            let mut buffer = vec![0u8; pitch * rows];
            let mut headers = request::read_headers(&mut buffer);
            let mut info = KS_FRAME_INFO::new_zeroed();
            info.Reserved1 = bad as u32;
            headers[std::mem::size_of::<KSSTREAM_HEADER>()..].copy_from_slice(info.as_bytes());
            let read = kernel.read_stream(pin.file(), &headers);
            let (status, output) = completed_now(&read).unwrap_or_else(|| {
                panic!("{pixel:?}: a pitch it cannot honour is answered at once")
            });
            assert_eq!(status, STATUS_SUCCESS);
            let (header, _) = KSSTREAM_HEADER::read_from_prefix(&output).unwrap();
            assert_eq!((header.DataUsed, header.OptionsFlags), (0, 0));
        }
        pin.close().unwrap();
    }
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn headers_without_a_buffer_or_with_a_small_one_come_back_empty_without_spending_a_frame() {
    let kernel = kernel();
    let camera = user_camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    // A user-mode header with no buffer (Data NULL): completed empty at once, as avshws skips
    // one; the pin writes no address into it (the caller's Data stays NULL).
    let empty = pin.read(0).wait(WAIT).unwrap();
    assert_eq!(
        (
            empty.header.Data,
            empty.header.DataUsed,
            empty.header.OptionsFlags
        ),
        (0, 0, 0)
    );
    let small = pin.read(image - 1).wait(WAIT).unwrap();
    assert_eq!((small.header.DataUsed, small.header.OptionsFlags), (0, 0));
    // Frame 0 is still the next one delivered, with no drop.
    let read = pin.read(image);
    advance_to(&kernel, epoch + 1);
    let frame = read.wait(WAIT).unwrap();
    assert_eq!((frame.info.PictureNumber, frame.info.DropCount), (1, 0));
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_user_mode_client_cannot_hand_in_kernel_memory() {
    // Frames of an allocator are kernel memory: a user-mode read naming one is refused by the
    // probe, before the pin sees it.
    let kernel = kernel();
    let kernel_camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let kernel_pin = kernel_camera
        .create_pin(0, &negotiate(&kernel_camera, &format))
        .unwrap();
    let allocator = kernel_pin.create_frame_allocator().unwrap();
    let frame = allocator.take_frame().unwrap();
    let camera = user_camera(&kernel);
    let pin = running_pin(&camera, &format);
    let headers = request::read_headers_at(frame.address(), frame.size());
    let read = kernel.read_stream(pin.file(), &headers);
    let (status, _) = completed_now(&read).expect("refused at once");
    assert_eq!(status, STATUS_ACCESS_VIOLATION);
    allocator.give_back(frame).unwrap();
    allocator.close().unwrap();
    pin.close().unwrap();
    kernel_pin.close().unwrap();
    camera.close().unwrap();
    kernel_camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn on_the_virtual_clock_a_due_frame_is_delivered_before_advance_returns() {
    // The frame timer's callback asks for processing asynchronously; the emulation runs that work
    // item right after the timer's expiry on the advancing thread (as ks.sys's work item would
    // run after it), not on a new thread per frame, so the read is complete when `advance`
    // returns.
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let pin = running_pin(&camera, &format);
    let epoch = qpc_100ns(&kernel);
    let mut buffer = vec![0u8; format.image_size() as usize];
    for n in 0..6u64 {
        let headers = request::read_headers(&mut buffer);
        let read = kernel.read_stream(pin.file(), &headers);
        // Frame 0 is due at RUN: the read arriving in the empty queue gets it at once (Process
        // runs in its dispatch). Later ones wait for their timer.
        assert_eq!(completed_now(&read).is_some(), n == 0, "frame {n}");
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let (status, _) = completed_now(&read).expect("delivered inside advance");
        assert_eq!(status, STATUS_SUCCESS);
    }
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
