//! Catalogue use cases against a real database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`): role rules, revisions, demo bank, imports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ItemStatus, Transition};
use myqcm_domain::permissions::Role;
use myqcm_services::catalogue::{self, CatalogueError, EditInput, NewItemInput, reports};
use myqcm_services::import::{self, Format, ImportOptions};
use myqcm_testkit::{epoch, test_db};
use uuid::Uuid;

fn actor(roles: &[Role]) -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: roles.to_vec(),
        scopes: vec![],
        mfa_enrolled: true,
    }
}

fn content_admin() -> Actor {
    Actor {
        roles: vec![Role::Admin],
        scopes: vec![myqcm_domain::permissions::AdminScope::Content],
        ..actor(&[])
    }
}

fn draft_input() -> NewItemInput {
    serde_json::from_value(serde_json::json!({
        "course": "cardio-hta",
        "kcs": [{"kc": "kc-cardio-hta-def", "weight": 1.0}],
        "content": {
            "kind": "qcs", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
            "stem": "Quel examen confirme une HTA suspectée en consultation ?",
            "options": [
                {"text": "MAPA des 24 h", "correct": true, "explanation": "Référence hors cabinet."},
                {"text": "Échographie rénale", "correct": false, "explanation": "Bilan, pas diagnostic."}
            ],
            "explanation": "La mesure hors cabinet confirme le diagnostic."
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn the_demo_bank_loads_and_reloading_changes_nothing() {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.created, 162 + 12);
    let again = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 174));
    let bp = catalogue::curriculum::blueprint(&db, 3, None)
        .await
        .unwrap();
    assert_eq!(bp.version, 1);
    assert_eq!(bp.weights.subjects.len(), 3);
    let tree = catalogue::curriculum::kc_tree(&db, "cardio").await.unwrap();
    assert!(tree.iter().filter(|n| n.level == "kc").count() >= 12);
}

#[tokio::test]
async fn role_rules_hold_for_authors_reviewers_and_learners() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let author = actor(&[Role::Author]);
    let other = actor(&[Role::Author]);
    let reviewer = actor(&[Role::Reviewer]);
    let author_reviewer = actor(&[Role::Author, Role::Reviewer]);
    let student = actor(&[Role::Student]);
    let item = catalogue::create_item(&db, &author, draft_input(), epoch())
        .await
        .unwrap();
    // Another author neither sees nor edits the draft.
    assert!(matches!(
        catalogue::get_staff(&db, &other, item.id).await,
        Err(CatalogueError::NotFound)
    ));
    let edit = EditInput {
        content: item.revision.content.clone(),
        kcs: None,
    };
    assert!(matches!(
        catalogue::edit_item(&db, &other, item.id, edit.clone(), epoch()).await,
        Err(CatalogueError::NotFound)
    ));
    // Learners never see it before approval.
    assert!(matches!(
        catalogue::get_learner(&db, &student, item.id).await,
        Err(CatalogueError::NotFound)
    ));
    catalogue::transition(&db, &author, item.id, Transition::Submit, None, epoch())
        .await
        .unwrap();
    assert!(matches!(
        catalogue::get_learner(&db, &student, item.id).await,
        Err(CatalogueError::NotFound)
    ));
    // A reviewer never reviews their own item.
    let own = catalogue::create_item(&db, &author_reviewer, draft_input(), epoch())
        .await
        .unwrap();
    catalogue::transition(
        &db,
        &author_reviewer,
        own.id,
        Transition::Submit,
        None,
        epoch(),
    )
    .await
    .unwrap();
    assert!(matches!(
        catalogue::transition(
            &db,
            &author_reviewer,
            own.id,
            Transition::Approve,
            None,
            epoch()
        )
        .await,
        Err(CatalogueError::OwnItem)
    ));
    // Rejection needs a reason and sends the item back to draft.
    assert!(matches!(
        catalogue::transition(
            &db,
            &reviewer,
            item.id,
            Transition::Reject,
            Some(" "),
            epoch()
        )
        .await,
        Err(CatalogueError::Invalid(_))
    ));
    let back = catalogue::transition(
        &db,
        &reviewer,
        item.id,
        Transition::Reject,
        Some("Précisez le seuil."),
        epoch(),
    )
    .await
    .unwrap();
    assert_eq!(back.status, "draft");
    catalogue::transition(&db, &author, item.id, Transition::Submit, None, epoch())
        .await
        .unwrap();
    let ok = catalogue::transition(&db, &reviewer, item.id, Transition::Approve, None, epoch())
        .await
        .unwrap();
    assert_eq!(ok.status, ItemStatus::Approved.as_str());
    let seen = catalogue::get_learner(&db, &student, item.id)
        .await
        .unwrap();
    assert_eq!(seen.options.len(), 2);
    // The author may no longer edit it in place.
    assert!(matches!(
        catalogue::edit_item(&db, &author, item.id, edit, epoch()).await,
        Err(CatalogueError::Forbidden)
    ));
    let history = catalogue::history(&db, &reviewer, item.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.kind == "reject" && e.body == "Précisez le seuil.")
    );
}

