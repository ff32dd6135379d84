//! Configuration: defaults → optional `myqcm.toml` (`--config` / `MYQCM_CONFIG`) → environment
//! variables prefixed `MYQCM_` (`__` nests). Validated once at start; in production every guard
//! is on and a failure exits with status 2 naming the variable.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The development value of `MYQCM_SECRET_KEY`: public, so refused in production.
pub const DEV_SECRET_KEY: &str =
    "ZGV2ZWxvcG1lbnQtb25seS1teXFjbS1zZWNyZXQta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi11c2UtMDAwMDAwMA==";

/// A secret setting: `Debug` prints `[redacted]` (or `[unset]`), never the value. Empty means
/// unset. It serializes to its value only so figment can use the defaults.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(v: impl Into<String>) -> Self {
        Self(v.into())
    }
    /// The secret value; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() {
            "[unset]"
        } else {
            "[redacted]"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Option::<StringOrNumber>::deserialize(d)?;
        Ok(Self(v.map(|v| v.0).unwrap_or_default()))
    }
}

/// Environment values like `123` arrive as numbers; settings that are text accept them.
struct StringOrNumber(String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
            B(bool),
        }
        Ok(Self(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::F(f) => f.to_string(),
            Raw::B(b) => b.to_string(),
        }))
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StringOrNumber>::deserialize(d)?
        .map(|v| v.0)
        .filter(|s| !s.trim().is_empty()))
}

