//! The ranges of MPI's rank, tag and communicator arguments, and the words that say why a value lies outside them.
//!
//! One judge for both times a value can be judged: the compiler asks it of
//! a constant argument (a compile error at the argument), and the failure
//! message of a call the kernel refused with `EINVAL` asks it of the
//! argument registers (a computed value), so both say the same thing.

use super::names::{ANY, COMM_WORLD};

/// The largest tag: the kernel's tags are 32 bits.
pub(in crate::lang) const MAX_TAG: i64 = u32::MAX as i64;

/// Is a rank or tag argument a send's (one rank, one tag) or a receive's
/// or probe's (which may also be a wildcard)?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::lang) enum Direction {
    Send,
    Receive,
}

/// Why `rank` names no process of `MPI_COMM_WORLD`'s `ranks`, if it does not.
pub(in crate::lang) fn rank_fault(rank: i64, ranks: u64, direction: Direction) -> Option<String> {
    match (rank, direction) {
        (ANY, Direction::Receive) => None,
        (ANY, Direction::Send) => {
            Some("rank -1 (MPI_ANY_SOURCE) is no destination: a send names one rank".to_string())
        }
        (rank, _) if rank < 0 => Some(format!("rank {rank} is negative")),
        (rank, _) if rank as u64 >= ranks => Some(format!(
            "rank {rank} is not in MPI_COMM_WORLD ({ranks} rank{})",
            if ranks == 1 { "" } else { "s" }
        )),
        _ => None,
    }
}

/// The ranks a rank argument may be, for a hint.
pub(in crate::lang) fn ranks_hint(ranks: u64, direction: Direction) -> String {
    let last = ranks.saturating_sub(1);
    match direction {
        Direction::Send => format!("MPI_COMM_WORLD's ranks are 0 to {last}"),
        Direction::Receive => {
            format!("MPI_COMM_WORLD's ranks are 0 to {last}, or MPI_ANY_SOURCE for any of them")
        }
    }
}

/// Why `tag` is no tag of a `direction` call, if it is not.
pub(in crate::lang) fn tag_fault(tag: i64, direction: Direction) -> Option<String> {
    match (tag, direction) {
        (ANY, Direction::Receive) => None,
        (ANY, Direction::Send) => {
            Some("tag -1 (MPI_ANY_TAG) is no tag to send: a send has one tag".to_string())
        }
        (tag, _) if tag < 0 => Some(format!("tag {tag} is negative")),
        (tag, _) if tag > MAX_TAG => Some(format!("tag {tag} is more than {MAX_TAG}")),
        _ => None,
    }
}

/// The tags a tag argument may be, for a hint.
pub(in crate::lang) fn tags_hint(direction: Direction) -> String {
    match direction {
        Direction::Send => format!("a tag is 0 to {MAX_TAG}"),
        Direction::Receive => format!("a tag is 0 to {MAX_TAG}, or MPI_ANY_TAG for any tag"),
    }
}

/// Why `comm` is no communicator, if it is not: a scenario has only `MPI_COMM_WORLD`.
pub(in crate::lang) fn comm_fault(comm: i64) -> Option<String> {
    (comm != COMM_WORLD).then(|| format!("communicator {comm} does not exist"))
}

/// The communicators, for a hint.
pub(in crate::lang) fn comms_hint() -> &'static str {
    "a scenario's only communicator is MPI_COMM_WORLD"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_is_judged_against_the_world_and_its_direction() {
        assert_eq!(rank_fault(1, 2, Direction::Send), None);
        assert_eq!(
            rank_fault(5, 2, Direction::Send).as_deref(),
            Some("rank 5 is not in MPI_COMM_WORLD (2 ranks)")
        );
        assert_eq!(rank_fault(ANY, 2, Direction::Receive), None);
        assert!(rank_fault(ANY, 2, Direction::Send).is_some());
        assert_eq!(
            rank_fault(-3, 2, Direction::Receive).as_deref(),
            Some("rank -3 is negative")
        );
    }

    #[test]
    fn a_tag_is_32_bits_and_only_a_receive_takes_any() {
        assert_eq!(tag_fault(MAX_TAG, Direction::Send), None);
        assert!(tag_fault(MAX_TAG + 1, Direction::Receive).is_some());
        assert_eq!(
            tag_fault(-5, Direction::Receive).as_deref(),
            Some("tag -5 is negative")
        );
        assert_eq!(tag_fault(ANY, Direction::Receive), None);
        assert!(tag_fault(ANY, Direction::Send).is_some());
    }

    #[test]
    fn the_only_communicator_is_the_world() {
        assert_eq!(comm_fault(COMM_WORLD), None);
        assert_eq!(
            comm_fault(7).as_deref(),
            Some("communicator 7 does not exist")
        );
    }
}
