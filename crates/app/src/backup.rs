//! `myqcm backup` and `myqcm restore`: one zip archive holding the database, the blobs and a
//! manifest.
//!
//! - **SQLite**: `VACUUM INTO` a fresh file, which is a consistent copy while the server runs.
//! - **PostgreSQL**: `pg_dump --format=custom` (found on `PATH`; refused when older than the
//!   server), restored with `pg_restore`.
//! - **Blobs**: every object of the configured blob store (the directory `<data dir>/blobs` or
//!   the S3-compatible bucket), listed and read through the `BlobStore` port, stored as is.
//! - **Manifest** (`manifest.json`): format version, application version, backend, the last
//!   migration applied, row counts of the main tables, and the SHA-256 and size of every part.
//!
//! Restore reads the manifest, checks every part against its digest before touching anything,
//! refuses a target database or blob store that is not empty, and refuses an archive made
//! by a newer schema than this binary knows; then it loads the parts and applies this binary's
//! pending migrations (expand-only, so an older backup comes up to date).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};
use myqcm_db::DatabaseConnection;
use myqcm_db::maintenance;
use myqcm_domain::ports::{BlobStore, PortError};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Version of the archive layout.
const FORMAT: u32 = 1;

/// The archive's table of contents.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Archive layout version.
    pub format: u32,
    /// `myqcm` version that wrote it.
    pub app_version: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Name of the last migration applied to the database.
    pub migration: String,
    /// Rows per table, at backup time.
    pub counts: Vec<(String, i64)>,
    /// Every other entry of the archive.
    pub parts: Vec<Part>,
}

/// One file of the archive.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Part {
    /// Path inside the archive.
    pub path: String,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

const SQLITE_PART: &str = "database.sqlite";
const PG_PART: &str = "database.pgdump";

fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&hasher.finalize()), n))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `pg_dump`/`pg_restore` must be at least the server's major version.
async fn check_pg_tool(db: &DatabaseConnection, tool: &str) -> anyhow::Result<()> {
    let out = Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| format!("{tool} not found on PATH (install the PostgreSQL client)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tool_major: i64 = text
        .split_whitespace()
        .find_map(|w| w.split('.').next()?.parse().ok())
        .with_context(|| format!("cannot read the version of {tool}: {text:?}"))?;
    let server_major = maintenance::server_major(db).await?;
    ensure!(
        tool_major >= server_major,
        "{tool} {tool_major} is older than the PostgreSQL server ({server_major}); install a newer client"
    );
    Ok(())
}

fn run_tool(mut cmd: Command) -> anyhow::Result<()> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().with_context(|| format!("running {name}"))?;
    if !out.status.success() {
        bail!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Copies every object of `blobs` into files under `dir` (one per key), in key order. An
/// object deleted between the listing and the read is left out.
async fn fetch_blobs(blobs: &dyn BlobStore, dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for key in blobs.keys().await.context("listing the blob store")? {
        // The key becomes a path under `dir`: never one that climbs out of it.
        myqcm_domain::ports::validate_blob_key(&key)?;
        let data = match blobs.get(&key).await {
            Ok(data) => data,
            Err(PortError::NotFound) => continue,
            Err(e) => return Err(e).with_context(|| format!("reading blob {key}")),
        };
        let path = dir.join(&key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &data)?;
        out.push((key, path));
    }
    Ok(out)
}

/// Writes the archive of the database at `url` and every object of `blobs` to `output`.
///
/// # Errors
/// A database, tool or file failure; nothing is left at `output` then.
pub async fn backup(
    db: &DatabaseConnection,
    url: &str,
    blobs: &dyn BlobStore,
    output: &Path,
) -> anyhow::Result<Manifest> {
    ensure!(
        !output.exists(),
        "{} exists already; choose a new file",
        output.display()
    );
    let work = tempfile::tempdir()?;
    let (part_name, part_path) = if is_postgres(url) {
        check_pg_tool(db, "pg_dump").await?;
        let path = work.path().join(PG_PART);
        let mut cmd = Command::new("pg_dump");
        cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
            .arg(&path)
            .arg("--dbname")
            .arg(url);
        run_tool(cmd)?;
        (PG_PART, path)
    } else {
        let path = work.path().join(SQLITE_PART);
        maintenance::vacuum_into(db, &path.display().to_string())
            .await
            .context("copying the SQLite database")?;
        (SQLITE_PART, path)
    };
    let mut parts = Vec::new();
    let (sha, bytes) = sha256_file(&part_path)?;
    parts.push(Part {
        path: part_name.to_owned(),
        sha256: sha,
        bytes,
    });
    let blob_paths = fetch_blobs(blobs, &work.path().join("blobs")).await?;
    for (key, p) in &blob_paths {
        let (sha, bytes) = sha256_file(p)?;
        parts.push(Part {
            path: format!("blobs/{key}"),
            sha256: sha,
            bytes,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now().to_rfc3339(),
        backend: if is_postgres(url) {
            "postgres"
        } else {
            "sqlite"
        }
        .to_owned(),
        migration: maintenance::last_migration(db)
            .await
            .context("reading the migration level")?,
        counts: maintenance::row_counts(db).await?,
        parts,
    };
    let partial = output.with_extension("partial");
    let written = (|| -> anyhow::Result<()> {
        let mut zip = zip::ZipWriter::new(File::create(&partial)?);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("manifest.json", stored)?;
        zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
        let mut copy = |name: &str, path: &Path| -> anyhow::Result<()> {
            zip.start_file(name, stored)?;
            std::io::copy(&mut File::open(path)?, &mut zip)?;
            Ok(())
        };
        copy(part_name, &part_path)?;
        for ((_, p), part) in blob_paths.iter().zip(&manifest.parts[1..]) {
            copy(&part.path, p)?;
        }
        zip.finish()?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, output)?;
    Ok(manifest)
}

/// Reads the manifest of `archive` and checks every part against its digest.
///
/// # Errors
/// Not an archive of ours, a missing or altered part, an unknown layout.
pub fn verify(archive: &Path) -> anyhow::Result<Manifest> {
    let mut zip = zip::ZipArchive::new(File::open(archive)?)
        .with_context(|| format!("{} is not a backup archive", archive.display()))?;
    let manifest: Manifest = {
        let mut f = zip
            .by_name("manifest.json")
            .context("the archive has no manifest.json")?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        serde_json::from_str(&s).context("manifest.json is not valid")?
    };
    ensure!(
        manifest.format == FORMAT,
        "archive format {} is not supported (this binary reads {FORMAT})",
        manifest.format
    );
    for part in &manifest.parts {
        ensure!(
            !part.path.contains("..") && !part.path.starts_with('/'),
            "unsafe path in the manifest: {}",
            part.path
        );
        let mut f = zip
            .by_name(&part.path)
            .with_context(|| format!("part {} is missing", part.path))?;
        let mut hasher = Sha256::new();
        let n = std::io::copy(&mut f, &mut hasher)?;
        ensure!(
            n == part.bytes && hex(&hasher.finalize()) == part.sha256,
            "part {} does not match its checksum: the archive is damaged",
            part.path
        );
    }
    Ok(manifest)
}

fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .context("not a SQLite URL")?;
    let path = rest.split('?').next().unwrap_or(rest);
    ensure!(
        !path.is_empty() && !path.contains(":memory:"),
        "restore needs a database file, not {url}"
    );
    Ok(PathBuf::from(path))
}

/// Restores `archive` into the (empty) database at `url` and the (empty) blob store `blobs`,
/// then applies pending migrations. Returns the manifest.
///
/// # Errors
/// A damaged archive, a target that is not empty, a schema newer than this binary, a tool
/// failure.
pub async fn restore(archive: &Path, url: &str, blobs: &dyn BlobStore) -> anyhow::Result<Manifest> {
    let manifest = verify(archive)?;
    ensure!(
        maintenance::known_migrations().contains(&manifest.migration),
        "the archive's schema ({}) is newer than this binary knows; restore with a newer myqcm",
        manifest.migration
    );
    let want = if is_postgres(url) {
        "postgres"
    } else {
        "sqlite"
    };
    ensure!(
        manifest.backend == want,
        "the archive holds a {} database; the target is {want}",
        manifest.backend
    );
    let present = blobs.keys().await.context("listing the blob store")?;
    if !present.is_empty() {
        bail!(
            "the blob store {blobs:?} is not empty ({} objects)",
            present.len()
        );
    }
    let mut zip = zip::ZipArchive::new(File::open(archive)?)?;
    if is_postgres(url) {
        let db = myqcm_db::connect(url, None).await?;
        let tables = maintenance::table_count(&db).await?;
        ensure!(
            tables == 0,
            "the target database is not empty ({tables} tables)"
        );
        check_pg_tool(&db, "pg_restore").await?;
        db.close().await?;
        let work = tempfile::tempdir()?;
        let dump = work.path().join(PG_PART);
        std::io::copy(&mut zip.by_name(PG_PART)?, &mut File::create(&dump)?)?;
        let mut cmd = Command::new("pg_restore");
        cmd.args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
        ])
        .arg(url)
        .arg(&dump);
        run_tool(cmd)?;
    } else {
        let path = sqlite_path(url)?;
        ensure!(
            !path.exists() || std::fs::metadata(&path)?.len() == 0,
            "the target database {} exists already; restore into a new file",
            path.display()
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = File::create(&path)?;
        std::io::copy(&mut zip.by_name(SQLITE_PART)?, &mut out)?;
        out.sync_all()?;
    }
    for part in manifest
        .parts
        .iter()
        .filter(|p| p.path.starts_with("blobs/"))
    {
        let key = &part.path["blobs/".len()..];
        let mut data = Vec::new();
        zip.by_name(&part.path)?.read_to_end(&mut data)?;
        blobs
            .put(key, data.into())
            .await
            .with_context(|| format!("writing blob {key}"))?;
    }
    let db = myqcm_db::connect_migrated(url, None).await?;
    let now = maintenance::row_counts(&db).await?;
    ensure!(
        now == manifest.counts,
        "restored row counts {now:?} differ from the archive's {:?}",
        manifest.counts
    );
    Ok(manifest)
}
