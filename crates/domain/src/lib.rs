//! The rules of MyQCM, free of I/O.
//!
//! Owns the value types, the error vocabulary and the *ports* (traits) that the rest of the
//! system implements: [`ports::Clock`], [`ports::Cache`], [`ports::BlobStore`], [`ports::Mailer`],
//! [`entitlements::Entitlements`], [`payments::PaymentGateway`]. Learning rules: [`scoring`] (rule sets, grading, the one
//! labelling function), [`learning`] (the learner-state update), [`training`] (modes, styles,
//! session parameters).
//! Depends on nothing that performs I/O; the `db`, `integrations`, `web` and `jobs` crates depend
//! on it, never the other way round.

pub mod catalogue;
pub mod clock;
pub mod codes;
pub mod entitlements;
pub mod identity;
pub mod learning;
pub mod ledger;
pub mod localtime;
pub mod payments;
pub mod permissions;
pub mod ports;
pub mod scoring;
pub mod text;
pub mod training;

pub use clock::{Clock, FixedClock, SystemClock};
