//! myqcm-integrations
