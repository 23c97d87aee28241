//! The compiler's global tables: the constants, mailboxes, objects and processes every body can name.
//!
//! [`Globals`] is filled by the declarations pass of
//! [`compile_items`](super::compile_items) and then only read: a body looks
//! names up here, constants are evaluated here with checked arithmetic, and
//! the `*_hint` helpers list what is declared so that an "unknown name"
//! error can say what would have been known. The instance helpers check a
//! constant `P[k]` against `P`'s count, or say why a bare `P` is ambiguous.

use std::collections::HashMap;

use ipclab_syscalls::Errno;

use super::Compiled;
use crate::lang::ast::*;
use crate::lang::diagnostics::Diagnostic;
use crate::lang::{MailboxDecl, ObjectDecl, Span};

/// The names a body can use without declaring them, besides the errno constants.
pub(super) const BUILTIN_VALUES: &[&str] =
    &["index", "self", "OK", "ANY", "true", "false", "status"];

/// One `process` declaration: its instances are numbered `first..first + count`.
pub(super) struct ProcessInfo {
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) count: u32,
    pub(super) first: u32,
    /// False when the count was reported as bad (out of range, not a
    /// constant): `count` is then a stand-in of 1, and a hint that names
    /// the instances would be false.
    pub(super) count_known: bool,
}

pub(in crate::lang) struct Globals {
    /// The constants defined so far, in file order (each name once).
    pub(super) constants: Vec<(String, i64)>,
    /// Where each of `constants` is, by name: a file may hold many
    /// thousands, and every use looks one up.
    pub(super) constant_at: HashMap<String, usize>,
    /// Every `const` name of the file, with the position of its first
    /// declaration among them, and the position of the one being
    /// evaluated (while the constants are): a name further down is known
    /// by name only, for the hint that says so.
    pub(super) constant_order: HashMap<String, usize>,
    pub(super) evaluating: Option<usize>,
    pub(super) mailboxes: Vec<MailboxDecl>,
    /// Semaphores, mutexes, condition variables, shared variables.
    pub(in crate::lang) objects: Vec<ObjectDecl>,
    pub(super) processes: Vec<ProcessInfo>,
    pub(super) instance_total: u32,
    /// The declared devices' names (`keyboard`), for `dev_read`.
    pub(in crate::lang) devices: Vec<String>,
}

impl Globals {
    pub(in crate::lang) fn constant(&self, name: &str) -> Option<i64> {
        self.constant_at.get(name).map(|&at| self.constants[at].1)
    }

    /// Defines constant `name` (declared once: the caller has checked).
    pub(super) fn define_constant(&mut self, name: &str, value: i64) {
        self.constant_at
            .entry(name.to_string())
            .or_insert(self.constants.len());
        self.constants.push((name.to_string(), value));
    }

    /// Is `name` the constant being evaluated (`const A = A + 1;`)?
    fn declaring(&self, name: &str) -> bool {
        self.evaluating.is_some() && self.constant_order.get(name) == self.evaluating.as_ref()
    }

    /// Is `name` a constant declared further down than the one being
    /// evaluated?
    fn declared_later(&self, name: &str) -> bool {
        match (self.evaluating, self.constant_order.get(name)) {
            (Some(now), Some(&at)) => at > now,
            _ => false,
        }
    }

    pub(super) fn mailbox(&self, name: &str) -> Option<usize> {
        self.mailboxes.iter().position(|m| m.name == name)
    }