#[tokio::test]
async fn editing_an_approved_item_keeps_the_old_revision_unchanged() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let author = actor(&[Role::Author]);
    let reviewer = actor(&[Role::Reviewer]);
    let second_reviewer = actor(&[Role::Reviewer]);
    let item = catalogue::create_item(&db, &author, draft_input(), epoch())
        .await
        .unwrap();
    catalogue::transition(&db, &author, item.id, Transition::Submit, None, epoch())
        .await
        .unwrap();
    let approved =
        catalogue::transition(&db, &reviewer, item.id, Transition::Approve, None, epoch())
            .await
            .unwrap();
    let old = approved.revision.clone();
    let mut content = old.content.clone();
    content.stem = "Quel examen confirme le diagnostic d'HTA suspecté en consultation ?".into();
    let edited = catalogue::edit_item(
        &db,
        &reviewer,
        item.id,
        EditInput { content, kcs: None },
        epoch(),
    )
    .await
    .unwrap();
    assert_eq!(edited.status, "in_review");
    assert_eq!(edited.revision.number, 2);
    let reread = catalogue::revision(&db, &reviewer, item.id, old.id)
        .await
        .unwrap();
    assert_eq!(reread.content, old.content);
    assert_eq!(reread.number, 1);
    // The editor cannot approve their own revision; another reviewer can.
    assert!(matches!(
        catalogue::transition(&db, &reviewer, item.id, Transition::Approve, None, epoch()).await,
        Err(CatalogueError::OwnItem)
    ));
    catalogue::transition(
        &db,
        &second_reviewer,
        item.id,
        Transition::Approve,
        None,
        epoch(),
    )
    .await
    .unwrap();
    assert_eq!(
        catalogue::revisions(&db, &reviewer, item.id)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn reports_go_through_triage_and_the_reporter_reads_the_outcome() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let student = actor(&[Role::Student]);
    let reviewer = actor(&[Role::Reviewer]);
    let page = catalogue::search_learner(
        &db,
        &student,
        myqcm_db::catalogue::SearchFilter {
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let item = page.items[0].id;
    let r = reports::create(
        &db,
        &student,
        item,
        "typo",
        "Faute dans l'option B",
        epoch(),
    )
    .await
    .unwrap();
    assert!(matches!(
        reports::create(&db, &reviewer, item, "typo", "x", epoch()).await,
        Err(CatalogueError::Forbidden)
    ));
    assert!(matches!(
        reports::triage(&db, &student, r.id, "accepted", None, epoch()).await,
        Err(CatalogueError::Forbidden)
    ));
    let q = reports::queue(&db, &reviewer, None, None, 20)
        .await
        .unwrap();
    assert_eq!(q.len(), 1);
    assert!(matches!(
        reports::triage(&db, &reviewer, r.id, "rejected", None, epoch()).await,
        Err(CatalogueError::Invalid(_))
    ));
    reports::triage(&db, &reviewer, r.id, "accepted", None, epoch())
        .await
        .unwrap();
    reports::triage(
        &db,
        &reviewer,
        r.id,
        "fixed",
        Some("Corrigé, merci."),
        epoch(),
    )
    .await
    .unwrap();
    let mine = reports::mine(&db, &student, None, 10).await.unwrap();
    assert_eq!(mine[0].status, "fixed");
    assert_eq!(mine[0].resolution.as_deref(), Some("Corrigé, merci."));
    assert!(matches!(
        reports::triage(&db, &reviewer, r.id, "open", None, epoch()).await,
        Err(CatalogueError::Invalid(_) | CatalogueError::WrongState(_))
    ));
}

const CSV_HEAD: &str = "external_id,type,course,stem,option1,option2,option3,correct,expected,difficulty,estimated_seconds,kcs\n";

fn csv_row(n: usize) -> String {
    format!(
        "csv-{n},,cardio-hta,Question d'import numéro {n} sur la pression artérielle ?,Option A {n},Option B {n},Option C {n},2,,medium,45,kc-cardio-hta-def\n"
    )
}

#[tokio::test]
async fn a_csv_with_one_bad_row_imports_nothing_unless_partial() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let before = myqcm_db::catalogue::count_items(&*db).await.unwrap();
    let mut csv = String::from(CSV_HEAD);
    for n in 0..20 {
        csv.push_str(&csv_row(n));
    }
    csv.push_str("csv-bad,qcs,cardio-hta,Une question sans bonne réponse valable ?,A,B,,9,,medium,45,kc-cardio-hta-def\n");
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: None,
    };
    let r = import::import(&db, csv.as_bytes(), Format::Csv, &opts, &|_, _| {}, epoch())
        .await
        .unwrap();
    assert!(!r.committed);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(
        (r.errors[0].row, r.errors[0].column.as_str()),
        (22, "correct")
    );
    assert_eq!(
        myqcm_db::catalogue::count_items(&*db).await.unwrap(),
        before
    );
    let partial = ImportOptions {
        partial: true,
        ..opts.clone()
    };
    let r = import::import(
        &db,
        csv.as_bytes(),
        Format::Csv,
        &partial,
        &|_, _| {},
        epoch(),
    )
    .await
    .unwrap();
    assert!(r.committed);
    assert_eq!((r.created, r.failed), (20, 1));
    // Idempotent: the same file again changes nothing.
    let r = import::import(
        &db,
        csv.as_bytes(),
        Format::Csv,
        &partial,
        &|_, _| {},
        epoch(),
    )
    .await
    .unwrap();
    assert_eq!((r.created, r.unchanged), (0, 20));
}

