//! Persistence of the authors' earnings ledger (`m20261203_200001_ledger`): accounts,
//! immutable transactions and entries, withdrawals, the pay setting. Rules live in
//! `myqcm_domain::ledger` and `myqcm_services::commerce::ledger`; this module holds the
//! statements, among them the ones that make money move exactly once:
//!
//! - [`post`] inserts the transaction with `ON CONFLICT (reference) DO NOTHING` first and writes
//!   entries only when that row is new (a second earning for one item writes nothing, and the
//!   surrounding transaction survives on PostgreSQL, where a failed insert would abort it);
//! - [`lock_account`] takes a row lock on a wallet (PostgreSQL) before its balance is read, so
//!   two withdrawal requests of one author are serialised; SQLite's `BEGIN IMMEDIATE` already
//!   serialises writers;
//! - [`settle_withdrawal`] is a conditional update (`requested` → `paid`/`failed`).

#![allow(missing_docs, reason = "entity fields are named like their columns")]

use myqcm_domain::ledger::{AccountKind, Balanced, WithdrawalStatus};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DbBackend, QueryOrder, QuerySelect};

use crate::DbError;
pub use crate::migration::m20261203_200001_ledger::EARNING_PER_ITEM;
use crate::sql::stmt;

macro_rules! entity {
    ($modname:ident, $table:literal, keys { $($key:ident : $kty:ty),+ $(,)? }, { $($field:ident : $ty:ty),* $(,)? }) => {
        pub mod $modname {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $(
                    #[sea_orm(primary_key, auto_increment = false)]
                    pub $key: $kty,
                )+
                $(pub $field: $ty,)*
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(ledger_account, "ledger_account", keys { id: Uuid }, {
    code: String, kind: String, owner_id: Option<Uuid>, created_at: i64,
});
entity!(ledger_transaction, "ledger_transaction", keys { id: Uuid }, {
    kind: String, reference: String, actor_id: Option<Uuid>, memo: String, created_at: i64,
});
entity!(ledger_entry, "ledger_entry", keys { id: Uuid }, {
    transaction_id: Uuid, account_id: Uuid, amount: i64, created_at: i64,
});
entity!(withdrawal, "withdrawal", keys { id: Uuid }, {
    author_id: Uuid, amount: i64, ccp_sealed: String, ccp_masked: String, status: String,
    note: String, requested_at: i64, settled_at: Option<i64>, settled_by: Option<Uuid>,
});
entity!(ledger_setting, "ledger_setting", keys { key: String }, {
    value: i64, updated_at: i64, updated_by: Option<Uuid>,
});

fn account_code(kind: AccountKind, owner: Option<Uuid>) -> String {
    match owner {
        Some(o) => format!("{}:{o}", kind.as_str()),
        None => kind.as_str().to_owned(),
    }
}

/// The account of `kind` (and `owner`, for a wallet), created on first use.
pub async fn account<C: ConnectionTrait>(
    c: &C,
    kind: AccountKind,
    owner: Option<Uuid>,
    now: i64,
) -> Result<Uuid, DbError> {
    let code = account_code(kind, owner);
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "INSERT INTO ledger_account (id, code, kind, owner_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
        vec![
            Uuid::now_v7().into(),
            code.clone().into(),
            kind.as_str().into(),
            owner.into(),
            now.into(),
        ],
    ))
    .await?;
    ledger_account::Entity::find()
        .filter(ledger_account::Column::Code.eq(code))
        .one(c)
        .await?
        .map(|a| a.id)
        .ok_or(DbError::NotFound)
}

/// The wallet of `author` if it exists (reading never creates one).
pub async fn wallet_of<C: ConnectionTrait>(c: &C, author: Uuid) -> Result<Option<Uuid>, DbError> {
    Ok(ledger_account::Entity::find()
        .filter(
            ledger_account::Column::Code.eq(account_code(AccountKind::AuthorWallet, Some(author))),
        )
        .one(c)
        .await?
        .map(|a| a.id))
}

/// Every account (the invariant checks of the tests, the ledger export).
pub async fn accounts<C: ConnectionTrait>(c: &C) -> Result<Vec<ledger_account::Model>, DbError> {
    Ok(ledger_account::Entity::find()
        .order_by_asc(ledger_account::Column::Code)
        .all(c)
        .await?)
}

/// Locks the account row until the transaction ends (PostgreSQL `FOR UPDATE`); a no-op on
/// SQLite, whose write transactions are serialised by `BEGIN IMMEDIATE`.
pub async fn lock_account<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<(), DbError> {
    if c.get_database_backend() == DbBackend::Postgres {
        c.query_one_raw(stmt(
            DbBackend::Postgres,
            "SELECT id FROM ledger_account WHERE id = $1 FOR UPDATE",
            vec![id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A transaction to record.
#[derive(Debug, Clone)]
pub struct NewTransaction<'a> {
    /// Stored kind (`myqcm_domain::ledger::TransactionKind::as_str`).
    pub kind: &'a str,
    /// Exactly-once reference, e.g. `earning:<item id>`.
    pub reference: String,
    /// Who caused it (`None` for the system).
    pub actor: Option<Uuid>,
    /// A short description (no personal data: it is kept forever).
    pub memo: String,
    /// Now (ms).
    pub now: i64,
}

/// Records a balanced transaction unless one with the same reference exists. Returns the new
/// transaction's id, or `None` when the reference was taken (nothing written).
pub async fn post<C: ConnectionTrait>(
    c: &C,
    t: NewTransaction<'_>,
    lines: &Balanced<Uuid>,
) -> Result<Option<Uuid>, DbError> {
    let id = Uuid::now_v7();
    let backend = c.get_database_backend();
    let res = c
        .execute_raw(stmt(
            backend,
            "INSERT INTO ledger_transaction (id, kind, reference, actor_id, memo, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (reference) DO NOTHING",
            vec![
                id.into(),
                t.kind.into(),
                t.reference.into(),
                t.actor.into(),
                t.memo.into(),
                t.now.into(),
            ],
        ))
        .await?;
    if res.rows_affected() != 1 {
        return Ok(None);
    }
    let rows = lines.postings().iter().map(|p| ledger_entry::ActiveModel {
        id: sea_orm::ActiveValue::Set(Uuid::now_v7()),
        transaction_id: sea_orm::ActiveValue::Set(id),
        account_id: sea_orm::ActiveValue::Set(p.account),
        amount: sea_orm::ActiveValue::Set(p.amount),
        created_at: sea_orm::ActiveValue::Set(t.now),
    });
    ledger_entry::Entity::insert_many(rows)
        .exec_without_returning(c)
        .await?;
    Ok(Some(id))
}

/// Whether a transaction with this reference exists.
pub async fn reference_exists<C: ConnectionTrait>(c: &C, reference: &str) -> Result<bool, DbError> {
    Ok(ledger_transaction::Entity::find()
        .filter(ledger_transaction::Column::Reference.eq(reference))
        .count(c)
        .await?
        > 0)
}

/// The sum of an account's entries (0 without any).
pub async fn balance<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<i64, DbError> {
    let backend = c.get_database_backend();
    let row = c
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM ledger_entry \
             WHERE account_id = $1",
            vec![account.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "total")?,
        None => 0,
    })
}

/// Transactions whose entries do not sum to zero (always none; the tests check it).
pub async fn unbalanced_transactions<C: ConnectionTrait>(c: &C) -> Result<i64, DbError> {
    let backend = c.get_database_backend();
    let row = c
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT transaction_id FROM ledger_entry \
             GROUP BY transaction_id HAVING SUM(amount) <> 0) t",
            vec![],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// An entry with its transaction.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub entry: ledger_entry::Model,
    pub transaction: ledger_transaction::Model,
}

/// Entries of `account`, newest first, `limit` of them, older than `before` (an entry id).
pub async fn entries<C: ConnectionTrait>(
    c: &C,
    account: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<EntryRow>, DbError> {
    let mut q = ledger_entry::Entity::find().filter(ledger_entry::Column::AccountId.eq(account));
    if let Some(b) = before {
        q = q.filter(ledger_entry::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(ledger_entry::Column::Id)
        .limit(limit)
        .all(c)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.transaction_id).collect();
    let txns = ledger_transaction::Entity::find()
        .filter(ledger_transaction::Column::Id.is_in(ids))
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|entry| {
            let transaction = txns.iter().find(|t| t.id == entry.transaction_id)?.clone();
            Some(EntryRow { entry, transaction })
        })
        .collect())
}

/// The integer setting `key`, or `default` when unset.
pub async fn setting<C: ConnectionTrait>(c: &C, key: &str, default: i64) -> Result<i64, DbError> {
    Ok(ledger_setting::Entity::find_by_id(key.to_owned())
        .one(c)
        .await?
        .map_or(default, |s| s.value))
}

/// Sets the integer setting `key`.
pub async fn set_setting<C: ConnectionTrait>(
    c: &C,
    key: &str,
    value: i64,
    by: Uuid,
    now: i64,
) -> Result<(), DbError> {
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "INSERT INTO ledger_setting (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        vec![key.into(), value.into(), now.into(), Some(by).into()],
    ))
    .await?;
    Ok(())
}

