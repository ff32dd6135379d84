//! What text the platform accepts: the one rule for control characters, applied at every input
//! boundary (JSON bodies and query strings in `web`, spreadsheet and JSON imports in
//! `services`). PostgreSQL cannot store U+0000 in `text`, and the other controls have no place
//! in questions, names or addresses.

/// Characters refused in text: C0 controls except tab, line feed and carriage return, DEL, and
/// the C1 controls.
pub fn is_disallowed(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Whether `s` holds a refused character.
pub fn has_disallowed(s: &str) -> bool {
    s.chars().any(is_disallowed)
}

/// What to tell the sender.
pub const DISALLOWED_MESSAGE: &str = "Text may not contain control characters (NUL, U+0001–U+001F \
                                      other than tab and line breaks, U+007F–U+009F).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_controls_but_keeps_tabs_line_breaks_and_letters() {
        for s in [
            "a\u{0}b",
            "\u{7}",
            "\u{1b}[31m",
            "\u{7f}",
            "\u{85}",
            "\u{9f}",
            "\u{b}",
        ] {
            assert!(has_disallowed(s), "{s:?}");
        }
        for s in [
            "tab\tlf\ncr\r",
            "é ü ß 中文 العربية 🙂",
            "\u{a0}",
            "\u{200b}",
            "",
        ] {
            assert!(!has_disallowed(s), "{s:?}");
        }
    }
}
