//! TOTP recovery codes (hashed, single use) and external identities for Google sign-in, keyed
//! by (issuer, subject), never by email.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MfaRecoveryCode {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExternalIdentity {
    Table,
    Id,
    UserId,
    Issuer,
    Subject,
    Email,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MfaRecoveryCode::Table)
                    .if_not_exists()
                    .col(pk_uuid(MfaRecoveryCode::Id))
                    .col(uuid(MfaRecoveryCode::UserId))
                    .col(string_len_uniq(MfaRecoveryCode::CodeHash, 64))
                    .col(big_integer_null(MfaRecoveryCode::UsedAt))
                    .col(big_integer(MfaRecoveryCode::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mfa_recovery_code_user")
                    .table(MfaRecoveryCode::Table)
                    .col(MfaRecoveryCode::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExternalIdentity::Table)
                    .if_not_exists()
                    .col(pk_uuid(ExternalIdentity::Id))
                    .col(uuid(ExternalIdentity::UserId))
                    .col(string_len(ExternalIdentity::Issuer, 255))
                    .col(string_len(ExternalIdentity::Subject, 255))
                    .col(string_len_null(ExternalIdentity::Email, 320))
                    .col(big_integer(ExternalIdentity::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_external_identity_iss_sub")
                    .table(ExternalIdentity::Table)
                    .col(ExternalIdentity::Issuer)
                    .col(ExternalIdentity::Subject)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
