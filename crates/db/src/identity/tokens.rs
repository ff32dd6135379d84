//! One-time email tokens (`email_token`): verification, password reset and email change. Only
//! SHA-256 hashes of the link token and of the 6-digit code are stored; redemption is a
//! conditional update, so a token works once.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder};

use crate::DbError;

/// The `email_token` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "email_token")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Account.
        pub user_id: Uuid,
        /// `verify_email`, `reset_password` or `change_email`.
        pub purpose: String,
        /// SHA-256 (hex) of the link token.
        pub token_hash: String,
        /// SHA-256 (hex) of the code, bound to the token id.
        pub code_hash: Option<String>,
        /// The address the token was sent to (and, for email change, the new address).
        pub email: String,
        /// Expiry (ms).
        pub expires_at: i64,
        /// Redemption (ms).
        pub used_at: Option<i64>,
        /// Wrong codes tried against this token.
        pub code_attempts: i32,
        /// Creation (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as EmailTokenRow;

/// Inserts a token after invalidating the user's earlier unused tokens of the same purpose.
pub async fn issue<C: ConnectionTrait>(conn: &C, row: EmailTokenRow) -> Result<(), DbError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(row.created_at))
        .filter(entity::Column::UserId.eq(row.user_id))
        .filter(entity::Column::Purpose.eq(row.purpose.clone()))
        .filter(entity::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    entity::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        purpose: Set(row.purpose),
        token_hash: Set(row.token_hash),
        code_hash: Set(row.code_hash),
        email: Set(row.email),
        expires_at: Set(row.expires_at),
        used_at: Set(None),
        code_attempts: Set(0),
        created_at: Set(row.created_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The token whose link hashes to `hash`.
pub async fn by_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
) -> Result<Option<EmailTokenRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// The latest unused token of `purpose` for a user.
pub async fn latest_unused<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    purpose: &str,
) -> Result<Option<EmailTokenRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::Purpose.eq(purpose))
        .filter(entity::Column::UsedAt.is_null())
        .order_by_desc(entity::Column::CreatedAt)
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Marks the token used if it still was unused; false when someone else got there first.
pub async fn consume<C: ConnectionTrait>(conn: &C, id: Uuid, now_ms: i64) -> Result<bool, DbError> {
    let res = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now_ms))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Counts a wrong code.
pub async fn count_wrong_code<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbError> {
    entity::Entity::update_many()
        .col_expr(
            entity::Column::CodeAttempts,
            Expr::col(entity::Column::CodeAttempts).add(1),
        )
        .filter(entity::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Invalidates every unused token of `purpose` for a user.
pub async fn invalidate_all<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    purpose: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now_ms))
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::Purpose.eq(purpose))
        .filter(entity::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Invalidates every unused token of every purpose for a user (the mailbox was proven, so
/// whatever was pending, an email change included, came from before that proof).
pub async fn invalidate_every_purpose<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now_ms: i64,
) -> Result<u64, DbError> {
    let res = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now_ms))
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
