//! myqcm-db
