//! Message calls: `send`, `recv`, `mbox_send` and `mbox_recv`, with their buffer and their peer.
//!
//! A message call compiles to one system call with six registers, in the
//! order the kernel's ABI gives them (`send(to, buf, len, tag, flags,
//! ticks)`, `recv(from, tag, buf, cap, flags, ticks)`). The buffer argument
//! is resolved first, since a computed value or element address goes
//! through a hidden word that must be written before the registers are
//! pushed. For `send`/`recv` the peer decides the call number: a process (or
//! `ANY`) is `send`/`recv`, a declared mailbox `mbox_send`/`mbox_recv`;
//! `mbox_send`/`mbox_recv` take a handle value. A peer that is certainly
//! the caller (`self`, or its own single-instance name) is refused here,
//! as the kernel would refuse it with `EINVAL`.

use ipclab_syscalls::Sysno;

use super::body::{BodyCompiler, Variable};
use super::call::{arity_error, split_arguments};
use super::globals::{
    constant_instance, errno_named, is_constant, multi_instance_error, BUILTIN_VALUES,
};
use super::Compiled;
use crate::lang::ast::*;
use crate::lang::code::{CallForm, Instruction};
use crate::lang::diagnostics::Diagnostic;
use crate::lang::Program;

/// What the buffer argument of a call names.
pub(in crate::lang) struct Buffer {
    pub(in crate::lang) address: BufferAddress,
    pub(in crate::lang) length: u64,
}

pub(in crate::lang) enum BufferAddress {
    /// The buffer is at this fixed address.
    Fixed(u32),
    /// The buffer's address was computed into the hidden word at this address.
    Computed(u32),
}

