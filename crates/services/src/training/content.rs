//! Revision content parsed and rendered once: revisions are immutable, so a revision's parsed
//! content and its rendered HTML are cached in process by revision id (bounded). Clinical case
//! scenarios can be edited in place, so they are cached for a short time only.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use myqcm_db::catalogue as catalogue_repo;
use myqcm_domain::catalogue::ItemContent;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::TrainingError;
use crate::markdown::render;

/// A revision with its rendered fields (server side only: the key and explanations are here).
#[derive(Debug)]
pub struct Revision {
    /// Item id.
    pub item_id: Uuid,
    /// Parsed content.
    pub content: ItemContent,
    /// Rendered stem.
    pub stem_html: String,
    /// Rendered option texts, by stable id.
    pub options_html: Vec<String>,
    /// Rendered option explanations, by stable id.
    pub option_explanations_html: Vec<String>,
    /// Rendered general explanation.
    pub explanation_html: String,
}

/// A clinical case's title and rendered scenario.
#[derive(Debug)]
pub struct CaseText {
    /// Title.
    pub title: String,
    /// Rendered scenario.
    pub scenario_html: String,
}

/// The two caches.
#[derive(Clone)]
pub struct ContentCache {
    revisions: Cache<Uuid, Arc<Revision>>,
    cases: Cache<Uuid, Arc<CaseText>>,
}

impl std::fmt::Debug for ContentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentCache")
            .field("revisions", &self.revisions.entry_count())
            .finish_non_exhaustive()
    }
}

impl ContentCache {
    /// Caches at most `revisions` revisions.
    pub fn new(revisions: u64) -> Self {
        Self {
            revisions: Cache::builder().max_capacity(revisions).build(),
            cases: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }

    /// The revision `id`, from the cache or the database.
    pub async fn revision<C: ConnectionTrait>(
        &self,
        c: &C,
        id: Uuid,
    ) -> Result<Arc<Revision>, TrainingError> {
        if let Some(r) = self.revisions.get(&id) {
            return Ok(r);
        }
        let row = catalogue_repo::revision(c, id)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let content: ItemContent = serde_json::from_str(&row.content)
            .map_err(|e| TrainingError::Store(format!("revision {id}: {e}")))?;
        let rev = Arc::new(Revision {
            item_id: row.item_id,
            stem_html: render(&content.stem),
            options_html: content.options.iter().map(|o| render(&o.text)).collect(),
            option_explanations_html: content
                .options
                .iter()
                .map(|o| render(&o.explanation))
                .collect(),
            explanation_html: render(&content.explanation),
            content,
        });
        self.revisions.insert(id, rev.clone());
        Ok(rev)
    }

    /// The case `id`, from the cache or the database.
    pub async fn case<C: ConnectionTrait>(
        &self,
        c: &C,
        id: Uuid,
    ) -> Result<Arc<CaseText>, TrainingError> {
        if let Some(t) = self.cases.get(&id) {
            return Ok(t);
        }
        let row = catalogue_repo::case_by_id(c, id)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let text = Arc::new(CaseText {
            title: row.title,
            scenario_html: render(&row.scenario),
        });
        self.cases.insert(id, text.clone());
        Ok(text)
    }
}
