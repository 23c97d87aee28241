//! Expressions in a body: the code that pushes one value, from a literal, a name, an element, a field or an operator.
//!
//! [`BodyCompiler::value`] compiles any expression to stack code; `&&` and
//! `||` short-circuit with jumps, so the right side runs only when it
//! decides the result. A name is looked up in order: constant, process,
//! shared object, mailbox (an error: it is not a value), errno, MPI
//! constant, builtin, and last a variable, declared on first use.

use super::body::BodyCompiler;
use super::globals::{constant_instance, errno_named, is_constant, multi_instance_error};
use super::Compiled;
use crate::lang::ast::*;
use crate::lang::code::{CallForm, Instruction, StatusField};
use crate::lang::diagnostics::Diagnostic;

impl BodyCompiler<'_> {
    /// Emits code that pushes the value of `expression`.
    pub(in crate::lang) fn value(&mut self, expression: &Expression) -> Compiled<()> {
        let span = expression.span;
        match &expression.kind {
            ExpressionKind::Integer(value) => {
                self.emit(Instruction::Push(*value), span);
            }
            ExpressionKind::Text(_) => return Err(Diagnostic::at(
                span,
                "a string is not a value",
                "a string",
            )
            .with_help(
                "strings appear in `print` and as mailbox names in `mbox_create`/`mbox_open`",
            )),
            ExpressionKind::Name(name) => self.name_value(name)?,
            ExpressionKind::Index(name, index) if self.globals.object(&name.text).is_some() => {
                self.shared_load(name, Some(index))?
            }
            ExpressionKind::Index(name, index) => {
                if let Some(process) = self.globals.process(&name.text) {
                    let (first, count) = (process.first, process.count);
                    if is_constant(self.globals, index) {
                        let offset = constant_instance(self.globals, process, index)?;
                        self.emit(Instruction::Push(i64::from(first + offset)), span);
                    } else {
                        let process_name = process.name.clone();
                        self.value(index)?;
                        self.emit(
                            Instruction::ProcessNumber {
                                first,
                                count,
                                name: process_name,
                            },
                            span,
                        );
                    }
                } else {
                    let (base, length) = self.array(name)?;
                    self.value(index)?;
                    self.emit(Instruction::LoadElement { base, length }, span);
                }
            }
            ExpressionKind::Field(name, field) if self.statuses.contains_key(&name.text) => {
                let base = self.statuses[&name.text];
                let offset = crate::lang::mpi::status_field(&field.text).ok_or_else(|| {
                    Diagnostic::at(
                        field.span,
                        format!("an MPI status has no field `{}`", field.text),
                        "unknown field",
                    )
                    .with_help(mpi_status_fields_help(&field.text))
                })?;
                self.emit(Instruction::Load(base + 8 * offset), span);
            }
            ExpressionKind::Field(name, field)
                if name.text == "status" && field.text.starts_with("MPI_") =>
            {
                let field = match field.text.as_str() {
                    "MPI_SOURCE" => StatusField::MpiSource,
                    "MPI_TAG" => StatusField::MpiTag,
                    "MPI_ERROR" => StatusField::Error,
                    other => {
                        return Err(Diagnostic::at(
                            field.span,
                            format!("an MPI status has no field `{other}`"),
                            "unknown field",
                        )
                        .with_help(mpi_status_fields_help(other)))
                    }
                };
                self.emit(Instruction::Status(field), span);
            }
            ExpressionKind::Field(name, field) => {
                if let Some(error) = crate::lang::mpi::misused_name(name) {
                    return Err(error);
                }
                if name.text != "status" {
                    return Err(Diagnostic::at(
                        name.span,
                        format!("`{}` has no fields", name.text),
                        "no fields",
                    )
                    .with_help(no_fields_hint(&name.text, &field.text)));
                }
                let field = match field.text.as_str() {
                    "source" => StatusField::Source,
                    "tag" => StatusField::Tag,
                    "len" => StatusField::Length,
                    "error" => StatusField::Error,
                    other => {
                        return Err(Diagnostic::at(
                            field.span,
                            format!("`status` has no field `{other}`"),
                            "unknown field",
                        )
                        .with_help(format!(
                            "{}the fields are: source, tag, len, error",
                            crate::lang::diagnostics::did_you_mean(
                                other,
                                &["source", "tag", "len", "error"]
                            )
                        )))
                    }
                };
                self.emit(Instruction::Status(field), span);
            }
            ExpressionKind::Unary(UnaryOperator::AddressOf, _) => {
                return Err(
                    Diagnostic::at(span, "`&` outside an MPI call", "an address").with_help(
                        "`&x` passes a variable to an MPI call: `MPI_Recv(..., &status)`; \
                         elsewhere write `x`",
                    ),
                )
            }
            ExpressionKind::Unary(operator, operand) => {
                self.value(operand)?;
                let instruction = match operator {
                    UnaryOperator::Negate => Instruction::Negate,
                    UnaryOperator::Not => Instruction::Not,
                    UnaryOperator::AddressOf => Instruction::Not,
                };
                self.emit(instruction, span);
            }
            ExpressionKind::Binary(BinaryOperator::And, left, right) => {
                self.value(left)?;
                let left_false = self.emit(Instruction::JumpIfFalse(0), span);
                self.value(right)?;
                let right_false = self.emit(Instruction::JumpIfFalse(0), span);
                self.emit(Instruction::Push(1), span);
                let done = self.emit(Instruction::Jump(0), span);
                let false_target = self.here();
                self.emit(Instruction::Push(0), span);
                let end = self.here();
                self.patch(left_false, false_target);
                self.patch(right_false, false_target);
                self.patch(done, end);
            }
            ExpressionKind::Binary(BinaryOperator::Or, left, right) => {
                self.value(left)?;
                let try_right = self.emit(Instruction::JumpIfFalse(0), span);
                self.emit(Instruction::Push(1), span);
                let done_left = self.emit(Instruction::Jump(0), span);
                let right_start = self.here();
                self.value(right)?;
                self.emit(Instruction::Not, span);
                self.emit(Instruction::Not, span);
                let end = self.here();
                self.patch(try_right, right_start);
                self.patch(done_left, end);
            }
            ExpressionKind::Binary(operator, left, right) => {
                self.value(left)?;
                self.value(right)?;
                self.emit(Instruction::Binary(*operator), span);
            }
            ExpressionKind::Call(call) => self.call(call, CallForm::Expression)?,
        }
        Ok(())
    }

    fn name_value(&mut self, name: &Name) -> Compiled<()> {
        let span = name.span;
        let text = name.text.as_str();
        if let Some(value) = self.globals.constant(text) {
            self.emit(Instruction::Push(value), span);
            return Ok(());
        }
        if let Some(process) = self.globals.process(text) {
            if process.count != 1 {
                return Err(multi_instance_error(process, span));
            }
            self.emit(Instruction::Push(i64::from(process.first)), span);
            return Ok(());
        }
        if self.globals.object(text).is_some() {
            return self.shared_load(name, None);
        }
        if self.globals.mailbox(text).is_some() {
            return Err(Diagnostic::at(
                span,
                format!("mailbox `{text}` is not a value"),
                "a mailbox",
            )
            .with_help(format!(
                "use it in a call: `send({text}, x);` or `recv({text}, x);`"
            )));
        }
        if let Some(errno) = errno_named(text) {
            self.emit(Instruction::Push(errno.number() as i64), span);
            return Ok(());
        }
        if let Some(value) = crate::lang::mpi::constant(text) {
            self.emit(Instruction::Push(value), span);
            return Ok(());
        }
        let instruction = match text {
            "index" => Instruction::InstanceIndex,
            "self" => Instruction::InstanceNumber,
            "OK" | "false" => Instruction::Push(0),
            "true" => Instruction::Push(1),
            "ANY" => {
                return Err(Diagnostic::at(span, "`ANY` is not a value", "only in recv")
                    .with_help("write `recv(ANY, x)` or `recv(P, x, tag = ANY)`"))
            }
            "status" => {
                return Err(
                    Diagnostic::at(span, "`status` is not a value", "has fields").with_help(
                        "read a field: status.source, status.tag, status.len, status.error",
                    ),
                )
            }
            _ => {
                let address = self.scalar(name)?;
                Instruction::Load(address)
            }
        };
        self.emit(instruction, span);
        Ok(())
    }
}

