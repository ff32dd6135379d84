//! The authors' earnings ledger against the database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`): after any sequence of earnings (some for items paid already),
//! withdrawal requests (some too large), paid and failed settlements (some twice), every
//! transaction balances, every wallet equals what a simple model of the rules says, never goes
//! negative, and the entries cannot be edited or deleted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::collections::HashMap;
use std::sync::Arc;

use myqcm_db::commerce::ledger as repo;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::ledger::CcpAccount;
use myqcm_domain::permissions::{AdminScope, Role};
use myqcm_services::commerce::ledger::{Finance, Ledger, LedgerError, Outcome, post_earning};
use myqcm_services::identity::ClientMeta;
use myqcm_testkit::{epoch, fixed_clock, test_db};
use proptest::prelude::*;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

fn author(id: Uuid) -> Actor {
    Actor {
        id,
        roles: vec![Role::Author],
        scopes: vec![],
        mfa_enrolled: false,
    }
}

fn finance() -> Finance {
    Finance {
        actor: Actor {
            id: Uuid::now_v7(),
            roles: vec![Role::Admin],
            scopes: vec![AdminScope::Finance],
            mfa_enrolled: true,
        },
        recent_mfa: true,
        meta: ClientMeta::default(),
    }
}

fn ccp() -> String {
    format!("12345678 {:02}", CcpAccount::ccp_key(12_345_678))
}

#[derive(Debug, Clone)]
enum Op {
    /// Author `a` is paid `amount` for item number `item` (repeats must pay nothing).
    Earn { a: usize, item: u8, amount: i64 },
    /// Author `a` asks for `amount` centimes.
    Withdraw { a: usize, amount: i64 },
    /// The `w`-th withdrawal so far (modulo their count) is settled.
    Settle { w: usize, paid: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..6u8, 1..5_000i64).prop_map(|(a, item, amount)| Op::Earn { a, item, amount }),
        (0..3usize, 10_000..20_000i64).prop_map(|(a, amount)| Op::Withdraw { a, amount }),
        (0..8usize, any::<bool>()).prop_map(|(w, paid)| Op::Settle { w, paid }),
    ]
}

async fn run(db: &myqcm_db::DatabaseConnection, ops: Vec<Op>) {
    let ledger = Ledger::new(db.clone(), Arc::new(fixed_clock()), [7u8; 32]);
    let fin = finance();
    let authors: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let items: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
    // The model: balances, items paid, withdrawals (author, amount, settled).
    let mut model: HashMap<Uuid, i64> = HashMap::new();
    let mut paid_items: HashMap<Uuid, Uuid> = HashMap::new();
    let mut withdrawals: Vec<(Uuid, Uuid, i64, bool)> = Vec::new();
    for op in ops {
        match op {
            Op::Earn { a, item, amount } => {
                let (who, it) = (authors[a], items[usize::from(item)]);
                let got = post_earning(db, it, who, amount, fin.actor.id, epoch())
                    .await
                    .unwrap();
                if let Some(first) = paid_items.get(&it) {
                    assert_eq!(got, None, "item paid twice (first to {first})");
                } else {
                    assert_eq!(got, Some(amount));
                    paid_items.insert(it, who);
                    *model.entry(who).or_default() += amount;
                }
            }
            Op::Withdraw { a, amount } => {
                let who = authors[a];
                let res = ledger
                    .request_withdrawal(&author(who), &ClientMeta::default(), amount, &ccp())
                    .await;
                let balance = model.get(&who).copied().unwrap_or(0);
                if amount > balance {
                    assert!(
                        matches!(res, Err(LedgerError::InsufficientFunds)),
                        "{res:?}"
                    );
                } else {
                    let w = res.unwrap();
                    assert_eq!(w.ccp_masked, "••••••78");
                    *model.entry(who).or_default() -= amount;
                    withdrawals.push((w.id, who, amount, false));
                }
            }
            Op::Settle { w, paid } => {
                if withdrawals.is_empty() {
                    continue;
                }
                let i = w % withdrawals.len();
                let (id, who, amount, settled) = withdrawals[i];
                let outcome = if paid { Outcome::Paid } else { Outcome::Failed };
                let res = ledger.settle(&fin, id, outcome, "").await;
                if settled {
                    assert!(matches!(res, Err(LedgerError::AlreadySettled)), "{res:?}");
                } else {
                    let v = res.unwrap();
                    assert_eq!(v.withdrawal.status, if paid { "paid" } else { "failed" });
                    withdrawals[i].3 = true;
                    if !paid {
                        *model.entry(who).or_default() += amount;
                    }
                }
            }
        }
        // After every step: every transaction balances, wallets match the model, none negative.
        assert_eq!(repo::unbalanced_transactions(db).await.unwrap(), 0);
        for who in &authors {
            let expected = model.get(who).copied().unwrap_or(0);
            let actual = match repo::wallet_of(db, *who).await.unwrap() {
                Some(w) => repo::balance(db, w).await.unwrap(),
                None => 0,
            };
            assert_eq!(actual, expected);
            assert!(actual >= 0);
            let view = ledger
                .earnings(&author(*who), None, Some(200))
                .await
                .unwrap();
            assert_eq!(view.balance, expected);
            assert_eq!(view.entries.iter().map(|e| e.amount).sum::<i64>(), expected);
        }
    }
}

