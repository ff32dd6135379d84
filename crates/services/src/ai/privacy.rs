//! The AI part of account erasure, called by the identity area's erasure inside its own
//! transaction: the columns of the AI features that name an account are cleared.

use myqcm_db::DbError;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Clears `account` from the KC suggestions it decided (`kc_suggestion.decided_by`; the
/// decision and its date stay). Generated drafts are catalogue items like any other (their
/// author is handled with the catalogue), and grading overrides are audit rows.
///
/// # Errors
/// Storage failures.
pub async fn erase<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<(), DbError> {
    myqcm_db::catalogue::kc_suggestions::forget_decider(c, account).await?;
    Ok(())
}
