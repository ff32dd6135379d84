//! Spaced-repetition memory through the `fsrs` crate (FSRS-6, by the FSRS authors; BSD-3),
//! with a guess-aware mapping from MCQ answers to review ratings and a cohort fit.
//!
//! FSRS models a memory by its stability S (days until recall probability falls to 90 %) and
//! difficulty D, with the power forgetting curve `R(t, S) = (1 + f t / S)^(−w₂₀)`,
//! `f = 0.9^(−1/w₂₀) − 1` (Ye, Su & Cao, 2022, *KDD*; Ye et al., 2023, *IEEE TKDE*). We do
//! not re-implement it: scheduling and fitting call the crate.
//!
//! What we add is the rating. An MCQ answer is not a self-graded flashcard: a correct QCS
//! answer can be a lucky guess. With the model's P(correct) before the attempt `P` and the
//! guessing floor `g` (1/k for a QCS with k options, 0 for an open answer), the probability
//! that the learner knew is `K = (P − g)/(1 − g)`, and Bayes gives
//!
//! ```text
//! P(lucky | correct) = g (1 − K) / P
//! ```
//!
//! A correct answer that was more likely a guess than recall is rated `Hard` (remembered
//! weakly), not `Good`; a wrong answer is `Again`. MCQs carry no signal of effortless recall,
//! so `Easy` is never produced automatically.

pub use fsrs::MemoryState;
use fsrs::{FSRS, FSRSItem, FSRSReview};

use crate::error::PsyError;

/// A review rating on FSRS's four-button scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Rating {
    /// Forgotten.
    Again = 1,
    /// Recalled with difficulty (or probably guessed).
    Hard = 2,
    /// Recalled.
    Good = 3,
    /// Recalled effortlessly.
    Easy = 4,
}

impl Rating {
    fn as_u32(self) -> u32 {
        self as u32
    }
}

/// Probability that a correct answer was a lucky guess: `g (1 − K) / P` with
/// `K = clamp((P − g)/(1 − g), 0, 1)` (Bayes' rule under "knows, else guesses"; the 3PL's
/// reading of c, Lord, 1980, §2.3).
///
/// ```
/// # use myqcm_psychometrics::memory::p_lucky_guess;
/// assert!((p_lucky_guess(0.25, 0.25) - 1.0).abs() < 1e-12); // at the floor: surely a guess
/// assert!(p_lucky_guess(0.95, 0.25) < 0.1);
/// assert_eq!(p_lucky_guess(0.6, 0.0), 0.0); // open answer: no guessing
/// ```
#[must_use]
pub fn p_lucky_guess(p_correct: f64, guess: f64) -> f64 {
    let g = guess.clamp(0.0, 0.99);
    let p = p_correct.clamp(g.max(1e-12), 1.0);
    let known = ((p - g) / (1.0 - g)).clamp(0.0, 1.0);
    (g * (1.0 - known) / p).clamp(0.0, 1.0)
}

/// Maps an answer to a rating: `score < 0.5 → Again`; otherwise `Hard` if
/// `P(lucky | correct) > 0.5` or the score is partial (< 1), else `Good` (module docs).
///
/// ```
/// # use myqcm_psychometrics::memory::{rating_for_answer, Rating};
/// assert_eq!(rating_for_answer(0.0, 0.8, 0.2), Rating::Again);
/// assert_eq!(rating_for_answer(1.0, 0.3, 0.25), Rating::Hard); // likely a lucky QCS guess
/// assert_eq!(rating_for_answer(1.0, 0.8, 0.25), Rating::Good);
/// ```
#[must_use]
pub fn rating_for_answer(score: f64, p_correct_before: f64, guess: f64) -> Rating {
    if score.is_nan() || score < 0.5 {
        Rating::Again
    } else if score < 1.0 || p_lucky_guess(p_correct_before, guess) > 0.5 {
        Rating::Hard
    } else {
        Rating::Good
    }
}

/// The memory state after a review and the next interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scheduled {
    /// Stability and difficulty after the review.
    pub memory: MemoryState,
    /// Days until recall probability falls to the desired retention.
    pub interval_days: f32,
}

