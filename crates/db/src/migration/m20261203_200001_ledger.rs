//! The authors' earnings ledger (issue 14 item 4): double-entry and immutable. Accounts
//! (`ledger_account`, one wallet per author plus the platform's accounts), transactions
//! (`ledger_transaction`, each with a unique `reference` so an earning or a settlement is
//! recorded exactly once) and their entries (`ledger_entry`, signed centimes summing to zero
//! per transaction). Triggers refuse any UPDATE or DELETE of transactions and entries on both
//! backends: a correction is a reversal transaction. Withdrawals (`withdrawal`) keep the postal
//! account sealed with the AEAD and a masked form; `ledger_setting` holds the pay per first
//! approval (seeded at 15 DZD = 1500 centimes).

use super::helpers::{fk, index};
use sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerAccount {
    Table,
    Id,
    Code,
    Kind,
    OwnerId,
    CreatedAt,
}
#[derive(DeriveIden)]
enum LedgerTransaction {
    Table,
    Id,
    Kind,
    Reference,
    ActorId,
    Memo,
    CreatedAt,
}
#[derive(DeriveIden)]
enum LedgerEntry {
    Table,
    Id,
    TransactionId,
    AccountId,
    Amount,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Withdrawal {
    Table,
    Id,
    AuthorId,
    Amount,
    CcpSealed,
    CcpMasked,
    Status,
    Note,
    RequestedAt,
    SettledAt,
    SettledBy,
}
#[derive(DeriveIden)]
enum LedgerSetting {
    Table,
    Key,
    Value,
    UpdatedAt,
    UpdatedBy,
}

const SQLITE_GUARDS: [&str; 4] = [
    "CREATE TRIGGER IF NOT EXISTS ledger_entry_no_update BEFORE UPDATE ON ledger_entry \
     BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_entry_no_delete BEFORE DELETE ON ledger_entry \
     BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction \
     BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_delete BEFORE DELETE ON ledger_transaction \
     BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END",
];

const POSTGRES_GUARDS: [&str; 3] = [
    "CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger AS $$ \
     BEGIN RAISE EXCEPTION 'ledger rows are immutable'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_entry \
     FOR EACH ROW EXECUTE FUNCTION ledger_immutable()",
    "CREATE TRIGGER ledger_transaction_immutable BEFORE UPDATE OR DELETE ON ledger_transaction \
     FOR EACH ROW EXECUTE FUNCTION ledger_immutable()",
];

/// The setting key of an author's pay per first approval, in centimes.
pub const EARNING_PER_ITEM: &str = "earning_per_item";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LedgerAccount::Table)
                .if_not_exists()
                .col(pk_uuid(LedgerAccount::Id))
                .col(string_len(LedgerAccount::Code, 64))
                .col(string_len(LedgerAccount::Kind, 32))
                .col(uuid_null(LedgerAccount::OwnerId))
                .col(big_integer(LedgerAccount::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_ledger_account_code",
            LedgerAccount::Table,
            &["code"],
            true,
        )
        .await?;
        index(
            m,
            "ix_ledger_account_owner",
            LedgerAccount::Table,
            &["owner_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerTransaction::Table)
                .if_not_exists()
                .col(pk_uuid(LedgerTransaction::Id))
                .col(string_len(LedgerTransaction::Kind, 32))
                .col(string_len(LedgerTransaction::Reference, 96))
                .col(uuid_null(LedgerTransaction::ActorId))
                .col(text(LedgerTransaction::Memo))
                .col(big_integer(LedgerTransaction::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_ledger_transaction_reference",
            LedgerTransaction::Table,
            &["reference"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerEntry::Table)
                .if_not_exists()
                .col(pk_uuid(LedgerEntry::Id))
                .col(uuid(LedgerEntry::TransactionId))
                .col(uuid(LedgerEntry::AccountId))
                .col(big_integer(LedgerEntry::Amount))
                .col(big_integer(LedgerEntry::CreatedAt))
                .foreign_key(&mut fk(
                    (LedgerEntry::Table, LedgerEntry::TransactionId),
                    (LedgerTransaction::Table, LedgerTransaction::Id),
                ))
                .foreign_key(&mut fk(
                    (LedgerEntry::Table, LedgerEntry::AccountId),
                    (LedgerAccount::Table, LedgerAccount::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_ledger_entry_account",
            LedgerEntry::Table,
            &["account_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_ledger_entry_transaction",
            LedgerEntry::Table,
            &["transaction_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Withdrawal::Table)
                .if_not_exists()
                .col(pk_uuid(Withdrawal::Id))
                .col(uuid(Withdrawal::AuthorId))
                .col(big_integer(Withdrawal::Amount))
                .col(text(Withdrawal::CcpSealed))
                .col(string_len(Withdrawal::CcpMasked, 32))
                .col(string_len(Withdrawal::Status, 16))
                .col(text(Withdrawal::Note))
                .col(big_integer(Withdrawal::RequestedAt))
                .col(big_integer_null(Withdrawal::SettledAt))
                .col(uuid_null(Withdrawal::SettledBy))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_withdrawal_author",
            Withdrawal::Table,
            &["author_id", "requested_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_withdrawal_status",
            Withdrawal::Table,
            &["status", "requested_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerSetting::Table)
                .if_not_exists()
                .col(string_len(LedgerSetting::Key, 64).primary_key())
                .col(big_integer(LedgerSetting::Value))
                .col(big_integer(LedgerSetting::UpdatedAt))
                .col(uuid_null(LedgerSetting::UpdatedBy))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(LedgerSetting::Table)
                .columns([
                    LedgerSetting::Key,
                    LedgerSetting::Value,
                    LedgerSetting::UpdatedAt,
                ])
                .values_panic([EARNING_PER_ITEM.into(), 1500i64.into(), 0i64.into()])
                .to_owned(),
        )
        .await?;

        let db = m.get_connection();
        let guards: &[&str] = match m.get_database_backend() {
            DbBackend::Postgres => &POSTGRES_GUARDS,
            _ => &SQLITE_GUARDS,
        };
        for sql in guards {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
