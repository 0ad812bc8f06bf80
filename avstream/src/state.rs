//! The capture pin's state machine: STOP <-> ACQUIRE <-> PAUSE <-> RUN, one step at a time,
//! as AVStream delivers them to a pin's SetDeviceState, and what the pin must do at each step.
//!
//! | step | the pin must |
//! |---|---|
//! | STOP -> ACQUIRE | acquire: create its frame pool through the allocator, build the synthesizer templates |
//! | ACQUIRE -> PAUSE | nothing (frames are not produced yet) |
//! | PAUSE -> RUN | start the frame clock at the current time |
//! | RUN -> PAUSE | stop the frame clock (the frames due so far stay counted) |
//! | PAUSE -> ACQUIRE | nothing |
//! | ACQUIRE -> STOP | release the frame pool and templates, reset the clock and counters |
//!
//! A change to the current state is accepted and does nothing. Anything else (STOP -> RUN,
//! ACQUIRE -> RUN, ...) is [`Error::IllegalTransition`] (`STATUS_INVALID_DEVICE_STATE`); a
//! caller that receives a jump from a client (the emulation's ks.sys) walks
//! [`PinStateMachine::path_to`] instead, as AVStream does.

use ks::video::{KSSTATE, KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN, KSSTATE_STOP};

use crate::error::Error;

/// A pin state (`KSSTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PinState {
    /// `KSSTATE_STOP`: no resources held.
    Stop,
    /// `KSSTATE_ACQUIRE`: resources held, no data flows.
    Acquire,
    /// `KSSTATE_PAUSE`: ready, clock stopped.
    Pause,
    /// `KSSTATE_RUN`: frames flow.
    Run,
}

impl PinState {
    /// Every state, in order.
    pub const ALL: [PinState; 4] = [
        PinState::Stop,
        PinState::Acquire,
        PinState::Pause,
        PinState::Run,
    ];

    /// The state of a `KSSTATE` value.
    pub const fn from_ks(value: KSSTATE) -> Result<PinState, Error> {
        match value {
            KSSTATE_STOP => Ok(PinState::Stop),
            KSSTATE_ACQUIRE => Ok(PinState::Acquire),
            KSSTATE_PAUSE => Ok(PinState::Pause),
            KSSTATE_RUN => Ok(PinState::Run),
            other => Err(Error::UnknownState(other)),
        }
    }

    /// The `KSSTATE` value.
    pub const fn to_ks(self) -> KSSTATE {
        match self {
            PinState::Stop => KSSTATE_STOP,
            PinState::Acquire => KSSTATE_ACQUIRE,
            PinState::Pause => KSSTATE_PAUSE,
            PinState::Run => KSSTATE_RUN,
        }
    }

    const fn rank(self) -> u8 {
        self as u8
    }

    const fn from_rank(rank: u8) -> PinState {
        match rank {
            0 => PinState::Stop,
            1 => PinState::Acquire,
            2 => PinState::Pause,
            _ => PinState::Run,
        }
    }
}

/// What the pin must do for one step (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAction {
    /// The state did not change.
    None,
    /// STOP -> ACQUIRE: create the frame pool and the synthesis templates.
    AcquireResources,
    /// ACQUIRE -> STOP: free them and reset the clock.
    ReleaseResources,
    /// PAUSE -> RUN: start the frame clock now.
    StartClock,
    /// RUN -> PAUSE: stop the frame clock.
    StopClock,
    /// ACQUIRE <-> PAUSE: a step with nothing to do.
    Nothing,
}

/// The pin's current state and its legal steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinStateMachine {
    state: PinState,
}

impl Default for PinStateMachine {
    fn default() -> Self {
        PinStateMachine::new()
    }
}

impl PinStateMachine {
    /// A new pin, stopped.
    pub const fn new() -> PinStateMachine {
        PinStateMachine {
            state: PinState::Stop,
        }
    }

    /// The current state.
    pub const fn state(&self) -> PinState {
        self.state
    }

    /// What a step `from -> to` requires, or why it is not a step.
    pub const fn action(from: PinState, to: PinState) -> Result<StepAction, Error> {
        Ok(match (from, to) {
            (PinState::Stop, PinState::Acquire) => StepAction::AcquireResources,
            (PinState::Acquire, PinState::Stop) => StepAction::ReleaseResources,
            (PinState::Pause, PinState::Run) => StepAction::StartClock,
            (PinState::Run, PinState::Pause) => StepAction::StopClock,
            (PinState::Acquire, PinState::Pause) | (PinState::Pause, PinState::Acquire) => {
                StepAction::Nothing
            }
            _ if from.rank() == to.rank() => StepAction::None,
            _ => return Err(Error::IllegalTransition { from, to }),
        })
    }

    /// Takes one step to `to` and says what to do; the state is unchanged on error. A caller
    /// that may fail to carry out the action (e.g. no memory for the pool) steps a copy and keeps
    /// it only on success (the machine is `Copy`), so the state stays truthful.
    pub fn step(&mut self, to: PinState) -> Result<StepAction, Error> {
        let action = PinStateMachine::action(self.state, to)?;
        self.state = to;
        Ok(action)
    }

