//! Interface languages and their text: Fluent catalogues under `crates/web/locales/<lang>/*.ftl`,
//! compiled into the binary by `fluent-templates`. French is the default, Arabic is written right
//! to left, English is the third language. Every page string, error title and label comes from
//! here; a message missing from one language is a test failure (see the tests below), and at run
//! time falls back to French rather than showing an id.
//!
//! Locale order for a request (DECISIONS.md, "Web pages"): the signed-in user's setting, else the
//! `lang` cookie, else `Accept-Language` (negotiated by `fluent-langneg`), else French.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};

// The compiled catalogues (`LOCALES`).
static_loader! {
    pub static LOCALES = {
        locales: "./locales",
        fallback_language: "fr",
        // Placeables stay without U+2068/U+2069 isolation marks: pages set `dir` themselves and
        // the marks would end up inside attribute values and form fields.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Name of the cookie remembering the language before sign-in.
pub const LANG_COOKIE: &str = "lang";

/// Interface languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// Français (default).
    Fr,
    /// العربية (right to left).
    Ar,
    /// English.
    En,
}

impl Locale {
    /// Every language, in the order the switcher lists them.
    pub const ALL: [Self; 3] = [Self::Fr, Self::Ar, Self::En];

    /// BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::Ar => "ar",
            Self::En => "en",
        }
    }

    /// The language's own name (for the switcher).
    pub fn native_name(self) -> &'static str {
        match self {
            Self::Fr => "Français",
            Self::Ar => "العربية",
            Self::En => "English",
        }
    }

    /// Writing direction.
    pub fn dir(self) -> &'static str {
        if self == Self::Ar { "rtl" } else { "ltr" }
    }

    /// The Fluent language identifier.
    pub fn langid(self) -> LanguageIdentifier {
        match self {
            Self::Fr => langid!("fr"),
            Self::Ar => langid!("ar"),
            Self::En => langid!("en"),
        }
    }

    /// A stored or submitted tag (`fr`, `ar-DZ`, `EN`…); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let id: LanguageIdentifier = s.trim().parse().ok()?;
        match id.language.as_str() {
            "fr" => Some(Self::Fr),
            "ar" => Some(Self::Ar),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The `lang` cookie, else the best `Accept-Language` match, else French.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        if let Some(l) = crate::auth::cookies::read(headers, LANG_COOKIE)
            .as_deref()
            .and_then(Self::parse)
        {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let requested = fluent_langneg::accepted_languages::parse(accept);
        let available: Vec<LanguageIdentifier> = Self::ALL.iter().map(|l| l.langid()).collect();
        let default = Self::Fr.langid();
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            Some(&default),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        chosen
            .first()
            .and_then(|id| Self::parse(&id.to_string()))
            .unwrap_or(Self::Fr)
    }

    /// The message `id` in this language (French when this language lacks it, the id itself
    /// when no language has it).
    pub fn t(self, id: &str) -> String {
        LOCALES.lookup(&self.langid(), id)
    }

    /// The message `id` when the catalogue has it (in this language or French).
    pub fn try_t(self, id: &str) -> Option<String> {
        LOCALES.try_lookup(&self.langid(), id)
    }

    /// The message `id` with named arguments.
    pub fn t_args(self, id: &str, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        LOCALES.lookup_with_args(&self.langid(), id, &map)
    }

    /// Localised title of an error code (`error-<code>` in the catalogue).
    pub fn error_title(self, code: &myqcm_domain::codes::ErrorCode) -> String {
        let id = format!("error-{}", code.code);
        LOCALES
            .lookup_single_language::<&str>(&self.langid(), &id, None)
            .unwrap_or_else(|_| code.title.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use axum::http::HeaderValue;

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
                "de-DE, ar;q=0.9, en;q=0.8"
            )])),
            Locale::Ar
        );
        assert_eq!(
            Locale::negotiate(&headers(&[("accept-language", "ar-DZ,ar;q=0.9")])),
            Locale::Ar
        );
        assert_eq!(
            Locale::negotiate(&headers(&[("accept-language", "en-GB")])),
            Locale::En
        );
        assert_eq!(
            Locale::negotiate(&headers(&[("accept-language", "de, es")])),
            Locale::Fr
        );
        assert_eq!(
            Locale::negotiate(&headers(&[
                ("accept-language", "en"),
                ("cookie", "a=b; lang=ar")
            ])),
            Locale::Ar
        );
        assert_eq!(
            Locale::negotiate(&headers(&[
                ("cookie", "lang=xx"),
                ("accept-language", "en")
            ])),
            Locale::En
        );
        assert_eq!(Locale::Ar.dir(), "rtl");
        assert_eq!(Locale::parse("AR-dz"), Some(Locale::Ar));
        assert_eq!(Locale::parse("<script>"), None);
    }

    /// Message ids defined in one language's files (lines `id = …` at the start of a line).
    fn ids(lang: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let path = entry.map(|e| e.path()).unwrap_or_default();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines() {
                if let Some((id, _)) = line.split_once(" =")
                    && !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    out.insert(id.to_owned());
                }
            }
        }
        out
    }

    /// The language's own files define `id` (a message needing arguments counts).
    fn defined(l: Locale, id: &str) -> bool {
        match LOCALES.lookup_single_language::<&str>(&l.langid(), id, None) {
            Ok(_) => true,
            // Missing arguments only: the message exists.
            Err(e) => e.to_string().starts_with("Fluent errors"),
        }
    }

    #[test]
    fn every_message_exists_in_every_language() {
        let fr = ids("fr");
        assert!(fr.len() > 20, "the French catalogue looks empty");
        for lang in ["ar", "en"] {
            let other = ids(lang);
            let missing: Vec<_> = fr.difference(&other).collect();
            let extra: Vec<_> = other.difference(&fr).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(extra.is_empty(), "{lang} has ids French lacks: {extra:?}");
        }
        for l in Locale::ALL {
            for id in &fr {
                assert!(
                    defined(l, id),
                    "{} cannot resolve {id} (syntax error in its file?)",
                    l.tag()
                );
            }
        }
    }

    #[test]
    fn every_error_code_has_a_title_in_every_language() {
        for l in Locale::ALL {
            for code in myqcm_domain::codes::ALL {
                let id = format!("error-{}", code.code);
                assert!(defined(l, &id), "{} has no {id}", l.tag());
            }
        }
        assert_eq!(
            Locale::Fr.error_title(&myqcm_domain::codes::NOT_FOUND),
            "Page introuvable"
        );
    }

    #[test]
    fn every_message_a_template_or_handler_names_exists() {
        let fr = ids("fr");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        for dir in ["templates", "src"] {
            for path in walk(&root.join(dir)) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for id in quoted_ids(&text) {
                    if !fr.contains(&id) {
                        missing.push(format!("{}: {id}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "unknown message ids: {missing:#?}");
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    /// Ids in `t("…")` calls (templates and Rust sources).
    fn quoted_ids(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for marker in [".t(\"", ".t1(\"", ".tn(\"", "t_args(\""] {
            let mut rest = text;
            while let Some(i) = rest.find(marker) {
                rest = &rest[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let id = &rest[..end];
                    if !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    {
                        out.push(id.to_owned());
                    }
                }
            }
        }
        out
    }
}
