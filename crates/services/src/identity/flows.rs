//! The identity use cases. Each one validates, does its work in one transaction where several
//! rows change, enqueues its mail in that same transaction and appends an audit row. Responses
//! that could reveal whether an address has an account are identical for both cases.

use chrono::{DateTime, Utc};
use myqcm_db::identity::accounts::{self as accounts_repo, Account};
use myqcm_db::identity::tokens::{self as tokens_repo, EmailTokenRow};
use myqcm_db::identity::{from_ms, ms};
use myqcm_domain::permissions::Role;
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::accounts::{self, HashedPassword, NewAccount, Origin};
pub use super::accounts::{is_staff, normalize_email, roles_and_scopes};
use super::crypto::{self, ct_eq, sha256_hex};
use super::mail::{self, Message};
use super::passwords::{self, Verified};
use super::ratelimit::{self as rl};
use super::sessions::{self, IssuedTokens, Principal, Via};
use super::{ClientMeta, Deps, IdentityError, Notice, Result, audit, commit_with, dur_ms};

/// Token purposes.
pub mod purpose {
    /// Confirms the account's address.
    pub const VERIFY_EMAIL: &str = "verify_email";
    /// Resets the password.
    pub const RESET_PASSWORD: &str = "reset_password";
    /// Confirms a new address.
    pub const CHANGE_EMAIL: &str = "change_email";
}

/// Wrong codes allowed per verification token before it is spent.
const MAX_CODE_ATTEMPTS: i32 = 5;

pub(crate) fn usable(a: &Account) -> bool {
    a.disabled_at.is_none() && a.deleted_at.is_none()
}

fn link(deps: &Deps, path: &str, token: &str) -> String {
    let mut url = deps.config.public_base_url.clone();
    url.set_path(path);
    url.set_query(None);
    url.set_fragment(Some(&format!("token={token}")));
    // The token travels in the fragment: never sent to the server by the browser, so never in
    // access logs or Referer headers; the page posts it back.
    url.to_string()
}

struct NewEmailToken {
    token: String,
    code: String,
    row: EmailTokenRow,
}

fn new_email_token(
    deps: &Deps,
    user_id: Uuid,
    purpose: &str,
    email: &str,
    now: DateTime<Utc>,
) -> NewEmailToken {
    let token = crypto::new_token();
    let code = crypto::new_code();
    let id = Uuid::now_v7();
    let code_hash = sha256_hex(format!("{id}:{code}").as_bytes());
    NewEmailToken {
        row: EmailTokenRow {
            id,
            user_id,
            purpose: purpose.to_owned(),
            token_hash: sha256_hex(token.as_bytes()),
            code_hash: Some(code_hash),
            email: email.to_owned(),
            expires_at: ms(now) + dur_ms(deps.config.email_token_ttl),
            used_at: None,
            code_attempts: 0,
            created_at: ms(now),
        },
        token,
        code,
    }
}

/// What proving the mailbox changed, for the caller to finish after its commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailboxProof {
    /// The address had never been proven: whoever set the account up before is not trusted.
    pub first_proof: bool,
}

/// The owner of the address just proved they read its mail (verification link or code, reset
/// link, Google with a provider-verified email). Inside the caller's transaction: every pending
/// email token of every purpose is void (a squatter's pending email change cannot outlive the
/// proof), and when the address had never been proven, the TOTP, recovery codes and external
/// links set up before are removed too. The caller ends the sessions after committing
/// ([`end_sessions_after_proof`]).
pub(crate) async fn mailbox_proven(
    txn: &myqcm_db::DatabaseTransaction,
    account: &Account,
    now_ms: i64,
) -> Result<MailboxProof> {
    tokens_repo::invalidate_every_purpose(txn, account.id, now_ms).await?;
    let first_proof = account.email_verified_at.is_none();
    if first_proof {
        myqcm_db::identity::mfa::clear(txn, account.id).await?;
        myqcm_db::identity::external::unlink_all(txn, account.id).await?;
    }
    Ok(MailboxProof { first_proof })
}

/// After a first proof of the mailbox every other sign-in session ends (they were opened by
/// someone who had not proven the address, possibly a squatter); `keep` is the session that
/// made the proof, if any.
pub(crate) async fn end_sessions_after_proof(
    deps: &Deps,
    account_id: Uuid,
    proof: MailboxProof,
    keep: Option<Uuid>,
) -> Result<()> {
    if proof.first_proof {
        sessions::revoke_all(deps, account_id, keep, "mailbox_proven").await?;
    }
    Ok(())
}

