//! The authors' earnings ledger (issue 14 item 4): an author earns the configured amount when
//! one of their items is approved for the **first** time, asks for a withdrawal to an Algérie
//! Poste account, and finance staff settle it as paid or failed (a failed payout is reversed to
//! the wallet). Double entry, nothing edited: every movement is a balanced transaction with an
//! exactly-once reference; a wallet's balance is the sum of its entries, never a stored number.
//! Rules and accounts: `docs/COMMERCE.md` ("Authors' earnings").
//!
//! The postal account number is sealed at rest (AEAD under the purpose key `seal:ccp-account`),
//! shown masked everywhere, never logged, and opened only for finance staff who stepped up,
//! each opening audited.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use myqcm_db::commerce::ledger::{self as repo, EARNING_PER_ITEM, NewTransaction, withdrawal};
use myqcm_db::identity::accounts as accounts_repo;
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::ledger::{
    AccountKind, Balanced, CcpAccount, MAX_WITHDRAWAL, MIN_WITHDRAWAL, TransactionKind,
    WithdrawalStatus, format_dzd,
};
use myqcm_domain::permissions::{Action, Role, allowed};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::identity::accounts::roles_and_scopes;
use crate::identity::audit;
use crate::identity::crypto;
use crate::identity::{ClientMeta, Deps};

/// The pay per first approval when the setting is missing: 15 DZD.
pub const DEFAULT_EARNING: i64 = 1_500;
/// Largest pay per item finance staff may set (10 000 DZD).
pub const MAX_EARNING: i64 = 1_000_000;
/// Entries per page at most.
pub const MAX_PAGE: u64 = 200;

/// Why a ledger use case failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No such withdrawal.
    #[error("not found")]
    NotFound,
    /// The caller lacks the permission (not an author; not finance staff).
    #[error("forbidden")]
    Forbidden,
    /// Staff without TOTP enrolment.
    #[error("two-step verification must be set up first")]
    MfaEnrolmentRequired,
    /// The action needs a recent TOTP proof in this session.
    #[error("step-up required")]
    StepUpRequired,
    /// A field is invalid.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The wallet holds less than asked.
    #[error("the balance is lower than the amount asked")]
    InsufficientFunds,
    /// The withdrawal was settled already.
    #[error("already settled")]
    AlreadySettled,
    /// Storage failure.
    #[error(transparent)]
    Store(DbError),
}

impl From<DbError> for LedgerError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for LedgerError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

/// Result alias.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

