//! The wait-for graph of a stuck world, read off the kernel's block reasons: cycles and dead ends.
//!
//! Each blocked process waits for the processes that could complete its
//! call: a `send(P)` or `recv(P)` waits for `P` (but a send that waits only
//! for a free slot of the shared pool, its destination's quota having room,
//! also waits for the receivers of the messages in the pool: any receive of
//! theirs frees a slot); a `recv(ANY)` for every other live process whose
//! code has a direct `send` (an `MPI_ANY_SOURCE` receive, for those with an
//! MPI send); a mailbox send or receive for every other live
//! holder of that mailbox whose code makes the other half of the call
//! (`lang/handle_use.rs`), blocked in the same call or not: two processes
//! that both `recv(box)` first and `send(box, ...)` after wait for each
//! other, as two `recv(ANY)` callers that both send do. A `lock(m)` waits
//! for `m`'s owner; a `P(s)` or a condition-variable `wait(c, m)` for every
//! other live holder of `s` or `c` whose code may `V` it (or `signal` or
//! `broadcast` it). A `P` on a device's
//! semaphore (the keyboard's `chars`) is no different: a stuck world is
//! analysed only once no more input is scheduled, so the interrupt
//! handler will not `V` it again, and what is left is the processes whose
//! code `V`s it too (usually none: the `P` is then blocked forever on the
//! keyboard). In a stuck world (no process can run and no
//! timer is pending) a cycle among these edges is a deadlock; a process
//! whose edges lead only to terminated processes, or nowhere, is blocked
//! forever. Chapter: `docs/verdicts.md`.

use ipclab_kernel::{
    BlockReason, Dest, Holder, Kernel, MpiCall, Object, ProcessState, SemaphoreId,
};
use ipclab_syscalls::{Pid, Source, TagFilter};

use crate::names::Names;
use crate::verdict::{Stuck, Verdict};

/// Does a buffered send to `dest` wait only for a free slot of the shared
/// pool (the destination's own quota has room)?
fn waits_for_the_pool(kernel: &Kernel, dest: Dest) -> bool {
    kernel.queued_at(dest) < kernel.quota_of(dest)
}

/// `partners` (who can take the message from the blocked sender), and who
/// can free a slot of the pool for it: the receivers of the messages in it
/// (a message's receiver, or the other holders of its mailbox whose code
/// receives from it), `pid` aside. Any receive they make frees a slot.
fn with_pool_receivers(kernel: &Kernel, names: &Names, pid: Pid, partners: Vec<Pid>) -> Vec<Pid> {
    let mut out: Vec<Pid> = partners;
    let mut add = |q: Pid| {
        if q != pid && !out.contains(&q) {
            out.push(q);
        }
    };
    for m in kernel.messages().iter() {
        match m.dest {
            Dest::Process(q) => add(q),
            // A holder whose code receives from the mailbox frees the slot
            // by receiving. While `pid` holds the mailbox too, that is the
            // only way: the mailbox outlives every other holder's exit.
            // Otherwise the last holder's exit frees it as well (the
            // mailbox goes, its messages are reported undeliverable), so
            // every holder counts.
            Dest::Mailbox(mailbox) => {
                let pid_holds = kernel.mailbox_holders(mailbox).any(|q| q == pid);
                kernel
                    .mailbox_holders(mailbox)
                    .filter(|q| !pid_holds || names.may_use_mailbox(*q, mailbox, false))
                    .for_each(&mut add)
            }
        }
    }
    for m in kernel.mpi_messages() {
        add(m.to);
    }
    out
}