/// Sign-up input.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// Address.
    pub email: String,
    /// Chosen password.
    pub password: String,
    /// Name shown.
    pub display_name: String,
    /// `fr`, `ar` or `en`.
    pub locale: Option<String>,
}

/// Creates a student account and sends the verification mail. An address that already has an
/// account gets a "someone tried to sign up" mail instead; the caller sees the same outcome.
pub async fn sign_up(deps: &Deps, input: SignUp, meta: &ClientMeta) -> Result<()> {
    let email = normalize_email(&input.email).ok_or(IdentityError::InvalidEmail)?;
    let name = accounts::display_name(&input.display_name)?;
    passwords::check_new_password(&input.password, false, &email)?;
    rl::hit_ip(deps, rl::SIGN_UP_IP, meta.ip.as_deref()).await?;
    // Hash before looking the address up, so both outcomes cost the same.
    let password = HashedPassword::new(input.password, &[Role::Student], &email).await?;
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    match accounts_repo::find_by_email(&txn, &email).await? {
        Some(existing) => {
            // Silently capped so this cannot be used to mail-bomb an address.
            if rl::hit(deps, rl::MAIL_PER_EMAIL, &email).await.is_ok() {
                let msg = Message::SignUpExisting {
                    sign_in: link(deps, "/sign-in", "")
                        .trim_end_matches("#token=")
                        .to_owned(),
                    reset: link(deps, "/password-reset", "")
                        .trim_end_matches("#token=")
                        .to_owned(),
                };
                let to = mail::Recipient::of(&existing);
                mail::enqueue(&txn, &deps.config.mail_key, now, to, &msg).await?;
            }
            audit::record(
                &txn,
                deps.clock.as_ref(),
                audit::Event::new("sign_up.existing_address")
                    .target(existing.id.to_string())
                    .meta(meta),
            )
            .await?;
        }
        None => {
            let new = NewAccount {
                email: email.clone(),
                display_name: name,
                roles: vec![Role::Student],
                admin_scopes: vec![],
                locale: input.locale,
                verified: false,
                password: Some(password),
            };
            let user = match accounts::insert_account(
                &txn,
                deps.clock.as_ref(),
                new,
                Origin::SignUp,
                meta,
            )
            .await
            {
                Ok(u) => u,
                // A parallel sign-up won the race: same outcome as an existing address.
                Err(IdentityError::EmailTaken) => return Ok(()),
                Err(e) => return Err(e),
            };
            let t = new_email_token(deps, user.id, purpose::VERIFY_EMAIL, &email, now);
            tokens_repo::issue(&txn, t.row).await?;
            let msg = Message::Verify {
                link: link(deps, "/verify-email", &t.token),
                code: t.code,
            };
            let to = mail::Recipient {
                account: user.id,
                to: &email,
                locale: &user.locale,
            };
            mail::enqueue(&txn, &deps.config.mail_key, now, to, &msg).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Asks for a fresh verification mail; sent (by the `identity.mail_request` job) only if the
/// address has an unverified account. The request itself does the same work for every address
/// (rate limits, one sealed job row), so neither the answer nor its timing tells whether an
/// account exists; only the per-IP limit can refuse, identically for every address.
pub async fn resend_verification(deps: &Deps, email: &str, meta: &ClientMeta) -> Result<()> {
    defer_mail_request(deps, MailRequestKind::Verify, email, meta).await
}

/// The mail a deferred request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum MailRequestKind {
    /// A fresh verification mail.
    Verify,
    /// A password reset link.
    Reset,
}

/// A deferred request, sealed in the job payload (it holds an address and an IP).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct MailRequest {
    kind: MailRequestKind,
    email: String,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

/// The job kind that carries out reset and resend requests.
pub const MAIL_REQUEST_JOB: &str = "identity.mail_request";
const MAIL_REQUEST_CONTEXT: &[u8] = b"identity.mail_request";

/// Rate limits, then one sealed job row, whatever the address: the account look-up, the token
/// and the mail happen in the job ([`run_mail_request`]).
async fn defer_mail_request(
    deps: &Deps,
    kind: MailRequestKind,
    email: &str,
    meta: &ClientMeta,
) -> Result<()> {
    rl::hit_ip(deps, rl::MAIL_PER_IP, meta.ip.as_deref()).await?;
    let Some(email) = normalize_email(email) else {
        return Ok(());
    };
    let subject = match kind {
        MailRequestKind::Verify => email.clone(),
        MailRequestKind::Reset => format!("reset:{email}"),
    };
    if rl::hit(deps, rl::MAIL_PER_EMAIL, &subject).await.is_err() {
        return Ok(());
    }
    let request = MailRequest {
        kind,
        email,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
    };
    let plain = serde_json::to_vec(&request).unwrap_or_default();
    let sealed = crypto::seal(&deps.config.mail_key, MAIL_REQUEST_CONTEXT, &plain);
    let now = deps.clock.now();
    let mut job = myqcm_db::jobs::NewJob::new(
        MAIL_REQUEST_JOB,
        serde_json::json!({ "sealed": sealed }),
        now,
    );
    job.priority = 10;
    myqcm_db::jobs::enqueue(&deps.db, &job, now).await?;
    Ok(())
}

/// Carries out a deferred reset or resend request (the `identity.mail_request` job): looks the
/// address up and, when it has a usable account, issues the token and queues the mail. A
/// payload that does not open (another secret key, altered) is dropped: there is nothing to
/// retry.
pub async fn run_mail_request(deps: &Deps, payload: &serde_json::Value) -> Result<()> {
    let Some(plain) = payload["sealed"]
        .as_str()
        .and_then(|s| crypto::open(&deps.config.mail_key, MAIL_REQUEST_CONTEXT, s))
    else {
        tracing::warn!("a mail request that does not open under the current key was dropped");
        return Ok(());
    };
    let Ok(r) = serde_json::from_slice::<MailRequest>(&plain) else {
        return Ok(());
    };
    let meta = ClientMeta {
        ip: r.ip,
        user_agent: r.user_agent,
        request_id: r.request_id,
        device: None,
    };
    match r.kind {
        MailRequestKind::Verify => send_verification(deps, &r.email).await,
        MailRequestKind::Reset => send_reset(deps, &r.email, &meta).await,
    }
}

/// A fresh verification mail if `email` has an unverified, usable account.
async fn send_verification(deps: &Deps, email: &str) -> Result<()> {
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    if let Some(a) = accounts_repo::find_by_email(&txn, email).await?
        && a.email_verified_at.is_none()
        && usable(&a)
    {
        let t = new_email_token(deps, a.id, purpose::VERIFY_EMAIL, &a.email, now);
        tokens_repo::issue(&txn, t.row).await?;
        let msg = Message::Verify {
            link: link(deps, "/verify-email", &t.token),
            code: t.code,
        };
        let to = mail::Recipient::of(&a);
        mail::enqueue(&txn, &deps.config.mail_key, now, to, &msg).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// How a verification is proven.
#[derive(Debug, Clone)]
pub enum VerifyProof {
    /// The link's token.
    Token(String),
    /// The address and the 6-digit code.
    Code {
        /// Address.
        email: String,
        /// Code.
        code: String,
    },
}

/// Confirms an address (sign-up verification or email change). Any failure is the same
/// `InvalidToken`. Does not sign the user in.
pub async fn verify_email(deps: &Deps, proof: VerifyProof, meta: &ClientMeta) -> Result<()> {
    verify_email_keeping(deps, proof, None, meta).await
}

/// [`verify_email`] from a browser that may be signed in: when `current_access` is a session of
/// the verified account, that session survives the proof (every other one ends on a first
/// proof).
pub async fn verify_email_keeping(
    deps: &Deps,
    proof: VerifyProof,
    current_access: Option<&str>,
    meta: &ClientMeta,
) -> Result<()> {
    let current = match current_access {
        Some(t) => sessions::authenticate(deps, t).await?,
        None => None,
    };
    verify_email_in_session(deps, proof, current.as_ref(), meta).await
}

/// [`verify_email`] by a signed-in caller (`current`): that session survives the proof when it
/// is the verified account's.
pub async fn verify_email_in_session(
    deps: &Deps,
    proof: VerifyProof,
    current: Option<&Principal>,
    meta: &ClientMeta,
) -> Result<()> {
    rl::hit_ip(deps, rl::REDEEM_IP, meta.ip.as_deref()).await?;
    let now = deps.clock.now();
    let now_ms = ms(now);
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let row = match &proof {
        VerifyProof::Token(t) => {
            if t.len() != 43 {
                return Err(IdentityError::InvalidToken);
            }
            tokens_repo::by_hash(&txn, &sha256_hex(t.as_bytes())).await?
        }
        VerifyProof::Code { email, code } => {
            let Some(email) = normalize_email(email) else {
                return Err(IdentityError::InvalidToken);
            };
            let Some(a) = accounts_repo::find_by_email(&txn, &email).await? else {
                return Err(IdentityError::InvalidToken);
            };
            let Some(t) = tokens_repo::latest_unused(&txn, a.id, purpose::VERIFY_EMAIL).await?
            else {
                return Err(IdentityError::InvalidToken);
            };
            let expected = sha256_hex(format!("{}:{code}", t.id).as_bytes());
            let ok = t
                .code_hash
                .as_deref()
                .is_some_and(|h| ct_eq(h.as_bytes(), expected.as_bytes()));
            if !ok || t.code_attempts >= MAX_CODE_ATTEMPTS {
                tokens_repo::count_wrong_code(&txn, t.id).await?;
                if t.code_attempts + 1 >= MAX_CODE_ATTEMPTS {
                    tokens_repo::consume(&txn, t.id, now_ms).await?;
                }
                txn.commit().await?;
                return Err(IdentityError::InvalidToken);
            }
            Some(t)
        }
    };
    let Some(t) = row else {
        return Err(IdentityError::InvalidToken);
    };
    let valid_purpose = t.purpose == purpose::VERIFY_EMAIL || t.purpose == purpose::CHANGE_EMAIL;
    if !valid_purpose || t.used_at.is_some() || t.expires_at <= now_ms {
        return Err(IdentityError::InvalidToken);
    }
    let Some(account) = accounts_repo::get(&txn, t.user_id).await? else {
        return Err(IdentityError::InvalidToken);
    };
    if !usable(&account) {
        return Err(IdentityError::InvalidToken);
    }
    // A verification token is for the address it was sent to: after an email change, the
    // old address's token proves nothing.
    if t.purpose == purpose::VERIFY_EMAIL && t.email != account.email {
        return Err(IdentityError::InvalidToken);
    }
    if !tokens_repo::consume(&txn, t.id, now_ms).await? {
        return Err(IdentityError::InvalidToken);
    }
    let proof = mailbox_proven(&txn, &account, now_ms).await?;
    let mut model = accounts_repo::entity::ActiveModel {
        id: Set(account.id),
        email_verified_at: Set(Some(now)),
        updated_at: Set(now),
        ..Default::default()
    };
    let change = t.purpose == purpose::CHANGE_EMAIL;
    if change {
        model.email = Set(t.email.clone());
    }
    match accounts_repo::update(&txn, model).await {
        Ok(_) => {}
        Err(myqcm_db::DbError::Conflict(_)) => return Err(IdentityError::InvalidToken),
        Err(e) => return Err(e.into()),
    }
    // The old address hears about the change.
    let notice = change.then(|| Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: Message::EmailChanged {
            new_email: mail::mask(&t.email),
        },
    });
    let action = if change {
        "email.changed"
    } else {
        "email.verified"
    };
    let event = audit::Event::new(action)
        .actor(account.id)
        .meta(meta)
        .detail(serde_json::json!({ "first_proof": proof.first_proof }));
    commit_with(txn, deps, notice, event).await?;
    let keep = current
        .filter(|p| p.user_id == account.id)
        .map(|p| p.session_id);
    end_sessions_after_proof(deps, account.id, proof, keep).await
}

/// Whom a sign-in attempt is counted against besides the account: a device that signed in to
/// this account before (its own budget, so others' failures never slow the owner down), else
/// the client address (IPv6 by /64). A device cookie the server has not seen succeed counts as
/// nothing, so minting cookies buys no attempts.
async fn sign_in_client(deps: &Deps, email: &str, meta: &ClientMeta) -> Result<String> {
    if let Some(device) = meta.device.as_deref()
        && rl::device_known(deps, email, device).await?
    {
        return Ok(format!("device:{device}"));
    }
    Ok(format!("ip:{}", rl::client_subject(meta.ip.as_deref())))
}

/// Tells the owner of `email` (at most once an hour) that sign-ins are failing repeatedly.
async fn notify_failures(deps: &Deps, email: &str, meta: &ClientMeta) -> Result<()> {
    let Some(a) = accounts_repo::find_by_email(&deps.db, email)
        .await?
        .filter(usable)
    else {
        return Ok(());
    };
    if rl::hit(deps, rl::FAILURE_NOTICE, &a.id.to_string())
        .await
        .is_err()
    {
        return Ok(());
    }
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let notice = Notice {
        account: a.id,
        to: &a.email,
        locale: &a.locale,
        message: Message::SignInFailures {
            ip: meta.ip.clone().unwrap_or_else(|| "?".into()),
        },
    };
    let event = audit::Event::new("sign_in.failures_notified")
        .target(a.id.to_string())
        .meta(meta);
    commit_with(txn, deps, Some(notice), event).await
}

/// Sign-in attempts by `outcome` (`ok`, `invalid_credentials`, `second_factor`,
/// `rate_limited`, `refused`): a Prometheus counter on the private metrics listener.
pub const SIGN_INS_METRIC: &str = "myqcm_sign_ins_total";

/// Checks email and password and opens a session. Unknown address, disabled account and wrong
/// password give the same error after the same amount of work.
pub async fn sign_in(
    deps: &Deps,
    email: &str,
    password: String,
    second_factor: Option<&str>,
    via: Via,
    meta: &ClientMeta,
) -> Result<(IssuedTokens, Account)> {
    let done = sign_in_checked(deps, email, password, second_factor, via, meta).await;
    let outcome = match &done {
        Ok(_) => "ok",
        Err(IdentityError::InvalidCredentials) => "invalid_credentials",
        Err(IdentityError::MfaRequired) => "second_factor",
        Err(IdentityError::RateLimited) => "rate_limited",
        Err(_) => "refused",
    };
    metrics::counter!(SIGN_INS_METRIC, "outcome" => outcome).increment(1);
    done
}

async fn sign_in_checked(
    deps: &Deps,
    email: &str,
    password: String,
    second_factor: Option<&str>,
    via: Via,
    meta: &ClientMeta,
) -> Result<(IssuedTokens, Account)> {
    rl::hit_ip(deps, rl::SIGN_IN_IP, meta.ip.as_deref()).await?;
    let email = email.trim().to_lowercase();
    if password.len() > 1024 {
        return Err(IdentityError::InvalidCredentials);
    }
    // Counted before the password is looked at, per (account, client): no hard lockout, the
    // owner's known device is its own client, and the owner hears of repeated failures.
    let client = sign_in_client(deps, &email, meta).await?;
    let attempt = rl::sign_in_attempt(deps, &email, &client).await?;
    if attempt.number == rl::SIGN_IN_FREE + 1 {
        notify_failures(deps, &email, meta).await?;
    }
    if !attempt.allowed {
        return Err(IdentityError::RateLimited);
    }
    let account = accounts_repo::find_by_email(&deps.db, &email)
        .await?
        .filter(usable);
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let verified = passwords::verify(password, stored).await;
    let account = match (verified, account) {
        (Verified::No, account) | (_, account @ None) => {
            let mut ev = audit::Event::new("sign_in.failed").meta(meta);
            if let Some(a) = &account {
                ev = ev.target(a.id.to_string());
            }
            audit::record_alone(deps, ev).await?;
            return Err(IdentityError::InvalidCredentials);
        }
        (Verified::OkRehash(new_hash), Some(a)) => {
            accounts_repo::set_password_hash(&deps.db, a.id, &new_hash, ms(deps.clock.now()))
                .await?;
            audit::record_alone(
                deps,
                audit::Event::new("password.rehashed_legacy")
                    .actor(a.id)
                    .meta(meta),
            )
            .await?;
            a
        }
        (Verified::Ok, Some(a)) => a,
    };
    let mfa = if account.totp_enabled_at.is_some() {
        let Some(code) = second_factor else {
            return Err(IdentityError::MfaRequired);
        };
        if let Err(e) = super::mfa::check_second_factor(deps, &account, code).await {
            audit::record_alone(
                deps,
                audit::Event::new("sign_in.mfa_failed")
                    .target(account.id.to_string())
                    .meta(meta),
            )
            .await?;
            return Err(e);
        }
        true
    } else {
        false
    };
    rl::sign_in_succeeded(deps, &email, &client).await?;
    if let Some(device) = meta.device.as_deref() {
        rl::remember_device(deps, &email, device).await?;
    }
    let tokens = sessions::issue(deps, account.id, via, meta, mfa).await?;
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    if account.deletion_requested_at.is_some() {
        // Signing in during the grace period cancels the deletion.
        accounts_repo::update(
            &txn,
            accounts_repo::entity::ActiveModel {
                id: Set(account.id),
                deletion_requested_at: Set(None),
                ..Default::default()
            },
        )
        .await?;
    }
    let notice = new_sign_in_notice(&account, now, meta);
    let event = audit::Event::new("sign_in.succeeded")
        .actor(account.id)
        .target(tokens.session_id.to_string())
        .meta(meta);
    commit_with(txn, deps, Some(notice), event).await?;
    Ok((tokens, account))
}

/// A grant at the token endpoint of non-browser clients.
#[derive(Debug, Clone)]
pub enum Grant {
    /// Email, password and, for enrolled accounts, a second factor.
    Password {
        /// Address.
        email: String,
        /// Password.
        password: String,
        /// TOTP or recovery code.
        second_factor: Option<String>,
    },
    /// A refresh token (rotates).
    Refresh(String),
}

/// Tokens for a Bearer client: a password sign-in or a refresh rotation.
pub async fn token_grant(deps: &Deps, grant: Grant, meta: &ClientMeta) -> Result<IssuedTokens> {
    match grant {
        Grant::Password {
            email,
            password,
            second_factor,
        } => Ok(sign_in(
            deps,
            &email,
            password,
            second_factor.as_deref(),
            Via::Bearer,
            meta,
        )
        .await?
        .0),
        Grant::Refresh(token) => sessions::refresh(deps, &token, meta).await,
    }
}

/// A browser sign-in: [`sign_in`] with cookies, then the session the browser carried before
/// (its access token, if any) ends, so a planted cookie never survives a sign-in.
pub async fn sign_in_browser(
    deps: &Deps,
    email: &str,
    password: String,
    second_factor: Option<&str>,
    previous_access: Option<&str>,
    meta: &ClientMeta,
) -> Result<(IssuedTokens, Account)> {
    let done = sign_in(deps, email, password, second_factor, Via::Cookie, meta).await?;
    if let Some(old) = previous_access {
        sessions::revoke_by_access(deps, old, "replaced_by_sign_in").await?;
    }
    Ok(done)
}

/// Rotates a browser's refresh cookie. The cookie is a credential sent automatically, so the
/// request must also carry the session's CSRF token, checked before anything rotates.
pub async fn refresh_browser(
    deps: &Deps,
    refresh_token: Option<&str>,
    csrf_token: Option<&str>,
    meta: &ClientMeta,
) -> Result<IssuedTokens> {
    let presented = refresh_token.ok_or(IdentityError::Unauthenticated)?;
    let session_id = sessions::session_of_refresh(deps, presented)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if !csrf_token.is_some_and(|c| sessions::csrf_valid(deps, session_id, c)) {
        return Err(IdentityError::CsrfFailed);
    }
    sessions::refresh(deps, presented, meta).await
}

/// "New sign-in to your account" (time and address), to the account's own address.
pub(crate) fn new_sign_in_notice<'a>(
    account: &'a Account,
    at: DateTime<Utc>,
    meta: &ClientMeta,
) -> Notice<'a> {
    Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: Message::NewSignIn {
            at,
            ip: meta.ip.clone().unwrap_or_else(|| "?".into()),
        },
    }
}

