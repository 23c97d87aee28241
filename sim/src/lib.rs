//! placeholder
pub mod lang;
