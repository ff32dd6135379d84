//! The catalogue over real HTTP (loopback server, fresh database per test; SQLite by default,
//! PostgreSQL with `MYQCM_TEST_DATABASE_URL`): role rules, revisions, the leak test over every
//! learner-reachable read route, reports, imports as jobs, images, OpenAPI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ApiUser as User, spawn_app, test_app_wrapper};

test_app_wrapper!(
    /// The shared [`TestApp`] with the catalogue's shortcuts (Bearer users made in the database,
    /// JSON calls under `/api/v1`).
    App
);

impl App {
    async fn spawn() -> Self {
        Self(spawn_app().await)
    }

    /// Spawns and loads the demo bank (approved, authored by a separate account).
    async fn with_bank() -> Self {
        let app = Self::spawn().await;
        app.load_demo_bank().await;
        app
    }

    async fn user(&self, roles: &[&str], scopes: &[&str], totp: bool) -> User {
        self.0.api_user(roles, scopes, totp).await
    }

    /// Marks the account as enrolled in TOTP.
    async fn enrol_totp(&self, id: Uuid) {
        self.mark_totp_enrolled(id).await;
    }

    fn url(&self, p: &str) -> String {
        format!("{}/api/v1{}", self.base, p)
    }

    async fn get(&self, u: &User, p: &str) -> (u16, Value) {
        let path = format!("/api/v1{p}");
        self.send_bearer(reqwest::Method::GET, &u.token, &path, None)
            .await
    }

    async fn send(&self, method: reqwest::Method, u: &User, p: &str, body: Value) -> (u16, Value) {
        let path = format!("/api/v1{p}");
        self.send_bearer(method, &u.token, &path, Some(body)).await
    }

    async fn post(&self, u: &User, p: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, u, p, body).await
    }

    async fn put(&self, u: &User, p: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, u, p, body).await
    }
}

fn draft(stem: &str) -> Value {
    json!({
        "course": "cardio-hta",
        "kcs": [{"kc": "kc-cardio-hta-def", "weight": 1.0}],
        "content": {
            "kind": "qcs", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
            "stem": stem,
            "options": [
                {"text": "MAPA des 24 h", "correct": true, "explanation": "ZZSECRETOPTIONEXPLANATION"},
                {"text": "Échographie rénale", "correct": false, "explanation": "Bilan, pas diagnostic."}
            ],
            "explanation": "ZZSECRETGENERALEXPLANATION"
        }
    })
}

