//! The catalogue's rules: item kinds and their content, validation, the lifecycle state machine
//! (draft → in review → approved → retired), QROC answer normalisation, learner reports and
//! exam blueprints. Pure: no I/O, no database types.
//!
//! Map: [`content`] (what an item says and the checks on it), [`lifecycle`] (who may move an
//! item where), [`qroc`] (answer normalisation and matching), [`reports`], [`blueprint`],
//! [`curriculum`], [`media`] (which images a text names).

pub mod blueprint;
pub mod content;
pub mod curriculum;
pub mod lifecycle;
pub mod media;
pub mod qroc;
pub mod reports;

pub use content::{
    ContentError, Difficulty, ItemContent, ItemKind, Locale, NumericSpec, OptionSpec, QrocSpec,
    SourceTags,
};
pub use lifecycle::{ItemStatus, LifecycleError, Transition};

/// Defines `as_str`, `FromStr` and `Display` for a unit enum stored as text.
macro_rules! text_enum {
    ($t:ident, $kind:literal, $($v:ident = $s:literal),* $(,)?) => {
        impl $t {
            /// The stored name.
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),* } }
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
        }
        impl std::str::FromStr for $t {
            type Err = $crate::catalogue::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($s => Ok(Self::$v),)*
                    other => Err($crate::catalogue::UnknownValue { kind: $kind, value: other.to_owned() }),
                }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_enum;

/// A stored or submitted name that is not one of the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// What was being parsed (`item kind`, `locale`…).
    pub kind: &'static str,
    /// The value given.
    pub value: String,
}
