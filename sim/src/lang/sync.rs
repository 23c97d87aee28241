//! Synchronisation in the scenario language: `semaphore`, `mutex`, `condvar` and `shared` declarations, the calls `P`, `V`, `lock`, `unlock`, `wait`, `signal`, `broadcast`, and the loads and stores of shared variables.
//!
//! Chapter: `docs/scenario-language.md`, "Synchronisation". Every declared
//! object is a kernel object that every process holds a handle to (object
//! `i` is handle `mailboxes + i`, see [`super::ObjectDecl`]). Processes
//! share no memory: a `shared` variable lives in the kernel, and each read
//! or write of it is a system call (`shared_load`, `shared_store`), so
//! other processes can run between two accesses: `count = count + 1;` is
//! a load and a store, and the checker explores every interleaving of them.

use ipclab_kernel::config::{MAX_HANDLES, MAX_SHARED_WORDS};
use ipclab_syscalls::Sysno;

use super::ast::{Call, Expression, ExpressionKind, Name, ObjectKind};
use super::code::{CallForm, Instruction, StatusField};
use super::compiler::{arity_error, split_arguments, BodyCompiler, Compiled, Globals};
use super::diagnostics::Diagnostic;
use super::{MailboxDecl, ObjectDecl, Span};

/// The synchronisation calls, as a scenario writes them.
pub(super) const CALLS: &[&str] = &["P", "V", "lock", "unlock", "wait", "signal", "broadcast"];

/// Resolves a declaration: checks its argument.
pub(super) fn declare(
    globals: &Globals,
    kind: ObjectKind,
    name: &Name,
    argument: Option<&Expression>,
    span: Span,
) -> Compiled<ObjectDecl> {
    let argument = match (kind, argument) {
        (ObjectKind::Semaphore, None) => 0,
        (ObjectKind::Semaphore, Some(e)) => {
            let value = globals.evaluate(e)?;
            u32::try_from(value).map(u64::from).map_err(|_| {
                Diagnostic::at(
                    e.span,
                    format!("initial count {value} is out of range"),
                    "out of range",
                )
                .with_help(format!("a semaphore's count is between 0 and {}", u32::MAX))
            })?
        }
        (ObjectKind::Shared, None) => 1,
        (ObjectKind::Shared, Some(e)) => {
            let value = globals.evaluate(e)?;
            match u64::try_from(value) {
                Ok(words) if (1..=MAX_SHARED_WORDS as u64).contains(&words) => words,
                _ => {
                    return Err(Diagnostic::at(
                        e.span,
                        format!("shared array size {value} is out of range"),
                        "out of range",
                    )
                    .with_help(format!("a shared array has 1 to {MAX_SHARED_WORDS} words")))
                }
            }
        }
        (_, _) => 0,
    };
    Ok(ObjectDecl {
        kind,
        name: name.text.clone(),
        argument,
        span,
    })
}

/// Every process holds every mailbox and object: they must fit its
/// handle table.
pub(super) fn check_handle_count(
    mailboxes: &[MailboxDecl],
    objects: &[ObjectDecl],
) -> Result<(), Diagnostic> {
    if mailboxes.len() + objects.len() <= MAX_HANDLES {
        return Ok(());
    }
    let first_over = MAX_HANDLES.saturating_sub(mailboxes.len());
    let span = objects
        .get(first_over)
        .or(objects.last())
        .map_or(Span::default(), |o| o.span);
    Err(Diagnostic::at(
        span,
        "too many mailboxes and synchronisation objects",
        "one too many",
    )
    .with_help(format!(
        "every process holds a handle to each of them, and a process has at most \
         {MAX_HANDLES} handles; a shared array (`shared buf[4];`) takes one handle"
    )))
}

