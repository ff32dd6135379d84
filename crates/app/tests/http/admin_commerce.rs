//! The commerce admin console (`/admin/plans`, `/admin/cards`, `/admin/payments`) through its
//! forms, as a browser without JavaScript uses it: finance staff reach the pages (noindex,
//! no-store), learners get 403; changes need a recent step-up; a plan is created and edited
//! from the page; a batch minted from the page shows its codes once with the printing CSV,
//! one of those codes redeems, and the revoked batch's other codes no longer do.

use reqwest::StatusCode;

use crate::admin_pages::step_up;
use crate::author_pages::Pages;
use crate::support::{TestApp, spawn_app};

const PAGES: [&str; 3] = ["/admin/plans", "/admin/cards", "/admin/payments"];

/// The plan form for `code` with a price and a duration (quotas unlimited unless given).
fn plan_form<'a>(code: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("code", code),
        ("names.fr", "Mensuel"),
        ("names.en", "Monthly"),
        ("names.ar", "شهري"),
        ("price_dzd", "1500"),
        ("duration_days", "30"),
        ("mcq_per_day", "200"),
        ("devices", "2"),
        ("listed", "on"),
        ("explanations", "on"),
        ("ai_grading", "on"),
    ];
    f.extend_from_slice(extra);
    f
}

/// The codes listed in a minted page.
fn codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split_once("</code>").map(|(c, _)| c.to_owned()))
        .collect()
}