/// The processes `pid`'s block `reason` waits for (live or not). A mailbox
/// wait's partners are the holders whose code may make the other half of
/// the call (`Names::may_use_mailbox`): a receiver waits for those that
/// send to the mailbox, a sender for those that receive from it.
pub fn waits_for(kernel: &Kernel, names: &Names, pid: Pid, reason: BlockReason) -> Vec<Pid> {
    let live_others = || {
        kernel
            .processes()
            .iter()
            .filter(|p| p.pid != pid && !p.is_exited())
            .map(|p| p.pid)
            .collect::<Vec<_>>()
    };
    // A `recv(ANY)` waits for any live process whose code has a direct
    // send that may name the caller; an `MPI_ANY_SOURCE` receive (or probe, or wait), for those with
    // an MPI send (`mpi`).
    let live_senders = |mpi: bool| {
        live_others()
            .into_iter()
            .filter(|q| names.may_send_any(*q, pid, mpi))
            .collect::<Vec<_>>()
    };
    match reason {
        BlockReason::Send {
            to,
            rendezvous: false,
        } if waits_for_the_pool(kernel, Dest::Process(to)) => {
            with_pool_receivers(kernel, names, pid, vec![to])
        }
        BlockReason::MboxSend {
            mailbox,
            rendezvous: false,
        } if waits_for_the_pool(kernel, Dest::Mailbox(mailbox)) => {
            let holders = kernel
                .mailbox_holders(mailbox)
                .filter(|q| *q != pid)
                .filter(|q| names.may_use_mailbox(*q, mailbox, false))
                .collect();
            with_pool_receivers(kernel, names, pid, holders)
        }
        BlockReason::Send { to, .. } => vec![to],
        BlockReason::Recv {
            from: Source::Pid(from),
            ..
        } => vec![from],
        BlockReason::Recv {
            from: Source::Any, ..
        } => live_senders(false),
        BlockReason::MboxSend { mailbox, .. } | BlockReason::MboxRecv { mailbox, .. } => {
            // The other half of the call: a receive for a sender, a send
            // for a receiver.
            let wants_send = matches!(reason, BlockReason::MboxRecv { .. });
            kernel
                .mailbox_holders(mailbox)
                .filter(|q| *q != pid)
                .filter(|q| names.may_use_mailbox(*q, mailbox, wants_send))
                .collect()
        }
        BlockReason::Sleep { .. } => Vec::new(),
        // Any one of its requests completes an `MPI_Waitany`, and every one
        // must complete for an `MPI_Waitall`: either waits for the partners
        // of all of them, so the graph does not depend on the order of the
        // requests in the array. (Which handles it passed lies in its
        // memory; the process's pending requests are a superset, and a
        // lecture's wait waits on all of them.)
        BlockReason::Mpi {
            call: MpiCall::Waitany | MpiCall::Waitall,
            ..
        } => {
            let mut peers = Vec::new();
            for (_, request) in kernel.requests() {
                if request.owner != pid || request.done.is_some() || request.holder != Holder::User
                {
                    continue;
                }
                match request.peer() {
                    Source::Pid(peer) if !peers.contains(&peer) => peers.push(peer),
                    Source::Pid(_) => {}
                    Source::Any => return live_senders(true),
                }
            }
            peers
        }
        // Another MPI wait names the partner of the first request it still
        // waits for; `MPI_ANY_SOURCE` waits for anyone alive.
        BlockReason::Mpi {
            peer: Source::Pid(peer),
            ..
        } => vec![peer],
        BlockReason::Mpi {
            peer: Source::Any, ..
        } => live_senders(true),
        // A mutex waits for its owner; a semaphore or a condition variable
        // for every other holder that could `V` or `signal` it.
        BlockReason::MutexLock { owner, .. } => vec![owner],
        BlockReason::SemP { sem } => wakers(kernel, names, pid, Object::Semaphore(sem)),
        BlockReason::CondWait { condvar, .. } => {
            wakers(kernel, names, pid, Object::Condvar(condvar))
        }
    }
}

/// The live holders of `object` other than `pid` whose
/// code may `V` it (a semaphore) or `signal` or `broadcast` it (a condition
/// variable).
fn wakers(kernel: &Kernel, names: &Names, pid: Pid, object: Object) -> Vec<Pid> {
    let may_wake = |q: Pid| {
        let handle = kernel
            .process(q)
            .and_then(|p| p.handles.iter().find(|(_, o)| *o == object))
            .map(|(h, _)| h.to_raw());
        handle.is_none_or(|h| names.may_wake(q, h))
    };
    kernel
        .object_holders(object)
        .filter(|q| *q != pid && may_wake(*q))
        .collect()
}

/// Is `sem` the semaphore a device's interrupt handler raises?
fn is_device_semaphore(kernel: &Kernel, sem: SemaphoreId) -> bool {
    kernel.keyboard().is_some_and(|k| k.semaphore() == sem)
}

/// Is `other` blocked in the same kind of mailbox call, on the same mailbox,
/// as `reason`? Such a process waits for what the caller waits for. Not a
/// filter on the wait-for edges (a competitor whose code makes the other
/// half is a partner once it gets what it waits for); only named when the
/// caller has no partner at all ("B waits there too").
fn is_competitor(kernel: &Kernel, other: Pid, reason: BlockReason) -> bool {
    let Some(ProcessState::Blocked(theirs)) = kernel.process(other).map(|p| p.state) else {
        return false;
    };
    match (reason, theirs) {
        // Receivers compete only for messages both would take: with
        // disjoint tag filters, each may be the other's sender.
        (
            BlockReason::MboxRecv {
                mailbox: a,
                tag: ta,
            },
            BlockReason::MboxRecv {
                mailbox: b,
                tag: tb,
            },
        ) => a == b && filters_overlap(ta, tb),
        (BlockReason::MboxSend { mailbox: a, .. }, BlockReason::MboxSend { mailbox: b, .. }) => {
            a == b
        }
        (BlockReason::SemP { sem: a }, BlockReason::SemP { sem: b }) => a == b,
        (BlockReason::CondWait { condvar: a, .. }, BlockReason::CondWait { condvar: b, .. }) => {
            a == b
        }
        _ => false,
    }
}

