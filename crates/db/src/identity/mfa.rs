//! TOTP state on the account and single-use recovery codes (stored as SHA-256 hashes).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use crate::DbError;
use crate::identity::accounts::entity as account;

/// The `mfa_recovery_code` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One recovery code.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mfa_recovery_code")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Account.
        pub user_id: Uuid,
        /// SHA-256 (hex) of the normalised code.
        pub code_hash: String,
        /// When it was used (ms).
        pub used_at: Option<i64>,
        /// Creation (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores a (sealed) TOTP secret awaiting confirmation; enrolment is not active yet.
pub async fn start_enrolment<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    sealed_secret: &str,
) -> Result<(), DbError> {
    account::ActiveModel {
        id: Set(user_id),
        totp_secret: Set(Some(sealed_secret.to_owned())),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// Accepts time step `step` only if it is later than the last accepted one (compare-and-set:
/// a code is used once, even by two racing requests).
pub async fn accept_step<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    step: i64,
) -> Result<bool, DbError> {
    let res = account::Entity::update_many()
        .col_expr(account::Column::TotpLastStep, Expr::value(step))
        .filter(account::Column::Id.eq(user_id))
        .filter(
            sea_orm::Condition::any()
                .add(account::Column::TotpLastStep.is_null())
                .add(account::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Activates enrolment and replaces the recovery codes.
pub async fn activate<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now_ms: i64,
    code_hashes: &[String],
) -> Result<(), DbError> {
    account::ActiveModel {
        id: Set(user_id),
        totp_enabled_at: Set(Some(now_ms)),
        ..Default::default()
    }
    .update(conn)
    .await?;
    replace_recovery_codes(conn, user_id, now_ms, code_hashes).await
}

/// Replaces every recovery code of an account (used or not) with `code_hashes`.
pub async fn replace_recovery_codes<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now_ms: i64,
    code_hashes: &[String],
) -> Result<(), DbError> {
    entity::Entity::delete_many()
        .filter(entity::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    for h in code_hashes {
        entity::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            code_hash: Set(h.clone()),
            used_at: Set(None),
            created_at: Set(now_ms),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Uses a recovery code once; false when unknown or already used.
pub async fn use_recovery_code<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    code_hash: &str,
    now_ms: i64,
) -> Result<bool, DbError> {
    let res = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now_ms))
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::CodeHash.eq(code_hash))
        .filter(entity::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Every stored TOTP secret (sealed), by account.
pub async fn stored_secrets<C: ConnectionTrait>(conn: &C) -> Result<Vec<(Uuid, String)>, DbError> {
    Ok(account::Entity::find()
        .filter(account::Column::TotpSecret.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|a| a.totp_secret.map(|s| (a.id, s)))
        .collect())
}

/// Replaces a stored secret if it is still `expected` (compare-and-set against a concurrent
/// re-enrolment); false when it changed meanwhile.
pub async fn replace_secret<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    expected: &str,
    sealed: &str,
) -> Result<bool, DbError> {
    let res = account::Entity::update_many()
        .col_expr(account::Column::TotpSecret, Expr::value(sealed.to_owned()))
        .filter(account::Column::Id.eq(user_id))
        .filter(account::Column::TotpSecret.eq(expected))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Removes TOTP (secret, enrolment, last step) and every recovery code of an account.
pub async fn clear<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> Result<(), DbError> {
    account::Entity::update_many()
        .col_expr(
            account::Column::TotpSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            account::Column::TotpEnabledAt,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            account::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .filter(account::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    entity::Entity::delete_many()
        .filter(entity::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}
