//! Calls in a body: the dispatch by name, the mailbox-management, `clock` and `getpid` calls, and the argument helpers every call family shares.
//!
//! [`BodyCompiler::call`] hands each family to its compiler: the message
//! calls to [`message`](super::message), the synchronisation, MPI and
//! device calls to their modules beside this one. A system call always
//! passes six argument registers; [`BodyCompiler::syscall`] pads the ones a
//! call does not use with zeros. [`split_arguments`] and [`arity_error`]
//! give every family the same checks and the same wording for them.

use ipclab_syscalls::Sysno;

use super::body::BodyCompiler;
use super::Compiled;
use crate::lang::ast::*;
use crate::lang::code::{CallForm, Instruction};
use crate::lang::diagnostics::{did_you_mean, Diagnostic};
use crate::lang::Span;

/// The calls that are not MPI's, as a scenario writes them.
const CALLS: &[&str] = &[
    "send",
    "recv",
    "mbox_send",
    "mbox_recv",
    "mbox_create",
    "mbox_open",
    "close",
    "mbox_destroy",
    "clock",
    "getpid",
    "P",
    "V",
    "lock",
    "unlock",
    "wait",
    "signal",
    "broadcast",
    "dev_read",
];

impl BodyCompiler<'_> {
    pub(in crate::lang) fn syscall(
        &mut self,
        sysno: Sysno,
        pushed: usize,
        form: CallForm,
        span: Span,
    ) {
        for _ in pushed..6 {
            self.emit(Instruction::Push(0), span);
        }
        self.emit(Instruction::Syscall { sysno, form }, span);
    }

    /// Emits a call. In expression form it leaves one value on the stack.
    pub(super) fn call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        match name {
            "send" | "recv" | "mbox_send" | "mbox_recv" => self.message_call(call, form),
            _ if crate::lang::sync::CALLS.contains(&name) => self.sync_call(call, form),
            _ if name.starts_with("MPI_") => self.mpi_call(call, form),
            "dev_read" => self.dev_read(call, form),
            "mbox_create" | "mbox_open" => {
                let allowed: &[&str] = if name == "mbox_create" {
                    &["capacity"]
                } else {
                    &[]
                };
                let (positional, named) = split_arguments(call, allowed)?;
                let wanted = if name == "mbox_create" { 1..=2 } else { 1..=1 };
                if !wanted.contains(&positional.len()) {
                    return Err(arity_error(
                        call,
                        if name == "mbox_create" {
                            "mbox_create(\"name\", capacity = n)"
                        } else {
                            "mbox_open(\"name\")"
                        },
                    ));
                }
                let ExpressionKind::Text(text) = &positional[0].kind else {
                    return Err(Diagnostic::at(
                        positional[0].span,
                        "a mailbox name is a string",
                        "not a string",
                    )
                    .with_help(format!("write `{name}(\"jobs\")`")));
                };
                let bytes = text.as_bytes().to_vec();
                let address = self.allocate(bytes.len().div_ceil(8).max(1));
                let length = bytes.len();
                self.data.push((address, bytes));
                self.emit(Instruction::Push(i64::from(address)), span);
                self.emit(Instruction::Push(length as i64), span);
                if name == "mbox_create" {
                    let capacity = positional.get(1).copied().or_else(|| {
                        named
                            .iter()
                            .find(|(k, _)| k.text == "capacity")
                            .map(|(_, v)| *v)
                    });
                    match capacity {
                        Some(capacity) => {
                            self.value(capacity)?;
                            self.emit(Instruction::RequireNonNegative("capacity"), capacity.span);
                        }
                        None => {
                            return Err(Diagnostic::at(
                                span,
                                "mbox_create needs a capacity",
                                "no capacity",
                            )
                            .with_help("write `mbox_create(\"jobs\", capacity = 4)`"))
                        }
                    }
                    self.syscall(Sysno::MboxCreate, 3, form, span);
                } else {
                    self.syscall(Sysno::MboxOpen, 2, form, span);
                }
                Ok(())
            }
            "close" | "mbox_destroy" => {
                let (positional, _) = split_arguments(call, &[])?;
                if positional.len() != 1 {
                    return Err(arity_error(call, &format!("{name}(handle)")));
                }
                self.handle_value(positional[0])?;
                let sysno = if name == "close" {
                    Sysno::Close
                } else {
                    Sysno::MboxDestroy
                };
                self.syscall(sysno, 1, form, span);
                Ok(())
            }
            "clock" | "getpid" => {
                let (positional, _) = split_arguments(call, &[])?;
                if !positional.is_empty() {
                    return Err(arity_error(call, &format!("{name}()")));
                }
                let sysno = if name == "clock" {
                    Sysno::Clock
                } else {
                    Sysno::GetPid
                };
                self.syscall(sysno, 0, form, span);
                Ok(())
            }
            _ => Err(Diagnostic::at(
                call.name.span,
                format!("unknown call `{name}`"),
                "unknown call",
            )
            .with_help(format!(
                "{}the calls are: {}",
                did_you_mean(name, CALLS),
                CALLS.join(", ")
            ))),
        }
    }
}

