//! JSON API resources under `/api/v1`, one module per resource (router next to its handlers).

pub mod account;
pub mod admin_users;
pub mod ai;
pub mod ai_grading;
pub mod ai_kcs;
pub mod ai_usage;
pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod commerce;
pub mod jobs;
pub mod ledger;
pub mod payments;
pub mod progress;
pub mod training;
