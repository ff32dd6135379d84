//! `item_alert`: what the item-quality scan found about an item (likely miskey, possible leak,
//! drift, differential functioning of a translation), one row per item and kind of alert. The
//! scan opens, refreshes and clears rows; a reviewer may dismiss one, and a dismissed alert
//! stays dismissed until the scan no longer sees it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ItemAlert {
    Table,
    ItemId,
    Code,
    Status,
    Detail,
    FirstSeenAt,
    UpdatedAt,
    DecidedBy,
}

#[derive(DeriveIden)]
enum Item {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ItemAlert::Table)
                    .if_not_exists()
                    .col(uuid(ItemAlert::ItemId))
                    .col(string_len(ItemAlert::Code, 24))
                    .col(string_len(ItemAlert::Status, 12))
                    .col(text(ItemAlert::Detail))
                    .col(big_integer(ItemAlert::FirstSeenAt))
                    .col(big_integer(ItemAlert::UpdatedAt))
                    .col(uuid_null(ItemAlert::DecidedBy))
                    .primary_key(Index::create().col(ItemAlert::ItemId).col(ItemAlert::Code))
                    .foreign_key(&mut fk(
                        (ItemAlert::Table, ItemAlert::ItemId),
                        (Item::Table, Item::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_item_alert_status",
            ItemAlert::Table,
            &["status", "updated_at"],
            false,
        )
        .await
    }
}
