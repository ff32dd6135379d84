//! myqcm-web