/// Every setting, flat, named as its environment variable without the `MYQCM_` prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `development` or `production`.
    pub env: String,
    /// Listen address.
    pub listen: String,
    /// Listen address of the Prometheus `/metrics` listener; empty disables it.
    pub metrics_listen: String,
    /// Public base URL (links in mail, OIDC redirect, payment return URLs).
    pub public_base_url: String,
    /// Address published for privacy requests and security reports (`/privacy`, `/terms`,
    /// `/.well-known/security.txt`); required in production.
    pub contact_email: Option<String>,
    /// Comma-separated CIDRs whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "opt_text")]
    pub trusted_proxies: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL; default: SQLite under the data dir.
    #[serde(deserialize_with = "opt_text")]
    pub database_url: Option<String>,
    /// Redis URL; unset: in-process cache.
    #[serde(deserialize_with = "opt_text")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (several deployments may share one server).
    pub redis_prefix: String,
    /// 64 random bytes, base64; every other key is derived from it.
    pub secret_key: Secret,
    /// SMTP relay URL; unset: `.eml` files under `<data dir>/mail/`.
    #[serde(deserialize_with = "opt_text")]
    pub smtp_url: Option<String>,
    /// Sender address.
    pub mail_from: String,
    /// Require verified email before training and buying (production forces it on).
    pub email_verification: bool,
    /// Comma-separated areas switched off: `sign-up`, `practice`, `progress`, `author`
    /// (hidden from the pages, their routes answer 404).
    #[serde(deserialize_with = "opt_text")]
    pub disabled_areas: Option<String>,
    /// Google OAuth client id; unset: Google sign-in hidden.
    #[serde(deserialize_with = "opt_text")]
    pub google_client_id: Option<String>,
    /// Google OAuth client secret.
    pub google_client_secret: Secret,
    /// OpenID issuer (overridable for the fake identity provider).
    pub google_issuer: String,
    /// OpenAI-compatible endpoint; unset: AI features hidden.
    #[serde(deserialize_with = "opt_text")]
    pub llm_base_url: Option<String>,
    /// API key for the LLM endpoint.
    pub llm_api_key: Secret,
    /// Model name.
    #[serde(deserialize_with = "opt_text")]
    pub llm_model: Option<String>,
    /// Estimated price of 1000 prompt tokens, micro-units of the currency (0 = unknown).
    pub llm_price_prompt_per_1k: u64,
    /// Estimated price of 1000 completion tokens, micro-units of the currency (0 = unknown).
    pub llm_price_completion_per_1k: u64,
    /// Tokens one author may use per Africa/Algiers day (generation, KC suggestions); 0 = no
    /// limit.
    pub llm_daily_tokens_per_author: u64,
    /// `test` or `live`; unset: online payment hidden.
    #[serde(deserialize_with = "opt_text")]
    pub chargily_mode: Option<String>,
    /// Chargily secret key (API calls and webhook signatures).
    pub chargily_secret_key: Secret,
    /// Chargily API base URL.
    #[serde(deserialize_with = "opt_text")]
    pub chargily_api_base: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// OTLP/HTTP collector (`http://otel-collector:4318`; `/v1/traces` is appended unless
    /// given); unset: no trace export.
    #[serde(deserialize_with = "opt_text")]
    pub otlp_endpoint: Option<String>,
    /// Sentry-compatible DSN for server errors (5xx); unset: no error reporting.
    pub sentry_dsn: Secret,
    /// Days ended sign-in sessions (with their IP addresses) are kept.
    pub session_retention_days: u32,
    /// Days audit-log rows are kept.
    pub audit_retention_days: u32,
    /// Days between a deletion request and the erasure of personal data.
    pub account_deletion_grace_days: u32,
    /// Days finished background jobs (with their payloads) are kept.
    pub job_retention_days: u32,
    /// Hours between two calibration runs from the database (`calibration.run`, candidate
    /// sets only); 0 = no recurring calibration.
    pub calibration_every_hours: u32,
    /// S3 bucket for images and documents; unset: the directory `<data dir>/blobs`.
    #[serde(deserialize_with = "opt_text")]
    pub blob_s3_bucket: Option<String>,
    /// Endpoint of an S3-compatible service (MinIO, Garage, Ceph…); unset: AWS. Path-style
    /// requests; production requires `https://`.
    #[serde(deserialize_with = "opt_text")]
    pub blob_s3_endpoint: Option<String>,
    /// Region of the bucket.
    pub blob_s3_region: String,
    /// Access key id; unset (with no secret): the instance's role from the metadata service.
    #[serde(deserialize_with = "opt_text")]
    pub blob_s3_access_key_id: Option<String>,
    /// Secret access key (required when the access key id is set).
    pub blob_s3_secret_access_key: Secret,
    /// Directory of the recurring backup's archives; unset: no recurring backup.
    #[serde(deserialize_with = "opt_text")]
    pub backup_dir: Option<String>,
    /// Hours between two recurring backups (at least 1).
    pub backup_every_hours: u32,
    /// Archives the recurring backup keeps; older ones are deleted after each success (at
    /// least 1).
    pub backup_keep: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: "development".into(),
            listen: "127.0.0.1:8080".into(),
            metrics_listen: "127.0.0.1:9464".into(),
            public_base_url: "http://127.0.0.1:8080".into(),
            trusted_proxies: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_prefix: "myqcm:".into(),
            secret_key: Secret::new(DEV_SECRET_KEY),
            smtp_url: None,
            mail_from: "MyQCM <no-reply@myqcm.local>".into(),
            email_verification: true,
            disabled_areas: None,
            contact_email: None,
            google_client_id: None,
            google_client_secret: Secret::default(),
            google_issuer: "https://accounts.google.com".into(),
            llm_base_url: None,
            llm_api_key: Secret::default(),
            llm_model: None,
            llm_price_prompt_per_1k: 0,
            llm_price_completion_per_1k: 0,
            llm_daily_tokens_per_author: myqcm_services::ai::usage::DEFAULT_DAILY_TOKENS_PER_AUTHOR,
            chargily_mode: None,
            chargily_secret_key: Secret::default(),
            chargily_api_base: None,
            log: "info".into(),
            otlp_endpoint: None,
            sentry_dsn: Secret::default(),
            session_retention_days: 90,
            audit_retention_days: 365,
            account_deletion_grace_days: 14,
            job_retention_days: 14,
            calibration_every_hours: 0,
            blob_s3_bucket: None,
            blob_s3_endpoint: None,
            blob_s3_region: "us-east-1".into(),
            blob_s3_access_key_id: None,
            blob_s3_secret_access_key: Secret::default(),
            backup_dir: None,
            backup_every_hours: 24,
            backup_keep: 7,
        }
    }
}

/// A configuration problem, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable.
    pub variable: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: format!("MYQCM_{}", variable.to_uppercase()),
        message: message.into(),
    }
}

/// A secret setting and whether the feature that needs it is switched on.
#[derive(Debug)]
pub struct SecretRequirement<'a> {
    /// Field name (variable without prefix, lower case).
    pub field: &'static str,
    /// The value.
    pub value: &'a Secret,
    /// Whether its feature is on (so it must be set).
    pub required: bool,
    /// Publicly known development values refused in production.
    pub dev_values: &'static [&'static str],
    /// Setting it is what switches its feature on (empty simply means off), so it is never
    /// "empty while its feature is on".
    pub switch: bool,
}