    pub(super) fn process(&self, name: &str) -> Option<&ProcessInfo> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// What a declared name that is not a kernel object is ("a mailbox",
    /// "a process", "a constant", "a device"), for the error that names
    /// it where an object was wanted.
    pub(in crate::lang) fn other_kind(&self, name: &str) -> Option<&'static str> {
        if self.mailbox(name).is_some() {
            Some("a mailbox")
        } else if self.process(name).is_some() {
            Some("a process")
        } else if self.constant(name).is_some() {
            Some("a constant")
        } else if self.devices.iter().any(|d| d == name) {
            Some("a device")
        } else {
            None
        }
    }

    /// What a declared name is, kernel objects included ("a semaphore",
    /// "a constant", ...), for the error that names it where something
    /// else was wanted.
    pub(in crate::lang) fn what_is(&self, name: &str) -> Option<&'static str> {
        match self.object(name) {
            Some((object, _)) => Some(object.kind.noun()),
            None => self.other_kind(name),
        }
    }

    /// Is every declaration's instance count known? When one was reported
    /// as bad, the instance numbers after it, and the number of ranks of
    /// `MPI_COMM_WORLD`, are not known either.
    pub(in crate::lang) fn counts_known(&self) -> bool {
        self.processes.iter().all(|p| p.count_known)
    }

    /// The instance number of `name[offset]`, if `name` is a process with
    /// that many instances.
    pub(in crate::lang) fn instance_number(&self, name: &str, offset: i64) -> Option<u32> {
        let process = self.process(name)?;
        let offset = u32::try_from(offset).ok()?;
        (offset < process.count).then(|| process.first + offset)
    }

    /// How many process instances the scenario has: the ranks of `MPI_COMM_WORLD`.
    pub(in crate::lang) fn instance_total(&self) -> u32 {
        self.instance_total
    }

    /// The declared object `name` and the handle every process holds it by.
    pub(in crate::lang) fn object(&self, name: &str) -> Option<(&ObjectDecl, i64)> {
        let index = self.objects.iter().position(|o| o.name == name)?;
        Some((&self.objects[index], (self.mailboxes.len() + index) as i64))
    }

    pub(super) fn is_global(&self, name: &str) -> bool {
        self.constant(name).is_some()
            || self.mailbox(name).is_some()
            || self.object(name).is_some()
            || self.process(name).is_some()
    }

    /// Evaluates a constant expression with checked arithmetic.
    pub(in crate::lang) fn evaluate(&self, expression: &Expression) -> Compiled<i64> {
        let overflow = || {
            Diagnostic::at(
                expression.span,
                "arithmetic overflow in a constant",
                "overflows",
            )
            .with_help(format!(
                "constants are 64-bit signed integers ({} to {})",
                i64::MIN,
                i64::MAX
            ))
        };
        match &expression.kind {
            ExpressionKind::Integer(value) => Ok(*value),
            ExpressionKind::Name(name) => match name.text.as_str() {
                "true" => Ok(1),
                "false" | "OK" => Ok(0),
                text => {
                    if let Some(value) = self.constant(text) {
                        Ok(value)
                    } else if let Some(errno) = errno_named(text) {
                        Ok(errno.number() as i64)
                    } else if let Some(error) = crate::lang::mpi::misused_name(name) {
                        Err(error)
                    } else if self.declaring(text) {
                        Err(Diagnostic::at(
                            name.span,
                            format!("`{text}` is the constant this declaration defines"),
                            "not defined yet",
                        )
                        .with_help(format!(
                            "a constant cannot use its own value: give `{text}` a value made of \
                             numbers and the constants declared above it"
                        )))
                    } else if self.declared_later(text) {
                        Err(Diagnostic::at(
                            name.span,
                            format!("`{text}` is declared after this constant"),
                            "declared further down",
                        )
                        .with_help(format!(
                            "a constant may use only the constants declared before it: move \
                             `const {text}` above this one"
                        )))
                    } else {
                        Err(Diagnostic::at(
                            name.span,
                            format!("`{text}` is not a constant"),
                            "not known here",
                        )
                        .with_help(self.known_constants_hint()))
                    }
                }
            },
            ExpressionKind::Unary(operator, operand) => {
                let value = self.evaluate(operand)?;
                match operator {
                    UnaryOperator::Negate => value.checked_neg().ok_or_else(overflow),
                    UnaryOperator::Not => Ok(i64::from(value == 0)),
                    UnaryOperator::AddressOf => {
                        Err(
                            Diagnostic::at(expression.span, "`&` is not a constant", "an address")
                                .with_help("`&x` appears only as an argument of an MPI call"),
                        )
                    }
                }
            }
            ExpressionKind::Binary(operator, left, right) => {
                let left = self.evaluate(left)?;
                let right = self.evaluate(right)?;
                if matches!(operator, BinaryOperator::Divide | BinaryOperator::Remainder)
                    && right == 0
                {
                    return Err(Diagnostic::at(
                        expression.span,
                        "division by zero in a constant",
                        "divides by zero",
                    )
                    .with_help("check the constants this expression uses"));
                }
                binary_checked(*operator, left, right).ok_or_else(overflow)
            }
            _ => Err(Diagnostic::at(
                expression.span,
                "expected a constant expression",
                "not a constant",
            )
            .with_help(
                "use numbers, constants declared with `const` and arithmetic: \
                 this value must be known before the scenario runs",
            )),
        }
    }

    pub(super) fn known_constants_hint(&self) -> String {
        if self.constants.is_empty() {
            "no constants are declared; declare one with `const N = 3;`".to_string()
        } else {
            format!(
                "the constants are: {}",
                self.constants
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    pub(super) fn peers_hint(&self) -> String {
        let processes: Vec<String> = self
            .processes
            .iter()
            .map(|p| {
                if p.count == 1 {
                    p.name.clone()
                } else {
                    format!("{}[0] to {}[{}]", p.name, p.name, p.count - 1)
                }
            })
            .collect();
        let mailboxes: Vec<&str> = self.mailboxes.iter().map(|m| m.name.as_str()).collect();
        format!(
            "processes: {}; mailboxes: {}",
            if processes.is_empty() {
                "none".to_string()
            } else {
                processes.join(", ")
            },
            if mailboxes.is_empty() {
                "none".to_string()
            } else {
                mailboxes.join(", ")
            }
        )
    }
}

/// `left op right` with overflow as `None` (division by zero is checked by the caller).
pub(in crate::lang) fn binary_checked(
    operator: BinaryOperator,
    left: i64,
    right: i64,
) -> Option<i64> {
    Some(match operator {
        BinaryOperator::Add => left.checked_add(right)?,
        BinaryOperator::Subtract => left.checked_sub(right)?,
        BinaryOperator::Multiply => left.checked_mul(right)?,
        BinaryOperator::Divide => left.checked_div(right)?,
        // `i64::MIN % -1` is 0, no overflow (only the quotient overflows);
        // `checked_rem` refuses it because the hardware division would trap.
        BinaryOperator::Remainder if right == -1 => 0,
        BinaryOperator::Remainder => left.checked_rem(right)?,
        BinaryOperator::Equal => i64::from(left == right),
        BinaryOperator::NotEqual => i64::from(left != right),
        BinaryOperator::Less => i64::from(left < right),
        BinaryOperator::LessEqual => i64::from(left <= right),
        BinaryOperator::Greater => i64::from(left > right),
        BinaryOperator::GreaterEqual => i64::from(left >= right),
        BinaryOperator::And => i64::from(left != 0 && right != 0),
        BinaryOperator::Or => i64::from(left != 0 || right != 0),
    })
}

/// The errno with this name, as a scenario spells it (`EAGAIN`).
pub(in crate::lang) fn errno_named(name: &str) -> Option<Errno> {
    Errno::ALL.iter().copied().find(|e| e.name() == name)
}

pub(super) fn multi_instance_error(process: &ProcessInfo, span: Span) -> Diagnostic {
    Diagnostic::at(
        span,
        format!("`{}` is ambiguous", process.name),
        format!("{} instances", process.count),
    )
    .with_help(format!(
        "{} names {} processes; write {}[0] or {}[i]",
        process.name, process.count, process.name, process.name
    ))
}

/// [`multi_instance_error`] where only a constant index may follow (an
/// `expect` line): the hint names instances, not `P[i]`.
pub(super) fn multi_instance_error_constant(process: &ProcessInfo, span: Span) -> Diagnostic {
    let name = &process.name;
    let choices = match process.count {
        2 => format!("{name}[0] or {name}[1]"),
        3 => format!("{name}[0], {name}[1] or {name}[2]"),
        count => format!("one of {name}[0] to {name}[{}]", count - 1),
    };
    Diagnostic::at(
        span,
        format!("`{name}` is ambiguous"),
        format!("{} instances", process.count),
    )
    .with_help(format!(
        "{name} names {} processes; write {choices}",
        process.count
    ))
}

pub(super) fn constant_instance(
    globals: &Globals,
    process: &ProcessInfo,
    index: &Expression,
) -> Compiled<u32> {
    let value = globals.evaluate(index)?;
    if !process.count_known {
        // The count was reported already; any range given here would be
        // the stand-in's, not the one the author meant.
        return Ok(0);
    }
    match u32::try_from(value) {
        Ok(value) if value < process.count => Ok(value),
        _ => Err(Diagnostic::at(
            index.span,
            format!("index {value} is out of range for `{}`", process.name),
            "out of range",
        )
        .with_help(instances_hint(process))),
    }
}

/// "W has 2 instances: `W[0]` to `W[1]`", or for one instance how to name it.
fn instances_hint(process: &ProcessInfo) -> String {
    let name = &process.name;
    if process.count == 1 {
        format!("{name} has one instance: write {name} (or {name}[0])")
    } else {
        format!(
            "{name} has {} instances: {name}[0] to {name}[{}]",
            process.count,
            process.count - 1
        )
    }
}

/// Is this expression a constant (no variables, no calls)?
pub(super) fn is_constant(globals: &Globals, expression: &Expression) -> bool {
    match &expression.kind {
        ExpressionKind::Integer(_) => true,
        ExpressionKind::Name(name) => {
            globals.constant(&name.text).is_some() || errno_named(&name.text).is_some()
        }
        ExpressionKind::Unary(_, operand) => is_constant(globals, operand),
        ExpressionKind::Binary(_, left, right) => {
            is_constant(globals, left) && is_constant(globals, right)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_constant_arithmetic_reports_overflow() {
        assert_eq!(binary_checked(BinaryOperator::Add, i64::MAX, 1), None);
        assert_eq!(binary_checked(BinaryOperator::Divide, i64::MIN, -1), None);
        // The remainder does not overflow: -1 divides every number.
        assert_eq!(
            binary_checked(BinaryOperator::Remainder, i64::MIN, -1),
            Some(0)
        );
        assert_eq!(binary_checked(BinaryOperator::Remainder, -7, 2), Some(-1));
        assert_eq!(binary_checked(BinaryOperator::Multiply, 6, 7), Some(42));
        assert_eq!(binary_checked(BinaryOperator::Less, 1, 2), Some(1));
    }

    #[test]
    fn every_errno_has_a_builtin_name() {
        for errno in Errno::ALL {
            assert_eq!(errno_named(errno.name()), Some(errno));
        }
        assert_eq!(errno_named("EWHATEVER"), None);
    }
}
