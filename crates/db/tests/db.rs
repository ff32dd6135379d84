//! Repository tests; run on SQLite by default and on PostgreSQL with `MYQCM_TEST_DATABASE_URL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use chrono::Duration;
use myqcm_db::identity::accounts::{self, NewAccount};
use myqcm_db::jobs::{self, FailOutcome, JobStatus, NewJob};
use myqcm_db::{DbError, TransactionTrait};
use myqcm_domain::permissions::Role;
use myqcm_testkit::{epoch, test_db};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait as _;
use serde_json::json;

#[tokio::test]
async fn sqlite_file_databases_use_wal_foreign_keys_and_busy_timeout() {
    let db = test_db().await.unwrap();
    if db.backend() != DbBackend::Sqlite {
        eprintln!(
            "pragmas are SQLite-only; backend is {}",
            myqcm_testkit::backend_name()
        );
        return;
    }
    // Ask several pooled connections, not just the first.
    for _ in 0..3 {
        let tx = db.begin().await.unwrap();
        let q = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql.to_owned());
        let mode = tx
            .query_one_raw(q("PRAGMA journal_mode"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mode.try_get_by_index::<String>(0).unwrap(), "wal");
        let fk = tx
            .query_one_raw(q("PRAGMA foreign_keys"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fk.try_get_by_index::<i32>(0).unwrap(), 1);
        let bt = tx
            .query_one_raw(q("PRAGMA busy_timeout"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bt.try_get_by_index::<i32>(0).unwrap(), 5000);
        tx.commit().await.unwrap();
    }
}

/// Write transactions queue for one writer on SQLite (its file's one-connection writer), while
/// reads through the pool go on; on PostgreSQL each has its own connection.
#[tokio::test]
async fn sqlite_write_transactions_queue_for_one_writer_while_reads_go_on() {
    let db = test_db().await.unwrap();
    let wait = std::time::Duration::from_millis(300);
    if db.backend() == DbBackend::Sqlite {
        // Every write transaction runs on the same connection, the file's writer, and never on
        // one of the pool's: a temporary table (private to its connection) made in one is seen
        // by the next and not by a read through the pool.
        let w = myqcm_db::begin_write(&db.conn).await.unwrap();
        w.execute_unprepared("CREATE TEMP TABLE writer_marker (x INTEGER)")
            .await
            .unwrap();
        w.commit().await.unwrap();
        let w = myqcm_db::begin_write(&db.conn).await.unwrap();
        w.execute_unprepared("SELECT COUNT(*) FROM temp.writer_marker")
            .await
            .expect("the second write transaction ran on another connection");
        w.commit().await.unwrap();
        assert!(
            db.conn
                .execute_unprepared("SELECT COUNT(*) FROM temp.writer_marker")
                .await
                .is_err(),
            "a pooled connection is the writer"
        );
    }
    let first = myqcm_db::begin_write(&db.conn).await.unwrap();
    // Reads through the pool are not held up by the open write transaction.
    tokio::time::timeout(wait, myqcm_db::ping(&db.conn))
        .await
        .expect("a read waits for the writer")
        .unwrap();
    let second = tokio::time::timeout(wait, myqcm_db::begin_write(&db.conn)).await;
    if db.backend() == DbBackend::Sqlite {
        // A second one waits for that connection (SQLite has one writer) and gets it at once
        // when the first ends.
        assert!(second.is_err(), "a second writer did not wait");
        first.commit().await.unwrap();
        let second = tokio::time::timeout(wait, myqcm_db::begin_write(&db.conn))
            .await
            .expect("the writer was not handed over");
        second.unwrap().commit().await.unwrap();
    } else {
        // PostgreSQL: a `BEGIN` takes no lock, each transaction has its own connection.
        let second = second.expect("PostgreSQL serialised two BEGINs").unwrap();
        second.commit().await.unwrap();
        first.commit().await.unwrap();
    }
}

/// Instances started together (replicas, a rolling deploy, the migrate job) migrate one
/// database at once: on PostgreSQL one migrates under the advisory lock, the others wait and
/// find nothing pending; every one of them comes up with the full schema.
#[tokio::test]
async fn instances_starting_together_on_a_fresh_database_all_come_up() {
    let Ok(url) = std::env::var("MYQCM_TEST_DATABASE_URL") else {
        return; // SQLite: one instance per database file.
    };
    if !url.starts_with("postgres") {
        return;
    }
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = myqcm_db::connect(&url, None).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .unwrap();
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        starts.spawn(async move { myqcm_db::connect_migrated(&url, Some(&schema)).await });
    }
    let expected = myqcm_db::migration::Migrator::migrations().len();
    while let Some(pool) = starts.join_next().await {
        let pool = pool.unwrap().expect("every instance comes up");
        let applied = pool
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT COUNT(*) AS n FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(
            usize::try_from(applied).unwrap(),
            expected,
            "every migration applied once"
        );
        pool.close().await.unwrap();
    }
    admin
        .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let db = test_db().await.unwrap();
    myqcm_db::migrate(&db).await.unwrap();
    myqcm_db::ping(&db).await.unwrap();
}

#[tokio::test]
async fn user_emails_are_unique_case_insensitively() {
    let db = test_db().await.unwrap();
    let new = |email: &str| NewAccount {
        email: email.into(),
        display_name: "A".into(),
        password_hash: None,
        roles: vec![Role::Student],
        admin_scopes: vec![],
        locale: "fr".into(),
        verified: false,
    };
    let u = accounts::insert(&*db, new("Amina@Example.org"), epoch())
        .await
        .unwrap();
    assert_eq!(u.email, "amina@example.org");
    assert!(matches!(
        accounts::insert(&*db, new("amina@example.org "), epoch()).await,
        Err(DbError::Conflict("email_taken"))
    ));
    let found = accounts::find_by_email(&*db, "AMINA@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, u.id);
    assert_eq!(found.created_at, epoch());
    assert_eq!(found.roles, "student");
}

#[tokio::test]
async fn job_enqueued_in_a_rolled_back_transaction_does_not_exist() {
    let db = test_db().await.unwrap();
    let tx = db.begin().await.unwrap();
    let id = jobs::enqueue(&tx, &NewJob::new("k", json!({}), epoch()), epoch())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(matches!(jobs::get(&*db, id).await, Err(DbError::NotFound)));

    let tx = db.begin().await.unwrap();
    let id = jobs::enqueue(&tx, &NewJob::new("k", json!({"a": 1}), epoch()), epoch())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.payload, json!({"a": 1}));
    assert_eq!(row.status, JobStatus::Queued);
}

#[tokio::test]
async fn idempotency_key_returns_the_existing_job() {
    let db = test_db().await.unwrap();
    let mut job = NewJob::new("mail.send", json!({"to": "x"}), epoch());
    job.idempotency_key = Some("welcome:42".into());
    let a = jobs::enqueue(&*db, &job, epoch()).await.unwrap();
    let b = jobs::enqueue(&*db, &job, epoch()).await.unwrap();
    assert_eq!(a, b);
    let c = jobs::enqueue(&*db, &NewJob::new("mail.send", json!({}), epoch()), epoch())
        .await
        .unwrap();
    assert_ne!(a, c);
}

#[tokio::test]
async fn payloads_can_be_replaced_and_finished_jobs_deleted_by_key_prefix() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let keyed = |key: &str| {
        let mut j = NewJob::new("mail.send", json!({"sealed": "x"}), t0);
        j.idempotency_key = Some(key.into());
        j
    };
    let done = jobs::enqueue(&*db, &keyed("mail:aa:1"), t0).await.unwrap();
    let mut later = keyed("mail:aa:2");
    later.run_at = t0 + Duration::hours(1);
    let queued = jobs::enqueue(&*db, &later, t0).await.unwrap();
    let other = jobs::enqueue(&*db, &keyed("mail:ab:1"), t0).await.unwrap();
    let wildcard = jobs::enqueue(&*db, &keyed("mail:a_:1"), t0).await.unwrap();
    assert!(
        jobs::replace_payload(&*db, done, &json!({"delivered": true}), t0)
            .await
            .unwrap()
    );
    assert!(
        !jobs::replace_payload(&*db, 999_999, &json!({}), t0)
            .await
            .unwrap()
    );
    assert_eq!(
        jobs::get(&*db, done).await.unwrap().payload,
        json!({"delivered": true})
    );
    // Finish every due job (all but `queued`, due in an hour).
    while let Some(j) = jobs::claim(&*db, "w", t0, Duration::minutes(1))
        .await
        .unwrap()
    {
        assert_ne!(j.id, queued);
        assert!(jobs::complete(&*db, j.id, "w", t0).await.unwrap());
    }
    let n = jobs::delete_finished_by_key_prefix(&*db, "mail.send", "mail:aa:")
        .await
        .unwrap();
    assert_eq!(n, 1, "only the finished job of that prefix");
    assert!(jobs::get(&*db, done).await.is_err());
    // The queued one, another prefix and an underscore (a LIKE wildcard elsewhere) stay.
    for id in [queued, other, wildcard] {
        assert!(jobs::get(&*db, id).await.is_ok(), "{id}");
    }
    assert_eq!(
        jobs::delete_finished_by_key_prefix(&*db, "other.kind", "mail:a")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn claim_respects_run_at_priority_and_leases() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let later = jobs::enqueue(
        &*db,
        &NewJob::new("later", json!({}), t0 + Duration::minutes(5)),
        t0,
    )
    .await
    .unwrap();
    let low = jobs::enqueue(&*db, &NewJob::new("low", json!({}), t0), t0)
        .await
        .unwrap();
    let mut hi = NewJob::new("high", json!({}), t0);
    hi.priority = 10;
    let high = jobs::enqueue(&*db, &hi, t0).await.unwrap();

    let lease = Duration::seconds(30);
    let first = jobs::claim(&*db, "w1", t0, lease).await.unwrap().unwrap();
    assert_eq!(first.id, high);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.locked_until, Some(t0 + lease));
    let second = jobs::claim(&*db, "w2", t0, lease).await.unwrap().unwrap();
    assert_eq!(second.id, low);
    assert!(
        jobs::claim(&*db, "w1", t0, lease).await.unwrap().is_none(),
        "future job not due"
    );
    let third = jobs::claim(&*db, "w1", t0 + Duration::minutes(5), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.id, later);

    // Only the holder can complete.
    assert!(!jobs::complete(&*db, high, "w2", t0).await.unwrap());
    assert!(jobs::complete(&*db, high, "w1", t0).await.unwrap());
    assert_eq!(jobs::get(&*db, high).await.unwrap().status, JobStatus::Done);
}