fn invalid(field: &'static str, message: impl Into<String>) -> LedgerError {
    LedgerError::Invalid {
        field,
        message: message.into(),
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Finance staff as the web layer established them (the jobs area's pattern).
#[derive(Debug, Clone)]
pub struct Finance {
    /// Account, roles and scopes.
    pub actor: Actor,
    /// The session holds a TOTP proof within the step-up window.
    pub recent_mfa: bool,
    /// Where the request came from (audit log).
    pub meta: ClientMeta,
}

impl Finance {
    /// Finance staff from a request's caller.
    pub fn of(deps: &Deps, caller: &crate::identity::caller::Caller) -> Self {
        Self {
            actor: caller.actor(),
            recent_mfa: crate::identity::flows::recent_mfa(deps, caller.principal()),
            meta: caller.meta().clone(),
        }
    }

    /// The permission to read withdrawals (finance or super scope, TOTP enrolled): checked
    /// by the HTTP layer before it parses a body, so outsiders learn nothing from validation.
    ///
    /// # Errors
    /// [`LedgerError::Forbidden`], [`LedgerError::MfaEnrolmentRequired`].
    pub fn require(&self) -> Result<()> {
        self.may_read()
    }

    fn may_read(&self) -> Result<()> {
        if !allowed(&self.actor.roles, &self.actor.scopes, Action::FinanceManage) {
            Err(LedgerError::Forbidden)
        } else if !self.actor.mfa_enrolled {
            Err(LedgerError::MfaEnrolmentRequired)
        } else {
            Ok(())
        }
    }

    fn may_change(&self) -> Result<()> {
        self.may_read()?;
        if self.recent_mfa {
            Ok(())
        } else {
            Err(LedgerError::StepUpRequired)
        }
    }
}

/// One line of an author's wallet.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EntryView {
    /// Entry id (the `before` cursor of the next page).
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// `earning`, `withdrawal_request`, `payout_reversal`.
    pub kind: String,
    /// Signed centimes (positive = credited to the wallet).
    pub amount: i64,
    /// The same in dinars, two decimals.
    pub amount_dzd: String,
    /// The item paid for, for an earning.
    pub item_id: Option<Uuid>,
    /// The withdrawal, for a request or a reversal.
    pub withdrawal_id: Option<Uuid>,
}

/// A withdrawal as its author sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WithdrawalView {
    /// Id.
    pub id: Uuid,
    /// Centimes.
    pub amount: i64,
    /// Dinars, two decimals.
    pub amount_dzd: String,
    /// The postal account, masked (`••••••34`).
    pub ccp_masked: String,
    /// `requested`, `paid` or `failed`.
    pub status: String,
    /// Finance staff's note on settlement.
    pub note: String,
    /// When asked.
    pub requested_at: DateTime<Utc>,
    /// When settled.
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<&withdrawal::Model> for WithdrawalView {
    fn from(w: &withdrawal::Model) -> Self {
        Self {
            id: w.id,
            amount: w.amount,
            amount_dzd: format_dzd(w.amount),
            ccp_masked: w.ccp_masked.clone(),
            status: w.status.clone(),
            note: w.note.clone(),
            requested_at: at(w.requested_at),
            settled_at: w.settled_at.map(at),
        }
    }
}

/// An author's wallet: balance, pay rule, entries (newest first) and withdrawals.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EarningsView {
    /// Sum of the wallet's entries, centimes.
    pub balance: i64,
    /// Dinars, two decimals.
    pub balance_dzd: String,
    /// Pay per item's first approval, centimes.
    pub per_item: i64,
    /// Dinars.
    pub per_item_dzd: String,
    /// Smallest withdrawal, centimes.
    pub min_withdrawal: i64,
    /// One page of entries.
    pub entries: Vec<EntryView>,
    /// Cursor of the next page (`?before=`), when there is one.
    pub next_before: Option<Uuid>,
    /// Every withdrawal, newest first.
    pub withdrawals: Vec<WithdrawalView>,
}

/// A withdrawal as finance staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdminWithdrawalView {
    /// The withdrawal (account masked).
    #[serde(flatten)]
    pub withdrawal: WithdrawalView,
    /// The author.
    pub author_id: Uuid,
    /// The author's email.
    pub author_email: String,
    /// Who settled it.
    pub settled_by: Option<Uuid>,
}

/// The postal account of one withdrawal, in full (finance staff paying it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CcpRevealed {
    /// The withdrawal.
    pub withdrawal_id: Uuid,
    /// `number clé key`.
    pub ccp: String,
    /// The 20-digit RIP.
    pub rip: String,
}

/// How a payout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent.
    Paid,
    /// Failed: the amount returns to the wallet.
    Failed,
}

impl Outcome {
    /// `paid` or `failed`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "paid" => Ok(Self::Paid),
            "failed" => Ok(Self::Failed),
            _ => Err(invalid("outcome", "paid or failed")),
        }
    }
}

/// Credits the author of `item` for its first approval, inside the approval's transaction
/// (called by `catalogue::transition`). Nothing when the item was imported or seeded (no
/// `created` event), when its author does not hold the author role, when the pay is set to 0,
/// or when it was credited before (the reference `earning:<item>` is taken). Returns the
/// amount credited.
///
/// # Errors
/// Storage failure.
pub async fn credit_first_approval<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    author: Uuid,
    approver: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbError> {
    let reference = format!("earning:{item}");
    if repo::reference_exists(c, &reference).await?
        || !repo::item_created_in_product(c, item).await?
    {
        return Ok(None);
    }
    let Some(account) = accounts_repo::get(c, author).await? else {
        return Ok(None);
    };
    if !roles_and_scopes(&account).0.contains(&Role::Author) {
        return Ok(None);
    }
    let amount = repo::setting(c, EARNING_PER_ITEM, DEFAULT_EARNING).await?;
    post_earning(c, item, author, amount, approver, now).await
}

