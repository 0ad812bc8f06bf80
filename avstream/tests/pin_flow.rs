//! A capture pin's life driven through the core's public API with a virtual clock, the way
//! the driver shell uses it: ranges -> intersection -> create request -> STOP..RUN -> frames
//! on deadlines -> starvation -> back to STOP.

use avcam_avstream::clock::{FrameClock, FRAME_INFO_SIZE};
use avcam_avstream::intersect::intersect;
use avcam_avstream::ranges::{find_range, CAPTURE_RANGES, KS_CAPTURE_RANGES};
use avcam_avstream::synth::{FrameInfo, SynthConfig, Synthesizer};
use avcam_avstream::{FrameSize, PinConnect, PinState, PinStateMachine, PixelFormat, StepAction};
use ks::ks::KSIDENTIFIER;
use ks::status::STATUS_BUFFER_OVERFLOW;
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPIN_CONNECT, KSPRIORITY, KSSTREAM_HEADER,
    KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, KSSTREAM_HEADER_OPTIONSF_TIMEVALID,
};
use zerocopy::IntoBytes;

/// What the pin holds between ACQUIRE and STOP.
struct Resources {
    synth: Synthesizer<Vec<u8>>,
    frames: Vec<Vec<u8>>,
}

#[test]
fn a_pin_streams_60_fps_yuy2_on_exact_deadlines_and_counts_drops() {
    // The client reads the ranges and asks for YUY2 640x480 at 60 fps.
    let index = CAPTURE_RANGES
        .iter()
        .position(|r| *r == find_range(PixelFormat::Yuy2, FrameSize::VGA).unwrap())
        .unwrap();
    let mut wanted = KS_CAPTURE_RANGES[index];
    wanted.VideoInfoHeader.AvgTimePerFrame = 166_666;

    // Intersection: size query, then the answer.
    let query = intersect(wanted.as_bytes(), &mut []).unwrap_err();
    assert_eq!(query.status(), STATUS_BUFFER_OVERFLOW);
    let mut answer = vec![0u8; query.information()];
    assert_eq!(intersect(wanted.as_bytes(), &mut answer), Ok(152));

    // Create request: KSPIN_CONNECT + the answered format.
    let connect = KSPIN_CONNECT {
        Interface: KSIDENTIFIER {
            Set: KSINTERFACESETID_Standard,
            Id: 0,
            Flags: 0,
        },
        Medium: KSIDENTIFIER {
            Set: KSMEDIUMSETID_Standard,
            Id: 0,
            Flags: 0,
        },
        PinId: 0,
        _pad: 0,
        PinToHandle: 0,
        Priority: KSPRIORITY {
            PriorityClass: 0x4000_0000,
            PrioritySubClass: 1,
        },
    };
    let mut request = connect.as_bytes().to_vec();
    request.extend_from_slice(&answer);
    let pin = PinConnect::parse(&request, 1).unwrap();
    let format = pin.format;
    assert_eq!(
        (
            format.pixel_format(),
            format.size(),
            format.rate().num(),
            format.rate().den()
        ),
        (PixelFormat::Yuy2, FrameSize::VGA, 60, 1)
    );

    // STOP -> RUN, one step at a time, doing what each step says.
    let mut state = PinStateMachine::new();
    let mut clock = FrameClock::new(format.rate());
    let mut resources: Option<Resources> = None;
    let t0: i64 = 1_000_000_007;
    let step_all = |state: &mut PinStateMachine,
                    target,
                    now,
                    clock: &mut FrameClock,
                    res: &mut Option<Resources>| {
        for s in state.path_to(target).collect::<Vec<_>>() {
            match state.step(s).unwrap() {
                StepAction::AcquireResources => {
                    let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&format)];
                    let synth = Synthesizer::new(&format, SynthConfig::default(), scratch).unwrap();
                    let frames = (0..4)
                        .map(|_| vec![0u8; format.image_size() as usize])
                        .collect();
                    *res = Some(Resources { synth, frames });
                }
                StepAction::ReleaseResources => {
                    *res = None;
                    clock.reset();
                }
                StepAction::StartClock => clock.start(now),
                StepAction::StopClock => clock.stop(now),
                StepAction::None | StepAction::Nothing => {}
            }
        }
    };
    step_all(&mut state, PinState::Run, t0, &mut clock, &mut resources);
    assert_eq!(state.state(), PinState::Run);

    // 100 frames, each on its timer tick; frame n is due at t0 + floor(n * 10^7 / 60).
    let mut now = t0;
    for n in 0..100u64 {
        let stamp = clock.take_frame(now).expect("frame due at its deadline");
        let res = resources.as_mut().unwrap();
        let buffer = &mut res.frames[(n % 4) as usize];
        res.synth.render(&FrameInfo::from(&stamp), buffer).unwrap();
        let mut header = KSSTREAM_HEADER {
            FrameExtent: buffer.len() as u32,
            DataUsed: format.image_size(),
            ..Default::default()
        };
        stamp.fill_header(&mut header);
        let info = stamp.frame_info();
        assert_eq!(
            header.PresentationTime.Time,
            t0 + (n as i64 * 10_000_000) / 60
        );
        assert_eq!(stamp.stream_time, (n as i64 * 10_000_000) / 60);
        assert_eq!(
            header.Duration,
            ((n as i64 + 1) * 10_000_000) / 60 - (n as i64 * 10_000_000) / 60
        );
        assert_eq!(
            header.OptionsFlags
                & (KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID),
            0x110
        );
        assert_eq!(
            (info.PictureNumber, info.DropCount, info.ExtendedHeaderSize),
            (n as i64 + 1, 0, FRAME_INFO_SIZE)
        );
        now = clock.next_deadline(now).unwrap();
    }
    assert_eq!(now, t0 + 100 * 10_000_000 / 60);

    // The client starves the pin for 12 frames: the next frame reports exactly 12 dropped.
    let later = clock.deadline(112).unwrap();
    assert_eq!(clock.dropped(later), 13, "112 is due and not yet delivered");
    let stamp = clock.take_frame(later).unwrap();
    assert_eq!((stamp.picture_number, stamp.drop_count), (113, 12));
    assert_eq!(clock.counters(later).drop_count, 12);

    // Close while running: walk back to STOP, releasing everything.
    step_all(
        &mut state,
        PinState::Stop,
        later,
        &mut clock,
        &mut resources,
    );
    assert!(resources.is_none());
    assert_eq!((clock.frames_due(i64::MAX), clock.delivered()), (0, 0));
}
