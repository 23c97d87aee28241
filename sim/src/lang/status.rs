//! The builtin `status`: how the result registers of a process's last call read as `status.len`, `status.source`, `status.tag` and the MPI fields.
//!
//! A plain call and an MPI call lay their result registers out differently
//! (`syscalls/src/mpi.rs`, "Result registers of MPI calls"):
//!
//! | call | `r1` | `r2` | `r3` |
//! |---|---|---|---|
//! | plain (`send`, `recv`, mailboxes, ...) | length | sender's pid | tag |
//! | MPI | value (rank, handle, flag, index) | length | `source rank << 32 \| tag` |
//!
//! The fields `len`, `source` and `tag` mean the same after either
//! (`docs/scenario-language.md`: the last received message's length, its
//! sender's instance number, -1 if none, and its tag), so the VM keeps,
//! beside the registers, which layout they have ([`StatusLayout`], set when
//! the call completes) and reads the fields through it. An MPI call that
//! describes no message (a send, `MPI_Comm_rank`, an `MPI_Test` that finds
//! the request not done) reads as no message: length 0, source -1, tag 0.
//! The MPI fields (`status.MPI_SOURCE`, the words `&st` receives) are the
//! MPI registers as the kernel set them, whatever the call.

use ipclab_syscalls::{Errno, MpiStatus, Pid, RetRegs, Sysno};

use super::code::StatusField;

/// How the result registers of the last completed call read as `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StatusLayout {
    /// A plain call's: `[errno, length, sender pid, tag]`.
    #[default]
    Plain = 0,
    /// An MPI call that describes a message (one received, or found by a
    /// probe, or the one that did not fit: `EMSGSIZE`):
    /// `[errno, value, length, source rank << 32 | tag]`.
    MpiMessage = 1,
    /// An MPI call that describes no message.
    MpiNone = 2,
}

impl StatusLayout {
    /// Every layout, by number.
    pub const ALL: [StatusLayout; 3] = [
        StatusLayout::Plain,
        StatusLayout::MpiMessage,
        StatusLayout::MpiNone,
    ];

    /// The layout of `ret`, the result of a `sysno` call.
    ///
    /// An MPI receive, probe, wait or test describes a message when it
    /// succeeds, or fails with `EMSGSIZE` (the kernel then reports the
    /// message that did not fit); `MPI_Test` and `MPI_Iprobe` only when
    /// their flag is set, `MPI_Waitany` only when it found a request.
    pub fn of(sysno: Sysno, ret: RetRegs) -> StatusLayout {
        let has_status = ret[0] == 0 || ret[0] == Errno::EMSGSIZE.number();
        let describes_message = match sysno {
            Sysno::MpiRecv | Sysno::Probe | Sysno::Waitall => has_status,
            Sysno::Test | Sysno::Iprobe => has_status && (ret[0] != 0 || ret[1] == 1),
            Sysno::Waitany => has_status && ret[1] != u64::MAX,
            Sysno::CommRank
            | Sysno::CommSize
            | Sysno::MpiSend
            | Sysno::Isend
            | Sysno::Irecv
            | Sysno::BufferAttach
            | Sysno::BufferDetach => false,
            _ => return StatusLayout::Plain,
        };
        // The empty status (a null request's) describes no message.
        if describes_message && !MpiStatus::from_regs(ret).is_empty() {
            StatusLayout::MpiMessage
        } else {
            StatusLayout::MpiNone
        }
    }

    /// The value of `field` when the registers are `status`.
    pub fn read(self, field: StatusField, status: RetRegs) -> i64 {
        match (field, self) {
            (StatusField::Error, _) => status[0] as i64,
            (StatusField::Length, StatusLayout::Plain) => status[1] as i64,
            (StatusField::Tag, StatusLayout::Plain) => status[3] as i64,
            (StatusField::Source, StatusLayout::Plain) => match Pid::from_raw(status[2]) {
                Ok(pid) => i64::from(pid.index),
                Err(_) => -1,
            },
            (StatusField::Length, StatusLayout::MpiMessage) => status[2] as i64,
            (StatusField::Tag, StatusLayout::MpiMessage) => i64::from(status[3] as u32),
            // The rank in MPI_COMM_WORLD is the instance number; the
            // kernel's u32::MAX is a sender it could not rank.
            (StatusField::Source, StatusLayout::MpiMessage) => match (status[3] >> 32) as u32 {
                u32::MAX => -1,
                rank => i64::from(rank),
            },
            (StatusField::Length | StatusField::Tag, StatusLayout::MpiNone) => 0,
            (StatusField::Source, StatusLayout::MpiNone) => -1,
            (StatusField::MpiValue, _) => status[1] as i64,
            (StatusField::MpiLength, _) => status[2] as i64,
            // The empty status reads as MPI_ANY_SOURCE and MPI_ANY_TAG: -1,
            // the filters' raw ANY.
            (StatusField::MpiSource, _) => {
                MpiStatus::from_regs(status).source_filter().to_raw() as i64
            }
            (StatusField::MpiTag, _) => MpiStatus::from_regs(status).tag_filter().to_raw() as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipclab_syscalls::MpiStatus;

    #[test]
    fn an_mpi_receive_reads_as_the_message_it_received() {
        let status = MpiStatus {
            source: 1,
            tag: 4,
            len: 16,
        };
        let ret = status.to_regs(1);
        let layout = StatusLayout::of(Sysno::MpiRecv, ret);
        assert_eq!(layout, StatusLayout::MpiMessage);
        assert_eq!(layout.read(StatusField::Length, ret), 16);
        assert_eq!(layout.read(StatusField::Source, ret), 1);
        assert_eq!(layout.read(StatusField::Tag, ret), 4);
        // The length that did not fit.
        let too_long = status.error_regs(Errno::EMSGSIZE);
        let layout = StatusLayout::of(Sysno::MpiRecv, too_long);
        assert_eq!(layout.read(StatusField::Length, too_long), 16);
        assert_eq!(
            layout.read(StatusField::Error, too_long),
            Errno::EMSGSIZE.number() as i64
        );
    }

    #[test]
    fn an_mpi_call_without_a_message_reads_as_none() {
        // MPI_Buffer_detach's r2 is the buffer's size, not a length.
        let detach = [0, 64, 32, 0];
        let layout = StatusLayout::of(Sysno::BufferDetach, detach);
        assert_eq!(layout.read(StatusField::Length, detach), 0);
        assert_eq!(layout.read(StatusField::Source, detach), -1);
        let not_done = [0, 0, 0, 0];
        assert_eq!(
            StatusLayout::of(Sysno::Test, not_done),
            StatusLayout::MpiNone
        );
        assert_eq!(
            StatusLayout::of(Sysno::Waitany, [0, u64::MAX, 0, 0]),
            StatusLayout::MpiNone
        );
        assert_eq!(
            StatusLayout::of(Sysno::MpiRecv, [Errno::EDEADPEER.number(), 0, 0, 0]),
            StatusLayout::MpiNone
        );
    }

    #[test]
    fn a_plain_call_keeps_the_plain_layout() {
        assert_eq!(
            StatusLayout::of(Sysno::Recv, [0, 8, 0, 0]),
            StatusLayout::Plain
        );
        assert_eq!(
            StatusLayout::Plain.read(StatusField::Length, [0, 8, 0, 0]),
            8
        );
    }
}