/// "Your password changed", to the account's own address.
fn password_notice(account: &Account) -> Notice<'_> {
    Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: Message::PasswordChanged,
    }
}

/// Re-checks the password of the signed-in user and records the proof in the session.
pub async fn reauthenticate(
    deps: &Deps,
    p: &Principal,
    password: String,
    meta: &ClientMeta,
) -> Result<Account> {
    let subject = p.user_id.to_string();
    rl::hit(deps, rl::REAUTH_FAILURES, &subject).await?;
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    match passwords::verify(password, account.password_hash.clone()).await {
        Verified::No => {
            audit::record_alone(
                deps,
                audit::Event::new("step_up.failed")
                    .actor(p.user_id)
                    .meta(meta),
            )
            .await?;
            Err(IdentityError::InvalidCredentials)
        }
        _ => {
            rl::clear(deps, rl::REAUTH_FAILURES, &subject).await?;
            sessions::mark_authenticated(deps, p.session_id, false).await?;
            Ok(account)
        }
    }
}

/// Step-up before sensitive actions: the password, plus a TOTP or recovery code when the
/// account is enrolled (then the session's MFA proof is refreshed too).
pub async fn step_up(
    deps: &Deps,
    p: &Principal,
    password: String,
    second_factor: Option<&str>,
    meta: &ClientMeta,
) -> Result<()> {
    let account = reauthenticate(deps, p, password, meta).await?;
    if account.totp_enabled_at.is_some() {
        let code = second_factor.ok_or(IdentityError::MfaRequired)?;
        super::mfa::check_second_factor(deps, &account, code).await?;
        sessions::mark_authenticated(deps, p.session_id, true).await?;
    }
    audit::record_alone(
        deps,
        audit::Event::new("step_up.succeeded")
            .actor(p.user_id)
            .meta(meta),
    )
    .await?;
    Ok(())
}

