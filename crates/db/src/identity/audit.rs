//! The append-only audit log: this module offers insert and read, nothing that updates or
//! deletes a row (retention purging excepted, by age only).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, Condition, ConnectionTrait, QueryOrder, QuerySelect};

use crate::DbError;

/// The `audit_log` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        /// Id (time-ordered).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// When (ms, UTC).
        pub at: i64,
        /// Who acted (absent for anonymous attempts).
        pub actor_id: Option<Uuid>,
        /// What happened, e.g. `sign_in.failed`.
        pub action: String,
        /// What it was done to (user id, session id…).
        pub target: Option<String>,
        /// The request id.
        pub request_id: Option<String>,
        /// Client address.
        pub ip: Option<String>,
        /// Extra JSON, never holding secrets.
        pub detail: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as AuditRow;

/// Appends an event.
pub async fn append<C: ConnectionTrait>(conn: &C, row: AuditRow) -> Result<(), DbError> {
    entity::ActiveModel {
        id: Set(row.id),
        at: Set(row.at),
        actor_id: Set(row.actor_id),
        action: Set(row.action),
        target: Set(row.target),
        request_id: Set(row.request_id),
        ip: Set(row.ip),
        detail: Set(row.detail),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The newest events, optionally of one action or one actor.
pub async fn recent<C: ConnectionTrait>(
    conn: &C,
    action: Option<&str>,
    actor: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AuditRow>, DbError> {
    let mut q = entity::Entity::find();
    if let Some(a) = action {
        q = q.filter(entity::Column::Action.eq(a));
    }
    if let Some(a) = actor {
        q = q.filter(entity::Column::ActorId.eq(a));
    }
    q.order_by_desc(entity::Column::At)
        .order_by_desc(entity::Column::Id)
        .limit(limit)
        .all(conn)
        .await
        .map_err(DbError::from)
}

/// What an audit search keeps (every field optional; times in ms, `from` inclusive, `to`
/// exclusive).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exactly this action.
    pub action: Option<String>,
    /// Exactly this actor.
    pub actor: Option<Uuid>,
    /// Exactly this target.
    pub target: Option<String>,
    /// At or after (ms).
    pub from: Option<i64>,
    /// Before (ms).
    pub to: Option<i64>,
}

/// One page of events matching `f`, newest first.
pub async fn search<C: ConnectionTrait>(
    conn: &C,
    f: &AuditFilter,
    limit: u64,
    offset: u64,
) -> Result<Vec<AuditRow>, DbError> {
    let mut q = entity::Entity::find();
    if let Some(a) = &f.action {
        q = q.filter(entity::Column::Action.eq(a.clone()));
    }
    if let Some(a) = f.actor {
        q = q.filter(entity::Column::ActorId.eq(a));
    }
    if let Some(t) = &f.target {
        q = q.filter(entity::Column::Target.eq(t.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(entity::Column::At.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(entity::Column::At.lt(to));
    }
    q.order_by_desc(entity::Column::At)
        .order_by_desc(entity::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await
        .map_err(DbError::from)
}

/// The newest events by `actor` or about one of `targets` (a user id, its sign-in sessions).
pub async fn by_or_about<C: ConnectionTrait>(
    conn: &C,
    actor: Uuid,
    targets: Vec<String>,
    limit: u64,
) -> Result<Vec<AuditRow>, DbError> {
    entity::Entity::find()
        .filter(
            Condition::any()
                .add(entity::Column::ActorId.eq(actor))
                .add(entity::Column::Target.is_in(targets)),
        )
        .order_by_desc(entity::Column::At)
        .order_by_desc(entity::Column::Id)
        .limit(limit)
        .all(conn)
        .await
        .map_err(DbError::from)
}

/// Erasure: removes the client address from every event by `actor` or about one of `targets`,
/// and from every other event made from one of `ips` (the addresses that person used). The
/// events themselves stay: they are the security record. Returns the rows changed.
pub async fn forget_ips<C: ConnectionTrait>(
    conn: &C,
    actor: Uuid,
    targets: Vec<String>,
    ips: Vec<String>,
) -> Result<u64, DbError> {
    // The lists are one person's sessions (kept for a retention period) and distinct
    // addresses: small enough for one statement's parameters.
    let which = Condition::any()
        .add(entity::Column::ActorId.eq(actor))
        .add(entity::Column::Target.is_in(targets))
        .add(entity::Column::Ip.is_in(ips));
    let res = entity::Entity::update_many()
        .col_expr(entity::Column::Ip, Expr::value(Option::<String>::None))
        .filter(entity::Column::Ip.is_not_null())
        .filter(which)
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes events older than `cutoff_ms` (retention; the only deletion there is).
pub async fn purge_before<C: ConnectionTrait>(conn: &C, cutoff_ms: i64) -> Result<u64, DbError> {
    let res = entity::Entity::delete_many()
        .filter(entity::Column::At.lt(cutoff_ms))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
