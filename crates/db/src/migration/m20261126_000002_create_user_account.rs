//! User accounts: email, password hash (argon2id), roles and admin scopes. The identity work
//! adds sign-in sessions, verification and MFA in later migrations.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Roles,
    AdminScopes,
    Locale,
    EmailVerifiedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserAccount::Table)
                    .if_not_exists()
                    .col(pk_uuid(UserAccount::Id))
                    .col(string_len_uniq(UserAccount::Email, 320))
                    .col(string_len(UserAccount::DisplayName, 120))
                    .col(text_null(UserAccount::PasswordHash))
                    .col(string_len(UserAccount::Roles, 255))
                    .col(string_len(UserAccount::AdminScopes, 255).default(""))
                    .col(string_len(UserAccount::Locale, 8).default("fr"))
                    .col(timestamp_with_time_zone_null(UserAccount::EmailVerifiedAt))
                    .col(timestamp_with_time_zone(UserAccount::CreatedAt))
                    .col(timestamp_with_time_zone(UserAccount::UpdatedAt))
                    .to_owned(),
            )
            .await
    }
}
