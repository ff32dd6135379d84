//! The admin console's remaining pages as a browser without JavaScript uses them: imports
//! (multipart upload, dry run with the row/column/reason report, commit, live events), exports,
//! the audit log with its filters and pages, one account's sign-in sessions with revocation
//! after a step-up, and the configuration overview that never shows a secret. Learners get 403
//! everywhere; every page is `noindex` and `no-store`.

use reqwest::StatusCode;

use crate::author_pages::Pages;
use myqcm_testkit::{fixed_clock, test_cache};

use crate::support::{PW, TestApp, spawn_app, spawn_sharing};

const BAD_CSV: &str = "external_id,type,course,stem,option1,option2,correct,kcs\n\
page-1,qcs,cardio-hta,ZZFIRST question importée depuis la page ?,A,B,1,kc-cardio-hta-def\n\
page-2,qcs,cardio-hta,ZZSECOND question importée depuis la page ?,A,B,3,kc-cardio-hta-def\n";

fn fixed_csv() -> String {
    BAD_CSV.replace("A,B,3,", "A,B,2,")
}

/// Sends the import form as a browser does (`multipart/form-data`, `_csrf` first).
async fn upload(
    app: &TestApp,
    who: &Pages,
    file_name: &str,
    content: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let boundary = "----zzboundary7MA4YWxkTrZu0gW";
    let mut body: Vec<u8> = Vec::new();
    let mut part = |name: &str, file: Option<&str>, value: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    part("_csrf", None, who.b.csrf.as_bytes());
    part("file", Some(file_name), content);
    for (k, v) in fields {
        part(k, None, v.as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/admin/imports"))
        .header("cookie", who.b.cookie_header())
        .header("origin", &app.base)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let to = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status(), to, res.text().await.unwrap())
}

async fn drain(app: &TestApp) {
    myqcm_app::worker(&app.services).drain().await.unwrap();
}

/// The catalogue as CSV, through the export page.
async fn exported(app: &TestApp, who: &Pages) -> String {
    let res = who
        .get_res(app, "/admin/exports/download?scope=catalogue&format=csv")
        .await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

fn assert_staff_headers(res: &reqwest::Response) {
    let cc = res.headers()["cache-control"].to_str().unwrap();
    assert!(cc.contains("no-store") && cc.contains("private"), "{cc}");
    assert!(
        res.headers()["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
}

#[tokio::test]
async fn an_admin_checks_a_csv_with_a_bad_row_fixes_it_and_imports_it() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("content@example.com", "admin", "content").await;
    let admin = Pages::new(b);

    let res = admin.get_res(&app, "/admin/imports").await;
    assert_eq!(res.status(), 200);
    assert_staff_headers(&res);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"enctype="multipart/form-data""#));
    assert!(page.contains(r#"<meta name="robots" content="noindex, nofollow">"#));
    assert!(page.contains(r#"href="/admin/imports""#) && page.contains(r#"href="/admin/exports""#));

    // A wrong type and an empty file are refused on the form; nothing is queued.
    let (s, _, html) = upload(&app, &admin, "bank.pdf", b"%PDF-1.7", &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("error-summary") && html.contains(".csv, .xlsx"),
        "{html}"
    );
    let (s, _, html) = upload(&app, &admin, "bank.csv", b"", &[("course", "cardio-hta")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("fichier est vide"), "{html}");
    assert!(
        html.contains(r#"value="cardio-hta""#),
        "what was typed is kept"
    );
    assert!(
        html.contains("Aucun import pour l’instant"),
        "nothing queued"
    );

    // A dry run of a file with one bad row: the report names it, nothing is imported.
    let (s, run, _) = upload(&app, &admin, "bank.csv", BAD_CSV.as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(run.starts_with("/admin/imports/"), "{run}");
    let id = run.trim_start_matches("/admin/imports/").to_owned();
    let (_, page) = admin.get(&app, &run).await;
    assert!(page.contains(&format!(
        r#"data-job-events="/api/v1/admin/imports/{id}/events""#
    )));
    drain(&app).await;
    let (_, page) = admin.get(&app, &run).await;
    assert!(page.contains(r#"id="import-errors""#), "{page}");
    assert!(
        page.contains("<td>3</td><td><code>correct</code></td>"),
        "{page}"
    );
    // The reason is in the page's language, with the value the file holds.
    assert!(
        page.contains("La proposition 3 n’existe pas dans cette ligne."),
        "{page}"
    );
    assert!(!page.contains("does not exist"), "{page}");
    assert!(page.contains("Rien n’a été importé"));
    assert!(
        !page.contains("/commit"),
        "a failed check cannot be imported"
    );
    assert!(!exported(&app, &admin).await.contains("ZZFIRST"));
    // The event stream of a finished run: one event, the end.
    let res = admin
        .get_res(&app, &format!("/api/v1/admin/imports/{id}/events"))
        .await;
    assert_eq!(res.status(), 200);
    let events = res.text().await.unwrap();
    assert!(
        events.contains("event: job") && events.contains(r#""finished":true"#),
        "{events}"
    );
    // Committing it anyway is refused.
    let (s, _, _) = admin.post(&app, &format!("{run}/commit"), &[]).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The fixed file checks clean, then is imported from the same stored upload.
    let (_, run, _) = upload(
        &app,
        &admin,
        "bank.csv",
        fixed_csv().as_bytes(),
        &[("mode", "dry_run")],
    )
    .await;
    drain(&app).await;
    let (_, page) = admin.get(&app, &run).await;
    assert!(page.contains("Aucun problème trouvé"), "{page}");
    assert!(
        !exported(&app, &admin).await.contains("ZZFIRST"),
        "a check writes nothing"
    );
    let (s, done, _) = admin.post(&app, &format!("{run}/commit"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_ne!(done, run, "a new run imports the file");
    drain(&app).await;
    let (_, page) = admin.get(&app, &done).await;
    assert!(page.contains("ont été importées"), "{page}");
    assert!(page.contains("Nouvelles questions : 2"), "{page}");
    let csv = exported(&app, &admin).await;
    assert!(csv.contains("ZZFIRST") && csv.contains("ZZSECOND"));
    let (_, list) = admin.get(&app, "/admin/imports").await;
    assert!(list.contains(&done) && list.contains(&run));

    let actions = app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "catalogue.import_start"));
    assert!(actions.iter().any(|a| a == "catalogue.import_commit"));
}

#[tokio::test]
async fn exports_download_each_scope_and_format() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("content2@example.com", "admin", "content").await;
    let admin = Pages::new(b);
    let res = admin.get_res(&app, "/admin/exports").await;
    assert_eq!(res.status(), 200);
    assert_staff_headers(&res);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"action="/admin/exports/download""#));
    for (scope, format, kind) in [
        ("catalogue", "csv", "text/csv"),
        ("catalogue", "xlsx", "spreadsheetml"),
        ("catalogue", "json", "application/json"),
        ("taxonomy", "csv", "text/csv"),
    ] {
        let res = admin
            .get_res(
                &app,
                &format!("/admin/exports/download?scope={scope}&format={format}"),
            )
            .await;
        assert_eq!(res.status(), 200, "{scope} {format}");
        assert_staff_headers(&res);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains(kind)
        );
        let cd = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cd.contains(&format!("myqcm-{scope}.{format}")), "{cd}");
        assert!(!res.bytes().await.unwrap().is_empty());
    }
    let (s, page) = admin
        .get(&app, "/admin/exports/download?scope=catalogue&format=pdf")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("error-summary"));
}

#[tokio::test]
async fn the_audit_page_filters_by_actor_action_target_and_days_newest_first_in_pages() {
    use myqcm_services::identity::audit::{Event, record_at};
    let app = spawn_app().await;
    let (b, _) = app.staff("auditor@example.com", "admin", "support").await;
    let auditor = Pages::new(b);
    app.learner("someone@example.com").await;
    let someone = app.account("someone@example.com").await.id;
    let day = |d: u32, i: i64| {
        chrono::NaiveDate::from_ymd_opt(2026, 3, d)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
            .and_utc()
            + chrono::Duration::seconds(i)
    };
    for i in 0..55 {
        let ev = Event::new("zz.paged")
            .actor(someone)
            .target(format!("t-{i}"));
        record_at(&app.services.db, day(10, i), ev).await.unwrap();
    }
    record_at(
        &app.services.db,
        day(12, 0),
        Event::new("zz.other").target("the-target"),
    )
    .await
    .unwrap();

    let res = auditor.get_res(&app, "/admin/audit?action=zz.paged").await;
    assert_eq!(res.status(), 200);
    assert_staff_headers(&res);
    let page = res.text().await.unwrap();
    assert_eq!(page.matches("<code>zz.paged</code>").count(), 50);
    assert!(page.contains("someone@example.com"), "actors by email");
    // Newest first: t-54 before t-5.
    let (a, b) = (
        page.find("t-54").unwrap(),
        page.find("<code>t-5</code>").unwrap(),
    );
    assert!(a < b);
    assert!(!page.contains("<code>t-4</code>"), "on the next page");
    assert!(page.contains("/admin/audit?action=zz.paged&#38;offset=50"));
    let (_, older) = auditor
        .get(&app, "/admin/audit?action=zz.paged&offset=50")
        .await;
    assert_eq!(older.matches("<code>zz.paged</code>").count(), 5);
    assert!(older.contains("<code>t-4</code>") && older.contains("rel=\"prev\""));

    let (_, by_actor) = auditor
        .get(&app, "/admin/audit?actor=someone%40example.com&target=t-7")
        .await;
    assert_eq!(by_actor.matches("<code>zz.paged</code>").count(), 1);
    let (_, nobody) = auditor
        .get(&app, "/admin/audit?actor=nobody%40example.com")
        .await;
    assert!(
        !nobody.contains("<code>zz."),
        "an unknown actor matches nothing"
    );
    let (_, days) = auditor
        .get(&app, "/admin/audit?from=2026-03-11&to=2026-03-12")
        .await;
    assert!(days.contains("<code>zz.other</code>") && !days.contains("<code>zz.paged</code>"));
    let (_, day10) = auditor
        .get(
            &app,
            "/admin/audit?from=2026-03-10&to=2026-03-10&target=the-target",
        )
        .await;
    assert!(!day10.contains("<code>zz.other</code>"));
    let (s, bad) = auditor.get(&app, "/admin/audit?from=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("error-summary"));
}

#[tokio::test]
async fn an_admin_ends_one_sign_in_session_after_a_step_up_and_it_is_audited() {
    let app = spawn_app().await;
    let (b, secret) = app.staff("helpdesk@example.com", "admin", "support").await;
    let support = Pages::new(b);
    let phone = Pages::new(app.learner("traveller@example.com").await);
    let laptop = Pages::new(app.sign_in("traveller@example.com", PW).await);
    app.advance(chrono::Duration::minutes(11));
    let here = "/admin/sessions?email=traveller%40example.com";

    let res = support.get_res(&app, here).await;
    assert_eq!(res.status(), 200);
    assert_staff_headers(&res);
    let page = res.text().await.unwrap();
    assert_eq!(page.matches("/revoke\"").count(), 2, "{page}");
    assert!(page.contains("/admin/step-up?next="), "asks for a step-up");
    let pat = "action=\"/admin/sessions/";
    let sessions: Vec<String> = page
        .match_indices(pat)
        .map(|(i, _)| page[i + pat.len()..i + pat.len() + 36].to_owned())
        .collect();
    let account = app.account("traveller@example.com").await.id.to_string();
    let form = [
        ("account", account.as_str()),
        ("email", "traveller@example.com"),
    ];

    // Without the step-up: refused on the page, both sessions live, the refusal audited.
    let (s, _, html) = support
        .post(
            &app,
            &format!("/admin/sessions/{}/revoke", sessions[0]),
            &form,
        )
        .await;
    assert!(s.is_client_error(), "{s}");
    assert!(html.contains("error-summary"));
    assert_eq!(phone.get(&app, "/dashboard").await.0, 200);
    let refused = app.audit_details("admin.session_revoke").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["outcome"], "refused");

    let code = app.totp(&secret);
    let (s, to, _) = support
        .post(
            &app,
            "/admin/step-up",
            &[("password", PW), ("totp_code", &code), ("next", here)],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, here));
    let (s, to, _) = support
        .post(
            &app,
            &format!("/admin/sessions/{}/revoke", sessions[0]),
            &form,
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, here));
    let (_, page) = support.get(&app, here).await;
    assert_eq!(page.matches("/revoke\"").count(), 1);
    assert!(!page.contains(&sessions[0]));
    let statuses = [
        phone.get_res(&app, "/dashboard").await.status(),
        laptop.get_res(&app, "/dashboard").await.status(),
    ];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let done = app.audit_details("admin.session_revoke").await;
    assert!(
        done.iter()
            .any(|d| d["outcome"] == "done" && d["account"] == account.as_str())
    );

    let (s, page) = support
        .get(&app, "/admin/sessions?email=ghost%40example.com")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("error-summary"));
}

#[tokio::test]
async fn the_configuration_page_says_what_is_on_and_never_shows_a_secret() {
    let settings = myqcm_app::config::Settings {
        database_url: Some("postgres://myqcm:ZZDBPASSWORD@db.internal/myqcm".into()),
        redis_url: Some("redis://:ZZREDISPASSWORD@cache.internal:6379".into()),
        smtp_url: Some("smtp://mailer:ZZSMTPPASSWORD@mail.internal:587".into()),
        google_client_id: Some("ZZCLIENTID.apps.googleusercontent.com".into()),
        google_client_secret: myqcm_app::config::Secret::new("ZZGOOGLESECRET"),
        chargily_mode: Some("test".into()),
        chargily_secret_key: myqcm_app::config::Secret::new("ZZCHARGILYSECRET"),
        llm_base_url: Some("https://llm.internal/v1".into()),
        llm_api_key: myqcm_app::config::Secret::new("ZZLLMKEY"),
        ..myqcm_app::config::Settings::default()
    };
    let config = settings.validate().unwrap();
    let on = myqcm_app::integrations(&config);
    let cache = test_cache().await.unwrap();
    let app = spawn_sharing(None, cache, fixed_clock(), |_, s| {
        *s = s.clone().with_integrations(on);
    })
    .await;
    let (b, _) = app.staff("ops@example.com", "admin", "operations").await;
    let ops = Pages::new(b);
    let res = ops.get_res(&app, "/admin/config").await;
    assert_eq!(res.status(), 200);
    assert_staff_headers(&res);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"<td data-integration="database">PostgreSQL</td>"#),
        "{page}"
    );
    assert!(page.contains(r#"<td data-integration="cache">Redis</td>"#));
    assert!(page.contains(r#"<td data-integration="google">Activé</td>"#));
    assert!(page.contains(r#"<td data-integration="llm">Activé</td>"#));
    assert!(page.contains("mode test"));
    for secret in [
        "ZZDBPASSWORD",
        "ZZREDISPASSWORD",
        "ZZSMTPPASSWORD",
        "ZZCLIENTID",
        "ZZGOOGLESECRET",
        "ZZCHARGILYSECRET",
        "ZZLLMKEY",
        "llm.internal",
        "db.internal",
    ] {
        assert!(!page.contains(secret), "{secret} shown");
    }
    // The development secret key is configured too and never shown either.
    assert!(!page.contains(myqcm_app::config::DEV_SECRET_KEY));
    // A support admin does not hold the operations permission.
    let (b, _) = app.staff("support3@example.com", "admin", "support").await;
    assert_eq!(Pages::new(b).get(&app, "/admin/config").await.0, 403);
}

#[tokio::test]
async fn learners_get_403_on_every_admin_console_page_and_action() {
    let app = spawn_app().await;
    let learner = Pages::new(app.learner("curious@example.com").await);
    let (_, dash) = learner.get(&app, "/dashboard").await;
    for link in [
        "/admin/imports",
        "/admin/exports",
        "/admin/audit",
        "/admin/sessions",
        "/admin/config",
    ] {
        assert!(
            !dash.contains(&format!(r#"href="{link}""#)),
            "{link} in a learner's menu"
        );
    }
    let id = uuid::Uuid::now_v7();
    for path in [
        "/admin/imports".to_owned(),
        format!("/admin/imports/{id}"),
        "/admin/exports".to_owned(),
        "/admin/exports/download?scope=catalogue&format=csv".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/sessions".to_owned(),
        "/admin/sessions?email=curious%40example.com".to_owned(),
        "/admin/config".to_owned(),
        format!("/api/v1/admin/imports/{id}/events"),
    ] {
        let res = learner.get_res(&app, &path).await;
        assert_eq!(res.status(), 403, "{path}");
        if !path.starts_with("/api/") {
            assert_staff_headers(&res);
        }
    }
    let (s, _, _) = upload(&app, &learner, "bank.csv", BAD_CSV.as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        learner
            .post(&app, &format!("/admin/imports/{id}/commit"), &[])
            .await
            .0,
        403
    );
    let me = app.account("curious@example.com").await.id.to_string();
    assert_eq!(
        learner
            .post(
                &app,
                &format!("/admin/sessions/{id}/revoke"),
                &[("account", me.as_str())]
            )
            .await
            .0,
        403
    );
    // Signed out: to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anon.get(app.url("/admin/audit")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn an_imports_events_reach_the_run_page_from_another_instances_worker() {
    // The server is instance A; the worker is instance B with its own cache connection (with
    // Redis: another connection on the same deployment prefix).
    let (cache_a, cache_b) = myqcm_testkit::test_cache_pair().await.unwrap();
    let app = spawn_sharing(None, cache_a, fixed_clock(), |_, _| {}).await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("content3@example.com", "admin", "content").await;
    let admin = Pages::new(b);
    let (_, run, _) = upload(
        &app,
        &admin,
        "bank.csv",
        fixed_csv().as_bytes(),
        &[("mode", "import")],
    )
    .await;
    let id = run.trim_start_matches("/admin/imports/").to_owned();
    let mut res = admin
        .get_res(&app, &format!("/api/v1/admin/imports/{id}/events"))
        .await;
    assert_eq!(res.status(), 200);
    let mut buf = String::new();
    let first = crate::jobs::next_event(&mut res, &mut buf, |_| true)
        .await
        .unwrap();
    assert_eq!(
        (first["status"].as_str(), first["finished"].as_bool()),
        (Some("queued"), Some(false))
    );

    let mut b_services = app.services.clone();
    b_services.cache = cache_b;
    myqcm_app::worker(&b_services).drain().await.unwrap();
    let last = crate::jobs::next_event(&mut res, &mut buf, |e| e["finished"] == true)
        .await
        .expect("the end of the job reaches instance A's stream");
    assert_eq!(last["status"], "done");
    assert!(
        crate::jobs::next_event(&mut res, &mut buf, |_| true)
            .await
            .is_none(),
        "the stream ends with the job"
    );
    let (_, page) = admin.get(&app, &run).await;
    assert!(page.contains("Nouvelles questions : 2"), "{page}");
    assert!(!page.contains("data-job-events"));
}
