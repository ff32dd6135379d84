//! `generation_request`: one row per AI generation request (issue 15), as imports have
//! `import_run`: who asked, for which course, counts, difficulty and language, its status
//! (`queued`, `running`, `done`, `failed`, `cancelled`), when it was made and finished, the
//! drafts it created, the tokens it used, the refused items (JSON: chunk, position, reason
//! code, message, a short excerpt of the stem) and the error of a failed request.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationRequest {
    Table,
    Id,
    RequesterId,
    Course,
    Kcs,
    Qcs,
    Qcm,
    Qroc,
    Difficulty,
    Language,
    Status,
    CreatedAt,
    FinishedAt,
    DraftsCreated,
    Tokens,
    Refusals,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GenerationRequest::Table)
                    .if_not_exists()
                    .col(uuid(GenerationRequest::Id).primary_key())
                    .col(uuid(GenerationRequest::RequesterId))
                    .col(string_len(GenerationRequest::Course, 64))
                    .col(text(GenerationRequest::Kcs))
                    .col(integer(GenerationRequest::Qcs))
                    .col(integer(GenerationRequest::Qcm))
                    .col(integer(GenerationRequest::Qroc))
                    .col(string_len(GenerationRequest::Difficulty, 8))
                    .col(string_len(GenerationRequest::Language, 4))
                    .col(string_len(GenerationRequest::Status, 12))
                    .col(big_integer(GenerationRequest::CreatedAt))
                    .col(big_integer_null(GenerationRequest::FinishedAt))
                    .col(integer(GenerationRequest::DraftsCreated).default(0))
                    .col(big_integer(GenerationRequest::Tokens).default(0))
                    .col(text(GenerationRequest::Refusals))
                    .col(text_null(GenerationRequest::Error))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "generation_request_requester",
            GenerationRequest::Table,
            &["requester_id", "created_at"],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GenerationRequest::Table).to_owned())
            .await
    }
}
