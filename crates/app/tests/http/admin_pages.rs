//! The account pages (`/admin/users`) through their forms, as a browser without JavaScript
//! uses them: a super admin changes a learner's roles after a step-up and the learner's very
//! next request has them; without the step-up the change is refused, the page links the
//! step-up and nothing changes; a support admin cannot grant the admin role; learners get 403.

use reqwest::StatusCode;

use crate::author_pages::Pages;
use crate::support::{PW, TestApp, spawn_app};

async fn roles_of(app: &TestApp, email: &str) -> String {
    app.account(email).await.roles
}

/// Steps `who` up through the step-up page, coming back to `next`.
pub(crate) async fn step_up(app: &TestApp, who: &Pages, secret: &[u8], next: &str) {
    let code = app.totp(secret);
    let (s, to, _) = who
        .post(
            app,
            "/admin/step-up",
            &[("password", PW), ("totp_code", &code), ("next", next)],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, next));
}

#[tokio::test]
async fn an_admin_changes_a_learners_roles_from_the_page_after_a_step_up() {
    let app = spawn_app().await;
    let (root_b, secret) = app.staff("root@example.com", "admin", "super").await;
    let root = Pages::new(root_b);
    let learner = Pages::new(app.learner("learner7@example.com").await);
    let id = app.account("learner7@example.com").await.id;
    assert_eq!(learner.get(&app, "/author").await.0, 403);
    // The enrolment's proof goes stale: changes need a step-up first.
    app.advance(chrono::Duration::minutes(11));

    let (s, list) = root.get(&app, "/admin/users").await;
    assert_eq!(s, 200);
    assert!(
        list.contains(r#"href="/admin/users""#),
        "in the staff navigation"
    );
    assert!(list.contains(&format!(r#"href="/admin/users/{id}""#)));
    assert!(list.contains("learner7@example.com"));
    assert!(list.contains("noindex"));
    let here = format!("/admin/users/{id}");
    let res = root.get_res(&app, &here).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("/admin/step-up?next=/admin/users/{id}")));
    assert!(page.contains(r#"name="roles" value="student" checked"#));
    assert!(page.contains(r#"name="roles" value="author">"#));

    // Without the step-up: refused on the form, nothing changes.
    let form = [("roles", "student"), ("roles", "author")];
    let (s, _, html) = root.post(&app, &here, &form).await;
    assert!(s.is_client_error(), "{s}");
    assert!(html.contains("error-summary"));
    assert_eq!(roles_of(&app, "learner7@example.com").await, "student");
    assert_eq!(learner.get(&app, "/author").await.0, 403);

    // After the step-up: done, and the learner's next request has the role.
    step_up(&app, &root, &secret, &here).await;
    let (_, page) = root.get(&app, &here).await;
    assert!(!page.contains("/admin/step-up?next="), "stepped up");
    let (s, to, _) = root.post(&app, &here, &form).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, here.as_str()));
    assert_eq!(
        roles_of(&app, "learner7@example.com").await,
        "student,author"
    );
    assert_eq!(learner.get(&app, "/author").await.0, 200);
    let (_, page) = root.get(&app, &here).await;
    assert!(page.contains(r#"name="roles" value="author" checked"#));

    // Ending the sessions signs the learner out.
    let (s, _, _) = root
        .post(&app, &format!("{here}/sessions/revoke"), &[])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let res = learner.get_res(&app, "/author").await;
    assert_ne!(res.status(), 200);
}

#[tokio::test]
async fn a_support_admin_cannot_grant_the_admin_role_and_learners_get_403() {
    let app = spawn_app().await;
    let (sup_b, secret) = app.staff("support@example.com", "admin", "support").await;
    let support = Pages::new(sup_b);
    app.learner("learner8@example.com").await;
    let id = app.account("learner8@example.com").await.id;
    let here = format!("/admin/users/{id}");
    step_up(&app, &support, &secret, &here).await;
    let (s, _, html) = support
        .post(&app, &here, &[("roles", "student"), ("roles", "admin")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!html.is_empty());
    assert_eq!(roles_of(&app, "learner8@example.com").await, "student");
    // Non-admin roles are the support admin's to give.
    let (s, _, _) = support
        .post(&app, &here, &[("roles", "student"), ("roles", "reviewer")])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        roles_of(&app, "learner8@example.com").await,
        "student,reviewer"
    );

    let other = Pages::new(app.learner("learner9@example.com").await);
    let (_, dash) = other.get(&app, "/dashboard").await;
    assert!(!dash.contains(r#"href="/admin/users""#));
    assert_eq!(other.get(&app, "/admin/users").await.0, 403);
    assert_eq!(other.get(&app, &here).await.0, 403);
    assert_eq!(other.post(&app, &here, &[("roles", "admin")]).await.0, 403);
    assert_eq!(
        other
            .post(&app, &format!("{here}/sessions/revoke"), &[])
            .await
            .0,
        403
    );
    let me = app.account("learner9@example.com").await.id;
    assert_eq!(
        other
            .post(&app, &format!("/admin/users/{me}"), &[("roles", "admin")])
            .await
            .0,
        403
    );
    assert_eq!(roles_of(&app, "learner9@example.com").await, "student");
}
