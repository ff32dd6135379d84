//! `llm_call.outcome`: whether the reply of a recorded call was usable (`ok`) or came back
//! unusable (`malformed`: not JSON, not an object, cut short by the output bound, or not in the
//! schema's shape). An unusable reply is billed all the same, so it is recorded with its tokens
//! and counts toward the author's daily limit. Every call recorded before was `ok` (unusable
//! replies were not recorded).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LlmCall {
    Table,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LlmCall::Table)
                    .add_column(string_len(LlmCall::Outcome, 16).default("ok"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LlmCall::Table)
                    .drop_column(LlmCall::Outcome)
                    .to_owned(),
            )
            .await
    }
}