/// Whether the item was created by someone in the product (its history starts with the
/// `created` edit event), as opposed to an import or the demo seed.
pub async fn item_created_in_product<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
) -> Result<bool, DbError> {
    let backend = c.get_database_backend();
    let row = c
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM review_event \
             WHERE item_id = $1 AND kind = 'edit' AND body = 'created'",
            vec![item.into()],
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(n > 0)
}

/// Inserts a withdrawal.
pub async fn insert_withdrawal<C: ConnectionTrait>(
    c: &C,
    w: withdrawal::Model,
) -> Result<withdrawal::Model, DbError> {
    let am: withdrawal::ActiveModel = w.clone().into();
    withdrawal::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    Ok(w)
}

/// One withdrawal.
pub async fn withdrawal<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<withdrawal::Model>, DbError> {
    Ok(withdrawal::Entity::find_by_id(id).one(c).await?)
}

/// Withdrawals of `author`, newest first.
pub async fn withdrawals_of<C: ConnectionTrait>(
    c: &C,
    author: Uuid,
) -> Result<Vec<withdrawal::Model>, DbError> {
    Ok(withdrawal::Entity::find()
        .filter(withdrawal::Column::AuthorId.eq(author))
        .order_by_desc(withdrawal::Column::RequestedAt)
        .order_by_desc(withdrawal::Column::Id)
        .all(c)
        .await?)
}

