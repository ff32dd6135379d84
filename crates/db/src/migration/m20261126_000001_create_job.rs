//! The job queue and its recurring schedules. Times are UTC epoch milliseconds (BIGINT) so the
//! same comparisons hold on both backends and "now" is always a bound parameter.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Job {
    Table,
    Id,
    Queue,
    Kind,
    Payload,
    Status,
    Priority,
    RunAt,
    Attempts,
    MaxAttempts,
    LockedBy,
    LockedUntil,
    LastError,
    IdempotencyKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobSchedule {
    Table,
    Name,
    Kind,
    Payload,
    EverySeconds,
    NextRunAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Job::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Job::Id))
                    .col(string_len(Job::Queue, 64).default("default"))
                    .col(string_len(Job::Kind, 128))
                    .col(text(Job::Payload))
                    .col(string_len(Job::Status, 16))
                    .col(integer(Job::Priority).default(0))
                    .col(big_integer(Job::RunAt))
                    .col(integer(Job::Attempts).default(0))
                    .col(integer(Job::MaxAttempts))
                    .col(string_len_null(Job::LockedBy, 128))
                    .col(big_integer_null(Job::LockedUntil))
                    .col(text_null(Job::LastError))
                    .col(string_len_null(Job::IdempotencyKey, 255))
                    .col(big_integer(Job::CreatedAt))
                    .col(big_integer(Job::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_claim")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::RunAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_lease")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::LockedUntil)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_job_idempotency_key")
                    .table(Job::Table)
                    .col(Job::IdempotencyKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobSchedule::Table)
                    .if_not_exists()
                    .col(string_len(JobSchedule::Name, 128).primary_key())
                    .col(string_len(JobSchedule::Kind, 128))
                    .col(text(JobSchedule::Payload))
                    .col(big_integer(JobSchedule::EverySeconds))
                    .col(big_integer(JobSchedule::NextRunAt))
                    .to_owned(),
            )
            .await
    }
}
