//! A circuit breaker per downstream: closed while the downstream answers; open after
//! failures in a row or a high share of failures in a recent window, refusing calls at
//! once; half-open after a while, letting a few probes through whose success closes it
//! again and whose failure opens it anew.
//!
//! State is exported as the gauge `im_circuit_breaker_state{service}` (0 closed,
//! 1 half-open, 2 open; plus a `node` label for per-node breakers), and refused calls
//! as the counter `im_circuit_breaker_refused_total{service}`. The gauge turns
//! half-open when the first call after the open period probes.

use super::config::BreakerConfig;
use super::outcome::CIRCUIT_OPEN;
use crate::errors::{status, with_retry_after};
use crate::service::ServiceName;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tonic::{Code, Status};

pub const STATE_METRIC: &str = "im_circuit_breaker_state";
pub const REFUSED_METRIC: &str = "im_circuit_breaker_refused_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// The value of the state gauge.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// What one breaker guards: a service, or one node of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: ServiceName,
    /// The endpoint of one node (delivery's pushes to gateway nodes).
    pub node: Option<String>,
}

impl Target {
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        let mut labels = vec![("service", self.service.as_str().to_owned())];
        if let Some(node) = &self.node {
            labels.push(("node", node.clone()));
        }
        labels
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{} at {node}", self.service),
            None => write!(f, "{}", self.service),
        }
    }
}

