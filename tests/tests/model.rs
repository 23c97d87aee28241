//! Proptest model: random syscall sequences from random processes, checked against a reference model.
//!
//! The model keeps every message it sent (each carries a unique id in its
//! first four bytes) and what each process is doing. After every step it
//! checks the kernel against it:
//! - a call blocks (or answers `EAGAIN`) exactly when the model says no
//!   partner or slot could serve it, and completes when one could;
//! - every received message was sent, is received once, and never
//!   overtakes an older message of the same sender to the same destination
//!   that the receive would also have accepted;
//! - the messages the kernel buffers are exactly the accepted ones that
//!   were neither delivered nor reported undeliverable, and the counters
//!   agree: accepted == delivered + buffered + undeliverable;
//! - blocked states agree with the calls in flight; timers fire on time;
//!   under `notify` the partners of a dead process get `EDEADPEER`;
//! - registers that do not decode change nothing;
//! - `check_invariants()` holds after every step, and nothing panics.

use std::collections::{BTreeMap, BTreeSet};

use ipclab_kernel::{BlockReason, Config, Kernel, Policy, ProcessState};
use ipclab_syscalls::{
    Errno, Handle, Pid, Regs, Reply, RetRegs, Source, Syscall, TagFilter, Timeout,
};
use ipclab_tests::{Harness, Outcome};
use proptest::prelude::*;

const PROCS: usize = 4;
const EAGER: u64 = 8;
const SEND_BUF: u64 = 0;
const RECV_BUF: u64 = 64;
const MEMORY: u64 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Proc(usize),
    Mbox,
}

#[derive(Clone, Copy, Debug)]
enum Wait {
    Never,
    NonBlocking,
    After(u64),
}

