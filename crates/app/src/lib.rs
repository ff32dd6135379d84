//! The `myqcm` application: configuration, telemetry and the wiring of ports, web server and
//! worker. `main.rs` only parses the command line and calls in here.

pub mod ai_jobs;
pub mod backup;
pub mod backup_jobs;
pub mod calibrate;
pub mod cards;
pub mod config;
pub mod evaluate;
pub mod evaluate_html;
pub mod export;
pub mod handlers;
pub mod identity_jobs;
pub mod identity_seed;
pub mod import;
pub mod params;
pub mod payment_jobs;
pub mod seed;
pub mod telemetry;
pub mod training_jobs;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use myqcm_domain::SystemClock;
use myqcm_domain::ports::{BlobStore, Cache, Mailer};
use myqcm_integrations::{
    FileMailer, FsBlobStore, MemoryCache, RedisCache, S3BlobStore, SmtpMailer,
};
use myqcm_jobs::{PurgeJob, Registry, Worker, WorkerConfig};
use myqcm_web::{AppState, WebConfig};

use crate::handlers::MailJob;
use tokio::sync::watch;

pub use config::Config;
/// The use cases' handle every role of the binary shares (built by [`build_services`]).
pub use myqcm_services::Services;

/// How long a request waits for a PostgreSQL connection before answering 503.
pub const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the database (applying migrations), the cache, the blob store and the mailer, and
/// adds the identity settings and Google sign-in from `config`.
pub async fn build_services(config: &Config) -> anyhow::Result<Services> {
    std::fs::create_dir_all(&config.settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            config.settings.data_dir.display()
        )
    })?;
    if !config.database_url.starts_with("sqlite:") {
        // A lost PostgreSQL answers 503 within this wait instead of holding every request until
        // it returns (fault test `scripts/fault-tests.sh postgres`). SQLite keeps the default:
        // its only wait is for the single writer, which a burst may legitimately queue for.
        myqcm_db::set_connection_wait(DATABASE_WAIT);
    }
    let db = myqcm_db::connect_migrated(&config.database_url, None)
        .await
        .context("opening the database (MYQCM_DATABASE_URL)")?;
    let cache: Arc<dyn Cache> = match &config.settings.redis_url {
        Some(url) => Arc::new(
            RedisCache::connect(url, &config.settings.redis_prefix)
                .await
                .context("connecting to Redis (MYQCM_REDIS_URL)")?,
        ),
        None => Arc::new(MemoryCache::default()),
    };
    let blobs = blob_store(config)?;
    let mailer: Arc<dyn Mailer> = match &config.settings.smtp_url {
        Some(url) => {
            Arc::new(SmtpMailer::new(url, &config.settings.mail_from).context("MYQCM_SMTP_URL")?)
        }
        None => Arc::new(
            FileMailer::new(
                config.settings.data_dir.join("mail"),
                &config.settings.mail_from,
            )
            .context("MYQCM_MAIL_FROM")?,
        ),
    };
    let services = Services::new(
        db,
        cache,
        blobs,
        mailer,
        Arc::new(SystemClock),
        identity_config(config),
    );
    let services = services.with_integrations(integrations(config));
    // TOTP secrets of the first release's format get the AEAD now: migrations cannot do it, as
    // they run without `MYQCM_SECRET_KEY`.
    myqcm_services::identity::mfa::reseal_legacy_secrets(&services.deps())
        .await
        .context("re-sealing stored TOTP secrets")?;
    let services = match google_oidc(config) {
        Some(google) => services.with_google(google),
        None => services,
    };
    let services = match language_model(config) {
        Some(llm) => services.with_llm(llm),
        None => services,
    };
    let st = &config.settings;
    let services = services.with_llm_usage(myqcm_services::ai::usage::UsagePolicy {
        price_prompt_per_1k: st.llm_price_prompt_per_1k,
        price_completion_per_1k: st.llm_price_completion_per_1k,
        daily_tokens_per_author: st.llm_daily_tokens_per_author,
    });
    Ok(match payment_jobs::chargily(config)? {
        Some((gateway, mode)) => services.with_payments(gateway, mode),
        None => services,
    })
}