#[tokio::test]
async fn failures_retry_then_die_with_the_last_error() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let mut job = NewJob::new("flaky", json!({}), t0);
    job.max_attempts = 2;
    let id = jobs::enqueue(&*db, &job, t0).await.unwrap();
    jobs::claim(&*db, "w", t0, Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let retry_at = t0 + Duration::seconds(10);
    assert_eq!(
        jobs::fail(&*db, id, "w", "boom 1", retry_at, t0)
            .await
            .unwrap(),
        FailOutcome::Retry(retry_at)
    );
    assert!(
        jobs::claim(&*db, "w", t0, Duration::seconds(30))
            .await
            .unwrap()
            .is_none()
    );
    jobs::claim(&*db, "w", retry_at, Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::fail(&*db, id, "w", "boom 2", retry_at, retry_at)
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Dead);
    assert_eq!(row.last_error.as_deref(), Some("boom 2"));
    assert_eq!(row.attempts, 2);
    assert_eq!(
        jobs::list(&*db, JobStatus::Dead, 10).await.unwrap().len(),
        1
    );
    assert!(jobs::retry_dead(&*db, id, retry_at).await.unwrap());
    assert_eq!(jobs::get(&*db, id).await.unwrap().status, JobStatus::Queued);
}

#[tokio::test]
async fn expired_leases_are_reaped_and_the_old_worker_cannot_finish() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let id = jobs::enqueue(&*db, &NewJob::new("slow", json!({}), t0), t0)
        .await
        .unwrap();
    jobs::claim(&*db, "dead-worker", t0, Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::reap_expired(&*db, t0 + Duration::seconds(29))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        jobs::reap_expired(&*db, t0 + Duration::seconds(31))
            .await
            .unwrap(),
        1
    );
    let again = jobs::claim(
        &*db,
        "w2",
        t0 + Duration::seconds(31),
        Duration::seconds(30),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again.id, id);
    assert_eq!(again.attempts, 2);
    assert!(!jobs::complete(&*db, id, "dead-worker", t0).await.unwrap());
    assert!(jobs::complete(&*db, id, "w2", t0).await.unwrap());
}