impl BodyCompiler<'_> {
    /// `send`, `recv`, `mbox_send`, `mbox_recv`.
    pub(super) fn message_call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        let is_send = name.ends_with("send");
        let (positional, named) = split_arguments(call, &["tag", "timeout"])?;
        let mut nonblocking = false;
        let mut fixed = Vec::new();
        for argument in &positional {
            match &argument.kind {
                ExpressionKind::Name(flag) if flag.text == "nonblocking" && fixed.len() >= 2 => {
                    super::call::note_nonblocking(&mut nonblocking, flag)?;
                }
                _ => fixed.push(*argument),
            }
        }
        if fixed.len() != 2 {
            let shape = format!(
                "{name}({}, {}[, tag = t][, timeout = n][, nonblocking])",
                if name.starts_with("mbox") {
                    "handle"
                } else if is_send {
                    "destination"
                } else {
                    "source"
                },
                if is_send { "value" } else { "variable" }
            );
            if let Some(error) = super::call::misspelt_nonblocking(fixed.get(2..), &shape) {
                return Err(error);
            }
            return Err(arity_error(call, &shape));
        }
        let timeout = named
            .iter()
            .find(|(k, _)| k.text == "timeout")
            .map(|(_, v)| *v);
        let tag = named.iter().find(|(k, _)| k.text == "tag").map(|(_, v)| *v);
        if let (true, Some(timeout)) = (nonblocking, timeout) {
            return Err(Diagnostic::at(
                timeout.span,
                "`timeout` and `nonblocking` together",
                "pick one",
            )
            .with_help("a call either never blocks or blocks at most `timeout` ticks"));
        }

        // A send of a computed value goes through a hidden word, evaluated before the arguments.
        let buffer = self.buffer(fixed[1], is_send)?;

        // a0: the peer.
        let sysno = if name.starts_with("mbox") {
            self.handle_value(fixed[0])?;
            if is_send {
                Sysno::MboxSend
            } else {
                Sysno::MboxRecv
            }
        } else {
            self.peer(fixed[0], is_send)?
        };
        let span_tag = tag.map_or(span, |t| t.span);
        let push_tag = |compiler: &mut Self| -> Compiled<()> {
            match tag {
                Some(Expression {
                    kind: ExpressionKind::Name(any),
                    ..
                }) if any.text == "ANY" => {
                    if is_send {
                        return Err(
                            Diagnostic::at(any.span, "a send has one tag", "not for send")
                                .with_help("`tag = ANY` filters a receive; a send gives a number"),
                        );
                    }
                    compiler.emit(Instruction::Push(-1), any.span);
                }
                // A send's tag: a constant out of range is a compile
                // error, as a receive filter's is; a computed one the
                // kernel refuses with `EINVAL`.
                Some(tag) if is_send => {
                    compiler.value(tag)?;
                    if let Ok(value) = compiler.globals.evaluate(tag) {
                        if !(0..=i64::from(u32::MAX)).contains(&value) {
                            return Err(Diagnostic::at(
                                tag.span,
                                format!("a send's tag must be 0 to 4294967295, got {value}"),
                                "not a tag",
                            )
                            .with_help("a send gives one tag, a number from 0 to 4294967295"));
                        }
                    }
                }
                // A receive's filter: -1 is how `ANY` travels in the call's
                // registers, so a tag that a program computes must not be
                // negative, or a computed -1 would silently receive any tag.
                Some(tag) => {
                    let constant = match compiler.globals.evaluate(tag) {
                        Ok(value) => {
                            compiler.emit(Instruction::Push(value), tag.span);
                            Some(value)
                        }
                        Err(_) => {
                            compiler.value(tag)?;
                            compiler.last_constant()
                        }
                    };
                    match constant {
                        Some(value) if !(0..=i64::from(u32::MAX)).contains(&value) => {
                            return Err(Diagnostic::at(
                                tag.span,
                                format!(
                                    "a receive's tag filter must be 0 to 4294967295, got {value}"
                                ),
                                "not a tag",
                            )
                            .with_help("write `tag = ANY` to take any tag"));
                        }
                        Some(_) => {}
                        None => {
                            compiler.emit(Instruction::RequireNonNegative("tag"), tag.span);
                        }
                    }
                }
                None => {
                    compiler.emit(Instruction::Push(if is_send { 0 } else { -1 }), span_tag);
                }
            }
            Ok(())
        };
        let push_buffer = |compiler: &mut Self| -> Compiled<()> {
            match buffer.address {
                BufferAddress::Fixed(address) => {
                    compiler.emit(Instruction::Push(i64::from(address)), span);
                }
                BufferAddress::Computed(slot) => {
                    compiler.emit(Instruction::Load(slot), span);
                }
            }
            compiler.emit(Instruction::Push(buffer.length as i64), span);
            Ok(())
        };
        if is_send {
            // send(to, buf, len, tag, flags, ticks)
            push_buffer(self)?;
            push_tag(self)?;
        } else {
            // recv(from, tag, buf, cap, flags, ticks)
            push_tag(self)?;
            push_buffer(self)?;
        }
        match (nonblocking, timeout) {
            (true, _) => {
                self.emit(Instruction::Push(1), span);
                self.emit(Instruction::Push(0), span);
            }
            (false, Some(timeout)) => {
                self.emit(Instruction::Push(2), timeout.span);
                self.value(timeout)?;
                self.emit(Instruction::RequireNonNegative("timeout"), timeout.span);
            }
            (false, None) => {
                self.emit(Instruction::Push(0), span);
                self.emit(Instruction::Push(0), span);
            }
        }
        self.emit(Instruction::Syscall { sysno, form }, span);
        Ok(())
    }

    /// Does `argument` name memory of the process (a variable, an array or
    /// an element of one), so that a receive can write into it?
    pub(in crate::lang) fn names_memory(&self, argument: &Expression) -> bool {
        match &argument.kind {
            ExpressionKind::Name(name) => {
                !self.globals.is_global(&name.text)
                    && !BUILTIN_VALUES.contains(&name.text.as_str())
                    && errno_named(&name.text).is_none()
            }
            ExpressionKind::Index(name, _) => {
                self.globals.process(&name.text).is_none()
                    && self.globals.object(&name.text).is_none()
            }
            _ => false,
        }
    }

    /// The buffer of a message call: a variable, an array, an element, or (send) any value.
    pub(in crate::lang) fn buffer(
        &mut self,
        argument: &Expression,
        is_send: bool,
    ) -> Compiled<Buffer> {
        let names_memory = self.names_memory(argument);
        match &argument.kind {
            ExpressionKind::Name(name) if names_memory => match self.variables.get(&name.text) {
                Some(Variable {
                    address,
                    array: Some(words),
                }) => Ok(Buffer {
                    address: BufferAddress::Fixed(*address),
                    length: u64::from(*words) * 8,
                }),
                _ => Ok(Buffer {
                    address: BufferAddress::Fixed(self.scalar(name)?),
                    length: 8,
                }),
            },
            ExpressionKind::Index(name, index) if names_memory => {
                // The element's address is computed into a hidden word first.
                let (base, length) = self.array(name)?;
                let slot = self.allocate(1);
                self.value(index)?;
                self.emit(Instruction::ElementAddress { base, length }, argument.span);
                self.emit(Instruction::Store(slot), argument.span);
                Ok(Buffer {
                    address: BufferAddress::Computed(slot),
                    length: 8,
                })
            }
            _ if is_send => {
                let slot = self.allocate(1);
                self.value(argument)?;
                self.emit(Instruction::Store(slot), argument.span);
                Ok(Buffer {
                    address: BufferAddress::Fixed(slot),
                    length: 8,
                })
            }
            _ => Err(Diagnostic::at(
                argument.span,
                "recv needs a variable to receive into",
                "not a variable",
            )
            .with_help("write `recv(P, x)`, `recv(P, buf)` for an array, or `recv(P, buf[k])`")),
        }
    }

    /// Emits a0 of `send`/`recv` for a process peer; returns the call number.
    fn peer(&mut self, peer: &Expression, is_send: bool) -> Compiled<Sysno> {
        let span = peer.span;
        let process_call = if is_send { Sysno::Send } else { Sysno::Recv };
        match &peer.kind {
            ExpressionKind::Name(name) => {
                let text = name.text.as_str();
                if text == "ANY" {
                    if is_send {
                        return Err(Diagnostic::at(
                            span,
                            "cannot send to ANY",
                            "not a destination",
                        )
                        .with_help("a send names one process or mailbox"));
                    }
                    self.emit(Instruction::Push(-1), span);
                    return Ok(Sysno::Recv);
                }
                if text == "self" {
                    // The kernel would answer EINVAL at run time; the name
                    // alone says it, so say it here with a place.
                    return Err(self_peer_error(span, is_send));
                }
                if let Some(mailbox) = self.globals.mailbox(text) {
                    self.emit(Instruction::Push(mailbox as i64), span);
                    return Ok(if is_send {
                        Sysno::MboxSend
                    } else {
                        Sysno::MboxRecv
                    });
                }
                if let Some(process) = self.globals.process(text) {
                    if process.count != 1 {
                        return Err(multi_instance_error(process, span));
                    }
                    if self.is_owner(text) {
                        return Err(self_peer_error(span, is_send));
                    }
                    let pid = Program::pid_of(process.first as usize).to_raw();
                    self.emit(Instruction::Push(pid as i64), span);
                    return Ok(process_call);
                }
                if self.variables.contains_key(text) {
                    self.value(peer)?;
                    self.emit(Instruction::InstancePid, span);
                    return Ok(process_call);
                }
                if let Some(error) = crate::lang::mpi::misused_name(name) {
                    return Err(error);
                }
                if let Some(what) = self.globals.what_is(text) {
                    return Err(self.not_a_peer(name, what));
                }
                Err(Diagnostic::at(
                    span,
                    format!("unknown process or mailbox `{text}`"),
                    "unknown",
                )
                .with_help(self.unknown_peer_hint(text, is_send)))
            }
            ExpressionKind::Index(name, index) => {
                if let Some(process) = self.globals.process(&name.text) {
                    if is_constant(self.globals, index) {
                        let offset = constant_instance(self.globals, process, index)?;
                        // Only a single instance is certainly this one:
                        // `W[0]` in a body of `W[2]` is the other one for W[1].
                        if process.count == 1 && self.is_owner(&name.text) {
                            return Err(self_peer_error(span, is_send));
                        }
                        let pid = Program::pid_of((process.first + offset) as usize).to_raw();
                        self.emit(Instruction::Push(pid as i64), span);
                    } else {
                        let (first, count, process_name) =
                            (process.first, process.count, process.name.clone());
                        self.value(index)?;
                        self.emit(
                            Instruction::ProcessPid {
                                first,
                                count,
                                name: process_name,
                            },
                            span,
                        );
                    }
                    return Ok(process_call);
                }
                if self.globals.mailbox(&name.text).is_some() {
                    return Err(Diagnostic::at(
                        span,
                        format!("mailbox `{}` is not an array", name.text),
                        "a mailbox",
                    )
                    .with_help(format!("write `{}` without an index", name.text)));
                }
                // A shared array's word may hold an instance number; any
                // other declared name is no peer, indexed or not.
                let shared = self
                    .globals
                    .object(&name.text)
                    .is_some_and(|(o, _)| o.kind == ObjectKind::Shared);
                if let (false, Some(what)) = (shared, self.globals.what_is(&name.text)) {
                    return Err(self.not_a_peer(name, what));
                }
                self.value(peer)?;
                self.emit(Instruction::InstancePid, span);
                Ok(process_call)
            }
            _ => {
                self.value(peer)?;
                self.emit(Instruction::InstancePid, span);
                Ok(process_call)
            }
        }
    }

    /// Is `name` the declaration whose body this is?
    fn is_owner(&self, name: &str) -> bool {
        self.globals.processes[self.owner].name == name
    }

    /// The error for a declared name that is no process or mailbox (`what`:
    /// "a semaphore", "a constant", ...) as the peer of a message call.
    fn not_a_peer(&self, name: &Name, what: &str) -> Diagnostic {
        let text = &name.text;
        let help = if what == "a shared variable" {
            format!(
                "to name the instance it holds, read it into a variable first: \
                 `let p = {text};`, then `send(p, x)`"
            )
        } else {
            self.globals.peers_hint()
        };
        Diagnostic::at(
            name.span,
            format!("`{text}` is {what}, not a process or mailbox"),
            "not a peer",
        )
        .with_help(help)
    }

    /// The hint for an unknown peer: a close process, mailbox or variable
    /// name if there is one, then every process and mailbox.
    /// Pushes the handle argument of `mbox_send`, `mbox_recv`, `close` or
    /// `mbox_destroy`. A name first mentioned there would be a fresh
    /// variable holding 0, which is some other object's handle (the first
    /// mailbox's): a misspelt mailbox (`replys` for `replies`) or a handle
    /// not opened yet, never one the program meant. An error, not a run on
    /// the wrong mailbox.
    pub(in crate::lang) fn handle_value(&mut self, handle: &Expression) -> Compiled<()> {
        if let ExpressionKind::Name(n) = &handle.kind {
            // A declared mailbox is handle number `m` in every process
            // (`close(box);`, `mbox_recv(box, x);`).
            if !self.variables.contains_key(&n.text) {
                if let Some(mailbox) = self.globals.mailbox(&n.text) {
                    self.emit(Instruction::Push(mailbox as i64), n.span);
                    return Ok(());
                }
            }
            let fresh = !self.variables.contains_key(&n.text)
                && !self.globals.is_global(&n.text)
                && !BUILTIN_VALUES.contains(&n.text.as_str())
                && errno_named(&n.text).is_none()
                && self.reserved_name_error(n).is_none();
            if fresh {
                let mailboxes: Vec<&str> = self
                    .globals
                    .mailboxes
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect();
                let known = if mailboxes.is_empty() {
                    "no mailbox is declared".to_string()
                } else {
                    format!("the mailboxes are {}", mailboxes.join(", "))
                };
                return Err(Diagnostic::at(
                    n.span,
                    format!(
                        "`{}` is no handle: it is first mentioned here, so it would hold 0",
                        n.text
                    ),
                    "never assigned",
                )
                .with_help(format!(
                    "{}a handle is a declared mailbox's name or a variable that \
                     `mbox_open`/`mbox_create` gave first (`h = mbox_open(\"jobs\");`); {known}",
                    crate::lang::diagnostics::did_you_mean(&n.text, &mailboxes)
                )));
            }
        }
        self.value(handle)
    }

    fn unknown_peer_hint(&self, text: &str, is_send: bool) -> String {
        let mut variables: Vec<&str> = self.variables.keys().map(String::as_str).collect();
        // The map's order is random; the hint must not be.
        variables.sort_unstable();
        // Not this process itself: naming it is an error too.
        let known: Vec<&str> = self
            .globals
            .processes
            .iter()
            .filter(|p| p.count != 1 || !self.is_owner(&p.name))
            .map(|p| p.name.as_str())
            .chain(self.globals.mailboxes.iter().map(|m| m.name.as_str()))
            .chain(variables)
            // `recv(any, x)`: any process.
            .chain((!is_send).then_some("ANY"))
            .collect();
        format!(
            "{}{}",
            crate::lang::diagnostics::did_you_mean(text, &known),
            self.globals.peers_hint()
        )
    }
}

/// A process naming itself as the peer of `send`/`recv` (`self`, or its
/// own single-instance name): the kernel would answer `EINVAL`.
fn self_peer_error(span: crate::lang::Span, is_send: bool) -> Diagnostic {
    let (message, help) = if is_send {
        (
            "a process cannot send to itself",
            "name another process or a mailbox; to keep a message for later, \
             send it to a mailbox and receive it from there",
        )
    } else {
        (
            "a process cannot receive from itself",
            "name the sending process or a mailbox, or write `recv(ANY, x)` \
             to receive from any process",
        )
    };
    Diagnostic::at(span, message, "this process").with_help(help)
}
