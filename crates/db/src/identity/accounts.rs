//! The `user_account` table: the one entity for accounts (email, password hash, roles and
//! admin scopes, verification, TOTP, disabling and deletion). Accounts are created only through
//! `myqcm_services::identity::accounts::create_account`, which validates, hashes and audits;
//! [`insert`] is its storage step.

use chrono::{DateTime, Utc};
use myqcm_domain::permissions::{AdminScope, Role};
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
        #[sea_orm(unique)]
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

/// What is stored for a new account; the caller has validated every field and hashed the
/// password.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Email (stored trimmed and lower-cased).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// PHC string, or none (Google-only accounts).
    pub password_hash: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Admin scopes.
    pub admin_scopes: Vec<AdminScope>,
    /// Interface language.
    pub locale: String,
    /// Whether the email is already proven.
    pub verified: bool,
}

/// A comma-separated list as stored.
pub fn join_names<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Inserts an account; [`DbError::Conflict`]`("email_taken")` when the email is taken.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    new: NewAccount,
    now: DateTime<Utc>,
) -> Result<Account, DbError> {
    let model = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(new.email.trim().to_lowercase()),
        display_name: Set(new.display_name),
        password_hash: Set(new.password_hash),
        roles: Set(join_names(&new.roles)),
        admin_scopes: Set(join_names(&new.admin_scopes)),
        locale: Set(new.locale),
        email_verified_at: Set(new.verified.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
        password_changed_at: Set(None),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        deletion_requested_at: Set(None),
        deleted_at: Set(None),
    };
    model.insert(conn).await.map_err(|e| {
        if is_unique_violation(&e) {
            DbError::Conflict("email_taken")
        } else {
            e.into()
        }
    })
}

/// Loads an account by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Account>, DbError> {
    entity::Entity::find_by_id(id)
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Loads the accounts of `ids` (those that exist), in no particular order.
pub async fn by_ids<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> Result<Vec<Account>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    entity::Entity::find()
        .filter(entity::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
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

/// Accounts that may hold the super scope and are active (not disabled, not deleted), locked
/// for update on PostgreSQL (SQLite writers are serialised anyway), so two concurrent demotions
/// cannot both see another super admin. The caller checks roles and scopes exactly.
pub async fn active_super_admin_candidates<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<Account>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::AdminScopes.contains("super"))
        .filter(entity::Column::DisabledAt.is_null())
        .filter(entity::Column::DeletedAt.is_null())
        .lock_exclusive()
        .all(conn)
        .await
        .map_err(DbError::from)
}
