//! `myqcm admin cards mint`: a batch of activation cards for a plan, printed once on standard
//! output and optionally written as a printing CSV (cells that would start a spreadsheet
//! formula get a leading `'`). Only the cards' HMACs stay in the database. And
//! `myqcm admin cards import`: the earlier system's codes (6×4) taken over as one batch.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use myqcm_services::Services;
use myqcm_services::commerce::cards::{BatchView, LegacyImport, MintInput, Minted, printing_csv};
use myqcm_services::identity::ClientMeta;

/// Reads `--expires`: a date (the cards work until the end of that Algerian day) or an RFC 3339
/// instant.
pub fn parse_expiry(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--expires {s:?}: expected YYYY-MM-DD or an RFC 3339 instant"))?;
    let next = d.succ_opt().context("--expires: date out of range")?;
    myqcm_domain::localtime::algeria()
        .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .context("--expires: date out of range")
}

/// Mints the batch, writes the CSV when asked, and returns what was minted.
pub async fn mint(
    services: &Services,
    input: MintInput,
    csv: Option<&Path>,
) -> anyhow::Result<Minted> {
    let minted = services
        .commerce
        .mint(None, &ClientMeta::default(), input)
        .await?;
    if let Some(path) = csv {
        std::fs::write(path, printing_csv(&minted))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(minted)
}

/// The codes of an import file, one a line with its line number; blank lines and lines
/// starting with `#` are skipped.
pub fn read_codes(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i, l.to_owned()))
        .collect()
}

/// Imports the earlier system's codes in `input` (a file) as one batch for `plan`.
pub async fn import(
    services: &Services,
    plan: String,
    input: &Path,
    expires_at: Option<DateTime<Utc>>,
    label: String,
) -> anyhow::Result<BatchView> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let batch = services
        .commerce
        .import_legacy(
            &ClientMeta::default(),
            LegacyImport {
                plan,
                codes: read_codes(&text),
                expires_at,
                label,
            },
        )
        .await?;
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_expires_at_the_end_of_that_algerian_day() {
        let t = parse_expiry("2027-01-31").unwrap_or_default();
        assert_eq!(t.to_rfc3339(), "2027-01-31T23:00:00+00:00");
        assert!(parse_expiry("31/01/2027").is_err());
        let r = parse_expiry("2027-01-31T10:00:00Z").unwrap_or_default();
        assert_eq!(r.to_rfc3339(), "2027-01-31T10:00:00+00:00");
    }
}
