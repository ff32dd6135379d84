//! The `user_account` table seen by the identity work, with the security columns added by the
//! identity migration (the base entity in `crate::users` stays as the foundation left it).

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder, QuerySelect};

use crate::{DbError, is_unique_violation};

/// The full `user_account` row.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One account with every column.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_account")]
    pub struct Model {
        /// Account id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Lower-cased email, unique.
        pub email: String,
        /// Name shown in the interface.
        pub display_name: String,
        /// PHC string (argon2id) or a legacy bcrypt hash.
        pub password_hash: Option<String>,
        /// Comma-separated roles.
        pub roles: String,
        /// Comma-separated admin scopes.
        pub admin_scopes: String,
        /// `fr`, `ar` or `en`.
        pub locale: String,
        /// When the email was verified.
        pub email_verified_at: Option<DateTimeUtc>,
        /// Creation time.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
        /// Disabled by an admin (ms); disabled accounts cannot sign in or use a session.
        pub disabled_at: Option<i64>,
        /// Last password change (ms).
        pub password_changed_at: Option<i64>,
        /// Base32 TOTP secret once enrolment started.
        pub totp_secret: Option<String>,
        /// When TOTP enrolment was confirmed (ms).
        pub totp_enabled_at: Option<i64>,
        /// Last accepted TOTP time step (replay protection).
        pub totp_last_step: Option<i64>,
        /// Deletion requested (ms); erased after the grace period.
        pub deletion_requested_at: Option<i64>,
        /// Anonymised (ms).
        pub deleted_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Account;

/// Loads an account by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Account>, DbError> {
    entity::Entity::find_by_id(id)
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Loads an account by (lower-cased) email.
pub async fn find_by_email<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> Result<Option<Account>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::Email.eq(email.trim().to_lowercase()))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Saves changed columns of an account.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    model: entity::ActiveModel,
) -> Result<Account, DbError> {
    model.update(conn).await.map_err(|e| {
        if is_unique_violation(&e) {
            DbError::Conflict("email_taken")
        } else {
            e.into()
        }
    })
}

/// Sets the password hash (and the change time).
pub async fn set_password_hash<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    hash: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    entity::ActiveModel {
        id: Set(id),
        password_hash: Set(Some(hash.to_owned())),
        password_changed_at: Set(Some(now_ms)),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// Lists accounts, newest first (admin).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    limit: u64,
    offset: u64,
) -> Result<Vec<Account>, DbError> {
    entity::Entity::find()
        .order_by_desc(entity::Column::CreatedAt)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await
        .map_err(DbError::from)
}

/// Accounts whose deletion was requested before `cutoff_ms` and not yet carried out.
pub async fn due_for_deletion<C: ConnectionTrait>(
    conn: &C,
    cutoff_ms: i64,
) -> Result<Vec<Account>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::DeletionRequestedAt.lte(cutoff_ms))
        .filter(entity::Column::DeletedAt.is_null())
        .all(conn)
        .await
        .map_err(DbError::from)
}
