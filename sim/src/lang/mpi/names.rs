//! The names MPI gives a scenario: its constants, datatypes and calls, and the error for an `MPI_` name that is none of them.
//!
//! MPI reserves the `MPI_` prefix, so a name that starts with it and is not
//! one of these is a misspelling (`MPI_ANY_SOURCES`) or something the
//! language does not have (`MPI_FLOAT`). Left to the ordinary rule, it
//! would become a variable holding 0 (a rank, a datatype of no bytes); the
//! compiler refuses it instead, naming the known names closest to it.

use super::super::ast::Name;
use super::super::diagnostics::Diagnostic;
use super::super::diagnostics::{closest, quoted_alternatives};

/// `MPI_UNDEFINED`: MPI_Get_count of a length that is not a whole number of
/// elements, MPI_Waitany's index when every request is null. MPICH's value,
/// so a number printed from a scenario reads the same as from a C program.
pub(in crate::lang) const MPI_UNDEFINED: i64 = -32766;

/// `MPI_COMM_WORLD`'s id: the only communicator a scenario has.
pub(in crate::lang) const COMM_WORLD: i64 = 1;

/// `MPI_ANY_SOURCE` and `MPI_ANY_TAG`: the kernel's `ANY` (`u64::MAX`).
pub(in crate::lang) const ANY: i64 = -1;

/// The datatypes and their sizes in bytes: `MPI_INT` is one 8-byte word of
/// this VM, as are `MPI_LONG` and `MPI_DOUBLE` (the VM has no narrower
/// integer and no floating point); `MPI_BYTE` and `MPI_CHAR` are one byte.
pub(in crate::lang) const DATATYPES: &[(&str, i64)] = &[
    ("MPI_INT", 8),
    ("MPI_LONG", 8),
    ("MPI_DOUBLE", 8),
    ("MPI_BYTE", 1),
    ("MPI_CHAR", 1),
];

/// The other constants a body may name, with their values.
const CONSTANTS: &[(&str, i64)] = &[
    ("MPI_COMM_WORLD", COMM_WORLD),
    ("MPI_UNDEFINED", MPI_UNDEFINED),
    ("MPI_ANY_SOURCE", ANY),
    ("MPI_ANY_TAG", ANY),
    ("MPI_SUCCESS", 0),
    ("MPI_REQUEST_NULL", 0),
    ("MPI_BSEND_OVERHEAD", 0),
    ("MPI_STATUS_IGNORE", 0),
    ("MPI_STATUSES_IGNORE", 0),
];

/// Every MPI call a body may make, as written.
pub(in crate::lang) const CALLS: &[&str] = &[
    "MPI_Init",
    "MPI_Finalize",
    "MPI_Comm_rank",
    "MPI_Comm_size",
    "MPI_Send",
    "MPI_Ssend",
    "MPI_Bsend",
    "MPI_Rsend",
    "MPI_Recv",
    "MPI_Isend",
    "MPI_Issend",
    "MPI_Ibsend",
    "MPI_Irsend",
    "MPI_Irecv",
    "MPI_Wait",
    "MPI_Waitall",
    "MPI_Waitany",
    "MPI_Test",
    "MPI_Probe",
    "MPI_Iprobe",
    "MPI_Get_count",
    "MPI_Buffer_attach",
    "MPI_Buffer_detach",
];

/// The MPI constant `name` (a datatype is its size), if it is one.
pub(in crate::lang) fn constant(name: &str) -> Option<i64> {
    DATATYPES
        .iter()
        .chain(CONSTANTS)
        .find(|(known, _)| *known == name)
        .map(|(_, value)| *value)
}

/// The datatypes, for a hint: "MPI_INT, MPI_LONG, MPI_DOUBLE (8 bytes), ...".
pub(in crate::lang) fn datatypes_hint() -> String {
    "the datatypes are MPI_INT, MPI_LONG and MPI_DOUBLE (8 bytes, one VM word) and \
     MPI_BYTE and MPI_CHAR (1 byte)"
        .to_string()
}

/// The error for `name` used as a value or variable when it starts with
/// `MPI_` and is no MPI constant: an unknown name, or a call without its
/// arguments. `None` for every other name.
pub(in crate::lang) fn misused_name(name: &Name) -> Option<Diagnostic> {
    let text = name.text.as_str();
    if !text.starts_with("MPI_") || constant(text).is_some() {
        return None;
    }
    if CALLS.contains(&text) {
        return Some(
            Diagnostic::at(
                name.span,
                format!("`{text}` is an MPI call, not a value"),
                "a call",
            )
            .with_help(format!("call it: `{}`", super::shape(text))),
        );
    }
    let known: Vec<&str> = DATATYPES
        .iter()
        .chain(CONSTANTS)
        .map(|(known, _)| *known)
        .chain(CALLS.iter().copied())
        .collect();
    let close = closest(text, &known);
    let help = if close.is_empty() {
        format!(
            "names beginning with MPI_ belong to MPI; the constants are: {}",
            DATATYPES
                .iter()
                .chain(CONSTANTS)
                .map(|(known, _)| *known)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("did you mean {}?", quoted_alternatives(&close))
    };
    Some(
        Diagnostic::at(
            name.span,
            format!("unknown MPI name `{text}`"),
            "not an MPI constant",
        )
        .with_help(help),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_constant_is_close_to_the_right_one() {
        assert_eq!(
            closest("MPI_ANY_SOURCES", &["MPI_ANY_SOURCE", "MPI_ANY_TAG"]),
            vec!["MPI_ANY_SOURCE"]
        );
        assert_eq!(
            closest("mpi_int", &["MPI_INT", "MPI_BYTE"]),
            vec!["MPI_INT"]
        );
        assert!(closest("MPI_FOO", &["MPI_COMM_WORLD"]).is_empty());
        assert_eq!(
            closest("MPI_COMM_WORL", &["MPI_COMM_WORLD", "MPI_Comm_rank"]),
            vec!["MPI_COMM_WORLD"]
        );
        assert!(closest("MPI_REQ", &["MPI_Recv"]).is_empty());
    }

    #[test]
    fn every_datatype_is_a_constant_of_its_size() {
        for (name, size) in DATATYPES {
            assert_eq!(constant(name), Some(*size));
        }
    }
}