/// The blob store: the S3-compatible bucket of `MYQCM_BLOB_S3_BUCKET` when set, else the
/// directory `<data dir>/blobs`.
pub fn blob_store(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match &config.blob_s3 {
        Some(s3) => Arc::new(S3BlobStore::new(s3).context("MYQCM_BLOB_S3_ENDPOINT")?),
        None => Arc::new(FsBlobStore::new(config.settings.data_dir.join("blobs"))),
    })
}

/// Which integrations `config` switches on, for the admin console's overview: kinds and
/// on/off only, never a URL, key or password.
pub fn integrations(config: &Config) -> myqcm_services::overview::Integrations {
    let st = &config.settings;
    let postgres = config.database_url.starts_with("postgres");
    myqcm_services::overview::Integrations {
        production: config.production,
        database: if postgres { "postgres" } else { "sqlite" }.into(),
        cache: if st.redis_url.is_some() {
            "redis"
        } else {
            "memory"
        }
        .into(),
        mail: if st.smtp_url.is_some() {
            "smtp"
        } else {
            "files"
        }
        .into(),
        blobs: if config.blob_s3.is_some() {
            "s3"
        } else {
            "directory"
        }
        .into(),
        email_verification: st.email_verification,
        google: st.google_client_id.is_some(),
        chargily: st
            .chargily_mode
            .as_ref()
            .map(|m| if m.trim() == "live" { "live" } else { "test" }.to_owned()),
        llm: st.llm_base_url.is_some(),
        disabled_areas: config
            .disabled_areas
            .iter()
            .map(|a| a.name().to_owned())
            .collect(),
        metrics: config.metrics_listen.is_some(),
    }
}

/// The HTTP settings derived from the configuration.
pub fn web_config(config: &Config) -> WebConfig {
    WebConfig {
        production: config.production,
        trusted_proxies: config.trusted_proxies.clone(),
        email_verification: config.settings.email_verification,
        disabled_areas: config.disabled_areas.clone(),
        contact_email: config.contact_email.clone(),
        ..WebConfig::development(config.public_base_url.clone())
    }
}

/// Google sign-in when `MYQCM_GOOGLE_CLIENT_ID` is set (callback under the public URL).
pub fn google_oidc(config: &Config) -> Option<Arc<dyn myqcm_domain::ports::OidcProvider>> {
    let client_id = config.settings.google_client_id.clone()?;
    let mut redirect = config.public_base_url.clone();
    redirect.set_path("/api/v1/auth/google/callback");
    let settings = myqcm_integrations::oidc::OidcSettings {
        issuer: config.settings.google_issuer.clone(),
        client_id,
        client_secret: config.settings.google_client_secret.expose().to_owned(),
        redirect_uri: redirect.to_string(),
    };
    match myqcm_integrations::oidc::GoogleOidc::new(settings) {
        Ok(g) => Some(Arc::new(g)),
        Err(e) => {
            tracing::error!(error = %e, "Google sign-in disabled: client could not be built");
            None
        }
    }
}

/// The language model when `MYQCM_LLM_BASE_URL` and `MYQCM_LLM_MODEL` are both set (unset:
/// AI features hidden).
pub fn language_model(config: &Config) -> Option<Arc<dyn myqcm_domain::ports::LanguageModel>> {
    let st = &config.settings;
    let base = st
        .llm_base_url
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())?;
    let model = st
        .llm_model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())?;
    let settings = myqcm_integrations::llm::LlmSettings::new(
        base,
        st.llm_api_key.expose().trim().to_owned(),
        model.to_owned(),
    );
    match myqcm_integrations::llm::OpenAiCompatible::new(settings) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            tracing::error!(error = %e, "AI features disabled: LLM client could not be built");
            None
        }
    }
}

/// Identity settings: keys derived from `MYQCM_SECRET_KEY`, retention periods from the
/// configuration.
pub fn identity_config(config: &Config) -> myqcm_services::identity::IdentityConfig {
    let mut c = myqcm_services::identity::IdentityConfig::new(
        &config.secret_key,
        config.public_base_url.clone(),
    );
    c.session_retention_days = config.settings.session_retention_days;
    c.audit_retention_days = config.settings.audit_retention_days;
    c.deletion_grace_days = config.settings.account_deletion_grace_days;
    c
}