/// FSRS scheduler with a desired retention.
#[derive(Debug, Clone)]
pub struct MemoryModel {
    fsrs: FSRS,
    decay: f32,
    desired_retention: f32,
}

impl MemoryModel {
    /// A scheduler from FSRS parameters (empty = the crate's defaults) and a desired
    /// retention in (0, 1).
    ///
    /// ```
    /// # use myqcm_psychometrics::memory::MemoryModel;
    /// assert!(MemoryModel::new(&[], 0.9).is_ok());
    /// assert!(MemoryModel::new(&[], 1.5).is_err());
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] for a retention outside (0, 1); [`PsyError::Fsrs`] when
    /// the crate rejects the parameters.
    pub fn new(params: &[f32], desired_retention: f64) -> Result<Self, PsyError> {
        if !(desired_retention > 0.0 && desired_retention < 1.0) {
            return Err(PsyError::InvalidParameter {
                name: "desired_retention",
                value: desired_retention,
                expected: "a retention in (0, 1)",
            });
        }
        let filled =
            fsrs::check_and_fill_parameters(params).map_err(|e| PsyError::Fsrs(e.to_string()))?;
        let decay = filled.get(20).copied().unwrap_or(fsrs::FSRS6_DEFAULT_DECAY);
        let fsrs = FSRS::new(&filled).map_err(|e| PsyError::Fsrs(e.to_string()))?;
        Ok(Self {
            fsrs,
            decay,
            desired_retention: desired_retention as f32,
        })
    }

    /// The state after a review with `rating`, `days_elapsed` after the previous one (`None`
    /// for a first review), and the next interval (FSRS-6 `next_states`).
    ///
    /// ```
    /// # use myqcm_psychometrics::memory::{MemoryModel, Rating};
    /// let m = MemoryModel::new(&[], 0.9).unwrap();
    /// let good = m.review(None, 0, Rating::Good).unwrap();
    /// let again = m.review(None, 0, Rating::Again).unwrap();
    /// assert!(good.interval_days > again.interval_days);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::Fsrs`] if the crate fails.
    pub fn review(
        &self,
        state: Option<MemoryState>,
        days_elapsed: u32,
        rating: Rating,
    ) -> Result<Scheduled, PsyError> {
        let next = self
            .fsrs
            .next_states(state, self.desired_retention, days_elapsed)
            .map_err(|e| PsyError::Fsrs(e.to_string()))?;
        let s = match rating {
            Rating::Again => next.again,
            Rating::Hard => next.hard,
            Rating::Good => next.good,
            Rating::Easy => next.easy,
        };
        Ok(Scheduled {
            memory: s.memory,
            interval_days: s.interval,
        })
    }

    /// Recall probability `R(t, S) = (1 + f t / S)^(−w₂₀)` after `days` days.
    ///
    /// ```
    /// # use myqcm_psychometrics::memory::{MemoryModel, Rating};
    /// let m = MemoryModel::new(&[], 0.9).unwrap();
    /// let s = m.review(None, 0, Rating::Good).unwrap();
    /// let r = m.retrievability(s.memory, s.interval_days);
    /// assert!((r - 0.9).abs() < 0.01);
    /// ```
    #[must_use]
    pub fn retrievability(&self, state: MemoryState, days: f32) -> f64 {
        f64::from(fsrs::current_retrievability(
            state,
            days.max(0.0),
            self.decay,
        ))
    }

    /// How due a review is, for selection: `clamp((R* − R)/R*, 0, 1)` where R* is the desired
    /// retention (0 while recall is above target, rising to 1 as R falls to 0).
    ///
    /// ```
    /// # use myqcm_psychometrics::memory::{MemoryModel, Rating};
    /// let m = MemoryModel::new(&[], 0.9).unwrap();
    /// let s = m.review(None, 0, Rating::Good).unwrap();
    /// assert_eq!(m.due_score(s.memory, 0.0), 0.0);
    /// assert!(m.due_score(s.memory, 365.0) > 0.3);
    /// ```
    #[must_use]
    pub fn due_score(&self, state: MemoryState, days: f32) -> f64 {
        let target = f64::from(self.desired_retention);
        ((target - self.retrievability(state, days)) / target).clamp(0.0, 1.0)
    }
}