impl BodyCompiler<'_> {
    /// Pushes the handle of the object `e` names, which must be a `kind`.
    fn object_handle(&mut self, e: &Expression, kind: ObjectKind) -> Compiled<()> {
        let what = kind.keyword();
        let ExpressionKind::Name(name) = &e.kind else {
            return Err(Diagnostic::at(
                e.span,
                format!("expected a {what}"),
                format!("not a {what}"),
            )
            .with_help(self.objects_hint(kind)));
        };
        match self.globals.object(&name.text) {
            Some((object, handle)) if object.kind == kind => {
                self.emit(Instruction::Push(handle), e.span);
                Ok(())
            }
            Some((object, _)) => Err(Diagnostic::at(
                e.span,
                format!("`{}` is {}, not a {what}", name.text, object.kind.noun()),
                format!("not a {what}"),
            )
            .with_help(self.objects_hint(kind))),
            None => {
                let (message, guess) = match self.globals.other_kind(&name.text) {
                    Some(other) => (
                        format!("`{}` is {other}, not a {what}", name.text),
                        String::new(),
                    ),
                    None => (
                        format!("unknown {what} `{}`", name.text),
                        self.close_object(&name.text, kind),
                    ),
                };
                Err(Diagnostic::at(e.span, message, format!("not a {what}"))
                    .with_help(format!("{guess}{}", self.objects_hint(kind))))
            }
        }
    }

    /// The names of the declared objects of `kind`, in declaration order.
    fn names_of_kind(&self, kind: ObjectKind) -> Vec<&str> {
        self.globals
            .objects
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.name.as_str())
            .collect()
    }

    /// "did you mean `mutex1`? " when a declared `kind` has a name close to `name`.
    fn close_object(&self, name: &str, kind: ObjectKind) -> String {
        super::diagnostics::did_you_mean(name, &self.names_of_kind(kind))
    }

    fn objects_hint(&self, kind: ObjectKind) -> String {
        let names = self.names_of_kind(kind);
        let what = kind.keyword();
        if names.is_empty() {
            // The example's name is one the scenario has not taken.
            let letter = match kind {
                ObjectKind::Semaphore => "s",
                ObjectKind::Mutex => "m",
                ObjectKind::Condvar => "c",
                ObjectKind::Shared => "x",
            };
            let free = [
                letter.to_string(),
                format!("{letter}2"),
                format!("{letter}3"),
            ]
            .into_iter()
            .find(|n| self.globals.object(n).is_none() && self.globals.other_kind(n).is_none())
            .unwrap_or_else(|| "name".to_string());
            match kind {
                ObjectKind::Semaphore => format!(
                    "no semaphore is declared; declare one: `semaphore {free}(initial = 1);`"
                ),
                _ => format!("no {what} is declared; declare one: `{what} {free};`"),
            }
        } else {
            let plural = match kind {
                ObjectKind::Semaphore => "semaphores",
                ObjectKind::Mutex => "mutexes",
                ObjectKind::Condvar => "condition variables",
                ObjectKind::Shared => "shared variables",
            };
            format!("the {plural} declared: {}", names.join(", "))
        }
    }

    /// `P(s)`, `V(s)`, `lock(m)`, `unlock(m)`, `wait(c, m)`, `signal(c)`,
    /// `broadcast(c)`. In expression form it leaves 0 or the errno.
    pub(super) fn sync_call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        let blocking = matches!(name, "P" | "lock");
        let (positional, named) = split_arguments(call, if blocking { &["timeout"] } else { &[] })?;
        let shape = match name {
            "P" => "P(s[, timeout = n][, nonblocking])",
            "lock" => "lock(m[, timeout = n][, nonblocking])",
            "wait" => "wait(c, m)",
            "V" => "V(s)",
            "unlock" => "unlock(m)",
            _ => "signal(c)",
        };
        let mut nonblocking = false;
        let mut fixed = Vec::new();
        for argument in &positional {
            match &argument.kind {
                ExpressionKind::Name(flag)
                    if blocking && flag.text == "nonblocking" && !fixed.is_empty() =>
                {
                    crate::lang::compiler::call::note_nonblocking(&mut nonblocking, flag)?;
                }
                _ => fixed.push(*argument),
            }
        }
        let wanted = if name == "wait" { 2 } else { 1 };
        if fixed.len() != wanted {
            let shape = shape.replace("signal", name);
            if blocking {
                if let Some(error) =
                    crate::lang::compiler::call::misspelt_nonblocking(fixed.get(1..), &shape)
                {
                    return Err(error);
                }
            }
            return Err(arity_error(call, &shape));
        }
        let (sysno, kind) = match name {
            "P" => (Sysno::P, ObjectKind::Semaphore),
            "V" => (Sysno::V, ObjectKind::Semaphore),
            "lock" => (Sysno::Lock, ObjectKind::Mutex),
            "unlock" => (Sysno::Unlock, ObjectKind::Mutex),
            "wait" => (Sysno::Wait, ObjectKind::Condvar),
            "signal" => (Sysno::Signal, ObjectKind::Condvar),
            _ => (Sysno::Broadcast, ObjectKind::Condvar),
        };
        self.object_handle(fixed[0], kind)?;
        if name == "wait" {
            self.object_handle(fixed[1], ObjectKind::Mutex)?;
            self.syscall(sysno, 2, form, span);
            return Ok(());
        }
        if !blocking {
            self.syscall(sysno, 1, form, span);
            return Ok(());
        }
        let timeout = named
            .iter()
            .find(|(k, _)| k.text == "timeout")
            .map(|(_, v)| *v);
        match (nonblocking, timeout) {
            (true, Some(timeout)) => {
                return Err(Diagnostic::at(
                    timeout.span,
                    "`timeout` and `nonblocking` together",
                    "pick one",
                )
                .with_help("a call either never blocks or blocks at most `timeout` ticks"))
            }
            (true, None) => {
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
        self.syscall(sysno, 3, form, span);
        Ok(())
    }

    /// The handle of the shared variable `name`, or why it is not one.
    fn shared_handle(&self, name: &Name) -> Compiled<i64> {
        match self.globals.object(&name.text) {
            Some((object, handle)) if object.kind == ObjectKind::Shared => Ok(handle),
            Some((object, _)) => {
                let keyword = object.kind.keyword();
                let example = match object.kind {
                    ObjectKind::Semaphore => format!("P({0}); V({0});", name.text),
                    ObjectKind::Mutex => format!("lock({0}); unlock({0});", name.text),
                    _ => format!("wait({}, m); signal({});", name.text, name.text),
                };
                Err(Diagnostic::at(
                    name.span,
                    format!("{keyword} `{}` is not a value", name.text),
                    format!("a {keyword}"),
                )
                .with_help(format!("use it in a call: `{example}`")))
            }
            None => Err(Diagnostic::at(
                name.span,
                format!("`{}` is not a shared variable", name.text),
                "not shared",
            )),
        }
    }

    /// A shared array named without an index: an error, as for a local
    /// array (`buf = item;` would quietly be `buf[0] = item;`).
    fn whole_shared_array(&self, name: &Name) -> Compiled<()> {
        match self.globals.object(&name.text) {
            Some((object, _)) if object.kind == ObjectKind::Shared && object.argument > 1 => {
                Err(Diagnostic::at(
                    name.span,
                    format!(
                        "shared `{}` is an array of {} words",
                        name.text, object.argument
                    ),
                    "a shared array",
                )
                .with_help(format!("use one element: {}[k]", name.text)))
            }
            _ => Ok(()),
        }
    }

    /// Pushes word `index` (0 without one) of the shared variable `name`:
    /// one `shared_load` system call.
    pub(super) fn shared_load(&mut self, name: &Name, index: Option<&Expression>) -> Compiled<()> {
        let handle = self.shared_handle(name)?;
        let span = index.map_or(name.span, |i| name.span.join(i.span));
        self.emit(Instruction::Push(handle), span);
        match index {
            Some(index) => self.value(index)?,
            None => {
                self.whole_shared_array(name)?;
                self.emit(Instruction::Push(0), span);
            }
        }
        self.syscall(Sysno::SharedLoad, 2, CallForm::Statement, span);
        self.emit(Instruction::Status(StatusField::MpiValue), span);
        Ok(())
    }

    /// Is `target` a shared variable or one of its words?
    pub(super) fn is_shared_target(&self, target: &Expression) -> bool {
        match &target.kind {
            ExpressionKind::Name(name) | ExpressionKind::Index(name, _) => {
                self.globals.object(&name.text).is_some()
            }
            _ => false,
        }
    }

    /// `x = e;` or `buf[i] = e;` for a shared variable: one `shared_store`.
    pub(super) fn shared_store(&mut self, target: &Expression, value: &Expression) -> Compiled<()> {
        let (name, index) = match &target.kind {
            ExpressionKind::Name(name) => (name, None),
            ExpressionKind::Index(name, index) => (name, Some(index.as_ref())),
            _ => return Err(Diagnostic::at(target.span, "cannot assign to this", "here")),
        };
        let handle = self.shared_handle(name)?;
        let span = target.span;
        self.emit(Instruction::Push(handle), span);
        match index {
            Some(index) => self.value(index)?,
            None => {
                self.whole_shared_array(name)?;
                self.emit(Instruction::Push(0), span);
            }
        }
        self.value(value)?;
        self.syscall(Sysno::SharedStore, 3, CallForm::Statement, span);
        Ok(())
    }
}
