//! MPI calls in the scenario language: `MPI_Send(buf, count, MPI_INT, dest, tag, MPI_COMM_WORLD)` and friends, compiled to the kernel's MPI system calls.
//!
//! Chapter: `docs/mpi.md`. Datatypes are their sizes in bytes (`MPI_INT`
//! is one 8-byte word of this VM); a status variable (`&st`) is 4 words
//! (`MPI_SOURCE`, `MPI_TAG`, length in bytes, `MPI_ERROR`); `&status`
//! names the builtin `status` of the last call; requests are words holding
//! kernel request handles.
//!
//! This file compiles the calls; beside it, [`names`] holds MPI's
//! constants, datatypes and calls (and refuses any other `MPI_` name),
//! [`arguments`] judges constant arguments at compile time against the
//! ranges in [`ranges`], and [`failure`] words the error of a call that
//! failed at run time. A datatype is a name, never a value, so a call's
//! element size is known here and its count is checked against its buffer
//! exactly (`Measure::Elements`).

use ipclab_syscalls::{SendMode, Sysno};

use super::ast::{BinaryOperator, Call, Expression, ExpressionKind, UnaryOperator};
use super::code::{CallForm, ElementStart, Instruction, Measure, StatusField};
use super::compiler::{
    arity_error, split_arguments, BodyCompiler, Buffer, BufferAddress, Compiled,
};
use super::diagnostics::Diagnostic;

mod arguments;
mod failure;
mod names;
mod ranges;

pub(crate) use failure::failure_message;

use names::CALLS;
pub(super) use names::{constant, misused_name, COMM_WORLD, MPI_UNDEFINED};
use ranges::Direction;

/// The MPI call written at the start of `source[span]`, if one is: a
/// failed call or a race names the call as written, not its syscall.
pub(crate) fn call_written_at(source: &str, span: super::Span) -> Option<&'static str> {
    let word = word_at(source, span)?;
    CALLS.iter().copied().find(|name| *name == word)
}

/// The name (letters, digits, `_`) at the start of `source[span]`.
pub(crate) fn word_at(source: &str, span: super::Span) -> Option<&str> {
    let text = source.get(span.start as usize..)?;
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    Some(&text[..end])
}

/// The word of a status variable that holds `field`.
pub(super) fn status_field(field: &str) -> Option<u32> {
    Some(match field {
        "MPI_SOURCE" => 0,
        "MPI_TAG" => 1,
        "MPI_ERROR" => 3,
        _ => return None,
    })
}

/// How far the buffer of an MPI call reaches, for its count or size check.
struct Extent {
    /// Its size in bytes (the whole array's, for an element's buffer).
    limit: i64,
    /// Its name in an error.
    name: String,
    /// Where it starts, for a buffer that starts at an array element.
    from: Option<ElementStart>,
}

impl Extent {
    /// Why a constant count or size `value` does not fit this buffer, in
    /// the VM's words (`count 3 × 8 bytes (MPI_INT) is 24 bytes, but `x`
    /// holds 8`); `None` when it fits, or when the buffer starts at an
    /// element whose offset only the run knows.
    fn refuses(&self, measure: Measure, value: i64) -> Option<String> {
        if self.from.is_some() {
            return None;
        }
        super::vm::fits(measure, value, self.limit, || self.name.clone()).err()
    }

    /// The instruction that checks a `measure` against this buffer.
    fn check(self, measure: Measure) -> Instruction {
        Instruction::RequireFits {
            measure,
            limit: self.limit,
            buffer: self.name,
            from: self.from,
        }
    }
}

/// Where a call's out-parameter goes.
enum OutTarget {
    /// `MPI_STATUS_IGNORE` and the like: nowhere.
    Ignore,
    /// The scalar variable at this address.
    Word(u32),
    /// An element of the array at `base`; its index is in the hidden word `slot`.
    Element { base: u32, length: u32, slot: u32 },
}

fn not_a_variable(e: &Expression) -> Diagnostic {
    Diagnostic::at(e.span, "a variable is needed here", "not a variable")
        .with_help("write `&x` for a variable `x`, or `&a[i]` for an element of an array `a`")
}

