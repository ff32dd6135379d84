//! `myqcm seed --demo`: demonstration accounts, one per role, with generated passwords printed
//! once, then the demo question bank (`crates/services/seed/demo_bank.json`: curriculum, KC
//! trees, blueprint, items, clinical cases and translations), loaded approved and authored by the
//! demo author. Running it again changes nothing.

use std::fmt::Write as _;

use anyhow::Context as _;
use base64::Engine;

use crate::Services;

/// Creates the demo accounts that do not exist yet (names from the demo bank) and returns what
/// to print. Staff accounts (reviewer, admin) get a TOTP secret, enrolled, printed once with the
/// password, so browser tests can compute codes.
pub async fn demo(services: &Services) -> anyhow::Result<String> {
    let mut out = String::from("Demo accounts (passwords and TOTP secrets are shown once):\n");
    let bank_accounts = myqcm_services::import::demo_accounts();
    for role in myqcm_services::accounts::ROLES {
        let spec = bank_accounts.iter().find(|a| a.role == *role);
        let email = spec.map_or_else(|| format!("{role}@demo.myqcm.local"), |a| a.email.clone());
        if myqcm_db::users::find_by_email(&services.db, &email)
            .await?
            .is_some()
        {
            let _ = writeln!(out, "  {role:<9} {email}  (already present)");
            continue;
        }
        let password = random_password()?;
        let scopes: Vec<String> = match spec {
            Some(a) => a.admin_scopes.clone(),
            None if *role == "admin" => vec!["super".into()],
            None => vec![],
        };
        let display = spec.map_or_else(|| format!("Demo {role}"), |a| a.display_name.clone());
        let user = myqcm_services::accounts::create_account(
            &services.db,
            &email,
            &display,
            password.clone(),
            &[(*role).to_owned()],
            &scopes,
            services.clock.now(),
        )
        .await?;
        let mut line = format!("  {role:<9} {email}  password: {password}");
        if matches!(*role, "reviewer" | "admin") {
            let secret = enrol_totp(services, user.id).await?;
            let _ = write!(line, "  TOTP secret: {secret}");
        }
        let _ = writeln!(out, "{line}");
    }
    let author = myqcm_db::users::find_by_email(&services.db, "author@demo.myqcm.local")
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
    Ok(out)
}

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

/// Stores a fresh TOTP secret (RFC 4648 base32, 160 bits) as enrolled and returns it.
async fn enrol_totp(services: &Services, user_id: uuid::Uuid) -> anyhow::Result<String> {
    use myqcm_db::identity::accounts;
    let mut raw = [0u8; 20];
    getrandom_fill(&mut raw)?;
    let secret = base32(&raw);
    let account = myqcm_db::identity::accounts::get(&services.db, user_id)
        .await?
        .context("the account just created is missing")?;
    let mut a: accounts::entity::ActiveModel = account.into();
    a.totp_secret = sea_orm::ActiveValue::Set(Some(secret.clone()));
    a.totp_enabled_at = sea_orm::ActiveValue::Set(Some(services.clock.now().timestamp_millis()));
    accounts::update(&services.db, a).await?;
    Ok(secret)
}

/// RFC 4648 base32 without padding (authenticator apps read it).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in data {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(super::base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(super::base32(b"f"), "MY");
    }
}
