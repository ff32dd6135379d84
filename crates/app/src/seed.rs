//! `myqcm seed --demo`: demonstration accounts, one per role, with generated passwords printed
//! once, then the demo question bank (`crates/services/seed/demo_bank.json`: curriculum, KC
//! trees, blueprint, items, clinical cases and translations), loaded approved and authored by the
//! demo author. The demo student gets its learner profile (year 3, the Algiers faculty of
//! medicine), so it can practise at once. Running it again changes nothing.

use std::fmt::Write as _;

use anyhow::Context as _;
use base64::Engine;
use myqcm_db::identity::accounts::find_by_email;
use myqcm_domain::permissions::{AdminScope, Role, parse_list};
use myqcm_services::identity::ClientMeta;
use myqcm_services::identity::accounts::{HashedPassword, NewAccount, Origin, create_account};

use crate::Services;

/// Creates the demo accounts that do not exist yet (names from the demo bank) and returns what
/// to print. Staff TOTP enrolment (secrets printed once) is the identity seed's part, run after
/// this by `myqcm seed --demo`.
pub async fn demo(services: &Services) -> anyhow::Result<String> {
    let deps = services.deps();
    let mut out = String::from("Demo accounts (passwords are shown once):\n");
    let bank_accounts = myqcm_services::import::demo_accounts();
    for role in Role::ALL_VALUES {
        let spec = bank_accounts.iter().find(|a| a.role == role.as_str());
        let email = spec.map_or_else(|| format!("{role}@demo.myqcm.local"), |a| a.email.clone());
        if find_by_email(&services.db, &email).await?.is_some() {
            let _ = writeln!(out, "  {role:<9} {email}  (already present)");
            continue;
        }
        let password = random_password()?;
        let admin_scopes: Vec<AdminScope> = match spec {
            Some(a) => parse_list(&a.admin_scopes.join(","))?,
            None if *role == Role::Admin => vec![AdminScope::Super],
            None => vec![],
        };
        let new = NewAccount {
            display_name: spec.map_or_else(|| format!("Demo {role}"), |a| a.display_name.clone()),
            password: Some(HashedPassword::new(password.clone(), &[*role], &email).await?),
            email: email.clone(),
            roles: vec![*role],
            admin_scopes,
            locale: None,
            verified: true,
        };
        create_account(&deps, new, Origin::Seed, &ClientMeta::default()).await?;
        let _ = writeln!(out, "  {role:<9} {email}  password: {password}");
    }
    let author = find_by_email(&services.db, "author@demo.myqcm.local")
        .await?
        .context("the demo author account is missing")?;
    let report =
        myqcm_services::import::load_demo_bank(&services.db, author.id, services.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        report.committed,
        "the demo bank did not load: {:?}",
        report.errors.first()
    );
    let _ = writeln!(
        out,
        "Demo bank: {} items and case sub-items ({} new, {} updated, {} unchanged)",
        report.total, report.created, report.updated, report.unchanged
    );
    demo_student_profile(services, &mut out).await?;
    Ok(out)
}

/// The demo student's year of study (3rd, as its name says) and faculty, so it can practise at
/// once without the onboarding form. Left alone once the student has a profile.
async fn demo_student_profile(services: &Services, out: &mut String) -> anyhow::Result<()> {
    let Some(student) = find_by_email(&services.db, "student@demo.myqcm.local").await? else {
        return Ok(());
    };
    let actor = myqcm_domain::catalogue::lifecycle::Actor {
        id: student.id,
        roles: vec![Role::Student],
        scopes: vec![],
        mfa_enrolled: false,
    };
    if services.training.profile(&actor).await?.complete {
        return Ok(());
    }
    let input = myqcm_services::training::views::ProfileInput {
        university_id: None,
        faculty_id: None,
        faculty: Some(DEMO_FACULTY.into()),
        year_of_study: 3,
        exam_date: None,
        daily_minutes: None,
        mode: None,
    };
    services.training.set_profile(&actor, input).await?;
    let _ = writeln!(out, "Demo student profile: year 3, faculty {DEMO_FACULTY}");
    Ok(())
}

/// The demo student's faculty (from `crates/db/data/algerian_faculties_of_medicine.json`).
const DEMO_FACULTY: &str = "alger-1-med";

fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 15];
    getrandom_fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
    Ok(())
}
