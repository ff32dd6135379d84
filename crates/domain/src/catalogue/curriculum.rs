//! The national curriculum: year of study (1–7) → unit (optional in year 1) → subject → course.
//! Universities and faculties scope users, cohorts and item sources, not the curriculum.

use super::content::ContentError;

/// Years of study of the medical curriculum.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=7;

/// Checks where a subject may hang: a valid year, and a unit unless the year is the first.
pub fn check_subject_placement(year: i32, has_unit: bool) -> Result<(), ContentError> {
    if !YEARS.contains(&year) {
        return Err(ContentError::new(
            "year_of_study",
            "out_of_range",
            "Years of study are 1 to 7.",
        ));
    }
    if year > 1 && !has_unit {
        return Err(ContentError::new(
            "unit",
            "required",
            "Subjects after the first year belong to a unit.",
        ));
    }
    Ok(())
}

/// Checks a code (stable identifier used by imports): 1–64 of `[a-z0-9_-]`.
pub fn check_code(field: &str, code: &str) -> Result<(), ContentError> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ContentError::new(
            field,
            "invalid_code",
            "Codes use 1–64 of a-z, 0-9, - and _.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_optional_only_in_the_first_year() {
        assert!(check_subject_placement(1, false).is_ok());
        assert!(check_subject_placement(3, false).is_err());
        assert!(check_subject_placement(3, true).is_ok());
        assert!(check_subject_placement(8, true).is_err());
        assert!(check_code("c", "cardio-hta").is_ok());
        assert!(check_code("c", "Cardio HTA").is_err());
    }
}
