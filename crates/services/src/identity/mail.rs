//! Transactional mail in French, Arabic and English, enqueued as `mail.send` jobs inside the
//! caller's transaction (a rolled-back change sends nothing; SMTP latency never shows in a
//! response, which keeps responses enumeration-proof).

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use myqcm_db::jobs::{self, NewJob};
use sea_orm::ConnectionTrait;

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

/// The message id (without `-subject`/`-body`) and the arguments of `msg`.
fn text_of(msg: &Message) -> (&'static str, Vec<(&'static str, String)>) {
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
                ("at", at.format("%Y-%m-%d %H:%M UTC").to_string()),
                ("ip", ip.clone()),
            ],
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
    let (id, args) = text_of(msg);
    let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), FluentValue::from(v)))
        .collect();
    let subject = MAIL_TEXT.lookup(&l, &format!("{id}-subject"));
    let body = MAIL_TEXT.lookup_with_args(&l, &format!("{id}-body"), &args);
    (subject, body)
}

/// Enqueues `msg` for `to` in `locale` using `conn` (normally the caller's transaction).
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    to: &str,
    locale: &str,
    msg: &Message,
) -> Result<(), myqcm_db::DbError> {
    let (subject, text) = render(msg, locale);
    let payload = serde_json::json!({ "to": to, "subject": subject, "text": text, "html": null });
    let mut job = NewJob::new("mail.send", payload, now);
    job.priority = 10;
    jobs::enqueue(conn, &job, now).await.map(|_| ())
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
}
