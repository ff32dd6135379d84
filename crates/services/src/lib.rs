//! Use cases of MyQCM with their transaction boundaries. The web layer, the command line and the
//! jobs all go through here; nothing here knows about HTTP.

pub mod ai;
pub mod calibration;
pub mod catalogue;
pub mod commerce;
pub mod context;
pub mod identity;
pub mod import;
pub mod jobs;
pub mod markdown;
pub mod overview;
pub mod passwords;
pub mod training;

pub use context::{Readiness, Services, SystemError};
