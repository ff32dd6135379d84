//! What the session builder offers a learner: the subjects of their year of study, each with
//! its courses and knowledge components (the filters `create_session` accepts), and the
//! learning modes with the one their profile prefers.

use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training as repo;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::views::{BuilderChoices, Choice, SubjectChoice};
use super::{Result, Training, parse_json, require};

impl Training {
    /// The builder's choices for the caller (no subject before the year of study is set).
    pub async fn builder_choices(&self, actor: &Actor) -> Result<BuilderChoices> {
        require(actor, Action::Train)?;
        let profile = repo::profile(&self.db, actor.id).await?;
        let year = profile.as_ref().and_then(|p| p.year_of_study);
        let subjects = match year {
            Some(y) => catalogue_repo::subjects_of_year(&self.db, y).await?,
            None => vec![],
        };
        let ids: Vec<_> = subjects.iter().map(|s| s.id).collect();
        let courses = catalogue_repo::course::Entity::find()
            .filter(catalogue_repo::course::Column::SubjectId.is_in(ids.clone()))
            .order_by_asc(catalogue_repo::course::Column::Code)
            .all(&self.db)
            .await?;
        let kcs = catalogue_repo::kc_node::Entity::find()
            .filter(catalogue_repo::kc_node::Column::SubjectId.is_in(ids))
            .filter(catalogue_repo::kc_node::Column::Level.eq("kc"))
            .order_by_asc(catalogue_repo::kc_node::Column::SortOrder)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(subjects.len());
        for s in subjects {
            let choice = |id, code: &str, names: &str| -> Result<Choice> {
                Ok(Choice {
                    id,
                    code: code.to_owned(),
                    names: parse_json(names)?,
                })
            };
            out.push(SubjectChoice {
                courses: courses
                    .iter()
                    .filter(|c| c.subject_id == s.id)
                    .map(|c| choice(c.id, &c.code, &c.names))
                    .collect::<Result<_>>()?,
                kcs: kcs
                    .iter()
                    .filter(|k| k.subject_id == s.id)
                    .map(|k| choice(k.id, &k.code, &k.names))
                    .collect::<Result<_>>()?,
                subject: choice(s.id, &s.code, &s.names)?,
            });
        }
        Ok(BuilderChoices {
            subjects: out,
            modes: self.modes().await?,
            preferred_mode: profile.map_or_else(|| "guided".to_owned(), |p| p.mode),
        })
    }
}
