//! Demo seed, identity part: staff must enrol TOTP before their first staff action, so the demo
//! author, reviewer and admin are enrolled here and their secrets printed once (browser tests
//! compute codes from them).

use crate::Services;
use std::fmt::Write as _;

/// Enrols TOTP for the demo staff accounts that are not enrolled yet; returns what to print.
pub async fn enrol_demo_staff(services: &Services) -> anyhow::Result<String> {
    let deps = services.deps();
    let mut out = String::new();
    for role in ["author", "reviewer", "admin"] {
        let email = format!("{role}@demo.myqcm.local");
        let Some(a) = myqcm_db::identity::accounts::find_by_email(&services.db, &email).await?
        else {
            continue;
        };
        match myqcm_services::identity::mfa::enrol_directly(&deps, a.id).await? {
            Some(secret) => {
                let _ = writeln!(
                    out,
                    "  {role:<9} {email}  TOTP secret (base32, shown once): {secret}"
                );
            }
            None => {
                let _ = writeln!(out, "  {role:<9} {email}  TOTP already enrolled");
            }
        }
    }
    Ok(out)
}
