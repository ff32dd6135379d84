//! `myqcm import FILE`: loads items and taxonomy from JSON, CSV or .xlsx with a progress bar,
//! prints the report (every rejected row with its column and reason) and fails when nothing was
//! written.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use myqcm_domain::catalogue::ItemStatus;
use myqcm_services::import::{self, Format, ImportOptions, ImportReport};
use uuid::Uuid;

use crate::Services;

/// Command-line options of `myqcm import`.
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// The file.
    pub file: std::path::PathBuf,
    /// Format (default: from the extension).
    pub format: Option<String>,
    /// Keep good rows when some are bad.
    pub partial: bool,
    /// Course for rows without one.
    pub course: Option<String>,
    /// Status of new items.
    pub status: String,
    /// Email of the account recorded as author (default: none, the nil id).
    pub author: Option<String>,
    /// Hide the progress bar.
    pub quiet: bool,
}

/// Runs the import and returns the report with the elapsed time.
pub async fn run(
    services: &Services,
    args: &ImportArgs,
) -> anyhow::Result<(ImportReport, std::time::Duration)> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = match &args.format {
        Some(f) => Format::parse(f).context("--format is json, csv or xlsx")?,
        None => Format::from_path(&args.file.to_string_lossy())
            .context("cannot tell the format from the extension; pass --format")?,
    };
    let status: ItemStatus = args
        .status
        .parse()
        .map_err(|e| anyhow::anyhow!("--status: {e}"))?;
    let author_id = match &args.author {
        Some(email) => {
            myqcm_db::identity::accounts::find_by_email(&services.db, email)
                .await?
                .with_context(|| format!("no account {email}"))?
                .id
        }
        None => Uuid::nil(),
    };
    let opts = ImportOptions {
        partial: args.partial,
        author_id,
        status,
        default_course: args.course.clone(),
    };
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress_bar = bar.clone();
    let progress = move |done: usize, total: usize| {
        progress_bar.set_length(total as u64);
        progress_bar.set_position(done as u64);
    };
    let started = Instant::now();
    let report = import::import(
        &services.db,
        &bytes,
        format,
        &opts,
        &progress,
        services.clock.now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    Ok((report, started.elapsed()))
}

/// The report as printed.
pub fn describe(file: &Path, report: &ImportReport, elapsed: std::time::Duration) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{}: {} rows in {:.2} s: {} created, {} updated, {} unchanged, {} rejected; {}\n",
        file.display(),
        report.total,
        elapsed.as_secs_f64(),
        report.created,
        report.updated,
        report.unchanged,
        report.failed,
        if report.committed {
            "committed"
        } else {
            "nothing imported"
        }
    );
    for e in &report.errors {
        let _ = writeln!(
            out,
            "  row {}, column {}: {}",
            e.row,
            if e.column.is_empty() { "-" } else { &e.column },
            e.reason
        );
    }
    out
}

/// `catalogue.import`: runs an import uploaded through the admin API.
pub struct ImportJob {
    /// Database.
    pub db: myqcm_db::DatabaseConnection,
    /// Where uploads are.
    pub blobs: std::sync::Arc<dyn myqcm_domain::ports::BlobStore>,
    /// Clock.
    pub clock: std::sync::Arc<dyn myqcm_domain::Clock>,
}

#[async_trait::async_trait]
impl myqcm_jobs::JobHandler for ImportJob {
    async fn run(
        &self,
        payload: serde_json::Value,
        ctx: myqcm_jobs::JobContext,
    ) -> anyhow::Result<()> {
        let p: myqcm_services::import::jobs::JobPayload = serde_json::from_value(payload)?;
        // Progress reaches the job row and its live events (pages follow them by SSE).
        let sink: myqcm_services::import::jobs::ProgressSink = std::sync::Arc::new(move |f, m| {
            let ctx = ctx.clone();
            Box::pin(async move {
                // A cancellation is seen at the end of the attempt; the import is one
                // transaction and is not cut in the middle.
                let _ = ctx.progress(f, m).await;
            })
        });
        myqcm_services::import::jobs::run(
            &self.db,
            self.blobs.as_ref(),
            self.clock.as_ref(),
            p,
            Some(sink),
        )
        .await
    }
}
