//! myqcm-jobs
