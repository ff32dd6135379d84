//! The catalogue: curriculum (universities, faculties, units, subjects, courses), the KC tree,
//! clinical cases, items with immutable revisions and KC tags, review events, learner reports,
//! versioned blueprints, import runs and images. Full text: an FTS5 table kept in sync by
//! triggers on SQLite, an expression GIN index over `to_tsvector('simple', search_text)` on
//! PostgreSQL; both are read by the one repository method `catalogue::search`.

use super::helpers::{fk, index};
use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum University {
    Table,
    Id,
    Code,
    Name,
}
#[derive(DeriveIden)]
enum Faculty {
    Table,
    Id,
    UniversityId,
    Code,
    Name,
    Field,
}
#[derive(DeriveIden)]
enum Unit {
    Table,
    Id,
    Code,
    YearOfStudy,
    Names,
}
#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
    Code,
    YearOfStudy,
    UnitId,
    Names,
}
#[derive(DeriveIden)]
enum Course {
    Table,
    Id,
    Code,
    SubjectId,
    Names,
}
#[derive(DeriveIden)]
enum KcNode {
    Table,
    Id,
    Code,
    SubjectId,
    ParentId,
    Level,
    Names,
    SortOrder,
}
#[derive(DeriveIden)]
enum ClinicalCase {
    Table,
    Id,
    ExternalId,
    CourseId,
    Locale,
    Title,
    Scenario,
    Objectives,
    AuthorId,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Item {
    Table,
    Id,
    Kind,
    CourseId,
    SubjectId,
    Status,
    AuthorId,
    Locale,
    TranslationGroupId,
    ExternalId,
    ContentHash,
    CurrentRevisionId,
    Difficulty,
    SourceKind,
    CaseId,
    CasePosition,
    SearchText,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum ItemRevision {
    Table,
    Id,
    ItemId,
    Number,
    Content,
    CreatedBy,
    CreatedAt,
}
#[derive(DeriveIden)]
enum ItemKc {
    Table,
    ItemId,
    KcId,
    Weight,
}
#[derive(DeriveIden)]
enum ReviewEvent {
    Table,
    Id,
    ItemId,
    RevisionId,
    ActorId,
    Kind,
    Body,
    CreatedAt,
}
#[derive(DeriveIden)]
enum ItemReport {
    Table,
    Id,
    ItemId,
    RevisionId,
    ReporterId,
    Category,
    Body,
    Status,
    Resolution,
    TriagedBy,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum Blueprint {
    Table,
    Id,
    YearOfStudy,
    FacultyId,
    Name,
    Version,
    Weights,
    CreatedBy,
    CreatedAt,
}
#[derive(DeriveIden)]
enum ImportRun {
    Table,
    Id,
    Format,
    Partial,
    BlobKey,
    Status,
    Total,
    Processed,
    Report,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum ItemImage {
    Table,
    Id,
    BlobKey,
    ContentType,
    Size,
    UploadedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(University::Table)
                .if_not_exists()
                .col(pk_uuid(University::Id))
                .col(string_len_uniq(University::Code, 64))
                .col(text(University::Name))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Faculty::Table)
                .if_not_exists()
                .col(pk_uuid(Faculty::Id))
                .col(uuid(Faculty::UniversityId))
                .col(string_len_uniq(Faculty::Code, 64))
                .col(text(Faculty::Name))
                .col(string_len(Faculty::Field, 32))
                .foreign_key(&mut fk(
                    (Faculty::Table, Faculty::UniversityId),
                    (University::Table, University::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Unit::Table)
                .if_not_exists()
                .col(pk_uuid(Unit::Id))
                .col(string_len_uniq(Unit::Code, 64))
                .col(integer(Unit::YearOfStudy))
                .col(text(Unit::Names))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Subject::Table)
                .if_not_exists()
                .col(pk_uuid(Subject::Id))
                .col(string_len_uniq(Subject::Code, 64))
                .col(integer(Subject::YearOfStudy))
                .col(uuid_null(Subject::UnitId))
                .col(text(Subject::Names))
                .foreign_key(&mut fk(
                    (Subject::Table, Subject::UnitId),
                    (Unit::Table, Unit::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Course::Table)
                .if_not_exists()
                .col(pk_uuid(Course::Id))
                .col(string_len_uniq(Course::Code, 64))
                .col(uuid(Course::SubjectId))
                .col(text(Course::Names))
                .foreign_key(&mut fk(
                    (Course::Table, Course::SubjectId),
                    (Subject::Table, Subject::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KcNode::Table)
                .if_not_exists()
                .col(pk_uuid(KcNode::Id))
                .col(string_len_uniq(KcNode::Code, 64))
                .col(uuid(KcNode::SubjectId))
                .col(uuid_null(KcNode::ParentId))
                .col(string_len(KcNode::Level, 16))
                .col(text(KcNode::Names))
                .col(integer(KcNode::SortOrder).default(0))
                .foreign_key(&mut fk(
                    (KcNode::Table, KcNode::SubjectId),
                    (Subject::Table, Subject::Id),
                ))
                .foreign_key(&mut fk(
                    (KcNode::Table, KcNode::ParentId),
                    (KcNode::Table, KcNode::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_kc_node_subject",
            KcNode::Table,
            &["subject_id", "sort_order"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ClinicalCase::Table)
                .if_not_exists()
                .col(pk_uuid(ClinicalCase::Id))
                .col(string_len_null(ClinicalCase::ExternalId, 128).unique_key())
                .col(uuid(ClinicalCase::CourseId))
                .col(string_len(ClinicalCase::Locale, 8))
                .col(text(ClinicalCase::Title))
                .col(text(ClinicalCase::Scenario))
                .col(text(ClinicalCase::Objectives))
                .col(uuid(ClinicalCase::AuthorId))
                .col(timestamp_with_time_zone(ClinicalCase::CreatedAt))
                .foreign_key(&mut fk(
                    (ClinicalCase::Table, ClinicalCase::CourseId),
                    (Course::Table, Course::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Item::Table)
                .if_not_exists()
                .col(pk_uuid(Item::Id))
                .col(string_len(Item::Kind, 8))
                .col(uuid(Item::CourseId))
                .col(uuid(Item::SubjectId))
                .col(string_len(Item::Status, 16))
                .col(uuid(Item::AuthorId))
                .col(string_len(Item::Locale, 8))
                .col(uuid(Item::TranslationGroupId))
                .col(string_len_null(Item::ExternalId, 128).unique_key())
                .col(string_len(Item::ContentHash, 64))
                .col(uuid_null(Item::CurrentRevisionId))
                .col(string_len(Item::Difficulty, 8))
                .col(string_len_null(Item::SourceKind, 32))
                .col(uuid_null(Item::CaseId))
                .col(integer_null(Item::CasePosition))
                .col(text(Item::SearchText))
                .col(timestamp_with_time_zone(Item::CreatedAt))
                .col(timestamp_with_time_zone(Item::UpdatedAt))
                .foreign_key(&mut fk(
                    (Item::Table, Item::CourseId),
                    (Course::Table, Course::Id),
                ))
                .foreign_key(&mut fk(
                    (Item::Table, Item::SubjectId),
                    (Subject::Table, Subject::Id),
                ))
                .foreign_key(&mut fk(
                    (Item::Table, Item::CaseId),
                    (ClinicalCase::Table, ClinicalCase::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Keyset pagination orders by id (UUIDv7, time-ordered); each hot filter has an index that
        // ends in id so the planner walks it in order and stops after one page.
        index(m, "ix_item_status", Item::Table, &["status", "id"], false).await?;
        index(
            m,
            "ix_item_course",
            Item::Table,
            &["course_id", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_subject",
            Item::Table,
            &["subject_id", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_subject_kind",
            Item::Table,
            &["subject_id", "kind", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_subject_difficulty",
            Item::Table,
            &["subject_id", "difficulty", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_author",
            Item::Table,
            &["author_id", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_locale",
            Item::Table,
            &["locale", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_source",
            Item::Table,
            &["source_kind", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_translation",
            Item::Table,
            &["translation_group_id"],
            false,
        )
        .await?;
        index(m, "ix_item_hash", Item::Table, &["content_hash"], false).await?;
        index(
            m,
            "ix_item_case",
            Item::Table,
            &["case_id", "case_position"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ItemRevision::Table)
                .if_not_exists()
                .col(pk_uuid(ItemRevision::Id))
                .col(uuid(ItemRevision::ItemId))
                .col(integer(ItemRevision::Number))
                .col(text(ItemRevision::Content))
                .col(uuid(ItemRevision::CreatedBy))
                .col(timestamp_with_time_zone(ItemRevision::CreatedAt))
                .foreign_key(&mut fk(
                    (ItemRevision::Table, ItemRevision::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_item_revision_number",
            ItemRevision::Table,
            &["item_id", "number"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ItemKc::Table)
                .if_not_exists()
                .col(uuid(ItemKc::ItemId))
                .col(uuid(ItemKc::KcId))
                .col(double(ItemKc::Weight))
                .primary_key(Index::create().col(ItemKc::ItemId).col(ItemKc::KcId))
                .foreign_key(&mut fk(
                    (ItemKc::Table, ItemKc::ItemId),
                    (Item::Table, Item::Id),
                ))
                .foreign_key(&mut fk(
                    (ItemKc::Table, ItemKc::KcId),
                    (KcNode::Table, KcNode::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_item_kc_kc",
            ItemKc::Table,
            &["kc_id", "item_id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ReviewEvent::Table)
                .if_not_exists()
                .col(pk_uuid(ReviewEvent::Id))
                .col(uuid(ReviewEvent::ItemId))
                .col(uuid_null(ReviewEvent::RevisionId))
                .col(uuid(ReviewEvent::ActorId))
                .col(string_len(ReviewEvent::Kind, 16))
                .col(text(ReviewEvent::Body))
                .col(timestamp_with_time_zone(ReviewEvent::CreatedAt))
                .foreign_key(&mut fk(
                    (ReviewEvent::Table, ReviewEvent::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_review_event_item",
            ReviewEvent::Table,
            &["item_id", "created_at"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ItemReport::Table)
                .if_not_exists()
                .col(pk_uuid(ItemReport::Id))
                .col(uuid(ItemReport::ItemId))
                .col(uuid(ItemReport::RevisionId))
                .col(uuid(ItemReport::ReporterId))
                .col(string_len(ItemReport::Category, 16))
                .col(text(ItemReport::Body))
                .col(string_len(ItemReport::Status, 16))
                .col(text_null(ItemReport::Resolution))
                .col(uuid_null(ItemReport::TriagedBy))
                .col(timestamp_with_time_zone(ItemReport::CreatedAt))
                .col(timestamp_with_time_zone(ItemReport::UpdatedAt))
                .foreign_key(&mut fk(
                    (ItemReport::Table, ItemReport::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_item_report_status",
            ItemReport::Table,
            &["status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_report_reporter",
            ItemReport::Table,
            &["reporter_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_item_report_item",
            ItemReport::Table,
            &["item_id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Blueprint::Table)
                .if_not_exists()
                .col(pk_uuid(Blueprint::Id))
                .col(integer(Blueprint::YearOfStudy))
                .col(uuid_null(Blueprint::FacultyId))
                .col(text(Blueprint::Name))
                .col(integer(Blueprint::Version))
                .col(text(Blueprint::Weights))
                .col(uuid_null(Blueprint::CreatedBy))
                .col(timestamp_with_time_zone(Blueprint::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_blueprint_year",
            Blueprint::Table,
            &["year_of_study", "faculty_id", "version"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ImportRun::Table)
                .if_not_exists()
                .col(pk_uuid(ImportRun::Id))
                .col(string_len(ImportRun::Format, 8))
                .col(boolean(ImportRun::Partial))
                .col(string_len(ImportRun::BlobKey, 256))
                .col(string_len(ImportRun::Status, 16))
                .col(integer(ImportRun::Total).default(0))
                .col(integer(ImportRun::Processed).default(0))
                .col(text_null(ImportRun::Report))
                .col(uuid(ImportRun::CreatedBy))
                .col(timestamp_with_time_zone(ImportRun::CreatedAt))
                .col(timestamp_with_time_zone(ImportRun::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ItemImage::Table)
                .if_not_exists()
                .col(pk_uuid(ItemImage::Id))
                .col(string_len(ItemImage::BlobKey, 256))
                .col(string_len(ItemImage::ContentType, 32))
                .col(big_integer(ItemImage::Size))
                .col(uuid(ItemImage::UploadedBy))
                .col(timestamp_with_time_zone(ItemImage::CreatedAt))
                .to_owned(),
        )
        .await?;

        let conn = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Sqlite => {
                // A standalone FTS5 table whose rowid mirrors item.rowid; triggers keep it in step.
                for sql in [
                    "CREATE VIRTUAL TABLE IF NOT EXISTS item_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
                    "CREATE TRIGGER IF NOT EXISTS item_fts_ai AFTER INSERT ON item BEGIN INSERT INTO item_fts(rowid, body) VALUES (new.rowid, new.search_text); END",
                    "CREATE TRIGGER IF NOT EXISTS item_fts_ad AFTER DELETE ON item BEGIN DELETE FROM item_fts WHERE rowid = old.rowid; END",
                    "CREATE TRIGGER IF NOT EXISTS item_fts_au AFTER UPDATE OF search_text ON item BEGIN UPDATE item_fts SET body = new.search_text WHERE rowid = old.rowid; END",
                ] {
                    conn.execute_unprepared(sql).await?;
                }
            }
            DbBackend::Postgres => {
                conn.execute_unprepared("CREATE INDEX IF NOT EXISTS ix_item_fts ON item USING GIN (to_tsvector('simple', search_text))").await?;
            }
            _ => {}
        }
        Ok(())
    }
}