/// One review in a card's history: its rating and the days since the previous review
/// (0 for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    /// The rating given (for example by [`rating_for_answer`]).
    pub rating: Rating,
    /// Days since the previous review.
    pub days_elapsed: u32,
}

/// Fits cohort FSRS parameters from review histories (one history per learner × item, in
/// time order) with the crate's optimizer (`fsrs::compute_parameters`). Each history of n
/// reviews gives n − 1 training items: every prefix of length ≥ 2 (its last review is the
/// target). Returns the 21 parameters; the crate returns its defaults when data are scarce.
///
/// ```no_run
/// # use myqcm_psychometrics::memory::{fit_cohort, Rating, Review};
/// let h = vec![Review { rating: Rating::Good, days_elapsed: 0 }, Review { rating: Rating::Good, days_elapsed: 3 }];
/// let params = fit_cohort(&[h]).unwrap();
/// assert_eq!(params.len(), 21);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] if no history has two reviews; [`PsyError::Fsrs`] if the
/// optimizer fails.
pub fn fit_cohort(histories: &[Vec<Review>]) -> Result<Vec<f32>, PsyError> {
    let mut train_set = Vec::new();
    for h in histories {
        let reviews: Vec<FSRSReview> = h
            .iter()
            .enumerate()
            .map(|(i, r)| FSRSReview {
                rating: r.rating.as_u32(),
                delta_t: if i == 0 { 0 } else { r.days_elapsed },
            })
            .collect();
        for len in 2..=reviews.len() {
            train_set.push(FSRSItem {
                reviews: reviews[..len].to_vec(),
            });
        }
    }
    if train_set.is_empty() {
        return Err(PsyError::InvalidData(
            "no review history with at least two reviews".into(),
        ));
    }
    fsrs::compute_parameters(fsrs::ComputeParametersInput {
        train_set,
        ..Default::default()
    })
    .map_err(|e| PsyError::Fsrs(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucky_guess_posterior_matches_hand_computation() {
        // P = 0.4, g = 0.25: K = 0.15/0.75 = 0.2, lucky = 0.25 · 0.8 / 0.4 = 0.5.
        assert!((p_lucky_guess(0.4, 0.25) - 0.5).abs() < 1e-12);
        assert_eq!(rating_for_answer(0.8, 0.9, 0.0), Rating::Hard);
        assert_eq!(rating_for_answer(f64::NAN, 0.9, 0.0), Rating::Again);
    }

    #[test]
    fn a_probable_guess_gets_a_shorter_interval_than_recall() {
        let m = MemoryModel::new(&[], 0.9).unwrap();
        let first = m.review(None, 0, Rating::Good).unwrap();
        let guessed = m
            .review(Some(first.memory), 3, rating_for_answer(1.0, 0.3, 0.25))
            .unwrap();
        let recalled = m
            .review(Some(first.memory), 3, rating_for_answer(1.0, 0.9, 0.25))
            .unwrap();
        assert!(guessed.interval_days < recalled.interval_days);
        assert!(m.retrievability(first.memory, 0.0) > 0.99);
    }

    #[test]
    fn fit_cohort_needs_two_reviews_and_returns_parameters() {
        let one = vec![vec![Review {
            rating: Rating::Good,
            days_elapsed: 0,
        }]];
        assert!(fit_cohort(&one).is_err());
        let histories: Vec<Vec<Review>> = (0..40)
            .map(|i| {
                vec![
                    Review {
                        rating: Rating::Good,
                        days_elapsed: 0,
                    },
                    Review {
                        rating: if i % 5 == 0 {
                            Rating::Again
                        } else {
                            Rating::Good
                        },
                        days_elapsed: 2,
                    },
                    Review {
                        rating: Rating::Good,
                        days_elapsed: 5,
                    },
                ]
            })
            .collect();
        let p = fit_cohort(&histories).unwrap();
        assert_eq!(p.len(), 21);
        assert!(MemoryModel::new(&p, 0.9).is_ok());
    }
}