/// The validated configuration the application runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Raw settings.
    pub settings: Settings,
    /// Production mode.
    pub production: bool,
    /// Parsed listen address.
    pub listen: SocketAddr,
    /// Parsed metrics listen address (`None`: no metrics listener).
    pub metrics_listen: Option<SocketAddr>,
    /// Parsed public URL.
    pub public_base_url: url::Url,
    /// Parsed proxy networks.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Effective database URL.
    pub database_url: String,
    /// Decoded master secret.
    pub secret_key: Vec<u8>,
    /// Areas switched off (`MYQCM_DISABLED_AREAS`).
    pub disabled_areas: Vec<myqcm_web::Area>,
    /// `MYQCM_CONTACT_EMAIL`, checked.
    pub contact_email: Option<String>,
    /// The S3-compatible blob store (`MYQCM_BLOB_S3_*`); `None`: the blob directory.
    pub blob_s3: Option<myqcm_integrations::S3Settings>,
    /// Where spans are exported (`MYQCM_OTLP_ENDPOINT` with `/v1/traces`); `None`: nowhere.
    pub otlp_traces_url: Option<url::Url>,
}

impl Settings {
    /// Every secret setting with its rule. The test `every_secret_setting_is_guarded` checks
    /// that this list names every [`Secret`] field, so a new secret cannot be forgotten here.
    pub fn secret_requirements(&self) -> Vec<SecretRequirement<'_>> {
        vec![
            SecretRequirement {
                field: "secret_key",
                value: &self.secret_key,
                required: true,
                dev_values: &[DEV_SECRET_KEY],
                switch: false,
            },
            SecretRequirement {
                field: "google_client_secret",
                value: &self.google_client_secret,
                required: self.google_client_id.is_some(),
                dev_values: &[],
                switch: false,
            },
            SecretRequirement {
                field: "llm_api_key",
                value: &self.llm_api_key,
                required: self.llm_base_url.is_some(),
                dev_values: &[],
                switch: false,
            },
            SecretRequirement {
                field: "chargily_secret_key",
                value: &self.chargily_secret_key,
                required: self.chargily_mode.is_some(),
                dev_values: &[],
                switch: false,
            },
            SecretRequirement {
                field: "blob_s3_secret_access_key",
                value: &self.blob_s3_secret_access_key,
                required: self.blob_s3_access_key_id.is_some(),
                dev_values: &[],
                switch: false,
            },
            SecretRequirement {
                field: "sentry_dsn",
                value: &self.sentry_dsn,
                required: false,
                dev_values: &[],
                switch: true,
            },
        ]
    }

    /// Validates and resolves the settings.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let production = match self.env.as_str() {
            "production" => true,
            "development" => false,
            other => {
                return Err(err(
                    "env",
                    format!("expected development or production, got {other:?}"),
                ));
            }
        };
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            err(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
            )
        })?;
        let metrics_listen = match self.metrics_listen.trim() {
            "" => None,
            addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
                err(
                    "metrics_listen",
                    format!("{addr:?} is not an address like 127.0.0.1:9464 (or empty)"),
                )
            })?),
        };
        let public_base_url = url::Url::parse(&self.public_base_url)
            .map_err(|e| err("public_base_url", format!("not a URL: {e}")))?;
        if !matches!(public_base_url.scheme(), "http" | "https") {
            return Err(err("public_base_url", "must be an http(s) URL"));
        }
        let trusted_proxies = self
            .trusted_proxies
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .map_err(|_| err("trusted_proxies", format!("{s:?} is not a CIDR")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let database_url = self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("myqcm.sqlite").display()
            )
        });
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if let Some(r) = &self.redis_url
            && !(r.starts_with("redis://") || r.starts_with("rediss://"))
        {
            return Err(err("redis_url", "must start with redis:// or rediss://"));
        }
        if let Some(mode) = &self.chargily_mode
            && !matches!(mode.as_str(), "test" | "live")
        {
            return Err(err("chargily_mode", "expected test or live"));
        }
        if self.job_retention_days == 0 {
            return Err(err("job_retention_days", "must be at least 1"));
        }
        if self.backup_every_hours == 0 {
            return Err(err("backup_every_hours", "must be at least 1"));
        }
        if self.backup_keep == 0 {
            return Err(err("backup_keep", "must be at least 1"));
        }

        for req in self.secret_requirements() {
            let v = req.value.expose().trim();
            let placeholder = v.starts_with('<') && v.ends_with('>');
            if production && (req.dev_values.contains(&v) || placeholder) {
                return Err(err(
                    req.field,
                    "is a public development value; set a real secret",
                ));
            }
            if req.required && req.value.is_empty() {
                return Err(err(
                    req.field,
                    "is empty but the feature that needs it is enabled",
                ));
            }
        }
        let disabled_areas = parse_areas(self.disabled_areas.as_deref())?;
        let contact_email = parse_contact(self.contact_email.as_deref())?;
        let blob_s3 = self.blob_s3(production)?;
        let otlp_traces_url = self.otlp_traces_url()?;
        self.check_sentry_dsn(production)?;
        let secret_key = base64::engine::general_purpose::STANDARD
            .decode(self.secret_key.expose().trim())
            .map_err(|_| err("secret_key", "must be base64"))?;
        if production {
            if secret_key.len() < 32 {
                return Err(err(
                    "secret_key",
                    "must decode to at least 32 random bytes (64 recommended)",
                ));
            }
            if public_base_url.scheme() != "https" {
                return Err(err("public_base_url", "must be https:// in production"));
            }
            if !self.email_verification {
                return Err(err(
                    "email_verification",
                    "cannot be switched off in production",
                ));
            }
            if contact_email.is_none() {
                return Err(err(
                    "contact_email",
                    "is required in production (privacy requests and security reports go there)",
                ));
            }
        }
        Ok(Config {
            production,
            listen,
            metrics_listen,
            public_base_url,
            trusted_proxies,
            database_url,
            secret_key,
            disabled_areas,
            contact_email,
            blob_s3,
            otlp_traces_url,
            settings: self,
        })
    }

    /// `MYQCM_OTLP_ENDPOINT`: the collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` is
    /// understood (the traces path is appended); a URL already ending in `/v1/traces` is kept.
    /// Plain http is allowed in production: collectors usually run beside the server (sidecar
    /// or node agent) on a private network.
    fn otlp_traces_url(&self) -> Result<Option<url::Url>, ConfigError> {
        let Some(endpoint) = self.otlp_endpoint.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let mut url = url::Url::parse(endpoint)
            .map_err(|e| err("otlp_endpoint", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(err("otlp_endpoint", "must be an http(s) URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err("otlp_endpoint", "must not have a query or fragment"));
        }
        if !url.path().ends_with("/v1/traces") {
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        Ok(Some(url))
    }

    /// `MYQCM_SENTRY_DSN`: a DSN as Sentry documents it (`https://<key>@<host>/<project>`).
    /// Reports carry error messages, so production requires https except to a loopback relay.
    fn check_sentry_dsn(&self, production: bool) -> Result<(), ConfigError> {
        if self.sentry_dsn.is_empty() {
            return Ok(());
        }
        let dsn: sentry::types::Dsn = self
            .sentry_dsn
            .expose()
            .trim()
            .parse()
            // The parse error may quote the DSN (with its key): keep it out of the message.
            .map_err(|_| {
                err(
                    "sentry_dsn",
                    "is not a DSN like https://<key>@<host>/<project>",
                )
            })?;
        let loopback = matches!(dsn.host(), "localhost" | "127.0.0.1" | "[::1]" | "::1");
        if production && dsn.scheme() != sentry::types::Scheme::Https && !loopback {
            return Err(err("sentry_dsn", "must be https:// in production"));
        }
        Ok(())
    }

    /// `MYQCM_BLOB_S3_*`: the bucket switches the S3 store on; the other settings without it
    /// are a mistake (the operator meant to share blobs), not a reason to fall back quietly.
    fn blob_s3(
        &self,
        production: bool,
    ) -> Result<Option<myqcm_integrations::S3Settings>, ConfigError> {
        let secret = &self.blob_s3_secret_access_key;
        let Some(bucket) = self.blob_s3_bucket.clone() else {
            for (field, set) in [
                ("blob_s3_endpoint", self.blob_s3_endpoint.is_some()),
                (
                    "blob_s3_access_key_id",
                    self.blob_s3_access_key_id.is_some(),
                ),
                ("blob_s3_secret_access_key", !secret.is_empty()),
            ] {
                if set {
                    return Err(err(
                        "blob_s3_bucket",
                        format!("must be set when MYQCM_{} is", field.to_uppercase()),
                    ));
                }
            }
            return Ok(None);
        };
        if let Some(endpoint) = &self.blob_s3_endpoint {
            let url = url::Url::parse(endpoint)
                .map_err(|e| err("blob_s3_endpoint", format!("not a URL: {e}")))?;
            match url.scheme() {
                "https" => {}
                "http" if !production => {}
                "http" => return Err(err("blob_s3_endpoint", "must be https:// in production")),
                _ => return Err(err("blob_s3_endpoint", "must be an http(s) URL")),
            }
        }
        if self.blob_s3_access_key_id.is_none() && !secret.is_empty() {
            return Err(err(
                "blob_s3_access_key_id",
                "must be set when MYQCM_BLOB_S3_SECRET_ACCESS_KEY is",
            ));
        }
        if self.blob_s3_region.trim().is_empty() {
            return Err(err("blob_s3_region", "must not be empty"));
        }
        Ok(Some(myqcm_integrations::S3Settings {
            bucket,
            endpoint: self.blob_s3_endpoint.clone(),
            region: self.blob_s3_region.trim().to_owned(),
            access_key_id: self.blob_s3_access_key_id.clone(),
            secret_access_key: (!secret.is_empty()).then(|| secret.expose().to_owned()),
        }))
    }
}

/// `MYQCM_CONTACT_EMAIL`: one plain address (it is printed into pages and `security.txt`, so
/// nothing but `local@domain` with printable characters).
fn parse_contact(value: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let plain = v.len() <= 254
        && v.chars()
            .all(|c| c.is_ascii_graphic() && !"<>\"(),;:[]".contains(c) || c == '@')
        && matches!(v.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'));
    if plain {
        Ok(Some(v.to_owned()))
    } else {
        Err(err(
            "contact_email",
            "must be one plain address (name@domain)",
        ))
    }
}

/// `MYQCM_DISABLED_AREAS`: a comma-separated list of area names; an unknown name is an error
/// (a typo must not leave an area open that the operator meant to close).
fn parse_areas(list: Option<&str>) -> Result<Vec<myqcm_web::Area>, ConfigError> {
    let mut out = Vec::new();
    for name in list
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.trim().is_empty())
    {
        let area = myqcm_web::Area::parse(name).ok_or_else(|| {
            let known: Vec<&str> = myqcm_web::Area::ALL.iter().map(|a| a.name()).collect();
            err(
                "disabled_areas",
                format!(
                    "unknown area {:?}; known: {}",
                    name.trim(),
                    known.join(", ")
                ),
            )
        })?;
        if !out.contains(&area) {
            out.push(area);
        }
    }
    Ok(out)
}

/// Builds the figment: defaults, then the TOML file if given, then `MYQCM_*` variables.
pub fn figment(file: Option<&Path>) -> Figment {
    let mut f = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = file {
        f = f.merge(Toml::file_exact(path));
    }
    f.merge(
        Env::prefixed("MYQCM_")
            .ignore(&[
                "config",
                "test_database_url",
                "test_redis_url",
                "e2e_base_url",
                "test_s3_url",
            ])
            .split("__"),
    )
}

/// Loads and validates the configuration.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let settings: Settings = figment(file).extract().map_err(|e| {
        let variable = e.path.first().map_or_else(
            || "MYQCM_CONFIG".to_owned(),
            |p| format!("MYQCM_{}", p.to_uppercase()),
        );
        ConfigError {
            variable,
            message: e.kind.to_string(),
        }
    })?;
    settings.validate()
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail fixes the closure's error type"
)]
mod tests {
    use super::*;
    use figment::Jail;

