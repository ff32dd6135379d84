//! Algerian time and month names, shared by the pages (`web::i18n::Locale`) and the mail
//! (`services::identity::mail`), so a moment reads the same in both. Formatted here rather than
//! by Fluent's `DATETIME()`, which fluent-rs does not implement (`fluent-datetime` would bring
//! ICU4X and its data for three languages). Algeria is UTC+1 all year (no daylight saving since
//! 1981), the platform's one time zone.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, Utc};

/// Algeria's offset from UTC.
pub fn algeria() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap_or_else(|| Utc.fix())
}

/// Month names as written on dates, by language code (`fr` for anything unknown): CLDR's
/// abbreviated forms for French and English, the Maghreb (Algerian) names for Arabic, which
/// CLDR's `ar-DZ` also uses.
pub fn months(lang: &str) -> [&'static str; 12] {
    match lang.get(..2) {
        Some("ar") => [
            "جانفي",
            "فيفري",
            "مارس",
            "أفريل",
            "ماي",
            "جوان",
            "جويلية",
            "أوت",
            "سبتمبر",
            "أكتوبر",
            "نوفمبر",
            "ديسمبر",
        ],
        Some("en") => [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ],
        _ => [
            "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
            "nov.", "déc.",
        ],
    }
}

/// A day: `2 déc. 2026`, `2 ديسمبر 2026`, `2 Dec 2026`.
pub fn date(lang: &str, d: NaiveDate) -> String {
    let m = months(lang)[d.month0() as usize % 12];
    format!("{} {m} {}", d.day(), d.year())
}

/// A moment in Algerian time: `2 déc. 2026 14:05` / `2 ديسمبر 2026 14:05` / `2 Dec 2026 14:05`.
pub fn datetime(lang: &str, at: &DateTime<Utc>) -> String {
    let local = at.with_timezone(&algeria());
    format!(
        "{} {}",
        date(lang, local.date_naive()),
        local.format("%H:%M")
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_moment_reads_in_algerian_time_in_each_language() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(datetime("fr", &at), "1 janv. 2027 00:30");
        assert_eq!(datetime("ar", &at), "1 جانفي 2027 00:30");
        assert_eq!(datetime("en", &at), "1 Jan 2027 00:30");
        assert_eq!(datetime("xx", &at), "1 janv. 2027 00:30");
    }
}
