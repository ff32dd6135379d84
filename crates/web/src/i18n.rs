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
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
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

/// Dates and numbers are formatted here, not by Fluent's `DATETIME()`/`NUMBER()`: fluent-rs
/// implements neither (`fluent-datetime` would bring ICU4X and its data for three languages).
/// Times are shown in Algerian time (UTC+1 all year, no daylight saving since 1981), the
/// platform's one time zone.
pub type LocalTime = FixedOffset;

/// Algeria's offset from UTC.
fn algeria() -> LocalTime {
    myqcm_domain::localtime::algeria()
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

    /// The message `id` with named arguments when the catalogue has it (in this language or
    /// French).
    pub fn try_t_args(self, id: &str, args: &[(&'static str, FluentValue<'_>)]) -> Option<String> {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        LOCALES.try_lookup_with_args(&self.langid(), id, &map)
    }

    /// The message `id` with named arguments.
    pub fn t_args(self, id: &str, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        LOCALES.lookup_with_args(&self.langid(), id, &map)
    }

    /// A moment in Algerian time, `2 déc. 2026 14:05` / `2 ديسمبر 2026 14:05` /
    /// `2 Dec 2026 14:05` (see [`LocalTime`] for why not ICU).
    pub fn datetime(self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&algeria());
        format!(
            "{} {}",
            self.date(local.date_naive()),
            local.format("%H:%M")
        )
    }

    /// The day of a moment in Algerian time, as [`Locale::date`] writes it.
    pub fn local_date(self, at: &DateTime<Utc>) -> String {
        self.date(at.with_timezone(&algeria()).date_naive())
    }

    /// A day: `2 déc. 2026`, `2 ديسمبر 2026`, `2 Dec 2026`.
    pub fn date(self, d: NaiveDate) -> String {
        format!("{} {}", self.day_month(d), d.year())
    }

    /// A day without its year (chart labels): `2 déc.`, `2 ديسمبر`, `2 Dec`.
    pub fn day_month(self, d: NaiveDate) -> String {
        let m = self.months()[d.month0() as usize % 12];
        format!("{} {m}", d.day())
    }

    /// A `YYYY-MM-DD` day as [`Locale::date`] writes it (other text unchanged).
    pub fn iso_date(self, iso: &str) -> String {
        NaiveDate::parse_from_str(iso, "%Y-%m-%d").map_or_else(|_| iso.to_owned(), |d| self.date(d))
    }

    /// A `YYYY-MM-DD` day as [`Locale::day_month`] writes it (other text unchanged).
    pub fn iso_day_month(self, iso: &str) -> String {
        NaiveDate::parse_from_str(iso, "%Y-%m-%d")
            .map_or_else(|_| iso.to_owned(), |d| self.day_month(d))
    }

    /// Month names as written on dates: CLDR's abbreviated forms for French and English, the
    /// Maghreb (Algerian) names for Arabic, which CLDR's `ar-DZ` also uses.
    fn months(self) -> [&'static str; 12] {
        myqcm_domain::localtime::months(self.tag())
    }

    /// An integer with the language's grouping: `12 345` (narrow no-break space) in French,
    /// `12.345` in Arabic as written in Algeria (Western digits), `12,345` in English.
    pub fn number(self, n: impl std::borrow::Borrow<i64>) -> String {
        let n = *n.borrow();
        let digits = n.unsigned_abs().to_string();
        let group = match self {
            Self::Fr => '\u{202F}',
            Self::Ar => '.',
            Self::En => ',',
        };
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(group);
            }
            out.push(c);
        }
        out
    }

    /// A number with `places` decimals: `12,5` in French and Arabic (Algeria), `12.5` in
    /// English; the integer part grouped as [`Locale::number`] does.
    pub fn decimal(self, x: f64, places: usize) -> String {
        let x = if x.is_finite() { x } else { 0.0 };
        let text = format!("{:.*}", places, x.abs());
        let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
        let sign = if x < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            "-"
        } else {
            ""
        };
        let int = self.number(int.parse::<i64>().unwrap_or(0));
        if frac.is_empty() {
            return format!("{sign}{int}");
        }
        let point = if self == Self::En { '.' } else { ',' };
        format!("{sign}{int}{point}{frac}")
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

    #[test]
    fn dates_and_numbers_follow_the_language() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T13:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Locale::Fr.datetime(&at),
            "2 déc. 2026 14:05",
            "Algerian time"
        );
        assert_eq!(Locale::En.datetime(&at), "2 Dec 2026 14:05");
        assert_eq!(Locale::Ar.datetime(&at), "2 ديسمبر 2026 14:05");
        let d = NaiveDate::from_ymd_opt(2027, 2, 9).unwrap();
        assert_eq!(Locale::Fr.date(d), "9 févr. 2027");
        assert_eq!(Locale::Ar.date(d), "9 فيفري 2027");
        assert_eq!(Locale::Ar.iso_day_month("2027-07-14"), "14 جويلية");
        assert_eq!(Locale::En.iso_date("not a date"), "not a date");
        assert_eq!(Locale::Fr.number(1_234_567), "1\u{202F}234\u{202F}567");
        assert_eq!(Locale::En.number(-1234), "-1,234");
        assert_eq!(Locale::Ar.number(12345), "12.345");
        assert_eq!(Locale::Ar.number(999), "999");
        assert_eq!(Locale::Fr.decimal(1234.56, 1), "1\u{202F}234,6");
        assert_eq!(Locale::En.decimal(0.25, 2), "0.25");
        assert_eq!(Locale::Ar.decimal(-3.5, 1), "-3,5");
        assert_eq!(Locale::En.decimal(-0.01, 1), "0.0");
    }

    /// `id` rendered in `l` with `$count = n`.
    fn counted(l: Locale, id: &str, n: i64) -> String {
        l.t_args(id, &[("count", FluentValue::from(n))])
    }

    #[test]
    fn arabic_counts_take_all_six_plural_forms() {
        let days: Vec<String> = [0, 1, 2, 3, 11, 100]
            .iter()
            .map(|n| counted(Locale::Ar, "progress-days", *n))
            .collect();
        assert_eq!(
            days,
            ["0 يوم", "يوم واحد", "يومان", "3 أيام", "11 يومًا", "100 يوم"]
        );
        let questions: Vec<String> = [0, 1, 2, 3, 11, 100]
            .iter()
            .map(|n| counted(Locale::Ar, "dashboard-suggest-review", *n))
            .collect();
        assert_eq!(
            questions,
            [
                "لا سؤال للمراجعة اليوم.",
                "سؤال واحد للمراجعة اليوم.",
                "سؤالان للمراجعة اليوم.",
                "3 أسئلة للمراجعة اليوم.",
                "11 سؤالًا للمراجعة اليوم.",
                "100 سؤال للمراجعة اليوم.",
            ]
        );
        assert_eq!(counted(Locale::Fr, "progress-days", 1), "1 jour");
        assert_eq!(counted(Locale::Fr, "progress-days", 11), "11 jours");
        assert_eq!(counted(Locale::En, "progress-days", 1), "1 day");
        assert_eq!(counted(Locale::En, "dashboard-exam-in", 0), "today");
    }

    /// The variant keys of every message that selects on `$count`, by message id.
    fn counted_messages(lang: &str) -> Vec<(String, BTreeSet<String>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let mut current: Option<(String, BTreeSet<String>)> = None;
            for line in text.lines() {
                if !line.starts_with(' ') {
                    out.extend(current.take());
                    if line.contains("$count ->")
                        && let Some((id, _)) = line.split_once(" =")
                    {
                        current = Some((id.to_owned(), BTreeSet::new()));
                    }
                    continue;
                }
                if let Some((_, keys)) = current.as_mut()
                    && let Some(open) = line.find('[')
                    && let Some(close) = line[open..].find(']')
                {
                    keys.insert(line[open + 1..open + close].to_owned());
                }
            }
            out.extend(current);
        }
        out
    }

    #[test]
    fn every_counted_message_has_each_plural_form_of_its_language() {
        let ar = counted_messages("ar");
        assert!(ar.len() >= 5, "counted Arabic messages: {ar:?}");
        for (id, keys) in ar {
            for k in ["zero", "one", "two", "few", "many", "other"] {
                assert!(keys.contains(k), "ar {id} lacks [{k}]");
            }
        }
        for lang in ["fr", "en"] {
            for (id, keys) in counted_messages(lang) {
                for k in ["one", "other"] {
                    assert!(keys.contains(k), "{lang} {id} lacks [{k}]");
                }
            }
        }
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
