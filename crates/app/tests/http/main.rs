//! Every HTTP test of the application in one binary (one link instead of one per file): a real
//! server on a loopback port per test, a fresh database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`; Redis with `MYQCM_TEST_REDIS_URL`), a fixed clock. The server comes
//! from [`support::spawn_app`]; see `README.md` beside this file to add a test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

mod support;

mod account_pages;
mod admin;
mod admin_catalogue;
mod admin_commerce;
mod admin_console;
mod admin_pages;
mod ai;
mod ai_grading;
mod ai_kcs;
mod ai_requests;
mod ai_usage;
mod author_pages;
mod catalogue;
mod commerce;
mod identity;
mod identity_security;
mod instances;
mod jobs;
mod ledger;
mod logs;
mod oidc;
mod pages;
mod payments;
mod platform;
mod practice;
mod privacy;
mod progress;
mod quality_pages;
mod review_pages;
mod security_findings;
mod telemetry;
mod training;
