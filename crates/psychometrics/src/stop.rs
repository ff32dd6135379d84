//! Why an iterative estimator stopped, returned as a value (convention C2).

/// The reason an EM loop (calibration or BKT fit) stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StopReason {
    /// The largest absolute parameter change of the last iteration fell below the tolerance.
    ParameterChange {
        /// That largest change.
        max_change: f64,
    },
    /// The relative change of the log-likelihood `|ΔLL| / (1 + |LL|)` fell below its tolerance.
    LogLikChange {
        /// That relative change.
        rel_change: f64,
    },
    /// The iteration cap was reached before either criterion held.
    MaxIterations,
}

impl StopReason {
    /// True when a convergence criterion (not the cap) ended the loop.
    ///
    /// ```
    /// # use myqcm_psychometrics::StopReason;
    /// assert!(!StopReason::MaxIterations.converged());
    /// assert!(StopReason::ParameterChange { max_change: 1e-5 }.converged());
    /// ```
    #[must_use]
    pub fn converged(&self) -> bool {
        !matches!(self, Self::MaxIterations)
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ParameterChange { max_change } => {
                write!(f, "parameter change {max_change:.3e} below tolerance")
            }
            Self::LogLikChange { rel_change } => {
                write!(
                    f,
                    "relative log-likelihood change {rel_change:.3e} below tolerance"
                )
            }
            Self::MaxIterations => write!(f, "iteration cap reached"),
        }
    }
}