/// The web layer's state.
pub fn app_state(services: &Services, web: WebConfig) -> AppState {
    AppState::new(services.clone(), web)
}

/// Every job handler of the product.
pub fn registry(services: &Services) -> Registry {
    let mut r = Registry::new();
    r.register(
        MailJob::KIND,
        Arc::new(MailJob {
            mailer: services.mailer.clone(),
            db: services.db.clone(),
            key: services.identity.mail_key,
        }),
    );
    r.register(
        identity_jobs::IdentityMaintenanceJob::KIND,
        Arc::new(identity_jobs::IdentityMaintenanceJob {
            db: services.db.clone(),
            cache: services.cache.clone(),
            clock: services.clock.clone(),
        }),
    );
    r.register(
        myqcm_services::import::jobs::KIND,
        Arc::new(crate::import::ImportJob {
            db: services.db.clone(),
            blobs: services.blobs.clone(),
            clock: services.clock.clone(),
        }),
    );
    r.register(
        identity_jobs::MailRequestJob::KIND,
        Arc::new(identity_jobs::MailRequestJob {
            deps: services.deps(),
        }),
    );
    r.register(PurgeJob::KIND, PurgeJob::handler(services.db.clone()));
    r.register(
        training_jobs::ExpireSessionsJob::KIND,
        Arc::new(training_jobs::ExpireSessionsJob {
            training: services.training.clone(),
        }),
    );
    r.register(
        training_jobs::CalibrationJob::KIND,
        Arc::new(training_jobs::CalibrationJob {
            calibration: myqcm_services::calibration::Calibration::new(
                services.db.clone(),
                services.clock.clone(),
            ),
        }),
    );
    r.register(
        training_jobs::RecomputeJob::KIND,
        Arc::new(training_jobs::RecomputeJob {
            calibration: myqcm_services::calibration::Calibration::new(
                services.db.clone(),
                services.clock.clone(),
            ),
        }),
    );
    r.register(
        training_jobs::QualityScanJob::KIND,
        Arc::new(training_jobs::QualityScanJob {
            db: services.db.clone(),
            clock: services.clock.clone(),
        }),
    );
    if let Some(payments) = &services.payments {
        r.register(
            payment_jobs::ReconcilePaymentsJob::KIND,
            Arc::new(payment_jobs::ReconcilePaymentsJob {
                payments: payments.clone(),
            }),
        );
        r.limit(payment_jobs::ReconcilePaymentsJob::KIND, 1);
    }
    if let Some(llm) = &services.llm {
        r.register(
            ai_jobs::AiGenerateJob::KIND,
            Arc::new(ai_jobs::AiGenerateJob {
                db: services.db.clone(),
                usage: services.llm_usage,
                blobs: services.blobs.clone(),
                llm: llm.clone(),
                clock: services.clock.clone(),
            }),
        );
        r.limit(ai_jobs::AiGenerateJob::KIND, 1);
        r.register(
            ai_jobs::AiSuggestKcsJob::KIND,
            Arc::new(ai_jobs::AiSuggestKcsJob {
                db: services.db.clone(),
                usage: services.llm_usage,
                llm: llm.clone(),
                clock: services.clock.clone(),
            }),
        );
        r.limit(ai_jobs::AiSuggestKcsJob::KIND, 1);
        r.register(
            ai_jobs::AiGradeQrocJob::KIND,
            Arc::new(ai_jobs::AiGradeQrocJob {
                db: services.db.clone(),
                usage: services.llm_usage,
                clock: services.clock.clone(),
                llm: llm.clone(),
                training: services.training.clone(),
            }),
        );
    }
    // Long kinds run one at a time per worker, so they never take every slot from mail.
    r.limit(myqcm_services::import::jobs::KIND, 1)
        .limit(identity_jobs::IdentityMaintenanceJob::KIND, 1)
        .limit(PurgeJob::KIND, 1)
        .limit(training_jobs::ExpireSessionsJob::KIND, 1)
        .limit(training_jobs::CalibrationJob::KIND, 1)
        .limit(training_jobs::RecomputeJob::KIND, 1)
        .limit(training_jobs::QualityScanJob::KIND, 1);
    r
}

