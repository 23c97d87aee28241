//! Naming kernel things as the scenario names them: pids as `Producer[1]`, mailboxes by name, block reasons in words.

use ipclab_kernel::{
    BlockReason, Dest, Holder, Kernel, MailboxId, MpiCall, Object, ProcessState, RequestKind,
};
use ipclab_syscalls::{
    CommId, Errno, Pid, RankFilter, Reply, RetRegs, SendMode, Source, SyncCall, Syscall, TagFilter,
    Timeout,
};

use crate::lang::Program;

/// Names for one run: instance labels and mailbox names.
#[derive(Clone, Debug)]
pub struct Names {
    labels: Vec<String>,
    /// What each instance's code may do with the declared mailboxes and
    /// objects.
    handle_use: Vec<crate::lang::HandleUse>,
    /// The declared mailboxes' names (mailbox `m` is id `m`).
    mailboxes: Vec<String>,
}

/// The start of a rendezvous reason when the message is too long to go
/// eager: `32 B is above the eager limit of 8 B; `, or with no eager
/// sends at all, `eager_limit = 0; `.
fn above_eager_text(len: u64, limit: u64) -> String {
    if limit == 0 {
        "eager_limit = 0; ".to_string()
    } else {
        format!("{len} B is above the eager limit of {limit} B; ")
    }
}

impl Names {
    /// Names for the instances of `program`.
    pub fn new(program: &Program) -> Names {
        Names {
            labels: program.instances.iter().map(|i| i.label.clone()).collect(),
            handle_use: (0..program.instances.len())
                .map(|k| program.handle_use(k))
                .collect(),
            mailboxes: program.mailboxes.iter().map(|m| m.name.clone()).collect(),
        }
    }

    /// May `pid`'s code send to `mailbox` (or, `send` false, receive from
    /// it)? True for anything the program does not know (a mailbox made
    /// at run time, a pid of no instance).
    pub fn may_use_mailbox(&self, pid: Pid, mailbox: MailboxId, send: bool) -> bool {
        let Some(uses) = self.instance(pid).and_then(|k| self.handle_use.get(k)) else {
            return true;
        };
        let m = mailbox.0 as usize;
        if send {
            uses.may_send_to(m)
        } else {
            uses.may_receive_from(m)
        }
    }

    /// May `pid`'s code make a direct `send` (`mpi` false) or an MPI send
    /// (`mpi` true) to `to`? True for a pid of no instance.
    pub fn may_send_any(&self, pid: Pid, to: Pid, mpi: bool) -> bool {
        self.instance(pid)
            .and_then(|k| self.handle_use.get(k))
            .is_none_or(|uses| match (self.instance(to), mpi) {
                (Some(k), true) => uses.may_send_mpi_to(k),
                (Some(k), false) => uses.may_send_directly_to(k),
                (None, true) => uses.sends_mpi != 0,
                (None, false) => uses.sends_direct != 0,
            })
    }

    /// May `pid`'s code `V`, `signal` or `broadcast` the object its handle
    /// `handle` names? True for a pid of no instance.
    pub fn may_wake(&self, pid: Pid, handle: u64) -> bool {
        self.instance(pid)
            .and_then(|k| self.handle_use.get(k))
            .is_none_or(|uses| uses.may_wake(handle))
    }

    /// The instance a pid belongs to (instance `k` is slot `k`).
    pub fn instance(&self, pid: Pid) -> Option<usize> {
        let index = pid.index as usize;
        (index < self.labels.len() && pid.generation == 1 && pid.node == 0).then_some(index)
    }

    /// `Producer[1]`, or the pid itself when it is no instance of the run.
    pub fn process(&self, pid: Pid) -> String {
        match self.instance(pid) {
            Some(k) => self.labels[k].clone(),
            None => pid.to_string(),
        }
    }

