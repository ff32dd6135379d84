//! Refresh-token history and absolute session lifetime (issue 9.5): `auth_refresh_rotated` keeps
//! the hash of every refresh token rotated away until that token would have expired, so reuse
//! of any older token is recognised; `auth_session.absolute_expires_at` is the end fixed at
//! sign-in that no rotation extends (null on sessions from before: they are given
//! `created_at` + the learner limit when read).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthRefreshRotated {
    Table,
    RefreshHash,
    SessionId,
    FamilyId,
    UserId,
    RotatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuthSession {
    Table,
    AbsoluteExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthRefreshRotated::Table)
                    .if_not_exists()
                    .col(string_len(AuthRefreshRotated::RefreshHash, 64).primary_key())
                    .col(uuid(AuthRefreshRotated::SessionId))
                    .col(uuid(AuthRefreshRotated::FamilyId))
                    .col(uuid(AuthRefreshRotated::UserId))
                    .col(big_integer(AuthRefreshRotated::RotatedAt))
                    .col(big_integer(AuthRefreshRotated::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_refresh_rotated_expires")
                    .table(AuthRefreshRotated::Table)
                    .col(AuthRefreshRotated::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuthSession::Table)
                    .add_column(big_integer_null(AuthSession::AbsoluteExpiresAt))
                    .to_owned(),
            )
            .await
    }
}