/// Why `name.field` reads no field, `name` being no status: an MPI field
/// (`st.MPI_SOURCE`) is read from a status variable, which `&st` passed to
/// an MPI call that fills a status makes (`MPI_Recv`, `MPI_Wait`,
/// `MPI_Test`, `MPI_Waitany`, `MPI_Probe`, `MPI_Iprobe`, earlier in the
/// body: `docs/mpi.md`); any other field only the builtin `status` has.
fn no_fields_hint(name: &str, field: &str) -> String {
    if field.starts_with("MPI_") {
        format!(
            "`{name}` is no MPI status: passing `&{name}` to an MPI receive, wait or probe \
             earlier in the body makes it one (`MPI_Recv(..., &{name});`), with the fields \
             MPI_SOURCE, MPI_TAG and MPI_ERROR; the last call's own status is \
             `status.MPI_SOURCE`"
        )
    } else {
        "only `status` has fields: status.source, status.tag, status.len, status.error".to_string()
    }
}

/// The hint for an unknown field `field` of an MPI status.
fn mpi_status_fields_help(field: &str) -> String {
    const FIELDS: &[&str] = &["MPI_SOURCE", "MPI_TAG", "MPI_ERROR"];
    format!(
        "{}the fields are: MPI_SOURCE, MPI_TAG, MPI_ERROR",
        crate::lang::diagnostics::did_you_mean(field, FIELDS)
    )
}
