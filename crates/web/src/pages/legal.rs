//! The public legal pages, linked from every page's footer: `/privacy` (what is kept, why, for
//! how long, who receives it, the rights and how to use them), `/terms` (terms of use and sale),
//! `/security-policy` (how to report a vulnerability) and `/.well-known/security.txt`
//! (RFC 9116). Retention periods are read from the running configuration, so the page says
//! what this instance does; the contact address is `MYQCM_CONTACT_EMAIL`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use fluent_templates::fluent_bundle::FluentValue;

use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/privacy", get(privacy))
        .route("/terms", get(terms))
        .route("/security-policy", get(security_policy))
        .route("/.well-known/security.txt", get(security_txt))
}

/// Which document a page shows: its message prefix and its sections, in order.
#[derive(Clone, Copy)]
enum Doc {
    Privacy,
    Terms,
    Security,
}

impl Doc {
    fn prefix(self) -> &'static str {
        match self {
            Self::Privacy => "privacy",
            Self::Terms => "terms",
            Self::Security => "disclosure",
        }
    }

    fn sections(self) -> &'static [&'static str] {
        match self {
            Self::Privacy => &[
                "controller",
                "data",
                "purposes",
                "recipients",
                "retention",
                "rights",
                "cookies",
                "security",
            ],
            Self::Terms => &[
                "service",
                "account",
                "plans",
                "payment",
                "use",
                "content",
                "authors",
                "liability",
                "end",
                "law",
            ],
            Self::Security => &["report", "scope", "rules", "promise"],
        }
    }
}

/// One section: its heading and its paragraphs.
struct Section {
    id: &'static str,
    heading: String,
    paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "legal.html")]
struct LegalPage {
    ctx: PageContext,
    title: String,
    intro: String,
    sections: Vec<Section>,
}

/// A left-to-right string isolated from the text around it (U+2068 … U+2069), so an address
/// keeps its order inside an Arabic sentence (the catalogue's own isolation marks are off).
fn isolated(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

/// The figures and addresses the texts quote.
fn facts(s: &AppState) -> Vec<(&'static str, FluentValue<'static>)> {
    let deps = s.deps();
    let contact = s.config.contact_email.as_deref().unwrap_or("—");
    vec![
        ("contact", FluentValue::from(isolated(contact))),
        (
            "sessions",
            FluentValue::from(i64::from(deps.config.session_retention_days)),
        ),
        (
            "audit",
            FluentValue::from(i64::from(deps.config.audit_retention_days)),
        ),
        (
            "grace",
            FluentValue::from(i64::from(deps.config.deletion_grace_days)),
        ),
        (
            "base",
            FluentValue::from(isolated(s.config.public_base_url.as_str())),
        ),
        (
            "policy",
            FluentValue::from(isolated(
                s.config
                    .public_base_url
                    .join("/security-policy")
                    .map(|u| u.to_string())
                    .unwrap_or_default()
                    .as_str(),
            )),
        ),
    ]
}

fn page(s: &AppState, ctx: PageContext, doc: Doc) -> Result<Html<String>, WebError> {
    let args = facts(s);
    let l = ctx.locale;
    let p = doc.prefix();
    let sections = doc
        .sections()
        .iter()
        .map(|id| {
            let body = l.t_args(&format!("{p}-{id}"), &args);
            Section {
                id,
                heading: l.t(&format!("{p}-{id}-title")),
                paragraphs: body
                    .split("\n\n")
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect(),
            }
        })
        .collect();
    render(&LegalPage {
        title: l.t(&format!("{p}-title")),
        intro: l.t_args(&format!("{p}-intro"), &args),
        sections,
        ctx,
    })
}

/// `GET /privacy`.
async fn privacy(State(s): State<AppState>, ctx: PageContext) -> Result<Html<String>, WebError> {
    page(&s, ctx, Doc::Privacy)
}

/// `GET /terms`.
async fn terms(State(s): State<AppState>, ctx: PageContext) -> Result<Html<String>, WebError> {
    page(&s, ctx, Doc::Terms)
}

/// `GET /security-policy`: the vulnerability disclosure policy `security.txt` points to.
async fn security_policy(
    State(s): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    page(&s, ctx, Doc::Security)
}

/// `GET /.well-known/security.txt` (RFC 9116): contact, policy, languages, canonical address.
/// `Expires` is a year after today: the file is produced by the running release, so it is
/// never staler than the deployment, and a field in the past would tell reporters the contact
/// is abandoned. Without `MYQCM_CONTACT_EMAIL` there is no contact to publish: 404.
async fn security_txt(State(s): State<AppState>) -> Response {
    let Some(contact) = s.config.contact_email.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = s.services.clock.now();
    let body = security_txt_body(&s.config.public_base_url, contact, now);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The text of `security.txt` for `base`, `contact` and the time `now`.
fn security_txt_body(base: &url::Url, contact: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let at = |path: &str| base.join(path).map(|u| u.to_string()).unwrap_or_default();
    let expires = (now + chrono::Duration::days(365))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    format!(
        "Contact: mailto:{contact}\nExpires: {expires}\nPolicy: {}\nPreferred-Languages: fr, ar, en\nCanonical: {}\n",
        at("/security-policy"),
        at("/.well-known/security.txt"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    #[test]
    fn security_txt_has_the_required_fields_and_expires_within_a_year() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-04T18:00:00Z")
            .unwrap()
            .to_utc();
        let base = url::Url::parse("https://qcm.example.org").unwrap();
        let body = security_txt_body(&base, "security@qcm.example.org", now);
        assert_eq!(
            body,
            "Contact: mailto:security@qcm.example.org\n\
             Expires: 2027-12-04T00:00:00Z\n\
             Policy: https://qcm.example.org/security-policy\n\
             Preferred-Languages: fr, ar, en\n\
             Canonical: https://qcm.example.org/.well-known/security.txt\n"
        );
    }

    #[test]
    fn every_section_of_every_document_is_written_in_every_language() {
        for l in Locale::ALL {
            for doc in [Doc::Privacy, Doc::Terms, Doc::Security] {
                let p = doc.prefix();
                let mut ids = vec![format!("{p}-title"), format!("{p}-intro")];
                for s in doc.sections() {
                    ids.push(format!("{p}-{s}-title"));
                    ids.push(format!("{p}-{s}"));
                }
                let args = [
                    ("contact", FluentValue::from("c@x.dz")),
                    ("base", FluentValue::from("https://x.dz/")),
                    ("policy", FluentValue::from("https://x.dz/security-policy")),
                    ("sessions", FluentValue::from(90)),
                    ("audit", FluentValue::from(365)),
                    ("grace", FluentValue::from(14)),
                ];
                for id in ids {
                    let text = l.t_args(&id, &args);
                    assert!(text != id && !text.contains('{'), "{id}: {text}");
                }
            }
        }
    }
}
