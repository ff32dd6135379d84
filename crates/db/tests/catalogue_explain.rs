//! The hot catalogue queries use an index, not a full scan of `item`, on a realistic volume:
//! 50,000 items inserted with batched multi-row INSERTs in one transaction, then ANALYZE, then
//! `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) of each query built by the one search
//! method.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use chrono::Utc;
use myqcm_db::TransactionTrait;
use myqcm_db::catalogue::{self as repo, SearchFilter, search_sql};
use myqcm_testkit::test_db;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

const ITEMS: usize = 50_000;
const BATCH: usize = 500;

#[tokio::test]
async fn every_hot_catalogue_query_uses_an_index_on_50k_items() {
    let db = test_db().await.unwrap();
    let backend = db.backend();
    let now = Utc::now();
    let mut subjects = Vec::new();
    let mut courses = Vec::new();
    let mut kcs = Vec::new();
    for s in 0..4 {
        let unit = repo::upsert_unit(&*db, &format!("u{s}"), 3, "{}")
            .await
            .unwrap();
        let subj = repo::upsert_subject(&*db, &format!("s{s}"), 3, Some(unit.id), "{}")
            .await
            .unwrap();
        for c in 0..5 {
            courses.push((
                repo::upsert_course(&*db, &format!("c{s}-{c}"), subj.id, "{}")
                    .await
                    .unwrap()
                    .id,
                subj.id,
            ));
        }
        for k in 0..10 {
            kcs.push(
                repo::upsert_kc(&*db, &format!("kc{s}-{k}"), subj.id, None, "kc", "{}", k)
                    .await
                    .unwrap()
                    .id,
            );
        }
        subjects.push(subj.id);
    }
    let authors: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
    let words = [
        "pression",
        "artérielle",
        "asthme",
        "rein",
        "dyspnée",
        "oedème",
        "potassium",
        "infarctus",
        "tuberculose",
        "créatinine",
    ];
    let statuses = [
        "approved",
        "approved",
        "approved",
        "approved",
        "approved",
        "approved",
        "draft",
        "in_review",
        "retired",
        "approved",
    ];
    let txn = db.begin().await.unwrap();
    let mut ids = Vec::with_capacity(ITEMS);
    for start in (0..ITEMS).step_by(BATCH) {
        let mut sql = String::from(
            "INSERT INTO item (id, kind, course_id, subject_id, status, author_id, locale, translation_group_id, external_id, content_hash, current_revision_id, difficulty, source_kind, case_id, case_position, search_text, created_at, updated_at) VALUES ",
        );
        let mut vals: Vec<Value> = Vec::new();
        let mut kc_sql = String::from("INSERT INTO item_kc (item_id, kc_id, weight) VALUES ");
        let mut kc_vals: Vec<Value> = Vec::new();
        for n in start..(start + BATCH).min(ITEMS) {
            let id = Uuid::now_v7();
            ids.push(id);
            let (course, subject) = courses[n % courses.len()];
            let text = format!(
                "{} {} {} question {n}",
                words[n % 10],
                words[(n / 10) % 10],
                words[(n / 100) % 10]
            );
            let row: Vec<Value> = vec![
                id.into(),
                ["qcs", "qcm", "qroc"][n % 3].into(),
                course.into(),
                subject.into(),
                statuses[n % 10].into(),
                authors[n % authors.len()].into(),
                ["fr", "fr", "fr", "ar", "en"][n % 5].into(),
                id.into(),
                Some(format!("ext-{n}")).into(),
                format!("{n:064x}").into(),
                Some(Uuid::now_v7()).into(),
                ["easy", "medium", "hard"][n % 3].into(),
                Some(["book", "series", "exam"][n % 3].to_owned()).into(),
                Option::<Uuid>::None.into(),
                Option::<i32>::None.into(),
                text.into(),
                now.into(),
                now.into(),
            ];
            let base = vals.len();
            let ph: Vec<String> = (1..=row.len()).map(|k| format!("${}", base + k)).collect();
            if base > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({})", ph.join(", ")));
            vals.extend(row);
            let kb = kc_vals.len();
            if kb > 0 {
                kc_sql.push_str(", ");
            }
            kc_sql.push_str(&format!("(${}, ${}, ${})", kb + 1, kb + 2, kb + 3));
            let subject_index = subjects.iter().position(|s| *s == subject).unwrap();
            kc_vals.extend([
                id.into(),
                kcs[subject_index * 10 + n % 10].into(),
                1.0f64.into(),
            ]);
        }
        txn.execute_raw(myqcm_db::sql::stmt(backend, &sql, vals))
            .await
            .unwrap();
        txn.execute_raw(myqcm_db::sql::stmt(backend, &kc_sql, kc_vals))
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    db.execute_unprepared("ANALYZE").await.unwrap();

    let approved = vec!["approved".to_owned()];
    let learner = |f: SearchFilter| SearchFilter {
        statuses: approved.clone(),
        standalone_only: true,
        limit: 20,
        ..f
    };
    let queries: Vec<(&str, SearchFilter)> = vec![
        (
            "learner browse by subject",
            learner(SearchFilter {
                subject_id: Some(subjects[1]),
                ..Default::default()
            }),
        ),
        (
            "learner browse by course",
            learner(SearchFilter {
                course_id: Some(courses[7].0),
                ..Default::default()
            }),
        ),
        (
            "learner browse by KC",
            learner(SearchFilter {
                kc_id: Some(kcs[13]),
                ..Default::default()
            }),
        ),
        (
            "subject and type",
            learner(SearchFilter {
                subject_id: Some(subjects[2]),
                kind: Some("qroc".into()),
                ..Default::default()
            }),
        ),
        (
            "subject and difficulty",
            learner(SearchFilter {
                subject_id: Some(subjects[2]),
                difficulty: Some("hard".into()),
                ..Default::default()
            }),
        ),
        (
            "locale",
            learner(SearchFilter {
                locale: Some("ar".into()),
                ..Default::default()
            }),
        ),
        (
            "source",
            learner(SearchFilter {
                source_kind: Some("exam".into()),
                ..Default::default()
            }),
        ),
        (
            "full text",
            learner(SearchFilter {
                text: Some("tuberculose créatinine".into()),
                ..Default::default()
            }),
        ),
        (
            "full text in a subject",
            learner(SearchFilter {
                text: Some("potassium".into()),
                subject_id: Some(subjects[0]),
                ..Default::default()
            }),
        ),
        (
            "second page",
            learner(SearchFilter {
                subject_id: Some(subjects[1]),
                before: Some(ids[ITEMS / 2]),
                ..Default::default()
            }),
        ),
        (
            "review queue",
            SearchFilter {
                statuses: vec!["in_review".into()],
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "an author's items",
            SearchFilter {
                author_id: Some(authors[3]),
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "staff browse by course and status",
            SearchFilter {
                course_id: Some(courses[3].0),
                statuses: vec!["draft".into()],
                limit: 50,
                ..Default::default()
            },
        ),
    ];
    for (name, f) in queries {
        let st = search_sql(backend, &f);
        let plan = explain(&db, backend, st).await;
        let full_scan = plan.iter().any(|line| match backend {
            DbBackend::Sqlite => {
                line.trim() == "SCAN item"
                    || (line.starts_with("SCAN item ") && !line.contains("INDEX"))
            }
            _ => line
                .split("Seq Scan on ")
                .skip(1)
                .any(|rest| rest.starts_with("item") && !rest.starts_with("item_")),
        });
        assert!(
            !full_scan,
            "{name} scans the whole item table:\n{}",
            plan.join("\n")
        );
        // Sanity: the query also runs.
        repo::search(&*db, &f).await.unwrap();
    }
    // The page really is keyset-ordered and full text finds what it should.
    let page = repo::search(
        &*db,
        &learner(SearchFilter {
            text: Some("tuberculose".into()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(page.len(), 20);
    assert!(page.windows(2).all(|w| w[0].id > w[1].id));
    assert!(
        page.iter()
            .all(|r| r.search_text.contains("tuberculose") && r.status == "approved")
    );
}

async fn explain(db: &myqcm_testkit::TestDb, backend: DbBackend, st: Statement) -> Vec<String> {
    let prefix = if backend == DbBackend::Sqlite {
        "EXPLAIN QUERY PLAN "
    } else {
        "EXPLAIN "
    };
    let st = Statement {
        sql: format!("{prefix}{}", st.sql),
        ..st
    };
    let rows = db.query_all_raw(st).await.unwrap();
    rows.iter()
        .map(|r| {
            if backend == DbBackend::Sqlite {
                r.try_get::<String>("", "detail").unwrap()
            } else {
                r.try_get::<String>("", "QUERY PLAN").unwrap()
            }
        })
        .collect()
}
