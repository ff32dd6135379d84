//! `myqcm export FILE`: writes the catalogue (items, clinical cases, curriculum, KC trees and
//! blueprint) as JSON, or the items as CSV or .xlsx, in the format `myqcm import` reads;
//! `--taxonomy` writes the KC trees (a sheet `myqcm import` recognises by its KC columns).

use anyhow::Context;
use myqcm_services::import::{Format, export};

use crate::Services;

/// Writes the export and returns the number of standalone items and cases written.
pub async fn run(
    services: &Services,
    file: &std::path::Path,
    format: Option<&str>,
    taxonomy: bool,
) -> anyhow::Result<(usize, usize)> {
    let format = match format {
        Some(f) => Format::parse(f).context("--format is json, csv or xlsx")?,
        None => Format::from_path(&file.to_string_lossy())
            .context("cannot tell the format from the extension; pass --format")?,
    };
    let bank = export::bank(&services.db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = if taxonomy {
        export::write_taxonomy(&bank, format)
    } else {
        export::write(&bank, format)
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(file, bytes).with_context(|| format!("writing {}", file.display()))?;
    Ok((bank.items.len(), bank.clinical_cases.len()))
}
