//! The reviewer pages through their forms, as a browser without JavaScript uses them: an
//! author submits an item through the author pages, a reviewer finds it in the queue, requests
//! changes with a reason, compares the resubmitted revision side by side and approves it (a
//! learner then gets it, the payload inert); declining needs a reason and retires the item; a
//! reviewer never decides on their own item (the page says why, the form and the API refuse);
//! learners' reports are triaged from the item page and the triage list; learners get 403 on
//! every page and API behind them; every decision is in the audit log with the acting account.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::author_pages::{Pages, qcm};
use crate::support::{TestApp, spawn_app};

/// An author's item written and submitted through the author pages; returns its id.
async fn submitted_item(app: &TestApp, author: &Pages) -> String {
    let (s, location, _) = author
        .post(app, "/author/items/new", &qcm("save", true))
        .await;
    assert_eq!(s, 303);
    let (s, _, _) = author.post(app, &format!("{location}/submit"), &[]).await;
    assert_eq!(s, 303);
    location.trim_start_matches("/author/items/").to_owned()
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<myqcm_db::identity::audit::AuditRow> {
    myqcm_db::identity::audit::recent(&app.db.conn, Some(action), None, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_item_goes_from_submission_through_changes_to_approval_by_the_pages() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let author = Pages::new(app.staff("author@example.com", "author", "").await.0);
    let reviewer = Pages::new(app.staff("reviewer@example.com", "reviewer", "").await.0);
    let reviewer_id = app.account("reviewer@example.com").await.id;

    let (_, empty) = reviewer.get(&app, "/review").await;
    assert!(
        empty.contains("empty-state"),
        "the empty queue explains itself"
    );
    let id = submitted_item(&app, &author).await;
    let item = format!("/review/items/{id}");

    let res = reviewer.get_res(&app, "/review").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    assert!(
        res.headers()["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    let queue = res.text().await.unwrap();
    assert!(queue.contains(r#"<meta name="robots" content="noindex, nofollow">"#));
    assert!(
        queue.contains(&format!(r#"href="{item}""#)),
        "listed in the queue"
    );
    assert!(
        queue.contains(r#"href="/review""#),
        "the navigation links it"
    );
    assert!(!queue.contains("<script>alert"));

    let (s, page) = reviewer.get(&app, &item).await;
    assert_eq!(s, 200);
    assert!(page.contains("Première révision"), "nothing to compare yet");
    assert!(
        page.contains("<strong>générale</strong>"),
        "learner renderer"
    );
    assert!(!page.contains("<script>alert"), "the payload stays text");
    assert!(page.contains("&lt;script&gt;"));
    assert!(page.contains(&format!(r#"action="/review/items/{id}/decision""#)));

    // Requesting changes needs a reason; the typed text is kept.
    let decision = format!("{item}/decision");
    let (s, _, html) = reviewer
        .post(&app, &decision, &[("decision", "reject"), ("reason", " ")])
        .await;
    assert_eq!(s, 422);
    assert!(html.contains(r#"id="reason-error""#) && html.contains("error-summary"));
    let (s, to, _) = reviewer
        .post(
            &app,
            &decision,
            &[
                ("decision", "reject"),
                ("reason", "ZZREASON cite the guideline"),
            ],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, item.as_str()));
    let (_, mine) = author.get(&app, &format!("/author/items/{id}")).await;
    assert!(mine.contains("ZZREASON cite the guideline"));
    assert!(mine.contains("status-changes_requested") || mine.contains("Modifications demandées"));

    // The author rewrites the stem, flips a key and resubmits.
    let mut edit = qcm("save", true);
    for (k, v) in &mut edit {
        if *k == "stem" {
            *v = "Quel examen ZZNEWWORD une HTA ?";
        }
    }
    edit.push(("option_correct_1", "on"));
    let (s, _, _) = author
        .post(&app, &format!("/author/items/{id}"), &edit)
        .await;
    assert_eq!(s, 303);
    let (s, _, _) = author
        .post(&app, &format!("/author/items/{id}/submit"), &[])
        .await;
    assert_eq!(s, 303);

    let (_, page) = reviewer.get(&app, &item).await;
    assert!(page.contains("diff-table"), "side by side");
    assert!(
        page.contains("Révision 1") && page.contains("Révision 2"),
        "compared with the revision the reviewer saw"
    );
    let ins = page.split("<ins>").skip(1).collect::<Vec<_>>().join("|");
    let del = page.split("<del>").skip(1).collect::<Vec<_>>().join("|");
    assert!(ins.contains("ZZNEWWORD"), "added words are marked: {ins}");
    assert!(del.contains("confirme"), "removed words are marked: {del}");
    assert!(
        del.contains("alert(") && !page.contains("<script>alert"),
        "removed markup stays text"
    );
    assert!(ins.contains("juste"), "a flipped key reads as a word");
    assert!(page.contains("ZZREASON cite the guideline"), "history");

    let (s, to, _) = reviewer
        .post(&app, &decision, &[("decision", "approve"), ("reason", "")])
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, item.as_str()));
    let (_, page) = reviewer.get(&app, &item).await;
    assert!(page.contains("status-approved"));
    assert!(
        !page.contains(&format!(r#"action="/review/items/{id}/decision""#)),
        "nothing left to decide"
    );
    let (_, queue) = reviewer.get(&app, "/review").await;
    assert!(!queue.contains(&item), "left the queue");

    let learner = app.api_user(&["student"], &[], false).await;
    let (s, v) = app
        .send_bearer(
            Method::GET,
            &learner.token,
            &format!("/api/v1/items/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "learners get the approved item: {v}");
    assert!(v["stem_html"].as_str().unwrap().contains("ZZNEWWORD"));

    for action in ["catalogue.item_reject", "catalogue.item_approve"] {
        let rows = audit_rows(&app, action).await;
        assert_eq!(rows.len(), 1, "{action}");
        assert_eq!(rows[0].actor_id, Some(reviewer_id), "{action}");
        assert_eq!(rows[0].target.as_deref(), Some(id.as_str()));
    }
    assert_eq!(audit_rows(&app, "catalogue.item_submit").await.len(), 2);
}

#[tokio::test]
async fn declining_needs_a_reason_and_retires_the_item() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let author = Pages::new(app.staff("author3@example.com", "author", "").await.0);
    let reviewer = Pages::new(app.staff("reviewer3@example.com", "reviewer", "").await.0);
    let id = submitted_item(&app, &author).await;
    let decision = format!("/review/items/{id}/decision");

    let (s, _, html) = reviewer
        .post(&app, &decision, &[("decision", "decline")])
        .await;
    assert_eq!(s, 422);
    assert!(html.contains(r#"id="reason-error""#));
    let (s, _, _) = reviewer
        .post(
            &app,
            &decision,
            &[
                ("decision", "decline"),
                ("reason", "ZZOUT of the curriculum"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let (_, page) = reviewer.get(&app, &format!("/review/items/{id}")).await;
    assert!(page.contains("status-retired"));
    assert!(page.contains("ZZOUT of the curriculum"));
    let (_, mine) = author.get(&app, &format!("/author/items/{id}")).await;
    assert!(
        mine.contains("ZZOUT of the curriculum"),
        "the author reads why"
    );
    assert!(mine.contains("status-retired"));
    let learner = app.api_user(&["student"], &[], false).await;
    let (s, _) = app
        .send_bearer(
            Method::GET,
            &learner.token,
            &format!("/api/v1/items/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404, "never reaches learners");
    let rows = audit_rows(&app, "catalogue.item_decline").await;
    assert_eq!(rows.len(), 1);
    // An unknown decision changes nothing.
    let (s, _, _) = reviewer
        .post(&app, &decision, &[("decision", "retire"), ("reason", "x")])
        .await;
    assert!(s.is_client_error(), "{s}");
}

#[tokio::test]
async fn a_reviewer_cannot_approve_their_own_item() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let both = Pages::new(app.staff("both@example.com", "author,reviewer", "").await.0);
    let id = submitted_item(&app, &both).await;
    let item = format!("/review/items/{id}");

    let (_, queue) = both.get(&app, "/review").await;
    assert!(queue.contains(&item) && queue.contains("own-item"));
    let (s, page) = both.get(&app, &item).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("un autre relecteur doit la relire"),
        "the page says why"
    );
    assert!(!page.contains(&format!(r#"action="{item}/decision""#)));
    let (s, _, html) = both
        .post(
            &app,
            &format!("{item}/decision"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(s, 403, "the form is refused too");
    assert!(html.contains("error-summary"));

    // The same account through the API.
    let (s, v) = {
        let res = app
            .post_as(
                &both.b,
                &format!("/api/v1/authoring/items/{id}/transitions"),
                json!({"action": "approve"}),
            )
            .await;
        crate::support::status_and_json(res).await
    };
    assert_eq!((s, v["code"].as_str()), (403, Some("own_item")));
    let (_, page) = both.get(&app, &item).await;
    assert!(page.contains("status-in_review"), "still waiting");
    assert!(audit_rows(&app, "catalogue.item_approve").await.is_empty());
}

#[tokio::test]
async fn learner_reports_are_triaged_from_the_item_and_the_list() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let reviewer = Pages::new(app.staff("triage@example.com", "reviewer", "").await.0);
    let student = app.api_user(&["student"], &[], false).await;
    let (_, list) = app
        .send_bearer(Method::GET, &student.token, "/api/v1/items?limit=1", None)
        .await;
    let item = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, empty) = reviewer.get(&app, "/review/reports").await;
    assert!(empty.contains("empty-state"));
    let mut ids = Vec::new();
    for body in ["ZZFIRST la B est juste", "ZZSECOND faute"] {
        let (s, r) = app
            .send_bearer(
                Method::POST,
                &student.token,
                &format!("/api/v1/items/{item}/reports"),
                Some(json!({"category": "wrong_key", "body": body})),
            )
            .await;
        assert_eq!(s, 201);
        ids.push(r["id"].as_str().unwrap().to_owned());
    }

    let (s, list) = reviewer.get(&app, "/review/reports").await;
    assert_eq!(s, 200);
    assert!(list.contains("ZZFIRST") && list.contains("ZZSECOND"));
    assert!(list.contains(&format!(r#"href="/review/items/{item}#reports""#)));
    let (_, page) = reviewer.get(&app, &format!("/review/items/{item}")).await;
    assert!(
        page.contains("ZZFIRST") && page.contains("ZZSECOND"),
        "the item's reports"
    );
    assert!(page.contains(&format!(r#"action="/review/reports/{}""#, ids[0])));

    // Dismissing needs a note for the reporter.
    let triage = format!("/review/reports/{}", ids[0]);
    let (s, _, html) = reviewer
        .post(&app, &triage, &[("status", "rejected"), ("resolution", "")])
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("error-summary"));
    let back = format!("/review/items/{item}#reports");
    let (s, to, _) = reviewer
        .post(
            &app,
            &triage,
            &[
                ("status", "rejected"),
                ("resolution", "ZZNOTE la B est fausse"),
                ("next", &back),
            ],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, back.as_str()));
    let (s, to, _) = reviewer
        .post(
            &app,
            &format!("/review/reports/{}", ids[1]),
            &[("status", "fixed"), ("next", "https://evil.example/")],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/review/reports"));

    let (_, open) = reviewer.get(&app, "/review/reports").await;
    assert!(!open.contains("ZZFIRST") && !open.contains("ZZSECOND"));
    let (_, dismissed) = reviewer.get(&app, "/review/reports?status=rejected").await;
    assert!(dismissed.contains("ZZFIRST") && dismissed.contains("ZZNOTE la B est fausse"));
    let (_, mine) = app
        .send_bearer(Method::GET, &student.token, "/api/v1/reports/mine", None)
        .await;
    let first = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(first["resolution"], "ZZNOTE la B est fausse");
    assert_eq!(audit_rows(&app, "catalogue.report_triage").await.len(), 2);
}

#[tokio::test]
async fn learners_get_403_on_every_review_page_and_api() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let author = Pages::new(app.staff("author4@example.com", "author", "").await.0);
    let id = submitted_item(&app, &author).await;
    let learner = Pages::new(app.learner("learner4@example.com").await);
    let (_, dash) = learner.get(&app, "/dashboard").await;
    assert!(!dash.contains(r#"href="/review""#), "no link for learners");
    let item = format!("/review/items/{id}");
    for path in ["/review", item.as_str(), "/review/reports"] {
        assert_eq!(learner.get(&app, path).await.0, 403, "{path}");
        assert_eq!(author.get(&app, path).await.0, 403, "author {path}");
    }
    let decision = format!("{item}/decision");
    let triage = format!("/review/reports/{id}");
    for (path, form) in [
        (
            decision.as_str(),
            [("decision", "approve"), ("reason", "x")],
        ),
        (triage.as_str(), [("status", "fixed"), ("resolution", "x")]),
    ] {
        assert_eq!(learner.post(&app, path, &form).await.0, 403, "{path}");
    }
    let res = app.get_as(&learner.b, "/api/v1/review/reports").await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_as(
            &learner.b,
            &format!("/api/v1/authoring/items/{id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // Signed out: the sign-in page, coming back afterwards.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anon.get(app.url("/review")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/sign-in?next=")
    );
}

#[tokio::test]
async fn operators_retry_and_cancel_jobs_from_the_jobs_page_after_a_step_up() {
    use myqcm_db::jobs::{self, FailOutcome, NewJob, Progress};

    let app = spawn_app().await;
    let (ops_browser, secret) = app.staff("ops@example.com", "admin", "operations").await;
    let ops = Pages::new(ops_browser);
    // The enrolment's proof goes stale: changes need a step-up first.
    app.advance(chrono::Duration::minutes(11));
    let now = app.now();
    let lease = chrono::Duration::minutes(5);
    let mut long = NewJob::new("report.build", json!({"to": "zzpersonal@example.dz"}), now);
    long.priority = 100;
    let running = jobs::enqueue(&app.db.conn, &long, now).await.unwrap();
    let mut dying = NewJob::new("export.send", json!({}), now);
    dying.priority = 50;
    dying.max_attempts = 1;
    let dead = jobs::enqueue(&app.db.conn, &dying, now).await.unwrap();
    let claimed = jobs::claim(&app.db.conn, "w1", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, running);
    let progress = Progress {
        fraction: 0.42,
        message: Some("ZZHALFWAY rows".into()),
    };
    jobs::heartbeat(&app.db.conn, running, "w1", now, lease, Some(&progress))
        .await
        .unwrap();
    jobs::claim(&app.db.conn, "w2", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::fail(&app.db.conn, dead, "w2", "ZZSMTP refused", now, now)
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let mut later = NewJob::new("report.later", json!({}), now);
    later.priority = -10;
    let queued = jobs::enqueue(&app.db.conn, &later, now).await.unwrap();

    let res = ops.get_res(&app, "/admin/jobs").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<meta name="robots" content="noindex, nofollow">"#));
    assert!(
        page.contains(r#"href="/admin/jobs""#),
        "the navigation links it"
    );
    assert!(
        page.contains(r#"<progress max="100" value="42""#),
        "progress"
    );
    assert!(page.contains("ZZHALFWAY rows") && page.contains("ZZSMTP refused"));
    assert!(!page.contains("zzpersonal"), "payloads are never shown");
    assert!(page.contains(&format!(r#"action="/admin/jobs/{dead}/retry""#)));
    assert!(page.contains(&format!(r#"action="/admin/jobs/{queued}/cancel""#)));
    assert!(page.contains(&format!(r#"action="/admin/jobs/{running}/cancel""#)));
    assert!(!page.contains(&format!(r#"action="/admin/jobs/{running}/retry""#)));
    assert!(page.contains("/admin/step-up?next="), "offers the step-up");
    let (_, dead_only) = ops.get(&app, "/admin/jobs?status=dead").await;
    assert!(dead_only.contains("ZZSMTP") && !dead_only.contains("ZZHALFWAY"));

    // Without a recent proof the change is refused (and audited), the list shown again.
    let retry = format!("/admin/jobs/{dead}/retry");
    let (s, _, html) = ops
        .post(&app, &retry, &[("next", "/admin/jobs?status=dead")])
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("error-summary") && html.contains("ZZSMTP"));
    assert_eq!(
        jobs::get(&app.db.conn, dead).await.unwrap().status.as_str(),
        "dead"
    );

    // The step-up page: a wrong code is refused, the right one leads back.
    let (s, form) = ops
        .get(&app, "/admin/step-up?next=/admin/jobs%3Fstatus%3Ddead")
        .await;
    assert_eq!(s, 200);
    assert!(
        form.contains(r#"name="totp_code""#) && form.contains(r#"value="/admin/jobs?status=dead""#)
    );
    let (s, _, html) = ops
        .post(
            &app,
            "/admin/step-up",
            &[
                ("password", crate::support::PW),
                ("totp_code", "000000"),
                ("next", "/admin/jobs"),
            ],
        )
        .await;
    assert!(s.is_client_error(), "{s}");
    assert!(html.contains("error-summary"));
    let code = app.totp(&secret);
    let (s, to, _) = ops
        .post(
            &app,
            "/admin/step-up",
            &[
                ("password", crate::support::PW),
                ("totp_code", &code),
                ("next", "/admin/jobs?status=dead"),
            ],
        )
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/jobs?status=dead")
    );
    let (_, page) = ops.get(&app, "/admin/jobs").await;
    assert!(!page.contains("/admin/step-up?next="), "stepped up");

    let (s, to, _) = ops
        .post(&app, &retry, &[("next", "/admin/jobs?status=dead")])
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/jobs?status=dead")
    );
    assert_eq!(
        jobs::get(&app.db.conn, dead).await.unwrap().status.as_str(),
        "queued"
    );
    let (s, _, _) = ops
        .post(
            &app,
            &format!("/admin/jobs/{queued}/cancel"),
            &[("next", "https://evil.example")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(
        jobs::get(&app.db.conn, queued)
            .await
            .unwrap()
            .status
            .as_str(),
        "cancelled"
    );
    let (s, to, _) = ops
        .post(
            &app,
            &format!("/admin/jobs/{running}/cancel"),
            &[("next", "//evil.example")],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/admin/jobs"));
    let row = jobs::get(&app.db.conn, running).await.unwrap();
    assert!(
        row.cancel_requested_at.is_some(),
        "stops at its next checkpoint"
    );
    let (_, page) = ops.get(&app, "/admin/jobs?status=running").await;
    assert!(page.contains("Annulation demandée"));
    assert!(!page.contains(&format!(r#"action="/admin/jobs/{running}/cancel""#)));
    // Retrying a job that is not dead is refused on the page.
    let (s, _, html) = ops
        .post(&app, &format!("/admin/jobs/{queued}/retry"), &[])
        .await;
    assert_eq!(s, 409);
    assert!(html.contains("error-summary"));

    let ops_id = app.account("ops@example.com").await.id;
    for action in ["admin.job_retry", "admin.job_cancel"] {
        let rows = audit_rows(&app, action).await;
        assert!(rows.iter().all(|r| r.actor_id == Some(ops_id)), "{action}");
    }
    assert_eq!(audit_rows(&app, "admin.job_cancel").await.len(), 2);
    assert!(
        app.audit_details("admin.job_retry")
            .await
            .iter()
            .any(|d| d["outcome"] == "refused"),
        "the refused attempt is audited"
    );
}

#[tokio::test]
async fn the_jobs_page_is_for_operators_only() {
    let app = spawn_app().await;
    let now = app.now();
    let id = myqcm_db::jobs::enqueue(
        &app.db.conn,
        &myqcm_db::jobs::NewJob::new("report.build", json!({}), now),
        now,
    )
    .await
    .unwrap();
    let learner = Pages::new(app.learner("learner5@example.com").await);
    let reviewer = Pages::new(app.staff("rev5@example.com", "reviewer", "").await.0);
    let (_, dash) = learner.get(&app, "/dashboard").await;
    assert!(!dash.contains(r#"href="/admin/jobs""#));
    assert_eq!(
        learner.get(&app, "/admin/step-up?next=/admin/jobs").await.0,
        403,
        "learners have nothing to step up for"
    );
    for p in [&learner, &reviewer] {
        assert_eq!(p.get(&app, "/admin/jobs").await.0, 403);
        for path in [
            format!("/admin/jobs/{id}/retry"),
            format!("/admin/jobs/{id}/cancel"),
        ] {
            assert_eq!(p.post(&app, &path, &[]).await.0, 403, "{path}");
        }
    }
    let res = app.get_as(&learner.b, "/api/v1/admin/jobs").await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        myqcm_db::jobs::get(&app.db.conn, id)
            .await
            .unwrap()
            .status
            .as_str(),
        "queued"
    );
    // An operator who has not enrolled two-step sign-in is sent to enrol.
    app.sign_up_verified("ops6@example.com", crate::support::PW)
        .await;
    app.set_roles("ops6@example.com", "admin", "operations")
        .await;
    let unenrolled = Pages::new(app.sign_in("ops6@example.com", crate::support::PW).await);
    let (s, html) = unenrolled.get(&app, "/admin/jobs").await;
    assert_eq!(s, 403);
    assert!(html.contains(r#"href="/settings#mfa-title""#));
}
