//! Transactional mail in French, Arabic and English, enqueued as `mail.send` jobs inside the
//! caller's transaction (a rolled-back change sends nothing; SMTP latency never shows in a
//! response, which keeps responses enumeration-proof).
//!
//! A queued mail holds links, codes, addresses and IPs, so its job payload is sealed (AEAD under
//! the `seal:mail` purpose key of `MYQCM_SECRET_KEY`): a database dump or the admin jobs API
//! shows only `{"account": id, "sealed": "v2.…"}`. Once delivered, the payload is replaced by
//! `{"account": id, "delivered": true}`; finished jobs are purged after the job retention; and
//! erasing an account deletes its finished mail jobs at once (found by their `mail:<account>:`
//! idempotency key prefix; a dead one still holds its sealed address).

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use myqcm_db::jobs::{self, NewJob};
use myqcm_domain::ports::{Mailer, OutgoingMail, PortError};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::crypto;

/// The job kind that delivers one queued mail.
pub const JOB_KIND: &str = "mail.send";

/// Authenticated context of a sealed mail payload: it opens only as a `mail.send` payload.
const SEAL_CONTEXT: &[u8] = b"mail.send";

/// The messages the identity work sends.
#[derive(Debug, Clone)]
pub enum Message {
    /// Verify the address: a link and a 6-digit code, both valid 30 minutes.
    Verify {
        /// Link to the verification page.
        link: String,
        /// The code.
        code: String,
    },
    /// Someone tried to sign up with an address that already has an account.
    SignUpExisting {
        /// Link to the sign-in page.
        sign_in: String,
        /// Link to the reset page.
        reset: String,
    },
    /// Reset the password (link valid 30 minutes).
    Reset {
        /// Link to the reset page.
        link: String,
    },
    /// A new sign-in happened.
    NewSignIn {
        /// When.
        at: DateTime<Utc>,
        /// From which address.
        ip: String,
    },
    /// A sign-in on a new device signed out the device seen least recently (the plan's device
    /// limit).
    DeviceSignedOut {
        /// The devices signed out (their browsers, shortened).
        devices: String,
        /// The plan's device limit.
        limit: i32,
    },
    /// Repeated failed sign-ins on the account.
    SignInFailures {
        /// The address of the last failing client.
        ip: String,
    },
    /// The password was changed or reset; every session was signed out.
    PasswordChanged,
    /// The address was changed (sent to the old address).
    EmailChanged {
        /// The new address, partly masked.
        new_email: String,
    },
    /// Deletion requested; carried out after the grace period.
    DeletionScheduled {
        /// Days until erasure.
        days: u32,
    },
    /// The account was deleted.
    AccountDeleted,
    /// Two-step verification was turned off.
    MfaDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesReplaced,
}

// The mail catalogues (`crates/services/locales/<lang>/mail.ftl`), French by default. Plain-text
// mail: no Unicode isolation marks around arguments, which would break the links.
fluent_templates::static_loader! {
    static MAIL_TEXT = {
        locales: "./locales",
        fallback_language: "fr",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn lang(locale: &str) -> LanguageIdentifier {
    match locale.get(..2) {
        Some("ar") => langid!("ar"),
        Some("en") => langid!("en"),
        _ => langid!("fr"),
    }
}

/// The message id (without `-subject`/`-body`) and the arguments of `msg` in `locale` (times
/// in Algerian time, written as the pages write them).
fn text_of(msg: &Message, locale: &str) -> (&'static str, Vec<(&'static str, String)>) {
    match msg {
        Message::Verify { link, code } => (
            "mail-verify",
            vec![("link", link.clone()), ("code", code.clone())],
        ),
        Message::SignUpExisting { sign_in, reset } => (
            "mail-signup-existing",
            vec![("sign_in", sign_in.clone()), ("reset", reset.clone())],
        ),
        Message::Reset { link } => ("mail-reset", vec![("link", link.clone())]),
        Message::NewSignIn { at, ip } => (
            "mail-new-sign-in",
            vec![
                ("at", myqcm_domain::localtime::datetime(locale, at)),
                ("ip", ip.clone()),
            ],
        ),
        Message::DeviceSignedOut { devices, limit } => (
            "mail-device-signed-out",
            vec![("devices", devices.clone()), ("limit", limit.to_string())],
        ),
        Message::PasswordChanged => ("mail-password-changed", vec![]),
        Message::EmailChanged { new_email } => {
            ("mail-email-changed", vec![("new_email", new_email.clone())])
        }
        Message::SignInFailures { ip } => ("mail-sign-in-failures", vec![("ip", ip.clone())]),
        Message::DeletionScheduled { days } => {
            ("mail-deletion-scheduled", vec![("days", days.to_string())])
        }
        Message::AccountDeleted => ("mail-account-deleted", vec![]),
        Message::MfaDisabled => ("mail-mfa-disabled", vec![]),
        Message::RecoveryCodesReplaced => ("mail-recovery-codes", vec![]),
    }
}

/// Subject and plain-text body of `msg` in `locale` (`fr` by default), from the Fluent
/// catalogues.
pub fn render(msg: &Message, locale: &str) -> (String, String) {
    let l = lang(locale);
    let (id, args) = text_of(msg, locale);
    let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), FluentValue::from(v)))
        .collect();
    let subject = MAIL_TEXT.lookup(&l, &format!("{id}-subject"));
    let body = MAIL_TEXT.lookup_with_args(&l, &format!("{id}-body"), &args);
    (subject, body)
}