/// A shared circuit breaker. Each call asks [`CircuitBreaker::admit`] first and reports
/// how it went through the [`Permit`] it got.
pub struct CircuitBreaker {
    target: Target,
    labels: Vec<(&'static str, String)>,
    machine: Mutex<Machine>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("target", &self.target)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    pub fn new(target: Target, config: &BreakerConfig) -> Arc<Self> {
        let labels = target.labels();
        metrics::gauge!(STATE_METRIC, &labels).set(BreakerState::Closed.gauge());
        Arc::new(Self {
            target,
            labels,
            machine: Mutex::new(Machine::new(config)),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state()
    }

    /// Lets a call through, or refuses it with UNAVAILABLE `circuit_open` and a retry
    /// hint (`im-retry-after`) while the circuit is open.
    pub fn admit(self: &Arc<Self>) -> Result<Permit, Status> {
        let admission = self.transition(|machine| machine.admit(Instant::now()));
        match admission {
            Admission::Call => Ok(Permit::new(self.clone(), false)),
            Admission::Probe => Ok(Permit::new(self.clone(), true)),
            Admission::Refused { retry_after } => {
                metrics::counter!(REFUSED_METRIC, &self.labels).increment(1);
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Err(with_retry_after(
                    status(
                        Code::Unavailable,
                        CIRCUIT_OPEN,
                        format!("{} is failing; calls are refused for a while", self.target),
                    ),
                    seconds.max(1),
                ))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Machine> {
        self.machine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` and publishes the state when it moved.
    fn transition<T>(&self, change: impl FnOnce(&mut Machine) -> T) -> T {
        let mut machine = self.lock();
        let before = machine.state();
        let result = change(&mut machine);
        let after = machine.state();
        drop(machine);
        if before != after {
            metrics::gauge!(STATE_METRIC, &self.labels).set(after.gauge());
            if after == BreakerState::Closed {
                tracing::info!(downstream = %self.target, "circuit closed");
            } else {
                tracing::warn!(downstream = %self.target, state = ?after, "circuit breaker changed");
            }
        }
        result
    }
}

/// One admitted call. Report its end with [`Permit::record`]; a permit dropped without
/// a report (the caller gave up) counts neither way.
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    recorded: bool,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("probe", &self.probe)
            .finish()
    }
}

impl Permit {
    fn new(breaker: Arc<CircuitBreaker>, probe: bool) -> Self {
        Self {
            breaker,
            probe,
            recorded: false,
        }
    }

    pub fn record(mut self, failed: bool) {
        self.recorded = true;
        let probe = self.probe;
        self.breaker
            .transition(|machine| machine.record(probe, failed, Instant::now()));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.recorded {
            let probe = self.probe;
            self.breaker.transition(|machine| machine.abandon(probe));
        }
    }
}

/// The answer to one call asking to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Call,
    Probe,
    Refused { retry_after: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures_in_a_row: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

/// The state machine alone, told the time, so tests drive it without waiting.
#[derive(Debug)]
pub(crate) struct Machine {
    consecutive_failures: u32,
    failure_ratio: f64,
    min_calls: u32,
    open_for: Duration,
    probes: u32,
    state: State,
    window: Window,
}

impl Machine {
    pub fn new(config: &BreakerConfig) -> Self {
        Self {
            consecutive_failures: config.consecutive_failures.max(1),
            failure_ratio: config.failure_ratio.clamp(f64::MIN_POSITIVE, 1.0),
            min_calls: config.min_calls.max(1),
            open_for: config.open_for,
            probes: config.half_open_probes.max(1),
            state: State::Closed {
                failures_in_a_row: 0,
            },
            window: Window::new(config.window),
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        if let State::Open { until } = self.state {
            if now < until {
                return Admission::Refused {
                    retry_after: until - now,
                };
            }
            self.state = State::HalfOpen {
                in_flight: 0,
                succeeded: 0,
            };
        }
        match &mut self.state {
            State::Closed { .. } => Admission::Call,
            State::HalfOpen { in_flight, .. } if *in_flight < self.probes => {
                *in_flight += 1;
                Admission::Probe
            }
            // Probes are out; their verdict comes soon.
            State::HalfOpen { .. } | State::Open { .. } => Admission::Refused {
                retry_after: Duration::from_secs(1).min(self.open_for),
            },
        }
    }

    pub fn record(&mut self, probe: bool, failed: bool, now: Instant) {
        match (&mut self.state, probe) {
            (State::Closed { failures_in_a_row }, false) => {
                self.window.record(failed, now);
                *failures_in_a_row = if failed { *failures_in_a_row + 1 } else { 0 };
                let (calls, failures) = self.window.totals(now);
                let too_many_in_a_row = *failures_in_a_row >= self.consecutive_failures;
                let too_many_in_window = calls >= self.min_calls
                    && f64::from(failures) >= self.failure_ratio * f64::from(calls);
                if failed && (too_many_in_a_row || too_many_in_window) {
                    self.open(now);
                }
            }
            (
                State::HalfOpen {
                    in_flight,
                    succeeded,
                },
                true,
            ) => {
                *in_flight = in_flight.saturating_sub(1);
                if failed {
                    self.open(now);
                } else {
                    *succeeded += 1;
                    if *succeeded >= self.probes {
                        self.close();
                    }
                }
            }
            // A call admitted before the state changed says nothing about it now.
            _ => {}
        }
    }

    /// A probe whose caller gave up frees its place for another.
    pub fn abandon(&mut self, probe: bool) {
        if let (State::HalfOpen { in_flight, .. }, true) = (&mut self.state, probe) {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open {
            until: now + self.open_for,
        };
        self.window.clear();
    }

    fn close(&mut self) {
        self.state = State::Closed {
            failures_in_a_row: 0,
        };
        self.window.clear();
    }
}

/// Calls and failures of the recent past, in slices of a tenth of the window.
#[derive(Debug)]
struct Window {
    span: Duration,
    slices: VecDeque<Slice>,
}

#[derive(Debug)]
struct Slice {
    start: Instant,
    calls: u32,
    failures: u32,
}

const SLICES: u32 = 10;

impl Window {
    fn new(span: Duration) -> Self {
        Self {
            span,
            slices: VecDeque::new(),
        }
    }

    fn record(&mut self, failed: bool, now: Instant) {
        self.forget_before(now);
        let width = self.span / SLICES;
        if self
            .slices
            .back()
            .is_none_or(|slice| now >= slice.start + width)
        {
            self.slices.push_back(Slice {
                start: now,
                calls: 0,
                failures: 0,
            });
        }
        if let Some(current) = self.slices.back_mut() {
            current.calls += 1;
            current.failures += u32::from(failed);
        }
    }

    fn totals(&mut self, now: Instant) -> (u32, u32) {
        self.forget_before(now);
        self.slices.iter().fold((0, 0), |(calls, failures), slice| {
            (calls + slice.calls, failures + slice.failures)
        })
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .slices
            .front()
            .is_some_and(|slice| slice.start + self.span <= now)
        {
            self.slices.pop_front();
        }
    }

    fn clear(&mut self) {
        self.slices.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{error_code, retry_after};

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            failure_ratio: 0.5,
            min_calls: 10,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }

    /// Runs one call admitted at `now` to its end.
    fn call(machine: &mut Machine, failed: bool, now: Instant) -> Admission {
        let admission = machine.admit(now);
        match admission {
            Admission::Call => machine.record(false, failed, now),
            Admission::Probe => machine.record(true, failed, now),
            Admission::Refused { .. } => {}
        }
        admission
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_and_successes_reset_the_count() {
        let mut machine = Machine::new(&BreakerConfig {
            min_calls: 100,
            ..config()
        });
        let now = Instant::now();
        for _ in 0..5 {
            call(&mut machine, true, now);
            call(&mut machine, true, now);
            call(&mut machine, false, now);
        }
        assert_eq!(machine.state(), BreakerState::Closed);
        for _ in 0..3 {
            assert_eq!(call(&mut machine, true, now), Admission::Call);
        }
        assert_eq!(machine.state(), BreakerState::Open);
        assert_eq!(
            machine.admit(now + Duration::from_secs(2)),
            Admission::Refused {
                retry_after: Duration::from_secs(3)
            }
        );
    }

    #[test]
    fn a_high_failure_ratio_in_the_window_opens_the_circuit() {
        let mut machine = Machine::new(&config());
        let start = Instant::now();
        // Alternating failures never reach three in a row; the ratio is 1/2.
        for n in 0..9 {
            call(&mut machine, n % 2 == 0, start);
        }
        assert_eq!(machine.state(), BreakerState::Closed, "below min_calls");
        call(&mut machine, false, start);
        call(&mut machine, true, start);
        assert_eq!(machine.state(), BreakerState::Open);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut machine = Machine::new(&config());
        let start = Instant::now();
        // Nine calls, five failed: one call short of judging the ratio.
        for n in 0..9 {
            call(&mut machine, n % 2 == 0, start);
        }
        // Eleven seconds later they are forgotten; counted, they would open the circuit.
        let later = start + Duration::from_secs(11);
        call(&mut machine, false, later);
        call(&mut machine, true, later);
        assert_eq!(machine.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_verdict_decides() {
        let mut machine = Machine::new(&config());
        let start = Instant::now();
        for _ in 0..3 {
            call(&mut machine, true, start);
        }
        let after_pause = start + Duration::from_secs(5);
        assert_eq!(machine.admit(after_pause), Admission::Probe);
        assert_eq!(machine.state(), BreakerState::HalfOpen);
        assert!(
            matches!(machine.admit(after_pause), Admission::Refused { .. }),
            "one probe at a time"
        );
        machine.record(true, true, after_pause);
        assert_eq!(
            machine.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );

        let later = after_pause + Duration::from_secs(5);
        assert_eq!(call(&mut machine, false, later), Admission::Probe);
        assert_eq!(machine.state(), BreakerState::Closed);
        assert_eq!(machine.admit(later), Admission::Call);
    }

    #[test]
    fn an_abandoned_probe_frees_its_place_and_late_calls_change_nothing() {
        let mut machine = Machine::new(&config());
        let start = Instant::now();
        let early = machine.admit(start);
        assert_eq!(early, Admission::Call);
        for _ in 0..3 {
            call(&mut machine, true, start);
        }
        let after_pause = start + Duration::from_secs(5);
        assert_eq!(machine.admit(after_pause), Admission::Probe);
        machine.abandon(true);
        // The call admitted while closed ends now: it does not close the circuit.
        machine.record(false, false, after_pause);
        assert_eq!(machine.state(), BreakerState::HalfOpen);
        assert_eq!(machine.admit(after_pause), Admission::Probe);
    }

    #[test]
    fn the_state_and_refusals_are_exported() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let node = Target {
                service: ServiceName::Gateway,
                node: Some("http://10.0.0.7:7100".to_owned()),
            };
            let breaker = CircuitBreaker::new(node, &config());
            for _ in 0..3 {
                breaker.admit().unwrap().record(true);
            }
            assert!(breaker.admit().is_err());
        });
        let text = handle.render();
        let labels = r#"{service="gateway",node="http://10.0.0.7:7100"}"#;
        assert!(
            text.contains(&format!("{STATE_METRIC}{labels} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{REFUSED_METRIC}{labels} 1")),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_open_breaker_refuses_with_circuit_open_and_a_retry_hint() {
        let breaker = CircuitBreaker::new(
            Target {
                service: ServiceName::Presence,
                node: None,
            },
            &config(),
        );
        for _ in 0..3 {
            breaker.admit().unwrap().record(true);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = breaker.admit().unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable);
        assert_eq!(error_code(&refused), Some(CIRCUIT_OPEN));
        assert_eq!(retry_after(&refused), Some(5));
        assert!(
            refused.message().contains("presence"),
            "{}",
            refused.message()
        );
    }
}
