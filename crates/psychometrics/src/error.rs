//! The crate's error type: invalid parameters and unusable data, as values (C3, C5).

/// Errors returned by constructors and estimators of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PsyError {
    /// A parameter is outside its domain (for example a discrimination `a <= 0`).
    #[error("parameter `{name}` = {value} is out of range: {expected}")]
    InvalidParameter {
        /// Name of the parameter, as in the formula.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The accepted domain, in words.
        expected: &'static str,
    },
    /// A score is not in [0, 1] or not finite.
    #[error("score {value} is not in [0, 1]")]
    InvalidScore {
        /// The rejected score.
        value: f64,
    },
    /// The data cannot support the requested computation.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// An error reported by the `fsrs` crate.
    #[error("fsrs: {0}")]
    Fsrs(String),
}

/// Checks that `value` lies in the closed interval `[lo, hi]` and is finite.
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<f64, PsyError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(PsyError::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

/// Checks that a score is finite and in [0, 1].
pub(crate) fn check_score(value: f64) -> Result<f64, PsyError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(PsyError::InvalidScore { value })
    }
}
