//! The configuration overview of the admin console: which integrations this deployment uses,
//! by kind and on/off only. It holds no URL, key, password or address, so nothing secret can
//! reach the page through it (connection URLs may carry credentials and are left out too).

use myqcm_domain::permissions::Action;
use serde::Serialize;

use crate::identity::IdentityError;
use crate::identity::caller::Caller;

/// What is switched on, as `app` read it from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Integrations {
    /// `MYQCM_ENV=production`.
    pub production: bool,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// `memory` (in process) or `redis`.
    pub cache: String,
    /// `files` (`.eml` under the data directory) or `smtp`.
    pub mail: String,
    /// `directory` (under the data directory).
    pub blobs: String,
    /// Email addresses must be verified before training and buying.
    pub email_verification: bool,
    /// Google sign-in is offered.
    pub google: bool,
    /// Chargily online payment: its mode (`test` or `live`) when on.
    pub chargily: Option<String>,
    /// AI features (an OpenAI-compatible endpoint) are on.
    pub llm: bool,
    /// `MYQCM_DISABLED_AREAS`, as written.
    pub disabled_areas: Vec<String>,
    /// The metrics listener is on (its own address, never the public one).
    pub metrics: bool,
}

/// The overview (`OperationsManage`: `operations` and `super` admins, enrolled in TOTP).
pub fn integrations(
    caller: &Caller,
    current: &Integrations,
) -> Result<Integrations, IdentityError> {
    caller.require(Action::OperationsManage)?;
    Ok(current.clone())
}