#[tokio::test]
async fn legacy_spreadsheet_columns_are_understood_and_rows_without_ids_match_by_hash() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let csv = "Question Text;Question Type;Option1;Option2;Option3;Correct Options;Answer Text;Explanation;Difficulty;Tag;Promo;Time (sec);Knowledge Components\n\
Quel diurétique est recommandé en première intention dans l'HTA ?;;Thiazidique;Furosémide;Spironolactone;1;;Les thiazidiques.;facile;exam;2019;30;kc-cardio-hta-ttt\n\
Quels sont des signes d'HTA maligne ?;QCM;Rétinopathie stade 4;Insuffisance rénale aiguë;Bradycardie;1, 2;;;difficile;livre;2020;60;kc-cardio-hta-ttt\n\
Seuil de PAS diurne en MAPA (mmHg) ?;QROC ouverte;;;;;135;;moyen;serie;;40;kc-cardio-hta-mesure\n";
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: Some("cardio-hta".into()),
    };
    let r = import::import(&db, csv.as_bytes(), Format::Csv, &opts, &|_, _| {}, epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    assert_eq!(r.created, 3);
    let r = import::import(&db, csv.as_bytes(), Format::Csv, &opts, &|_, _| {}, epoch())
        .await
        .unwrap();
    assert_eq!(r.unchanged, 3, "{:?}", r);
}

#[tokio::test]
async fn an_export_reimports_as_unchanged_in_every_format() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let bank = import::export::bank(&db).await.unwrap();
    assert_eq!(bank.items.len(), 162);
    assert_eq!(bank.clinical_cases.len(), 3);
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: None,
    };
    for format in [Format::Json, Format::Csv, Format::Xlsx] {
        let bytes = import::export::write(&bank, format).unwrap();
        let r = import::import(&db, &bytes, format, &opts, &|_, _| {}, epoch())
            .await
            .unwrap();
        assert!(r.committed, "{format:?}: {:?}", r.errors.first());
        assert_eq!(r.created, 0, "{format:?}");
        assert_eq!(r.updated, 0, "{format:?}: {:?}", r);
    }
}

#[tokio::test]
async fn translations_are_linked_to_their_french_original() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let student = actor(&[Role::Student]);
    let fr = myqcm_db::catalogue::item_by_external_id(&*db, "demo-cardio-0001")
        .await
        .unwrap()
        .unwrap();
    let view = catalogue::get_learner(&db, &student, fr.id).await.unwrap();
    let mut locales: Vec<_> = view
        .translations
        .iter()
        .map(|t| t.locale.as_str())
        .collect();
    locales.sort_unstable();
    assert_eq!(locales, ["ar", "en"]);
    let en = myqcm_db::catalogue::item_by_external_id(&*db, "demo-cardio-0001-en")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(en.translation_group_id, fr.translation_group_id);
    let en_view = catalogue::get_learner(&db, &student, en.id).await.unwrap();
    assert!(
        en_view
            .translations
            .iter()
            .any(|t| t.id == fr.id && t.locale == "fr")
    );
}