#[tokio::test]
async fn role_rules_hold_over_http() {
    let app = App::with_bank().await;
    let author = app.user(&["author"], &[], false).await;
    let other = app.user(&["author"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    let author_reviewer = app.user(&["author", "reviewer"], &[], true).await;
    let student = app.user(&["student"], &[], false).await;

    let (s, item) = app
        .post(
            &author,
            "/authoring/items",
            draft("Quel examen confirme une HTA suspectée en consultation ?"),
        )
        .await;
    assert_eq!(s, 201, "{item}");
    let id = item["id"].as_str().unwrap().to_owned();
    // Authors vs other authors' drafts.
    assert_eq!(
        app.get(&other, &format!("/authoring/items/{id}")).await.0,
        404
    );
    assert_eq!(
        app.put(
            &other,
            &format!("/authoring/items/{id}"),
            json!({"content": item["revision"]["content"]})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.post(
            &other,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "submit"})
        )
        .await
        .0,
        404
    );
    let (s, mine) = app.get(&other, "/authoring/items").await;
    assert_eq!(s, 200);
    assert!(
        mine["items"].as_array().unwrap().is_empty(),
        "another author lists nobody else's items"
    );
    // Learners vs unapproved items.
    assert_eq!(app.get(&student, &format!("/items/{id}")).await.0, 404);
    assert_eq!(
        app.get(&student, &format!("/authoring/items/{id}")).await.0,
        404
    );
    assert_eq!(
        app.post(
            &student,
            "/authoring/items",
            draft("Une question d'étudiant qui ne devrait pas exister ?")
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(
            &author,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "submit"})
        )
        .await
        .0,
        200
    );
    assert_eq!(app.get(&student, &format!("/items/{id}")).await.0, 404);
    // Authors cannot review.
    assert_eq!(
        app.post(
            &author,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"})
        )
        .await
        .0,
        403
    );
    // Reviewers vs their own items.
    let (_, own) = app
        .post(
            &author_reviewer,
            "/authoring/items",
            draft("Quelle est la cible tensionnelle chez le sujet âgé robuste ?"),
        )
        .await;
    let own_id = own["id"].as_str().unwrap();
    app.post(
        &author_reviewer,
        &format!("/authoring/items/{own_id}/transitions"),
        json!({"action": "submit"}),
    )
    .await;
    let (s, body) = app
        .post(
            &author_reviewer,
            &format!("/authoring/items/{own_id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!((s, body["code"].as_str()), (403, Some("own_item")));
    // Reject needs a reason; staff without TOTP are stopped.
    let (s, body) = app
        .post(
            &reviewer,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "reject"}),
        )
        .await;
    assert_eq!((s, body["code"].as_str()), (422, Some("validation_failed")));
    let no_totp = app.user(&["reviewer"], &[], false).await;
    let (s, body) = app
        .post(
            &no_totp,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("mfa_enrolment_required"))
    );
    let (s, body) = app
        .post(
            &reviewer,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(
        (s, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let (s, seen) = app.get(&student, &format!("/items/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(seen["options"].as_array().unwrap().len(), 2);
    // Approved items are no longer the author's to edit in place.
    let (s, body) = app
        .put(
            &author,
            &format!("/authoring/items/{id}"),
            json!({"content": item["revision"]["content"]}),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    let (s, hist) = app
        .get(&author, &format!("/authoring/items/{id}/history"))
        .await;
    assert_eq!(s, 200);
    assert!(
        hist.as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "approve" && e["actor_id"] == json!(reviewer.id))
    );
}

#[tokio::test]
async fn an_edit_to_an_approved_item_leaves_the_old_revision_readable_and_unchanged() {
    let app = App::with_bank().await;
    let author = app.user(&["author"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    let second = app.user(&["reviewer"], &[], true).await;
    let student = app.user(&["student"], &[], false).await;
    let (_, item) = app
        .post(
            &author,
            "/authoring/items",
            draft("Quel examen confirme une HTA suspectée en consultation ?"),
        )
        .await;
    let id = item["id"].as_str().unwrap().to_owned();
    app.post(
        &author,
        &format!("/authoring/items/{id}/transitions"),
        json!({"action": "submit"}),
    )
    .await;
    let (_, approved) = app
        .post(
            &reviewer,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    let old = approved["revision"].clone();
    let (_, learner_before) = app.get(&student, &format!("/items/{id}")).await;
    assert_eq!(learner_before["revision_id"], old["id"]);
    let mut content = old["content"].clone();
    content["stem"] =
        json!("Quel examen confirme le diagnostic d'une HTA suspectée en consultation ?");
    let (s, edited) = app
        .put(
            &reviewer,
            &format!("/authoring/items/{id}"),
            json!({"content": content}),
        )
        .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["revision"]["number"], 2);
    assert_eq!(edited["status"], "in_review");
    let (s, reread) = app
        .get(
            &author,
            &format!(
                "/authoring/items/{id}/revisions/{}",
                old["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(reread, old, "revision 1 is unchanged");
    let (_, all) = app
        .get(&author, &format!("/authoring/items/{id}/revisions"))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(
        app.post(
            &reviewer,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(
            &second,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"})
        )
        .await
        .0,
        200
    );
    let (_, learner_after) = app.get(&student, &format!("/items/{id}")).await;
    assert_eq!(learner_after["revision_id"], edited["revision"]["id"]);
}

const FORBIDDEN_KEYS: &[&str] = &["correct", "explanation", "expected", "variants", "keywords"];

fn assert_no_key_material(path: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let lk = k.to_lowercase();
                assert!(
                    !FORBIDDEN_KEYS.iter().any(|f| lk.contains(f)),
                    "{path} exposes key {k:?}"
                );
                assert_no_key_material(path, x);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_key_material(path, x)),
        _ => {}
    }
}

/// A run of plain text (no Markdown syntax) from `s`, to look for in a payload.
fn plain_window(s: &str) -> Option<String> {
    let run: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == ' ')
        .collect();
    (run.trim().chars().count() >= 12).then(|| run.trim().to_owned())
}

#[tokio::test]
async fn no_learner_route_serves_keys_explanations_or_qroc_answers() {
    let app = App::with_bank().await;
    let student = app.user(&["student"], &[], false).await;
    let author = app.user(&["author"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    // A draft with recognisable secrets must never show up either.
    let (_, d) = app
        .post(
            &author,
            "/authoring/items",
            draft("ZZDRAFTSTEM une question en cours de rédaction ?"),
        )
        .await;
    let draft_id = d["id"].as_str().unwrap().to_owned();

    let mut bodies: Vec<(String, String)> = Vec::new();
    let mut fetch = async |p: String| -> Value {
        let (s, v) = app.get(&student, &p).await;
        assert_eq!(s, 200, "{p}: {v}");
        assert_no_key_material(&p, &v);
        bodies.push((p, v.to_string()));
        v
    };
    fetch("/curriculum".into()).await;
    fetch("/curriculum?year=3".into()).await;
    fetch("/institutions".into()).await;
    for subject in ["cardio", "pneumo", "nephro"] {
        fetch(format!("/subjects/{subject}/kcs")).await;
    }
    fetch("/blueprints/3".into()).await;
    // Every approved item, by paging through the whole catalogue, then each one by id.
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let p = match &next {
            Some(c) => format!("/items?limit=25&before={c}"),
            None => "/items?limit=25".into(),
        };
        let page = fetch(p).await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        ids.len(),
        162,
        "every standalone approved item is listed, the draft is not"
    );
    assert!(!ids.contains(&draft_id));
    for q in [
        "?subject=cardio&type=qroc",
        "?course=nephro-ira",
        "?kc=kc-cardio-hta-def",
        "?locale=ar",
        "?difficulty=hard",
        "?q=insuffisance",
        "?source=series",
    ] {
        fetch(format!("/items{q}")).await;
    }
    for id in &ids {
        fetch(format!("/items/{id}")).await;
    }
    let cases = fetch("/clinical-cases".into()).await;
    assert_eq!(cases.as_array().unwrap().len(), 3);
    for c in cases.as_array().unwrap() {
        fetch(format!("/clinical-cases/{}", c["id"].as_str().unwrap())).await;
    }
    let (s, report) = app
        .post(
            &student,
            &format!("/items/{}/reports", ids[0]),
            json!({"category": "typo", "body": "coquille"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_no_key_material("POST report", &report);
    fetch("/reports/mine".into()).await;

    // Answer values: compare each served item with its staff view.
    let all_text: String = bodies
        .iter()
        .map(|(_, b)| b.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !all_text.contains("ZZDRAFTSTEM") && !all_text.contains("ZZSECRET"),
        "draft content leaked"
    );
    for id in &ids {
        let (_, staff) = app.get(&reviewer, &format!("/authoring/items/{id}")).await;
        let c = &staff["revision"]["content"];
        let served = &bodies
            .iter()
            .find(|(p, _)| p == &format!("/items/{id}"))
            .unwrap()
            .1;
        let stem = c["stem"].as_str().unwrap().to_lowercase();
        // Text the learner legitimately sees (stem and option texts) does not count as a leak.
        let visible = format!(
            "{stem} {}",
            c["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["text"].as_str().unwrap().to_lowercase())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(w) = plain_window(c["explanation"].as_str().unwrap_or("")) {
            assert!(
                visible.contains(&w.to_lowercase()) || !served.contains(&w),
                "{id} leaks its explanation {w:?}"
            );
        }
        for o in c["options"].as_array().unwrap() {
            if let Some(w) = plain_window(o["explanation"].as_str().unwrap_or("")) {
                assert!(
                    visible.contains(&w.to_lowercase()) || !served.contains(&w),
                    "{id} leaks an option explanation {w:?}"
                );
            }
        }
        if let Some(q) = c["qroc"].as_object() {
            for ans in
                std::iter::once(&q["expected"]).chain(q["variants"].as_array().unwrap().iter())
            {
                let a = ans.as_str().unwrap();
                if a.chars().count() >= 4 && !visible.contains(&a.to_lowercase()) {
                    assert!(
                        !served
                            .to_lowercase()
                            .contains(&format!("\"{}\"", a.to_lowercase())),
                        "{id} leaks its QROC answer {a:?}"
                    );
                }
            }
        }
    }
    // Staff routes are closed to learners.
    for (p, expected) in [
        ("/authoring/items".to_owned(), 403),
        (format!("/authoring/items/{}", ids[0]), 404),
        (format!("/authoring/items/{}/revisions", ids[0]), 404),
        (format!("/authoring/items/{}/history", ids[0]), 404),
        ("/review/reports".to_owned(), 403),
        ("/admin/export".to_owned(), 403),
    ] {
        assert_eq!(app.get(&student, &p).await.0, expected, "{p}");
    }
}

#[tokio::test]
async fn reports_are_triaged_and_the_reporter_sees_the_outcome() {
    let app = App::with_bank().await;
    let student = app.user(&["student"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    let (_, page) = app.get(&student, "/items?limit=1").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post(
            &student,
            &format!("/items/{id}/reports"),
            json!({"category": "other"})
        )
        .await
        .0,
        422
    );
    let (s, r) = app
        .post(
            &student,
            &format!("/items/{id}/reports"),
            json!({"category": "wrong_key", "body": "La B me semble juste aussi."}),
        )
        .await;
    assert_eq!(s, 201);
    let rid = r["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&student, "/review/reports").await.0, 403);
    let (_, queue) = app.get(&reviewer, "/review/reports").await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    let (s, _) = app
        .post(
            &reviewer,
            &format!("/review/reports/{rid}"),
            json!({"status": "rejected"}),
        )
        .await;
    assert_eq!(s, 422, "rejecting needs an answer for the reporter");
    let (s, _) = app
        .post(
            &reviewer,
            &format!("/review/reports/{rid}"),
            json!({"status": "rejected", "resolution": "La B est fausse : voir l'explication."}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, mine) = app.get(&student, "/reports/mine").await;
    assert_eq!(mine[0]["status"], "rejected");
    assert_eq!(
        mine[0]["resolution"],
        "La B est fausse : voir l'explication."
    );
    assert_eq!(
        app.post(
            &reviewer,
            &format!("/review/reports/{rid}"),
            json!({"status": "fixed"})
        )
        .await
        .0,
        409
    );
}

#[tokio::test]
async fn an_admin_import_runs_as_a_job_with_progress_and_a_row_report() {
    let app = App::with_bank().await;
    let admin = app.user(&["admin"], &["content"], true).await;
    let author = app.user(&["author"], &[], false).await;
    let csv = "external_id,type,course,stem,option1,option2,correct,kcs\n\
job-1,qcs,cardio-hta,Première question importée par l'administration ?,A,B,1,kc-cardio-hta-def\n\
job-2,qcs,cardio-hta,Deuxième question importée par l'administration ?,A,B,3,kc-cardio-hta-def\n";
    let send = |u: &User, q: &str| {
        app.client
            .post(app.url(&format!("/admin/imports?{q}")))
            .bearer_auth(&u.token)
            .body(csv)
            .send()
    };
    assert_eq!(send(&author, "format=csv").await.unwrap().status(), 403);
    let r = send(&admin, "format=csv").await.unwrap();
    assert_eq!(r.status(), 202);
    let run: Value = r.json().await.unwrap();
    assert_eq!(run["status"], "queued");
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (_, done) = app
        .get(
            &admin,
            &format!("/admin/imports/{}", run["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["report"]["committed"], false);
    assert_eq!(done["report"]["errors"][0]["row"], 3);
    assert_eq!(done["report"]["errors"][0]["column"], "correct");
    let run: Value = send(&admin, "format=csv&partial=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (_, done) = app
        .get(
            &admin,
            &format!("/admin/imports/{}", run["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (done["status"].as_str(), done["report"]["created"].as_u64()),
        (Some("done"), Some(1)),
        "{done}"
    );
    assert_eq!(done["processed"], done["total"]);
    // Export in the three formats.
    for f in ["json", "csv", "xlsx"] {
        let r = app
            .client
            .get(app.url(&format!("/admin/export?format={f}")))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{f}");
        assert!(!r.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn images_are_typed_by_content_and_served_with_nosniff() {
    let app = App::spawn().await;
    let author = app.user(&["author"], &[], false).await;
    let up = |body: Vec<u8>| {
        app.client
            .post(app.url("/authoring/images"))
            .bearer_auth(&author.token)
            .body(body)
            .send()
    };
    let r = up(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = up(b"<html><script>alert(1)</script></html>".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 64]);
    let r = up(png.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with("/api/v1/media/"));
    let got = app
        .client
        .get(format!("{}{url}", app.base))
        .bearer_auth(&author.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);
    // The reviewer preview keeps our own images and drops foreign ones, like every page.
    let (s, prev) = app.post(&author, "/authoring/preview", json!({"markdown": format!("![ecg]({url}) ![x](https://evil/pixel) <script>alert(1)</script>")})).await;
    assert_eq!(s, 200);
    let html = prev["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("src=\"{url}\""))
            && !html.contains("evil")
            && !html.contains("<script"),
        "{html}"
    );
}

/// The attack: a figure that gives the answer away sits in a draft; a learner, another author
/// or someone signed out fetches it by its URL. An image is served only to those who may read
/// an item that uses it: the draft's author and reviewers while it is a draft, every signed-in
/// reader once it is approved; never to signed-out callers.
#[tokio::test]
async fn images_follow_the_items_that_use_them() {
    let app = App::with_bank().await;
    let author = app.user(&["author"], &[], false).await;
    let other = app.user(&["author"], &[], false).await;
    let student = app.user(&["student"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[7u8; 32]);
    let r = app
        .client
        .post(app.url("/authoring/images"))
        .bearer_auth(&author.token)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let fetch = |who: Option<&User>| {
        let mut rb = app.client.get(format!("{}{url}", app.base));
        if let Some(u) = who {
            rb = rb.bearer_auth(&u.token);
        }
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    let mut d = draft("Quel tracé montre cet ECG ?");
    d["content"]["stem"] = json!(format!("Quel tracé montre cet ECG ? ![ecg]({url})"));
    let (s, item) = app.post(&author, "/authoring/items", d).await;
    assert_eq!(s, 201, "{item}");
    let id = item["id"].as_str().unwrap().to_owned();
    // A draft's image: its author and reviewers only.
    assert_eq!(fetch(None).await, 404);
    assert_eq!(fetch(Some(&student)).await, 404);
    assert_eq!(fetch(Some(&other)).await, 404);
    assert_eq!(fetch(Some(&author)).await, 200);
    assert_eq!(fetch(Some(&reviewer)).await, 200);
    // Approved: every signed-in reader, still nobody signed out.
    let (s, v) = app
        .post(
            &author,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "submit"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .post(
            &reviewer,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetch(Some(&student)).await, 200);
    assert_eq!(fetch(Some(&other)).await, 200);
    assert_eq!(fetch(None).await, 404);
    // An image nobody uses stays its uploader's.
    let r = app
        .client
        .post(app.url("/authoring/images"))
        .bearer_auth(&other.token)
        .body(png)
        .send()
        .await
        .unwrap();
    let lone = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for (who, expected) in [(&other, 200), (&student, 404), (&author, 404)] {
        let got = app
            .client
            .get(format!("{}{lone}", app.base))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status().as_u16(), expected);
    }
}

#[tokio::test]
async fn blueprints_are_versioned_and_institutions_are_admin_edited() {
    let app = App::with_bank().await;
    let admin = app.user(&["admin"], &["content"], true).await;
    let student = app.user(&["student"], &[], false).await;
    let (_, bp) = app.get(&student, "/blueprints/3").await;
    assert_eq!(bp["version"], 1);
    let weights = json!({"subjects": [{"subject": "cardio", "weight": 0.5}, {"subject": "pneumo", "weight": 0.25}, {"subject": "nephro", "weight": 0.25}]});
    assert_eq!(
        app.put(
            &student,
            "/admin/blueprints/3",
            json!({"name": "x", "weights": weights})
        )
        .await
        .0,
        403
    );
    let bad = json!({"subjects": [{"subject": "cardio", "weight": 0.9}]});
    assert_eq!(
        app.put(
            &admin,
            "/admin/blueprints/3",
            json!({"name": "x", "weights": bad})
        )
        .await
        .0,
        422
    );
    let (s, v2) = app
        .put(
            &admin,
            "/admin/blueprints/3",
            json!({"name": "Examen 2027", "weights": weights}),
        )
        .await;
    assert_eq!((s, v2["version"].as_i64()), (200, Some(2)), "{v2}");
    let (_, uniform) = app.get(&student, "/blueprints/4").await;
    assert_eq!(
        uniform["version"], 0,
        "a year without a blueprint is uniform"
    );
    let (s, inst) = app.put(&admin, "/admin/institutions", json!([{"code": "u-alger", "name": "Université d'Alger 1", "faculties": [{"code": "fm-alger", "name": "Faculté de médecine d'Alger", "field": "general_medicine"}]}])).await;
    assert_eq!(s, 200, "{inst}");
    let taxonomy = json!({
        "year_of_study": 1,
        "subjects": [{"code": "anat", "name": {"fr": "Anatomie", "en": "Anatomy", "ar": "تشريح"},
                      "courses": [{"code": "anat-os", "name": {"fr": "Ostéologie", "en": "Osteology", "ar": "علم العظام"}}]}],
        "knowledge_components": [{"subject": "anat", "domain": {"code": "anat-d1", "name": {"fr": "Squelette"}},
            "topics": [{"code": "anat-t1", "name": {"fr": "Membre supérieur"}, "kcs": [{"code": "kc-anat-humerus", "name": {"fr": "Humérus"}}]}]}]
    });
    assert_eq!(
        app.put(&student, "/admin/taxonomy", taxonomy.clone())
            .await
            .0,
        403
    );
    let (s, rep) = app.put(&admin, "/admin/taxonomy", taxonomy).await;
    assert_eq!(s, 200, "{rep}");
    let (_, tree) = app.get(&student, "/curriculum?year=1").await;
    assert_eq!(tree["subjects"][0]["code"], "anat");
    assert!(
        tree["subjects"][0]["unit_id"].is_null(),
        "units are optional in year 1"
    );
    let (_, kcs) = app.get(&student, "/subjects/anat/kcs").await;
    assert_eq!(kcs.as_array().unwrap().len(), 3);
    let bad = json!({"year_of_study": 2, "subjects": [{"code": "Bad Code", "name": {"fr": "x"}}]});
    let (s, rep) = app.put(&admin, "/admin/taxonomy", bad).await;
    assert_eq!(
        (s, rep["code"].as_str()),
        (422, Some("import_rejected")),
        "{rep}"
    );
    let (_, list) = app.get(&student, "/institutions").await;
    let added = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "u-alger");
    assert_eq!(added.unwrap()["faculties"][0]["code"], "fm-alger");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|u| u["code"] == "oran-1"),
        "beside the reference list of faculties of medicine"
    );
}

#[tokio::test]
async fn a_clinical_case_is_authored_reviewed_and_served_as_an_ordered_block() {
    let app = App::with_bank().await;
    let author = app.user(&["author"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], true).await;
    let student = app.user(&["student"], &[], false).await;
    let sub = |stem: &str| draft(stem);
    let body = json!({
        "course": "cardio-hta", "locale": "fr", "title": "HTA découverte au travail",
        "scenario": "Homme de 45 ans, PA 162/98 mmHg à deux consultations.",
        "objectives": ["Confirmer le diagnostic"],
        "items": [sub("Première étape du bilan chez ce patient hypertendu ?"), sub("Quel examen confirme le diagnostic chez ce patient ?")]
    });
    let (s, case) = app.post(&author, "/authoring/cases", body).await;
    assert_eq!(s, 201, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&student, &format!("/clinical-cases/{case_id}"))
            .await
            .0,
        404
    );
    for it in case["items"].as_array().unwrap() {
        let id = it["id"].as_str().unwrap();
        app.post(
            &author,
            &format!("/authoring/items/{id}/transitions"),
            json!({"action": "submit"}),
        )
        .await;
        assert_eq!(
            app.post(
                &reviewer,
                &format!("/authoring/items/{id}/transitions"),
                json!({"action": "approve"})
            )
            .await
            .0,
            200
        );
    }
    let (s, served) = app
        .get(&student, &format!("/clinical-cases/{case_id}"))
        .await;
    assert_eq!(s, 200);
    assert_no_key_material("case", &served);
    let items = served["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (
            items[0]["case_position"].as_i64(),
            items[1]["case_position"].as_i64()
        ),
        (Some(1), Some(2))
    );
    let (_, listing) = app.get(&student, "/items?limit=100&q=patient").await;
    assert!(
        listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["case_id"].is_null()),
        "case items are served as a block, not loose"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_catalogue() {
    let app = App::spawn().await;
    let doc = app.openapi().await;
    for p in [
        "/api/v1/items",
        "/api/v1/items/{id}",
        "/api/v1/authoring/items/{id}/transitions",
        "/api/v1/admin/imports",
        "/api/v1/curriculum",
        "/api/v1/blueprints/{year}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
}

/// Second-wave review finding: staff who had not enrolled TOTP were stopped only by the
/// handlers that remembered to check, so a reviewer or content admin whose password leaked
/// could read every draft with its key through the revisions, history and case routes, and
/// create items or upload images. The attacker here holds such an account (password only) and
/// walks every staff route family; each one answers 403 `mfa_enrolment_required` and nothing
/// of the draft comes back. Once the account enrols, the same calls work.
#[tokio::test]
async fn unenrolled_staff_are_refused_on_every_staff_route() {
    let app = App::with_bank().await;
    let author = app.user(&["author"], &[], false).await;
    let reviewer = app.user(&["reviewer"], &[], false).await;
    let admin = app.user(&["admin"], &["content"], false).await;
    let (s, item) = app
        .post(
            &author,
            "/authoring/items",
            draft("Quel examen confirme une HTA suspectée au cabinet médical ?"),
        )
        .await;
    assert_eq!(s, 201, "{item}");
    let id = item["id"].as_str().unwrap().to_owned();
    let rev = item["revision"]["id"].as_str().unwrap().to_owned();
    let (s, case) = app
        .post(
            &author,
            "/authoring/cases",
            json!({
                "course": "cardio-hta", "locale": "fr", "title": "HTA au travail",
                "scenario": "Homme de 45 ans, PA 162/98 mmHg à deux consultations.",
                "items": [draft("Premier examen du bilan chez ce patient ?"), draft("Quel examen confirme ce diagnostic ici ?")]
            }),
        )
        .await;
    assert_eq!(s, 201, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 64]);

    let refused = |who: &str, route: &str, s: u16, body: &Value| {
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("mfa_enrolment_required")),
            "{who} {route}: {body}"
        );
        let text = body.to_string();
        assert!(
            !text.contains("ZZSECRET") && !text.contains("MAPA"),
            "{who} {route} leaked the draft: {text}"
        );
    };
    for u in [&reviewer, &admin] {
        let who = if u.id == reviewer.id {
            "reviewer"
        } else {
            "admin"
        };
        for route in [
            "/authoring/items?status=draft".to_owned(),
            format!("/authoring/items/{id}"),
            format!("/authoring/items/{id}/revisions"),
            format!("/authoring/items/{id}/revisions/{rev}"),
            format!("/authoring/items/{id}/history"),
            format!("/authoring/cases/{case_id}"),
            "/review/reports".to_owned(),
        ] {
            let (s, body) = app.get(u, &route).await;
            refused(who, &route, s, &body);
        }
        let (s, body) = app
            .post(
                u,
                &format!("/authoring/items/{id}/comments"),
                json!({"body": "vu"}),
            )
            .await;
        refused(who, "comment", s, &body);
        let (s, body) = app
            .post(
                u,
                "/authoring/items",
                draft("Un item écrit par un compte non protégé ?"),
            )
            .await;
        refused(who, "create item", s, &body);
        let r = app
            .client
            .post(app.url("/authoring/images"))
            .bearer_auth(&u.token)
            .body(png.clone())
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        refused(who, "upload image", s, &r.json().await.unwrap());
    }
    // Admin-only families: exports, imports, blueprints.
    let r = app
        .client
        .get(app.url("/admin/export?format=json"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    refused("admin", "export", s, &r.json().await.unwrap());
    let r = app
        .client
        .post(app.url("/admin/imports?format=csv"))
        .bearer_auth(&admin.token)
        .body("stem\nx\n")
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    refused("admin", "import", s, &r.json().await.unwrap());
    // Nothing was created on the way.
    let (_, listing) = app.get(&author, "/authoring/items?limit=100").await;
    assert_eq!(listing["items"].as_array().unwrap().len(), 3, "{listing}");
    // The same accounts, once enrolled, do their work.
    app.enrol_totp(reviewer.id).await;
    app.enrol_totp(admin.id).await;
    let (s, revs) = app
        .get(&reviewer, &format!("/authoring/items/{id}/revisions"))
        .await;
    assert_eq!(s, 200, "{revs}");
    assert!(revs.to_string().contains("ZZSECRETOPTIONEXPLANATION"));
    let (s, body) = app
        .post(
            &admin,
            "/authoring/items",
            draft("Un item écrit par un administrateur inscrit ?"),
        )
        .await;
    assert_eq!(s, 201, "{body}");
}