/// The `data:` CSV link of a minted page, decoded.
fn csv(html: &str) -> String {
    let start = html
        .find("data:text/csv;charset=utf-8,")
        .expect("a CSV link");
    let rest = &html[start + "data:text/csv;charset=utf-8,".len()..];
    let encoded = &rest[..rest.find('"').unwrap()];
    // Every reserved byte is percent-encoded (no `+`), so the form decoder decodes it exactly.
    url::form_urlencoded::parse(format!("csv={encoded}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

async fn redeem(app: &TestApp, who: &Pages, code: &str) -> (StatusCode, String) {
    let (s, to, _) = who.post(app, "/plans/redeem", &[("code", code)]).await;
    (s, to)
}

#[tokio::test]
async fn finance_staff_reach_the_commerce_pages_and_learners_get_403() {
    let app = spawn_app().await;
    let (b, _) = app.staff("fin@example.com", "admin", "finance").await;
    let fin = Pages::new(b);
    let learner = Pages::new(app.learner("l1@example.com").await);
    for p in PAGES {
        let res = fin.get_res(&app, p).await;
        assert_eq!(res.status(), 200, "{p}");
        let cc = res.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cc.contains("no-store"), "{p}: {cc}");
        let html = res.text().await.unwrap();
        assert!(html.contains("noindex"), "{p}");
        for q in PAGES {
            assert!(html.contains(&format!(r#"href="{q}""#)), "{p} links {q}");
        }
        assert_eq!(learner.get(&app, p).await.0, 403, "{p}");
    }
    let (_, plans) = fin.get(&app, "/admin/plans").await;
    assert!(plans.contains("<code>free</code>"), "the seeded free plan");
    assert_eq!(learner.get(&app, "/admin/plans/free").await.0, 403);
    let (s, _, _) = learner
        .post(&app, "/admin/cards", &[("plan", "free"), ("count", "1")])
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        learner
            .post(&app, "/admin/plans", &plan_form("sneaky", &[]))
            .await
            .0,
        403
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .all(|a| a != "plan.created")
    );
}

#[tokio::test]
async fn a_plan_is_created_and_edited_from_the_page_after_a_step_up() {
    let app = spawn_app().await;
    let (b, secret) = app.staff("fin@example.com", "admin", "finance").await;
    let fin = Pages::new(b);
    app.advance(chrono::Duration::minutes(11));

    // Stale proof: refused on the form, the page links the step-up, nothing made.
    let (s, _, html) = fin
        .post(&app, "/admin/plans", &plan_form("monthly", &[]))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{html}");
    assert!(html.contains("error-summary"));
    assert!(html.contains("/admin/step-up?next=%2Fadmin%2Fplans"));
    assert!(html.contains(r#"value="Monthly""#), "typed values kept");
    step_up(&app, &fin, &secret, "/admin/plans").await;

    // A number that is not one: the field says so.
    let (s, _, html) = fin
        .post(
            &app,
            "/admin/plans",
            &plan_form("monthly", &[("qroc_per_day", "many")]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r##"href="#qroc_per_day""##), "{html}");

    let (s, to, html) = fin
        .post(&app, "/admin/plans", &plan_form("monthly", &[]))
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/plans"),
        "{html}"
    );
    let (_, list) = fin.get(&app, "/admin/plans").await;
    assert!(list.contains(r#"href="/admin/plans/monthly""#), "{list}");
    let p = app.services.commerce.listed_plans().await.unwrap();
    let m = p.iter().find(|p| p.code == "monthly").unwrap();
    assert_eq!(
        (
            m.price_dzd,
            m.duration_days,
            m.mcq_per_day,
            m.qroc_per_day,
            m.devices
        ),
        (1500, Some(30), Some(200), None, 2)
    );
    assert!(m.explanations && !m.clinical_cases && m.ai_grading);
    let (_, public) = fin.get(&app, "/plans").await;
    assert!(
        public.contains("QROC proches"),
        "the plans page says the plan includes grading assistance"
    );

    // Edit: no end, inactive, a QROC quota; the code cannot change.
    let (s, page) = fin.get(&app, "/admin/plans/monthly").await;
    assert_eq!(s, 200);
    assert!(page.contains(r#"value="1500""#) && page.contains(r#"value="30""#));
    let edit = [
        ("code", "renamed"),
        ("names.fr", "Mensuel"),
        ("names.en", "Monthly"),
        ("names.ar", "شهري"),
        ("price_dzd", "1800"),
        ("duration_days", ""),
        ("qroc_per_month", "40"),
        ("devices", "3"),
    ];
    let (s, to, _) = fin.post(&app, "/admin/plans/monthly", &edit).await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/plans/monthly?done=saved")
    );
    let (_, page) = fin.get(&app, &to).await;
    assert!(page.contains(r#"role="status""#));
    let deps = app.services.commerce.listed_plans().await.unwrap();
    assert!(
        deps.iter().all(|p| p.code != "monthly"),
        "inactive: no longer offered"
    );
    let (_, list) = fin.get(&app, "/admin/plans").await;
    assert!(!list.contains("renamed"));
    let audit = app.audit_actions().await;
    assert!(audit.iter().any(|a| a == "plan.created"));
    assert!(audit.iter().any(|a| a == "plan.updated"));
    let updated = app.audit_details("plan.updated").await;
    assert_eq!(updated[0]["duration_days"], serde_json::Value::Null);
    assert_eq!(updated[0]["qroc_per_month"], 40);
    assert_eq!(updated[0]["listed"], false);
    assert_eq!(
        (updated[0]["price_dzd"].clone(), updated[0]["code"].clone()),
        (1800.into(), "monthly".into())
    );
}

#[tokio::test]
async fn a_batch_minted_from_the_page_shows_its_codes_once_redeems_and_revokes() {
    let app = spawn_app().await;
    let (b, secret) = app.staff("fin@example.com", "admin", "finance").await;
    let fin = Pages::new(b);
    let (s, to, _) = fin
        .post(&app, "/admin/plans", &plan_form("monthly", &[]))
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/admin/plans"));
    let (_, page) = fin.get(&app, "/admin/cards").await;
    assert!(page.contains(r#"<option value="monthly""#));
    assert!(
        !page.contains(r#"<option value="free""#),
        "the free plan has no cards"
    );

    let form = [
        ("plan", "monthly"),
        ("count", "3"),
        ("expires", "2099-12-31"),
        ("label", "=HYPERLINK(\"x\")"),
    ];
    let (s, _, html) = fin.post(&app, "/admin/cards", &form).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let shown = codes(&html);
    assert_eq!(shown.len(), 3, "{html}");
    let file = csv(&html);
    let mut lines = file.lines();
    assert_eq!(lines.next(), Some("code,plan,expires_at,batch"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    for (row, code) in rows.iter().zip(&shown) {
        assert!(
            row.starts_with(&format!("{code},monthly,2099-12-31T23:00:00")),
            "{row}"
        );
    }
    // Shown once: the list shows counts, never a code again.
    let (_, list) = fin.get(&app, "/admin/cards").await;
    for c in &shown {
        assert!(!list.contains(c.as_str()));
    }
    assert!(list.contains("&#61;HYPERLINK") || list.contains("=HYPERLINK"));
    let batch = myqcm_db::commerce::batches(&app.db.conn).await.unwrap();
    assert_eq!(
        (batch.len(), batch[0].batch.size, batch[0].redeemed),
        (1, 3, 0)
    );

    // One code redeems; the counts follow.
    let learner = Pages::new(app.learner("l2@example.com").await);
    assert_eq!(
        redeem(&app, &learner, &shown[0]).await,
        (StatusCode::SEE_OTHER, "/plans?done=redeemed".to_owned())
    );
    let (_, list) = fin.get(&app, "/admin/cards").await;
    let id = batch[0].batch.id;
    let row = &list[list.find(&format!("batch-{id}")).unwrap()..];
    assert!(row.contains("<td>1</td>\n      <td>2</td>"), "{row}");

    // Revoke (with a stale proof first: refused, nothing revoked).
    app.advance(chrono::Duration::minutes(11));
    let here = format!("/admin/cards/{id}/revoke");
    let (s, _, html) = fin.post(&app, &here, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{html}");
    step_up(&app, &fin, &secret, "/admin/cards").await;
    let (s, to, _) = fin.post(&app, &here, &[]).await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/cards?done=revoked")
    );
    let (_, list) = fin.get(&app, &to).await;
    assert!(list.contains(r#"role="status""#));
    assert!(!list.contains(&format!(r#"action="/admin/cards/{id}/revoke""#)));
    let other = Pages::new(app.learner("l3@example.com").await);
    let (s, _) = redeem(&app, &other, &shown[1]).await;
    assert!(s.is_client_error(), "a revoked card does not redeem: {s}");
    let audit = app.audit_actions().await;
    assert!(audit.iter().any(|a| a == "cards.minted"));
    assert!(audit.iter().any(|a| a == "cards.batch_revoked"));
}
