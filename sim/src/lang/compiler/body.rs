//! The body compiler: one process body's variables, its instruction stream, and its statements and loops.
//!
//! A [`BodyCompiler`] owns what one body is compiling into: the variables
//! (declared on first use, as lecture pseudocode does), the words they
//! occupy, the instructions with their source spans, and the stack of open
//! loops whose `break` and `continue` jumps are patched when the loop
//! closes. This file holds that state and the statements; expressions,
//! calls and message calls add their own `impl` blocks in the files beside
//! it, and the MPI, synchronisation and device calls in theirs.

use std::collections::HashMap;

use ipclab_syscalls::Sysno;

use super::globals::{errno_named, Globals, BUILTIN_VALUES};
use super::Compiled;
use crate::lang::ast::*;
use crate::lang::code::{CallForm, Code, Instruction, PrintPart};
use crate::lang::diagnostics::Diagnostic;
use crate::lang::{Span, MAX_ARRAY_WORDS};

#[derive(Clone, Copy)]
pub(in crate::lang) struct Variable {
    pub(in crate::lang) address: u32,
    /// `None` for a scalar, the word count for an array.
    pub(in crate::lang) array: Option<u32>,
}

struct LoopContext {
    breaks: Vec<usize>,
    continues: Vec<usize>,
}

pub(in crate::lang) struct BodyCompiler<'a> {
    pub(in crate::lang) globals: &'a Globals,
    /// The declaration whose body this is (an index into
    /// `globals.processes`): a name for it may be this very process.
    pub(super) owner: usize,
    pub(in crate::lang) variables: HashMap<String, Variable>,
    order: Vec<(String, u32, u32)>,
    instructions: Vec<Instruction>,
    spans: Vec<Span>,
    pub(super) data: Vec<(u32, Vec<u8>)>,
    pub(super) next_word: usize,
    loops: Vec<LoopContext>,
    /// MPI status variables (`MPI_Recv(..., &st)`): 4 words at this address.
    pub(in crate::lang) statuses: HashMap<String, u32>,
    /// The pool of words the values of nonblocking sends are staged in
    /// ([`Instruction::StageValue`]), allocated at the first such send.
    pub(in crate::lang) value_pool: Option<u32>,
}