#[tokio::test]
async fn schedules_enqueue_once_per_period_even_with_two_callers() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    jobs::upsert_schedule(
        &*db,
        "nightly",
        "calibrate",
        &json!({}),
        Duration::hours(24),
        t0,
    )
    .await
    .unwrap();
    jobs::upsert_schedule(
        &*db,
        "nightly",
        "calibrate",
        &json!({"v": 2}),
        Duration::hours(24),
        t0 + Duration::hours(1),
    )
    .await
    .unwrap();
    let other = db.reconnect().await.unwrap();
    assert_eq!(jobs::enqueue_due_schedules(&*db, t0).await.unwrap(), 1);
    assert_eq!(jobs::enqueue_due_schedules(&other, t0).await.unwrap(), 0);
    assert_eq!(
        jobs::enqueue_due_schedules(&*db, t0 + Duration::hours(23))
            .await
            .unwrap(),
        0
    );
    // Three days later: one job, not a burst of catch-up jobs.
    assert_eq!(
        jobs::enqueue_due_schedules(&*db, t0 + Duration::hours(72))
            .await
            .unwrap(),
        1
    );
    let queued = jobs::list(&*db, JobStatus::Queued, 10).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert!(
        queued
            .iter()
            .all(|j| j.kind == "calibrate" && j.payload == json!({"v": 2}))
    );
}