    /// A mailbox's name, or `mailbox #n` when the kernel no longer has it.
    pub fn mailbox(&self, kernel: &Kernel, id: MailboxId) -> String {
        kernel
            .mailbox(id)
            .map(|m| m.name.as_str().to_string())
            // A destroyed declared mailbox keeps its declared name.
            .or_else(|| self.mailboxes.get(id.0 as usize).cloned())
            .unwrap_or_else(|| format!("mailbox #{}", id.0))
    }

    /// A destination in words.
    pub fn dest(&self, kernel: &Kernel, dest: Dest) -> String {
        match dest {
            Dest::Process(pid) => self.process(pid),
            Dest::Mailbox(id) => self.mailbox(kernel, id),
        }
    }

    /// Why a rendezvous send from `sender` to `to` waits: no receive
    /// posted, or the one `to` has posted takes another tag or another
    /// sender (as a mailbox send says of the receivers waiting there).
    fn unmatched_recv(&self, kernel: &Kernel, sender: Pid, to: Pid) -> String {
        let peer = self.process(to);
        match kernel.process(to).map(|p| p.state) {
            Some(ProcessState::Blocked(BlockReason::Recv {
                from: Source::Pid(other),
                ..
            })) if other != sender => format!(
                "rendezvous: no receiver waiting for it; {peer} waits for {}",
                self.process(other)
            ),
            Some(ProcessState::Blocked(BlockReason::Recv {
                tag: TagFilter::Tag(t),
                ..
            })) => format!("rendezvous: no receiver waiting for its tag; {peer} wants tag {t}"),
            _ => "rendezvous: no matching recv posted".to_string(),
        }
    }

    /// Why a send that would fit a free slot is a rendezvous all the same:
    /// its message is above the eager limit (`32 B is above the eager
    /// limit of 8 B; `), else nothing (no buffer, or no room in it, says
    /// itself in what follows).
    fn above_eager(&self, kernel: &Kernel, sender: Pid, rendezvous: bool) -> String {
        let limit = kernel.config().eager_limit as u64;
        match kernel.blocked_send_len(sender) {
            Some(len) if rendezvous && len > limit => above_eager_text(len, limit),
            _ => String::new(),
        }
    }

