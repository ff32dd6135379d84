//! myqcm-services
