//! Use cases of MyQCM with their transaction boundaries. The web layer, the command line and the
//! jobs all go through here; nothing here knows about HTTP.

pub mod ai;
pub mod calibration;
pub mod catalogue;
pub mod commerce;
pub mod context;
pub mod identity;
pub mod import;
pub mod jobs;
pub mod markdown;
pub mod overview;
pub mod passwords;
pub mod training;

pub use context::{Readiness, Services, SystemError};

/// Whether a failure only means that the database or the cache cannot be reached right now
/// (somewhere in its chain of causes): the HTTP layer answers 503 with `Retry-After` instead of
/// 500, so clients retry and the platform recovers on its own when the backend returns. The
/// service errors that wrap a [`myqcm_db::DbError`] transparently hide it from the chain, so
/// each is looked into by name.
pub fn is_unavailable(cause: &(dyn std::error::Error + 'static)) -> bool {
    fn store<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a myqcm_db::DbError> {
        e.downcast_ref::<myqcm_db::DbError>()
            .or(match e.downcast_ref() {
                Some(identity::IdentityError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(catalogue::CatalogueError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(commerce::CommerceError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(commerce::ledger::LedgerError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(commerce::payments::PaymentError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(jobs::JobsError::Store(d)) => Some(d),
                _ => None,
            })
            .or(match e.downcast_ref() {
                Some(SystemError::Store(d)) => Some(d),
                _ => None,
            })
    }
    let mut next = Some(cause);
    while let Some(e) = next {
        use myqcm_domain::ports::PortError;
        if matches!(store(e), Some(myqcm_db::DbError::Unavailable(_)))
            || matches!(
                e.downcast_ref::<PortError>(),
                Some(PortError::Unavailable(_))
            )
            || matches!(
                e.downcast_ref::<identity::IdentityError>(),
                Some(identity::IdentityError::Port(PortError::Unavailable(_)))
            )
        {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_databases_and_caches_are_unavailable_however_deep_they_are_wrapped() {
        let lost = || {
            myqcm_db::DbError::from(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout,
            ))
        };
        assert!(matches!(lost(), myqcm_db::DbError::Unavailable(_)));
        let wrapped = [
            anyhow::Error::new(lost()),
            anyhow::Error::new(identity::IdentityError::Store(lost())),
            anyhow::Error::new(catalogue::CatalogueError::Store(lost())).context("importing"),
            anyhow::Error::new(myqcm_domain::ports::PortError::Unavailable("redis".into())),
            anyhow::Error::new(identity::IdentityError::Port(
                myqcm_domain::ports::PortError::Unavailable("redis".into()),
            )),
        ];
        for e in &wrapped {
            assert!(e.chain().any(is_unavailable), "{e:#}");
        }
        let not = [
            anyhow::Error::new(myqcm_db::DbError::Backend("syntax error".into())),
            anyhow::Error::new(identity::IdentityError::Store(myqcm_db::DbError::Conflict(
                "x",
            ))),
            anyhow::anyhow!("something else"),
        ];
        for e in &not {
            assert!(!e.chain().any(is_unavailable), "{e:#}");
        }
        assert!(matches!(
            training::TrainingError::from(lost()),
            training::TrainingError::Unavailable(_)
        ));
    }
}
