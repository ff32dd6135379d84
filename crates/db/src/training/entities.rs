//! SeaORM entities of the learning tables (see the `m20261127_300001_training` migration).
//! Times are epoch milliseconds; JSON columns hold serialised domain values (session request,
//! resolved parameters, rule set, option order, response).
#![allow(missing_docs, reason = "one field per column, named like the column")]

/// Declares an entity whose primary key is the listed columns.
macro_rules! entity {
    ($modname:ident, $table:literal, keys { $($key:ident : $kty:ty),+ $(,)? }, { $($field:ident : $ty:ty),* $(,)? }) => {
        pub mod $modname {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $(
                    #[sea_orm(primary_key, auto_increment = false)]
                    pub $key: $kty,
                )+
                $(pub $field: $ty,)*
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(learner_profile, "learner_profile", keys { learner_id: Uuid }, {
    university_id: Option<Uuid>, faculty_id: Option<Uuid>, year_of_study: Option<i32>,
    exam_date: Option<String>, daily_minutes: Option<i32>, mode: String,
    created_at: i64, updated_at: i64,
});
entity!(learning_mode, "learning_mode", keys { code: String }, {
    names: String, definers: String, sort_order: i32, updated_at: i64, updated_by: Option<Uuid>,
});
entity!(parameter_set, "parameter_set", keys { id: i64 }, {
    name: String, kind: String, status: String, notes: String, created_at: i64,
});
entity!(item_parameter, "item_parameter", keys { parameter_set_id: i64, item_id: Uuid }, {
    a: f64, b: f64, c: f64,
});
entity!(kc_parameter, "kc_parameter", keys { parameter_set_id: i64, kc_id: Uuid }, {
    p_init: f64, p_learn: f64, p_guess: f64, p_slip: f64,
});
entity!(training_session, "training_session", keys { id: Uuid }, {
    learner_id: Uuid, subject_id: Option<Uuid>, mode: String, style: String, status: String,
    end_reason: Option<String>, request: String, params: String, rules: String,
    rule_version: String, seed: i64, item_count: i32, served: i32, deadline_at: Option<i64>,
    paused_at: Option<i64>, created_at: i64, updated_at: i64, completed_at: Option<i64>,
});
entity!(session_item, "session_item", keys { id: Uuid }, {
    session_id: Uuid, learner_id: Uuid, position: i32, item_id: Uuid, revision_id: Uuid,
    subject_id: Uuid, case_id: Option<Uuid>, case_step: Option<i32>, case_size: Option<i32>,
    option_order: Option<String>, reason: String, p_correct: Option<f64>,
    p_correct_bkt: Option<f64>, parameter_set_id: i64, state: String, served_at: i64,
    closed_at: Option<i64>, flagged: bool, note: Option<String>,
});
entity!(attempt, "attempt", keys { id: Uuid }, {
    session_item_id: Uuid, session_id: Uuid, learner_id: Uuid, item_id: Uuid, revision_id: Uuid,
    response: String, ratio: Option<f64>, correct: Option<bool>, grader: Option<String>,
    ungraded_reason: Option<String>, rule_version: String, parameter_set_id: i64,
    time_spent_ms: i64, created_at: i64,
});
entity!(learner_ability, "learner_ability", keys { learner_id: Uuid, subject_id: Uuid }, {
    theta: f64, se: f64, answers: i32, updated_at: i64,
});
entity!(learner_kc, "learner_kc", keys { learner_id: Uuid, kc_id: Uuid }, {
    mastery: f64, evidence: i32, updated_at: i64,
});
entity!(learner_memory, "learner_memory", keys { learner_id: Uuid, item_id: Uuid }, {
    subject_id: Uuid, stability: f64, difficulty: f64, reviews: i32, lapses: i32,
    last_review_at: i64, due_at: i64,
});
entity!(item_alert, "item_alert", keys { item_id: Uuid, code: String }, {
    status: String, detail: String, first_seen_at: i64, updated_at: i64, decided_by: Option<Uuid>,
});
