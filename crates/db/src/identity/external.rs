//! External identities (Google): `(issuer, subject)` → account. Never keyed by email.

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use crate::{DbError, is_unique_violation};

/// The `external_identity` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One linked identity.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "external_identity")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Account.
        pub user_id: Uuid,
        /// `iss`.
        pub issuer: String,
        /// `sub`.
        pub subject: String,
        /// Email the provider reported when linking (display only).
        pub email: Option<String>,
        /// Creation (ms).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The account linked to `(issuer, subject)`.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    subject: &str,
) -> Result<Option<entity::Model>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::Issuer.eq(issuer))
        .filter(entity::Column::Subject.eq(subject))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Whether the account already has an identity from `issuer`.
pub async fn has_issuer<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    issuer: &str,
) -> Result<bool, DbError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::Issuer.eq(issuer))
        .one(conn)
        .await?
        .is_some())
}

/// Links `(issuer, subject)` to an account.
pub async fn link<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
    now_ms: i64,
) -> Result<(), DbError> {
    entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        email: Set(email.map(str::to_owned)),
        created_at: Set(now_ms),
    }
    .insert(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            DbError::Conflict("identity_linked")
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Removes every linked identity of an account; returns how many.
pub async fn unlink_all<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> Result<u64, DbError> {
    let res = entity::Entity::delete_many()
        .filter(entity::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
