//! `myqcm`: one binary, several roles (see `myqcm --help`).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use myqcm_app::{Config, config, telemetry};
use myqcm_domain::permissions::{AdminScope, Role, UnknownName};
use myqcm_services::identity::ClientMeta;
use myqcm_services::identity::accounts::{HashedPassword, NewAccount, Origin, create_account};
use tokio::sync::watch;

/// mimalloc instead of glibc malloc: under a steady answer load glibc's per-thread arenas kept
/// what they had freed (argon2's 19 MiB blocks at sign-in above all) and the server's RSS rose
/// by half in ten minutes; mimalloc returns freed pages (docs/PERFORMANCE.md, "Soak").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "myqcm",
    version,
    about = "MyQCM: adaptive MCQ training for medical students"
)]
struct Cli {
    /// Optional TOML configuration file (environment variables override it).
    #[arg(long, env = "MYQCM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server, with the job worker in the same process unless --no-worker.
    Serve {
        /// Do not run the job worker in this process (run `myqcm worker` separately).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run background jobs only.
    Worker,
    /// Write one zip archive of the database (SQLite: `VACUUM INTO`; PostgreSQL: `pg_dump`),
    /// the blobs and a manifest with a SHA-256 of every part. Safe while the server runs.
    Backup {
        /// The archive to create (must not exist).
        #[arg(long)]
        output: PathBuf,
    },
    /// Restore an archive of `myqcm backup` into an empty database and blob store (the
    /// configured ones), after checking every part's checksum; then apply pending migrations.
    Restore {
        /// The archive to read.
        archive: PathBuf,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load demonstration data (refused in production).
    Seed {
        /// Load the demo accounts and catalogue.
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Fit item and KC parameters from the graded attempts in the database into a candidate
    /// parameter set; or, with --input, item parameters (1PL/2PL/3PL) and learner abilities from
    /// a responses CSV (`learner,item,score`, score in [0, 1]) for research and data checks.
    Calibrate(myqcm_app::calibrate::CalibrateArgs),
    /// Compare P(correct) models on held-out recent attempts (item mean, learner mean, Elo,
    /// IRT 1PL/2PL/3PL, BKT and the served model): predictions CSV and a report (JSON, CSV, HTML).
    /// From an attempt log with --input (research mode), else from the configured database.
    Evaluate(myqcm_app::evaluate::EvaluateArgs),
    /// Parameter sets: list them, or publish a candidate through the release gate.
    Params {
        #[command(subcommand)]
        command: ParamsCommand,
    },
    /// Import items and taxonomy from JSON, CSV or .xlsx (all-or-nothing unless --partial).
    Import {
        /// The file to read.
        file: PathBuf,
        /// json, csv or xlsx (default: from the extension).
        #[arg(long)]
        format: Option<String>,
        /// Keep the good rows when some are bad.
        #[arg(long)]
        partial: bool,
        /// Course code for rows that have none (the earlier system's spreadsheets).
        #[arg(long)]
        course: Option<String>,
        /// Status of new items: draft, in_review or approved.
        #[arg(long, default_value = "in_review")]
        status: String,
        /// Email of the account recorded as author of new items.
        #[arg(long)]
        author: Option<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Export items and taxonomy as JSON, CSV or .xlsx.
    Export {
        /// The file to write.
        file: PathBuf,
        /// Write the taxonomy (KC trees; JSON adds the curriculum and blueprint) instead of items.
        #[arg(long)]
        taxonomy: bool,
        /// json, csv or xlsx (default: from the extension).
        #[arg(long)]
        format: Option<String>,
    },
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ParamsCommand {
    /// Every parameter set: id, status, created, the release gate's verdict.
    List,
    /// Judge a candidate on the most recent held-out attempts against the set in use and
    /// publish it when the gate passes (it becomes active, the previous set retired); else it
    /// is kept as rejected with its report and the command fails with the reason.
    Publish {
        /// The candidate's id (from `myqcm params list`).
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an account; the password is read from a prompt, or from standard input when it is
    /// not a terminal (never from the command line).
    Create {
        /// Email address of the account.
        #[arg(long)]
        email: String,
        /// Role to grant; repeat for several (student, author, reviewer, admin).
        #[arg(long = "role", required = true, value_parser = parse_name::<Role>)]
        roles: Vec<Role>,
        /// Admin scope to grant with the admin role; repeat for several (default: super).
        #[arg(long = "scope", value_parser = parse_name::<AdminScope>)]
        scopes: Vec<AdminScope>,
        /// Name shown in the interface.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
    /// Activation cards.
    Cards {
        #[command(subcommand)]
        command: CardsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum CardsCommand {
    /// Mint a batch of cards for a plan; the codes are printed once (only their HMACs are
    /// stored). Revoke a batch with `POST /api/v1/admin/card-batches/{id}/revoke`.
    Mint {
        /// Plan code the cards give (not the free plan).
        #[arg(long)]
        plan: String,
        /// Number of cards (1–10 000).
        #[arg(long)]
        count: u32,
        /// Cards not redeemed by then stop working: YYYY-MM-DD (end of that day, Algerian
        /// time) or an RFC 3339 instant.
        #[arg(long)]
        expires: Option<String>,
        /// A note for the batch (reseller, print run).
        #[arg(long, default_value = "")]
        label: String,
        /// Also write the codes as a printing CSV (code, plan, expires_at, batch).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Import the earlier system's unredeemed codes (6 groups of 4 characters A-Z0-9, one a
    /// line; blank lines and `#` comments skipped) as one batch; only their HMACs are stored.
    Import {
        /// Plan code the cards give (not the free plan).
        #[arg(long)]
        plan: String,
        /// The file of codes.
        #[arg(long)]
        input: PathBuf,
        /// Cards not redeemed by then stop working: YYYY-MM-DD (end of that day, Algerian
        /// time) or an RFC 3339 instant.
        #[arg(long)]
        expires: Option<String>,
        /// A note for the batch (default `legacy import`).
        #[arg(long, default_value = "")]
        label: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("myqcm: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Before telemetry: its exporters build rustls clients.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Held to the end of `main`: dropping it flushes the last spans and error reports.
    let _telemetry = match telemetry::init(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("myqcm: cannot start telemetry: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("myqcm: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "command failed");
            eprintln!("myqcm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, reason = "the command's report")]
fn print_manifest(what: &str, path: &std::path::Path, m: &myqcm_app::backup::Manifest) {
    let parts: u64 = m.parts.iter().map(|p| p.bytes).sum();
    println!(
        "{what}: {} ({} database, migration {}, {} parts, {parts} bytes)",
        path.display(),
        m.backend,
        m.migration,
        m.parts.len()
    );
    for (table, n) in &m.counts {
        println!("  {table}: {n}");
    }
}

/// Serves `/metrics` on `MYQCM_METRICS_LISTEN` (unless it is empty) until `stop`; both the
/// server and the worker expose their metrics there.
async fn spawn_metrics(config: &Config, stop: &watch::Receiver<bool>) -> anyhow::Result<()> {
    if let Some(addr) = config.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr} (MYQCM_METRICS_LISTEN)"))?;
        tokio::spawn(myqcm_app::run_metrics(metrics, stop.clone()));
    }
    Ok(())
}

fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        myqcm_app::shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Backup { output } => {
            let url = &config.database_url;
            let db = myqcm_db::connect(url, None).await?;
            let blobs = myqcm_app::blob_store(&config)?;
            let m = myqcm_app::backup::backup(&db, url, &*blobs, &output).await?;
            print_manifest("backup written", &output, &m);
            Ok(())
        }
        Command::Restore { archive } => {
            let url = &config.database_url;
            let blobs = myqcm_app::blob_store(&config)?;
            let m = myqcm_app::backup::restore(&archive, url, &*blobs).await?;
            print_manifest("restored", &archive, &m);
            Ok(())
        }
        Command::Calibrate(args) if args.input.is_some() => {
            // CPU-bound and file-based: off the async workers.
            tokio::task::spawn_blocking(move || myqcm_app::calibrate::run(&args)).await?
        }
        Command::Evaluate(args) if args.input.is_some() => {
            tokio::task::spawn_blocking(move || myqcm_app::evaluate::run(&args)).await?
        }
        Command::Evaluate(args) => {
            let services = myqcm_app::build_services(&config).await?;
            myqcm_app::evaluate::run_database(&services, &args).await
        }
        Command::Calibrate(args) => {
            let services = myqcm_app::build_services(&config).await?;
            myqcm_app::calibrate::run_database(&services, &args).await
        }
        Command::Params { command } => {
            let services = myqcm_app::build_services(&config).await?;
            match command {
                ParamsCommand::List => myqcm_app::params::list(&services).await,
                ParamsCommand::Publish { id } => myqcm_app::params::publish(&services, id).await,
            }
        }
        Command::Serve { no_worker } => {
            let services = myqcm_app::build_services(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {} (MYQCM_LISTEN)", config.listen))?;
            let stop = stop_on_signal();
            spawn_metrics(&config, &stop).await?;
            myqcm_app::watch_pool(&services.db, stop.clone());
            let web = myqcm_app::web_config(&config);
            myqcm_app::schedule_job_purge(&services, &config, !no_worker).await?;
            let worker = (!no_worker).then(|| myqcm_app::worker_for(&services, &config));
            myqcm_app::run_server(listener, services, web, worker, stop).await
        }
        Command::Worker => {
            let services = myqcm_app::build_services(&config).await?;
            let stop = stop_on_signal();
            spawn_metrics(&config, &stop).await?;
            myqcm_app::watch_pool(&services.db, stop.clone());
            myqcm_app::schedule_job_purge(&services, &config, true).await?;
            myqcm_app::worker_for(&services, &config).run(stop).await;
            Ok(())
        }
        Command::Migrate => {
            myqcm_app::build_services(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed { demo: _ } => {
            if config.production {
                anyhow::bail!("the demo seed is refused when MYQCM_ENV=production");
            }
            let services = myqcm_app::build_services(&config).await?;
            let report = myqcm_app::seed::demo(&services).await?;
            println!("{report}");
            let totp = myqcm_app::identity_seed::enrol_demo_staff(&services).await?;
            println!("{totp}");
            Ok(())
        }
        Command::Import {
            file,
            format,
            partial,
            course,
            status,
            author,
            quiet,
        } => {
            let services = myqcm_app::build_services(&config).await?;
            let args = myqcm_app::import::ImportArgs {
                file,
                format,
                partial,
                course,
                status,
                author,
                quiet,
            };
            let (report, elapsed) = myqcm_app::import::run(&services, &args).await?;
            print!(
                "{}",
                myqcm_app::import::describe(&args.file, &report, elapsed)
            );
            anyhow::ensure!(
                report.committed,
                "import rejected: {} bad rows",
                report.failed
            );
            Ok(())
        }
        Command::Export {
            file,
            format,
            taxonomy,
        } => {
            let services = myqcm_app::build_services(&config).await?;
            let (items, cases) =
                myqcm_app::export::run(&services, &file, format.as_deref(), taxonomy).await?;
            println!(
                "{}: {items} items and {cases} clinical cases",
                file.display()
            );
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    roles,
                    scopes,
                    display_name,
                },
        } => {
            let services = myqcm_app::build_services(&config).await?;
            let password = read_password()?;
            let scopes = if scopes.is_empty() && roles.contains(&Role::Admin) {
                vec![AdminScope::Super]
            } else {
                scopes
            };
            let new = NewAccount {
                password: Some(HashedPassword::new(password, &roles, &email).await?),
                email,
                display_name,
                roles,
                admin_scopes: scopes,
                locale: None,
                verified: true,
            };
            let user =
                create_account(&services.deps(), new, Origin::Cli, &ClientMeta::default()).await?;
            println!(
                "created {} ({}) with roles {}",
                user.email, user.id, user.roles
            );
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Cards {
                    command:
                        CardsCommand::Mint {
                            plan,
                            count,
                            expires,
                            label,
                            csv,
                        },
                },
        } => {
            let services = myqcm_app::build_services(&config).await?;
            let expires_at = expires
                .as_deref()
                .map(myqcm_app::cards::parse_expiry)
                .transpose()?;
            let input = myqcm_services::commerce::cards::MintInput {
                plan,
                count,
                expires_at,
                label,
            };
            let minted = myqcm_app::cards::mint(&services, input, csv.as_deref()).await?;
            eprintln!(
                "batch {}: {} cards for plan {} (shown once; keep them safe)",
                minted.batch.id,
                minted.codes.len(),
                minted.batch.plan
            );
            for code in &minted.codes {
                println!("{code}");
            }
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Cards {
                    command:
                        CardsCommand::Import {
                            plan,
                            input,
                            expires,
                            label,
                        },
                },
        } => {
            let services = myqcm_app::build_services(&config).await?;
            let expires_at = expires
                .as_deref()
                .map(myqcm_app::cards::parse_expiry)
                .transpose()?;
            let batch =
                myqcm_app::cards::import(&services, plan, &input, expires_at, label).await?;
            println!(
                "batch {}: {} cards imported for plan {}",
                batch.id, batch.size, batch.plan
            );
            Ok(())
        }
    }
}

/// A role or scope name from the command line.
fn parse_name<T: std::str::FromStr<Err = UnknownName>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: UnknownName| e.to_string())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!pw.is_empty(), "no password on standard input");
        Ok(pw)
    }
}
