//! Sign-in sessions (`auth_session`): one row per device, holding only SHA-256 hashes of the
//! current access and refresh tokens and of the refresh token just rotated away (grace window).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder};

use crate::DbError;

/// The `auth_session` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One sign-in session.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "auth_session")]
    pub struct Model {
        /// Session id (shown in the device list).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Owner.
        pub user_id: Uuid,
        /// Refresh-token family (revoked as a whole on reuse).
        pub family_id: Uuid,
        /// SHA-256 (hex) of the current access token.
        pub access_hash: String,
        /// Access token expiry (ms).
        pub access_expires_at: i64,
        /// SHA-256 (hex) of the current refresh token.
        pub refresh_hash: String,
        /// Refresh token expiry (ms).
        pub refresh_expires_at: i64,
        /// The refresh token rotated away last, accepted during the grace window.
        pub previous_refresh_hash: Option<String>,
        /// When the last rotation happened (ms).
        pub rotated_at: Option<i64>,
        /// Last time the user proved knowledge of a credential in this session (ms; step-up).
        pub auth_at: i64,
        /// Last TOTP check in this session (ms).
        pub mfa_at: Option<i64>,
        /// `cookie` or `bearer`.
        pub via: String,
        /// Creation (ms).
        pub created_at: i64,
        /// Last use (ms, coarse).
        pub last_seen_at: i64,
        /// Client address at sign-in.
        pub ip: Option<String>,
        /// Client user agent at sign-in (truncated).
        pub user_agent: Option<String>,
        /// Revocation time (ms).
        pub revoked_at: Option<i64>,
        /// Why it was revoked.
        pub revoked_reason: Option<String>,
        /// End fixed at sign-in that no rotation extends (ms); none on sessions from before.
        pub absolute_expires_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as SessionRow;

/// Inserts a session.
pub async fn insert<C: ConnectionTrait>(conn: &C, row: SessionRow) -> Result<(), DbError> {
    entity::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        family_id: Set(row.family_id),
        access_hash: Set(row.access_hash),
        access_expires_at: Set(row.access_expires_at),
        refresh_hash: Set(row.refresh_hash),
        refresh_expires_at: Set(row.refresh_expires_at),
        previous_refresh_hash: Set(row.previous_refresh_hash),
        rotated_at: Set(row.rotated_at),
        auth_at: Set(row.auth_at),
        mfa_at: Set(row.mfa_at),
        via: Set(row.via),
        created_at: Set(row.created_at),
        last_seen_at: Set(row.last_seen_at),
        ip: Set(row.ip),
        user_agent: Set(row.user_agent),
        revoked_at: Set(row.revoked_at),
        revoked_reason: Set(row.revoked_reason),
        absolute_expires_at: Set(row.absolute_expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A session by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<SessionRow>, DbError> {
    entity::Entity::find_by_id(id)
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// The session whose current access token hashes to `hash`.
pub async fn by_access_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
) -> Result<Option<SessionRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::AccessHash.eq(hash))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// The session whose current refresh token hashes to `hash`.
pub async fn by_refresh_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
) -> Result<Option<SessionRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::RefreshHash.eq(hash))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// The session whose previous (rotated away) refresh token hashes to `hash`.
pub async fn by_previous_refresh_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
) -> Result<Option<SessionRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::PreviousRefreshHash.eq(hash))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// New token hashes after a rotation.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// New access hash.
    pub access_hash: String,
    /// New access expiry (ms).
    pub access_expires_at: i64,
    /// New refresh hash.
    pub refresh_hash: String,
    /// New refresh expiry (ms).
    pub refresh_expires_at: i64,
}

/// Rotates the tokens of session `id` only if its current refresh hash is still `expected`
/// and it is not revoked (compare-and-set, so of two racing rotations exactly one wins).
pub async fn rotate<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    expected: &str,
    next: &Rotation,
    now_ms: i64,
) -> Result<bool, DbError> {
    let res = entity::Entity::update_many()
        .col_expr(
            entity::Column::AccessHash,
            Expr::value(next.access_hash.clone()),
        )
        .col_expr(
            entity::Column::AccessExpiresAt,
            Expr::value(next.access_expires_at),
        )
        .col_expr(
            entity::Column::RefreshHash,
            Expr::value(next.refresh_hash.clone()),
        )
        .col_expr(
            entity::Column::RefreshExpiresAt,
            Expr::value(next.refresh_expires_at),
        )
        .col_expr(
            entity::Column::PreviousRefreshHash,
            Expr::value(expected.to_owned()),
        )
        .col_expr(entity::Column::RotatedAt, Expr::value(now_ms))
        .col_expr(entity::Column::LastSeenAt, Expr::value(now_ms))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::RefreshHash.eq(expected))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes the sessions matching `filter` that are still live; returns their access hashes