#[tokio::test]
async fn the_taxonomy_exports_and_imports_on_its_own() {
    let source = test_db().await.unwrap();
    import::load_demo_bank(&source, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let mut bank = import::export::bank(&source).await.unwrap();
    bank.items.clear();
    bank.clinical_cases.clear();
    let bytes = import::export::write(&bank, Format::Json).unwrap();
    let target = test_db().await.unwrap();
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: None,
    };
    let r = import::import(&target, &bytes, Format::Json, &opts, &|_, _| {}, epoch())
        .await
        .unwrap();
    assert!(r.committed && r.errors.is_empty(), "{r:?}");
    let tree = catalogue::curriculum::tree(&target, Some(3)).await.unwrap();
    assert_eq!(tree.subjects.len(), 3);
    assert_eq!(
        tree.subjects.iter().map(|s| s.courses.len()).sum::<usize>(),
        12
    );
    assert!(
        tree.subjects.iter().all(|s| s.unit_id.is_some()),
        "year 3 subjects sit in a unit"
    );
    let kcs = catalogue::curriculum::kc_tree(&target, "nephro")
        .await
        .unwrap();
    assert_eq!(
        kcs.iter().filter(|n| n.level == "kc").count(),
        catalogue::curriculum::kc_tree(&source, "nephro")
            .await
            .unwrap()
            .iter()
            .filter(|n| n.level == "kc")
            .count()
    );
    assert_eq!(
        catalogue::curriculum::blueprint(&target, 3, None)
            .await
            .unwrap()
            .version,
        1
    );
}

#[tokio::test]
async fn kc_trees_travel_as_sheets_in_our_columns_and_the_earlier_systems() {
    let source = test_db().await.unwrap();
    import::load_demo_bank(&source, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let bank = import::export::bank(&source).await.unwrap();
    let target = test_db().await.unwrap();
    let curriculum_only = import::bank::Bank {
        year_of_study: Some(3),
        units: bank.units.clone(),
        subjects: bank.subjects.clone(),
        ..Default::default()
    };
    assert!(
        import::apply_taxonomy(&target, &content_admin(), &curriculum_only, epoch())
            .await
            .unwrap()
            .committed
    );
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: None,
    };
    for format in [Format::Csv, Format::Xlsx] {
        let sheet = import::export::write_taxonomy(&bank, format).unwrap();
        let r = import::import(&target, &sheet, format, &opts, &|_, _| {}, epoch())
            .await
            .unwrap();
        assert!(r.committed, "{format:?}: {r:?}");
    }
    for subject in ["cardio", "pneumo", "nephro"] {
        let a = catalogue::curriculum::kc_tree(&source, subject)
            .await
            .unwrap();
        let b = catalogue::curriculum::kc_tree(&target, subject)
            .await
            .unwrap();
        let codes = |v: &[catalogue::curriculum::KcNodeView]| {
            let mut c: Vec<_> = v
                .iter()
                .map(|n| (n.code.clone(), n.level.clone()))
                .collect();
            c.sort();
            c
        };
        assert_eq!(codes(&a), codes(&b), "{subject}");
    }
    let legacy = "domain_slug,domain_name,kc_slug,kc_name,parent_slug,subject\n\
kc-domain-ecg,ECG,kc-ecg-axe,Axe du QRS,,cardio\n\
kc-domain-ecg,ECG,kc-ecg-bav,Blocs AV,,cardio\n";
    let r = import::import(
        &target,
        legacy.as_bytes(),
        Format::Csv,
        &opts,
        &|_, _| {},
        epoch(),
    )
    .await
    .unwrap();
    assert!(r.committed, "{r:?}");
    let tree = catalogue::curriculum::kc_tree(&target, "cardio")
        .await
        .unwrap();
    assert!(
        tree.iter()
            .any(|n| n.code == "kc-ecg-bav" && n.level == "kc")
    );
    assert!(
        tree.iter()
            .any(|n| n.code == "kc-domain-ecg-general" && n.level == "topic")
    );
}