impl<'a> BodyCompiler<'a> {
    pub(super) fn new(globals: &'a Globals, owner: usize) -> BodyCompiler<'a> {
        BodyCompiler {
            globals,
            owner,
            variables: HashMap::new(),
            order: Vec::new(),
            instructions: Vec::new(),
            spans: Vec::new(),
            data: Vec::new(),
            next_word: 0,
            loops: Vec::new(),
            statuses: HashMap::new(),
            value_pool: None,
        }
    }

    pub(super) fn finish(mut self) -> Code {
        crate::lang::code::fuse_calls(&mut self.instructions, &mut self.spans);
        Code {
            instructions: self.instructions,
            spans: self.spans,
            data: self.data,
            memory_words: self.next_word,
            variables: self.order,
        }
    }

    pub(in crate::lang) fn emit(&mut self, instruction: Instruction, span: Span) -> usize {
        self.instructions.push(instruction);
        self.spans.push(span);
        self.instructions.len() - 1
    }

    /// The value the last instruction pushes, if it pushes a constant (a
    /// builtin name such as an MPI constant compiles to one).
    pub(in crate::lang) fn last_constant(&self) -> Option<i64> {
        match self.instructions.last() {
            Some(Instruction::Push(value)) => Some(*value),
            _ => None,
        }
    }

    pub(in crate::lang) fn here(&self) -> u32 {
        u32::try_from(self.instructions.len()).unwrap_or(u32::MAX)
    }

    pub(in crate::lang) fn patch(&mut self, at: usize, target: u32) {
        match &mut self.instructions[at] {
            Instruction::Jump(old) | Instruction::JumpIfFalse(old) => *old = target,
            _ => {}
        }
    }

    pub(in crate::lang) fn allocate(&mut self, words: usize) -> u32 {
        let address = self.next_word.saturating_mul(8);
        self.next_word = self.next_word.saturating_add(words);
        u32::try_from(address).unwrap_or(u32::MAX)
    }

    pub(in crate::lang) fn reserved_name_error(&self, name: &Name) -> Option<Diagnostic> {
        if let Some(error) = crate::lang::mpi::misused_name(name) {
            return Some(error);
        }
        let text = name.text.as_str();
        let what = if self.globals.constant(text).is_some() {
            "a constant"
        } else if self.globals.mailbox(text).is_some() {
            "a mailbox"
        } else if let Some((object, _)) = self.globals.object(text) {
            object.kind.noun()
        } else if self.globals.process(text).is_some() {
            "a process"
        } else if BUILTIN_VALUES.contains(&text)
            || errno_named(text).is_some()
            || crate::lang::mpi::constant(text).is_some()
        {
            "a builtin"
        } else {
            return None;
        };
        Some(
            Diagnostic::at(
                name.span,
                format!("`{text}` is {what}, not a variable"),
                "not a variable",
            )
            .with_help("choose another name for the variable"),
        )
    }

    /// The scalar variable `name`, declared on first use as lecture pseudocode does.
    pub(in crate::lang) fn scalar(&mut self, name: &Name) -> Compiled<u32> {
        if let Some(error) = self.reserved_name_error(name) {
            return Err(error);
        }
        match self.variables.get(&name.text) {
            Some(Variable {
                array: Some(words), ..
            }) => Err(Diagnostic::at(
                name.span,
                format!("`{}` is an array of {words} words", name.text),
                "an array",
            )
            .with_help(format!("use one element: {}[k]", name.text))),
            Some(variable) => Ok(variable.address),
            None => {
                let address = self.allocate(1);
                self.variables.insert(
                    name.text.clone(),
                    Variable {
                        address,
                        array: None,
                    },
                );
                self.order.push((name.text.clone(), address, 1));
                Ok(address)
            }
        }
    }

    pub(super) fn statement(&mut self, statement: &Statement) -> Compiled<()> {
        let span = statement.span;
        match &statement.kind {
            StatementKind::Let(name, value) => {
                let address = self.scalar(name)?;
                match value {
                    Some(value) => self.value(value)?,
                    None => {
                        self.emit(Instruction::Push(0), span);
                    }
                }
                self.emit(Instruction::Store(address), span);
            }
            StatementKind::LetArray(name, size) => {
                if let Some(error) = self.reserved_name_error(name) {
                    return Err(error);
                }
                let words = self.globals.evaluate(size)?;
                if words < 1 || words as u64 > MAX_ARRAY_WORDS {
                    return Err(Diagnostic::at(
                        size.span,
                        format!("array size {words} is out of range"),
                        "out of range",
                    )
                    .with_help(format!(
                        "an array has 1 to {MAX_ARRAY_WORDS} words (the longest message)"
                    )));
                }
                let words = words as u32;
                match self.variables.get(&name.text) {
                    Some(Variable {
                        array: Some(existing),
                        ..
                    }) if *existing == words => {}
                    Some(_) => {
                        return Err(Diagnostic::at(
                            name.span,
                            format!("`{}` is already a variable of another shape", name.text),
                            "declared before",
                        )
                        .with_help("give the array its own name"))
                    }
                    None => {
                        let address = self.allocate(words as usize);
                        self.variables.insert(
                            name.text.clone(),
                            Variable {
                                address,
                                array: Some(words),
                            },
                        );
                        self.order.push((name.text.clone(), address, words));
                    }
                }
            }
            StatementKind::Assign(target, value) if self.is_shared_target(target) => {
                self.shared_store(target, value)?
            }
            StatementKind::Assign(target, value) => match &target.kind {
                ExpressionKind::Name(name) => {
                    let address = self.scalar(name)?;
                    self.value(value)?;
                    self.emit(Instruction::Store(address), span);
                }
                ExpressionKind::Index(name, index) => {
                    let (base, length) = self.array(name)?;
                    self.value(index)?;
                    self.value(value)?;
                    self.emit(Instruction::StoreElement { base, length }, span);
                }
                _ => {
                    return Err(Diagnostic::at(
                        target.span,
                        "cannot assign to this",
                        "not a variable",
                    )
                    .with_help("assign to a variable `x = e;` or an element `buf[k] = e;`"))
                }
            },
            StatementKind::Call(call) => self.call(call, CallForm::Statement)?,
            StatementKind::Produce(target) => {
                let ExpressionKind::Name(name) = &target.kind else {
                    return Err(Diagnostic::at(
                        target.span,
                        "produce needs a variable",
                        "not a variable",
                    )
                    .with_help("write `produce item;`"));
                };
                let address = self.scalar(name)?;
                self.emit(Instruction::Produce(address), span);
            }
            StatementKind::Consume(value) => {
                self.value(value)?;
                self.emit(Instruction::Consume, span);
            }
            StatementKind::Compute(ticks) => {
                self.value(ticks)?;
                self.emit(Instruction::RequireNonNegative("compute"), span);
                self.emit(Instruction::Compute, span);
            }
            StatementKind::Sleep(ticks) => {
                self.value(ticks)?;
                self.emit(Instruction::RequireNonNegative("sleep"), span);
                self.syscall(Sysno::Sleep, 1, CallForm::Statement, span);
            }
            StatementKind::Yield => self.syscall(Sysno::Yield, 0, CallForm::Statement, span),
            StatementKind::Print(parts) => {
                let mut pieces = Vec::new();
                for part in parts {
                    if let ExpressionKind::Text(text) = &part.kind {
                        pieces.push(PrintPart::Text(text.clone()));
                    } else {
                        self.value(part)?;
                        pieces.push(PrintPart::Value);
                    }
                }
                self.emit(Instruction::Print(pieces), span);
            }
            StatementKind::Exit(code) => {
                match code {
                    Some(code) => self.value(code)?,
                    None => {
                        self.emit(Instruction::Push(0), span);
                    }
                }
                self.syscall(Sysno::Exit, 1, CallForm::Statement, span);
            }
            StatementKind::Assert(condition, text) => {
                self.value(condition)?;
                self.emit(Instruction::Assert(text.clone()), span);
            }
            StatementKind::Loop(body) => {
                let start = self.here();
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                self.close_loop(start);
            }
            StatementKind::Repeat(count, body) => {
                let counter = self.allocate(1);
                self.value(count)?;
                self.emit(Instruction::Store(counter), count.span);
                let start = self.here();
                self.emit(Instruction::Load(counter), count.span);
                self.emit(Instruction::Push(0), count.span);
                self.emit(Instruction::Binary(BinaryOperator::Greater), count.span);
                let exit = self.emit(Instruction::JumpIfFalse(0), count.span);
                self.emit(Instruction::Load(counter), count.span);
                self.emit(Instruction::Push(1), count.span);
                self.emit(Instruction::Binary(BinaryOperator::Subtract), count.span);
                self.emit(Instruction::Store(counter), count.span);
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                let end = self.here();
                self.patch(exit, end);
                self.close_loop(start);
            }
            StatementKind::While(condition, body) => {
                let start = self.here();
                self.value(condition)?;
                let exit = self.emit(Instruction::JumpIfFalse(0), condition.span);
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                let end = self.here();
                self.patch(exit, end);
                self.close_loop(start);
            }
            StatementKind::If(condition, then, otherwise) => {
                self.value(condition)?;
                let skip_then = self.emit(Instruction::JumpIfFalse(0), condition.span);
                self.block(then)?;
                if otherwise.is_empty() {
                    let end = self.here();
                    self.patch(skip_then, end);
                } else {
                    let skip_else = self.emit(Instruction::Jump(0), span);
                    let else_start = self.here();
                    self.patch(skip_then, else_start);
                    self.block(otherwise)?;
                    let end = self.here();
                    self.patch(skip_else, end);
                }
            }
            StatementKind::Break | StatementKind::Continue => {
                let is_break = matches!(statement.kind, StatementKind::Break);
                if self.loops.is_empty() {
                    let word = if is_break { "break" } else { "continue" };
                    return Err(Diagnostic::at(
                        span,
                        format!("`{word}` outside a loop"),
                        "not in a loop",
                    )
                    .with_help(
                        "`break` and `continue` belong inside `loop`, `repeat` or `while`",
                    ));
                }
                let jump = self.emit(Instruction::Jump(0), span);
                if let Some(context) = self.loops.last_mut() {
                    if is_break {
                        context.breaks.push(jump);
                    } else {
                        context.continues.push(jump);
                    }
                }
            }
        }
        Ok(())
    }

    /// Compiles a block, keeping the first error but still checking later statements.
    fn block(&mut self, body: &[Statement]) -> Compiled<()> {
        let mut first_error = None;
        for statement in body {
            if let Err(error) = self.statement(statement) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn loop_body(&mut self, body: &[Statement]) -> Compiled<()> {
        self.loops.push(LoopContext {
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        let result = self.block(body);
        if result.is_err() {
            self.loops.pop();
        }
        result
    }

    fn close_loop(&mut self, continue_target: u32) {
        let end = self.here();
        if let Some(context) = self.loops.pop() {
            for at in context.breaks {
                self.patch(at, end);
            }
            for at in context.continues {
                self.patch(at, continue_target);
            }
        }
    }

    pub(in crate::lang) fn array(&mut self, name: &Name) -> Compiled<(u32, u32)> {
        if let Some(error) = crate::lang::mpi::misused_name(name) {
            return Err(error);
        }
        match self.variables.get(&name.text) {
            Some(Variable {
                address,
                array: Some(length),
            }) => Ok((*address, *length)),
            _ => Err(Diagnostic::at(
                name.span,
                format!("`{}` is not an array", name.text),
                "not an array",
            )
            .with_help(self.not_an_array_hint(name))),
        }
    }

    /// What to do about `name[k]` when `name` is no array: say what the
    /// name is when it is something (declaring it again would be an
    /// error), else suggest an array of a close name or declaring one.
    fn not_an_array_hint(&self, name: &Name) -> String {
        let text = name.text.as_str();
        if let Some(what) = self.globals.what_is(text) {
            return format!(
                "`{text}` is {what}, not an array; an array is declared in a body: `let buf[16];`"
            );
        }
        if self.variables.contains_key(text) {
            return format!(
                "`{text}` is a plain variable here, not an array; give the array its own \
                 name: `let buf[16];`"
            );
        }
        let mut arrays: Vec<&str> = self
            .variables
            .iter()
            .filter(|(_, v)| v.array.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        // The map's order is random; the hint must not be.
        arrays.sort_unstable();
        // `Workr[0]` is as likely a misspelt process as a misspelt array.
        let known: Vec<&str> = self
            .globals
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .chain(arrays)
            .collect();
        let guess = crate::lang::diagnostics::did_you_mean(text, &known);
        format!("{guess}declare it first: `let {text}[16];`")
    }
}