#[tokio::test]
async fn heartbeats_extend_the_lease_save_progress_and_report_cancellation() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let lease = Duration::minutes(5);
    let id = jobs::enqueue(&*db, &NewJob::new("long", json!({}), t0), t0)
        .await
        .unwrap();
    let claimed = jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    assert_eq!(claimed.started_at, Some(t0));
    assert_eq!(claimed.progress, None);
    let t1 = t0 + Duration::minutes(4);
    let progress = jobs::Progress {
        fraction: 1.7,
        message: Some("é".repeat(jobs::MAX_PROGRESS_MESSAGE + 20)),
    };
    assert_eq!(
        jobs::heartbeat(&*db, id, "w", t1, lease, Some(&progress))
            .await
            .unwrap(),
        jobs::Beat::Held {
            cancel_requested: false
        }
    );
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.locked_until, Some(t1 + lease));
    assert_eq!(row.progress, Some(1.0), "clamped to [0, 1]");
    assert_eq!(
        row.progress_message.unwrap().chars().count(),
        jobs::MAX_PROGRESS_MESSAGE
    );
    // Past the original lease, but the heartbeat moved it: nothing to reap.
    assert_eq!(
        jobs::reap_expired(&*db, t0 + Duration::minutes(6))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        jobs::heartbeat(&*db, id, "someone-else", t1, lease, None)
            .await
            .unwrap(),
        jobs::Beat::Lost
    );
    assert_eq!(
        jobs::request_cancel(&*db, id, t1).await.unwrap(),
        jobs::CancelOutcome::Requested
    );
    assert_eq!(
        jobs::heartbeat(&*db, id, "w", t1, lease, None)
            .await
            .unwrap(),
        jobs::Beat::Held {
            cancel_requested: true
        }
    );
    // The progress survives a heartbeat without progress.
    assert_eq!(jobs::get(&*db, id).await.unwrap().progress, Some(1.0));
}

#[tokio::test]
async fn a_cancellation_request_ends_the_job_cancelled_however_its_attempt_ends() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let lease = Duration::minutes(5);
    let later = t0 + Duration::minutes(1);
    // The handler gives up with an error: cancelled, not retried.
    let failed = jobs::enqueue(&*db, &NewJob::new("k", json!({}), t0), t0)
        .await
        .unwrap();
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    jobs::request_cancel(&*db, failed, t0).await.unwrap();
    assert_eq!(
        jobs::fail(&*db, failed, "w", "stopped", later, later)
            .await
            .unwrap(),
        FailOutcome::Cancelled
    );
    let row = jobs::get(&*db, failed).await.unwrap();
    assert_eq!(row.status, JobStatus::Cancelled);
    assert_eq!(row.finished_at, Some(later));
    // The worker died: the reaper ends it cancelled rather than queueing it again.
    let reaped = jobs::enqueue(&*db, &NewJob::new("k", json!({}), t0), t0)
        .await
        .unwrap();
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    jobs::request_cancel(&*db, reaped, t0).await.unwrap();
    assert_eq!(
        jobs::reap_expired(&*db, t0 + Duration::minutes(6))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        jobs::get(&*db, reaped).await.unwrap().status,
        JobStatus::Cancelled
    );
    // Shutdown released it: cancelled too.
    let released = jobs::enqueue(&*db, &NewJob::new("k", json!({}), t0), t0)
        .await
        .unwrap();
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    jobs::request_cancel(&*db, released, t0).await.unwrap();
    assert!(jobs::release(&*db, released, "w", later).await.unwrap());
    assert_eq!(
        jobs::get(&*db, released).await.unwrap().status,
        JobStatus::Cancelled
    );
    // A finished job cannot be cancelled.
    let done = jobs::enqueue(&*db, &NewJob::new("k", json!({}), t0), t0)
        .await
        .unwrap();
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    assert!(jobs::complete(&*db, done, "w", t0).await.unwrap());
    assert_eq!(
        jobs::request_cancel(&*db, done, t0).await.unwrap(),
        jobs::CancelOutcome::Finished(JobStatus::Done)
    );
    assert_eq!(
        jobs::get(&*db, done).await.unwrap().cancel_requested_at,
        None
    );
    assert!(matches!(
        jobs::request_cancel(&*db, 999_999, t0).await,
        Err(DbError::NotFound)
    ));
}