    /// What `pid`, blocked with `reason`, waits in, in kernel terms, with
    /// the state of the buffer it waits on: `send(consMbox) [full 4/4]`,
    /// `recv(Producer[0], tag 2) [1 queued, none with tag 2]`.
    pub fn reason(&self, kernel: &Kernel, waiter: Pid, reason: BlockReason) -> String {
        match reason {
            BlockReason::Send { to, rendezvous } => {
                let peer = self.process(to);
                let dead = kernel.process(to).is_none_or(|p| p.is_exited());
                // A buffered send to a terminated receiver (`classic`)
                // waits for a slot: then it is accepted and reported.
                let detail = match (rendezvous, dead) {
                    (true, true) => format!("{peer} has terminated"),
                    (true, false) => self.unmatched_recv(kernel, waiter, to),
                    (false, true) => format!(
                        "{}; {peer} has terminated",
                        self.fullness(kernel, Dest::Process(to))
                    ),
                    (false, false) => self.fullness(kernel, Dest::Process(to)),
                };
                format!(
                    "send({peer}) [{}{detail}]",
                    self.above_eager(kernel, waiter, rendezvous)
                )
            }
            BlockReason::MboxSend {
                mailbox,
                rendezvous,
            } => {
                let name = self.mailbox(kernel, mailbox);
                let detail = if rendezvous {
                    // Receivers waiting there want another tag: had one
                    // accepted this message, the rendezvous would be done.
                    let others: Vec<String> = kernel
                        .processes()
                        .iter()
                        .filter_map(|p| match p.state {
                            ProcessState::Blocked(BlockReason::MboxRecv {
                                mailbox: m,
                                tag: TagFilter::Tag(t),
                            }) if m == mailbox => {
                                Some(format!("{} wants tag {t}", self.process(p.pid)))
                            }
                            _ => None,
                        })
                        .collect();
                    if others.is_empty() {
                        "rendezvous: no receiver waiting".to_string()
                    } else {
                        format!(
                            "rendezvous: no receiver waiting for its tag; {}",
                            others.join(", ")
                        )
                    }
                } else {
                    self.fullness(kernel, Dest::Mailbox(mailbox))
                };
                let why = self.above_eager(kernel, waiter, rendezvous);
                format!("send({name}) [{why}{detail}]")
            }
            BlockReason::Recv { from, tag } => {
                let from_text = match from {
                    Source::Any => "ANY".to_string(),
                    Source::Pid(pid) => self.process(pid),
                };
                let sender = matches!(from, Source::Pid(_)).then_some(from_text.as_str());
                let waiting = waiting_for(kernel, Dest::Process(waiter));
                let detail = passed_over(waiting, sender, tag, "nothing queued");
                if let Source::Pid(pid) = from {
                    if kernel.process(pid).is_none_or(|p| p.is_exited()) {
                        // What it left queued, with another tag, is part of
                        // the why: `[S has terminated; 1 queued, none from
                        // S with tag 3]`.
                        let left = if waiting == (0, 0) {
                            String::new()
                        } else {
                            format!("; {detail}")
                        };
                        return format!(
                            "recv({from_text}{}) [{from_text} has terminated{left}]",
                            tag_text(tag)
                        );
                    }
                }
                format!("recv({from_text}{}) [{detail}]", tag_text(tag))
            }
            BlockReason::MboxRecv { mailbox, tag } => {
                let waiting = waiting_for(kernel, Dest::Mailbox(mailbox));
                format!(
                    "recv({}{}) [{}]",
                    self.mailbox(kernel, mailbox),
                    tag_text(tag),
                    passed_over(waiting, None, tag, "empty")
                )
            }
            BlockReason::Sleep { until } => format!("sleep [until tick {until}]"),
            BlockReason::Mpi {
                call,
                request,
                peer,
                tag,
            } => self.mpi_reason(kernel, waiter, call, request, peer, tag),
            BlockReason::SemP { sem } => format!(
                "P({}) [count 0]",
                self.object(kernel, Object::Semaphore(sem))
            ),
            BlockReason::MutexLock { mutex, owner } => {
                let name = self.object(kernel, Object::Mutex(mutex));
                let owner_name = self.process(owner);
                if kernel.process(owner).is_none_or(|p| p.is_exited()) {
                    format!("lock({name}) [owner {owner_name} has terminated]")
                } else {
                    format!("lock({name}) [held by {owner_name}]")
                }
            }
            BlockReason::CondWait { condvar, mutex } => format!(
                "wait({}, {}) [not signalled]",
                self.object(kernel, Object::Condvar(condvar)),
                self.object(kernel, Object::Mutex(mutex))
            ),
        }
    }

    /// A kernel object's name, or its kind and slot when the kernel no
    /// longer has it.
    pub fn object(&self, kernel: &Kernel, object: Object) -> String {
        match kernel.object_name(object) {
            Some(name) => name.to_string(),
            None => format!("object #{}", object.to_raw()),
        }
    }

