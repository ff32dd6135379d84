//! `myqcm import` / `myqcm export` as a user runs them (SQLite in a temporary data directory).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::process::Output;

fn myqcm(dir: &std::path::Path, args: &[&str]) -> Output {
    crate::myqcm()
        .args(args)
        .current_dir(dir)
        .env("MYQCM_DATA_DIR", dir.join("data"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_file_with_one_bad_row_imports_nothing_by_default_and_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let seed = myqcm(dir.path(), &["seed", "--demo"]);
    assert!(seed.status.success(), "{}", text(&seed));
    let mut csv = String::from("external_id,course,stem,option1,option2,option3,correct,kcs\n");
    for n in 0..30 {
        csv.push_str(&format!("cli-{n},cardio-hta,Question {n} posée en ligne de commande ?,A,B,C,2,kc-cardio-hta-def\n"));
    }
    csv.push_str(
        "cli-bad,cardio-hta,Question invalide en ligne de commande ?,A,B,C,,kc-cardio-hta-def\n",
    );
    let file = dir.path().join("items.csv");
    std::fs::write(&file, csv).unwrap();
    let f = file.to_str().unwrap();

    let out = myqcm(dir.path(), &["import", f, "--quiet"]);
    assert!(!out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("nothing imported") && t.contains("row 32, column options"),
        "{t}"
    );

    let exported = dir.path().join("after_refusal.json");
    myqcm(dir.path(), &["export", exported.to_str().unwrap()]);
    let bank = std::fs::read_to_string(&exported).unwrap();
    assert!(
        !bank.contains("cli-0"),
        "a refused file leaves nothing behind"
    );

    let out = myqcm(dir.path(), &["import", f, "--partial", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("30 created"), "{}", text(&out));
    let out = myqcm(dir.path(), &["import", f, "--partial", "--quiet"]);
    assert!(
        text(&out).contains("0 created, 0 updated, 30 unchanged"),
        "{}",
        text(&out)
    );

    for ext in ["csv", "xlsx", "json"] {
        let path = dir.path().join(format!("export.{ext}"));
        let out = myqcm(dir.path(), &["export", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let again = myqcm(dir.path(), &["import", path.to_str().unwrap(), "--quiet"]);
        assert!(again.status.success(), "{ext}: {}", text(&again));
        assert!(
            text(&again).contains(" 0 created, 0 updated"),
            "{ext}: {}",
            text(&again)
        );
    }
}