impl Wait {
    fn timeout(self) -> Timeout {
        match self {
            Wait::Never => Timeout::Never,
            Wait::NonBlocking => Timeout::NonBlocking,
            Wait::After(t) => Timeout::After(t),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Send {
        who: usize,
        to: At,
        tag: u32,
        len: u64,
        wait: Wait,
    },
    Recv {
        who: usize,
        at_mbox: bool,
        from: Option<usize>,
        tag: Option<u32>,
        cap: u64,
        wait: Wait,
    },
    Tick,
    Exit {
        who: usize,
    },
    Garbage {
        who: usize,
        regs: Regs,
    },
}

fn wait() -> impl Strategy<Value = Wait> {
    prop_oneof![
        4 => Just(Wait::Never),
        3 => Just(Wait::NonBlocking),
        3 => (1u64..4).prop_map(Wait::After),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..PROCS;
    let to = prop_oneof![3 => (0..PROCS).prop_map(At::Proc), 1 => Just(At::Mbox)];
    prop_oneof![
        6 => (who.clone(), to, 0u32..3, 4u64..=12, wait())
            .prop_map(|(who, to, tag, len, wait)| Op::Send { who, to, tag, len, wait }),
        6 => (
            who.clone(),
            prop::bool::weighted(0.25),
            prop::option::weighted(0.4, 0..PROCS),
            prop::option::weighted(0.3, 0u32..3),
            prop::sample::select(vec![4u64, 8, 12]),
            wait()
        )
            .prop_map(|(who, at_mbox, from, tag, cap, wait)| Op::Recv {
                who,
                at_mbox,
                from: if at_mbox { None } else { from },
                tag,
                cap,
                wait
            }),
        3 => Just(Op::Tick),
        1 => who.clone().prop_map(|who| Op::Exit { who }),
        1 => (who, 0u64..16, prop::array::uniform6(prop_oneof![
                Just(0u64), Just(u64::MAX), Just(1 << 40), 0u64..200, any::<u64>()
            ]))
            .prop_map(|(who, sysno, args)| Op::Garbage { who, regs: Regs::new(sysno, args) }),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Config_ {
    slots: usize,
    quota: usize,
    mbox_capacity: u32,
    policy: Policy,
    refuse_deadlock: bool,
}

fn config() -> impl Strategy<Value = Config_> {
    (
        prop::sample::select(vec![0usize, 1, 2, 4]),
        prop::sample::select(vec![1usize, 2, 8]),
        0u32..3,
        prop::bool::ANY,
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(slots, quota, mbox_capacity, notify, refuse_deadlock)| Config_ {
                slots,
                quota,
                mbox_capacity,
                policy: if notify {
                    Policy::Notify
                } else {
                    Policy::Classic
                },
                refuse_deadlock,
            },
        )
}

/// A message the model knows of.
#[derive(Clone, Copy, Debug)]
struct Msg {
    from: usize,
    dest: At,
    tag: u32,
    len: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Doing {
    Idle,
    Send {
        id: u32,
        deadline: Option<u64>,
    },
    Recv {
        at: At,
        from: Option<usize>,
        tag: Option<u32>,
        cap: u64,
        deadline: Option<u64>,
    },
    Exited,
}

struct Model {
    h: Harness,
    cfg: Config_,
    pids: Vec<Pid>,
    mbox_handle: Handle,
    doing: Vec<Doing>,
    msgs: BTreeMap<u32, Msg>,
    next_id: u32,
    /// Sent, not yet settled: in a blocked sender, or accepted and buffered.
    alive: BTreeSet<u32>,
    accepted: BTreeSet<u32>,
    delivered: BTreeSet<u32>,
    undeliverable: BTreeSet<u32>,
}

fn accepts(from: Option<usize>, tag: Option<u32>, m: &Msg) -> bool {
    from.is_none_or(|f| f == m.from) && tag.is_none_or(|t| t == m.tag)
}

impl Model {
    fn new(cfg: Config_) -> Model {
        let config = Config {
            buffer_slots: cfg.slots,
            eager_limit: EAGER as usize,
            receiver_quota: cfg.quota,
            mailbox_quota: 8,
            policy: cfg.policy,
            refuse_deadlock: cfg.refuse_deadlock,
            quantum: 2,
        };
        let mut h = Harness::new(config);
        h.sink.muted = true;
        let pids: Vec<Pid> = (0..PROCS)
            .map(|i| h.spawn_with_memory(&format!("p{i}"), 1, MEMORY))
            .collect();
        let mbox = h
            .kernel
            .create_mailbox("m", cfg.mbox_capacity, &mut h.sink)
            .unwrap();
        let mut mbox_handle = Handle(0);
        for &pid in &pids {
            mbox_handle = h.kernel.grant_handle(pid, mbox).unwrap();
        }
        h.check();
        Model {
            h,
            cfg,
            pids,
            mbox_handle,
            doing: vec![Doing::Idle; PROCS],
            msgs: BTreeMap::new(),
            next_id: 1,
            alive: BTreeSet::new(),
            accepted: BTreeSet::new(),
            delivered: BTreeSet::new(),
            undeliverable: BTreeSet::new(),
        }
    }

    fn is_dead(&self, p: usize) -> bool {
        self.doing[p] == Doing::Exited
    }

    fn buffered(&self) -> impl Iterator<Item = (u32, &Msg)> + '_ {
        self.accepted
            .iter()
            .filter(|id| self.alive.contains(id))
            .map(|id| (*id, &self.msgs[id]))
    }

    fn quota(&self, dest: At) -> usize {
        let q = match dest {
            At::Proc(_) => self.cfg.quota,
            At::Mbox => self.cfg.mbox_capacity as usize,
        };
        q.min(self.cfg.slots)
    }

    fn can_slot(&self, dest: At, len: u64) -> bool {
        len <= EAGER
            && self.buffered().count() < self.cfg.slots
            && self.buffered().filter(|(_, m)| m.dest == dest).count() < self.quota(dest)
    }

    /// A message a receive at `at` could take now: buffered, or held by a
    /// blocked sender.
    fn has_match(&self, at: At, from: Option<usize>, tag: Option<u32>) -> bool {
        self.alive.iter().any(|id| {
            let m = &self.msgs[id];
            m.dest == at && accepts(from, tag, m)
        })
    }

    /// The process `p` waits for by name, if only it can end the wait and
    /// no timer does (the kernel's definite edges).
    fn partner(&self, p: usize) -> Option<usize> {
        match self.doing[p] {
            Doing::Send { id, deadline: None } => match self.msgs[&id].dest {
                At::Proc(q) => self.definite_send_partner(q, self.msgs[&id].len),
                At::Mbox => None,
            },
            Doing::Recv {
                at: At::Proc(_),
                from,
                deadline: None,
                ..
            } => from,
            _ => None,
        }
    }

    /// A send of `len` bytes to `q` that cannot go into a slot waits for
    /// `q` alone when it is a rendezvous or `q`'s quota is full; when only
    /// the shared pool is full, any receive frees a slot.
    fn definite_send_partner(&self, q: usize, len: u64) -> Option<usize> {
        let dest = At::Proc(q);
        let rendezvous = len > EAGER || self.quota(dest) == 0;
        let quota_full =
            self.buffered().filter(|(_, m)| m.dest == dest).count() >= self.quota(dest);
        (rendezvous || quota_full).then_some(q)
    }

    fn closes_cycle(&self, caller: usize, first: Option<usize>) -> bool {
        let mut next = first;
        for _ in 0..=PROCS {
            match next {
                Some(q) if q == caller => return true,
                Some(q) => next = self.partner(q),
                None => return false,
            }
        }
        false
    }

    fn deliver(&mut self, receiver: usize, id: u32, from: Option<usize>, tag: Option<u32>) {
        let m = *self.msgs.get(&id).expect("a received message was sent");
        assert!(
            self.alive.contains(&id),
            "message {id} delivered twice or after it was settled"
        );
        assert!(self.delivered.insert(id));
        for older in self.alive.range(..id) {
            let o = &self.msgs[older];
            assert!(
                !(o.from == m.from && o.dest == m.dest && accepts(from, tag, o)),
                "message {id} overtook {older} from the same sender (receiver p{receiver})"
            );
        }
        self.alive.remove(&id);
        // A rendezvous or a direct delivery is accepted when delivered.
        self.accepted.insert(id);
    }

    fn status(regs: RetRegs) -> ipclab_syscalls::MessageStatus {
        Reply {
            value: regs[1],
            extra0: regs[2],
            extra1: regs[3],
        }
        .status()
        .expect("a receive's status")
    }

    /// Settles the result of a receive by `p`.
    fn recv_result(
        &mut self,
        p: usize,
        regs: RetRegs,
        at: At,
        from: Option<usize>,
        tag: Option<u32>,
        cap: u64,
    ) {
        match Reply::from_regs(regs) {
            Ok(_) => {
                let st = Self::status(regs);
                assert!(st.len <= cap);
                let bytes = self.h.peek(self.pids[p], RECV_BUF, 4);
                let id = u32::from_le_bytes(bytes.try_into().unwrap());
                let m = self.msgs[&id];
                assert_eq!(
                    (self.pids[m.from], m.tag, m.len),
                    (st.source, st.tag, st.len)
                );
                assert_eq!(m.dest, at);
                assert!(accepts(from, tag, &m));
                self.deliver(p, id, from, tag);
            }
            Err(Errno::EMSGSIZE) => {
                let st = Self::status(regs);
                assert!(st.len > cap, "EMSGSIZE for a message that fits");
            }
            Err(Errno::EDEADPEER) => {
                assert_eq!(self.cfg.policy, Policy::Notify);
                assert!(from.is_some_and(|f| self.is_dead(f)));
            }
            Err(e) => panic!("unexpected recv error {e:?}"),
        }
    }

    /// Settles the result of a send by `p` of message `id`.
    fn send_result(&mut self, regs: RetRegs, id: u32) {
        match Reply::from_regs(regs) {
            Ok(_) => {
                if self.delivered.contains(&id) {
                    return;
                }
                self.accepted.insert(id);
                if let At::Proc(q) = self.msgs[&id].dest {
                    if self.is_dead(q) {
                        self.alive.remove(&id);
                        self.undeliverable.insert(id);
                    }
                }
            }
            Err(e) => {
                assert!(!self.delivered.contains(&id));
                self.alive.remove(&id);
                if e == Errno::EDEADPEER {
                    assert_eq!(self.cfg.policy, Policy::Notify);
                    let At::Proc(q) = self.msgs[&id].dest else {
                        panic!("EDEADPEER from a mailbox")
                    };
                    assert!(self.is_dead(q));
                }
            }
        }
    }

    /// Collects every completion and checks blocked states against the model.
    fn poll(&mut self) {
        let now = self.h.kernel.now();
        for p in 0..PROCS {
            let doing = self.doing[p];
            let deadline = match doing {
                Doing::Send { deadline, .. } | Doing::Recv { deadline, .. } => deadline,
                _ => continue,
            };
            let pid = self.pids[p];
            match self.h.state(pid).unwrap() {
                ProcessState::Blocked(reason) => {
                    assert!(deadline.is_none_or(|d| d > now), "p{p} missed its timeout");
                    match (doing, reason) {
                        (Doing::Send { id, .. }, BlockReason::Send { to, rendezvous }) => {
                            let m = self.msgs[&id];
                            assert_eq!(
                                m.dest,
                                At::Proc(self.pids.iter().position(|&q| q == to).unwrap())
                            );
                            assert_eq!(rendezvous, m.len > EAGER || self.quota(m.dest) == 0);
                        }
                        (Doing::Send { id, .. }, BlockReason::MboxSend { .. }) => {
                            assert_eq!(self.msgs[&id].dest, At::Mbox)
                        }
                        (
                            Doing::Recv {
                                at: At::Proc(_),
                                from,
                                tag,
                                ..
                            },
                            BlockReason::Recv { from: f, tag: t },
                        ) => {
                            assert_eq!(
                                from.map(|i| Source::Pid(self.pids[i]))
                                    .unwrap_or(Source::Any),
                                f
                            );
                            assert_eq!(tag.map(TagFilter::Tag).unwrap_or(TagFilter::Any), t);
                        }
                        (Doing::Recv { at: At::Mbox, .. }, BlockReason::MboxRecv { .. }) => {}
                        other => panic!("p{p}: model and kernel disagree: {other:?}"),
                    }
                }
                ProcessState::Ready | ProcessState::Running => {
                    let regs = self
                        .h
                        .completion(pid)
                        .expect("a woken process has a result");
                    self.doing[p] = Doing::Idle;
                    if Reply::from_regs(regs) == Err(Errno::ETIMEDOUT) {
                        assert!(deadline.is_some_and(|d| d <= now), "p{p} timed out early");
                    }
                    match doing {
                        Doing::Send { id, .. } => {
                            if Reply::from_regs(regs) == Err(Errno::ETIMEDOUT) {
                                self.alive.remove(&id);
                            } else {
                                self.send_result(regs, id);
                            }
                        }
                        Doing::Recv {
                            at, from, tag, cap, ..
                        } => {
                            if Reply::from_regs(regs) != Err(Errno::ETIMEDOUT) {
                                self.recv_result(p, regs, at, from, tag, cap);
                            }
                        }
                        _ => unreachable!(),
                    }
                }
                ProcessState::Exited(_) => panic!("p{p} exited behind the model's back"),
            }
        }
        self.check_counts();
    }

    fn check_counts(&self) {
        let stats = self.h.kernel.stats();
        assert_eq!(stats.accepted, self.accepted.len() as u64, "accepted");
        assert_eq!(stats.delivered, self.delivered.len() as u64, "delivered");
        assert_eq!(
            stats.undeliverable,
            self.undeliverable.len() as u64,
            "undeliverable"
        );
        let in_kernel: BTreeSet<u32> = self
            .h
            .kernel
            .messages()
            .iter()
            .map(|m| u32::from_le_bytes(m.data[..4].try_into().unwrap()))
            .collect();
        let in_model: BTreeSet<u32> = self.buffered().map(|(id, _)| id).collect();
        assert_eq!(in_kernel, in_model, "buffered messages");
        assert_eq!(
            stats.accepted,
            stats.delivered + in_kernel.len() as u64 + stats.undeliverable
        );
    }

    fn runnable(&self, p: usize) -> bool {
        self.doing[p] == Doing::Idle
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Tick => {
                self.h.tick();
            }
            Op::Exit { who } => {
                let alive = (0..PROCS).filter(|&p| !self.is_dead(p)).count();
                if !self.runnable(who) || alive <= 1 {
                    return;
                }
                assert_eq!(
                    self.h.call(self.pids[who], Syscall::Exit { code: 0 }),
                    Outcome::Exited
                );
                self.doing[who] = Doing::Exited;
                let dropped: Vec<u32> = self
                    .buffered()
                    .filter(|(_, m)| m.dest == At::Proc(who))
                    .map(|(id, _)| id)
                    .collect();
                for id in dropped {
                    self.alive.remove(&id);
                    self.undeliverable.insert(id);
                }
                if self.cfg.policy == Policy::Notify {
                    for p in 0..PROCS {
                        if self.partner(p) == Some(who) {
                            assert!(
                                !self.h.is_blocked(self.pids[p]),
                                "p{p} still waits on dead p{who}"
                            );
                        }
                    }
                }
            }
            Op::Garbage { who, regs } => {
                if !self.runnable(who) || Syscall::decode(&regs).is_ok() {
                    return;
                }
                self.h.run(self.pids[who]);
                let before: Box<Kernel> = self.h.kernel.clone();
                let out = self.h.trap(self.pids[who], regs);
                assert!(matches!(out, Outcome::Done(r) if r[0] != 0));
                let mut stats = *before.stats();
                stats.syscalls += 1;
                assert_eq!(&stats, self.h.kernel.stats());
                assert_eq!(before.processes().len(), self.h.kernel.processes().len());
                for (a, b) in before.processes().iter().zip(self.h.kernel.processes()) {
                    assert_eq!((a.pid, a.state), (b.pid, b.state));
                }
                assert_eq!(before.messages(), self.h.kernel.messages());
            }
            Op::Send {
                who,
                to,
                tag,
                len,
                wait,
            } => {
                if !self.runnable(who) || to == At::Proc(who) {
                    return;
                }
                let id = self.next_id;
                self.next_id += 1;
                let m = Msg {
                    from: who,
                    dest: to,
                    tag,
                    len,
                };
                let mut bytes = vec![0xa5; len as usize];
                bytes[..4].copy_from_slice(&id.to_le_bytes());
                let pid = self.pids[who];
                self.h.poke(pid, SEND_BUF, &bytes);
                let dead = matches!(to, At::Proc(q) if self.is_dead(q));
                let receiver_waits = (0..PROCS).any(|p| match self.doing[p] {
                    Doing::Recv {
                        at,
                        from,
                        tag: t,
                        cap,
                        ..
                    } => at == to && accepts(from, t, &m) && cap >= len,
                    _ => false,
                });
                let can_slot = self.can_slot(to, len);
                // Waiting receivers whose buffer is too small get EMSGSIZE
                // before the sender blocks: they are no edge by then.
                let saved = self.doing.clone();
                for d in self.doing.iter_mut() {
                    if matches!(*d, Doing::Recv { at, from, tag: t, cap, .. }
                        if at == to && accepts(from, t, &m) && cap < len)
                    {
                        *d = Doing::Idle;
                    }
                }
                // A timed wait ends by itself: it closes no cycle.
                let cycle = match to {
                    At::Proc(q) if !matches!(wait, Wait::After(_)) => {
                        self.closes_cycle(who, self.definite_send_partner(q, len))
                    }
                    _ => false,
                };
                self.doing = saved;
                self.msgs.insert(id, m);
                self.alive.insert(id);
                let call = match to {
                    At::Proc(q) => Syscall::Send {
                        to: self.pids[q],
                        buf: SEND_BUF,
                        len,
                        tag,
                        timeout: wait.timeout(),
                    },
                    At::Mbox => Syscall::MboxSend {
                        handle: self.mbox_handle,
                        buf: SEND_BUF,
                        len,
                        tag,
                        timeout: wait.timeout(),
                    },
                };
                let out = self.h.call(pid, call);
                let could_complete = receiver_waits || can_slot;
                match out {
                    Outcome::Blocked => {
                        assert!(!could_complete, "send blocked though it could complete");
                        assert!(!(dead && self.cfg.policy == Policy::Notify));
                        assert!(
                            !(self.cfg.refuse_deadlock && cycle),
                            "a deadlocking send was not refused"
                        );
                        self.doing[who] = Doing::Send {
                            id,
                            deadline: match wait {
                                Wait::After(t) => Some(self.h.kernel.now() + t),
                                _ => None,
                            },
                        };
                    }
                    Outcome::Done(regs) => {
                        match Reply::from_regs(regs) {
                            Ok(_) => assert!(
                                could_complete,
                                "send completed with no room and no receiver"
                            ),
                            Err(Errno::EAGAIN) => {
                                assert!(!could_complete && matches!(wait, Wait::NonBlocking))
                            }
                            Err(Errno::EDEADLK) => {
                                assert!(self.cfg.refuse_deadlock && cycle && !could_complete)
                            }
                            Err(Errno::EDEADPEER) => assert!(dead),
                            Err(e) => panic!("unexpected send error {e:?}"),
                        }
                        self.send_result(regs, id);
                    }
                    other => panic!("send: {other:?}"),
                }
            }
            Op::Recv {
                who,
                at_mbox,
                from,
                tag,
                cap,
                wait,
            } => {
                if !self.runnable(who) || from == Some(who) {
                    return;
                }
                let at = if at_mbox { At::Mbox } else { At::Proc(who) };
                let has_match = self.has_match(at, from, tag);
                let cycle = !matches!(wait, Wait::After(_))
                    && self.closes_cycle(who, from.filter(|_| !at_mbox));
                let pid = self.pids[who];
                let call = if at_mbox {
                    Syscall::MboxRecv {
                        handle: self.mbox_handle,
                        tag: tag.map(TagFilter::Tag).unwrap_or(TagFilter::Any),
                        buf: RECV_BUF,
                        cap,
                        timeout: wait.timeout(),
                    }
                } else {
                    Syscall::Recv {
                        from: from
                            .map(|f| Source::Pid(self.pids[f]))
                            .unwrap_or(Source::Any),
                        tag: tag.map(TagFilter::Tag).unwrap_or(TagFilter::Any),
                        buf: RECV_BUF,
                        cap,
                        timeout: wait.timeout(),
                    }
                };
                match self.h.call(pid, call) {
                    Outcome::Blocked => {
                        assert!(!has_match, "recv blocked with a message available");
                        assert!(
                            !(self.cfg.refuse_deadlock && cycle),
                            "a deadlocking recv was not refused"
                        );
                        self.doing[who] = Doing::Recv {
                            at,
                            from,
                            tag,
                            cap,
                            deadline: match wait {
                                Wait::After(t) => Some(self.h.kernel.now() + t),
                                _ => None,
                            },
                        };
                    }
                    Outcome::Done(regs) => match Reply::from_regs(regs) {
                        Err(Errno::EAGAIN) => {
                            assert!(!has_match && matches!(wait, Wait::NonBlocking))
                        }
                        Err(Errno::EDEADLK) => {
                            assert!(!has_match && self.cfg.refuse_deadlock && cycle)
                        }
                        Err(Errno::EDEADPEER) => {
                            assert!(!has_match);
                            self.recv_result(who, regs, at, from, tag, cap);
                        }
                        _ => {
                            assert!(has_match, "recv completed with nothing to take");
                            self.recv_result(who, regs, at, from, tag, cap);
                        }
                    },
                    other => panic!("recv: {other:?}"),
                }
            }
        }
        self.poll();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn the_kernel_agrees_with_the_reference_model(
        cfg in config(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut model = Model::new(cfg);
        for op in &ops {
            model.step(op);
        }
        // Let every timer run out, then settle.
        for _ in 0..4 {
            model.step(&Op::Tick);
        }
    }
}