    fn production_env(jail: &mut Jail) {
        jail.set_env("MYQCM_ENV", "production");
        jail.set_env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example");
        jail.set_env(
            "MYQCM_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode([7u8; 64]),
        );
        jail.set_env("MYQCM_GOOGLE_CLIENT_ID", "client-id");
        jail.set_env("MYQCM_GOOGLE_CLIENT_SECRET", "google-secret-value");
        jail.set_env("MYQCM_LLM_BASE_URL", "https://llm.example/v1");
        jail.set_env("MYQCM_LLM_API_KEY", "llm-key-value");
        jail.set_env("MYQCM_CHARGILY_MODE", "live");
        jail.set_env("MYQCM_CHARGILY_SECRET_KEY", "chargily-key-value");
        jail.set_env("MYQCM_CONTACT_EMAIL", "contact@myqcm.example");
        jail.set_env("MYQCM_BLOB_S3_BUCKET", "myqcm-blobs");
        jail.set_env("MYQCM_BLOB_S3_ENDPOINT", "https://s3.example");
        jail.set_env("MYQCM_BLOB_S3_ACCESS_KEY_ID", "blob-key-id");
        jail.set_env("MYQCM_BLOB_S3_SECRET_ACCESS_KEY", "blob-secret-value");
        jail.set_env("MYQCM_SENTRY_DSN", "https://dsn-key-value@sentry.example/7");
        jail.set_env("MYQCM_OTLP_ENDPOINT", "http://otel-collector:4318");
    }

