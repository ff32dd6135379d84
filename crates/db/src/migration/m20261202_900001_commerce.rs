//! Commerce, first slice (issue 14): plans with their quotas, learners' subscriptions, quota
//! usage per learner and feature (one row holding the current day's and month's counters,
//! keyed by the Algerian date), prepaid activation cards (stored only as an HMAC) and their
//! batches. The default free plan is seeded here (quotas documented in `docs/COMMERCE.md`).
//! Times are BIGINT epoch milliseconds; prices whole Algerian dinars.

use super::helpers::{fk, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plan {
    Table,
    Id,
    Code,
    Names,
    PriceDzd,
    DurationDays,
    McqPerDay,
    McqPerMonth,
    QrocPerDay,
    QrocPerMonth,
    Explanations,
    ClinicalCases,
    Devices,
    IsDefault,
    Listed,
    SortOrder,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum Subscription {
    Table,
    Id,
    LearnerId,
    PlanId,
    StartsAt,
    EndsAt,
    Source,
    CardId,
    CreatedAt,
}
#[derive(DeriveIden)]
enum QuotaUsage {
    Table,
    LearnerId,
    Feature,
    DayKey,
    DayUsed,
    MonthKey,
    MonthUsed,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum CardBatch {
    Table,
    Id,
    PlanId,
    Label,
    Size,
    ExpiresAt,
    CreatedBy,
    CreatedAt,
    RevokedAt,
    RevokedBy,
}
#[derive(DeriveIden)]
enum ActivationCard {
    Table,
    Id,
    BatchId,
    CodeHmac,
    RedeemedAt,
    RedeemedBy,
    SubscriptionId,
}

/// Id of the seeded free plan (fixed, so every deployment names it the same).
pub const FREE_PLAN_ID: &str = "00000000-0000-7000-8000-00000000f4ee";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Plan::Table)
                .if_not_exists()
                .col(pk_uuid(Plan::Id))
                .col(string_len(Plan::Code, 32))
                .col(text(Plan::Names))
                .col(big_integer(Plan::PriceDzd))
                .col(integer_null(Plan::DurationDays))
                .col(integer_null(Plan::McqPerDay))
                .col(integer_null(Plan::McqPerMonth))
                .col(integer_null(Plan::QrocPerDay))
                .col(integer_null(Plan::QrocPerMonth))
                .col(boolean(Plan::Explanations))
                .col(boolean(Plan::ClinicalCases))
                .col(integer(Plan::Devices))
                .col(boolean(Plan::IsDefault))
                .col(boolean(Plan::Listed))
                .col(integer(Plan::SortOrder).default(0))
                .col(big_integer(Plan::CreatedAt))
                .col(big_integer(Plan::UpdatedAt))
                .to_owned(),
        )
        .await?;
        index(m, "ux_plan_code", Plan::Table, &["code"], true).await?;
        let free = Query::insert()
            .into_table(Plan::Table)
            .columns([
                Plan::Id,
                Plan::Code,
                Plan::Names,
                Plan::PriceDzd,
                Plan::DurationDays,
                Plan::McqPerDay,
                Plan::McqPerMonth,
                Plan::QrocPerDay,
                Plan::QrocPerMonth,
                Plan::Explanations,
                Plan::ClinicalCases,
                Plan::Devices,
                Plan::IsDefault,
                Plan::Listed,
                Plan::SortOrder,
                Plan::CreatedAt,
                Plan::UpdatedAt,
            ])
            .values_panic([
                uuid::Uuid::parse_str(FREE_PLAN_ID)
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .into(),
                "free".into(),
                r#"{"fr":"Gratuit","en":"Free","ar":"مجاني"}"#.into(),
                0i64.into(),
                Option::<i32>::None.into(),
                40i32.into(),
                600i32.into(),
                10i32.into(),
                150i32.into(),
                true.into(),
                false.into(),
                1i32.into(),
                true.into(),
                true.into(),
                0i32.into(),
                0i64.into(),
                0i64.into(),
            ])
            .to_owned();
        m.exec_stmt(free).await?;

        m.create_table(
            Table::create()
                .table(Subscription::Table)
                .if_not_exists()
                .col(pk_uuid(Subscription::Id))
                .col(uuid(Subscription::LearnerId))
                .col(uuid(Subscription::PlanId))
                .col(big_integer(Subscription::StartsAt))
                .col(big_integer_null(Subscription::EndsAt))
                .col(string_len(Subscription::Source, 16))
                .col(uuid_null(Subscription::CardId))
                .col(big_integer(Subscription::CreatedAt))
                .foreign_key(&mut fk(
                    (Subscription::Table, Subscription::PlanId),
                    (Plan::Table, Plan::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_subscription_learner",
            Subscription::Table,
            &["learner_id", "starts_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(QuotaUsage::Table)
                .if_not_exists()
                .col(uuid(QuotaUsage::LearnerId))
                .col(string_len(QuotaUsage::Feature, 32))
                .col(integer(QuotaUsage::DayKey))
                .col(integer(QuotaUsage::DayUsed))
                .col(integer(QuotaUsage::MonthKey))
                .col(integer(QuotaUsage::MonthUsed))
                .col(big_integer(QuotaUsage::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(QuotaUsage::LearnerId)
                        .col(QuotaUsage::Feature),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CardBatch::Table)
                .if_not_exists()
                .col(pk_uuid(CardBatch::Id))
                .col(uuid(CardBatch::PlanId))
                .col(text(CardBatch::Label))
                .col(integer(CardBatch::Size))
                .col(big_integer_null(CardBatch::ExpiresAt))
                .col(uuid_null(CardBatch::CreatedBy))
                .col(big_integer(CardBatch::CreatedAt))
                .col(big_integer_null(CardBatch::RevokedAt))
                .col(uuid_null(CardBatch::RevokedBy))
                .foreign_key(&mut fk(
                    (CardBatch::Table, CardBatch::PlanId),
                    (Plan::Table, Plan::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ActivationCard::Table)
                .if_not_exists()
                .col(pk_uuid(ActivationCard::Id))
                .col(uuid(ActivationCard::BatchId))
                .col(string_len(ActivationCard::CodeHmac, 64))
                .col(big_integer_null(ActivationCard::RedeemedAt))
                .col(uuid_null(ActivationCard::RedeemedBy))
                .col(uuid_null(ActivationCard::SubscriptionId))
                .foreign_key(&mut fk(
                    (ActivationCard::Table, ActivationCard::BatchId),
                    (CardBatch::Table, CardBatch::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_activation_card_hmac",
            ActivationCard::Table,
            &["code_hmac"],
            true,
        )
        .await?;
        index(
            m,
            "ix_activation_card_batch",
            ActivationCard::Table,
            &["batch_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_activation_card_redeemed_by",
            ActivationCard::Table,
            &["redeemed_by"],
            false,
        )
        .await
    }
}
