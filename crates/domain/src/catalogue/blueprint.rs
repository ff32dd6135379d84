//! Exam blueprints: weights over a year's subjects and, inside each subject, over its KCs. The
//! default for a year without one is uniform over its subjects.

use serde::{Deserialize, Serialize};

use super::content::ContentError;

/// A KC's share inside its subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KcWeight {
    /// KC code.
    pub kc: String,
    /// Share (> 0); a subject's shares add up to 1.
    pub weight: f64,
}

/// A subject's share of the exam.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectWeight {
    /// Subject code.
    pub subject: String,
    /// Share (> 0); the shares add up to 1.
    pub weight: f64,
    /// Optional KC shares.
    #[serde(default)]
    pub kcs: Vec<KcWeight>,
}

/// The weights of one blueprint version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlueprintWeights {
    /// Subject shares.
    pub subjects: Vec<SubjectWeight>,
}

const EPS: f64 = 1e-6;

impl BlueprintWeights {
    /// Uniform weights over `subjects`.
    pub fn uniform(subjects: &[String]) -> Self {
        let w = if subjects.is_empty() {
            0.0
        } else {
            1.0 / subjects.len() as f64
        };
        Self {
            subjects: subjects
                .iter()
                .map(|s| SubjectWeight {
                    subject: s.clone(),
                    weight: w,
                    kcs: vec![],
                })
                .collect(),
        }
    }

    /// Checks positivity, no duplicates, and sums of 1 (subjects; KCs within each subject).
    pub fn validate(&self) -> Result<(), Vec<ContentError>> {
        let mut errs = Vec::new();
        if self.subjects.is_empty() {
            errs.push(ContentError::new(
                "subjects",
                "required",
                "At least one subject.",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut total = 0.0;
        for (i, s) in self.subjects.iter().enumerate() {
            if !seen.insert(&s.subject) {
                errs.push(ContentError::new(
                    format!("subjects[{i}].subject"),
                    "duplicate",
                    "Subject listed twice.",
                ));
            }
            if !(s.weight > 0.0 && s.weight.is_finite()) {
                errs.push(ContentError::new(
                    format!("subjects[{i}].weight"),
                    "not_positive",
                    "Weights are > 0.",
                ));
            }
            total += s.weight;
            if !s.kcs.is_empty() {
                let mut kc_total = 0.0;
                for (j, k) in s.kcs.iter().enumerate() {
                    if !(k.weight > 0.0 && k.weight.is_finite()) {
                        errs.push(ContentError::new(
                            format!("subjects[{i}].kcs[{j}].weight"),
                            "not_positive",
                            "Weights are > 0.",
                        ));
                    }
                    kc_total += k.weight;
                }
                if (kc_total - 1.0).abs() > 1e-3 {
                    errs.push(ContentError::new(
                        format!("subjects[{i}].kcs"),
                        "sum_not_one",
                        format!("KC weights add up to {kc_total:.4}, not 1."),
                    ));
                }
            }
        }
        if !self.subjects.is_empty() && (total - 1.0).abs() > 1e-3 + EPS {
            errs.push(ContentError::new(
                "subjects",
                "sum_not_one",
                format!("Subject weights add up to {total:.4}, not 1."),
            ));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uniform_weights_are_valid_and_bad_sums_are_refused() {
        let u = BlueprintWeights::uniform(&["a".into(), "b".into(), "c".into()]);
        assert!(u.validate().is_ok());
        let mut bad = u.clone();
        bad.subjects[0].weight = 0.9;
        assert_eq!(bad.validate().unwrap_err()[0].code, "sum_not_one");
    }
}
