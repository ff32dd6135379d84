//! `qroc_grade_rationale`: the language model's short rationale for its grade of a QROC
//! answer (issue 15), one per graded attempt, with the model and when. Kept beside the attempt
//! (the grade itself is on the attempt) and shown to reviewers only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QrocGradeRationale {
    Table,
    AttemptId,
    Rationale,
    Model,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QrocGradeRationale::Table)
                    .if_not_exists()
                    .col(uuid(QrocGradeRationale::AttemptId).primary_key())
                    .col(text(QrocGradeRationale::Rationale))
                    .col(string_len(QrocGradeRationale::Model, 120))
                    .col(big_integer(QrocGradeRationale::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QrocGradeRationale::Table).to_owned())
            .await
    }
}