/// Withdrawals in `status` (every one when `None`): the oldest request first, so finance staff
/// pay in order; at most `limit`.
pub async fn withdrawals<C: ConnectionTrait>(
    c: &C,
    status: Option<WithdrawalStatus>,
    limit: u64,
) -> Result<Vec<withdrawal::Model>, DbError> {
    let mut q = withdrawal::Entity::find();
    if let Some(s) = status {
        q = q.filter(withdrawal::Column::Status.eq(s.as_str()));
    }
    Ok(q.order_by_asc(withdrawal::Column::RequestedAt)
        .order_by_asc(withdrawal::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// Moves a `requested` withdrawal to `to` (paid or failed); `false` when it was settled
/// already (by a concurrent request, too: one conditional update).
pub async fn settle_withdrawal<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    to: WithdrawalStatus,
    note: &str,
    by: Uuid,
    now: i64,
) -> Result<bool, DbError> {
    let res = withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::Status, Expr::value(to.as_str()))
        .col_expr(withdrawal::Column::Note, Expr::value(note))
        .col_expr(withdrawal::Column::SettledAt, Expr::value(Some(now)))
        .col_expr(withdrawal::Column::SettledBy, Expr::value(Some(by)))
        .filter(withdrawal::Column::Id.eq(id))
        .filter(withdrawal::Column::Status.eq(WithdrawalStatus::Requested.as_str()))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Erasure: the postal account of every withdrawal of `author` is wiped (sealed and masked).
/// The amounts and the ledger stay: they are the platform's accounting records and name only
/// the (anonymised) account id.
pub async fn erase_author<C: ConnectionTrait>(c: &C, author: Uuid) -> Result<(), DbError> {
    withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::CcpSealed, Expr::value(""))
        .col_expr(withdrawal::Column::CcpMasked, Expr::value(""))
        .filter(withdrawal::Column::AuthorId.eq(author))
        .exec(c)
        .await?;
    Ok(())
}