pub(in crate::lang) fn arity_error(call: &Call, shape: &str) -> Diagnostic {
    Diagnostic::at(
        call.span,
        format!("wrong arguments for `{}`", call.name.text),
        "here",
    )
    .with_help(format!("write `{shape}`"))
}

pub(in crate::lang) type Split<'c> = (Vec<&'c Expression>, Vec<(&'c Name, &'c Expression)>);

pub(in crate::lang) fn split_arguments<'c>(
    call: &'c Call,
    allowed: &[&str],
) -> Compiled<Split<'c>> {
    let mut positional = Vec::new();
    let mut named: Vec<(&Name, &Expression)> = Vec::new();
    for argument in &call.arguments {
        match argument {
            Argument::Positional(expression) => positional.push(expression),
            Argument::Named(key, value) => {
                if !allowed.contains(&key.text.as_str()) {
                    let takes_flag = takes_nonblocking(&call.name.text);
                    let mut options = allowed.to_vec();
                    if takes_flag {
                        options.push("nonblocking");
                    }
                    let help = if takes_flag && key.text == "nonblocking" {
                        format!(
                            "`nonblocking` is a flag, written alone: `{}(..., nonblocking)`",
                            call.name.text
                        )
                    } else if options.is_empty() {
                        format!("`{}` takes no named options", call.name.text)
                    } else {
                        format!(
                            "{}the options of `{}` are: {}",
                            did_you_mean(&key.text, &options),
                            call.name.text,
                            options.join(", ")
                        )
                    };
                    return Err(Diagnostic::at(
                        key.span,
                        format!("unknown option `{}`", key.text),
                        "unknown option",
                    )
                    .with_help(help));
                }
                if named.iter().any(|(k, _)| k.text == key.text) {
                    return Err(Diagnostic::at(
                        key.span,
                        format!("`{}` given twice", key.text),
                        "again",
                    )
                    .with_help("give each option once"));
                }
                named.push((key, value));
            }
        }
    }
    Ok((positional, named))
}

/// The calls that take the `nonblocking` flag.
fn takes_nonblocking(call: &str) -> bool {
    matches!(
        call,
        "send" | "recv" | "mbox_send" | "mbox_recv" | "P" | "lock"
    )
}

/// The error for an extra argument of a call taking `nonblocking` (the
/// arguments past the fixed ones) that is a misspelling of it (`nonblock`),
/// with the call's `shape` in the hint.
pub(in crate::lang) fn misspelt_nonblocking(
    extra: Option<&[&Expression]>,
    shape: &str,
) -> Option<Diagnostic> {
    extra?.iter().find_map(|argument| {
        let ExpressionKind::Name(flag) = &argument.kind else {
            return None;
        };
        let text = flag.text.to_ascii_lowercase();
        let close = (text.len() >= 4 && "nonblocking".starts_with(&text))
            || !did_you_mean(&text, &["nonblocking"]).is_empty();
        close.then(|| {
            Diagnostic::at(
                flag.span,
                format!("unknown flag `{}`", flag.text),
                "unknown flag",
            )
            .with_help(format!("did you mean `nonblocking`? write `{shape}`"))
        })
    })
}

/// Notes a `nonblocking` flag; a second one is an error, as a repeated
/// option is.
pub(in crate::lang) fn note_nonblocking(seen: &mut bool, flag: &Name) -> Compiled<()> {
    if *seen {
        return Err(
            Diagnostic::at(flag.span, "`nonblocking` given twice", "again")
                .with_help("give each option once"),
        );
    }
    *seen = true;
    Ok(())
}