/// `error` (a builtin given as an out-parameter), with a hint naming the
/// ignore constant meant for the place when `name` is one used elsewhere.
fn ignore_hint(error: Diagnostic, name: &str) -> Diagnostic {
    match name {
        "MPI_STATUS_IGNORE" => error.with_help(
            "MPI_STATUS_IGNORE stands only for a status (`&st`); pass a variable here: `&x`",
        ),
        "MPI_STATUSES_IGNORE" => error.with_help(
            "MPI_STATUSES_IGNORE stands only for MPI_Waitall's statuses; \
             pass MPI_STATUS_IGNORE for one status, or a variable: `&x`",
        ),
        _ => error,
    }
}

fn strip(e: &Expression) -> &Expression {
    match &e.kind {
        ExpressionKind::Unary(UnaryOperator::AddressOf, inner) => inner,
        _ => e,
    }
}

const SHAPES: &[(&str, &str)] = &[
    (
        "MPI_Send",
        "MPI_Send(buf, count, MPI_INT, dest, tag, MPI_COMM_WORLD)",
    ),
    (
        "MPI_Recv",
        "MPI_Recv(buf, count, MPI_INT, source, tag, MPI_COMM_WORLD, &status)",
    ),
    (
        "MPI_Isend",
        "MPI_Isend(buf, count, MPI_INT, dest, tag, MPI_COMM_WORLD, &request)",
    ),
    (
        "MPI_Irecv",
        "MPI_Irecv(buf, count, MPI_INT, source, tag, MPI_COMM_WORLD, &request)",
    ),
    ("MPI_Init", "MPI_Init(&argc, &argv);` or `MPI_Init();"),
    ("MPI_Finalize", "MPI_Finalize();"),
    ("MPI_Wait", "MPI_Wait(&request, &status)"),
    ("MPI_Test", "MPI_Test(&request, &flag, &status)"),
    (
        "MPI_Waitall",
        "MPI_Waitall(count, requests, MPI_STATUSES_IGNORE)",
    ),
    (
        "MPI_Waitany",
        "MPI_Waitany(count, requests, &index, &status)",
    ),
    (
        "MPI_Probe",
        "MPI_Probe(source, tag, MPI_COMM_WORLD, &status)",
    ),
    (
        "MPI_Iprobe",
        "MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &status)",
    ),
    ("MPI_Get_count", "MPI_Get_count(&status, MPI_INT, &count)"),
    ("MPI_Comm_rank", "MPI_Comm_rank(MPI_COMM_WORLD, &rank)"),
    ("MPI_Comm_size", "MPI_Comm_size(MPI_COMM_WORLD, &size)"),
    ("MPI_Buffer_attach", "MPI_Buffer_attach(buf, size)"),
    ("MPI_Buffer_detach", "MPI_Buffer_detach(&buf, &size)"),
];

fn shape(name: &str) -> String {
    let base = match name {
        "MPI_Ssend" | "MPI_Bsend" | "MPI_Rsend" => "MPI_Send",
        "MPI_Issend" | "MPI_Ibsend" | "MPI_Irsend" => "MPI_Isend",
        other => other,
    };
    SHAPES
        .iter()
        .find(|(n, _)| *n == base)
        .map_or_else(|| format!("{name}()"), |(_, s)| s.replace(base, name))
}

