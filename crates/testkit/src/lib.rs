//! myqcm-testkit
