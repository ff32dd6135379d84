//! Learning: learner profiles, learning modes (seeded: custom, guided, intelligent), versioned
//! item and KC parameters (set 0 = the documented priors), training sessions, the items served
//! in them (order, shuffled option order, reason code, P(correct) before the answer), attempts
//! (one per served item, enforced by a unique key), and the learner state: ability per
//! (learner, subject), mastery per (learner, KC), memory per (learner, item). Times are BIGINT
//! epoch milliseconds.

use super::helpers::{fk, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LearnerProfile {
    Table,
    LearnerId,
    UniversityId,
    FacultyId,
    YearOfStudy,
    ExamDate,
    DailyMinutes,
    Mode,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum LearningMode {
    Table,
    Code,
    Names,
    Definers,
    SortOrder,
    UpdatedAt,
    UpdatedBy,
}
#[derive(DeriveIden)]
enum ParameterSet {
    Table,
    Id,
    Name,
    Kind,
    Status,
    Notes,
    CreatedAt,
}
#[derive(DeriveIden)]
enum ItemParameter {
    Table,
    ParameterSetId,
    ItemId,
    A,
    B,
    C,
}
#[derive(DeriveIden)]
enum KcParameter {
    Table,
    ParameterSetId,
    KcId,
    PInit,
    PLearn,
    PGuess,
    PSlip,
}
#[derive(DeriveIden)]
enum TrainingSession {
    Table,
    Id,
    LearnerId,
    SubjectId,
    Mode,
    Style,
    Status,
    EndReason,
    Request,
    Params,
    Rules,
    RuleVersion,
    Seed,
    ItemCount,
    Served,
    DeadlineAt,
    PausedAt,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}
#[derive(DeriveIden)]
enum SessionItem {
    Table,
    Id,
    SessionId,
    LearnerId,
    Position,
    ItemId,
    RevisionId,
    SubjectId,
    CaseId,
    CaseStep,
    CaseSize,
    OptionOrder,
    Reason,
    PCorrect,
    PCorrectBkt,
    ParameterSetId,
    State,
    ServedAt,
    ClosedAt,
    Flagged,
    Note,
}
#[derive(DeriveIden)]
enum Attempt {
    Table,
    Id,
    SessionItemId,
    SessionId,
    LearnerId,
    ItemId,
    RevisionId,
    Response,
    Ratio,
    Correct,
    Grader,
    UngradedReason,
    RuleVersion,
    ParameterSetId,
    TimeSpentMs,
    CreatedAt,
}
#[derive(DeriveIden)]
enum LearnerAbility {
    Table,
    LearnerId,
    SubjectId,
    Theta,
    Se,
    Answers,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum LearnerKc {
    Table,
    LearnerId,
    KcId,
    Mastery,
    Evidence,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum LearnerMemory {
    Table,
    LearnerId,
    ItemId,
    SubjectId,
    Stability,
    Difficulty,
    Reviews,
    Lapses,
    LastReviewAt,
    DueAt,
}
#[derive(DeriveIden)]
enum Item {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum ItemRevision {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum KcNode {
    Table,
    Id,
}

/// The seeded modes: code, names (fr, en, ar), definers (JSON).
const MODES: [(&str, &str, &str); 3] = [
    (
        "custom",
        r#"{"fr":"Mode personnalisé","en":"Custom","ar":"الوضع المخصص"}"#,
        r#"{"kinds":"user","difficulty":"user","item_count":"user","time_limit":"user","shuffle_options":"user"}"#,
    ),
    (
        "guided",
        r#"{"fr":"Mode guidé","en":"Guided","ar":"الوضع الموجه"}"#,
        r#"{"kinds":"user","difficulty":"engine","item_count":"user","time_limit":"engine","shuffle_options":"engine"}"#,
    ),
    (
        "intelligent",
        r#"{"fr":"Mode intelligent","en":"Intelligent","ar":"الوضع الذكي"}"#,
        r#"{"kinds":"engine","difficulty":"engine","item_count":"engine","time_limit":"engine","shuffle_options":"engine"}"#,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LearnerProfile::Table)
                .if_not_exists()
                .col(pk_uuid(LearnerProfile::LearnerId))
                .col(uuid_null(LearnerProfile::UniversityId))
                .col(uuid_null(LearnerProfile::FacultyId))
                .col(integer_null(LearnerProfile::YearOfStudy))
                .col(string_len_null(LearnerProfile::ExamDate, 10))
                .col(integer_null(LearnerProfile::DailyMinutes))
                .col(string_len(LearnerProfile::Mode, 32))
                .col(big_integer(LearnerProfile::CreatedAt))
                .col(big_integer(LearnerProfile::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LearningMode::Table)
                .if_not_exists()
                .col(string_len(LearningMode::Code, 32).primary_key())
                .col(text(LearningMode::Names))
                .col(text(LearningMode::Definers))
                .col(integer(LearningMode::SortOrder).default(0))
                .col(big_integer(LearningMode::UpdatedAt))
                .col(uuid_null(LearningMode::UpdatedBy))
                .to_owned(),
        )
        .await?;
        for (k, (code, names, definers)) in MODES.iter().enumerate() {
            let insert = Query::insert()
                .into_table(LearningMode::Table)
                .columns([
                    LearningMode::Code,
                    LearningMode::Names,
                    LearningMode::Definers,
                    LearningMode::SortOrder,
                    LearningMode::UpdatedAt,
                ])
                .values_panic([
                    (*code).into(),
                    (*names).into(),
                    (*definers).into(),
                    (k as i32).into(),
                    0i64.into(),
                ])
                .to_owned();
            m.exec_stmt(insert).await?;
        }

        m.create_table(
            Table::create()
                .table(ParameterSet::Table)
                .if_not_exists()
                .col(big_integer(ParameterSet::Id).primary_key())
                .col(text(ParameterSet::Name))
                .col(string_len(ParameterSet::Kind, 16))
                .col(string_len(ParameterSet::Status, 16))
                .col(text(ParameterSet::Notes))
                .col(big_integer(ParameterSet::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_parameter_set_status",
            ParameterSet::Table,
            &["status", "id"],
            false,
        )
        .await?;
        let priors = Query::insert()
            .into_table(ParameterSet::Table)
            .columns([
                ParameterSet::Id,
                ParameterSet::Name,
                ParameterSet::Kind,
                ParameterSet::Status,
                ParameterSet::Notes,
                ParameterSet::CreatedAt,
            ])
            .values_panic([
                0i64.into(),
                "priors".into(),
                "priors".into(),
                "active".into(),
                "documented priors (docs/ADAPTIVE.md): a = 1; b from the author's difficulty; c = 1/k for a single-answer QCS, else 0; default BKT per KC".into(),
                0i64.into(),
            ])
            .to_owned();
        m.exec_stmt(priors).await?;

        m.create_table(
            Table::create()
                .table(ItemParameter::Table)
                .if_not_exists()
                .col(big_integer(ItemParameter::ParameterSetId))
                .col(uuid(ItemParameter::ItemId))
                .col(double(ItemParameter::A))
                .col(double(ItemParameter::B))
                .col(double(ItemParameter::C))
                .primary_key(
                    Index::create()
                        .col(ItemParameter::ParameterSetId)
                        .col(ItemParameter::ItemId),
                )
                .foreign_key(&mut fk(
                    (ItemParameter::Table, ItemParameter::ParameterSetId),
                    (ParameterSet::Table, ParameterSet::Id),
                ))
                .foreign_key(&mut fk(
                    (ItemParameter::Table, ItemParameter::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KcParameter::Table)
                .if_not_exists()
                .col(big_integer(KcParameter::ParameterSetId))
                .col(uuid(KcParameter::KcId))
                .col(double(KcParameter::PInit))
                .col(double(KcParameter::PLearn))
                .col(double(KcParameter::PGuess))
                .col(double(KcParameter::PSlip))
                .primary_key(
                    Index::create()
                        .col(KcParameter::ParameterSetId)
                        .col(KcParameter::KcId),
                )
                .foreign_key(&mut fk(
                    (KcParameter::Table, KcParameter::ParameterSetId),
                    (ParameterSet::Table, ParameterSet::Id),
                ))
                .foreign_key(&mut fk(
                    (KcParameter::Table, KcParameter::KcId),
                    (KcNode::Table, KcNode::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TrainingSession::Table)
                .if_not_exists()
                .col(pk_uuid(TrainingSession::Id))
                .col(uuid(TrainingSession::LearnerId))
                .col(uuid_null(TrainingSession::SubjectId))
                .col(string_len(TrainingSession::Mode, 32))
                .col(string_len(TrainingSession::Style, 16))
                .col(string_len(TrainingSession::Status, 16))
                .col(string_len_null(TrainingSession::EndReason, 16))
                .col(text(TrainingSession::Request))
                .col(text(TrainingSession::Params))
                .col(text(TrainingSession::Rules))
                .col(string_len(TrainingSession::RuleVersion, 32))
                .col(big_integer(TrainingSession::Seed))
                .col(integer(TrainingSession::ItemCount))
                .col(integer(TrainingSession::Served).default(0))
                .col(big_integer_null(TrainingSession::DeadlineAt))
                .col(big_integer_null(TrainingSession::PausedAt))
                .col(big_integer(TrainingSession::CreatedAt))
                .col(big_integer(TrainingSession::UpdatedAt))
                .col(big_integer_null(TrainingSession::CompletedAt))
                .foreign_key(&mut fk(
                    (TrainingSession::Table, TrainingSession::SubjectId),
                    (Subject::Table, Subject::Id),
                ))
                .to_owned(),
        )
        .await?;
        // A learner's sessions, newest first; the expiry job's scan of open sessions by age.
        index(
            m,
            "ix_training_session_learner",
            TrainingSession::Table,
            &["learner_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_training_session_status",
            TrainingSession::Table,
            &["status", "updated_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SessionItem::Table)
                .if_not_exists()
                .col(pk_uuid(SessionItem::Id))
                .col(uuid(SessionItem::SessionId))
                .col(uuid(SessionItem::LearnerId))
                .col(integer(SessionItem::Position))
                .col(uuid(SessionItem::ItemId))
                .col(uuid(SessionItem::RevisionId))
                .col(uuid(SessionItem::SubjectId))
                .col(uuid_null(SessionItem::CaseId))
                .col(integer_null(SessionItem::CaseStep))
                .col(integer_null(SessionItem::CaseSize))
                .col(text_null(SessionItem::OptionOrder))
                .col(string_len(SessionItem::Reason, 24))
                .col(double_null(SessionItem::PCorrect))
                .col(double_null(SessionItem::PCorrectBkt))
                .col(big_integer(SessionItem::ParameterSetId))
                .col(string_len(SessionItem::State, 12))
                .col(big_integer(SessionItem::ServedAt))
                .col(big_integer_null(SessionItem::ClosedAt))
                .col(boolean(SessionItem::Flagged).default(false))
                .col(text_null(SessionItem::Note))
                .foreign_key(&mut fk(
                    (SessionItem::Table, SessionItem::SessionId),
                    (TrainingSession::Table, TrainingSession::Id),
                ))
                .foreign_key(&mut fk(
                    (SessionItem::Table, SessionItem::ItemId),
                    (Item::Table, Item::Id),
                ))
                .foreign_key(&mut fk(
                    (SessionItem::Table, SessionItem::RevisionId),
                    (ItemRevision::Table, ItemRevision::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Served order within a session (also the "current item" and "served set" look-ups).
        index(
            m,
            "uq_session_item_position",
            SessionItem::Table,
            &["session_id", "position"],
            true,
        )
        .await?;
        // The "flagged" pool.
        index(
            m,
            "ix_session_item_flagged",
            SessionItem::Table,
            &["learner_id", "flagged", "item_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Attempt::Table)
                .if_not_exists()
                .col(pk_uuid(Attempt::Id))
                .col(uuid(Attempt::SessionItemId))
                .col(uuid(Attempt::SessionId))
                .col(uuid(Attempt::LearnerId))
                .col(uuid(Attempt::ItemId))
                .col(uuid(Attempt::RevisionId))
                .col(text(Attempt::Response))
                .col(double_null(Attempt::Ratio))
                .col(boolean_null(Attempt::Correct))
                .col(string_len_null(Attempt::Grader, 8))
                .col(string_len_null(Attempt::UngradedReason, 24))
                .col(string_len(Attempt::RuleVersion, 32))
                .col(big_integer(Attempt::ParameterSetId))
                .col(big_integer(Attempt::TimeSpentMs))
                .col(big_integer(Attempt::CreatedAt))
                .foreign_key(&mut fk(
                    (Attempt::Table, Attempt::SessionItemId),
                    (SessionItem::Table, SessionItem::Id),
                ))
                .foreign_key(&mut fk(
                    (Attempt::Table, Attempt::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Exactly one attempt per served item.
        index(
            m,
            "uq_attempt_session_item",
            Attempt::Table,
            &["session_item_id"],
            true,
        )
        .await?;
        // Pools "unused" and "incorrect"; a learner's history.
        index(
            m,
            "ix_attempt_learner_item",
            Attempt::Table,
            &["learner_id", "item_id", "created_at"],
            false,
        )
        .await?;
        // Session summaries; calibration exports by item.
        index(
            m,
            "ix_attempt_session",
            Attempt::Table,
            &["session_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_attempt_item",
            Attempt::Table,
            &["item_id", "created_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LearnerAbility::Table)
                .if_not_exists()
                .col(uuid(LearnerAbility::LearnerId))
                .col(uuid(LearnerAbility::SubjectId))
                .col(double(LearnerAbility::Theta))
                .col(double(LearnerAbility::Se))
                .col(integer(LearnerAbility::Answers))
                .col(big_integer(LearnerAbility::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(LearnerAbility::LearnerId)
                        .col(LearnerAbility::SubjectId),
                )
                .foreign_key(&mut fk(
                    (LearnerAbility::Table, LearnerAbility::SubjectId),
                    (Subject::Table, Subject::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LearnerKc::Table)
                .if_not_exists()
                .col(uuid(LearnerKc::LearnerId))
                .col(uuid(LearnerKc::KcId))
                .col(double(LearnerKc::Mastery))
                .col(integer(LearnerKc::Evidence))
                .col(big_integer(LearnerKc::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(LearnerKc::LearnerId)
                        .col(LearnerKc::KcId),
                )
                .foreign_key(&mut fk(
                    (LearnerKc::Table, LearnerKc::KcId),
                    (KcNode::Table, KcNode::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LearnerMemory::Table)
                .if_not_exists()
                .col(uuid(LearnerMemory::LearnerId))
                .col(uuid(LearnerMemory::ItemId))
                .col(uuid(LearnerMemory::SubjectId))
                .col(double(LearnerMemory::Stability))
                .col(double(LearnerMemory::Difficulty))
                .col(integer(LearnerMemory::Reviews))
                .col(integer(LearnerMemory::Lapses))
                .col(big_integer(LearnerMemory::LastReviewAt))
                .col(big_integer(LearnerMemory::DueAt))
                .primary_key(
                    Index::create()
                        .col(LearnerMemory::LearnerId)
                        .col(LearnerMemory::ItemId),
                )
                .foreign_key(&mut fk(
                    (LearnerMemory::Table, LearnerMemory::ItemId),
                    (Item::Table, Item::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Due reviews across subjects; a subject's memories (due scores of a pool).
        index(
            m,
            "ix_learner_memory_due",
            LearnerMemory::Table,
            &["learner_id", "due_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_learner_memory_subject",
            LearnerMemory::Table,
            &["learner_id", "subject_id"],
            false,
        )
        .await
    }
}
