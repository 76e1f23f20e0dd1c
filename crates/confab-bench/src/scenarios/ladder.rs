//! The stepping rule of the stepped scenarios (fan-out, many rooms): which rate comes next, and
//! what the run's figures are once it stops.
//!
//! A step is *held* when every delivery arrived exactly once, in order, within the p99 bound. On a
//! shared machine one step can fail because another process took the core for half a second, so a
//! step that is not held is tried again at the same rate (`--retries`, default 1) before it counts
//! as not held; stepping stops after `--stop-after-fails` rates in a row (default 2) that were not
//! held. Three figures come out, because one alone misleads:
//! - `held_dps`: the highest rate held (the best case; above ~150 k/s on Confab it is reached only
//!   when the backlog makes the server batch several frames per write),
//! - `first_unheld_offered_dps`: the lowest rate that was not held (where everyday load ends),
//! - `held_below_first_unheld_dps`: the highest rate held below it (every rate up to it held).

/// What the runner does after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Run the same rate again (the step was not held and has retries left).
    Retry,
    /// Go on to the next rate.
    Advance,
    /// Stop stepping: too many rates in a row were not held.
    Stop,
}

/// The outcome of one rate once its tries are over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RateOutcome {
    /// Offered deliveries/s.
    pub(super) rate: f64,
    /// Index (in the list of recorded steps) of the try that decided it: the held one, or the last.
    pub(super) step: usize,
    pub(super) held: bool,
}

pub(super) struct Ladder {
    /// Extra tries for a step that was not held.
    retries: usize,
    /// Rates in a row not held after which stepping stops; `None`: never stop early.
    stop_after: Option<usize>,
    tries_at_rate: usize,
    fails_in_row: usize,
    steps_recorded: usize,
    outcomes: Vec<RateOutcome>,
}

impl Ladder {
    pub(super) fn new(retries: usize, stop_after: Option<usize>) -> Ladder {
        Ladder {
            retries,
            stop_after: stop_after.map(|n| n.max(1)),
            tries_at_rate: 0,
            fails_in_row: 0,
            steps_recorded: 0,
            outcomes: Vec::new(),
        }
    }

    /// Records one try at `rate` (recorded as step number `steps_recorded` so far) and says what next.
    pub(super) fn record(&mut self, rate: f64, held: bool) -> Next {
        let step = self.steps_recorded;
        self.steps_recorded += 1;
        self.tries_at_rate += 1;
        if !held && self.tries_at_rate <= self.retries {
            return Next::Retry;
        }
        self.tries_at_rate = 0;
        self.outcomes.push(RateOutcome { rate, step, held });
        if held {
            self.fails_in_row = 0;
        } else {
            self.fails_in_row += 1;
        }
        match self.stop_after {
            Some(n) if self.fails_in_row >= n => Next::Stop,
            _ => Next::Advance,
        }
    }

    pub(super) fn outcomes(&self) -> &[RateOutcome] {
        &self.outcomes
    }

    /// The highest rate held (by offered rate).
    pub(super) fn highest_held(&self) -> Option<RateOutcome> {
        self.outcomes
            .iter()
            .filter(|o| o.held)
            .copied()
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
    }

    /// The lowest rate that was not held, after its retries.
    pub(super) fn first_unheld(&self) -> Option<RateOutcome> {
        self.outcomes
            .iter()
            .filter(|o| !o.held)
            .copied()
            .min_by(|a, b| a.rate.total_cmp(&b.rate))
    }

    /// The highest rate held below the first one not held: every rate up to it held.
    pub(super) fn held_below_first_unheld(&self) -> Option<RateOutcome> {
        let limit = self.first_unheld().map(|o| o.rate).unwrap_or(f64::INFINITY);
        self.outcomes
            .iter()
            .filter(|o| o.held && o.rate < limit)
            .copied()
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `tries` (rate, held) through a ladder and returns the decisions.
    fn play(l: &mut Ladder, tries: &[(f64, bool)]) -> Vec<Next> {
        tries.iter().map(|&(r, h)| l.record(r, h)).collect()
    }

    /// A stall in one try is absorbed by the retry: the rate counts as held and stepping goes on.
    #[test]
    fn one_unheld_try_is_retried_and_does_not_count() {
        let mut l = Ladder::new(1, Some(2));
        let n = play(
            &mut l,
            &[(100.0, true), (200.0, false), (200.0, true), (300.0, true)],
        );
        assert_eq!(
            n,
            vec![Next::Advance, Next::Retry, Next::Advance, Next::Advance]
        );
        assert_eq!(l.highest_held().map(|o| o.rate), Some(300.0));
        assert_eq!(l.highest_held().map(|o| o.step), Some(3));
        assert!(l.first_unheld().is_none());
        assert_eq!(l.held_below_first_unheld().map(|o| o.rate), Some(300.0));
    }

    /// One rate that is not held twice does not stop stepping; the best held rate above it is still
    /// reported, beside the first unheld rate and the last rate held before it.
    #[test]
    fn steps_past_a_single_unheld_rate() {
        let mut l = Ladder::new(1, Some(2));
        let n = play(
            &mut l,
            &[
                (150.0, true),
                (200.0, false),
                (200.0, false),
                (300.0, true),
                (500.0, true),
            ],
        );
        assert_eq!(n[2], Next::Advance);
        assert_eq!(l.highest_held().map(|o| o.rate), Some(500.0));
        assert_eq!(l.first_unheld().map(|o| (o.rate, o.step)), Some((200.0, 2)));
        assert_eq!(l.held_below_first_unheld().map(|o| o.rate), Some(150.0));
    }

    /// Two rates in a row not held (after retries) stop the run.
    #[test]
    fn stops_after_two_unheld_rates_in_a_row() {
        let mut l = Ladder::new(1, Some(2));
        let n = play(
            &mut l,
            &[
                (150.0, true),
                (200.0, false),
                (200.0, false),
                (300.0, false),
                (300.0, false),
            ],
        );
        assert_eq!(n.last(), Some(&Next::Stop));
        assert_eq!(l.highest_held().map(|o| o.rate), Some(150.0));
        assert_eq!(l.outcomes().len(), 3);
    }

    /// Without retries and without a stop rule every try is its own rate and nothing stops.
    #[test]
    fn no_retries_no_stop() {
        let mut l = Ladder::new(0, None);
        let n = play(&mut l, &[(1.0, false), (2.0, false), (3.0, false)]);
        assert_eq!(n, vec![Next::Advance; 3]);
        assert!(l.highest_held().is_none());
        assert!(l.held_below_first_unheld().is_none());
        assert_eq!(l.first_unheld().map(|o| o.rate), Some(1.0));
    }
}
