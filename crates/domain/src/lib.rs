//! myqcm-domain
