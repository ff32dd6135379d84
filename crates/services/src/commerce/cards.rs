//! Prepaid activation cards: minting in batches, printing, revocation and redemption.
//!
//! A code is 16 Crockford base32 characters (80 random bits from the operating system) and a
//! check character, printed in groups: `XXXX-XXXX-XXXX-XXXX-C`. The check character is the
//! 80-bit value modulo 37, written with Crockford's check alphabet (the 32 digits, then `*`,
//! `~`, `$`, `=`, `U`), so one mistyped character or two swapped neighbours are caught before
//! any lookup. Reading is forgiving: case, spaces and dashes are ignored, `I`/`L` read as `1`
//! and `O` as `0`. Only the HMAC-SHA256 of the 16 characters under the `hmac:activation-card`
//! purpose key (HKDF from `MYQCM_SECRET_KEY`) is stored: a database dump holds no usable code,
//! and the codes are shown once, when minted.
//!
//! Redemption is one write transaction: the card is marked redeemed by a conditional update
//! (of any number of racing requests exactly one succeeds; the others roll back, subscription
//! included), then audited. Attempts are counted per account and per client address through
//! the cache port's rate limiter before any work.

use chrono::{DateTime, Utc};
use myqcm_db::commerce::{self as repo, card_batch, subscription};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Commerce, CommerceError, PlanView, Result, at, invalid, require_finance};
use crate::identity::ClientMeta;
use crate::identity::audit;
use crate::identity::crypto::{hex, hmac_sha256, random_bytes};
use crate::identity::ratelimit::{self, Limit, client_subject, per};

/// Redemption attempts per account: 10 an hour.
pub const REDEEM_ACCOUNT: Limit = per("card-account", 10, 3600);
/// Redemption attempts per client address: 30 an hour.
pub const REDEEM_IP: Limit = per("card-ip", 30, 3600);
/// Cards in one batch at most.
pub const MAX_BATCH: u32 = 10_000;

/// Characters of an earlier system's code (6 groups of 4); ours have 17, so the two formats
/// never meet, and neither do their HMACs.
const LEGACY_LEN: usize = 24;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

fn value(c: u8) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|a| *a == c)
        .and_then(|p| u8::try_from(p).ok())
}

fn number(digits: &[u8; 16]) -> u128 {
    digits.iter().fold(0u128, |n, d| (n << 5) | u128::from(*d))
}

fn check_char(n: u128) -> u8 {
    CHECK[usize::try_from(n % 37).unwrap_or(0)]
}

/// A card code: the 16 data characters (canonical, upper case) and its printed form.
#[derive(Clone, PartialEq, Eq)]
pub struct CardCode {
    data: String,
}

impl std::fmt::Debug for CardCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardCode([redacted])")
    }
}

impl CardCode {
    /// A fresh random code.
    pub fn random() -> Self {
        let bytes = random_bytes::<10>();
        let n = bytes.iter().fold(0u128, |n, b| (n << 8) | u128::from(*b));
        let data = (0..16)
            .rev()
            .map(|k| char::from(ALPHABET[usize::try_from((n >> (5 * k)) & 31).unwrap_or(0)]))
            .collect();
        Self { data }
    }

