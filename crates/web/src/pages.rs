//! Server-rendered pages (askama, auto-escaped) and embedded static assets.

pub mod progress_charts;

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::WebError;
use crate::error::ErrorMarker;

/// Interface languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// Français (default).
    Fr,
    /// العربية (right to left).
    Ar,
    /// English.
    En,
}

impl Locale {
    /// BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::Ar => "ar",
            Self::En => "en",
        }
    }

    /// Writing direction.
    pub fn dir(self) -> &'static str {
        if self == Self::Ar { "rtl" } else { "ltr" }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "fr" => Some(Self::Fr),
            "ar" => Some(Self::Ar),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The `lang` cookie if set, else the first supported `Accept-Language` entry, else French.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("lang="))
            .find_map(Self::parse);
        if let Some(l) = cookie {
            return l;
        }
        let mut ranked: Vec<(f32, Self)> = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Self::parse(it.next()?)?;
                let q = it
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Self::Fr, |(_, l)| *l)
    }
}

struct LandingText {
    title: &'static str,
    tagline: &'static str,
    points: [&'static str; 3],
    docs: &'static str,
}

fn landing_text(locale: Locale) -> LandingText {
    match locale {
        Locale::Fr => LandingText {
            title: "MyQCM — entraînement adaptatif aux QCM de médecine",
            tagline: "Des QCM, QCS, QROC et cas cliniques choisis selon ce que vous savez déjà.",
            points: [
                "Chaque réponse met à jour votre niveau par matière et par notion.",
                "Les questions reviennent au bon moment pour être retenues.",
                "Corrections expliquées, rédigées et relues par des enseignants.",
            ],
            docs: "Documentation de l’API",
        },
        Locale::Ar => LandingText {
            title: "MyQCM — تدريب تكيّفي على أسئلة الاختيار من متعدد في الطب",
            tagline: "أسئلة متعددة الإجابات ووحيدة الإجابة وقصيرة وحالات سريرية تُختار حسب مستواك.",
            points: [
                "كل إجابة تحدّث مستواك في كل مادة وكل مفهوم.",
                "تعود الأسئلة في الوقت المناسب لترسيخ الحفظ.",
                "تصحيحات مشروحة يكتبها ويراجعها أساتذة.",
            ],
            docs: "توثيق واجهة البرمجة",
        },
        Locale::En => LandingText {
            title: "MyQCM — adaptive MCQ training for medical students",
            tagline: "Multiple-choice, single-answer, short-answer questions and clinical cases, chosen for what you already know.",
            points: [
                "Every answer updates your level per subject and per concept.",
                "Questions come back at the right time to be remembered.",
                "Explained corrections, written and reviewed by teachers.",
            ],
            docs: "API documentation",
        },
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    lang: &'static str,
    dir: &'static str,
    text: LandingText,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: &'static str,
    dir: &'static str,
    status: u16,
    title: &'a str,
    detail: Option<&'a str>,
    request_id: &'a str,
}

/// `GET /`: the landing page.
pub async fn landing(headers: HeaderMap) -> Result<Html<String>, WebError> {
    let locale = Locale::negotiate(&headers);
    let page = LandingPage {
        lang: locale.tag(),
        dir: locale.dir(),
        text: landing_text(locale),
    };
    Ok(Html(page.render().map_err(WebError::internal)?))
}

/// Renders the HTML error page (used by the error middleware).
pub fn error_page(status: StatusCode, marker: &ErrorMarker, request_id: &str) -> String {
    let page = ErrorPage {
        lang: "en",
        dir: "ltr",
        status: status.as_u16(),
        title: marker.code.title,
        detail: marker.detail.as_deref(),
        request_id,
    };
    page.render().unwrap_or_else(|_| {
        format!(
            "Error {} — request {}",
            status.as_u16(),
            request_id.replace('<', "")
        )
    })
}

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct Assets;

/// `GET /static/{path}`: embedded assets with a long cache lifetime.
pub async fn asset(Path(path): Path<String>) -> Result<Response, WebError> {
    let Some(file) = Assets::get(&path) else {
        return Err(WebError::code(myqcm_domain::codes::NOT_FOUND));
    };
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        file.data.into_owned(),
    )
        .into_response())
}

/// `GET /favicon.ico`: browsers ask for it even when the page names an icon.
pub async fn favicon() -> Result<Response, WebError> {
    asset(Path("favicon.svg".to_owned())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn locale_comes_from_cookie_then_accept_language_then_french() {
        assert_eq!(Locale::negotiate(&headers(&[])), Locale::Fr);
        assert_eq!(
            Locale::negotiate(&headers(&[(
                "accept-language",
                "de-DE, en;q=0.8, ar;q=0.9"
            )])),
            Locale::Ar
        );
        assert_eq!(
            Locale::negotiate(&headers(&[("accept-language", "en-GB")])),
            Locale::En
        );
        assert_eq!(
            Locale::negotiate(&headers(&[
                ("accept-language", "en"),
                ("cookie", "a=b; lang=ar")
            ])),
            Locale::Ar
        );
        assert_eq!(Locale::Ar.dir(), "rtl");
    }
}
