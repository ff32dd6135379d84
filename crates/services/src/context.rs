//! [`Services`]: the one handle through which the web layer, the command line and the jobs
//! reach the use cases. It owns the database pool, the ports and the settings the use cases
//! need; `app` builds it once from the configuration.

use std::sync::Arc;

use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::ports::{BlobStore, Cache, Mailer, OidcProvider};
use sea_orm::ConnectionTrait;

use crate::commerce::Commerce;
use crate::commerce::ledger::Ledger;
use crate::commerce::payments::Payments;
use crate::identity::{Deps, IdentityConfig};
use crate::training::{Training, TrainingConfig};

/// Database, ports and settings of the use cases. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    /// Database pool (migrated).
    pub db: DatabaseConnection,
    /// Cache port (session look-ups, rate limits, sign-in transactions).
    pub cache: Arc<dyn Cache>,
    /// Blob store port (images, imports).
    pub blobs: Arc<dyn BlobStore>,
    /// Mail port (used by the mail job; use cases enqueue mail in their transactions).
    pub mailer: Arc<dyn Mailer>,
    /// Clock port.
    pub clock: Arc<dyn Clock>,
    /// Identity settings (keys derived from `MYQCM_SECRET_KEY`, lifetimes, retention).
    pub identity: Arc<IdentityConfig>,
    /// Google sign-in, when `MYQCM_GOOGLE_CLIENT_ID` is set.
    pub google: Option<Arc<dyn OidcProvider>>,
    /// Training use cases (profile, modes, sessions, answers), with their in-process caches
    /// (candidate pools, rendered revisions) shared by every clone of this handle.
    pub training: Training,
    /// Commerce use cases (plans, subscriptions, cards) and the plan-backed entitlements the
    /// training use cases consume through (their cache shared by every clone).
    pub commerce: Commerce,
    /// Online payment (`MYQCM_CHARGILY_MODE`); `None`: hidden.
    pub payments: Option<Payments>,
    /// The language model for AI assistance (`MYQCM_LLM_*`); `None`: AI features hidden.
    pub llm: Option<Arc<dyn myqcm_domain::ports::LanguageModel>>,
    /// Prices of the model's tokens and the per-author daily token limit (`MYQCM_LLM_PRICE_*`,
    /// `MYQCM_LLM_DAILY_TOKENS_PER_AUTHOR`).
    pub llm_usage: crate::ai::usage::UsagePolicy,
    /// The authors' earnings ledger and withdrawals.
    pub ledger: Ledger,
    /// Which integrations are on (the admin console's configuration overview).
    pub integrations: Arc<crate::overview::Integrations>,
}

/// Whether the dependencies answer (readiness probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The database answered.
    pub database: bool,
    /// The cache answered.
    pub cache: bool,
}

impl Readiness {
    /// Both answered.
    pub fn ok(self) -> bool {
        self.database && self.cache
    }
}

/// Failures outside any business area (infrastructure checks).
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] DbError),
}

impl Services {
    /// A handle without Google sign-in (add it with [`Services::with_google`]); training
    /// consumes through the plan-backed entitlements of [`Commerce`], with default settings
    /// (replace with [`Services::with_training`]).
    #[allow(
        clippy::expect_used,
        reason = "the default retention (0.9) is always accepted by the memory model"
    )]
    pub fn new(
        db: DatabaseConnection,
        cache: Arc<dyn Cache>,
        blobs: Arc<dyn BlobStore>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        identity: IdentityConfig,
    ) -> Self {
        let commerce = Commerce::new(db.clone(), clock.clone(), cache.clone(), identity.card_key);
        let training = Training::new(
            db.clone(),
            clock.clone(),
            Arc::new(commerce.entitlements()),
            TrainingConfig::default(),
        )
        .expect("default training settings are valid");
        let ledger = Ledger::new(db.clone(), clock.clone(), identity.ccp_key);
        Self {
            db,
            cache,
            blobs,
            mailer,
            clock,
            identity: Arc::new(identity),
            google: None,
            training,
            commerce,
            payments: None,
            llm: None,
            llm_usage: crate::ai::usage::UsagePolicy::default(),
            ledger,
            integrations: Arc::new(crate::overview::Integrations::default()),
        }
    }

    /// The same handle with AI assistance through `llm`.
    #[must_use]
    pub fn with_llm(mut self, llm: Arc<dyn myqcm_domain::ports::LanguageModel>) -> Self {
        self.llm = Some(llm);
        self.training = self.training.with_llm_grading(true);
        self
    }

    /// The same handle with these prices and daily limit for the model's calls.
    #[must_use]
    pub fn with_llm_usage(mut self, policy: crate::ai::usage::UsagePolicy) -> Self {
        self.llm_usage = policy;
        self
    }

    /// The same handle with online payment through `gateway` in `mode` (return and webhook
    /// URLs under the public base URL).
    #[must_use]
    pub fn with_payments(
        mut self,
        gateway: Arc<dyn myqcm_domain::payments::PaymentGateway>,
        mode: myqcm_domain::payments::PaymentMode,
    ) -> Self {
        self.payments = Some(Payments::new(
            self.commerce.clone(),
            gateway,
            mode,
            self.identity.public_base_url.clone(),
        ));
        self
    }

    /// The same handle describing its integrations as `integrations` (configuration overview).
    #[must_use]
    pub fn with_integrations(mut self, integrations: crate::overview::Integrations) -> Self {
        self.integrations = Arc::new(integrations);
        self
    }

    /// The same handle with other training use cases (entitlements, settings).
    #[must_use]
    pub fn with_training(mut self, training: Training) -> Self {
        self.training = training.with_llm_grading(self.llm.is_some());
        self
    }

    /// The same handle with Google sign-in through `provider`.
    #[must_use]
    pub fn with_google(mut self, provider: Arc<dyn OidcProvider>) -> Self {
        self.google = Some(provider);
        self
    }

    /// What the identity use cases need.
    pub fn deps(&self) -> Deps {
        Deps {
            db: self.db.clone(),
            cache: self.cache.clone(),
            clock: self.clock.clone(),
            config: self.identity.clone(),
        }
    }

    /// Pings the database and the cache (failures are logged, not returned).
    pub async fn readiness(&self) -> Readiness {
        let (db, cache) = tokio::join!(myqcm_db::ping(&self.db), self.cache.ping());
        if let Err(e) = &db {
            tracing::warn!(error = %e, "readiness: database unreachable");
        }
        if let Err(e) = &cache {
            tracing::warn!(error = %e, "readiness: cache unreachable");
        }
        Readiness {
            database: db.is_ok(),
            cache: cache.is_ok(),
        }
    }

    /// Runs a statement that always fails. Only the web layer's test routes call it, to prove
    /// that a storage failure reaches the client as a bare 500 without SQL or driver names.
    pub async fn failing_query(&self) -> Result<(), SystemError> {
        self.db
            .execute_unprepared("SELECT no_such_column FROM no_such_table")
            .await
            .map_err(DbError::from)?;
        Ok(())
    }
}
