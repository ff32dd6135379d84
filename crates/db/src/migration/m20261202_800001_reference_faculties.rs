//! Adds the Algerian faculties of medicine of the reference list (`data/
//! algerian_faculties_of_medicine.json`) with their universities, under their French names.
//! Codes already present are left as they are, so an administrator's edits survive.

use sea_orm_migration::prelude::*;

use crate::catalogue::{reference, upsert_faculty, upsert_university};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let fail = |e: crate::DbError| DbErr::Migration(e.to_string());
        for u in reference::list() {
            let row = upsert_university(db, &u.code, &u.names.fr)
                .await
                .map_err(fail)?;
            for f in &u.faculties {
                upsert_faculty(db, &f.code, row.id, &f.names.fr, &f.field)
                    .await
                    .map_err(fail)?;
            }
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Reference rows may be in use by profiles and blueprints: they stay.
        Ok(())
    }
}
