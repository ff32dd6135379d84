//! `media_use`: which item (current revision) or clinical case names which image, so an image
//! is served only to someone who may read a thing that uses it. Filled for existing content.

use myqcm_domain::catalogue::media::media_ids;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MediaUse {
    Table,
    ImageId,
    OwnerKind,
    OwnerId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MediaUse::Table)
                    .if_not_exists()
                    .col(uuid(MediaUse::ImageId))
                    .col(string_len(MediaUse::OwnerKind, 8))
                    .col(uuid(MediaUse::OwnerId))
                    .primary_key(
                        Index::create()
                            .col(MediaUse::ImageId)
                            .col(MediaUse::OwnerKind)
                            .col(MediaUse::OwnerId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_media_use_owner")
                    .table(MediaUse::Table)
                    .col(MediaUse::OwnerKind)
                    .col(MediaUse::OwnerId)
                    .to_owned(),
            )
            .await?;
        backfill(manager).await
    }
}

/// Records the images named by today's items and cases.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let mut uses: Vec<(uuid::Uuid, &str, uuid::Uuid)> = Vec::new();
    let items = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT i.id AS id, r.content AS text FROM item i \
             JOIN item_revision r ON r.id = i.current_revision_id",
        ))
        .await?;
    let cases = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, scenario || ' ' || objectives AS text FROM clinical_case",
        ))
        .await?;
    for (kind, rows) in [("item", items), ("case", cases)] {
        for row in rows {
            let id: uuid::Uuid = row.try_get("", "id")?;
            let text: String = row.try_get("", "text")?;
            for image in media_ids(&text) {
                uses.push((image, kind, id));
            }
        }
    }
    for chunk in uses.chunks(500) {
        let mut insert = Query::insert();
        insert.into_table(MediaUse::Table).columns([
            MediaUse::ImageId,
            MediaUse::OwnerKind,
            MediaUse::OwnerId,
        ]);
        for (image, kind, owner) in chunk {
            insert
                .values([(*image).into(), (*kind).into(), (*owner).into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        manager.exec_stmt(insert).await?;
    }
    Ok(())
}
