//! SeaORM entities of the commerce tables (see the `m20261202_900001_commerce` migration).
//! Times are epoch milliseconds; prices whole dinars; `None` quotas mean unlimited.
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

entity!(plan, "plan", keys { id: Uuid }, {
    code: String, names: String, price_dzd: i64, duration_days: Option<i32>,
    mcq_per_day: Option<i32>, mcq_per_month: Option<i32>, qroc_per_day: Option<i32>,
    qroc_per_month: Option<i32>, explanations: bool, clinical_cases: bool, ai_grading: bool, devices: i32,
    is_default: bool, listed: bool, sort_order: i32, created_at: i64, updated_at: i64,
});
entity!(subscription, "subscription", keys { id: Uuid }, {
    learner_id: Uuid, plan_id: Uuid, starts_at: i64, ends_at: Option<i64>, source: String,
    card_id: Option<Uuid>, created_at: i64,
});
entity!(quota_usage, "quota_usage", keys { learner_id: Uuid, feature: String }, {
    day_key: i32, day_used: i32, month_key: i32, month_used: i32, updated_at: i64,
});
entity!(card_batch, "card_batch", keys { id: Uuid }, {
    plan_id: Uuid, label: String, size: i32, expires_at: Option<i64>, created_by: Option<Uuid>,
    created_at: i64, revoked_at: Option<i64>, revoked_by: Option<Uuid>,
});
entity!(activation_card, "activation_card", keys { id: Uuid }, {
    batch_id: Uuid, code_hmac: String, redeemed_at: Option<i64>, redeemed_by: Option<Uuid>,
    subscription_id: Option<Uuid>,
});
