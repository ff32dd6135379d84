//! Schema migrations, one file each, applied in order by `myqcm serve` and `myqcm migrate`.
//! Only backend-neutral schema helpers are used, so each file serves SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

mod helpers;
mod m20261126_000001_create_job;
mod m20261126_000002_create_user_account;
mod m20261126_100001_identity;
mod m20261126_100002_mfa_recovery;
mod m20261126_200001_create_catalogue;
mod m20261127_300001_training;
mod m20261127_300002_media_use;
mod m20261127_500001_job_control;
mod m20261202_700001_sec_session_limits;
mod m20261202_800001_reference_faculties;
pub mod m20261202_900001_commerce;
mod m20261203_100001_payments;
pub mod m20261203_200001_ledger;
mod m20261203_300001_item_quality;
mod m20261204_400001_kc_suggestion;
mod m20261205_100001_plan_ai_grading;
// AI accounting, generation requests, QROC grade rationales (issue 15).
mod m20261206_100001_llm_call;
mod m20261206_100002_generation_request;
mod m20261206_100003_qroc_grade_rationale;
// Unusable model replies are accounted (their tokens were billed).
mod m20261206_100004_llm_call_outcome;

/// The ordered list of migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_job::Migration),
            Box::new(m20261126_000002_create_user_account::Migration),
            Box::new(m20261126_100001_identity::Migration),
            Box::new(m20261126_100002_mfa_recovery::Migration),
            Box::new(m20261126_200001_create_catalogue::Migration),
            Box::new(m20261127_300001_training::Migration),
            Box::new(m20261127_300002_media_use::Migration),
            Box::new(m20261127_500001_job_control::Migration),
            Box::new(m20261202_700001_sec_session_limits::Migration),
            Box::new(m20261202_800001_reference_faculties::Migration),
            Box::new(m20261202_900001_commerce::Migration),
            Box::new(m20261203_100001_payments::Migration),
            Box::new(m20261203_200001_ledger::Migration),
            Box::new(m20261203_300001_item_quality::Migration),
            Box::new(m20261204_400001_kc_suggestion::Migration),
            Box::new(m20261205_100001_plan_ai_grading::Migration),
            // AI accounting, generation requests, QROC grade rationales (issue 15).
            Box::new(m20261206_100001_llm_call::Migration),
            Box::new(m20261206_100002_generation_request::Migration),
            Box::new(m20261206_100003_qroc_grade_rationale::Migration),
            Box::new(m20261206_100004_llm_call_outcome::Migration),
        ]
    }
}