/// Whom a mail goes to: the account it concerns (for erasure) and the address and language.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// The account the mail is about.
    pub account: Uuid,
    /// Delivery address (for an email change: the new address).
    pub to: &'a str,
    /// Language of the text.
    pub locale: &'a str,
}

impl<'a> Recipient<'a> {
    /// An account's own address and language.
    pub fn of(account: &'a myqcm_db::identity::accounts::Account) -> Self {
        Self {
            account: account.id,
            to: &account.email,
            locale: &account.locale,
        }
    }
}

/// A rendered mail, as sealed in the job payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// Address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The idempotency key prefix of every mail job about `account`.
pub fn key_prefix(account: Uuid) -> String {
    format!("mail:{}:", account.simple())
}

/// Enqueues `msg` for `to` using `conn` (normally the caller's transaction), sealed under `key`.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    key: &[u8; 32],
    now: DateTime<Utc>,
    to: Recipient<'_>,
    msg: &Message,
) -> Result<(), myqcm_db::DbError> {
    let (subject, text) = render(msg, to.locale);
    let mail = QueuedMail {
        to: to.to.to_owned(),
        subject,
        text,
    };
    let plain = serde_json::to_vec(&mail).unwrap_or_default();
    let payload = serde_json::json!({
        "account": to.account,
        "sealed": crypto::seal(key, SEAL_CONTEXT, &plain),
    });
    let mut job = NewJob::new(JOB_KIND, payload, now);
    job.priority = 10;
    job.idempotency_key = Some(format!(
        "{}{}",
        key_prefix(to.account),
        Uuid::new_v4().simple()
    ));
    jobs::enqueue(conn, &job, now).await.map(|_| ())
}

/// What a `mail.send` payload holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The mail to deliver.
    Mail(QueuedMail),
    /// Already delivered (an attempt sent it, then lost its lease before recording success).
    Delivered,
}

/// Opens a `mail.send` payload sealed under `key`; `None` when it is neither a sealed mail nor
/// a delivered marker, or does not open under this key (altered, or another secret key).
pub fn open(key: &[u8; 32], payload: &serde_json::Value) -> Option<Opened> {
    if payload["delivered"].as_bool() == Some(true) {
        return Some(Opened::Delivered);
    }
    let plain = crypto::open(key, SEAL_CONTEXT, payload["sealed"].as_str()?)?;
    serde_json::from_slice(&plain).ok().map(Opened::Mail)
}

