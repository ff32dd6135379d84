//! `plan.ai_grading`: whether the plan's learners get QROC grading assistance (a language model
//! judges the answers the tolerant match is unsure about). Off for every existing plan,
//! the free plan included.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plan {
    Table,
    AiGrading,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plan::Table)
                    .add_column(boolean(Plan::AiGrading).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Plan::Table)
                    .drop_column(Plan::AiGrading)
                    .to_owned(),
            )
            .await
    }
}