/// Would some message pass both tag filters?
fn filters_overlap(a: TagFilter, b: TagFilter) -> bool {
    match (a, b) {
        (TagFilter::Tag(x), TagFilter::Tag(y)) => x == y,
        _ => true,
    }
}

/// The other live holders of the mailbox `reason` waits on that wait in the
/// same call there (empty for direct calls).
fn competitors(kernel: &Kernel, pid: Pid, reason: BlockReason) -> Vec<Pid> {
    match reason {
        BlockReason::MboxSend { mailbox, .. } | BlockReason::MboxRecv { mailbox, .. } => kernel
            .mailbox_holders(mailbox)
            .filter(|q| *q != pid && is_competitor(kernel, *q, reason))
            .collect(),
        BlockReason::SemP { sem } => kernel
            .object_holders(Object::Semaphore(sem))
            .filter(|q| *q != pid && is_competitor(kernel, *q, reason))
            .collect(),
        BlockReason::CondWait { condvar, .. } => kernel
            .object_holders(Object::Condvar(condvar))
            .filter(|q| *q != pid && is_competitor(kernel, *q, reason))
            .collect(),
        _ => Vec::new(),
    }
}

/// Analyses a world in which no process can run and no timer is pending.
/// Returns `Completes` when every process exited.
pub fn analyse_stuck(kernel: &Kernel, names: &Names) -> Verdict {
    let blocked: Vec<(Pid, BlockReason)> = kernel
        .processes()
        .iter()
        .filter_map(|p| match p.state {
            ProcessState::Blocked(r) => Some((p.pid, r)),
            _ => None,
        })
        .collect();
    if blocked.is_empty() {
        return Verdict::Completes;
    }
    let is_blocked = |pid: Pid| blocked.iter().any(|(p, _)| *p == pid);
    let edges = |pid: Pid| -> Vec<Pid> {
        blocked
            .iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, r)| {
                waits_for(kernel, names, pid, *r)
                    .into_iter()
                    .filter(|q| is_blocked(*q))
                    .collect()
            })
            .unwrap_or_default()
    };
    let stuck_of = |pid: Pid| -> Stuck {
        let reason = blocked.iter().find(|(p, _)| *p == pid).map(|(_, r)| *r);
        Stuck {
            process: names.process(pid),
            why: reason.map_or_else(String::new, |r| describe_dead_end(kernel, names, pid, r)),
        }
    };
    if let Some(cycle) = find_cycle(&blocked.iter().map(|(p, _)| *p).collect::<Vec<_>>(), &edges) {
        let cycle_stuck: Vec<Stuck> = cycle
            .iter()
            .map(|pid| Stuck {
                process: names.process(*pid),
                why: blocked
                    .iter()
                    .find(|(p, _)| p == pid)
                    .map(|(p, r)| names.reason(kernel, *p, *r))
                    .unwrap_or_default(),
            })
            .collect();
        let others = blocked
            .iter()
            .filter(|(p, _)| !cycle.contains(p))
            .map(|(p, _)| stuck_of(*p))
            .collect();
        return Verdict::Deadlock {
            cycle: cycle_stuck,
            others,
        };
    }
    Verdict::BlockedForever {
        stuck: blocked.iter().map(|(p, _)| stuck_of(*p)).collect(),
    }
}

