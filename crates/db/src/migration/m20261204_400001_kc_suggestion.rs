//! `kc_suggestion`: the knowledge components a language model proposed for an item (issue 15),
//! at most three per item, each with its rank, score and confidence level, and what the
//! reviewer did with it (`pending`, `accepted`, `ignored`). A new run replaces the item's rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::helpers::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KcSuggestion {
    Table,
    ItemId,
    KcId,
    Rank,
    Score,
    Confidence,
    Model,
    PromptVersion,
    Status,
    CreatedAt,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Item {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KcNode {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KcSuggestion::Table)
                    .if_not_exists()
                    .col(uuid(KcSuggestion::ItemId))
                    .col(uuid(KcSuggestion::KcId))
                    .col(integer(KcSuggestion::Rank))
                    .col(double(KcSuggestion::Score))
                    .col(string_len(KcSuggestion::Confidence, 8))
                    .col(string_len(KcSuggestion::Model, 120))
                    .col(string_len(KcSuggestion::PromptVersion, 24))
                    .col(string_len(KcSuggestion::Status, 12))
                    .col(big_integer(KcSuggestion::CreatedAt))
                    .col(uuid_null(KcSuggestion::DecidedBy))
                    .col(big_integer_null(KcSuggestion::DecidedAt))
                    .primary_key(
                        Index::create()
                            .col(KcSuggestion::ItemId)
                            .col(KcSuggestion::KcId),
                    )
                    .foreign_key(&mut fk(
                        (KcSuggestion::Table, KcSuggestion::ItemId),
                        (Item::Table, Item::Id),
                    ))
                    .foreign_key(&mut fk(
                        (KcSuggestion::Table, KcSuggestion::KcId),
                        (KcNode::Table, KcNode::Id),
                    ))
                    .to_owned(),
            )
            .await
    }
}