    #[test]
    fn otlp_endpoint_is_a_base_url_to_which_the_traces_path_is_added() {
        for (given, used) in [
            (
                "http://otel-collector:4318",
                "http://otel-collector:4318/v1/traces",
            ),
            (
                "https://otel.example/base/",
                "https://otel.example/base/v1/traces",
            ),
            (
                "http://127.0.0.1:4318/v1/traces",
                "http://127.0.0.1:4318/v1/traces",
            ),
        ] {
            Jail::expect_with(|jail| {
                jail.set_env("MYQCM_OTLP_ENDPOINT", given);
                let c = load(None).map_err(|e| e.to_string())?;
                assert_eq!(c.otlp_traces_url.unwrap().as_str(), used);
                Ok(())
            });
        }
        Jail::expect_with(|jail| {
            assert!(load(None).unwrap().otlp_traces_url.is_none());
            for bad in [
                "otel-collector:4318",
                "ftp://otel.example",
                "http://otel/?x=1",
            ] {
                jail.set_env("MYQCM_OTLP_ENDPOINT", bad);
                assert_eq!(
                    load(None).unwrap_err().variable,
                    "MYQCM_OTLP_ENDPOINT",
                    "{bad}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn sentry_dsn_must_parse_and_use_https_in_production_without_echoing_it() {
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_SENTRY_DSN", "not a dsn with key-3f9a");
            let e = load(None).unwrap_err();
            assert_eq!(e.variable, "MYQCM_SENTRY_DSN");
            assert!(!e.to_string().contains("key-3f9a"), "{e}");
            // Development: plain http is fine (a local relay).
            jail.set_env("MYQCM_SENTRY_DSN", "http://key@sentry.internal/3");
            load(None).map_err(|e| e.to_string())?;
            production_env(jail);
            jail.set_env("MYQCM_SENTRY_DSN", "http://key@sentry.internal/3");
            assert_eq!(load(None).unwrap_err().variable, "MYQCM_SENTRY_DSN");
            jail.set_env("MYQCM_SENTRY_DSN", "http://key@127.0.0.1:9000/3");
            load(None).map_err(|e| e.to_string())?;
            Ok(())
        });
    }

    #[test]
    fn calibration_runs_nightly_when_configured() {
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_CALIBRATION_EVERY_HOURS", "24");
            let c = load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.settings.calibration_every_hours, 24);
            jail.set_env("MYQCM_CALIBRATION_EVERY_HOURS", "nightly");
            assert_eq!(
                load(None).unwrap_err().variable,
                "MYQCM_CALIBRATION_EVERY_HOURS"
            );
            Ok(())
        });
    }

    #[test]
    fn the_s3_blob_store_is_configured_by_its_bucket() {
        Jail::expect_with(|_jail| {
            assert!(load(None).map_err(|e| e.to_string())?.blob_s3.is_none());
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_BLOB_S3_BUCKET", "blobs");
            jail.set_env("MYQCM_BLOB_S3_ENDPOINT", "http://127.0.0.1:5000");
            jail.set_env("MYQCM_BLOB_S3_ACCESS_KEY_ID", "id");
            jail.set_env("MYQCM_BLOB_S3_SECRET_ACCESS_KEY", "secret-value");
            let c = load(None).map_err(|e| e.to_string())?;
            let s3 = c.blob_s3.as_ref().expect("configured");
            assert_eq!(s3.bucket, "blobs");
            assert_eq!(s3.region, "us-east-1");
            assert_eq!(s3.secret_access_key.as_deref(), Some("secret-value"));
            assert!(!format!("{c:?}").contains("secret-value"));
            Ok(())
        });
        // Settings without the bucket, a key id without its secret, a plain-http endpoint in
        // production: each names its variable.
        for (vars, production, at_fault) in [
            (
                &[("MYQCM_BLOB_S3_ENDPOINT", "http://127.0.0.1:5000")][..],
                false,
                "MYQCM_BLOB_S3_BUCKET",
            ),
            (
                &[("MYQCM_BLOB_S3_SECRET_ACCESS_KEY", "s")][..],
                false,
                "MYQCM_BLOB_S3_BUCKET",
            ),
            (
                &[
                    ("MYQCM_BLOB_S3_BUCKET", "b"),
                    ("MYQCM_BLOB_S3_ACCESS_KEY_ID", "id"),
                ][..],
                false,
                "MYQCM_BLOB_S3_SECRET_ACCESS_KEY",
            ),
            (
                &[
                    ("MYQCM_BLOB_S3_BUCKET", "b"),
                    ("MYQCM_BLOB_S3_SECRET_ACCESS_KEY", "s"),
                ][..],
                false,
                "MYQCM_BLOB_S3_ACCESS_KEY_ID",
            ),
            (
                &[("MYQCM_BLOB_S3_ENDPOINT", "ftp://x")][..],
                true,
                "MYQCM_BLOB_S3_ENDPOINT",
            ),
            (
                &[("MYQCM_BLOB_S3_ENDPOINT", "http://minio:9000")][..],
                true,
                "MYQCM_BLOB_S3_ENDPOINT",
            ),
        ] {
            Jail::expect_with(|jail| {
                if production {
                    production_env(jail);
                }
                for (k, v) in vars {
                    jail.set_env(k, v);
                }
                assert_eq!(load(None).unwrap_err().variable, at_fault, "{vars:?}");
                Ok(())
            });
        }
    }

    #[test]
    fn development_defaults_load_without_any_variable() {
        Jail::expect_with(|_jail| {
            let c = load(None).map_err(|e| e.to_string())?;
            assert!(!c.production);
            assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(
                c.metrics_listen.map(|a| a.to_string()).as_deref(),
                Some("127.0.0.1:9464")
            );
            assert_eq!(c.database_url, "sqlite://./data/myqcm.sqlite?mode=rwc");
            assert!(c.settings.redis_url.is_none());
            assert_eq!(c.settings.job_retention_days, 14);
            assert_eq!(
                c.settings.calibration_every_hours, 0,
                "no recurring calibration"
            );
            assert_eq!(c.settings.backup_dir, None, "no recurring backup");
            assert_eq!(
                (c.settings.backup_every_hours, c.settings.backup_keep),
                (24, 7)
            );
            Ok(())
        });
    }

    #[test]
    fn a_full_production_configuration_is_accepted() {
        Jail::expect_with(|jail| {
            production_env(jail);
            let c = load(None).map_err(|e| e.to_string())?;
            assert!(c.production);
            assert_eq!(c.secret_key.len(), 64);
            Ok(())
        });
    }

    /// Enumerates the secret fields from the settings' `Debug` output (a `Secret` prints as
    /// `[redacted]` or `[unset]`), so a secret added later is covered without touching this test.
    #[test]
    fn every_secret_setting_is_guarded() {
        let debug = format!("{:#?}", Settings::default());
        let secret_fields: Vec<String> = debug
            .lines()
            .filter_map(|l| l.trim().strip_suffix(','))
            .filter_map(|l| l.split_once(": "))
            .filter(|(_, v)| *v == "[redacted]" || *v == "[unset]")
            .map(|(k, _)| k.to_owned())
            .collect();
        assert!(secret_fields.len() >= 4, "{secret_fields:?}");
        let defaults = Settings::default();
        let listed: Vec<&str> = defaults
            .secret_requirements()
            .iter()
            .map(|r| r.field)
            .collect();
        for field in &secret_fields {
            assert!(
                listed.contains(&field.as_str()),
                "secret {field} has no rule in secret_requirements()"
            );
            let var = format!("MYQCM_{}", field.to_uppercase());
            let rule = defaults
                .secret_requirements()
                .into_iter()
                .find(|r| r.field == field)
                .unwrap();
            // Empty while its feature is on → exit naming the variable.
            Jail::expect_with(|jail| {
                if rule.switch {
                    // Empty is off: production starts.
                    production_env(jail);
                    jail.set_env(&var, "");
                    load(None).unwrap();
                    return Ok(());
                }
                production_env(jail);
                jail.set_env(&var, "");
                let e = load(None).expect_err("an empty secret must be refused");
                assert_eq!(e.variable, var);
                Ok(())
            });
            // The placeholder from .env.example → refused.
            Jail::expect_with(|jail| {
                production_env(jail);
                jail.set_env(&var, "<placeholder-from-env-example>");
                let e = load(None).expect_err("a placeholder must be refused");
                assert_eq!(e.variable, var);
                Ok(())
            });
            // A development default → refused too.
            for dev in defaults
                .secret_requirements()
                .iter()
                .find(|r| r.field == field)
                .unwrap()
                .dev_values
            {
                Jail::expect_with(|jail| {
                    production_env(jail);
                    jail.set_env(&var, dev);
                    let e = load(None).expect_err("a development secret must be refused");
                    assert_eq!(e.variable, var);
                    Ok(())
                });
            }
        }
    }

    #[test]
    fn disabled_areas_are_parsed_and_an_unknown_name_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_DISABLED_AREAS", " sign-up, Author ,sign-up");
            let c = load(None).unwrap();
            assert_eq!(
                c.disabled_areas,
                vec![myqcm_web::Area::SignUp, myqcm_web::Area::Author]
            );
            jail.set_env("MYQCM_DISABLED_AREAS", "sign-up,payment");
            let e = load(None).unwrap_err();
            assert_eq!(e.variable, "MYQCM_DISABLED_AREAS");
            assert!(e.message.contains("payment"), "{}", e.message);
            Ok(())
        });
        Jail::expect_with(|_| {
            assert!(load(None).unwrap().disabled_areas.is_empty());
            Ok(())
        });
    }

    #[test]
    fn production_refuses_plain_http_and_disabled_verification() {
        Jail::expect_with(|jail| {
            production_env(jail);
            jail.set_env("MYQCM_PUBLIC_BASE_URL", "http://myqcm.example");
            assert_eq!(load(None).unwrap_err().variable, "MYQCM_PUBLIC_BASE_URL");
            Ok(())
        });
        Jail::expect_with(|jail| {
            production_env(jail);
            jail.set_env("MYQCM_EMAIL_VERIFICATION", "false");
            assert_eq!(load(None).unwrap_err().variable, "MYQCM_EMAIL_VERIFICATION");
            Ok(())
        });
        Jail::expect_with(|jail| {
            production_env(jail);
            jail.set_env("MYQCM_SECRET_KEY", DEV_SECRET_KEY);
            assert_eq!(load(None).unwrap_err().variable, "MYQCM_SECRET_KEY");
            Ok(())
        });
    }

    #[test]
    fn features_without_secrets_are_fine_when_switched_off() {
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_ENV", "production");
            jail.set_env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example");
            jail.set_env(
                "MYQCM_SECRET_KEY",
                base64::engine::general_purpose::STANDARD.encode([9u8; 64]),
            );
            assert_eq!(load(None).unwrap_err().variable, "MYQCM_CONTACT_EMAIL");
            jail.set_env("MYQCM_CONTACT_EMAIL", "contact@myqcm.example");
            let c = load(None).map_err(|e| e.to_string())?;
            assert!(c.settings.google_client_id.is_none());
            assert_eq!(c.contact_email.as_deref(), Some("contact@myqcm.example"));
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("MYQCM_LISTEN", "nope"),
            ("MYQCM_METRICS_LISTEN", "nope"),
            ("MYQCM_ENV", "staging"),
            ("MYQCM_TRUSTED_PROXIES", "10.0.0.0/8, bogus"),
            ("MYQCM_DATABASE_URL", "mysql://x"),
            ("MYQCM_REDIS_URL", "http://x"),
            ("MYQCM_JOB_RETENTION_DAYS", "0"),
            ("MYQCM_JOB_RETENTION_DAYS", "a week"),
            ("MYQCM_CONTACT_EMAIL", "no-at-sign.example"),
            ("MYQCM_CONTACT_EMAIL", "a@b.dz\nBcc: x@y.dz"),
            ("MYQCM_CONTACT_EMAIL", "<script>@x.dz"),
            ("MYQCM_BACKUP_EVERY_HOURS", "0"),
            ("MYQCM_BACKUP_EVERY_HOURS", "daily"),
            ("MYQCM_BACKUP_KEEP", "0"),
        ] {
            Jail::expect_with(|jail| {
                jail.set_env(var, value);
                assert_eq!(load(None).unwrap_err().variable, var);
                Ok(())
            });
        }
    }

    #[test]
    fn an_empty_metrics_address_disables_the_metrics_listener() {
        Jail::expect_with(|jail| {
            jail.set_env("MYQCM_METRICS_LISTEN", "");
            assert!(
                load(None)
                    .map_err(|e| e.to_string())?
                    .metrics_listen
                    .is_none()
            );
            Ok(())
        });
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings {
            secret_key: Secret::new("super-secret-value"),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("super-secret-value"));
    }
}
