//! Persistence of identity: accounts' security columns, sign-in sessions, one-time email
//! tokens and the append-only audit log. Times are epoch milliseconds (see the migration).

pub mod accounts;
pub mod audit;
pub mod mfa;
pub mod sessions;
pub mod tokens;

use chrono::{DateTime, Utc};

/// Epoch milliseconds of `t`.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of epoch milliseconds `v`.
pub fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}
