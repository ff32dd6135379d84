//! Use cases of MyQCM with their transaction boundaries. The web layer, the command line and the
//! jobs all go through here; nothing here knows about HTTP.

pub mod accounts;
pub mod catalogue;
pub mod identity;
pub mod import;
pub mod markdown;
pub mod passwords;
pub mod training;