#[tokio::test]
async fn retrying_a_dead_job_clears_its_end_and_keeps_its_error_for_reference() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let mut job = NewJob::new("k", json!({}), t0);
    job.max_attempts = 1;
    let id = jobs::enqueue(&*db, &job, t0).await.unwrap();
    jobs::claim(&*db, "w", t0, Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::fail(&*db, id, "w", "smtp down", t0, t0)
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    assert_eq!(jobs::get(&*db, id).await.unwrap().finished_at, Some(t0));
    let t1 = t0 + Duration::hours(2);
    assert!(jobs::retry_dead(&*db, id, t1).await.unwrap());
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!((row.status, row.attempts), (JobStatus::Queued, 0));
    assert_eq!((row.run_at, row.finished_at), (t1, None));
    assert_eq!(row.last_error.as_deref(), Some("smtp down"));
    assert!(
        !jobs::retry_dead(&*db, id, t1).await.unwrap(),
        "only dead jobs"
    );
    let again = jobs::claim(&*db, "w", t1, Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (id, 1));
}

#[tokio::test]
async fn purge_deletes_finished_jobs_in_batches_oldest_first() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let mut done = Vec::new();
    for i in 0..5 {
        let at = t0 + Duration::minutes(i);
        let id = jobs::enqueue(&*db, &NewJob::new("k", json!({}), at), at)
            .await
            .unwrap();
        jobs::claim(&*db, "w", at, Duration::minutes(1))
            .await
            .unwrap()
            .unwrap();
        assert!(jobs::complete(&*db, id, "w", at).await.unwrap());
        done.push(id);
    }
    let queued = jobs::enqueue(&*db, &NewJob::new("k", json!({}), t0), t0)
        .await
        .unwrap();
    // Finished strictly before t0 + 4 min: the first four.
    let before = t0 + Duration::minutes(4);
    assert_eq!(jobs::purge_finished(&*db, before, 3).await.unwrap(), 3);
    assert!(matches!(
        jobs::get(&*db, done[0]).await,
        Err(DbError::NotFound)
    ));
    assert!(jobs::get(&*db, done[3]).await.is_ok());
    assert_eq!(jobs::purge_finished(&*db, before, 3).await.unwrap(), 1);
    assert_eq!(jobs::purge_finished(&*db, before, 3).await.unwrap(), 0);
    assert!(jobs::get(&*db, done[4]).await.is_ok());
    assert!(jobs::get(&*db, queued).await.is_ok());
}