    /// Reads a typed or printed code; `None` when malformed or its check character is wrong.
    pub fn parse(input: &str) -> Option<Self> {
        let chars: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' ' | b'\t'))
            .collect();
        if chars.len() == LEGACY_LEN {
            return Self::legacy(&chars);
        }
        if chars.len() != 17 {
            return None;
        }
        let mut digits = [0u8; 16];
        for (d, c) in digits.iter_mut().zip(&chars[..16]) {
            *d = value(*c)?;
        }
        let typed = chars[16].to_ascii_uppercase();
        let typed = match typed {
            b'I' | b'L' => b'1',
            b'O' => b'0',
            c => c,
        };
        if typed != check_char(number(&digits)) {
            return None;
        }
        Some(Self {
            data: digits
                .iter()
                .map(|d| char::from(ALPHABET[usize::from(*d)]))
                .collect(),
        })
    }

    /// The earlier system's code: 24 characters `A–Z0–9` (case ignored, no check character,
    /// no look-alike mapping: its alphabet has `I`, `L`, `O` and `U`).
    fn legacy(chars: &[u8]) -> Option<Self> {
        chars.iter().all(u8::is_ascii_alphanumeric).then(|| Self {
            data: chars
                .iter()
                .map(|c| char::from(c.to_ascii_uppercase()))
                .collect(),
        })
    }

    /// Reads one of the earlier system's codes (6 groups of 4 characters `A–Z0–9`; case,
    /// spaces and dashes ignored); `None` for anything else, our own format included.
    pub fn parse_legacy(input: &str) -> Option<Self> {
        let chars: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' ' | b'\t'))
            .collect();
        if chars.len() == LEGACY_LEN {
            Self::legacy(&chars)
        } else {
            None
        }
    }

    /// As printed: `XXXX-XXXX-XXXX-XXXX-C` (an earlier system's code: its six groups).
    pub fn printed(&self) -> String {
        if self.data.len() == LEGACY_LEN {
            return (0..6)
                .map(|g| &self.data[4 * g..4 * g + 4])
                .collect::<Vec<_>>()
                .join("-");
        }
        let mut digits = [0u8; 16];
        for (d, c) in digits.iter_mut().zip(self.data.bytes()) {
            *d = value(c).unwrap_or(0);
        }
        let check = char::from(check_char(number(&digits)));
        format!(
            "{}-{}-{}-{}-{check}",
            &self.data[0..4],
            &self.data[4..8],
            &self.data[8..12],
            &self.data[12..16]
        )
    }

    /// Lower-case hex of the HMAC stored for this code.
    pub fn hmac(&self, key: &[u8; 32]) -> String {
        hex(&hmac_sha256(key, self.data.as_bytes()))
    }
}

/// A batch to mint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MintInput {
    /// Plan code the cards give.
    pub plan: String,
    /// Number of cards (1–10 000).
    pub count: u32,
    /// Cards not redeemed by then stop working.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// A note for the batch (reseller, print run), up to 200 characters.
    #[serde(default)]
    pub label: String,
}

/// The earlier system's codes to take over as one batch.
#[derive(Debug, Clone)]
pub struct LegacyImport {
    /// Plan code the cards give.
    pub plan: String,
    /// The codes as read (one per line; blank lines and `#` comments already dropped), each
    /// with its line number for messages.
    pub codes: Vec<(usize, String)>,
    /// Cards not redeemed by then stop working.
    pub expires_at: Option<DateTime<Utc>>,
    /// A note for the batch; empty means `legacy import`.
    pub label: String,
}

/// A minted batch with its codes, shown this once.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The batch.
    pub batch: BatchView,
    /// The printed codes.
    pub codes: Vec<String>,
}

/// A batch as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchView {
    /// Batch id.
    pub id: Uuid,
    /// Plan code.
    pub plan: String,
    /// Note.
    pub label: String,
    /// Cards minted.
    pub size: i32,
    /// Cards redeemed.
    pub redeemed: u64,
    /// Expiry of the unredeemed cards.
    pub expires_at: Option<DateTime<Utc>>,
    /// Minted.
    pub created_at: DateTime<Utc>,
    /// Revoked (unredeemed cards no longer work).
    pub revoked_at: Option<DateTime<Utc>>,
}

fn batch_view(b: &card_batch::Model, plan: &str, redeemed: u64) -> BatchView {
    BatchView {
        id: b.id,
        plan: plan.to_owned(),
        label: b.label.clone(),
        size: b.size,
        redeemed,
        expires_at: b.expires_at.map(at),
        created_at: at(b.created_at),
        revoked_at: b.revoked_at.map(at),
    }
}

/// A successful redemption.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Redeemed {
    /// The plan now held (or queued, for a renewal).
    pub plan: PlanView,
    /// Start of the new subscription.
    pub starts_at: DateTime<Utc>,
    /// Its end; `null`: it never ends.
    pub ends_at: Option<DateTime<Utc>>,
}

