//! Long jobs: progress (fraction and message) the handler reports, a cancellation request an
//! admin records, when the current attempt started and when the job finished (the retention
//! purge measures from there). Times are UTC epoch milliseconds like the rest of the table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Job {
    Table,
    Status,
    Progress,
    ProgressMessage,
    CancelRequestedAt,
    StartedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for col in [
            double_null(Job::Progress),
            text_null(Job::ProgressMessage),
            big_integer_null(Job::CancelRequestedAt),
            big_integer_null(Job::StartedAt),
            big_integer_null(Job::FinishedAt),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Job::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_job_finished")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::FinishedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
