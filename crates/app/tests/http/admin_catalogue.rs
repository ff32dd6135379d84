//! The catalogue admin pages through their forms, as a browser without JavaScript uses them:
//! a content admin adds and edits institutions, saves a blueprint version, adds and renames
//! courses and subjects, adds and moves KC-tree nodes; each change holds on the next request
//! (page and JSON API), is audit-logged with the acting account, and a bad input comes back
//! with a clear error and what was typed. Learners and authors get 403 on every page and on
//! the JSON API's changes.

use reqwest::StatusCode;
use serde_json::json;

use crate::author_pages::Pages;
use crate::support::{PW, TestApp, spawn_app};

/// The actors of the audit rows named `action`, newest first.
async fn audit_actors(app: &TestApp, action: &str) -> Vec<Option<uuid::Uuid>> {
    myqcm_db::identity::audit::recent(&app.db.conn, Some(action), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.actor_id)
        .collect()
}

async fn content_admin(app: &TestApp, email: &str) -> (Pages, uuid::Uuid) {
    let (b, _) = app.staff(email, "admin", "content").await;
    (Pages::new(b), app.account(email).await.id)
}

#[tokio::test]
async fn an_admin_adds_and_edits_institutions_from_the_page() {
    let app = spawn_app().await;
    let (admin, id) = content_admin(&app, "content1@example.com").await;

    let res = admin.get_res(&app, "/admin/institutions").await;
    assert_eq!(res.status(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("no-store"), "{cache}");
    let page = res.text().await.unwrap();
    assert!(page.contains("noindex"));
    for link in [
        "/admin/curriculum",
        "/admin/kc-trees",
        "/admin/blueprints",
        "/admin/institutions",
    ] {
        assert!(
            page.contains(&format!(r#"href="{link}""#)),
            "nav links {link}"
        );
    }

    // Add, then rename: each change holds on the next request.
    let form = [("u_code", "u-test"), ("u_name", "Université de test")];
    let (s, to, _) = admin
        .post(&app, "/admin/institutions/universities", &form)
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/institutions?done=saved")
    );
    let (_, page) = admin.get(&app, "/admin/institutions?done=saved").await;
    assert!(page.contains("Université de test"));
    let (_, page) = admin
        .get(&app, "/admin/institutions?university=u-test")
        .await;
    assert!(
        page.contains(r#"value="Université de test""#),
        "edit link fills the form"
    );
    let form = [("u_code", "u-test"), ("u_name", "Université renommée")];
    let (s, _, _) = admin
        .post(&app, "/admin/institutions/universities", &form)
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let form = [
        ("f_university", "u-test"),
        ("f_code", "f-test-med"),
        ("f_name", "Faculté de médecine test"),
        ("f_field", "general_medicine"),
    ];
    let (s, _, _) = admin
        .post(&app, "/admin/institutions/faculties", &form)
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let form = [
        ("f_university", "u-test"),
        ("f_code", "f-test-med"),
        ("f_name", "Faculté de pharmacie test"),
        ("f_field", "pharmacy"),
    ];
    let (s, _, _) = admin
        .post(&app, "/admin/institutions/faculties", &form)
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let list: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/institutions")
        .await
        .json()
        .await
        .unwrap();
    let u = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "u-test")
        .unwrap();
    assert_eq!(u["name"], "Université renommée");
    assert_eq!(u["faculties"][0]["name"], "Faculté de pharmacie test");
    assert_eq!(u["faculties"][0]["field"], "pharmacy");
    assert_eq!(
        audit_actors(&app, "catalogue.university_saved").await,
        vec![Some(id); 2]
    );
    assert_eq!(
        audit_actors(&app, "catalogue.faculty_saved").await,
        vec![Some(id); 2]
    );

    // A bad code: a clear error, what was typed is kept, nothing changes.
    let form = [("u_code", "Bad Code"), ("u_name", "Nom gardé")];
    let (s, _, html) = admin
        .post(&app, "/admin/institutions/universities", &form)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("error-summary"));
    assert!(
        html.contains(r##"href="#u_code""##),
        "the summary links the field"
    );
    assert!(html.contains("a-z, 0-9"), "says what a code is");
    assert!(html.contains(r#"value="Bad Code""#) && html.contains(r#"value="Nom gardé""#));
    let form = [
        ("f_university", "u-nowhere"),
        ("f_code", "f-x"),
        ("f_name", "Faculté gardée"),
        ("f_field", "pharmacy"),
    ];
    let (s, _, html) = admin
        .post(&app, "/admin/institutions/faculties", &form)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r##"href="#f_university""##));
    assert!(html.contains(r#"value="Faculté gardée""#));
    assert_eq!(
        audit_actors(&app, "catalogue.university_saved").await.len(),
        2
    );
}

#[tokio::test]
async fn an_admin_saves_a_blueprint_version_from_the_page() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (admin, id) = content_admin(&app, "content2@example.com").await;

    let (s, page) = admin.get(&app, "/admin/blueprints?year=3").await;
    assert_eq!(s, 200);
    assert!(page.contains("noindex"));
    assert!(page.contains(r#"id="w-cardio""#) && page.contains(r#"value="0.35""#));
    assert!(
        page.contains("kc-cardio-hta-def = 0.06"),
        "KC weights prefilled"
    );

    let form = [
        ("name", "Examen 2027"),
        ("w-cardio", "0.5"),
        ("kcs-cardio", ""),
        ("w-pneumo", "0,3"),
        (
            "kcs-pneumo",
            "kc-pneumo-tb-diag = 0.5\nkc-pneumo-tb-ttt = 0.5",
        ),
        ("w-nephro", "0.2"),
        ("kcs-nephro", ""),
    ];
    let (s, to, _) = admin.post(&app, "/admin/blueprints/3", &form).await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/blueprints?year=3&done=saved")
    );
    let bp: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/blueprints/3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bp["version"], 2);
    assert_eq!(bp["name"], "Examen 2027");
    assert_eq!(bp["weights"]["subjects"][0]["weight"], 0.5);
    assert_eq!(
        bp["weights"]["subjects"][1]["kcs"][1]["kc"],
        "kc-pneumo-tb-ttt"
    );
    let (_, page) = admin.get(&app, "/admin/blueprints?year=3&done=saved").await;
    assert!(page.contains("Examen 2027") && page.contains(r#"value="0.5""#));
    assert_eq!(
        audit_actors(&app, "catalogue.blueprint_saved").await,
        vec![Some(id)]
    );

    // Shares that do not add up, and an unknown KC: clear errors on their fields, input kept.
    let form = [
        ("name", "Trop lourd"),
        ("w-cardio", "0.9"),
        ("w-pneumo", "0.3"),
        ("kcs-pneumo", "kc-nowhere = 1"),
        ("w-nephro", "0.2"),
    ];
    let (s, _, html) = admin.post(&app, "/admin/blueprints/3", &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("error-summary"));
    assert!(
        html.contains(r##"href="#w-cardio""##),
        "sum error on the first weight"
    );
    assert!(
        html.contains(r##"href="#kcs-pneumo""##),
        "unknown KC on its subject"
    );
    assert!(html.contains(r#"value="0.9""#) && html.contains("kc-nowhere = 1"));
    assert!(html.contains(r#"value="Trop lourd""#));
    // Not a number.
    let form = [("name", "X"), ("w-cardio", "beaucoup")];
    let (s, _, html) = admin.post(&app, "/admin/blueprints/3", &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r##"href="#w-cardio""##) && html.contains(r#"value="beaucoup""#));
    let bp: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/blueprints/3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bp["version"], 2, "nothing stored");
    assert_eq!(
        audit_actors(&app, "catalogue.blueprint_saved").await.len(),
        1
    );
}

#[tokio::test]
async fn an_admin_changes_the_curriculum_and_a_kc_tree_from_the_pages() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (admin, id) = content_admin(&app, "content3@example.com").await;

    let (s, page) = admin.get(&app, "/admin/curriculum").await;
    assert_eq!(s, 200);
    assert!(page.contains("cardio-hta") && page.contains("noindex"));
    let (_, page) = admin.get(&app, "/admin/curriculum?subject=cardio").await;
    assert!(
        page.contains(r#"id="s_code" name="s_code" type="text" autocomplete="off" value="cardio""#)
    );
    let unit = page
        .split(r#"id="s_unit" name="s_unit" type="text" autocomplete="off" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert!(!unit.is_empty(), "the subject's unit is filled");

    // Rename a subject, add a course.
    let form = [
        ("s_code", "cardio"),
        ("s_year", "3"),
        ("s_unit", unit.as_str()),
        ("s_fr", "Cardiologie et vaisseaux"),
    ];
    let (s, to, _) = admin.post(&app, "/admin/curriculum/subjects", &form).await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/curriculum?done=saved")
    );
    let form = [
        ("c_subject", "cardio"),
        ("c_code", "cardio-valves"),
        ("c_fr", "Valvulopathies"),
    ];
    let (s, _, _) = admin.post(&app, "/admin/curriculum/courses", &form).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&app, "/admin/curriculum").await;
    assert!(page.contains("Cardiologie et vaisseaux") && page.contains("Valvulopathies"));
    let tree: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/curriculum?year=3")
        .await
        .json()
        .await
        .unwrap();
    let cardio = tree["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "cardio")
        .unwrap();
    assert!(
        cardio["courses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "cardio-valves")
    );

    // A year-3 subject needs a unit: the error names the field, the input is kept.
    let form = [
        ("s_code", "genetique"),
        ("s_year", "3"),
        ("s_fr", "Génétique"),
    ];
    let (s, _, html) = admin.post(&app, "/admin/curriculum/subjects", &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r##"href="#s_unit""##) && html.contains(r#"value="Génétique""#));
    let form = [
        ("c_subject", "cardio"),
        ("c_code", "Pas Bon"),
        ("c_fr", "Gardé"),
    ];
    let (s, _, html) = admin.post(&app, "/admin/curriculum/courses", &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r##"href="#c_code""##) && html.contains(r#"value="Gardé""#));

    // KC tree: add a KC under a topic, then move it under another topic and rename it.
    let (s, page) = admin.get(&app, "/admin/kc-trees?subject=cardio").await;
    assert_eq!(s, 200);
    assert!(page.contains("kc-cardio-hta-def"));
    let nodes: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/subjects/cardio/kcs")
        .await
        .json()
        .await
        .unwrap();
    let topics: Vec<String> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["level"] == "topic")
        .map(|n| n["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(topics.len() >= 2);
    let add = |parent: &str, fr: &str| {
        vec![
            ("subject".to_owned(), "cardio".to_owned()),
            ("k_code".to_owned(), "kc-cardio-new".to_owned()),
            ("k_level".to_owned(), "kc".to_owned()),
            ("k_parent".to_owned(), parent.to_owned()),
            ("k_fr".to_owned(), fr.to_owned()),
        ]
    };
    for (parent, fr) in [
        (&topics[0], "Nouvelle notion"),
        (&topics[1], "Notion déplacée"),
    ] {
        let pairs = add(parent, fr);
        let form: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (s, to, _) = admin.post(&app, "/admin/kc-trees", &form).await;
        assert_eq!(
            (s, to.as_str()),
            (
                StatusCode::SEE_OTHER,
                "/admin/kc-trees?subject=cardio&done=saved"
            )
        );
    }
    let nodes: serde_json::Value = app
        .get_as(&admin.b, "/api/v1/subjects/cardio/kcs")
        .await
        .json()
        .await
        .unwrap();
    let find = |code: &str| {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["code"] == code)
            .unwrap()
            .clone()
    };
    let moved = find("kc-cardio-new");
    assert_eq!(moved["parent_id"], find(&topics[1])["id"]);
    assert_eq!(moved["names"]["fr"], "Notion déplacée");
    let (_, page) = admin
        .get(&app, "/admin/kc-trees?subject=cardio&edit=kc-cardio-new")
        .await;
    assert!(
        page.contains(r#"value="Notion déplacée""#),
        "edit link fills the form"
    );

    // A KC without a topic is refused on the parent field.
    let form = [
        ("subject", "cardio"),
        ("k_code", "kc-cardio-orphan"),
        ("k_level", "kc"),
        ("k_parent", ""),
        ("k_fr", "Orpheline"),
    ];
    let (s, _, html) = admin.post(&app, "/admin/kc-trees", &form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r##"href="#k_parent""##) && html.contains(r#"value="Orpheline""#));

    assert_eq!(
        audit_actors(&app, "catalogue.subject_saved").await,
        vec![Some(id)]
    );
    assert_eq!(
        audit_actors(&app, "catalogue.course_saved").await,
        vec![Some(id)]
    );
    assert_eq!(
        audit_actors(&app, "catalogue.kc_saved").await,
        vec![Some(id); 2]
    );
}

#[tokio::test]
async fn learners_and_authors_get_403_on_the_catalogue_pages_and_api() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let learner = Pages::new(app.learner("learner21@example.com").await);
    let (author_b, _) = app.staff("author21@example.com", "author", "").await;
    let author = Pages::new(author_b);
    let (_, dash) = learner.get(&app, "/dashboard").await;
    assert!(!dash.contains(r#"href="/admin/curriculum""#));
    for who in [&learner, &author] {
        for path in [
            "/admin/curriculum",
            "/admin/kc-trees?subject=cardio",
            "/admin/blueprints?year=3",
            "/admin/institutions",
        ] {
            assert_eq!(who.get(&app, path).await.0, 403, "{path}");
        }
        for (path, form) in [
            (
                "/admin/curriculum/subjects",
                vec![("s_code", "x"), ("s_year", "1"), ("s_fr", "X")],
            ),
            (
                "/admin/curriculum/courses",
                vec![("c_subject", "cardio"), ("c_code", "x"), ("c_fr", "X")],
            ),
            (
                "/admin/kc-trees",
                vec![
                    ("subject", "cardio"),
                    ("k_code", "x"),
                    ("k_level", "domain"),
                    ("k_fr", "X"),
                ],
            ),
            (
                "/admin/blueprints/3",
                vec![("name", "X"), ("w-cardio", "1")],
            ),
            (
                "/admin/institutions/universities",
                vec![("u_code", "x"), ("u_name", "X")],
            ),
        ] {
            assert_eq!(who.post(&app, path, &form).await.0, 403, "{path}");
        }
        let res = app
            .put_as(
                &who.b,
                "/api/v1/admin/institutions",
                json!([{"code": "x", "name": "X"}]),
            )
            .await;
        assert_eq!(res.status(), 403);
        let body =
            json!({"name": "X", "weights": {"subjects": [{"subject": "cardio", "weight": 1.0}]}});
        let res = app.put_as(&who.b, "/api/v1/admin/blueprints/3", body).await;
        assert_eq!(res.status(), 403);
    }
    let list: serde_json::Value = app
        .get_as(&learner.b, "/api/v1/institutions")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.as_array().unwrap().iter().all(|u| u["code"] != "x"));
    for action in [
        "catalogue.subject_saved",
        "catalogue.course_saved",
        "catalogue.kc_saved",
        "catalogue.blueprint_saved",
        "catalogue.university_saved",
        "catalogue.institutions_saved",
    ] {
        assert!(audit_actors(&app, action).await.is_empty(), "{action}");
    }
}

#[tokio::test]
async fn the_json_apis_catalogue_changes_are_audit_logged_too() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("content4@example.com", "admin", "content").await;
    let id = app.account("content4@example.com").await.id;
    let res = app
        .put_as(
            &b,
            "/api/v1/admin/institutions",
            json!([{"code": "u-api", "name": "API"}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json!({"name": "API", "weights": {"subjects": [
        {"subject": "cardio", "weight": 0.5}, {"subject": "pneumo", "weight": 0.5}]}});
    let res = app.put_as(&b, "/api/v1/admin/blueprints/3", body).await;
    assert_eq!(res.status(), 200);
    let res = app
        .put_as(
            &b,
            "/api/v1/admin/taxonomy",
            json!({"year_of_study": 3, "subjects": []}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for action in [
        "catalogue.institutions_saved",
        "catalogue.blueprint_saved",
        "catalogue.taxonomy_applied",
    ] {
        assert_eq!(audit_actors(&app, action).await, vec![Some(id)], "{action}");
    }
}

#[tokio::test]
async fn a_content_admin_without_two_step_sign_in_is_sent_to_enrol() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    app.sign_up_verified("content5@example.com", PW).await;
    app.set_roles("content5@example.com", "admin", "content")
        .await;
    let admin = Pages::new(app.sign_in("content5@example.com", PW).await);
    for path in [
        "/admin/curriculum",
        "/admin/kc-trees",
        "/admin/blueprints",
        "/admin/institutions",
    ] {
        let res = admin.get_res(&app, path).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store, private");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(r#"href="/settings#mfa-title""#),
            "{path} leads to the enrolment"
        );
    }
    let form = [("u_code", "u-x"), ("u_name", "X")];
    let (s, _, html) = admin
        .post(&app, "/admin/institutions/universities", &form)
        .await;
    assert_eq!(s, 403);
    assert!(html.contains(r#"href="/settings#mfa-title""#));
    assert!(
        audit_actors(&app, "catalogue.university_saved")
            .await
            .is_empty()
    );
}