/// Records the earning of `amount` centimes for `item` in `author`'s wallet unless the item was
/// paid before (the reference `earning:<item>`); audited. The rules deciding whether an
/// approval pays are [`credit_first_approval`]'s; this is the posting alone.
///
/// # Errors
/// Storage failure.
pub async fn post_earning<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    author: Uuid,
    amount: i64,
    approver: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbError> {
    if amount <= 0 {
        return Ok(None);
    }
    let reference = format!("earning:{item}");
    let ms = now.timestamp_millis();
    let wallet = repo::account(c, AccountKind::AuthorWallet, Some(author), ms).await?;
    let expense = repo::account(c, AccountKind::PlatformExpense, None, ms).await?;
    let lines =
        Balanced::transfer(expense, wallet, amount).map_err(|e| DbError::Backend(e.to_string()))?;
    let posted = repo::post(
        c,
        NewTransaction {
            kind: TransactionKind::Earning.as_str(),
            reference,
            actor: Some(approver),
            memo: String::new(),
            now: ms,
        },
        &lines,
    )
    .await?;
    if posted.is_none() {
        return Ok(None);
    }
    audit::record_at(
        c,
        now,
        audit::Event::new("ledger.earning_credited")
            .actor(approver)
            .target(author.to_string())
            .detail(serde_json::json!({ "item": item, "amount": amount })),
    )
    .await?;
    Ok(Some(amount))
}

/// The ledger use cases. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    ccp_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

fn seal_context(id: Uuid) -> Vec<u8> {
    format!("withdrawal:{id}").into_bytes()
}

fn require_author(actor: &Actor) -> Result<()> {
    if allowed(&actor.roles, &actor.scopes, Action::ItemAuthor)
        && actor.roles.contains(&Role::Author)
    {
        Ok(())
    } else {
        Err(LedgerError::Forbidden)
    }
}