/// Whether the session holds a recent enough MFA proof for a sensitive staff action.
pub fn recent_mfa(deps: &Deps, p: &Principal) -> bool {
    p.mfa_at
        .is_some_and(|t| ms(deps.clock.now()) - t <= dur_ms(deps.config.step_up_window))
}

/// Signs out every session of the user (the current one included unless `keep_current`).
/// Needs a recent credential proof, given here as `password` or from an earlier step-up.
pub async fn sign_out_everywhere(
    deps: &Deps,
    p: &Principal,
    password: Option<String>,
    keep_current: bool,
    meta: &ClientMeta,
) -> Result<usize> {
    match password {
        Some(pw) => {
            reauthenticate(deps, p, pw, meta).await?;
        }
        None if sessions::recently_authenticated(deps, p) => {}
        None => return Err(IdentityError::StepUpRequired),
    }
    let keep = keep_current.then_some(p.session_id);
    let n = sessions::revoke_all(deps, p.user_id, keep, "sign_out_everywhere").await?;
    audit::record_alone(
        deps,
        audit::Event::new("session.sign_out_everywhere")
            .actor(p.user_id)
            .meta(meta)
            .detail(serde_json::json!({ "revoked": n })),
    )
    .await?;
    Ok(n)
}

/// Changes the password: needs the current one; other sessions are signed out.
pub async fn change_password(
    deps: &Deps,
    p: &Principal,
    current: String,
    new: String,
    meta: &ClientMeta,
) -> Result<()> {
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    passwords::check_new_password(&new, is_staff(&account), &account.email)?;
    reauthenticate(deps, p, current, meta).await?;
    let hash = passwords::hash(new)
        .await
        .map_err(|e| IdentityError::Other(e.into()))?;
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    accounts_repo::set_password_hash(&txn, account.id, &hash, ms(now)).await?;
    let event = audit::Event::new("password.changed")
        .actor(account.id)
        .meta(meta);
    commit_with(txn, deps, Some(password_notice(&account)), event).await?;
    sessions::revoke_all(deps, account.id, Some(p.session_id), "password_changed").await?;
    Ok(())
}