/// A wait-for cycle that no process outside it can ever break, in a world
/// where other processes may still run: each member is blocked, with no
/// timer, in a call only named processes can complete (a `send` or `recv`
/// naming its peer, a `lock`, an MPI wait on named peers, a `recv(ANY)`
/// while every other live process whose code sends is in the set), and
/// every live process that could complete it is in the set too. Calls on a mailbox, a
/// semaphore or a condition variable are left out: a running process may
/// still open one and answer. Empty when there is no such cycle.
///
/// The set is the largest one closed that way (members are dropped while
/// one has a partner outside); the cycle is one found inside it.
pub fn closed_cycle(kernel: &Kernel, names: &Names) -> Vec<Stuck> {
    let direct = |reason: BlockReason| match reason {
        BlockReason::Send { to, .. } => !waits_for_the_pool(kernel, Dest::Process(to)),
        BlockReason::Recv { .. } | BlockReason::MutexLock { .. } | BlockReason::Mpi { .. } => true,
        _ => false,
    };
    let mut members: Vec<(Pid, BlockReason, Vec<Pid>)> = kernel
        .processes()
        .iter()
        .filter_map(|p| match p.state {
            ProcessState::Blocked(r) if direct(r) && !kernel.has_timer(p.pid) => Some((p.pid, r)),
            _ => None,
        })
        .map(|(pid, r)| {
            let live: Vec<Pid> = waits_for(kernel, names, pid, r)
                .into_iter()
                .filter(|q| kernel.process(*q).is_some_and(|p| !p.is_exited()))
                .collect();
            (pid, r, live)
        })
        .collect();
    loop {
        let before = members.len();
        let inside: Vec<Pid> = members.iter().map(|(p, _, _)| *p).collect();
        members.retain(|(_, _, live)| live.iter().all(|q| inside.contains(q)));
        if members.len() == before {
            break;
        }
    }
    let nodes: Vec<Pid> = members.iter().map(|(p, _, _)| *p).collect();
    let edges = |pid: Pid| {
        members
            .iter()
            .find(|(p, _, _)| *p == pid)
            .map(|(_, _, live)| live.clone())
            .unwrap_or_default()
    };
    let Some(cycle) = find_cycle(&nodes, &edges) else {
        return Vec::new();
    };
    cycle
        .iter()
        .filter_map(|pid| members.iter().find(|(p, _, _)| p == pid))
        .map(|(pid, r, _)| Stuck {
            process: names.process(*pid),
            why: names.reason(kernel, *pid, *r),
        })
        .collect()
}

/// A block reason with why nobody can complete it.
fn describe_dead_end(kernel: &Kernel, names: &Names, pid: Pid, reason: BlockReason) -> String {
    let what = names.reason(kernel, pid, reason);
    let partners = waits_for(kernel, names, pid, reason);
    if let BlockReason::SemP { sem } = reason {
        if partners.is_empty() && is_device_semaphore(kernel, sem) {
            // Stuck worlds are analysed only once no input is left to type.
            return format!("{what}: waits for keyboard input (no more input scheduled)");
        }
    }
    let live: Vec<String> = partners
        .iter()
        .filter(|q| kernel.process(**q).is_some_and(|p| !p.is_exited()))
        .map(|q| names.process(*q))
        .collect();
    if partners.is_empty() {
        let rivals: Vec<String> = competitors(kernel, pid, reason)
            .iter()
            .map(|q| names.process(*q))
            .collect();
        if rivals.is_empty() {
            format!("{what}: no live process can ever satisfy it")
        } else {
            format!(
                "{what}: no live process can ever satisfy it ({} wait{} there too)",
                rivals.join(", "),
                if rivals.len() == 1 { "s" } else { "" }
            )
        }
    } else if live.is_empty() {
        if what.contains(" has terminated") {
            // The reason already says so: `recv(Sender) [Sender has terminated]`.
            what
        } else {
            let dead: Vec<String> = partners.iter().map(|q| names.process(*q)).collect();
            let verb = if dead.len() == 1 { "has" } else { "have" };
            format!("{what}: {} {verb} terminated", dead.join(", "))
        }
    } else {
        format!("{what}: waits for {}, blocked too", live.join(", "))
    }
}

/// A cycle in the graph over `nodes`, if any, found by depth-first search
/// from each node in order (deterministic).
fn find_cycle(nodes: &[Pid], edges: &dyn Fn(Pid) -> Vec<Pid>) -> Option<Vec<Pid>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; nodes.len()];
    let index = |p: Pid| nodes.iter().position(|n| *n == p);
    for start in 0..nodes.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: a stack of (node, its successors, next successor).
        let mut path: Vec<(usize, Vec<Pid>, usize)> = vec![(start, edges(nodes[start]), 0)];
        marks[start] = Mark::OnPath;
        while let Some((node, succ, next)) = path.last_mut() {
            if *next < succ.len() {
                let target = succ[*next];
                *next += 1;
                let Some(t) = index(target) else { continue };
                match marks[t] {
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _, _)| *n == t).unwrap_or(0);
                        return Some(path[from..].iter().map(|(n, _, _)| nodes[*n]).collect());
                    }
                    Mark::New => {
                        marks[t] = Mark::OnPath;
                        path.push((t, edges(target), 0));
                    }
                    Mark::Done => {}
                }
            } else {
                marks[*node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}
