//! The one search method: curriculum/KC/type/difficulty/status/locale/source/author filters,
//! full text (SQLite FTS5 `MATCH`, PostgreSQL `tsvector @@ plainto_tsquery` over the GIN
//! expression index), keyset pagination on the time-ordered id (newest first).

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement, Value};
use uuid::Uuid;

use super::item;
use crate::DbError;
use crate::sql::stmt;

/// What to look for. Every field narrows the result; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Item statuses allowed (empty: any).
    pub statuses: Vec<String>,
    /// Subject.
    pub subject_id: Option<Uuid>,
    /// Course.
    pub course_id: Option<Uuid>,
    /// Tagged with this KC.
    pub kc_id: Option<Uuid>,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: Option<String>,
    /// `easy`, `medium`, `hard`.
    pub difficulty: Option<String>,
    /// `fr`, `ar`, `en`.
    pub locale: Option<String>,
    /// Source kind.
    pub source_kind: Option<String>,
    /// Author.
    pub author_id: Option<Uuid>,
    /// Full-text query (words, all required).
    pub text: Option<String>,
    /// Exclude clinical-case sub-items (learner browsing shows cases as blocks).
    pub standalone_only: bool,
    /// Keyset cursor: only ids strictly smaller.
    pub before: Option<Uuid>,
    /// Page size.
    pub limit: u64,
}

/// Turns free text into an FTS5 query of quoted terms (all required), so user input can never
/// be read as FTS syntax.
fn fts5_query(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the statement for `f` on `backend` (exposed for the EXPLAIN test).
pub fn search_sql(backend: DbBackend, f: &SearchFilter) -> Statement {
    let mut wh: Vec<String> = Vec::new();
    let mut vals: Vec<Value> = Vec::new();
    let p = |v: Value, vals: &mut Vec<Value>| {
        vals.push(v);
        format!("${}", vals.len())
    };
    if !f.statuses.is_empty() {
        let ph: Vec<String> = f
            .statuses
            .iter()
            .map(|s| p(s.clone().into(), &mut vals))
            .collect();
        wh.push(format!("item.status IN ({})", ph.join(", ")));
    }
    for (col, v) in [
        ("subject_id", f.subject_id),
        ("course_id", f.course_id),
        ("author_id", f.author_id),
    ] {
        if let Some(v) = v {
            let ph = p(v.into(), &mut vals);
            wh.push(format!("item.{col} = {ph}"));
        }
    }
    for (col, v) in [
        ("kind", &f.kind),
        ("difficulty", &f.difficulty),
        ("locale", &f.locale),
        ("source_kind", &f.source_kind),
    ] {
        if let Some(v) = v {
            let ph = p(v.clone().into(), &mut vals);
            wh.push(format!("item.{col} = {ph}"));
        }
    }
    if let Some(kc) = f.kc_id {
        let ph = p(kc.into(), &mut vals);
        wh.push(format!(
            "item.id IN (SELECT item_kc.item_id FROM item_kc WHERE item_kc.kc_id = {ph})"
        ));
    }
    if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        match backend {
            DbBackend::Sqlite => {
                let ph = p(fts5_query(t).into(), &mut vals);
                wh.push(format!(
                    "item.rowid IN (SELECT item_fts.rowid FROM item_fts WHERE item_fts MATCH {ph})"
                ));
            }
            _ => {
                let ph = p(t.to_owned().into(), &mut vals);
                wh.push(format!(
                    "to_tsvector('simple', item.search_text) @@ plainto_tsquery('simple', {ph})"
                ));
            }
        }
    }
    if f.standalone_only {
        wh.push("item.case_id IS NULL".into());
    }
    if let Some(b) = f.before {
        let ph = p(b.into(), &mut vals);
        wh.push(format!("item.id < {ph}"));
    }
    let where_sql = if wh.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", wh.join(" AND "))
    };
    let limit = f.limit.clamp(1, 200);
    stmt(
        backend,
        &format!("SELECT item.* FROM item{where_sql} ORDER BY item.id DESC LIMIT {limit}"),
        vals,
    )
}

/// Runs a search; results are newest first, at most `limit`.
pub async fn search<C: ConnectionTrait>(
    c: &C,
    f: &SearchFilter,
) -> Result<Vec<item::Model>, DbError> {
    let st = search_sql(c.get_database_backend(), f);
    Ok(item::Entity::find().from_raw_sql(st).all(c).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_every_term() {
        assert_eq!(fts5_query("HTA \"OR\" x*"), "\"HTA\" \"OR\" \"x\"");
    }
}
