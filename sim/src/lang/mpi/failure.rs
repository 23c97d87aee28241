//! The message of a statement-form MPI call that failed: what its result and argument registers say beyond the errno's name.
//!
//! `EINVAL` alone does not say which argument was wrong. A constant one is
//! a compile error (`arguments`); a computed one reaches the kernel, and
//! the call's argument registers, kept from its trap, name it here with the
//! same words ([`ranges`](super::ranges)): `MPI_Send failed with EINVAL
//! (invalid argument): rank 5 is not in MPI_COMM_WORLD (2 ranks)`.

use ipclab_kernel::config::{MAX_REQUESTS, MAX_REQUESTS_PER_PROCESS};
use ipclab_kernel::MAX_WAIT_COUNT;
use ipclab_syscalls::{Errno, Sysno};

use super::ranges::{comm_fault, rank_fault, tag_fault, Direction};
use crate::lang::Program;
use crate::machine::Failure;

/// The message of a statement-form MPI call that failed, when its
/// registers say more than the errno's name: the sizes of `ENOBUFS` (`r1`
/// needed, `r2` available) and `EMSGSIZE` (`r2`: the message's length),
/// which table a full one is (`EMFILE` and `ENOSPC` name the kernel's
/// handle tables in general), and which argument an `EINVAL` refused.
pub(crate) fn failure_message(program: &Program, failure: &Failure) -> Option<String> {
    let Failure {
        call, errno, ret, ..
    } = *failure;
    if !call.starts_with("MPI_") {
        return None;
    }
    let (what, detail) = match errno {
        Errno::ENOBUFS => (
            errno.description(),
            format!(
                "needs {} bytes of attached buffer, {} available{}",
                ret[1],
                ret[2],
                match (ret[3], ret[2]) {
                    (0, _) => " (no buffer is attached: MPI_Buffer_attach one first)".to_string(),
                    (size, 0) => {
                        format!(" (all {size} bytes attached hold messages not yet delivered)")
                    }
                    (size, free) if free >= size => {
                        format!(" (the attached buffer is only {size} bytes)")
                    }
                    (size, _) => format!(
                        " (the largest free part of the {size} bytes attached; messages not \
                         yet delivered hold the rest)"
                    ),
                }
            ),
        ),
        Errno::EMSGSIZE => (
            errno.description(),
            match failure.arguments {
                // At its trap, an `MPI_Recv` has its capacity in `a1`.
                Some(arguments) if failure.sysno == Sysno::MpiRecv => format!(
                    "the message is {} bytes, the buffer (count × datatype size) {} bytes: \
                     its first {} bytes were copied",
                    ret[2], arguments[1], arguments[1]
                ),
                _ => format!(
                    "the message is {} bytes, more than count × datatype size",
                    ret[2]
                ),
            },
        ),
        Errno::EMFILE => (
            "request table full",
            format!(
                "a process may have {MAX_REQUESTS_PER_PROCESS} requests pending \
                 (MPI_Wait or a successful MPI_Test frees one)"
            ),
        ),
        Errno::ENOSPC if call != "MPI_Buffer_attach" => (
            "request table full",
            format!(
                "the kernel's {MAX_REQUESTS} requests are all in use (pending requests, blocking \
                 calls, buffered messages not yet received)"
            ),
        ),
        Errno::EINVAL => (
            errno.description(),
            refused_arguments(failure, program.instances.len() as u64)?,
        ),
        _ => return None,
    };
    Some(format!(
        "{call} failed with {} ({what}): {detail}, and the program does not check the result",
        errno.name()
    ))
}

/// Why the kernel refused the arguments of `failure` (`EINVAL`), when its
/// argument registers show it, in `MPI_COMM_WORLD` of `ranks` ranks.
fn refused_arguments(failure: &Failure, ranks: u64) -> Option<String> {
    let faults: Vec<String> = match (failure.sysno, failure.arguments) {
        // Refused for what the process holds, not for an argument.
        (Sysno::BufferAttach, _) => {
            vec!["a buffer is attached already (MPI_Buffer_detach it first)".to_string()]
        }
        (Sysno::BufferDetach, _) => vec!["no buffer is attached".to_string()],
        (sysno, Some(a)) => {
            // Argument positions as `Syscall::decode` reads them.
            let (rank, tag, comm, direction) = match sysno {
                Sysno::MpiSend | Sysno::Isend => (Some(a[3]), Some(a[4]), a[5], Direction::Send),
                Sysno::MpiRecv | Sysno::Irecv => (Some(a[2]), Some(a[3]), a[4], Direction::Receive),
                Sysno::Probe | Sysno::Iprobe => (Some(a[0]), Some(a[1]), a[2], Direction::Receive),
                Sysno::CommRank | Sysno::CommSize => (None, None, a[0], Direction::Send),
                Sysno::Waitall | Sysno::Waitany if a[1] > MAX_WAIT_COUNT => {
                    return Some(format!(
                        "count {} is more than the {MAX_WAIT_COUNT} requests one call may wait for",
                        a[1]
                    ))
                }
                // The kernel's `r1`: where the array names a request again.
                Sysno::Waitall | Sysno::Waitany => {
                    return Some(format!(
                        "the handle at index {} names a request an earlier handle of the array \
                         names too (completing the first frees it, so the second could never \
                         complete)",
                        failure.ret[1]
                    ))
                }
                _ => return None,
            };
            // Registers hold the program's i64 values: -1 is the wildcard.
            [
                rank.and_then(|r| rank_fault(r as i64, ranks, direction)),
                tag.and_then(|t| tag_fault(t as i64, direction)),
                comm_fault(comm as i64),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        (_, None) => return None,
    };
    (!faults.is_empty()).then(|| faults.join("; "))
}
