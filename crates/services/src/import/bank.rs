//! The JSON bank format (the one `crates/services/seed/demo_bank.json` uses, documented in
//! `crates/services/seed/README.md`): curriculum, KC tree, blueprint, items, clinical cases.
//! Every part is optional on import, so the same format carries a taxonomy alone.

use serde::{Deserialize, Serialize};

use myqcm_domain::catalogue::blueprint::KcWeight;
use myqcm_domain::catalogue::{OptionSpec, QrocSpec};

/// A name in fr/en/ar.
pub type Names = serde_json::Map<String, serde_json::Value>;

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bank {
    /// Schema version (1).
    #[serde(default = "v1")]
    pub version: i32,
    /// Year of study of the subjects in this file.
    #[serde(default)]
    pub year_of_study: Option<i32>,
    /// Units (optional; a subject after year 1 without one gets a unit of its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<BankUnit>,
    /// Subjects and courses.
    #[serde(default)]
    pub subjects: Vec<BankSubject>,
    /// KC tree, one entry per domain.
    #[serde(default)]
    pub knowledge_components: Vec<BankKcDomain>,
    /// Exam blueprint for the year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blueprint: Option<BankBlueprint>,
    /// Standalone items.
    #[serde(default)]
    pub items: Vec<BankItem>,
    /// Clinical cases.
    #[serde(default)]
    pub clinical_cases: Vec<BankCase>,
    /// Demo accounts (read by the seed only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<BankAccount>,
}

fn v1() -> i32 {
    1
}

/// A unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankUnit {
    /// Code.
    pub code: String,
    /// Names.
    pub name: Names,
}

/// A subject with its courses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankSubject {
    /// Code.
    pub code: String,
    /// Names.
    pub name: Names,
    /// Unit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Courses.
    #[serde(default)]
    pub courses: Vec<BankCourse>,
}

/// A course.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankCourse {
    /// Code.
    pub code: String,
    /// Names.
    pub name: Names,
}

/// A code with names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankNode {
    /// Code.
    pub code: String,
    /// Names.
    pub name: Names,
}

/// One KC domain of a subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankKcDomain {
    /// Subject code.
    pub subject: String,
    /// The domain.
    pub domain: BankNode,
    /// Topics.
    #[serde(default)]
    pub topics: Vec<BankTopic>,
}

/// A topic and its KCs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankTopic {
    /// Code.
    pub code: String,
    /// Names.
    pub name: Names,
    /// KCs.
    #[serde(default)]
    pub kcs: Vec<BankNode>,
}

/// A blueprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankBlueprint {
    /// Name.
    pub name: String,
    /// Subject weights.
    pub subjects: Vec<BankBlueprintSubject>,
}

/// One subject's weight.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankBlueprintSubject {
    /// Subject code.
    pub subject: String,
    /// Weight.
    pub weight: f64,
    /// KC weights.
    #[serde(default)]
    pub kcs: Vec<KcWeight>,
}

/// A KC tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankKcTag {
    /// KC code.
    pub kc: String,
    /// Weight.
    pub weight: f64,
}

/// Provenance as written in the bank.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BankSource {
    /// Kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Written for MyQCM.
    #[serde(default)]
    pub original: bool,
    /// Faculty code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faculty: Option<String>,
    /// Exam year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam_year: Option<i32>,
    /// Session (emd, rattrapage, residanat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// An item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankItem {
    /// Stable id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `qcs`, `qcm`, `qroc`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Course code.
    pub course: String,
    /// Locale.
    #[serde(default = "fr")]
    pub locale: String,
    /// External id of the original, for translations.
    #[serde(default)]
    pub translation_of: Option<String>,
    /// Stem.
    pub stem: String,
    /// Options.
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// QROC spec.
    #[serde(default)]
    pub qroc: Option<QrocSpec>,
    /// Explanation.
    #[serde(default)]
    pub explanation: String,
    /// References.
    #[serde(default)]
    pub references: Vec<String>,
    /// Difficulty.
    #[serde(default = "medium")]
    pub difficulty: String,
    /// Seconds.
    #[serde(default = "sixty")]
    pub estimated_seconds: i32,
    /// KC tags.
    #[serde(default)]
    pub kcs: Vec<BankKcTag>,
    /// Provenance.
    #[serde(default)]
    pub source: Option<BankSource>,
}

fn fr() -> String {
    "fr".into()
}
fn medium() -> String {
    "medium".into()
}
fn sixty() -> i32 {
    60
}

/// A clinical case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankCase {
    /// Stable id.
    pub external_id: String,
    /// Course code.
    pub course: String,
    /// Locale.
    #[serde(default = "fr")]
    pub locale: String,
    /// Title.
    pub title: String,
    /// Scenario (markdown).
    pub scenario: String,
    /// Objectives.
    #[serde(default)]
    pub objectives: Vec<String>,
    /// Ordered sub-items.
    pub items: Vec<BankItem>,
}

/// A demo account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankAccount {
    /// Role.
    pub role: String,
    /// Email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Admin scopes.
    #[serde(default)]
    pub admin_scopes: Vec<String>,
    /// Locale.
    #[serde(default = "fr")]
    pub locale: String,
}