    /// An MPI block reason: `MPI_Send(to Rank[1]) [rendezvous: no matching
    /// recv posted]`, `MPI_Wait(MPI_Irecv from ANY) [nothing matching arrived]`.
    fn mpi_reason(
        &self,
        kernel: &Kernel,
        waiter: Pid,
        call: MpiCall,
        request: Option<RequestKind>,
        peer: Source,
        tag: TagFilter,
    ) -> String {
        if matches!(call, MpiCall::Waitany | MpiCall::Waitall) {
            if let Some(text) = self.pending_requests_reason(kernel, waiter, call) {
                return text;
            }
        }
        let peer_text = match peer {
            Source::Any => "MPI_ANY_SOURCE".to_string(),
            Source::Pid(pid) => self.process(pid),
        };
        let dead = match peer {
            Source::Pid(pid) => kernel.process(pid).is_none_or(|p| p.is_exited()),
            Source::Any => false,
        };
        let what = match request {
            Some(RequestKind::Send(_)) => format!("to {peer_text}{}", tag_text(tag)),
            _ => format!("from {peer_text}{}", tag_text(tag)),
        };
        let detail = if dead {
            format!("{peer_text} has terminated")
        } else {
            match request {
                Some(RequestKind::Send(SendMode::Synchronous)) => {
                    "synchronous: no matching recv posted".to_string()
                }
                Some(RequestKind::Send(SendMode::Buffered)) => "not yet received".to_string(),
                Some(RequestKind::Send(_)) => self.standard_send_detail(kernel, waiter, peer),
                Some(RequestKind::Recv) | None => "nothing matching arrived".to_string(),
            }
        };
        let name = match call {
            MpiCall::Send(mode) => mode.mpi_name(),
            MpiCall::Recv => "MPI_Recv",
            MpiCall::Wait => "MPI_Wait",
            MpiCall::Waitall => "MPI_Waitall",
            MpiCall::Waitany => "MPI_Waitany",
            MpiCall::Probe => "MPI_Probe",
            MpiCall::BufferDetach => "MPI_Buffer_detach",
        };
        let inner = match (call, request) {
            (MpiCall::Send(_) | MpiCall::Recv | MpiCall::Probe, _) => what,
            // The kernel keeps no record of whether MPI_Bsend or MPI_Ibsend
            // buffered the message: name neither.
            (MpiCall::BufferDetach, _) => format!("buffered message {what}"),
            (_, Some(RequestKind::Send(mode))) => format!("{} {what}", mode.mpi_immediate_name()),
            (_, Some(RequestKind::Recv)) => format!("MPI_Irecv {what}"),
            (_, None) => what,
        };
        format!("{name}({inner}) [{detail}]")
    }

    /// Why a standard send of `waiter` to `peer` waits for its receive:
    /// its message is over the eager limit (a rendezvous), or it fits but
    /// found no free slot: `kernel buffer full 4/4`, `full 2/2` (the
    /// receiver's quota of the shared slots).
    fn standard_send_detail(&self, kernel: &Kernel, waiter: Pid, peer: Source) -> String {
        let rendezvous = "rendezvous: no matching recv posted".to_string();
        let Source::Pid(to) = peer else {
            return rendezvous;
        };
        let len = kernel.requests().find_map(|(_, r)| match r.op {
            ipclab_kernel::RequestOp::Send {
                mode: SendMode::Standard,
                to: dest,
                len,
                ..
            } if r.owner == waiter && dest == to && r.done.is_none() => Some(len),
            _ => None,
        });
        let config = kernel.config();
        match len {
            Some(len) if len <= config.eager_limit as u64 => {
                let queued = kernel.mpi_messages().iter().filter(|m| m.to == to).count();
                let quota = config.receiver_quota.min(config.buffer_slots);
                let used = kernel.messages().len() + kernel.mpi_messages().len();
                let full = if queued >= quota {
                    format!("full {queued}/{quota}")
                } else {
                    format!("kernel buffer full {used}/{}", config.buffer_slots)
                };
                format!("{full}: no matching recv posted")
            }
            Some(len) => format!(
                "{}{rendezvous}",
                above_eager_text(len, config.eager_limit as u64)
            ),
            None => rendezvous,
        }
    }

    /// An `MPI_Waitany` of `owner` waits for any one of its requests, an
    /// `MPI_Waitall` for every one: `MPI_Waitany(MPI_Irecv from Rank[1]
    /// [terminated], MPI_Irecv from Rank[2]) [none complete]`,
    /// `MPI_Waitall(...) [not all complete]`. (The block reason names one
    /// request; the others are the process's pending requests.)
    fn pending_requests_reason(
        &self,
        kernel: &Kernel,
        owner: Pid,
        call: MpiCall,
    ) -> Option<String> {
        let pending: Vec<String> = kernel
            .requests()
            .filter(|(_, r)| r.owner == owner && r.done.is_none() && r.holder == Holder::User)
            .map(|(_, r)| {
                let (name, direction) = match r.kind() {
                    RequestKind::Send(mode) => (mode.mpi_immediate_name(), "to"),
                    RequestKind::Recv => ("MPI_Irecv", "from"),
                };
                let (peer, dead) = match r.peer() {
                    Source::Any => ("MPI_ANY_SOURCE".to_string(), false),
                    Source::Pid(pid) => (
                        self.process(pid),
                        kernel.process(pid).is_none_or(|p| p.is_exited()),
                    ),
                };
                format!(
                    "{name} {direction} {peer}{}{}",
                    tag_text(r.tag()),
                    if dead { " [terminated]" } else { "" }
                )
            })
            .collect();
        let (name, detail) = match call {
            MpiCall::Waitany => ("MPI_Waitany", "none complete"),
            _ => ("MPI_Waitall", "not all complete"),
        };
        (pending.len() > 1).then(|| format!("{name}({}) [{detail}]", pending.join(", ")))
    }

