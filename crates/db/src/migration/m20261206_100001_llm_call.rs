//! `llm_call`: one row per language-model call (issue 15, accounting): its kind (`generation`,
//! `kc_suggestion`, `grading`), the author it is billed to (none for QROC grades: the learner
//! is never recorded), the request or job it belongs to, the model, the prompt and completion
//! tokens and the estimated cost in micro-units of the configured currency (0 = price unknown).
//! `day` is the Africa/Algiers day (`YYYY-MM-DD`), the unit of the per-author daily limit.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LlmCall {
    Table,
    Id,
    At,
    Day,
    Kind,
    AuthorId,
    RequestId,
    Model,
    PromptTokens,
    CompletionTokens,
    CostMicros,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LlmCall::Table)
                    .if_not_exists()
                    .col(uuid(LlmCall::Id).primary_key())
                    .col(big_integer(LlmCall::At))
                    .col(string_len(LlmCall::Day, 10))
                    .col(string_len(LlmCall::Kind, 16))
                    .col(uuid_null(LlmCall::AuthorId))
                    .col(string_len_null(LlmCall::RequestId, 64))
                    .col(string_len(LlmCall::Model, 120))
                    .col(big_integer(LlmCall::PromptTokens))
                    .col(big_integer(LlmCall::CompletionTokens))
                    .col(big_integer(LlmCall::CostMicros))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "llm_call_author_day",
            LlmCall::Table,
            &["author_id", "day"],
            false,
        )
        .await?;
        index(manager, "llm_call_day", LlmCall::Table, &["day"], false).await?;
        index(
            manager,
            "llm_call_request",
            LlmCall::Table,
            &["request_id"],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LlmCall::Table).to_owned())
            .await
    }
}
