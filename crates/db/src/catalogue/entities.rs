//! SeaORM entities of the catalogue tables (see the `m20261126_200001_create_catalogue`
//! migration). Text columns hold the domain's enum names; JSON columns hold serialised domain
//! values (names per locale, revision content, blueprint weights, import reports).
#![allow(missing_docs, reason = "one field per column, named like the column")]

macro_rules! entity {
    ($modname:ident, $table:literal, { $($field:ident : $ty:ty),* $(,)? }) => {
        pub mod $modname {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: Uuid,
                $(pub $field: $ty,)*
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(university, "university", { code: String, name: String });
entity!(faculty, "faculty", { university_id: Uuid, code: String, name: String, field: String });
entity!(unit, "unit", { code: String, year_of_study: i32, names: String });
entity!(subject, "subject", { code: String, year_of_study: i32, unit_id: Option<Uuid>, names: String });
entity!(course, "course", { code: String, subject_id: Uuid, names: String });
entity!(kc_node, "kc_node", { code: String, subject_id: Uuid, parent_id: Option<Uuid>, level: String, names: String, sort_order: i32 });
entity!(clinical_case, "clinical_case", {
    external_id: Option<String>, course_id: Uuid, locale: String, title: String, scenario: String,
    objectives: String, author_id: Uuid, created_at: DateTimeUtc,
});
entity!(item, "item", {
    kind: String, course_id: Uuid, subject_id: Uuid, status: String, author_id: Uuid, locale: String,
    translation_group_id: Uuid, external_id: Option<String>, content_hash: String,
    current_revision_id: Option<Uuid>, difficulty: String, source_kind: Option<String>,
    case_id: Option<Uuid>, case_position: Option<i32>, search_text: String,
    created_at: DateTimeUtc, updated_at: DateTimeUtc,
});
entity!(item_revision, "item_revision", { item_id: Uuid, number: i32, content: String, created_by: Uuid, created_at: DateTimeUtc });
entity!(review_event, "review_event", { item_id: Uuid, revision_id: Option<Uuid>, actor_id: Uuid, kind: String, body: String, created_at: DateTimeUtc });
entity!(item_report, "item_report", {
    item_id: Uuid, revision_id: Uuid, reporter_id: Uuid, category: String, body: String, status: String,
    resolution: Option<String>, triaged_by: Option<Uuid>, created_at: DateTimeUtc, updated_at: DateTimeUtc,
});
entity!(blueprint, "blueprint", {
    year_of_study: i32, faculty_id: Option<Uuid>, name: String, version: i32, weights: String,
    created_by: Option<Uuid>, created_at: DateTimeUtc,
});
entity!(import_run, "import_run", {
    format: String, partial: bool, blob_key: String, status: String, total: i32, processed: i32,
    report: Option<String>, created_by: Uuid, created_at: DateTimeUtc, updated_at: DateTimeUtc,
});
entity!(item_image, "item_image", { blob_key: String, content_type: String, size: i64, uploaded_by: Uuid, created_at: DateTimeUtc });

/// `item_kc` has a composite key, so it is written out.
pub mod item_kc {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "item_kc")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kc_id: Uuid,
        pub weight: f64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `media_use`: which item or clinical case names which image (kept in step with the current
/// revision and the case text).
pub mod media_use {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "media_use")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub image_id: Uuid,
        /// `item` or `case`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner_kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner_id: Uuid,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