    /// Rank `rank` of `comm` as the scenario names it.
    fn rank(&self, kernel: &Kernel, comm: CommId, rank: u32) -> String {
        kernel
            .communicator(comm)
            .and_then(|m| m.get(rank as usize).copied())
            .map(|pid| self.process(pid))
            .unwrap_or_else(|| format!("rank {rank}"))
    }

    fn rank_filter(&self, kernel: &Kernel, comm: CommId, source: RankFilter) -> String {
        match source {
            RankFilter::Any => "MPI_ANY_SOURCE".to_string(),
            RankFilter::Rank(r) => self.rank(kernel, comm, r),
        }
    }

    /// How full the buffer a sender to `dest` waits on is.
    fn fullness(&self, kernel: &Kernel, dest: Dest) -> String {
        let queued = kernel.queued_at(dest);
        let quota = kernel.quota_of(dest);
        let pool = kernel.messages().len();
        let slots = kernel.config().buffer_slots;
        if queued >= quota && kernel.capacity_of(dest) > quota {
            // A mailbox of capacity 4 in a kernel of 2 slots holds 2.
            let s = if slots == 1 { "" } else { "s" };
            format!("full {queued}/{quota}: the kernel buffer has {slots} slot{s}")
        } else if queued >= quota {
            format!("full {queued}/{quota}")
        } else {
            format!("kernel buffer full {pool}/{slots}")
        }
    }

    /// [`Names::call`] for a call the scenario wrote as `written` (the MPI
    /// call at its line, if any): `MPI_Wait` traps as a one-request
    /// `waitall` but is shown as written.
    pub fn call_as_written(
        &self,
        kernel: &Kernel,
        caller: Pid,
        call: &Syscall,
        written: Option<&str>,
    ) -> String {
        match (call, written) {
            (Syscall::Waitall { .. }, Some("MPI_Wait")) => "MPI_Wait".to_string(),
            _ => self.call(kernel, caller, call),
        }
    }