/// Asks for a reset link; sent (by the `identity.mail_request` job) only if the address has a
/// usable account. Same work and answer for every address, as [`resend_verification`].
pub async fn request_reset(deps: &Deps, email: &str, meta: &ClientMeta) -> Result<()> {
    defer_mail_request(deps, MailRequestKind::Reset, email, meta).await
}

/// A reset link if `email` has a usable account.
async fn send_reset(deps: &Deps, email: &str, meta: &ClientMeta) -> Result<()> {
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    if let Some(a) = accounts_repo::find_by_email(&txn, email).await?
        && usable(&a)
    {
        let t = new_email_token(deps, a.id, purpose::RESET_PASSWORD, &a.email, now);
        tokens_repo::issue(&txn, t.row).await?;
        let notice = Notice {
            account: a.id,
            to: &a.email,
            locale: &a.locale,
            message: Message::Reset {
                link: link(deps, "/password-reset", &t.token),
            },
        };
        let event = audit::Event::new("password.reset_requested")
            .target(a.id.to_string())
            .meta(meta);
        return commit_with(txn, deps, Some(notice), event).await;
    }
    txn.commit().await?;
    Ok(())
}

/// Sets a new password from a reset link: single use, 30 minutes, every session revoked.
pub async fn confirm_reset(
    deps: &Deps,
    token: &str,
    new_password: String,
    meta: &ClientMeta,
) -> Result<()> {
    rl::hit_ip(deps, rl::REDEEM_IP, meta.ip.as_deref()).await?;
    if token.len() != 43 {
        return Err(IdentityError::InvalidToken);
    }
    let now = deps.clock.now();
    let now_ms = ms(now);
    let Some(t) = tokens_repo::by_hash(&deps.db, &sha256_hex(token.as_bytes())).await? else {
        return Err(IdentityError::InvalidToken);
    };
    if t.purpose != purpose::RESET_PASSWORD || t.used_at.is_some() || t.expires_at <= now_ms {
        return Err(IdentityError::InvalidToken);
    }
    let Some(account) = accounts_repo::get(&deps.db, t.user_id)
        .await?
        .filter(usable)
    else {
        return Err(IdentityError::InvalidToken);
    };
    if t.email != account.email {
        return Err(IdentityError::InvalidToken);
    }
    passwords::check_new_password(&new_password, is_staff(&account), &account.email)?;
    let hash = passwords::hash(new_password)
        .await
        .map_err(|e| IdentityError::Other(e.into()))?;
    let txn = myqcm_db::begin_write(&deps.db).await?;
    if !tokens_repo::consume(&txn, t.id, now_ms).await? {
        return Err(IdentityError::InvalidToken);
    }
    // The link reached the mailbox: every other pending token ends, and on a first proof the
    // second factor set up before goes too.
    let proof = mailbox_proven(&txn, &account, now_ms).await?;
    accounts_repo::set_password_hash(&txn, account.id, &hash, now_ms).await?;
    if proof.first_proof {
        accounts_repo::update(
            &txn,
            accounts_repo::entity::ActiveModel {
                id: Set(account.id),
                email_verified_at: Set(Some(now)),
                ..Default::default()
            },
        )
        .await?;
    }
    let event = audit::Event::new("password.reset")
        .actor(account.id)
        .meta(meta)
        .detail(serde_json::json!({ "first_proof": proof.first_proof }));
    commit_with(txn, deps, Some(password_notice(&account)), event).await?;
    sessions::revoke_all(deps, account.id, None, "password_reset").await?;
    Ok(())
}