fn entry_view(r: &repo::EntryRow) -> EntryView {
    let reference = r.transaction.reference.as_str();
    let id_after = |prefix: &str| {
        reference
            .strip_prefix(prefix)
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    EntryView {
        id: r.entry.id,
        at: at(r.entry.created_at),
        kind: r.transaction.kind.clone(),
        amount: r.entry.amount,
        amount_dzd: format_dzd(r.entry.amount),
        item_id: id_after("earning:"),
        withdrawal_id: id_after("withdrawal:").or_else(|| id_after("payout:")),
    }
}

impl Ledger {
    /// The use cases over `db`; `ccp_key` is the AEAD key (`seal:ccp-account`) derived from
    /// `MYQCM_SECRET_KEY`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, ccp_key: [u8; 32]) -> Self {
        Self {
            db,
            clock,
            ccp_key: Arc::new(ccp_key),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The caller's wallet: balance (sum of entries), the pay rule, a page of entries older
    /// than `before`, and the withdrawals. Authors only.
    ///
    /// # Errors
    /// [`LedgerError::Forbidden`], storage.
    pub async fn earnings(
        &self,
        actor: &Actor,
        before: Option<Uuid>,
        limit: Option<u64>,
    ) -> Result<EarningsView> {
        require_author(actor)?;
        let limit = limit.unwrap_or(50).clamp(1, MAX_PAGE);
        let per_item = repo::setting(&self.db, EARNING_PER_ITEM, DEFAULT_EARNING).await?;
        let (balance, mut rows) = match repo::wallet_of(&self.db, actor.id).await? {
            Some(w) => (
                repo::balance(&self.db, w).await?,
                repo::entries(&self.db, w, before, limit + 1).await?,
            ),
            None => (0, Vec::new()),
        };
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let entries: Vec<EntryView> = rows.iter().map(entry_view).collect();
        let withdrawals = repo::withdrawals_of(&self.db, actor.id)
            .await?
            .iter()
            .map(WithdrawalView::from)
            .collect();
        Ok(EarningsView {
            balance,
            balance_dzd: format_dzd(balance),
            per_item,
            per_item_dzd: format_dzd(per_item),
            min_withdrawal: MIN_WITHDRAWAL,
            next_before: more.then(|| entries.last().map(|e| e.id)).flatten(),
            entries,
            withdrawals,
        })
    }

    /// Asks for `amount` centimes to be paid to the postal account `ccp` (a CCP number with its
    /// key, or the RIP). The balance is read under a lock on the wallet inside the transaction
    /// that debits it, so concurrent requests cannot overdraw. Audited (account masked).
    ///
    /// # Errors
    /// [`LedgerError::Forbidden`], [`LedgerError::Invalid`] (amount, account),
    /// [`LedgerError::InsufficientFunds`], storage.
    pub async fn request_withdrawal(
        &self,
        actor: &Actor,
        meta: &ClientMeta,
        amount: i64,
        ccp: &str,
    ) -> Result<WithdrawalView> {
        require_author(actor)?;
        if !(MIN_WITHDRAWAL..=MAX_WITHDRAWAL).contains(&amount) {
            return Err(invalid(
                "amount",
                format!(
                    "between {} and {} DZD",
                    format_dzd(MIN_WITHDRAWAL),
                    format_dzd(MAX_WITHDRAWAL)
                ),
            ));
        }
        let account = CcpAccount::parse(ccp).map_err(|e| invalid("ccp", e.to_string()))?;
        let now = self.now_ms();
        let id = Uuid::now_v7();
        let txn = myqcm_db::begin_write(&self.db).await?;
        let wallet = repo::account(&txn, AccountKind::AuthorWallet, Some(actor.id), now).await?;
        repo::lock_account(&txn, wallet).await?;
        let balance = repo::balance(&txn, wallet).await?;
        if amount > balance {
            return Err(LedgerError::InsufficientFunds);
        }
        let clearing = repo::account(&txn, AccountKind::PayoutClearing, None, now).await?;
        let lines = Balanced::transfer(wallet, clearing, amount)
            .map_err(|e| invalid("amount", e.to_string()))?;
        repo::post(
            &txn,
            NewTransaction {
                kind: TransactionKind::WithdrawalRequest.as_str(),
                reference: format!("withdrawal:{id}"),
                actor: Some(actor.id),
                memo: String::new(),
                now,
            },
            &lines,
        )
        .await?
        .ok_or(LedgerError::AlreadySettled)?;
        let w = repo::insert_withdrawal(
            &txn,
            withdrawal::Model {
                id,
                author_id: actor.id,
                amount,
                ccp_sealed: crypto::seal(
                    &self.ccp_key,
                    &seal_context(id),
                    account.number().to_string().as_bytes(),
                ),
                ccp_masked: account.masked(),
                status: WithdrawalStatus::Requested.as_str().into(),
                note: String::new(),
                requested_at: now,
                settled_at: None,
                settled_by: None,
            },
        )
        .await?;
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("ledger.withdrawal_requested")
                .actor(actor.id)
                .target(id.to_string())
                .meta(meta)
                .detail(serde_json::json!({ "amount": amount, "ccp": w.ccp_masked })),
        )
        .await?;
        txn.commit().await?;
        Ok(WithdrawalView::from(&w))
    }

    /// Withdrawals for finance staff, oldest request first (`status` filters), accounts masked.
    ///
    /// # Errors
    /// [`LedgerError::Forbidden`], [`LedgerError::MfaEnrolmentRequired`], storage.
    pub async fn withdrawals(
        &self,
        fin: &Finance,
        status: Option<&str>,
    ) -> Result<Vec<AdminWithdrawalView>> {
        fin.may_read()?;
        let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("all") => None,
            Some(s) => Some(
                WithdrawalStatus::parse(s)
                    .ok_or_else(|| invalid("status", "requested, paid, failed or all"))?,
            ),
        };
        let rows = repo::withdrawals(&self.db, status, 500).await?;
        let mut out = Vec::with_capacity(rows.len());
        for w in &rows {
            out.push(self.admin_view(w).await?);
        }
        Ok(out)
    }

    async fn admin_view(&self, w: &withdrawal::Model) -> Result<AdminWithdrawalView> {
        let email = accounts_repo::get(&self.db, w.author_id)
            .await?
            .map(|a| a.email)
            .unwrap_or_default();
        Ok(AdminWithdrawalView {
            withdrawal: WithdrawalView::from(w),
            author_id: w.author_id,
            author_email: email,
            settled_by: w.settled_by,
        })
    }

    /// The postal account of a withdrawal in full, for finance staff paying it (step-up);
    /// every opening is audited.
    ///
    /// # Errors
    /// Permission, [`LedgerError::StepUpRequired`], [`LedgerError::NotFound`] (also once the
    /// account was erased), storage.
    pub async fn reveal_ccp(&self, fin: &Finance, id: Uuid) -> Result<CcpRevealed> {
        fin.may_change()?;
        let w = repo::withdrawal(&self.db, id)
            .await?
            .ok_or(LedgerError::NotFound)?;
        let plain = crypto::open(&self.ccp_key, &seal_context(id), &w.ccp_sealed)
            .ok_or(LedgerError::NotFound)?;
        let number: u64 = std::str::from_utf8(&plain)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(LedgerError::NotFound)?;
        let account = CcpAccount::parse(&format!("{number} {:02}", CcpAccount::ccp_key(number)))
            .map_err(|_| LedgerError::NotFound)?;
        audit::record(
            &self.db,
            self.clock.as_ref(),
            audit::Event::new("ledger.ccp_revealed")
                .actor(fin.actor.id)
                .target(id.to_string())
                .meta(&fin.meta),
        )
        .await?;
        Ok(CcpRevealed {
            withdrawal_id: id,
            ccp: account.display_full(),
            rip: account.rip(),
        })
    }

    /// Settles a requested withdrawal (step-up): `paid` moves the amount from clearing to the
    /// platform's bank account; `failed` reverses the request, returning the amount to the
    /// wallet. Exactly once (a conditional update and the reference `payout:<id>`). Audited.
    ///
    /// # Errors
    /// Permission, [`LedgerError::StepUpRequired`], [`LedgerError::NotFound`],
    /// [`LedgerError::AlreadySettled`], [`LedgerError::Invalid`] (note), storage.
    pub async fn settle(
        &self,
        fin: &Finance,
        id: Uuid,
        outcome: Outcome,
        note: &str,
    ) -> Result<AdminWithdrawalView> {
        fin.may_change()?;
        let note = note.trim();
        if note.chars().count() > 500 {
            return Err(invalid("note", "at most 500 characters"));
        }
        let now = self.now_ms();
        let txn = myqcm_db::begin_write(&self.db).await?;
        let w = repo::withdrawal(&txn, id)
            .await?
            .ok_or(LedgerError::NotFound)?;
        let to = match outcome {
            Outcome::Paid => WithdrawalStatus::Paid,
            Outcome::Failed => WithdrawalStatus::Failed,
        };
        if !repo::settle_withdrawal(&txn, id, to, note, fin.actor.id, now).await? {
            return Err(LedgerError::AlreadySettled);
        }
        let clearing = repo::account(&txn, AccountKind::PayoutClearing, None, now).await?;
        let (kind, lines) = match outcome {
            Outcome::Paid => {
                let bank = repo::account(&txn, AccountKind::PlatformBank, None, now).await?;
                (
                    TransactionKind::PayoutPaid,
                    Balanced::transfer(clearing, bank, w.amount),
                )
            }
            Outcome::Failed => {
                let wallet =
                    repo::account(&txn, AccountKind::AuthorWallet, Some(w.author_id), now).await?;
                (
                    TransactionKind::PayoutReversal,
                    Balanced::transfer(wallet, clearing, w.amount).map(|t| t.reversed()),
                )
            }
        };
        let lines = lines.map_err(|e| LedgerError::Store(DbError::Backend(e.to_string())))?;
        repo::post(
            &txn,
            NewTransaction {
                kind: kind.as_str(),
                reference: format!("payout:{id}"),
                actor: Some(fin.actor.id),
                memo: String::new(),
                now,
            },
            &lines,
        )
        .await?
        .ok_or(LedgerError::AlreadySettled)?;
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new(match outcome {
                Outcome::Paid => "ledger.withdrawal_paid",
                Outcome::Failed => "ledger.withdrawal_failed",
            })
            .actor(fin.actor.id)
            .target(id.to_string())
            .meta(&fin.meta)
            .detail(serde_json::json!({
                "author": w.author_id,
                "amount": w.amount,
                "note": note,
            })),
        )
        .await?;
        txn.commit().await?;
        let w = repo::withdrawal(&self.db, id)
            .await?
            .ok_or(LedgerError::NotFound)?;
        self.admin_view(&w).await
    }

    /// The pay per item's first approval, centimes (finance staff).
    ///
    /// # Errors
    /// Permission, storage.
    pub async fn rate(&self, fin: &Finance) -> Result<i64> {
        fin.may_read()?;
        Ok(repo::setting(&self.db, EARNING_PER_ITEM, DEFAULT_EARNING).await?)
    }

    /// Sets the pay per item's first approval (step-up; 0 stops paying). Items approved
    /// earlier keep what they earned. Audited.
    ///
    /// # Errors
    /// Permission, [`LedgerError::StepUpRequired`], [`LedgerError::Invalid`], storage.
    pub async fn set_rate(&self, fin: &Finance, centimes: i64) -> Result<i64> {
        fin.may_change()?;
        if !(0..=MAX_EARNING).contains(&centimes) {
            return Err(invalid("amount", "0 to 1 000 000 centimes"));
        }
        let txn = myqcm_db::begin_write(&self.db).await?;
        let before = repo::setting(&txn, EARNING_PER_ITEM, DEFAULT_EARNING).await?;
        repo::set_setting(
            &txn,
            EARNING_PER_ITEM,
            centimes,
            fin.actor.id,
            self.now_ms(),
        )
        .await?;
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("ledger.rate_changed")
                .actor(fin.actor.id)
                .meta(&fin.meta)
                .detail(serde_json::json!({ "from": before, "to": centimes })),
        )
        .await?;
        txn.commit().await?;
        Ok(centimes)
    }
}