    /// A system call as a trace line shows it: `send(Consumer, 8 bytes, tag 0)`.
    pub fn call(&self, kernel: &Kernel, caller: Pid, call: &Syscall) -> String {
        let handle_name = |h: ipclab_syscalls::Handle| {
            kernel
                .process(caller)
                .and_then(|p| p.handles.object(h).ok())
                .map(|o| self.object(kernel, o))
                .unwrap_or_else(|| format!("handle {}", h.0))
        };
        // `count` for a shared scalar, `buf[2]` for a word of a shared array.
        let word = |h: ipclab_syscalls::Handle, index: u64| {
            let scalar = kernel
                .process(caller)
                .and_then(|p| p.handles.object(h).ok())
                .and_then(|o| match o {
                    Object::Shared(id) => kernel.shared(id),
                    _ => None,
                })
                .is_some_and(|s| s.words.len() == 1);
            if scalar && index == 0 {
                handle_name(h)
            } else {
                format!("{}[{index}]", handle_name(h))
            }
        };
        match *call {
            Syscall::Send {
                to,
                len,
                tag,
                timeout,
                ..
            } => format!(
                "send({}, {len} bytes, tag {tag}{})",
                self.process(to),
                timeout_text(timeout)
            ),
            Syscall::Recv {
                from,
                tag,
                cap,
                timeout,
                ..
            } => {
                let from = match from {
                    Source::Any => "ANY".to_string(),
                    Source::Pid(pid) => self.process(pid),
                };
                format!(
                    "recv({from}{}, cap {cap}{})",
                    tag_text(tag),
                    timeout_text(timeout)
                )
            }
            Syscall::MboxSend {
                handle,
                len,
                tag,
                timeout,
                ..
            } => format!(
                "send({}, {len} bytes, tag {tag}{})",
                handle_name(handle),
                timeout_text(timeout)
            ),
            Syscall::MboxRecv {
                handle,
                tag,
                cap,
                timeout,
                ..
            } => format!(
                "recv({}{}, cap {cap}{})",
                handle_name(handle),
                tag_text(tag),
                timeout_text(timeout)
            ),
            Syscall::MboxCreate { capacity, .. } => format!("mbox_create(capacity {capacity})"),
            Syscall::MboxOpen { .. } => "mbox_open".to_string(),
            Syscall::Close { handle } => format!("close({})", handle_name(handle)),
            Syscall::MboxDestroy { handle } => format!("mbox_destroy({})", handle_name(handle)),
            Syscall::Sleep { ticks } => format!("sleep({ticks})"),
            Syscall::Exit { code } => format!("exit({code})"),
            Syscall::Yield => "yield".to_string(),
            Syscall::GetPid => "getpid".to_string(),
            Syscall::Clock => "clock".to_string(),
            Syscall::DevRead { device } => match device {
                ipclab_kernel::DeviceId::KEYBOARD => "dev_read(keyboard)".to_string(),
                other => format!("dev_read(device {})", other.0),
            },
            Syscall::CommRank { .. } => "MPI_Comm_rank".to_string(),
            Syscall::CommSize { .. } => "MPI_Comm_size".to_string(),
            Syscall::MpiSend {
                mode,
                len,
                dest,
                tag,
                comm,
                ..
            } => format!(
                "{}({}, {len} bytes, tag {tag})",
                mode.mpi_name(),
                self.rank(kernel, comm, dest)
            ),
            Syscall::Isend {
                mode,
                len,
                dest,
                tag,
                comm,
                ..
            } => format!(
                "{}({}, {len} bytes, tag {tag})",
                mode.mpi_immediate_name(),
                self.rank(kernel, comm, dest)
            ),
            Syscall::MpiRecv {
                source,
                tag,
                cap,
                comm,
                ..
            }
            | Syscall::Irecv {
                source,
                tag,
                cap,
                comm,
                ..
            } => format!(
                "{}({}{}, cap {cap})",
                if matches!(call, Syscall::MpiRecv { .. }) {
                    "MPI_Recv"
                } else {
                    "MPI_Irecv"
                },
                self.rank_filter(kernel, comm, source),
                tag_text(tag)
            ),
            Syscall::Waitall { count, .. } => format!("MPI_Waitall({})", requests(count)),
            Syscall::Waitany { count, .. } => format!("MPI_Waitany({})", requests(count)),
            Syscall::Test { .. } => "MPI_Test".to_string(),
            Syscall::Probe { source, tag, comm } | Syscall::Iprobe { source, tag, comm } => {
                format!(
                    "{}({}{})",
                    if matches!(call, Syscall::Probe { .. }) {
                        "MPI_Probe"
                    } else {
                        "MPI_Iprobe"
                    },
                    self.rank_filter(kernel, comm, source),
                    tag_text(tag)
                )
            }
            Syscall::BufferAttach { size, .. } => format!("MPI_Buffer_attach({size} bytes)"),
            Syscall::BufferDetach => "MPI_Buffer_detach".to_string(),
            Syscall::Sync(sync) => match sync {
                SyncCall::P { sem: h, timeout } => {
                    format!("P({}{})", handle_name(h), timeout_text(timeout))
                }
                SyncCall::V { sem: h } => format!("V({})", handle_name(h)),
                SyncCall::Lock { mutex: h, timeout } => {
                    format!("lock({}{})", handle_name(h), timeout_text(timeout))
                }
                SyncCall::Unlock { mutex: h } => format!("unlock({})", handle_name(h)),
                SyncCall::Wait { condvar, mutex } => {
                    format!("wait({}, {})", handle_name(condvar), handle_name(mutex))
                }
                SyncCall::Signal { condvar: h } => format!("signal({})", handle_name(h)),
                SyncCall::Broadcast { condvar: h } => format!("broadcast({})", handle_name(h)),
                SyncCall::SharedLoad { shared, index } => {
                    format!("load {}", word(shared, index))
                }
                SyncCall::SharedStore {
                    shared,
                    index,
                    value,
                } => format!("store {} = {}", word(shared, index), value as i64),
            },
        }
    }
}