    /// The states to pass through from the current state to `target`, excluding the current
    /// one: what AVStream delivers when a client asks for a jump. Empty if already there.
    pub fn path_to(&self, target: PinState) -> impl Iterator<Item = PinState> {
        let from = self.state.rank();
        let to = target.rank();
        let up = to > from;
        let count = from.abs_diff(to);
        (1..=count).map(move |i| PinState::from_rank(if up { from + i } else { from - i }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::status::{STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER};
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn every_pair_of_states_is_classified() {
        use PinState::*;
        use StepAction as A;
        let expected = [
            (Stop, Stop, Ok(A::None)),
            (Stop, Acquire, Ok(A::AcquireResources)),
            (Stop, Pause, Err(())),
            (Stop, Run, Err(())),
            (Acquire, Stop, Ok(A::ReleaseResources)),
            (Acquire, Acquire, Ok(A::None)),
            (Acquire, Pause, Ok(A::Nothing)),
            (Acquire, Run, Err(())),
            (Pause, Stop, Err(())),
            (Pause, Acquire, Ok(A::Nothing)),
            (Pause, Pause, Ok(A::None)),
            (Pause, Run, Ok(A::StartClock)),
            (Run, Stop, Err(())),
            (Run, Acquire, Err(())),
            (Run, Pause, Ok(A::StopClock)),
            (Run, Run, Ok(A::None)),
        ];
        for (from, to, want) in expected {
            let mut pin = PinStateMachine { state: from };
            let got = pin.step(to);
            match want {
                Ok(action) => {
                    assert_eq!(got, Ok(action), "{from:?}->{to:?}");
                    assert_eq!(pin.state(), to);
                }
                Err(()) => {
                    let e = got.unwrap_err();
                    assert_eq!(e, Error::IllegalTransition { from, to });
                    assert_eq!(e.status(), STATUS_INVALID_DEVICE_STATE);
                    assert_eq!(pin.state(), from, "state unchanged on error");
                }
            }
        }
    }

    #[test]
    fn ks_values_round_trip_and_unknown_values_are_invalid() {
        for s in PinState::ALL {
            assert_eq!(PinState::from_ks(s.to_ks()), Ok(s));
        }
        assert_eq!(
            PinState::from_ks(4).unwrap_err().status(),
            STATUS_INVALID_PARAMETER
        );
    }

    #[test]
    fn paths_walk_one_step_at_a_time() {
        let mut pin = PinStateMachine::new();
        let up: Vec<_> = pin.path_to(PinState::Run).collect();
        assert_eq!(up, [PinState::Acquire, PinState::Pause, PinState::Run]);
        let actions: Vec<_> = up.iter().map(|s| pin.step(*s).unwrap()).collect();
        assert_eq!(
            actions,
            [
                StepAction::AcquireResources,
                StepAction::Nothing,
                StepAction::StartClock
            ]
        );
        let down: Vec<_> = pin.path_to(PinState::Stop).collect();
        assert_eq!(down, [PinState::Pause, PinState::Acquire, PinState::Stop]);
        assert_eq!(pin.path_to(PinState::Run).count(), 0);
    }

    /// A model of the resources a pin holds, checked after every step.
    #[derive(Default)]
    struct Resources {
        acquired: bool,
        clock_running: bool,
    }

    proptest! {
        #[test]
        fn random_requests_keep_resources_consistent(requests in proptest::collection::vec(0u32..6, 0..64)) {
            let mut pin = PinStateMachine::new();
            let mut res = Resources::default();
            for raw in requests {
                let target = match PinState::from_ks(raw) {
                    Ok(t) => t,
                    Err(e) => { prop_assert_eq!(e, Error::UnknownState(raw)); continue; }
                };
                let direct = pin.step(target);
                let one_step = pin.state().rank().abs_diff(target.rank()) <= 1;
                if direct.is_err() {
                    prop_assert!(!one_step, "a one-step change was refused");
                    // Walk the path as AVStream would.
                    for s in pin.path_to(target) {
                        let action = pin.step(s);
                        prop_assert!(action.is_ok());
                        apply(&mut res, action.unwrap());
                    }
                } else {
                    apply(&mut res, direct.unwrap());
                }
                prop_assert_eq!(pin.state(), target);
                prop_assert_eq!(res.acquired, pin.state() != PinState::Stop);
                prop_assert_eq!(res.clock_running, pin.state() == PinState::Run);
            }
        }
    }

    fn apply(res: &mut Resources, action: StepAction) {
        match action {
            StepAction::AcquireResources => {
                assert!(!res.acquired, "acquired twice");
                res.acquired = true;
            }
            StepAction::ReleaseResources => {
                assert!(
                    res.acquired && !res.clock_running,
                    "released while not held or running"
                );
                res.acquired = false;
            }
            StepAction::StartClock => {
                assert!(res.acquired && !res.clock_running);
                res.clock_running = true;
            }
            StepAction::StopClock => {
                assert!(res.clock_running);
                res.clock_running = false;
            }
            StepAction::None | StepAction::Nothing => {}
        }
    }
}