impl BodyCompiler<'_> {
    /// Emits an MPI call. In expression form it leaves one value (0 or the errno).
    pub(super) fn mpi_call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let compiled = self.mpi_call_checked(call, form);
        if compiled.is_err() {
            // The status it names is one all the same, so that reading
            // `st.MPI_SOURCE` after it is not a second error, with a hint
            // that says to do what the program did.
            self.declare_status_of(call);
        }
        compiled
    }

    /// Declares the status variable `call` names, if it names one there.
    fn declare_status_of(&mut self, call: &Call) {
        let position = match (call.name.text.as_str(), call.arguments.len()) {
            ("MPI_Recv", 7) => 6,
            ("MPI_Wait", 2) => 1,
            ("MPI_Test", 3) => 2,
            ("MPI_Waitany", 4) | ("MPI_Probe", 4) => 3,
            ("MPI_Iprobe", 5) => 4,
            _ => return,
        };
        let Some(super::ast::Argument::Positional(argument)) = call.arguments.get(position) else {
            return;
        };
        if let ExpressionKind::Name(name) = &strip(argument).kind {
            if !self.variables.contains_key(&name.text) {
                let _ = self.status_variable(name);
            }
        }
    }

    fn mpi_call_checked(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        let (args, _) = split_arguments(call, &[])?;
        let arity = |n: usize| -> Compiled<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(arity_error(call, &shape(name)))
            }
        };
        let send_mode = match name {
            "MPI_Send" | "MPI_Isend" => Some(SendMode::Standard),
            "MPI_Ssend" | "MPI_Issend" => Some(SendMode::Synchronous),
            "MPI_Bsend" | "MPI_Ibsend" => Some(SendMode::Buffered),
            "MPI_Rsend" | "MPI_Irsend" => Some(SendMode::Ready),
            _ => None,
        };
        if let Some(mode) = send_mode {
            let immediate = name.starts_with("MPI_I");
            arity(if immediate { 7 } else { 6 })?;
            let request = if immediate {
                self.out_target(args[6])?
            } else {
                OutTarget::Ignore
            };
            self.emit(Instruction::Push(mode as i64), span);
            self.mpi_buffer(name, args[0], args[1], args[2], true)?;
            self.peer_tag_comm(args[3], args[4], args[5], Direction::Send)?;
            let sysno = if immediate {
                Sysno::Isend
            } else {
                Sysno::MpiSend
            };
            self.emit(Instruction::Syscall { sysno, form }, span);
            self.store_out(&request, StatusField::MpiValue, span);
            return Ok(());
        }
        match name {
            "MPI_Init" | "MPI_Finalize" => {
                // Nothing to do (the world exists from boot), but only in
                // the shapes C has: `MPI_Init(&argc, &argv)` or with 0 for
                // each (C's `NULL`), `MPI_Init()` as the short form, and
                // `MPI_Finalize()`.
                let placeholder = |a: &Expression| match &a.kind {
                    ExpressionKind::Integer(0) => true,
                    ExpressionKind::Unary(UnaryOperator::AddressOf, inner) => {
                        matches!(inner.kind, ExpressionKind::Name(_))
                    }
                    _ => false,
                };
                let fits = match name {
                    "MPI_Init" => {
                        args.is_empty() || (args.len() == 2 && args.iter().all(|a| placeholder(a)))
                    }
                    _ => args.is_empty(),
                };
                if !fits {
                    return Err(arity_error(call, &shape(name)));
                }
                self.no_call(form, span)
            }
            "MPI_Recv" | "MPI_Irecv" => {
                arity(7)?;
                let request = if name == "MPI_Irecv" {
                    self.out_target(args[6])?
                } else {
                    OutTarget::Ignore
                };
                self.mpi_buffer(name, args[0], args[1], args[2], false)?;
                self.peer_tag_comm(args[3], args[4], args[5], Direction::Receive)?;
                let sysno = if name == "MPI_Recv" {
                    Sysno::MpiRecv
                } else {
                    Sysno::Irecv
                };
                self.syscall(sysno, 5, form, span);
                if name == "MPI_Recv" {
                    self.store_mpi_status(args[6])
                } else {
                    self.store_out(&request, StatusField::MpiValue, span);
                    Ok(())
                }
            }
            "MPI_Wait" => {
                arity(2)?;
                self.push_word_address(args[0], span)?;
                self.emit(Instruction::Push(1), span);
                self.syscall(Sysno::Waitall, 2, form, span);
                self.store_mpi_status(args[1])
            }
            "MPI_Test" => {
                arity(3)?;
                let flag = self.out_target(args[1])?;
                self.push_word_address(args[0], span)?;
                self.syscall(Sysno::Test, 1, form, span);
                self.store_out(&flag, StatusField::MpiValue, span);
                self.store_mpi_status(args[2])
            }
            "MPI_Waitall" | "MPI_Waitany" => {
                arity(if name == "MPI_Waitall" { 3 } else { 4 })?;
                let ExpressionKind::Name(array) = &strip(args[1]).kind else {
                    return Err(arity_error(call, &shape(name)));
                };
                let index = if name == "MPI_Waitany" {
                    self.out_target(args[2])?
                } else {
                    OutTarget::Ignore
                };
                self.not_negative(args[0], "count")?;
                self.wait_count_in_range(args[0], name)?;
                let (base, length) = self.array(array)?;
                let handles = Extent {
                    limit: i64::from(length) * 8,
                    name: array.text.clone(),
                    from: None,
                };
                self.fits_now(args[0], Measure::Requests, &handles)?;
                self.emit(Instruction::Push(i64::from(base)), span);
                self.value(args[0])?;
                self.emit(handles.check(Measure::Requests), args[0].span);
                if name == "MPI_Waitall" {
                    self.statuses_argument(args[2])?;
                    self.syscall(Sysno::Waitall, 2, form, span);
                    Ok(())
                } else {
                    self.syscall(Sysno::Waitany, 2, form, span);
                    self.waitany_index(&index, span);
                    self.store_mpi_status(args[3])
                }
            }
            "MPI_Probe" | "MPI_Iprobe" => {
                arity(if name == "MPI_Probe" { 4 } else { 5 })?;
                let flag = if name == "MPI_Iprobe" {
                    self.out_target(args[3])?
                } else {
                    OutTarget::Ignore
                };
                self.peer_tag_comm(args[0], args[1], args[2], Direction::Receive)?;
                if name == "MPI_Probe" {
                    self.syscall(Sysno::Probe, 3, form, span);
                    self.store_mpi_status(args[3])
                } else {
                    self.syscall(Sysno::Iprobe, 3, form, span);
                    self.store_out(&flag, StatusField::MpiValue, span);
                    self.store_mpi_status(args[4])
                }
            }
            "MPI_Get_count" => {
                arity(3)?;
                let count = self.out_target(args[2])?;
                let length = self.allocate(1);
                match &strip(args[0]).kind {
                    ExpressionKind::Name(n) if n.text == "status" => {
                        self.emit(Instruction::Status(StatusField::MpiLength), span);
                    }
                    ExpressionKind::Name(n) => {
                        let base = self.status_variable(n)?;
                        self.emit(Instruction::Load(base + 16), span);
                    }
                    _ => return Err(arity_error(call, &shape(name))),
                }
                self.emit(Instruction::Store(length), span);
                let (size, _) = self.datatype_argument(args[1])?;
                self.get_count(&count, length, size, span);
                self.no_call(form, span)
            }
            "MPI_Comm_rank" | "MPI_Comm_size" => {
                arity(2)?;
                let target = self.out_target(args[1])?;
                self.communicator(args[0])?;
                let sysno = if name == "MPI_Comm_rank" {
                    Sysno::CommRank
                } else {
                    Sysno::CommSize
                };
                self.syscall(sysno, 1, form, span);
                self.store_out(&target, StatusField::MpiValue, span);
                Ok(())
            }
            "MPI_Buffer_attach" => {
                arity(2)?;
                self.not_negative(args[1], "size")?;
                let extent = self.mpi_extent(name, args[0], false)?;
                self.fits_now(args[1], Measure::Bytes, &extent)?;
                self.value(args[1])?;
                self.emit(extent.check(Measure::Bytes), args[1].span);
                self.syscall(Sysno::BufferAttach, 2, form, span);
                Ok(())
            }
            "MPI_Buffer_detach" => {
                // `&buf` names the buffer given back (the array itself, in
                // this language); `&size` gets its size in bytes.
                arity(2)?;
                let size = self.out_target(args[1])?;
                self.syscall(Sysno::BufferDetach, 0, form, span);
                self.store_out(&size, StatusField::MpiLength, span);
                Ok(())
            }
            _ => {
                let guess = super::diagnostics::did_you_mean(name, CALLS);
                Err(Diagnostic::at(
                    call.name.span,
                    format!("unknown MPI call `{name}`"),
                    "unknown call",
                )
                .with_help(format!("{guess}the MPI calls are: {}", CALLS.join(", "))))
            }
        }
    }

    /// A call that makes no system call: in expression form it gives 0.
    fn no_call(&mut self, form: CallForm, span: super::Span) -> Compiled<()> {
        if form == CallForm::Expression {
            self.emit(Instruction::Push(0), span);
        }
        Ok(())
    }

    fn push_address(&mut self, address: &BufferAddress, span: super::Span) {
        match address {
            BufferAddress::Fixed(a) => self.emit(Instruction::Push(i64::from(*a)), span),
            BufferAddress::Computed(slot) => self.emit(Instruction::Load(*slot), span),
        };
    }

    /// A shared variable lives in the kernel, not in the process's memory:
    /// it has no address to hand to a call (`&c`, `&buf[i]`).
    fn no_address_of_shared(&self, argument: &Expression) -> Compiled<()> {
        let ExpressionKind::Unary(UnaryOperator::AddressOf, inner) = &argument.kind else {
            return Ok(());
        };
        if !self.is_shared_target(inner) {
            return Ok(());
        }
        Err(Diagnostic::at(
            argument.span,
            "a shared variable cannot be given `&`",
            "lives in the kernel",
        )
        .with_help(
            "a shared variable is no memory of the process; copy it first: \
             `let v = c;` and pass `&v` (or `v`)",
        ))
    }

    /// Pushes `buf` and `count × datatype` in bytes, checked at run time
    /// against the buffer's size (`Measure::Elements`).
    ///
    /// `&buf[k]` (or `buf[k]`) is C's pointer into the array: the buffer
    /// runs from element `k` to the array's end, so `MPI_Send(&buf[2], 2,
    /// ...)` sends elements 2 and 3.
    fn mpi_buffer(
        &mut self,
        call: &str,
        buf: &Expression,
        count: &Expression,
        datatype: &Expression,
        is_send: bool,
    ) -> Compiled<()> {
        let (size, datatype) = self.datatype_argument(datatype)?;
        self.not_negative(count, "count")?;
        let extent = self.mpi_extent(call, buf, is_send)?;
        self.fits_now(count, Measure::Elements { size, datatype }, &extent)?;
        self.value(count)?;
        self.emit(
            extent.check(Measure::Elements { size, datatype }),
            count.span,
        );
        Ok(())
    }

    /// A constant count or size `e` that `extent` cannot hold is a compile
    /// error, with the words the run would fail with.
    fn fits_now(&self, e: &Expression, measure: Measure, extent: &Extent) -> Compiled<()> {
        match self
            .constant_argument(e)
            .and_then(|v| extent.refuses(measure, v))
        {
            Some(reason) => Err(Diagnostic::at(e.span, reason, "does not fit").with_help(
                match measure {
                    Measure::Elements { .. } => {
                        "a count is in elements of the datatype: give at most what the buffer \
                         holds, or declare a larger one (`let buf[8];`)"
                    }
                    Measure::Bytes => {
                        "a size is in bytes: give at most what the buffer holds, or declare a \
                         larger one (`let pool[16];` holds 128 bytes)"
                    }
                    Measure::Requests => "a count of requests is at most the array's length",
                },
            )),
            None => Ok(()),
        }
    }

    /// Pushes the address of the buffer `buf` of an MPI call and says how
    /// far it reaches: a variable's or array's whole size, or from an
    /// element `&buf[k]` to the array's end (the offset is known only at
    /// run time). `is_send`: any value will do, as for `send`; else `buf`
    /// must name memory the kernel may write or keep (`call`, as written,
    /// says which in the error).
    fn mpi_extent(&mut self, call: &str, buf: &Expression, is_send: bool) -> Compiled<Extent> {
        self.no_address_of_shared(buf)?;
        let target = strip(buf);
        if !is_send && !self.names_memory(target) {
            let purpose = if call == "MPI_Buffer_attach" {
                "to give the kernel"
            } else {
                "to receive into"
            };
            return Err(Diagnostic::at(
                buf.span,
                format!("{call} needs a buffer {purpose}"),
                "not a variable",
            )
            .with_help(
                "name a variable `x`, an array `buf` (declared with `let buf[4];`) \
                 or an element `&buf[k]` (the array from element k on)",
            ));
        }
        let keeps_buffer = matches!(
            call,
            "MPI_Isend" | "MPI_Issend" | "MPI_Ibsend" | "MPI_Irsend"
        );
        let buffer = if keeps_buffer && !self.names_memory(target) {
            self.staged_value(target)?
        } else {
            self.buffer(target, is_send)?
        };
        let extent = match (&target.kind, &buffer.address) {
            (ExpressionKind::Index(array, _), BufferAddress::Computed(slot)) => {
                let (base, length) = self.array(array)?;
                Extent {
                    limit: i64::from(length) * 8,
                    name: array.text.clone(),
                    from: Some(ElementStart { slot: *slot, base }),
                }
            }
            (ExpressionKind::Name(n), _) => Extent {
                limit: buffer.length as i64,
                name: n.text.clone(),
                from: None,
            },
            _ => Extent {
                limit: buffer.length as i64,
                name: "the value sent".to_string(),
                from: None,
            },
        };
        self.push_address(&buffer.address, buf.span);
        Ok(extent)
    }

    /// The buffer of a value sent by a nonblocking send: a word of the
    /// body's value pool that no pending request owns, chosen at run time
    /// ([`Instruction::StageValue`]). One hidden word per call, as a
    /// blocking send has, would be written again by the next pass of a loop
    /// while the first request still owns it.
    fn staged_value(&mut self, value: &Expression) -> Compiled<Buffer> {
        let words = ipclab_kernel::config::MAX_REQUESTS_PER_PROCESS as u32 + 1;
        let pool = match self.value_pool {
            Some(pool) => pool,
            None => {
                let pool = self.allocate(words as usize);
                self.value_pool = Some(pool);
                pool
            }
        };
        let slot = self.allocate(1);
        self.value(value)?;
        self.emit(Instruction::StageValue { pool, words, slot }, value.span);
        Ok(Buffer {
            address: BufferAddress::Computed(slot),
            length: 8,
        })
    }

    /// Where an out-parameter (`&x`, `&array[i]`) of a call is stored.
    /// Emitted before the call's arguments: an element's index is evaluated
    /// and bounds-checked before the call, as C computes `&array[i]` then.
    fn out_target(&mut self, e: &Expression) -> Compiled<OutTarget> {
        let span = e.span;
        match &strip(e).kind {
            ExpressionKind::Integer(0) => Ok(OutTarget::Ignore),
            // No out-parameter here is a status: every builtin, the ignore
            // constants too, is refused as a variable (its value would be
            // lost).
            ExpressionKind::Name(n) => match self.reserved_name_error(n) {
                Some(error) => Err(ignore_hint(error, &n.text)),
                None => Ok(OutTarget::Word(self.scalar(n)?)),
            },
            ExpressionKind::Index(array, index) if self.is_array(array) => {
                let (base, length) = self.array(array)?;
                let slot = self.allocate(1);
                self.value(index)?;
                self.emit(Instruction::Store(slot), span);
                self.emit(Instruction::Load(slot), span);
                self.emit(Instruction::ElementAddress { base, length }, span);
                self.emit(Instruction::Pop, span);
                Ok(OutTarget::Element { base, length, slot })
            }
            _ => Err(not_a_variable(e)),
        }
    }

    fn is_array(&self, name: &super::ast::Name) -> bool {
        self.variables
            .get(&name.text)
            .is_some_and(|v| v.array.is_some())
    }

    /// Stores the value in the word at `value` (or a field of the call's
    /// result) into `target`.
    fn store_into(&mut self, target: &OutTarget, value: Instruction, span: super::Span) {
        match *target {
            OutTarget::Ignore => {}
            OutTarget::Word(address) => {
                self.emit(value, span);
                self.emit(Instruction::Store(address), span);
            }
            OutTarget::Element { base, length, slot } => {
                self.emit(Instruction::Load(slot), span);
                self.emit(value, span);
                self.emit(Instruction::StoreElement { base, length }, span);
            }
        }
    }

    /// Stores a field of the call's result into `target`. The call's value
    /// (a request, a flag, a rank) only when it succeeded: a refused call
    /// changes nothing, its out-parameters included.
    fn store_out(&mut self, target: &OutTarget, field: StatusField, span: super::Span) {
        if matches!(target, OutTarget::Ignore) {
            return;
        }
        let refused = (field == StatusField::MpiValue).then(|| self.unless_refused(span));
        self.store_into(target, Instruction::Status(field), span);
        if let Some(jump) = refused {
            let end = self.here();
            self.patch(jump, end);
        }
    }

    /// Jumps past what follows when the call just made was refused: the
    /// jump to patch to its end. A truncated receive (`EMSGSIZE`) is not
    /// refused: it completed its request, and its index and flag say so.
    fn unless_refused(&mut self, span: super::Span) -> usize {
        self.emit(Instruction::Status(StatusField::Error), span);
        self.emit(Instruction::Not, span);
        self.emit(Instruction::Status(StatusField::Error), span);
        self.emit(
            Instruction::Push(ipclab_syscalls::Errno::EMSGSIZE.number() as i64),
            span,
        );
        self.emit(Instruction::Binary(BinaryOperator::Equal), span);
        self.emit(Instruction::Binary(BinaryOperator::Or), span);
        self.emit(Instruction::JumpIfFalse(0), span)
    }

    /// Stores MPI_Waitany's index: the kernel's `u64::MAX` (every request
    /// null) is MPI_UNDEFINED.
    fn waitany_index(&mut self, target: &OutTarget, span: super::Span) {
        if matches!(target, OutTarget::Ignore) {
            return;
        }
        let refused = self.unless_refused(span);
        let index = self.allocate(1);
        self.emit(Instruction::Status(StatusField::MpiValue), span);
        self.emit(Instruction::Store(index), span);
        self.emit(Instruction::Load(index), span);
        self.emit(Instruction::Push(-1), span);
        self.emit(Instruction::Binary(BinaryOperator::Equal), span);
        let defined = self.emit(Instruction::JumpIfFalse(0), span);
        self.emit(Instruction::Push(MPI_UNDEFINED), span);
        self.emit(Instruction::Store(index), span);
        let end = self.here();
        self.patch(defined, end);
        self.store_into(target, Instruction::Load(index), span);
        let end = self.here();
        self.patch(refused, end);
    }

    /// Stores `length / size` into `target`, or MPI_UNDEFINED when the
    /// length (bytes, in the word at `length`) is not a whole number of
    /// elements of `size` bytes (a datatype's, never 0): rounding down would
    /// give a count whose receive is too small for the message (EMSGSIZE).
    fn get_count(&mut self, target: &OutTarget, length: u32, size: i64, span: super::Span) {
        let count = self.allocate(1);
        self.emit(Instruction::Push(MPI_UNDEFINED), span);
        self.emit(Instruction::Store(count), span);
        self.emit(Instruction::Load(length), span);
        self.emit(Instruction::Push(size), span);
        self.emit(Instruction::Binary(BinaryOperator::Remainder), span);
        self.emit(Instruction::Not, span);
        let uneven = self.emit(Instruction::JumpIfFalse(0), span);
        self.emit(Instruction::Load(length), span);
        self.emit(Instruction::Push(size), span);
        self.emit(Instruction::Binary(BinaryOperator::Divide), span);
        self.emit(Instruction::Store(count), span);
        let end = self.here();
        self.patch(uneven, end);
        self.store_into(target, Instruction::Load(count), span);
    }

    /// Pushes the address of the request word `&x` or `&array[i]` (bounds
    /// checked at run time).
    /// The push has the call's `span`, as every part of the call has.
    fn push_word_address(&mut self, e: &Expression, span: super::Span) -> Compiled<()> {
        match &strip(e).kind {
            ExpressionKind::Name(n) => {
                let address = self.scalar(n)?;
                self.emit(Instruction::Push(i64::from(address)), span);
            }
            ExpressionKind::Index(array, index) if self.is_array(array) => {
                let (base, length) = self.array(array)?;
                self.value(index)?;
                self.emit(Instruction::ElementAddress { base, length }, e.span);
            }
            _ => return Err(not_a_variable(e)),
        }
        Ok(())
    }

    /// The 4-word status variable `name`, declared on first use.
    fn status_variable(&mut self, name: &super::ast::Name) -> Compiled<u32> {
        if let Some(&address) = self.statuses.get(&name.text) {
            return Ok(address);
        }
        if let Some(error) = misused_name(name) {
            return Err(error);
        }
        if let Some(error) = self.reserved_name_error(name) {
            return Err(ignore_hint(error, &name.text));
        }
        if self.variables.contains_key(&name.text) {
            return Err(Diagnostic::at(
                name.span,
                format!("`{}` is a plain variable, not an MPI status", name.text),
                "not a status",
            )
            .with_help("use a fresh name for the status"));
        }
        let address = self.allocate(4);
        self.statuses.insert(name.text.clone(), address);
        self.variables.insert(
            name.text.clone(),
            super::compiler::Variable {
                address,
                array: Some(4),
            },
        );
        Ok(address)
    }

    /// MPI_Waitall's statuses: `MPI_STATUSES_IGNORE` (or 0); any other
    /// builtin there is refused, as in any out-parameter.
    fn statuses_argument(&self, target: &Expression) -> Compiled<()> {
        const HELP: &str = "this language keeps no array of statuses: pass MPI_STATUSES_IGNORE";
        match &strip(target).kind {
            ExpressionKind::Name(n) if n.text == "MPI_STATUSES_IGNORE" => Ok(()),
            // As a status argument, 0 ignores (C's NULL).
            ExpressionKind::Integer(0) => Ok(()),
            ExpressionKind::Name(n) => match self.reserved_name_error(n) {
                Some(error) => Err(error.with_help(HELP)),
                // An array (or `&sts`) would never be written: a program
                // reading it after the wait would read zeros unwarned.
                None => Err(Diagnostic::at(
                    target.span,
                    format!("`{}` cannot take the statuses of MPI_Waitall", n.text),
                    "no array of statuses",
                )
                .with_help(HELP)),
            },
            _ => Err(Diagnostic::at(
                target.span,
                "MPI_Waitall's statuses cannot be kept here",
                "no array of statuses",
            )
            .with_help(HELP)),
        }
    }

    /// Stores the call's MPI status into `&st` (nothing for `&status`,
    /// the builtin, or `MPI_STATUS_IGNORE`).
    fn store_mpi_status(&mut self, target: &Expression) -> Compiled<()> {
        let name = match &strip(target).kind {
            ExpressionKind::Name(n) if n.text == "status" => return Ok(()),
            ExpressionKind::Name(n) if n.text == "MPI_STATUS_IGNORE" => return Ok(()),
            ExpressionKind::Integer(0) => return Ok(()),
            ExpressionKind::Name(n) => n.clone(),
            // A status is 4 words with fields read as `st.MPI_SOURCE`; the
            // language has no `sts[i].MPI_SOURCE`, so no array of statuses.
            ExpressionKind::Index(..) => {
                return Err(Diagnostic::at(
                    target.span,
                    "an array element cannot hold an MPI status",
                    "not a status",
                )
                .with_help("use a status variable per call (`&st`, `&st2`) or MPI_STATUS_IGNORE"))
            }
            _ => {
                return Err(Diagnostic::at(
                    target.span,
                    "a status variable is needed",
                    "not a status",
                )
                .with_help("write `&status` or `&st`"))
            }
        };
        let base = self.status_variable(&name)?;
        let span = target.span;
        for (offset, field) in [
            (0, StatusField::MpiSource),
            (1, StatusField::MpiTag),
            (2, StatusField::MpiLength),
            (3, StatusField::Error),
        ] {
            self.emit(Instruction::Status(field), span);
            self.emit(Instruction::Store(base + 8 * offset), span);
        }
        Ok(())
    }
}
