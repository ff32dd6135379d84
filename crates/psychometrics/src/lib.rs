//! Pure psychometrics for MyQCM: item response theory (1PL/2PL/3PL), ability estimation,
//! Bayesian knowledge tracing, a memory model over `fsrs`, item selection, calibration by
//! marginal maximum likelihood, evaluation metrics and a simulator with known truth.
//!
//! # Layout
//! * [`irt`] — item response functions, log-likelihood, derivatives, Fisher information.
//! * [`quadrature`] — the fixed θ grid shared by EAP and calibration.
//! * [`ability`] — EAP (with posterior SD), MAP, and the O(grid) online posterior update.
//! * [`bkt`] — Bayesian knowledge tracing: the update, P(correct), multi-KC items, EM fit.
//! * [`memory`] — spaced-repetition memory via the `fsrs` crate, with guess-aware ratings.
//! * [`selection`] — next-unit choice with reason codes, exposure control, no-repeat window.
//! * [`metrics`] — log-loss, Brier, ECE, AUC, reliability bins, bootstrap intervals.
//! * [`sim`] — simulated learners and items (3PL, several KCs, BKT learning, forgetting).
//! * [`evaluation`] — time-ordered replay of online predictors (item mean, learner mean, Elo,
//!   IRT with online θ, BKT), training-window fits, metrics with bootstrap intervals.
//! * [`dif`] — differential item functioning (Mantel–Haenszel, ETS classes).
//! * [`quality`] — classical item analysis: difficulty, point-biserial, distractors by
//!   ability band, alerts (likely miskey, possible leak, drift).
//! * [`calibration`] — Bock–Aitkin MML-EM for 1PL/2PL/3PL with priors, on many cores.
//! * [`stop`] — [`StopReason`], why an EM loop stopped, as a value.
//! * [`error`] — [`PsyError`].
//!
//! # Purity
//! This crate performs no I/O, reads no clock and owns no global random state: every random
//! function takes the generator as a parameter. It must not depend on tokio, sqlx, axum,
//! tracing or serde_json; `serde` derives sit behind the `serde` feature.
//!
//! # Scales
//! θ, b are on the logit scale (no 1.702 scaling constant); probabilities are in [0, 1];
//! scores are labels (0 or 1) by default, fractional scores in [0, 1] are accepted where
//! stated and enter the likelihood as the Bernoulli quasi-likelihood `u ln P + (1−u) ln(1−P)`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ability;
pub mod bkt;
pub mod calibration;
pub mod dif;
pub mod error;
pub mod evaluation;
pub mod irt;
pub mod memory;
pub mod metrics;
pub mod quadrature;
pub mod quality;
pub mod selection;
pub mod sim;
pub mod stop;

pub use error::PsyError;
pub use stop::StopReason;