/// What a blocked receive waits past: `1 queued, none with tag 2`, or
/// `empty` when nothing is queued. A receive that accepts everything only
/// blocks on an empty queue, so a count there comes with a filter.
/// Messages held by senders blocked on their way to a destination count
/// too: a receive takes them as it takes queued ones.
fn passed_over(
    (queued, held): (usize, usize),
    sender: Option<&str>,
    tag: TagFilter,
    empty: &str,
) -> String {
    let held_text = |h: usize| {
        if h == 1 {
            "1 held by a blocked sender".to_string()
        } else {
            format!("{h} held by blocked senders")
        }
    };
    let waiting = match (queued, held) {
        (0, 0) => return empty.to_string(),
        (q, 0) => format!("{q} queued"),
        (0, h) => held_text(h),
        (q, h) => format!("{q} queued, {}", held_text(h)),
    };
    format!("{waiting}, none{}", filter_text(sender, tag))
}

/// Messages waiting for `dest`: (queued in slots, held by blocked senders).
fn waiting_for(kernel: &Kernel, dest: Dest) -> (usize, usize) {
    let held = kernel
        .processes()
        .iter()
        .filter(|p| match (p.state, dest) {
            (ProcessState::Blocked(BlockReason::Send { to, .. }), Dest::Process(d)) => to == d,
            (ProcessState::Blocked(BlockReason::MboxSend { mailbox, .. }), Dest::Mailbox(d)) => {
                mailbox == d
            }
            _ => false,
        })
        .count();
    (kernel.queued_at(dest), held)
}

/// ` from S with tag 2`, ` from S`, ` with tag 2`, or ` it accepts`.
fn filter_text(sender: Option<&str>, tag: TagFilter) -> String {
    match (sender, tag) {
        (Some(sender), TagFilter::Tag(t)) => format!(" from {sender} with tag {t}"),
        (Some(sender), TagFilter::Any) => format!(" from {sender}"),
        (None, TagFilter::Tag(t)) => format!(" with tag {t}"),
        (None, TagFilter::Any) => " it accepts".to_string(),
    }
}

/// `1 request`, `2 requests`.
fn requests(count: u64) -> String {
    format!("{count} request{}", if count == 1 { "" } else { "s" })
}

fn tag_text(tag: TagFilter) -> String {
    match tag {
        TagFilter::Any => String::new(),
        TagFilter::Tag(t) => format!(", tag {t}"),
    }
}

/// A call result in words: `ok`, `ok 3`, `EAGAIN`.
pub fn result_text(regs: RetRegs) -> String {
    match Reply::from_regs(regs) {
        Ok(reply) if reply.value == 0 && reply.extra0 == 0 => "ok".to_string(),
        Ok(reply) => format!("ok {}", reply.value),
        Err(errno) => errno.name().to_string(),
    }
}

/// The errno of a failed result, if it failed.
pub fn result_errno(regs: RetRegs) -> Option<Errno> {
    Reply::from_regs(regs).err()
}

/// `, timeout 3` or `, nonblocking` for a call's timeout; nothing for none.
fn timeout_text(timeout: Timeout) -> String {
    match timeout {
        Timeout::Never => String::new(),
        Timeout::NonBlocking => ", nonblocking".to_string(),
        Timeout::After(ticks) => format!(", timeout {ticks}"),
    }
}
