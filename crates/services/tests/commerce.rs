//! Activation cards against the database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`, Redis with `MYQCM_TEST_REDIS_URL`): 50 concurrent redemptions of
//! one card give exactly one subscription; renewals queue after the paid time and a plan
//! switch credits the unused time at the price ratio (docs/COMMERCE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;

use myqcm_db::commerce as repo;
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Role;
use myqcm_services::commerce::cards::MintInput;
use myqcm_services::commerce::{Commerce, CommerceError, PlanInput, PlanNames};
use myqcm_services::identity::ClientMeta;
use myqcm_testkit::{fixed_clock, test_cache, test_db};
use uuid::Uuid;

fn learner() -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Student],
        scopes: vec![],
        mfa_enrolled: false,
    }
}

fn finance() -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Admin],
        scopes: vec![myqcm_domain::permissions::AdminScope::Finance],
        mfa_enrolled: true,
    }
}

fn meta(ip: &str) -> ClientMeta {
    ClientMeta {
        ip: Some(ip.into()),
        ..ClientMeta::default()
    }
}

fn plan(code: &str, price: i64, days: Option<i32>) -> PlanInput {
    PlanInput {
        code: code.into(),
        names: PlanNames {
            fr: code.into(),
            en: code.into(),
            ar: code.into(),
        },
        price_dzd: price,
        duration_days: days,
        mcq_per_day: None,
        mcq_per_month: None,
        qroc_per_day: None,
        qroc_per_month: None,
        explanations: true,
        clinical_cases: false,
        ai_grading: false,
        devices: 1,
        listed: true,
        sort_order: 0,
    }
}

async fn mint(c: &Commerce, plan: &str, count: u32) -> Vec<String> {
    c.mint(
        None,
        &ClientMeta::default(),
        MintInput {
            plan: plan.into(),
            count,
            expires_at: None,
            label: String::new(),
        },
    )
    .await
    .unwrap()
    .codes
}

#[tokio::test]
async fn fifty_concurrent_redemptions_of_one_card_give_exactly_one_subscription() {
    let db = test_db().await.unwrap();
    let clock = fixed_clock();
    let c = Commerce::new(
        db.conn.clone(),
        Arc::new(clock.clone()),
        test_cache().await.unwrap(),
        [7u8; 32],
    );
    c.create_plan(
        &finance(),
        &ClientMeta::default(),
        plan("month", 3000, Some(30)),
    )
    .await
    .unwrap();
    let code = mint(&c, "month", 1).await.remove(0);
    let learners: Vec<Actor> = (0..50).map(|_| learner()).collect();
    let mut tasks = Vec::new();
    for (k, a) in learners.iter().cloned().enumerate() {
        let (c, code) = (c.clone(), code.clone());
        // Distinct addresses and accounts: no rate limit stands between them and the card.
        tasks.push(tokio::spawn(async move {
            c.redeem(
                &a,
                &meta(&format!("10.0.{}.{}", k / 200, k % 200 + 1)),
                &code,
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CommerceError::CardUsed) => {}
            Err(e) => panic!("unexpected refusal: {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
    let mut subs = 0;
    for a in &learners {
        subs += repo::subscriptions_of(&*db, a.id).await.unwrap().len();
    }
    assert_eq!(subs, 1, "exactly one subscription");
}

#[tokio::test]
async fn renewals_queue_after_the_paid_time_and_a_switch_credits_it_at_the_price_ratio() {
    let db = test_db().await.unwrap();
    let clock = fixed_clock();
    let c = Commerce::new(
        db.conn.clone(),
        Arc::new(clock.clone()),
        test_cache().await.unwrap(),
        [9u8; 32],
    );
    let admin = finance();
    let none = ClientMeta::default();
    c.create_plan(&admin, &none, plan("basic", 3000, Some(30)))
        .await
        .unwrap();
    c.create_plan(&admin, &none, plan("premium", 6000, Some(30)))
        .await
        .unwrap();
    c.create_plan(&admin, &none, plan("forever", 20000, None))
        .await
        .unwrap();
    let basic = mint(&c, "basic", 2).await;
    let premium = mint(&c, "premium", 1).await;
    let forever = mint(&c, "forever", 2).await;
    let a = learner();
    let day = 86_400_000i64;
    let t0 = clock.now().timestamp_millis();
    let r = c.redeem(&a, &meta("10.1.0.1"), &basic[0]).await.unwrap();
    assert_eq!(r.ends_at.unwrap().timestamp_millis(), t0 + 30 * day);
    // Renewal: starts when the first 30 days end.
    let r = c.redeem(&a, &meta("10.1.0.1"), &basic[1]).await.unwrap();
    assert_eq!(r.starts_at.timestamp_millis(), t0 + 30 * day);
    assert_eq!(r.ends_at.unwrap().timestamp_millis(), t0 + 60 * day);
    // Ten days later, a switch to premium (twice the price): the 50 unused basic days are
    // worth 25 premium days.
    clock.advance(chrono::Duration::days(10));
    let r = c.redeem(&a, &meta("10.1.0.1"), &premium[0]).await.unwrap();
    assert_eq!(r.starts_at.timestamp_millis(), t0 + 10 * day);
    assert_eq!(
        r.ends_at.unwrap().timestamp_millis(),
        t0 + 10 * day + 30 * day + 25 * day
    );
    let sub = c.my_subscription(a.id).await.unwrap();
    assert_eq!(sub.plan.code, "premium");
    assert_eq!(sub.source, "card");
    // A plan without end: the card works once; nothing can be added afterwards, and the
    // refused card stays unused.
    c.redeem(&a, &meta("10.1.0.1"), &forever[0]).await.unwrap();
    let sub = c.my_subscription(a.id).await.unwrap();
    assert_eq!((sub.plan.code.as_str(), sub.ends_at), ("forever", None));
    let refused = c.redeem(&a, &meta("10.1.0.1"), &forever[1]).await;
    assert!(
        matches!(refused, Err(CommerceError::PlanWithoutEnd)),
        "{refused:?}"
    );
    let b = learner();
    c.redeem(&b, &meta("10.1.0.2"), &forever[1]).await.unwrap();
}