/// The earnings part of the account export: balance, entries and withdrawals (accounts masked).
pub async fn export<C: ConnectionTrait>(c: &C, author: Uuid) -> Result<serde_json::Value, DbError> {
    let Some(wallet) = repo::wallet_of(c, author).await? else {
        let withdrawals: Vec<WithdrawalView> = repo::withdrawals_of(c, author)
            .await?
            .iter()
            .map(WithdrawalView::from)
            .collect();
        return Ok(serde_json::json!({ "balance": 0, "entries": [], "withdrawals": withdrawals }));
    };
    let balance = repo::balance(c, wallet).await?;
    let entries: Vec<EntryView> = repo::entries(c, wallet, None, u64::MAX >> 1)
        .await?
        .iter()
        .map(entry_view)
        .collect();
    let withdrawals: Vec<WithdrawalView> = repo::withdrawals_of(c, author)
        .await?
        .iter()
        .map(WithdrawalView::from)
        .collect();
    Ok(serde_json::json!({
        "balance": balance,
        "entries": entries,
        "withdrawals": withdrawals,
    }))
}

/// Erasure: the postal accounts of the author's withdrawals are wiped; the ledger stays (the
/// platform's accounting records, naming only the anonymised account id).
pub async fn erase<C: ConnectionTrait>(c: &C, author: Uuid) -> Result<(), DbError> {
    repo::erase_author(c, author).await
}