/// Declares the hourly purge of finished jobs older than `MYQCM_JOB_RETENTION_DAYS`, the
/// recurring calibration when `MYQCM_CALIBRATION_EVERY_HOURS` is set and, in a process that
/// runs jobs (`runs_jobs`), the recurring backup when `MYQCM_BACKUP_DIR` is. A web-only
/// process (`serve --no-worker`) leaves the backup schedule alone: the directory is the
/// workers' (a Kubernetes worker mounts the backup volume, the web pods do not), and a web
/// pod without the variable must not remove the workers' schedule.
pub async fn schedule_job_purge(
    services: &Services,
    config: &Config,
    runs_jobs: bool,
) -> anyhow::Result<()> {
    PurgeJob::schedule(
        &services.db,
        config.settings.job_retention_days,
        services.clock.now(),
    )
    .await?;
    schedule_calibration(services, config.settings.calibration_every_hours).await?;
    if runs_jobs {
        schedule_backup(services, config).await?;
    }
    Ok(())
}

/// Declares `backup.run` every `MYQCM_BACKUP_EVERY_HOURS` into `MYQCM_BACKUP_DIR` (removes the
/// schedule when the directory is unset) and publishes the time of the newest archive there
/// as `myqcm_backup_last_success_timestamp_seconds`. A new schedule first runs one period
/// after the newest archive (at once when there is none), so restarts take no extra backup.
pub async fn schedule_backup(services: &Services, config: &Config) -> anyhow::Result<()> {
    let kind = backup_jobs::BackupJob::KIND;
    let Some(dir) = config.settings.backup_dir.as_deref() else {
        myqcm_db::jobs::delete_schedule(&services.db, kind).await?;
        return Ok(());
    };
    myqcm_web::observability::install_recorder();
    let every = chrono::Duration::hours(i64::from(config.settings.backup_every_hours));
    let now = services.clock.now();
    let first = backup_jobs::publish_last_success(std::path::Path::new(dir))
        .map_or(now, |newest| (newest + every).max(now));
    myqcm_db::jobs::upsert_schedule(
        &services.db,
        kind,
        kind,
        &serde_json::json!({}),
        every,
        first,
    )
    .await?;
    Ok(())
}

/// Declares `calibration.run` every `MYQCM_CALIBRATION_EVERY_HOURS` hours (24 for nightly),
/// first run one period from now; 0 (the default) declares nothing and removes an earlier
/// schedule.
pub async fn schedule_calibration(services: &Services, every_hours: u32) -> anyhow::Result<()> {
    let kind = training_jobs::CalibrationJob::KIND;
    match every_hours {
        0 => {
            myqcm_db::jobs::delete_schedule(&services.db, kind).await?;
        }
        hours => {
            let every = chrono::Duration::hours(i64::from(hours));
            myqcm_db::jobs::upsert_schedule(
                &services.db,
                kind,
                kind,
                &serde_json::json!({}),
                every,
                services.clock.now() + every,
            )
            .await?;
        }
    }
    Ok(())
}

/// A worker over `services` running every handler of [`registry`].
pub fn worker(services: &Services) -> Worker {
    worker_with(services, registry(services))
}

/// The worker of `myqcm serve` and `myqcm worker`: [`registry`] plus the handlers that need
/// the configuration (the recurring backup when `MYQCM_BACKUP_DIR` is set).
pub fn worker_for(services: &Services, config: &Config) -> Worker {
    let mut r = registry(services);
    if let Some(dir) = &config.settings.backup_dir {
        let kind = backup_jobs::BackupJob::KIND;
        r.register(
            kind,
            Arc::new(backup_jobs::BackupJob {
                db: services.db.clone(),
                database_url: config.database_url.clone(),
                blobs: services.blobs.clone(),
                dir: dir.into(),
                keep: usize::try_from(config.settings.backup_keep).unwrap_or(usize::MAX),
            }),
        );
        r.limit(kind, 1);
    }
    worker_with(services, r)
}

