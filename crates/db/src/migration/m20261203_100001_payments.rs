//! Online payment (issue 14 item 3): `payment_intent`, our record of one attempt to buy a plan
//! through the payment provider, with a forward-only status (`creating` → `pending` | `unknown`
//! → `paid` | `failed` | `canceled` | `expired` | `quarantined`); the provider's checkout id
//! and the granted subscription are each unique, so one checkout grants at most once. And
//! `payment_event`, every accepted webhook event by its id (replays are recognised) with the
//! SHA-256 of its body. Times are BIGINT epoch milliseconds; amounts whole dinars.

use super::helpers::{fk, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PaymentIntent {
    Table,
    Id,
    LearnerId,
    PlanId,
    AmountDzd,
    Currency,
    Mode,
    Status,
    CheckoutId,
    CheckoutUrl,
    SubscriptionId,
    Note,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum PaymentEvent {
    Table,
    EventId,
    CheckoutId,
    Kind,
    BodySha256,
    ReceivedAt,
}
#[derive(DeriveIden)]
enum Plan {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PaymentIntent::Table)
                .if_not_exists()
                .col(pk_uuid(PaymentIntent::Id))
                .col(uuid(PaymentIntent::LearnerId))
                .col(uuid(PaymentIntent::PlanId))
                .col(big_integer(PaymentIntent::AmountDzd))
                .col(string_len(PaymentIntent::Currency, 8))
                .col(string_len(PaymentIntent::Mode, 8))
                .col(string_len(PaymentIntent::Status, 16))
                .col(string_len_null(PaymentIntent::CheckoutId, 64))
                .col(text_null(PaymentIntent::CheckoutUrl))
                .col(uuid_null(PaymentIntent::SubscriptionId))
                .col(text_null(PaymentIntent::Note))
                .col(big_integer(PaymentIntent::CreatedAt))
                .col(big_integer(PaymentIntent::UpdatedAt))
                .foreign_key(&mut fk(
                    (PaymentIntent::Table, PaymentIntent::PlanId),
                    (Plan::Table, Plan::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_payment_intent_checkout",
            PaymentIntent::Table,
            &["checkout_id"],
            true,
        )
        .await?;
        index(
            m,
            "ux_payment_intent_subscription",
            PaymentIntent::Table,
            &["subscription_id"],
            true,
        )
        .await?;
        index(
            m,
            "ix_payment_intent_learner",
            PaymentIntent::Table,
            &["learner_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_payment_intent_status",
            PaymentIntent::Table,
            &["status", "updated_at"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PaymentEvent::Table)
                .if_not_exists()
                .col(string_len(PaymentEvent::EventId, 64).primary_key())
                .col(string_len_null(PaymentEvent::CheckoutId, 64))
                .col(string_len(PaymentEvent::Kind, 64))
                .col(string_len(PaymentEvent::BodySha256, 64))
                .col(big_integer(PaymentEvent::ReceivedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_payment_event_checkout",
            PaymentEvent::Table,
            &["checkout_id"],
            false,
        )
        .await
    }
}
