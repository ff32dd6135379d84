//! Import placeholder
