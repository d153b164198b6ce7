//! What the four state machines share: the state, the armed timers, the queue of outputs and the
//! retransmission counter.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::{Reliability, Timer, TimerConfig, Timers};
use super::{Event, Output, State};

/// The part every transaction has.
#[derive(Clone, Debug)]
pub(super) struct Core {
    pub(super) state: State,
    pub(super) reliability: Reliability,
    pub(super) config: TimerConfig,
    pub(super) timers: Timers,
    out: VecDeque<Output>,
    /// Timer-driven retransmissions sent (A, E, G).
    pub(super) retransmissions: u64,
}

impl Core {
    pub(super) fn new(state: State, reliability: Reliability, config: TimerConfig) -> Self {
        Self {
            state,
            reliability,
            config,
            timers: Timers::default(),
            out: VecDeque::new(),
            retransmissions: 0,
        }
    }

    pub(super) fn unreliable(&self) -> bool {
        self.reliability == Reliability::Unreliable
    }

    pub(super) fn transmit(&mut self, bytes: Vec<u8>) {
        self.out.push_back(Output::Transmit(bytes));
    }

    /// A timer-driven retransmission.
    pub(super) fn retransmit(&mut self, bytes: &[u8]) {
        self.retransmissions += 1;
        self.transmit(bytes.to_vec());
    }

    pub(super) fn tell_tu(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    /// Moves to Terminated (once): every timer stops and [`Output::Terminated`] is queued.
    pub(super) fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.timers.clear();
            self.out.push_back(Output::Terminated);
        }
    }

    /// Enters `state` and waits `wait` on `timer` before terminating; a zero wait (a reliable
    /// transport) terminates at once.
    pub(super) fn linger(&mut self, state: State, timer: Timer, now: Instant, wait: Duration) {
        self.state = state;
        if wait.is_zero() {
            self.terminate();
        } else {
            self.timers.arm(timer, now, wait);
        }
    }

    pub(super) fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}