/// Why a queued mail was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The payload does not open under the current key (the secret key changed, or the row
    /// was altered). Retrying cannot help; the job ends dead and is purged with the others.
    #[error("the queued mail does not open under the current secret key")]
    Unreadable,
    /// The mail port failed (retried by the worker).
    #[error("mail delivery failed: {0}")]
    Port(#[from] PortError),
    /// Recording the delivery failed.
    #[error(transparent)]
    Db(#[from] myqcm_db::DbError),
}

/// Delivers the mail of job `job_id` through `mailer`, then replaces the payload by a
/// delivered marker so the row keeps no address, link, code or IP.
pub async fn deliver<C: ConnectionTrait>(
    conn: &C,
    mailer: &dyn Mailer,
    key: &[u8; 32],
    job_id: i64,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    let mail = match open(key, payload).ok_or(DeliveryError::Unreadable)? {
        Opened::Delivered => return Ok(()),
        Opened::Mail(m) => m,
    };
    mailer
        .send(&OutgoingMail {
            to: mail.to,
            subject: mail.subject,
            text: mail.text,
            html: None,
        })
        .await?;
    let marker = serde_json::json!({ "account": payload["account"], "delivered": true });
    jobs::replace_payload(conn, job_id, &marker, now).await?;
    Ok(())
}

/// Masks an address for display: `am***@example.dz`.
pub fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let keep: String = local.chars().take(2).collect();
            format!("{keep}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Message> {
        vec![
            Message::Verify {
                link: "https://x.test/verify-email#token=abc".into(),
                code: "123456".into(),
            },
            Message::SignUpExisting {
                sign_in: "https://x.test/sign-in".into(),
                reset: "https://x.test/password-reset".into(),
            },
            Message::Reset {
                link: "https://x.test/password-reset#token=abc".into(),
            },
            Message::NewSignIn {
                at: DateTime::<Utc>::UNIX_EPOCH,
                ip: "203.0.113.9".into(),
            },
            Message::DeviceSignedOut {
                devices: "Firefox/1 phone".into(),
                limit: 1,
            },
            Message::PasswordChanged,
            Message::EmailChanged {
                new_email: "am***@example.dz".into(),
            },
            Message::DeletionScheduled { days: 14 },
            Message::AccountDeleted,
            Message::MfaDisabled,
            Message::RecoveryCodesReplaced,
        ]
    }

    #[test]
    fn the_new_sign_in_time_reads_in_algerian_time_in_each_language() {
        use chrono::TimeZone;
        let msg = Message::NewSignIn {
            at: Utc.with_ymd_and_hms(2026, 12, 2, 13, 5, 0).unwrap(),
            ip: "203.0.113.9".into(),
        };
        for (locale, when) in [
            ("fr", "le 2 déc. 2026 14:05 (heure algérienne)"),
            ("ar", "في 2 ديسمبر 2026 14:05 (بتوقيت الجزائر)"),
            ("en", "on 2 Dec 2026 14:05 (Algerian time)"),
        ] {
            let (_, body) = render(&msg, locale);
            assert!(body.contains(when), "{locale}: {body}");
            assert!(!body.contains("UTC"), "{locale}: {body}");
        }
    }

    #[test]
    fn every_mail_renders_in_every_language_with_its_arguments_intact() {
        for locale in ["fr", "ar", "en"] {
            for msg in all() {
                let (subject, body) = render(&msg, locale);
                assert!(
                    !subject.is_empty() && !subject.contains("mail-"),
                    "{locale}: {subject}"
                );
                assert!(
                    !body.is_empty() && !body.contains("mail-"),
                    "{locale}: {body}"
                );
                assert!(
                    !body.contains('\u{2068}'),
                    "no isolation marks in plain-text mail"
                );
                if let Message::Verify { link, code } = &msg {
                    assert!(
                        body.lines().any(|l| l == link),
                        "the link stands on its own line"
                    );
                    assert!(body.contains(code.as_str()));
                }
            }
        }
        assert_eq!(
            render(&Message::PasswordChanged, "en").0,
            "Password changed"
        );
        assert_eq!(
            render(&Message::PasswordChanged, "ar-DZ").0,
            "تم تغيير كلمة المرور"
        );
        assert_eq!(
            render(&Message::PasswordChanged, "xx").0,
            "Mot de passe modifié"
        );
        assert!(
            render(&Message::DeletionScheduled { days: 14 }, "fr")
                .1
                .contains("14 jours")
        );
    }

    #[test]
    fn a_sealed_mail_opens_only_under_its_key_and_shows_nothing_in_clear() {
        let key = crypto::derive_key(b"one deployment's secret", "seal:mail");
        let other = crypto::derive_key(b"another deployment's secret", "seal:mail");
        let mail = QueuedMail {
            to: "amina@example.dz".into(),
            subject: "Code".into(),
            text: "123456 https://x.test/verify-email#token=abc".into(),
        };
        let sealed = crypto::seal(
            &key,
            SEAL_CONTEXT,
            &serde_json::to_vec(&mail).unwrap_or_default(),
        );
        let payload = serde_json::json!({ "account": Uuid::nil(), "sealed": sealed });
        let raw = payload.to_string();
        assert!(!raw.contains("amina") && !raw.contains("123456") && !raw.contains("token=abc"));
        assert_eq!(open(&key, &payload), Some(Opened::Mail(mail)));
        assert_eq!(open(&other, &payload), None);
        let moved = crypto::seal(&key, b"another.kind", b"{}");
        assert_eq!(open(&key, &serde_json::json!({ "sealed": moved })), None);
        assert_eq!(
            open(&key, &serde_json::json!({ "delivered": true })),
            Some(Opened::Delivered)
        );
        assert_eq!(open(&key, &serde_json::json!({ "to": "x@y.z" })), None);
        assert!(key_prefix(Uuid::nil()).starts_with("mail:0000"));
    }
}