/// (so cached look-ups can be dropped).
async fn revoke_where<C: ConnectionTrait>(
    conn: &C,
    filter: sea_orm::Condition,
    reason: &str,
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    let live = entity::Entity::find()
        .filter(filter.clone())
        .filter(entity::Column::RevokedAt.is_null())
        .all(conn)
        .await?;
    if live.is_empty() {
        return Ok(live);
    }
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(now_ms))
        .col_expr(
            entity::Column::RevokedReason,
            Expr::value(reason.to_owned()),
        )
        .filter(filter)
        .filter(entity::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(live)
}

/// Revokes one session.
pub async fn revoke<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    reason: &str,
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    revoke_where(
        conn,
        sea_orm::Condition::all().add(entity::Column::Id.eq(id)),
        reason,
        now_ms,
    )
    .await
}

/// Revokes every session of a refresh family.
pub async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    family_id: Uuid,
    reason: &str,
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    revoke_where(
        conn,
        sea_orm::Condition::all().add(entity::Column::FamilyId.eq(family_id)),
        reason,
        now_ms,
    )
    .await
}

/// Revokes every session of a user, except `keep` when given.
pub async fn revoke_user<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    let mut cond = sea_orm::Condition::all().add(entity::Column::UserId.eq(user_id));
    if let Some(k) = keep {
        cond = cond.add(entity::Column::Id.ne(k));
    }
    revoke_where(conn, cond, reason, now_ms).await
}

/// A user's sessions that are neither revoked nor past their refresh expiry, newest first.
pub async fn list_live<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    entity::Entity::find()
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::RevokedAt.is_null())
        .filter(entity::Column::RefreshExpiresAt.gt(now_ms))
        .order_by_desc(entity::Column::CreatedAt)
        .order_by_desc(entity::Column::Id)
        .all(conn)
        .await
        .map_err(DbError::from)
}

/// Records a fresh proof of a credential (step-up) in the session.
pub async fn mark_authenticated<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now_ms: i64,
    mfa: bool,
) -> Result<(), DbError> {
    let mut q = entity::Entity::update_many()
        .col_expr(entity::Column::AuthAt, Expr::value(now_ms))
        .filter(entity::Column::Id.eq(id));
    if mfa {
        q = q.col_expr(entity::Column::MfaAt, Expr::value(now_ms));
    }
    q.exec(conn).await?;
    Ok(())
}

/// Deletes sessions that ended (revoked or expired) before `cutoff_ms` (retention).
pub async fn purge_ended_before<C: ConnectionTrait>(
    conn: &C,
    cutoff_ms: i64,
) -> Result<u64, DbError> {
    let res = entity::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(entity::Column::RevokedAt.lt(cutoff_ms))
                .add(entity::Column::RefreshExpiresAt.lt(cutoff_ms)),
        )
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// The `auth_refresh_rotated` table: every refresh token rotated away, until it would expire.
pub mod rotated {
    use sea_orm::entity::prelude::*;

    /// One rotated-away refresh token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "auth_refresh_rotated")]
    pub struct Model {
        /// SHA-256 (hex) of the rotated token.
        #[sea_orm(primary_key, auto_increment = false)]
        pub refresh_hash: String,
        /// Its session.
        pub session_id: Uuid,
        /// Its refresh family.
        pub family_id: Uuid,
        /// Owner.
        pub user_id: Uuid,
        /// When it was rotated away (ms).
        pub rotated_at: i64,
        /// When it would have expired (ms); the row goes after that.
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Remembers a refresh token rotated away from `session` (until `expires_at`).
pub async fn remember_rotated<C: ConnectionTrait>(
    conn: &C,
    session: &SessionRow,
    hash: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    rotated::ActiveModel {
        refresh_hash: Set(hash.to_owned()),
        session_id: Set(session.id),
        family_id: Set(session.family_id),
        user_id: Set(session.user_id),
        rotated_at: Set(now_ms),
        expires_at: Set(session.refresh_expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A rotated-away refresh token by hash, while it would still be valid.
pub async fn find_rotated<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
    now_ms: i64,
) -> Result<Option<rotated::Model>, DbError> {
    rotated::Entity::find_by_id(hash.to_owned())
        .filter(rotated::Column::ExpiresAt.gt(now_ms))
        .one(conn)
        .await
        .map_err(DbError::from)
}

/// Deletes rotated-token records past their expiry (and those of purged sessions' users when
/// `user` is given, for erasure).
pub async fn purge_rotated<C: ConnectionTrait>(
    conn: &C,
    now_ms: i64,
    user: Option<Uuid>,
) -> Result<u64, DbError> {
    let mut cond = sea_orm::Condition::any().add(rotated::Column::ExpiresAt.lte(now_ms));
    if let Some(u) = user {
        cond = cond.add(rotated::Column::UserId.eq(u));
    }
    let res = rotated::Entity::delete_many()
        .filter(cond)
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