/// Starts an email change: needs the password; the new address receives a confirmation link
/// and code; the change happens when it is confirmed (see [`verify_email`]).
pub async fn request_email_change(
    deps: &Deps,
    p: &Principal,
    new_email: &str,
    password: String,
    meta: &ClientMeta,
) -> Result<()> {
    let new_email = normalize_email(new_email).ok_or(IdentityError::InvalidEmail)?;
    let account = reauthenticate(deps, p, password, meta).await?;
    // Only the proven owner of the current address may move the account elsewhere (a squatter
    // of an unverified address could otherwise keep a change pending until the owner proves it).
    if account.email_verified_at.is_none() {
        return Err(IdentityError::EmailNotVerified);
    }
    rl::hit(deps, rl::MAIL_PER_EMAIL, &format!("change:{}", p.user_id)).await?;
    let now = deps.clock.now();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let account = accounts_repo::get(&txn, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    // A taken address gets nothing, and the caller sees the same success (no enumeration).
    let mut notice = None;
    if accounts_repo::find_by_email(&txn, &new_email)
        .await?
        .is_none()
    {
        let t = new_email_token(deps, account.id, purpose::CHANGE_EMAIL, &new_email, now);
        tokens_repo::issue(&txn, t.row).await?;
        notice = Some(Notice {
            account: account.id,
            to: &new_email,
            locale: &account.locale,
            message: Message::Verify {
                link: link(deps, "/verify-email", &t.token),
                code: t.code,
            },
        });
    }
    let event = audit::Event::new("email.change_requested")
        .actor(account.id)
        .meta(meta);
    commit_with(txn, deps, notice, event).await
}

/// Changes the display name and/or interface language.
pub async fn update_profile(
    deps: &Deps,
    user_id: Uuid,
    display_name: Option<String>,
    locale: Option<String>,
) -> Result<Account> {
    let mut model = accounts_repo::entity::ActiveModel {
        id: Set(user_id),
        updated_at: Set(deps.clock.now()),
        ..Default::default()
    };
    if let Some(n) = display_name {
        model.display_name = Set(accounts::display_name(&n)?);
    }
    if let Some(l) = locale {
        if !matches!(l.as_str(), "fr" | "ar" | "en") {
            return Err(IdentityError::Invalid { field: "locale" });
        }
        model.locale = Set(l);
    }
    Ok(accounts_repo::update(&deps.db, model).await?)
}

/// Loads a usable account (disabled or deleted accounts count as absent).
pub async fn load_account<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Account>> {
    Ok(accounts_repo::get(conn, id).await?.filter(usable))
}

/// One sign-in session in the owner's device list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SignInSession)]
pub struct SessionView {
    /// Id (revoke with `DELETE /api/v1/account/sessions/{id}`).
    pub id: Uuid,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last refreshed.
    pub last_seen_at: DateTime<Utc>,
    /// Address at sign-in.
    pub ip: Option<String>,
    /// Browser at sign-in.
    pub user_agent: Option<String>,
    /// `cookie` or `bearer`.
    pub via: String,
    /// The session making this request.
    pub current: bool,
}

/// The live sign-in sessions of the principal's account, marking the principal's own.
pub async fn list_sessions(deps: &Deps, p: &Principal) -> Result<Vec<SessionView>> {
    Ok(sessions::list(deps, p.user_id)
        .await?
        .into_iter()
        .map(|r| SessionView {
            current: r.id == p.session_id,
            id: r.id,
            created_at: from_ms(r.created_at),
            last_seen_at: from_ms(r.last_seen_at),
            ip: r.ip,
            user_agent: r.user_agent,
            via: r.via,
        })
        .collect())
}
