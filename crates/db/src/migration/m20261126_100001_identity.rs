//! Identity: sign-in sessions, one-time email tokens (verification, reset, email change), the
//! append-only audit log, and account columns for disabling, MFA and deletion. Times are BIGINT
//! epoch milliseconds, like the job table, so comparisons behave the same on both backends.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    DisabledAt,
    PasswordChangedAt,
    TotpSecret,
    TotpEnabledAt,
    TotpLastStep,
    DeletionRequestedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum AuthSession {
    Table,
    Id,
    UserId,
    FamilyId,
    AccessHash,
    AccessExpiresAt,
    RefreshHash,
    RefreshExpiresAt,
    PreviousRefreshHash,
    RotatedAt,
    AuthAt,
    MfaAt,
    Via,
    CreatedAt,
    LastSeenAt,
    Ip,
    UserAgent,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
enum EmailToken {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CodeHash,
    Email,
    ExpiresAt,
    UsedAt,
    CodeAttempts,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Action,
    Target,
    RequestId,
    Ip,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite accepts one column per ALTER TABLE.
        for col in [
            big_integer_null(UserAccount::DisabledAt),
            big_integer_null(UserAccount::PasswordChangedAt),
            text_null(UserAccount::TotpSecret),
            big_integer_null(UserAccount::TotpEnabledAt),
            big_integer_null(UserAccount::TotpLastStep),
            big_integer_null(UserAccount::DeletionRequestedAt),
            big_integer_null(UserAccount::DeletedAt),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(UserAccount::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuthSession::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuthSession::Id))
                    .col(uuid(AuthSession::UserId))
                    .col(uuid(AuthSession::FamilyId))
                    .col(string_len_uniq(AuthSession::AccessHash, 64))
                    .col(big_integer(AuthSession::AccessExpiresAt))
                    .col(string_len_uniq(AuthSession::RefreshHash, 64))
                    .col(big_integer(AuthSession::RefreshExpiresAt))
                    .col(string_len_null(AuthSession::PreviousRefreshHash, 64))
                    .col(big_integer_null(AuthSession::RotatedAt))
                    .col(big_integer(AuthSession::AuthAt))
                    .col(big_integer_null(AuthSession::MfaAt))
                    .col(string_len(AuthSession::Via, 16))
                    .col(big_integer(AuthSession::CreatedAt))
                    .col(big_integer(AuthSession::LastSeenAt))
                    .col(string_len_null(AuthSession::Ip, 64))
                    .col(string_len_null(AuthSession::UserAgent, 256))
                    .col(big_integer_null(AuthSession::RevokedAt))
                    .col(string_len_null(AuthSession::RevokedReason, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_session_user")
                    .table(AuthSession::Table)
                    .col(AuthSession::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_session_previous_refresh")
                    .table(AuthSession::Table)
                    .col(AuthSession::PreviousRefreshHash)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailToken::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailToken::Id))
                    .col(uuid(EmailToken::UserId))
                    .col(string_len(EmailToken::Purpose, 32))
                    .col(string_len_uniq(EmailToken::TokenHash, 64))
                    .col(string_len_null(EmailToken::CodeHash, 64))
                    .col(string_len(EmailToken::Email, 320))
                    .col(big_integer(EmailToken::ExpiresAt))
                    .col(big_integer_null(EmailToken::UsedAt))
                    .col(integer(EmailToken::CodeAttempts).default(0))
                    .col(big_integer(EmailToken::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_email_token_user_purpose")
                    .table(EmailToken::Table)
                    .col(EmailToken::UserId)
                    .col(EmailToken::Purpose)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditLog::Id))
                    .col(big_integer(AuditLog::At))
                    .col(uuid_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len_null(AuditLog::Target, 128))
                    .col(string_len_null(AuditLog::RequestId, 64))
                    .col(string_len_null(AuditLog::Ip, 64))
                    .col(text_null(AuditLog::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_at")
                    .table(AuditLog::Table)
                    .col(AuditLog::At)
                    .to_owned(),
            )
            .await
    }
}
