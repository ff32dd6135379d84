//! Transactional mail in French, Arabic and English, enqueued as `mail.send` jobs inside the
//! caller's transaction (a rolled-back change sends nothing; SMTP latency never shows in a
//! response, which keeps responses enumeration-proof).

use chrono::{DateTime, Utc};
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
}

fn lang(locale: &str) -> &'static str {
    match locale {
        "ar" => "ar",
        "en" => "en",
        _ => "fr",
    }
}

/// Subject and plain-text body of `msg` in `locale` (`fr` by default).
pub fn render(msg: &Message, locale: &str) -> (String, String) {
    let l = lang(locale);
    let pick = |fr: String, ar: String, en: String| match l {
        "ar" => ar,
        "en" => en,
        _ => fr,
    };
    match msg {
        Message::Verify { link, code } => (
            pick("Confirmez votre adresse".into(), "تأكيد بريدك الإلكتروني".into(), "Confirm your email address".into()),
            pick(
                format!("Bienvenue sur MyQCM.\n\nOuvrez ce lien pour confirmer votre adresse :\n{link}\n\nou saisissez ce code : {code}\n\nLe lien et le code sont valables 30 minutes."),
                format!("مرحبًا بك في MyQCM.\n\nافتح هذا الرابط لتأكيد بريدك:\n{link}\n\nأو أدخل هذا الرمز: {code}\n\nالرابط والرمز صالحان لمدة 30 دقيقة."),
                format!("Welcome to MyQCM.\n\nOpen this link to confirm your address:\n{link}\n\nor enter this code: {code}\n\nThe link and the code are valid for 30 minutes."),
            ),
        ),
        Message::SignUpExisting { sign_in, reset } => (
            pick("Tentative d'inscription".into(), "محاولة تسجيل".into(), "Sign-up attempt".into()),
            pick(
                format!("Quelqu'un a tenté de créer un compte MyQCM avec cette adresse, qui en a déjà un.\nConnexion : {sign_in}\nMot de passe oublié : {reset}\nSi ce n'était pas vous, ignorez ce message."),
                format!("حاول شخص ما إنشاء حساب MyQCM بهذا البريد، وهو مسجل من قبل.\nتسجيل الدخول: {sign_in}\nنسيت كلمة المرور: {reset}\nإن لم تكن أنت، تجاهل هذه الرسالة."),
                format!("Someone tried to create a MyQCM account with this address, which already has one.\nSign in: {sign_in}\nForgot your password: {reset}\nIf this was not you, ignore this message."),
            ),
        ),
        Message::Reset { link } => (
            pick("Réinitialisation du mot de passe".into(), "إعادة تعيين كلمة المرور".into(), "Reset your password".into()),
            pick(
                format!("Ouvrez ce lien pour choisir un nouveau mot de passe (valable 30 minutes, une seule fois) :\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message."),
                format!("افتح هذا الرابط لاختيار كلمة مرور جديدة (صالح 30 دقيقة ولمرة واحدة):\n{link}\n\nإن لم تطلب ذلك، تجاهل هذه الرسالة."),
                format!("Open this link to choose a new password (valid 30 minutes, once):\n{link}\n\nIf you did not ask for this, ignore this message."),
            ),
        ),
        Message::NewSignIn { at, ip } => {
            let at = at.format("%Y-%m-%d %H:%M UTC");
            (
                pick("Nouvelle connexion".into(), "تسجيل دخول جديد".into(), "New sign-in".into()),
                pick(
                    format!("Une connexion à votre compte a eu lieu le {at} depuis {ip}.\nSi ce n'était pas vous, changez votre mot de passe et déconnectez toutes les sessions."),
                    format!("تم تسجيل الدخول إلى حسابك في {at} من {ip}.\nإن لم تكن أنت، غيّر كلمة المرور وسجّل الخروج من كل الجلسات."),
                    format!("Your account was signed in on {at} from {ip}.\nIf this was not you, change your password and sign out everywhere."),
                ),
            )
        }
        Message::SignInFailures { ip } => (
            pick("Échecs de connexion".into(), "محاولات دخول فاشلة".into(), "Failed sign-ins".into()),
            pick(
                format!("Plusieurs tentatives de connexion à votre compte ont échoué, la dernière depuis {ip}. Les appareils où vous vous êtes déjà connecté ne sont pas ralentis.\nSi ce n'était pas vous, choisissez un mot de passe long et unique et activez la vérification en deux étapes."),
                format!("فشلت عدة محاولات لتسجيل الدخول إلى حسابك، آخرها من {ip}. الأجهزة التي سجلت منها الدخول من قبل لا تتأثر.\nإن لم تكن أنت، اختر كلمة مرور طويلة وفريدة وفعّل التحقق بخطوتين."),
                format!("Several attempts to sign in to your account failed, the last one from {ip}. Devices you signed in from before are not slowed down.\nIf this was not you, choose a long, unique password and turn on two-step verification."),
            ),
        ),
        Message::PasswordChanged => (
            pick("Mot de passe modifié".into(), "تم تغيير كلمة المرور".into(), "Password changed".into()),
            pick(
                "Le mot de passe de votre compte a été modifié et toutes les autres sessions ont été fermées.".into(),
                "تم تغيير كلمة مرور حسابك وإغلاق كل الجلسات الأخرى.".into(),
                "Your account's password was changed and every other session was signed out.".into(),
            ),
        ),
        Message::EmailChanged { new_email } => (
            pick("Adresse modifiée".into(), "تم تغيير البريد الإلكتروني".into(), "Email address changed".into()),
            pick(
                format!("L'adresse de votre compte MyQCM a été remplacée par {new_email}. Si ce n'était pas vous, contactez le support."),
                format!("تم تغيير بريد حسابك في MyQCM إلى {new_email}. إن لم تكن أنت، اتصل بالدعم."),
                format!("Your MyQCM account's address was changed to {new_email}. If this was not you, contact support."),
            ),
        ),
        Message::DeletionScheduled { days } => (
            pick("Suppression du compte programmée".into(), "تمت جدولة حذف الحساب".into(), "Account deletion scheduled".into()),
            pick(
                format!("Votre compte sera supprimé dans {days} jours. Reconnectez-vous avant pour annuler."),
                format!("سيُحذف حسابك بعد {days} يومًا. سجّل الدخول قبل ذلك للإلغاء."),
                format!("Your account will be deleted in {days} days. Sign in before then to cancel."),
            ),
        ),
        Message::AccountDeleted => (
            pick("Compte supprimé".into(), "تم حذف الحساب".into(), "Account deleted".into()),
            pick(
                "Votre compte MyQCM et vos données personnelles ont été supprimés.".into(),
                "تم حذف حسابك في MyQCM وبياناتك الشخصية.".into(),
                "Your MyQCM account and your personal data were deleted.".into(),
            ),
        ),
    }
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
