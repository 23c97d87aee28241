//! The compiler: resolves names, checks constants, and emits the bytecode of every process body.
//!
//! Declarations are resolved first (constants in order, then mailboxes and
//! process counts), so a body may name a process declared after it. Body
//! errors are collected statement by statement, so one compilation reports
//! as many independent mistakes as it can.
//!
//! One concept per file: [`globals`] holds the tables every body reads and
//! the hints that list them; [`items`] compiles the top-level items into a
//! [`Program`](crate::lang::Program), with the `kernel { }` block and the
//! `expect` line in [`settings`]; [`body`] is the per-body compiler with its
//! statements and loops, [`expression`] its values, [`call`] the dispatch of
//! calls and their argument checks, and [`message`] the message calls. The
//! MPI, synchronisation and device calls extend [`BodyCompiler`] from their
//! own modules beside this one.

mod body;
pub(in crate::lang) mod call;
mod expression;
mod globals;
mod items;
mod message;
mod settings;

use crate::lang::diagnostics::Diagnostic;

pub use items::compile_items;

pub(super) use body::{BodyCompiler, Variable};
pub(super) use call::{arity_error, split_arguments};
pub(super) use globals::{binary_checked, errno_named, Globals};
pub(super) use message::{Buffer, BufferAddress};
pub(super) use settings::VERDICTS;

pub(super) type Compiled<T> = Result<T, Diagnostic>;