/// Cells a spreadsheet would run as a formula get a leading `'` (the export rule of the
/// catalogue, kept here for the printing CSV).
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The printing CSV of a minted batch: `code,plan,expires_at,batch`.
pub fn printing_csv(m: &Minted) -> String {
    let mut out = String::from("code,plan,expires_at,batch\n");
    let expires = m
        .batch
        .expires_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    for code in &m.codes {
        let row = [
            csv_cell(code),
            csv_cell(&m.batch.plan),
            csv_cell(&expires),
            csv_cell(&m.batch.id.to_string()),
        ];
        let quoted: Vec<String> = row
            .iter()
            .map(|c| {
                if c.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

fn months_ms(days: i32) -> i64 {
    i64::from(days) * 86_400_000
}

impl Commerce {
    /// Mints a batch of cards for a plan; returns the codes (never stored in clear). Audited.
    /// `actor` is `None` for the command line (`myqcm admin cards mint`, run by the operator
    /// of the machine).
    ///
    /// # Errors
    /// Permission, [`CommerceError::Invalid`] (count, expiry in the past, unknown plan, the
    /// free plan), storage.
    pub async fn mint(
        &self,
        actor: Option<&Actor>,
        meta: &ClientMeta,
        input: MintInput,
    ) -> Result<Minted> {
        if let Some(a) = actor {
            require_finance(a)?;
        }
        if input.count == 0 || input.count > MAX_BATCH {
            return Err(invalid("count", "1 to 10 000 cards"));
        }
        if input.label.chars().count() > 200 {
            return Err(invalid("label", "200 characters at most"));
        }
        let now = self.now_ms();
        if input
            .expires_at
            .is_some_and(|t| t.timestamp_millis() <= now)
        {
            return Err(invalid("expires_at", "must be in the future"));
        }
        let txn = myqcm_db::begin_write(&self.db).await?;
        let plan = repo::plan_by_code(&txn, &input.plan)
            .await?
            .ok_or_else(|| invalid("plan", "no plan has this code"))?;
        if plan.is_default {
            return Err(invalid("plan", "the free plan needs no card"));
        }
        let codes: Vec<CardCode> = (0..input.count).map(|_| CardCode::random()).collect();
        let hmacs: Vec<String> = codes.iter().map(|c| c.hmac(&self.card_key)).collect();
        let batch = card_batch::Model {
            id: Uuid::now_v7(),
            plan_id: plan.id,
            label: input.label.trim().to_owned(),
            size: i32::try_from(input.count).unwrap_or(i32::MAX),
            expires_at: input.expires_at.map(|t| t.timestamp_millis()),
            created_by: actor.map(|a| a.id),
            created_at: now,
            revoked_at: None,
            revoked_by: None,
        };
        repo::insert_batch(&txn, batch.clone(), &hmacs).await?;
        let mut event = audit::Event::new("cards.minted")
            .target(batch.id.to_string())
            .meta(meta)
            .detail(serde_json::json!({"plan": plan.code, "count": input.count}));
        if let Some(a) = actor {
            event = event.actor(a.id);
        }
        audit::record(&txn, self.clock.as_ref(), event).await?;
        txn.commit().await?;
        Ok(Minted {
            batch: batch_view(&batch, &plan.code, 0),
            codes: codes.iter().map(CardCode::printed).collect(),
        })
    }

    /// Takes over the earlier system's unredeemed activation codes as one batch for a plan
    /// (command line only: `myqcm admin cards import`). Like minted cards, only their HMACs are
    /// stored; a code listed twice counts once. Audited as `cards.imported` (count, no code).
    ///
    /// # Errors
    /// [`CommerceError::Invalid`] (a code not in the 6×4 format, with its line; none at all;
    /// more than 10 000; expiry in the past; unknown plan, the free plan; a code already
    /// stored), storage.
    pub async fn import_legacy(&self, meta: &ClientMeta, input: LegacyImport) -> Result<BatchView> {
        let mut hmacs = Vec::with_capacity(input.codes.len());
        let mut seen = std::collections::HashSet::new();
        for (line, text) in &input.codes {
            let code = CardCode::parse_legacy(text).ok_or_else(|| {
                invalid(
                    "codes",
                    format!("line {line}: not a code of 6 groups of 4 characters A-Z0-9"),
                )
            })?;
            let h = code.hmac(&self.card_key);
            if seen.insert(h.clone()) {
                hmacs.push(h);
            }
        }
        if hmacs.is_empty() || hmacs.len() > MAX_BATCH as usize {
            return Err(invalid("codes", "1 to 10 000 codes"));
        }
        let now = self.now_ms();
        if input
            .expires_at
            .is_some_and(|t| t.timestamp_millis() <= now)
        {
            return Err(invalid("expires_at", "must be in the future"));
        }
        let label = match input.label.trim() {
            "" => "legacy import",
            l => l,
        };
        if label.chars().count() > 200 {
            return Err(invalid("label", "200 characters at most"));
        }
        let txn = myqcm_db::begin_write(&self.db).await?;
        let plan = repo::plan_by_code(&txn, &input.plan)
            .await?
            .ok_or_else(|| invalid("plan", "no plan has this code"))?;
        if plan.is_default {
            return Err(invalid("plan", "the free plan needs no card"));
        }
        let batch = card_batch::Model {
            id: Uuid::now_v7(),
            plan_id: plan.id,
            label: label.to_owned(),
            size: i32::try_from(hmacs.len()).unwrap_or(i32::MAX),
            expires_at: input.expires_at.map(|t| t.timestamp_millis()),
            created_by: None,
            created_at: now,
            revoked_at: None,
            revoked_by: None,
        };
        match repo::insert_batch(&txn, batch.clone(), &hmacs).await {
            Err(myqcm_db::DbError::Conflict(_)) => {
                return Err(invalid(
                    "codes",
                    "a code is already stored (imported before?)",
                ));
            }
            r => r?,
        }
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("cards.imported")
                .target(batch.id.to_string())
                .meta(meta)
                .detail(serde_json::json!({"plan": plan.code, "count": hmacs.len()})),
        )
        .await?;
        txn.commit().await?;
        Ok(batch_view(&batch, &plan.code, 0))
    }

    /// Every batch, newest first (staff).
    ///
    /// # Errors
    /// Permission, storage.
    pub async fn batches(&self, actor: &Actor) -> Result<Vec<BatchView>> {
        require_finance(actor)?;
        let plans = super::plan_codes(&self.db).await?;
        Ok(repo::batches(&self.db)
            .await?
            .iter()
            .map(|r| {
                let plan = plans.get(&r.batch.plan_id).map_or("", String::as_str);
                batch_view(&r.batch, plan, r.redeemed)
            })
            .collect())
    }

    /// Revokes a batch: its unredeemed cards stop working (redeemed ones keep their
    /// subscriptions). Audited.
    ///
    /// # Errors
    /// Permission, [`CommerceError::NotFound`], [`CommerceError::Conflict`] when already
    /// revoked.
    pub async fn revoke_batch(&self, actor: &Actor, meta: &ClientMeta, id: Uuid) -> Result<()> {
        require_finance(actor)?;
        let txn = myqcm_db::begin_write(&self.db).await?;
        if !repo::revoke_batch(&txn, id, actor.id, self.now_ms()).await? {
            let exists = repo::batches(&txn).await?.iter().any(|b| b.batch.id == id);
            return Err(if exists {
                CommerceError::Conflict("the batch is already revoked".into())
            } else {
                CommerceError::NotFound
            });
        }
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("cards.batch_revoked")
                .actor(actor.id)
                .target(id.to_string())
                .meta(meta),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn over_limit(&self, limit: Limit, subject: &str) -> Result<bool> {
        ratelimit::over(self.cache.as_ref(), limit, subject)
            .await
            .map_err(|e| CommerceError::Store(myqcm_db::DbError::Backend(e.to_string())))
    }

    /// Redeems a card for the learner `actor`: a new subscription to the card's plan
    /// (docs/COMMERCE.md: a renewal of the same plan starts when the paid time ends; another
    /// plan starts now, crediting the unused paid time at the price ratio). Rate-limited per
    /// account and address, audited (refusals too).
    ///
    /// # Errors
    /// [`CommerceError::Forbidden`] without `Train`, [`CommerceError::RateLimited`],
    /// [`CommerceError::CardInvalid`], [`CommerceError::CardUsed`],
    /// [`CommerceError::CardExpired`], [`CommerceError::PlanWithoutEnd`], storage.
    pub async fn redeem(&self, actor: &Actor, meta: &ClientMeta, code: &str) -> Result<Redeemed> {
        if !actor.can(Action::Train) {
            return Err(CommerceError::Forbidden);
        }
        // Both counters move on every attempt, before any work, so parallel guesses cannot
        // pass a limit.
        let account = self
            .over_limit(REDEEM_ACCOUNT, &actor.id.to_string())
            .await?;
        let ip = self
            .over_limit(REDEEM_IP, &client_subject(meta.ip.as_deref()))
            .await?;
        if account || ip {
            return Err(CommerceError::RateLimited);
        }
        let result = self.redeem_checked(actor, meta, code).await;
        if let Err(e) = &result {
            let reason = match e {
                CommerceError::CardInvalid => Some("invalid"),
                CommerceError::CardUsed => Some("used"),
                CommerceError::CardExpired => Some("expired"),
                CommerceError::PlanWithoutEnd => Some("plan_without_end"),
                _ => None,
            };
            if let Some(reason) = reason {
                audit::record(
                    &self.db,
                    self.clock.as_ref(),
                    audit::Event::new("card.redeem_refused")
                        .actor(actor.id)
                        .meta(meta)
                        .detail(serde_json::json!({"reason": reason})),
                )
                .await?;
            }
        }
        result
    }

    async fn redeem_checked(
        &self,
        actor: &Actor,
        meta: &ClientMeta,
        code: &str,
    ) -> Result<Redeemed> {
        let code = CardCode::parse(code).ok_or(CommerceError::CardInvalid)?;
        let hmac = code.hmac(&self.card_key);
        let now = self.now_ms();
        let txn = myqcm_db::begin_write(&self.db).await?;
        let (card, batch) = repo::card_by_hmac(&txn, &hmac)
            .await?
            .ok_or(CommerceError::CardInvalid)?;
        if batch.revoked_at.is_some() {
            return Err(CommerceError::CardInvalid);
        }
        if card.redeemed_at.is_some() {
            return Err(CommerceError::CardUsed);
        }
        if batch.expires_at.is_some_and(|t| t <= now) {
            return Err(CommerceError::CardExpired);
        }
        let plan = repo::plan(&txn, batch.plan_id)
            .await?
            .ok_or(CommerceError::NotFound)?;
        let (starts_at, ends_at) = self.schedule(&txn, actor.id, &plan, now).await?;
        let sub = repo::insert_subscription(
            &txn,
            subscription::Model {
                id: Uuid::now_v7(),
                learner_id: actor.id,
                plan_id: plan.id,
                starts_at,
                ends_at,
                source: "card".into(),
                card_id: Some(card.id),
                created_at: now,
            },
        )
        .await?;
        if !repo::redeem_card(&txn, card.id, actor.id, sub.id, now).await? {
            // Another request redeemed it first: dropping the transaction undoes the
            // subscription written above.
            return Err(CommerceError::CardUsed);
        }
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("card.redeemed")
                .actor(actor.id)
                .target(card.id.to_string())
                .meta(meta)
                .detail(serde_json::json!({
                    "plan": plan.code,
                    "batch": batch.id,
                    "subscription": sub.id,
                })),
        )
        .await?;
        txn.commit().await?;
        self.entitlements.invalidate(actor.id);
        Ok(Redeemed {
            plan: PlanView::from(&plan),
            starts_at: at(starts_at),
            ends_at: ends_at.map(at),
        })
    }

    /// When a new subscription to `plan` starts and ends (the proration rule, docs/COMMERCE.md),
    /// ending or dropping what it replaces.
    pub(super) async fn schedule(
        &self,
        txn: &myqcm_db::DatabaseTransaction,
        learner: Uuid,
        plan: &repo::plan::Model,
        now: i64,
    ) -> Result<(i64, Option<i64>)> {
        let open = repo::open_subscriptions(txn, learner, now).await?;
        if open.iter().any(|s| s.ends_at.is_none()) {
            return Err(CommerceError::PlanWithoutEnd);
        }
        let duration = plan.duration_days.map(months_ms);
        // Nothing paid in force: the plan starts now.
        if open.is_empty() {
            return Ok((now, duration.map(|d| now + d)));
        }
        // The same plan: a renewal, queued after the paid time.
        if open.iter().all(|s| s.plan_id == plan.id) {
            let start = open.iter().filter_map(|s| s.ends_at).max().unwrap_or(now);
            return Ok((start, duration.map(|d| start + d)));
        }
        // Another plan: it starts now; the unused paid time (current and queued) is credited
        // at the ratio of the prices, rounded down to the millisecond.
        let mut credit_value: i128 = 0;
        for s in &open {
            let old = repo::plan(txn, s.plan_id)
                .await?
                .ok_or(CommerceError::NotFound)?;
            let from = s.starts_at.max(now);
            let left = s.ends_at.map_or(0, |e| (e - from).max(0));
            credit_value += i128::from(left) * i128::from(old.price_dzd);
            if s.starts_at > now {
                repo::delete_subscription(txn, s.id).await?;
            } else {
                repo::end_subscription(txn, s.id, now).await?;
            }
        }
        let credit = if plan.price_dzd > 0 {
            i64::try_from(credit_value / i128::from(plan.price_dzd)).unwrap_or(i64::MAX / 4)
        } else {
            0
        };
        Ok((now, duration.map(|d| now + d + credit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_printed_form() {
        for _ in 0..200 {
            let c = CardCode::random();
            let printed = c.printed();
            assert_eq!(printed.len(), 21, "{printed}");
            assert_eq!(printed.matches('-').count(), 4);
            assert_eq!(CardCode::parse(&printed), Some(c.clone()));
            let sloppy = printed.to_lowercase().replace('-', " ");
            assert_eq!(CardCode::parse(&sloppy), Some(c.clone()));
        }
    }

    #[test]
    fn the_check_character_catches_a_changed_or_swapped_character() {
        for _ in 0..200 {
            let printed = CardCode::random().printed();
            let bytes: Vec<u8> = printed.bytes().filter(|b| *b != b'-').collect();
            for i in 0..16 {
                let mut typo = bytes.clone();
                typo[i] = if typo[i] == b'7' { b'8' } else { b'7' };
                if typo != bytes {
                    let s = String::from_utf8(typo).unwrap_or_default();
                    assert_eq!(CardCode::parse(&s), None, "{s} passed for {printed}");
                }
                if i < 15 && bytes[i] != bytes[i + 1] {
                    let mut swapped = bytes.clone();
                    swapped.swap(i, i + 1);
                    let s = String::from_utf8(swapped).unwrap_or_default();
                    assert_eq!(CardCode::parse(&s), None, "{s} passed for {printed}");
                }
            }
        }
    }

    #[test]
    fn the_check_is_the_value_modulo_37_in_crockfords_alphabet() {
        // 0000000000000001 = 1 → check 1; 000000000000000Z = 31 → 'Z'; 0000000000000011 =
        // 33 → '~'; 0000000000000015 = 37 → '0'.
        for (data, check) in [
            ("0000000000000001", '1'),
            ("000000000000000Z", 'Z'),
            ("0000000000000011", '~'),
            ("0000000000000015", '0'),
        ] {
            let code = format!("{data}{check}");
            assert!(CardCode::parse(&code).is_some(), "{code}");
        }
        assert!(CardCode::parse("0000000000000001-2").is_none());
        // I, L read as 1 and O as 0.
        assert!(CardCode::parse("OOOO-OOOO-OOOO-OOOL-1").is_some());
    }

    #[test]
    fn legacy_codes_are_read_forgivingly_and_kept_apart_from_ours() {
        let a = CardCode::parse("ABCD-EFGH-IJKL-MNOP-QRST-UV01").unwrap();
        let b = CardCode::parse(" abcd efgh ijkl-mnop qrstuv01 ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.printed(), "ABCD-EFGH-IJKL-MNOP-QRST-UV01");
        assert_eq!(
            CardCode::parse_legacy("abcdefghijklmnopqrstuv01"),
            Some(a.clone())
        );
        // I, L, O stay themselves in the earlier alphabet.
        assert_ne!(
            CardCode::parse("ABCD-EFGH-1JK1-MNOP-QRST-UV01"),
            Some(a.clone())
        );
        for bad in [
            "ABCD-EFGH-IJKL-MNOP-QRST-UV0",
            "ABCD-EFGH-IJKL-MNOP-QRST-UV0*",
        ] {
            assert!(CardCode::parse(bad).is_none(), "{bad}");
        }
        let ours = CardCode::random();
        assert!(CardCode::parse_legacy(&ours.printed()).is_none());
        assert_ne!(ours.hmac(&[7; 32]), a.hmac(&[7; 32]));
    }

    #[test]
    fn csv_cells_cannot_start_a_formula() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("-x"), "'-x");
        assert_eq!(csv_cell("ABCD"), "ABCD");
    }
}