fn worker_with(services: &Services, registry: Registry) -> Worker {
    Worker::new(
        services.db.clone(),
        services.clock.clone(),
        Arc::new(registry),
        WorkerConfig {
            events: Some(services.cache.clone()),
            ..WorkerConfig::default()
        },
    )
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested");
}

/// Database pool connections by `state` (`in_use`, `idle`), sampled every 10 s.
pub const POOL_METRIC: &str = "myqcm_db_pool_connections";

/// Samples the database pool into [`POOL_METRIC`] until `stop` turns true.
pub fn watch_pool(db: &myqcm_db::DatabaseConnection, mut stop: watch::Receiver<bool>) {
    let db = db.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let (open, idle) = myqcm_db::pool_connections(&db);
            #[expect(clippy::cast_precision_loss, reason = "a few connections")]
            {
                let in_use = open.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX));
                metrics::gauge!(POOL_METRIC, "state" => "in_use").set(f64::from(in_use));
                metrics::gauge!(POOL_METRIC, "state" => "idle").set(idle as f64);
            }
        }
    });
}

/// Serves Prometheus `/metrics` on `listener` (`MYQCM_METRICS_LISTEN`, private) until `stop`
/// turns true.
pub async fn run_metrics(
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    myqcm_web::observability::install_recorder();
    tracing::info!(address = %listener.local_addr()?, "metrics listening");
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await.map(|_| ());
    };
    myqcm_web::serve(listener, myqcm_web::metrics_router(), shutdown).await?;
    Ok(())
}

/// Runs the HTTP server on `listener` (and `worker` in-process, when given) until `stop` turns
/// true; then stops accepting, drains requests and lets the worker finish or
/// release its job.
pub async fn run_server(
    listener: tokio::net::TcpListener,
    services: Services,
    web: WebConfig,
    worker: Option<Worker>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    myqcm_web::observability::install_recorder();
    myqcm_db::jobs::upsert_schedule(
        &services.db,
        identity_jobs::IdentityMaintenanceJob::KIND,
        identity_jobs::IdentityMaintenanceJob::KIND,
        &identity_jobs::IdentityMaintenanceJob::payload(&services.identity),
        chrono::Duration::hours(1),
        services.clock.now(),
    )
    .await?;
    myqcm_db::jobs::upsert_schedule(
        &services.db,
        training_jobs::ExpireSessionsJob::KIND,
        training_jobs::ExpireSessionsJob::KIND,
        &serde_json::json!({}),
        chrono::Duration::hours(1),
        services.clock.now(),
    )
    .await?;
    myqcm_db::jobs::upsert_schedule(
        &services.db,
        training_jobs::QualityScanJob::KIND,
        training_jobs::QualityScanJob::KIND,
        &serde_json::json!({}),
        chrono::Duration::hours(24),
        services.clock.now() + chrono::Duration::hours(1),
    )
    .await?;
    if services.payments.is_some() {
        let every = chrono::Duration::minutes(payment_jobs::ReconcilePaymentsJob::EVERY_MINUTES);
        myqcm_db::jobs::upsert_schedule(
            &services.db,
            payment_jobs::ReconcilePaymentsJob::KIND,
            payment_jobs::ReconcilePaymentsJob::KIND,
            &serde_json::json!({}),
            every,
            services.clock.now() + every,
        )
        .await?;
    } else {
        // Payments switched off: no reconciliation left without its handler.
        myqcm_db::jobs::delete_schedule(&services.db, payment_jobs::ReconcilePaymentsJob::KIND)
            .await?;
    }
    let app = myqcm_web::router(app_state(&services, web));
    let with_worker = worker.is_some();
    let worker_task = worker.map(|w| {
        let rx = stop.clone();
        tokio::spawn(async move { w.run(rx).await })
    });
    let mut server_stop = stop.clone();
    let shutdown = async move {
        let _ = server_stop.wait_for(|s| *s).await.map(|_| ());
    };
    tracing::info!(address = %listener.local_addr()?, worker = with_worker, "listening");
    myqcm_web::serve(listener, app, shutdown).await?;
    if let Some(t) = worker_task {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    Ok(())
}