#[tokio::test]
async fn search_filters_by_status_and_kind_newest_first_with_paging() {
    let db = test_db().await.unwrap();
    let t0 = epoch();
    let mut ids = Vec::new();
    for kind in ["mail.send", "catalogue.import", "mail.send", "mail.send"] {
        ids.push(
            jobs::enqueue(&*db, &NewJob::new(kind, json!({}), t0), t0)
                .await
                .unwrap(),
        );
    }
    jobs::request_cancel(&*db, ids[3], t0).await.unwrap();
    let page = |status, kind: Option<&str>, limit, offset| jobs::JobFilter {
        status,
        kind: kind.map(str::to_owned),
        limit,
        offset,
    };
    let got = |rows: Vec<jobs::JobRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        got(jobs::search(&*db, &page(None, None, 10, 0)).await.unwrap()),
        vec![ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        got(jobs::search(&*db, &page(None, Some("mail.send"), 10, 0))
            .await
            .unwrap()),
        vec![ids[3], ids[2], ids[0]]
    );
    assert_eq!(
        got(jobs::search(
            &*db,
            &page(Some(JobStatus::Queued), Some("mail.send"), 10, 0)
        )
        .await
        .unwrap()),
        vec![ids[2], ids[0]]
    );
    assert_eq!(
        got(jobs::search(&*db, &page(None, None, 2, 1)).await.unwrap()),
        vec![ids[2], ids[1]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_transactions_that_read_first_all_commit_under_contention() {
    let db = test_db().await.unwrap();
    db.execute_unprepared("CREATE TABLE tally (n BIGINT NOT NULL)")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let conn = db.conn.clone();
            tokio::spawn(async move {
                let backend = conn.get_database_backend();
                let txn = myqcm_db::begin_write(&conn).await?;
                // Read first, then write: a deferred SQLite transaction fails here with
                // SQLITE_BUSY when another one committed in between.
                txn.query_all_raw(Statement::from_string(
                    backend,
                    "SELECT COUNT(*) FROM tally",
                ))
                .await?;
                tokio::task::yield_now().await;
                txn.execute_raw(Statement::from_string(
                    backend,
                    format!("INSERT INTO tally (n) VALUES ({i})"),
                ))
                .await?;
                txn.commit().await?;
                Ok::<_, DbError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let n = db
        .query_one_raw(Statement::from_string(
            db.backend(),
            "SELECT COUNT(*) AS n FROM tally",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(n, 8);
}

/// SQLite rolls a whole transaction back by itself when the disk fills (`SQLITE_FULL` in a
/// statement or at `COMMIT`). The driver still counts that transaction as open, so its own
/// `ROLLBACK` fails, and a pooled connection that kept that count would turn the next
/// transactions into savepoints: one dropped use case then leaves a real transaction open
/// on the connection, and later "commits" only release savepoints inside it — answers
/// acknowledged but never written. The full disk is simulated by `PRAGMA max_page_count`.
#[tokio::test]
async fn a_full_disk_on_sqlite_fails_clearly_and_later_commits_are_durable() {
    if myqcm_testkit::backend_name() != "sqlite" {
        eprintln!("SQLite only: PostgreSQL does not roll back on its own");
        return;
    }
    let dir = std::env::temp_dir().join(format!("myqcm-full-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/full.sqlite", dir.display());
    let db = myqcm_db::connect(&url, None).await.unwrap();
    let sql = |s: &str| Statement::from_string(DbBackend::Sqlite, s.to_owned());
    db.execute_raw(sql("CREATE TABLE note (tag TEXT, body BLOB)"))
        .await
        .unwrap();

    // The disk is full: the file may not grow by a page.
    let txn = myqcm_db::begin_write(&db).await.unwrap();
    txn.execute_raw(sql("PRAGMA max_page_count = 1"))
        .await
        .unwrap();
    let full = txn
        .execute_raw(sql(
            "INSERT INTO note (tag, body) VALUES ('big', zeroblob(1000000))",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(DbError::from(full), DbError::Unavailable(_)),
        "a full disk is a temporary outage (503), not a bug (500)"
    );
    drop(txn);

    // Space returns (a fresh connection has no page limit; a reused one gets it lifted).
    for _ in 0..3 {
        db.execute_raw(sql("PRAGMA max_page_count = 1073741823"))
            .await
            .unwrap();
        // A use case that gives up after writing, then one that commits.
        let gave_up = myqcm_db::begin_write(&db).await.unwrap();
        gave_up
            .execute_raw(sql(
                "INSERT INTO note (tag, body) VALUES ('dropped', x'00')",
            ))
            .await
            .unwrap();
        drop(gave_up);
        let kept = myqcm_db::begin_write(&db).await.unwrap();
        kept.execute_raw(sql("INSERT INTO note (tag, body) VALUES ('kept', x'00')"))
            .await
            .unwrap();
        kept.commit().await.unwrap();
    }

    // Another process sees exactly what was acknowledged.
    let other = myqcm_db::connect(&url, None).await.unwrap();
    let count = |tag: &'static str| {
        let other = &other;
        async move {
            other
                .query_one_raw(sql(&format!(
                    "SELECT COUNT(*) FROM note WHERE tag = '{tag}'"
                )))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    assert_eq!(count("kept").await, 3, "every committed row is durable");
    assert_eq!(count("dropped").await, 0);
    assert_eq!(count("big").await, 0);
    drop(other);
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
