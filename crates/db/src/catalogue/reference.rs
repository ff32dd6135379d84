//! The reference list of Algerian faculties of medicine (`crates/db/data/
//! algerian_faculties_of_medicine.json`): codes, fields and names in French, Arabic and
//! English. A migration adds the listed universities and faculties (French names) to a new
//! database; the pickers show the names in the page's language from here.

use serde::Deserialize;

/// The data file, compiled in.
pub const FILE: &str = include_str!("../../data/algerian_faculties_of_medicine.json");

/// Names in the three interface languages.
#[derive(Debug, Clone, Deserialize)]
pub struct Names {
    /// French.
    pub fr: String,
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

impl Names {
    /// The name for a language tag (`fr`, `ar`, `en`; French otherwise).
    pub fn get(&self, lang: &str) -> &str {
        match lang {
            "ar" => &self.ar,
            "en" => &self.en,
            _ => &self.fr,
        }
    }
}

/// A faculty of the list.
#[derive(Debug, Clone, Deserialize)]
pub struct Faculty {
    /// Stable code (the form value).
    pub code: String,
    /// `general_medicine`, `dentistry` or `pharmacy`.
    pub field: String,
    /// Names.
    pub names: Names,
}

/// A university of the list and its faculties.
#[derive(Debug, Clone, Deserialize)]
pub struct University {
    /// Stable code.
    pub code: String,
    /// Names.
    pub names: Names,
    /// Faculties.
    pub faculties: Vec<Faculty>,
}

/// The parsed list (empty if the file were malformed; a test guards it).
pub fn list() -> &'static [University] {
    static LIST: std::sync::LazyLock<Vec<University>> =
        std::sync::LazyLock::new(|| serde_json::from_str(FILE).unwrap_or_default());
    &LIST
}

/// The names of a university or faculty of the list, by code.
pub fn names_of(code: &str) -> Option<&'static Names> {
    list().iter().find_map(|u| {
        if u.code == code {
            return Some(&u.names);
        }
        u.faculties
            .iter()
            .find(|f| f.code == code)
            .map(|f| &f.names)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_with_unique_codes_and_three_names_each() {
        let l = list();
        assert!(l.len() >= 14, "{} universities", l.len());
        let mut codes = std::collections::BTreeSet::new();
        for u in l {
            assert!(codes.insert(u.code.clone()), "duplicate {}", u.code);
            assert!(!u.faculties.is_empty(), "{} has no faculty", u.code);
            for f in &u.faculties {
                assert!(codes.insert(f.code.clone()), "duplicate {}", f.code);
                assert!(["general_medicine", "dentistry", "pharmacy"].contains(&f.field.as_str()));
                for n in [&f.names.fr, &f.names.ar, &f.names.en] {
                    assert!(!n.trim().is_empty(), "{}", f.code);
                }
            }
        }
        assert_eq!(
            names_of("oran-1-med").map(|n| n.get("en")),
            Some("Faculty of Medicine, Oran")
        );
        assert_eq!(
            names_of("alger-1").map(|n| n.get("ar")),
            Some("جامعة الجزائر 1 بن يوسف بن خدة")
        );
    }
}
