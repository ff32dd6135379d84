//! User accounts (the identity work builds sign-in sessions and verification on top).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use crate::{DbError, is_unique_violation};

/// The `user_account` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One account.
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
        /// PHC string (argon2id), or a legacy bcrypt hash until the next sign-in.
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
    }

    /// No relations yet.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as UserRow;

/// What is needed to create an account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email (lower-cased here).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Hash already computed by the caller.
    pub password_hash: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Admin scope names.
    pub admin_scopes: Vec<String>,
    /// Interface language.
    pub locale: String,
    /// Whether the email is already verified (staff created from the command line).
    pub verified: bool,
}

/// Inserts an account; [`DbError::Conflict`] when the email is taken.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    user: NewUser,
    now: DateTime<Utc>,
) -> Result<UserRow, DbError> {
    let model = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(user.email.trim().to_lowercase()),
        display_name: Set(user.display_name),
        password_hash: Set(user.password_hash),
        roles: Set(user.roles.join(",")),
        admin_scopes: Set(user.admin_scopes.join(",")),
        locale: Set(user.locale),
        email_verified_at: Set(user.verified.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    model.insert(conn).await.map_err(|e| {
        if is_unique_violation(&e) {
            DbError::Conflict("email_taken")
        } else {
            e.into()
        }
    })
}

/// Finds an account by email (case-insensitive).
pub async fn find_by_email<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> Result<Option<UserRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::Email.eq(email.trim().to_lowercase()))
        .one(conn)
        .await
        .map_err(DbError::from)
}
