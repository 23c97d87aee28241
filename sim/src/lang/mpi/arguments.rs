//! The compile-time checks of MPI arguments: a datatype is a datatype name, and a constant count, size, rank, tag or communicator is in range.
//!
//! An argument written as a constant (a number, a `const`, an MPI constant,
//! arithmetic on them) is judged here, at its place, with the range in the
//! hint, as `send(Rank[7], x)` is; a computed one is judged at run time
//! (by the VM for counts and sizes, by the kernel for the rest).

use super::super::ast::{Expression, ExpressionKind, UnaryOperator};
use super::super::compiler::{binary_checked, errno_named, BodyCompiler, Compiled};
use super::super::diagnostics::Diagnostic;
use super::names;
use super::ranges::{self, Direction};

impl BodyCompiler<'_> {
    /// The size in bytes and the name of the datatype argument `e`, which
    /// must name a datatype: the size is part of the call, not a value
    /// computed at run time (`MPI_INT + 1` is no datatype).
    pub(super) fn datatype_argument(&self, e: &Expression) -> Compiled<(i64, &'static str)> {
        if let ExpressionKind::Name(name) = &e.kind {
            if let Some(&(known, size)) = names::DATATYPES.iter().find(|(d, _)| *d == name.text) {
                return Ok((size, known));
            }
        }
        let message = match &e.kind {
            ExpressionKind::Name(name) if name.text.starts_with("MPI_") => {
                format!("unknown MPI datatype `{}`", name.text)
            }
            ExpressionKind::Name(name) => format!("`{}` is not an MPI datatype", name.text),
            _ => "the datatype must be an MPI datatype's name".to_string(),
        };
        Err(Diagnostic::at(e.span, message, "not a datatype").with_help(names::datatypes_hint()))
    }

    /// The value of `e` when it is a constant: numbers, `const`s, errno
    /// names and MPI constants, with arithmetic on them. `None` for
    /// anything computed at run time, or arithmetic that overflows (the
    /// VM's wrapping value is then judged at run time like any other).
    pub(super) fn constant_argument(&self, e: &Expression) -> Option<i64> {
        match &e.kind {
            ExpressionKind::Integer(value) => Some(*value),
            ExpressionKind::Name(name) => {
                let text = name.text.as_str();
                let builtin = match text {
                    "true" => Some(1),
                    "false" | "OK" => Some(0),
                    _ => errno_named(text).map(|e| e.number() as i64),
                };
                self.globals
                    .constant(text)
                    .or_else(|| names::constant(text))
                    .or(builtin)
            }
            // `Rank[1]` as a value is its instance number: its rank.
            ExpressionKind::Index(name, index) => self
                .globals
                .instance_number(&name.text, self.constant_argument(index)?)
                .map(i64::from),
            ExpressionKind::Unary(UnaryOperator::Negate, operand) => {
                self.constant_argument(operand)?.checked_neg()
            }
            ExpressionKind::Unary(UnaryOperator::Not, operand) => {
                Some(i64::from(self.constant_argument(operand)? == 0))
            }
            ExpressionKind::Binary(operator, left, right) => {
                let (left, right) = (
                    self.constant_argument(left)?,
                    self.constant_argument(right)?,
                );
                binary_checked(*operator, left, right)
            }
            _ => None,
        }
    }

    /// [`Self::constant_argument`] with the VM's wrapping arithmetic: the
    /// value the run would compute from constants alone. `None` for
    /// anything computed at run time, or a division by zero.
    fn wrapping_constant(&self, e: &Expression) -> Option<i64> {
        match &e.kind {
            ExpressionKind::Unary(UnaryOperator::Negate, operand) => {
                Some(self.wrapping_constant(operand)?.wrapping_neg())
            }
            ExpressionKind::Unary(UnaryOperator::Not, operand) => {
                Some(i64::from(self.wrapping_constant(operand)? == 0))
            }
            ExpressionKind::Binary(operator, left, right) => {
                let (left, right) = (
                    self.wrapping_constant(left)?,
                    self.wrapping_constant(right)?,
                );
                crate::lang::vm::binary_wrapping(*operator, left, right).ok()
            }
            _ => self.constant_argument(e),
        }
    }

    /// Compiles the rank, tag and communicator arguments of a send
    /// (`direction`: a receive or probe), judging each one that is a
    /// constant: out of range, it is a compile error with the range in
    /// the hint, as `send(Rank[7], x)` is.
    pub(super) fn peer_tag_comm(
        &mut self,
        rank: &Expression,
        tag: &Expression,
        comm: &Expression,
        direction: Direction,
    ) -> Compiled<()> {
        let ranks = u64::from(self.globals.instance_total());
        // With an instance count reported as bad, the number of ranks is
        // not known: only a negative rank is certainly wrong.
        let counts_known = self.globals.counts_known();
        self.judged(rank, |value| {
            ranges::rank_fault(value, ranks, direction)
                .filter(|_| counts_known || value < 0)
                .map(|fault| (fault, ranges::ranks_hint(ranks, direction)))
        })?;
        self.judged(tag, |value| {
            ranges::tag_fault(value, direction).map(|fault| (fault, ranges::tags_hint(direction)))
        })?;
        self.communicator(comm)
    }

    /// Compiles a communicator argument, judged when it is a constant.
    pub(super) fn communicator(&mut self, comm: &Expression) -> Compiled<()> {
        self.judged(comm, |value| {
            ranges::comm_fault(value).map(|fault| (fault, ranges::comms_hint().to_string()))
        })
    }

    /// Compiles `e`; when it is a constant that `fault` finds fault with
    /// (the reason and a hint), that is a compile error at `e` instead.
    fn judged(
        &mut self,
        e: &Expression,
        fault: impl Fn(i64) -> Option<(String, String)>,
    ) -> Compiled<()> {
        if let Some((reason, hint)) = self.constant_argument(e).and_then(fault) {
            return Err(Diagnostic::at(e.span, reason, "out of range").with_help(hint));
        }
        self.value(e)
    }

    /// A constant request count above what one `MPI_Waitall` or
    /// `MPI_Waitany` may wait for is a compile error, as the kernel would
    /// refuse every run of it (`EINVAL`).
    pub(super) fn wait_count_in_range(&self, e: &Expression, call: &str) -> Compiled<()> {
        match self.constant_argument(e) {
            Some(value) if value > ipclab_kernel::MAX_WAIT_COUNT as i64 => Err(Diagnostic::at(
                e.span,
                format!(
                    "count {value} is more than the {} requests one {call} may wait for",
                    ipclab_kernel::MAX_WAIT_COUNT
                ),
                "too many",
            )
            .with_help(format!(
                "wait for at most {} requests at a time",
                ipclab_kernel::MAX_WAIT_COUNT
            ))),
            _ => Ok(()),
        }
    }

    /// A constant count or size (`what`) that is negative is a compile
    /// error: no run of the call could succeed. So is constant arithmetic
    /// that overflows: the run would wrap it to another count (`2^62 * 4`
    /// to 0) and go on as if asked for that.
    pub(super) fn not_negative(&self, e: &Expression, what: &str) -> Compiled<()> {
        let value = self.constant_argument(e);
        if let (None, Some(wrapped)) = (value, self.wrapping_constant(e)) {
            return Err(Diagnostic::at(
                e.span,
                format!("{what} overflows 64 bits (it would wrap to {wrapped})"),
                "overflows",
            )
            .with_help("constants are 64-bit signed integers: give the count you mean"));
        }
        match value {
            Some(value) if value < 0 => {
                Err(
                    Diagnostic::at(e.span, format!("{what} {value} is negative"), "negative")
                        .with_help(if what == "size" {
                            "a size is a number of bytes: 0 or more"
                        } else {
                            "a count is a number of elements: 0 or more"
                        }),
                )
            }
            _ => Ok(()),
        }
    }
}
