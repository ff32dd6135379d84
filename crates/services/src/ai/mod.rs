//! AI assistance for authors (issue 15): document ingestion ([`ingest`]) for question
//! generation, KC suggestions ([`kcs`]), QROC grading
//! assistance ([`grading`]). Document text is data for the model, never instructions; everything the model
//! produces is validated and enters the catalogue as a draft for human review.

pub mod drafts;
pub mod generate;
pub mod grading;
pub mod ingest;
pub mod kcs;
pub mod privacy;
pub mod requests;
pub mod usage;
