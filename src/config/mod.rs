//! keepalived.conf: preprocessor, pest grammar, typed model and validation.

pub mod model;

pub use model::*;