#[test]
fn random_earnings_withdrawals_and_settlements_keep_the_ledger_balanced() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tdb = rt.block_on(test_db()).unwrap();
    let db = tdb.conn.clone();
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..30))| {
        rt.block_on(run(&db, ops));
    });
}

#[tokio::test]
async fn entries_and_transactions_cannot_be_updated_or_deleted() {
    let tdb = test_db().await.unwrap();
    let db = &tdb.conn;
    let who = Uuid::now_v7();
    post_earning(db, Uuid::now_v7(), who, 1500, who, epoch())
        .await
        .unwrap()
        .unwrap();
    for sql in [
        "UPDATE ledger_entry SET amount = amount + 1",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET memo = 'x'",
        "DELETE FROM ledger_transaction",
    ] {
        assert!(
            db.execute_unprepared(sql).await.is_err(),
            "{sql} went through"
        );
    }
    let w = repo::wallet_of(db, who).await.unwrap().unwrap();
    assert_eq!(repo::balance(db, w).await.unwrap(), 1500);
}

#[tokio::test]
async fn concurrent_withdrawals_of_one_author_never_overdraw() {
    let tdb = test_db().await.unwrap();
    let db = tdb.conn.clone();
    let who = Uuid::now_v7();
    // 300 DZD: room for two withdrawals of 150, not three.
    post_earning(&db, Uuid::now_v7(), who, 30_000, who, epoch())
        .await
        .unwrap();
    let ledger = Ledger::new(db.clone(), Arc::new(fixed_clock()), [7u8; 32]);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let l = ledger.clone();
            tokio::spawn(async move {
                l.request_withdrawal(&author(who), &ClientMeta::default(), 15_000, &ccp())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(LedgerError::InsufficientFunds) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 2);
    let w = repo::wallet_of(&db, who).await.unwrap().unwrap();
    assert_eq!(repo::balance(&db, w).await.unwrap(), 0);
}

#[tokio::test]
async fn erasure_wipes_the_postal_accounts_and_keeps_the_ledger() {
    let tdb = test_db().await.unwrap();
    let db = tdb.conn.clone();
    let who = Uuid::now_v7();
    post_earning(&db, Uuid::now_v7(), who, 30_000, who, epoch())
        .await
        .unwrap();
    let ledger = Ledger::new(db.clone(), Arc::new(fixed_clock()), [7u8; 32]);
    let w = ledger
        .request_withdrawal(&author(who), &ClientMeta::default(), 10_000, &ccp())
        .await
        .unwrap();
    let fin = finance();
    let shown = ledger.reveal_ccp(&fin, w.id).await.unwrap();
    assert_eq!(
        shown.ccp,
        format!("12345678 clé {:02}", CcpAccount::ccp_key(12_345_678))
    );
    let row = repo::withdrawal(&db, w.id).await.unwrap().unwrap();
    assert!(!row.ccp_sealed.contains("12345678"), "sealed at rest");
    myqcm_services::commerce::privacy::erase(&db, who, 0)
        .await
        .unwrap();
    let row = repo::withdrawal(&db, w.id).await.unwrap().unwrap();
    assert_eq!((row.ccp_sealed.as_str(), row.ccp_masked.as_str()), ("", ""));
    assert!(matches!(
        ledger.reveal_ccp(&fin, w.id).await,
        Err(LedgerError::NotFound)
    ));
    let wallet = repo::wallet_of(&db, who).await.unwrap().unwrap();
    assert_eq!(repo::balance(&db, wallet).await.unwrap(), 20_000);
}
