//! Proptest model of MPI point-to-point: random isend/irecv/recv/wait/test/probe from 3 ranks on two communicators, plus plain send/recv, checked against a reference model.
//!
//! The reference model keeps every message not yet matched in arrival order
//! and every posted receive in posting order (`docs/mpi.md`, "Matching"): a
//! send meets the oldest posted receive that accepts it, else waits in
//! arrival order; a receive takes the oldest message that its filter
//! (source or `MPI_ANY_SOURCE`, tag or `MPI_ANY_TAG`, communicator)
//! accepts, else stays posted. The model therefore predicts exactly which
//! message each receive gets, and after every step the test checks:
//! - a receive completes exactly when the model matched it, into its own
//!   buffer, with the right message (each carries a unique id), source
//!   rank, tag and length: every message is received once, in per-pair
//!   order among the messages the filter accepts, never across
//!   communicators or between MPI and plain (context 0) messages. The
//!   buffer's size plays no part in matching: a message longer than the
//!   receive that matched it is truncated there (`EMSGSIZE`, the real
//!   length in the status, the part that fits copied) and consumed;
//! - `test`, `wait` and `probe`/`iprobe` answer as the model says (a
//!   standard send under the eager limit may complete before it is matched:
//!   the model accepts both there, and nothing else);
//! - a wait or test on `MPI_REQUEST_NULL` gives the empty status at once;
//!   a `waitall`/`waitany` naming one request twice is `EINVAL` and
//!   changes nothing (the model goes on as if it had not happened);
//! - `check_invariants()` holds after every step (the harness checks it).

use std::collections::BTreeMap;

use ipclab_kernel::Config;
use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RankFilter, RetRegs, SendMode, Source, Syscall, TagFilter,
    Timeout,
};
use ipclab_tests::{Harness, Outcome};
use proptest::prelude::*;

const RANKS: usize = 3;
const EAGER: u64 = 8;
/// Where `wait`/`test` find their handle.
const HANDLES: u64 = 64;
/// The plain receive's buffer.
const PLAIN_BUF: u64 = 128;
/// Request buffers: 16 bytes each, never reused within a case.
const REQUEST_BUFS: u64 = 256;
/// Plain message ids have this bit: an MPI receive must never see one.
const PLAIN: u32 = 1 << 31;
/// Below the per-process bound (16), so `EMFILE` never comes into play.
const MAX_LIVE: usize = 12;

#[derive(Clone, Debug)]
enum Op {
    Isend {
        who: usize,
        to: usize,
        comm: usize,
        tag: u32,
        len: u64,
        synchronous: bool,
    },
    Irecv {
        who: usize,
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
        cap: u64,
    },
    /// A blocking `mpi_recv`.
    Recv {
        who: usize,
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
        cap: u64,
    },
    Wait {
        who: usize,
        pick: usize,
    },
    Test {
        who: usize,
        pick: usize,
    },
    Probe {
        who: usize,
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
        blocking: bool,
    },
    /// `wait` (0), `test` (1) or `waitany` (2) on `MPI_REQUEST_NULL`.
    WaitNull {
        who: usize,
        call: u8,
    },
    /// `waitall` or `waitany` naming one request twice.
    WaitTwice {
        who: usize,
        pick: usize,
        any: bool,
    },
    PlainSend {
        who: usize,
        to: usize,
    },
    PlainRecv {
        who: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..RANKS;
    let from = prop::option::of(0..RANKS);
    let tag = prop::option::of(0..2u32);
    // Sends are 4 or 12 bytes: a receive of 8 truncates the long ones.
    let cap = prop::sample::select(vec![8u64, 16]);
    prop_oneof![
        4 => (who.clone(), 0..RANKS, 0..2usize, 0..2u32, prop::sample::select(vec![4u64, 12]), any::<bool>())
            .prop_map(|(who, to, comm, tag, len, synchronous)| Op::Isend { who, to, comm, tag, len, synchronous }),
        3 => (who.clone(), from.clone(), tag.clone(), 0..2usize, cap.clone())
            .prop_map(|(who, from, tag, comm, cap)| Op::Irecv { who, from, tag, comm, cap }),
        1 => (who.clone(), from.clone(), tag.clone(), 0..2usize, cap)
            .prop_map(|(who, from, tag, comm, cap)| Op::Recv { who, from, tag, comm, cap }),
        3 => (who.clone(), any::<usize>()).prop_map(|(who, pick)| Op::Wait { who, pick }),
        2 => (who.clone(), any::<usize>()).prop_map(|(who, pick)| Op::Test { who, pick }),
        2 => (who.clone(), from, tag, 0..2usize, any::<bool>())
            .prop_map(|(who, from, tag, comm, blocking)| Op::Probe { who, from, tag, comm, blocking }),
        1 => (who.clone(), 0..3u8).prop_map(|(who, call)| Op::WaitNull { who, call }),
        1 => (who.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(who, pick, any)| Op::WaitTwice { who, pick, any }),
        1 => (who.clone(), 0..RANKS).prop_map(|(who, to)| Op::PlainSend { who, to }),
        1 => who.prop_map(|who| Op::PlainRecv { who }),
    ]
}

/// A message sent on a communicator (index 0 or 1).
#[derive(Clone, Copy, Debug)]
struct Msg {
    from: usize,
    to: usize,
    comm: usize,
    tag: u32,
    len: u64,
    /// Its send request (an index of `Model::reqs`).
    sender: usize,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Send {
        msg: u32,
        synchronous: bool,
    },
    Recv {
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
        buf: u64,
        cap: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Req {
    owner: usize,
    handle: u64,
    kind: Kind,
    /// The message it was matched with.
    matched: Option<u32>,
    /// A standard send that completed before being matched (eager).
    eager: bool,
}

impl Req {
    fn accepts(&self, m: &Msg) -> bool {
        match self.kind {
            Kind::Recv {
                from, tag, comm, ..
            } => comm == m.comm && admits(from, m.from) && admits(tag, m.tag),
            Kind::Send { .. } => false,
        }
    }

    fn is_complete(&self) -> bool {
        self.matched.is_some() || self.eager
    }
}

#[derive(Clone, Copy, Debug)]
enum Blocked {
    /// In `waitall` on this request, or in a blocking receive (its internal request).
    Request(usize),
    Probe {
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
    },
}

struct Model {
    h: Harness,
    pids: Vec<Pid>,
    comms: [CommId; 2],
    msgs: BTreeMap<u32, Msg>,
    /// Messages sent and not yet matched, in arrival order.
    in_flight: Vec<u32>,
    /// Receives posted and not yet matched, in posting order.
    posted: Vec<usize>,
    reqs: Vec<Req>,
    /// Each rank's user requests not yet freed.
    live: Vec<Vec<usize>>,
    blocked: Vec<Option<Blocked>>,
    /// Plain messages queued: (id, from, to), in arrival order.
    plain: Vec<(u32, usize, usize)>,
    next_id: u32,
    next_buf: Vec<u64>,
}

/// Does `filter` (`None`: a wildcard) admit `value`?
fn admits<T: PartialEq>(filter: Option<T>, value: T) -> bool {
    match filter {
        None => true,
        Some(wanted) => wanted == value,
    }
}

fn rank(comm: usize, proc: usize) -> u32 {
    // Communicator 1 lists the processes in reverse: ranks differ.
    (if comm == 0 { proc } else { RANKS - 1 - proc }) as u32
}

fn payload(id: u32, len: u64) -> Vec<u8> {
    let mut bytes = vec![id as u8; len as usize];
    bytes[..4].copy_from_slice(&id.to_le_bytes());
    bytes
}

impl Model {
    fn new() -> Model {
        let mut h = Harness::new(Config {
            eager_limit: EAGER as usize,
            ..Config::default()
        });
        let pids: Vec<Pid> = (0..RANKS).map(|i| h.spawn(&format!("r{i}"), 1)).collect();
        let world = h.kernel.create_communicator(&pids).unwrap();
        let reversed: Vec<Pid> = pids.iter().rev().copied().collect();
        let other = h.kernel.create_communicator(&reversed).unwrap();
        Model {
            h,
            pids,
            comms: [world, other],
            msgs: BTreeMap::new(),
            in_flight: Vec::new(),
            posted: Vec::new(),
            reqs: Vec::new(),
            live: vec![Vec::new(); RANKS],
            blocked: vec![None; RANKS],
            plain: Vec::new(),
            next_id: 1,
            next_buf: vec![REQUEST_BUFS; RANKS],
        }
    }

    fn buffer(&mut self, who: usize) -> u64 {
        let buf = self.next_buf[who];
        self.next_buf[who] += 16;
        buf
    }

    /// A send arrives: the oldest posted receive that accepts it takes it.
    fn arrive(&mut self, id: u32) {
        let m = self.msgs[&id];
        let taker = self
            .posted
            .iter()
            .position(|&r| self.reqs[r].owner == m.to && self.reqs[r].accepts(&m));
        match taker {
            Some(i) => {
                let r = self.posted.remove(i);
                self.matched(r, id);
            }
            None => self.in_flight.push(id),
        }
    }

    /// A receive is posted: it takes the oldest message it accepts.
    fn post(&mut self, r: usize) {
        let owner = self.reqs[r].owner;
        let found = self.in_flight.iter().position(|id| {
            let m = &self.msgs[id];
            m.to == owner && self.reqs[r].accepts(m)
        });
        match found {
            Some(i) => {
                let id = self.in_flight.remove(i);
                self.matched(r, id);
            }
            None => self.posted.push(r),
        }
    }

    fn matched(&mut self, r: usize, id: u32) {
        self.reqs[r].matched = Some(id);
        let sender = self.msgs[&id].sender;
        self.reqs[sender].matched = Some(id);
    }

    /// The oldest unmatched message a probe by `who` accepts.
    fn probe_match(
        &self,
        who: usize,
        from: Option<usize>,
        tag: Option<u32>,
        comm: usize,
    ) -> Option<u32> {
        self.in_flight.iter().copied().find(|id| {
            let m = &self.msgs[id];
            m.to == who && m.comm == comm && admits(from, m.from) && admits(tag, m.tag)
        })
    }

    /// Checks the status registers of a completed request `r` (and its
    /// buffer): a receive too small for its message is truncated.
    fn check_done(&self, r: usize, regs: RetRegs) {
        let req = &self.reqs[r];
        let truncated = match req.kind {
            Kind::Recv { cap, .. } => req.matched.is_some_and(|id| self.msgs[&id].len > cap),
            Kind::Send { .. } => false,
        };
        let expected = truncated.then_some(Errno::EMSGSIZE);
        assert_eq!(
            Errno::from_number(regs[0]),
            expected,
            "request {req:?} completed with {:?}",
            Errno::from_number(regs[0])
        );
        match req.kind {
            Kind::Send { .. } => assert_eq!(MpiStatus::from_regs(regs), MpiStatus::default()),
            Kind::Recv { buf, cap, .. } => {
                let id = req.matched.expect("a completed receive was matched");
                let m = &self.msgs[&id];
                let status = MpiStatus::from_regs(regs);
                assert_eq!(
                    (status.source, status.tag, status.len),
                    (rank(m.comm, m.from), m.tag, m.len),
                    "status of {req:?}"
                );
                let copied = m.len.min(cap) as usize;
                assert_eq!(
                    self.h.peek(self.pids[req.owner], buf, copied),
                    payload(id, m.len)[..copied]
                );
            }
        }
    }

    fn check_probe(&self, id: u32, regs: RetRegs) {
        let m = &self.msgs[&id];
        let status = MpiStatus::from_regs(regs);
        assert_eq!(
            (status.source, status.tag, status.len),
            (rank(m.comm, m.from), m.tag, m.len)
        );
    }

    fn free(&mut self, who: usize, r: usize) {
        self.live[who].retain(|&x| x != r);
    }

    fn put_handle(&mut self, who: usize, handle: u64) {
        self.h.poke(self.pids[who], HANDLES, &handle.to_le_bytes());
    }

    fn handle_now(&self, who: usize) -> u64 {
        u64::from_le_bytes(self.h.peek(self.pids[who], HANDLES, 8).try_into().unwrap())
    }

    fn step(&mut self, op: &Op) {
        let who = match *op {
            Op::Isend { who, .. }
            | Op::Irecv { who, .. }
            | Op::Recv { who, .. }
            | Op::Wait { who, .. }
            | Op::Test { who, .. }
            | Op::Probe { who, .. }
            | Op::WaitNull { who, .. }
            | Op::WaitTwice { who, .. }
            | Op::PlainSend { who, .. }
            | Op::PlainRecv { who } => who,
        };
        if self.blocked[who].is_some() {
            return;
        }
        let pid = self.pids[who];
        match *op {
            Op::Isend {
                to,
                comm,
                tag,
                len,
                synchronous,
                ..
            } => {
                if self.live[who].len() >= MAX_LIVE {
                    return;
                }
                let (id, buf) = (self.next_id, self.buffer(who));
                self.next_id += 1;
                self.h.poke(pid, buf, &payload(id, len));
                let mode = if synchronous {
                    SendMode::Synchronous
                } else {
                    SendMode::Standard
                };
                let call = Syscall::Isend {
                    mode,
                    buf,
                    len,
                    dest: rank(comm, to),
                    tag,
                    comm: self.comms[comm],
                };
                let regs = done(self.h.call(pid, call));
                assert_eq!(regs[0], 0, "isend: {:?}", Errno::from_number(regs[0]));
                assert_ne!(regs[1], 0);
                let r = self.reqs.len();
                self.reqs.push(Req {
                    owner: who,
                    handle: regs[1],
                    kind: Kind::Send {
                        msg: id,
                        synchronous,
                    },
                    matched: None,
                    eager: false,
                });
                self.live[who].push(r);
                self.msgs.insert(
                    id,
                    Msg {
                        from: who,
                        to,
                        comm,
                        tag,
                        len,
                        sender: r,
                    },
                );
                self.arrive(id);
            }
            Op::Irecv {
                from,
                tag,
                comm,
                cap,
                ..
            }
            | Op::Recv {
                from,
                tag,
                comm,
                cap,
                ..
            } => {
                let blocking = matches!(op, Op::Recv { .. });
                if self.live[who].len() >= MAX_LIVE {
                    return;
                }
                let buf = self.buffer(who);
                let source = from.map_or(RankFilter::Any, |f| RankFilter::Rank(rank(comm, f)));
                let tagf = tag.map_or(TagFilter::Any, TagFilter::Tag);
                let comm_id = self.comms[comm];
                let call = if blocking {
                    Syscall::MpiRecv {
                        buf,
                        cap,
                        source,
                        tag: tagf,
                        comm: comm_id,
                    }
                } else {
                    Syscall::Irecv {
                        buf,
                        cap,
                        source,
                        tag: tagf,
                        comm: comm_id,
                    }
                };
                let outcome = self.h.call(pid, call);
                let r = self.reqs.len();
                self.reqs.push(Req {
                    owner: who,
                    handle: 0,
                    kind: Kind::Recv {
                        from,
                        tag,
                        comm,
                        buf,
                        cap,
                    },
                    matched: None,
                    eager: false,
                });
                self.post(r);
                if blocking {
                    if self.reqs[r].is_complete() {
                        self.check_done(r, done(outcome));
                    } else {
                        assert_eq!(outcome, Outcome::Blocked, "recv with nothing to take");
                        self.blocked[who] = Some(Blocked::Request(r));
                    }
                } else {
                    let regs = done(outcome);
                    assert_eq!(regs[0], 0);
                    self.reqs[r].handle = regs[1];
                    self.live[who].push(r);
                }
            }
            Op::Wait { pick, .. } | Op::Test { pick, .. } => {
                if self.live[who].is_empty() {
                    return;
                }
                let r = self.live[who][pick % self.live[who].len()];
                let handle = self.reqs[r].handle;
                self.put_handle(who, handle);
                let is_wait = matches!(op, Op::Wait { .. });
                let outcome = if is_wait {
                    self.h.call(
                        pid,
                        Syscall::Waitall {
                            handles: HANDLES,
                            count: 1,
                        },
                    )
                } else {
                    self.h.call(pid, Syscall::Test { handle: HANDLES })
                };
                let may_be_eager = matches!(self.reqs[r].kind, Kind::Send { synchronous: false, msg } if self.msgs[&msg].len <= EAGER);
                let completed = match outcome {
                    Outcome::Blocked => {
                        assert!(
                            is_wait && !self.reqs[r].is_complete(),
                            "wait blocked on a complete request"
                        );
                        self.blocked[who] = Some(Blocked::Request(r));
                        false
                    }
                    Outcome::Done(regs) => {
                        let flag = if is_wait { 1 } else { regs[1] };
                        if flag == 1 {
                            if !self.reqs[r].is_complete() {
                                assert!(may_be_eager, "{:?} completed unmatched", self.reqs[r]);
                                self.reqs[r].eager = true;
                            }
                            self.check_done(r, regs);
                            true
                        } else {
                            assert!(
                                self.reqs[r].matched.is_none(),
                                "test says a matched request is not done"
                            );
                            assert_eq!(regs[0], 0);
                            false
                        }
                    }
                    other => panic!("wait/test: {other:?}"),
                };
                if completed {
                    assert_eq!(
                        self.handle_now(who),
                        0,
                        "a freed request's handle is nulled"
                    );
                    self.free(who, r);
                }
            }
            Op::Probe {
                from,
                tag,
                comm,
                blocking,
                ..
            } => {
                let source = from.map_or(RankFilter::Any, |f| RankFilter::Rank(rank(comm, f)));
                let tagf = tag.map_or(TagFilter::Any, TagFilter::Tag);
                let comm_id = self.comms[comm];
                let found = self.probe_match(who, from, tag, comm);
                if blocking {
                    let outcome = self.h.call(
                        pid,
                        Syscall::Probe {
                            source,
                            tag: tagf,
                            comm: comm_id,
                        },
                    );
                    match found {
                        Some(id) => self.check_probe(id, done(outcome)),
                        None => {
                            assert_eq!(outcome, Outcome::Blocked);
                            self.blocked[who] = Some(Blocked::Probe { from, tag, comm });
                        }
                    }
                } else {
                    let regs = done(self.h.call(
                        pid,
                        Syscall::Iprobe {
                            source,
                            tag: tagf,
                            comm: comm_id,
                        },
                    ));
                    assert_eq!(regs[0], 0);
                    match found {
                        Some(id) => {
                            assert_eq!(regs[1], 1);
                            self.check_probe(id, regs);
                        }
                        None => {
                            assert_eq!(regs[1], 0, "iprobe found a message the model does not have")
                        }
                    }
                }
            }
            Op::WaitNull { call, .. } => {
                self.put_handle(who, 0);
                let (handles, count) = (HANDLES, 1);
                let (call, value) = match call {
                    0 => (Syscall::Waitall { handles, count }, 1),
                    1 => (Syscall::Test { handle: HANDLES }, 1),
                    _ => (Syscall::Waitany { handles, count }, u64::MAX),
                };
                let regs = done(self.h.call(pid, call));
                assert_eq!(regs, MpiStatus::EMPTY.to_regs(value), "{call:?} of null");
            }
            Op::WaitTwice { pick, any, .. } => {
                if self.live[who].is_empty() {
                    return;
                }
                let r = self.live[who][pick % self.live[who].len()];
                let handle = self.reqs[r].handle;
                let mut twice = handle.to_le_bytes().to_vec();
                twice.extend_from_slice(&handle.to_le_bytes());
                self.h.poke(pid, HANDLES, &twice);
                let (handles, count) = (HANDLES, 2);
                let call = if any {
                    Syscall::Waitany { handles, count }
                } else {
                    Syscall::Waitall { handles, count }
                };
                let regs = done(self.h.call(pid, call));
                assert_eq!(
                    (Errno::from_number(regs[0]), regs[1]),
                    (Some(Errno::EINVAL), 1),
                    "{call:?} naming {handle:#x} twice"
                );
                assert_eq!(self.h.peek(pid, HANDLES, 16), twice, "no handle nulled");
            }
            Op::PlainSend { to, .. } => {
                if to == who {
                    return;
                }
                let id = PLAIN | self.next_id;
                self.next_id += 1;
                self.h.poke(pid, PLAIN_BUF, &payload(id, 4));
                let call = Syscall::Send {
                    to: self.pids[to],
                    buf: PLAIN_BUF,
                    len: 4,
                    tag: 0,
                    timeout: Timeout::NonBlocking,
                };
                let regs = done(self.h.call(pid, call));
                match Errno::from_number(regs[0]) {
                    None => self.plain.push((id, who, to)),
                    Some(Errno::EAGAIN) => {}
                    Some(e) => panic!("plain send: {e:?}"),
                }
            }
            Op::PlainRecv { .. } => {
                let call = Syscall::Recv {
                    from: Source::Any,
                    tag: TagFilter::Any,
                    buf: PLAIN_BUF,
                    cap: 16,
                    timeout: Timeout::NonBlocking,
                };
                let regs = done(self.h.call(pid, call));
                let queued = self.plain.iter().any(|&(_, _, to)| to == who);
                match (Errno::from_number(regs[0]), queued) {
                    (None, true) => {
                        let got =
                            u32::from_le_bytes(self.h.peek(pid, PLAIN_BUF, 4).try_into().unwrap());
                        assert!(got & PLAIN != 0, "a plain receive got an MPI message");
                        // The oldest plain message to `who` from the same sender.
                        let j = self
                            .plain
                            .iter()
                            .position(|&(id, _, _)| id == got)
                            .expect("a queued plain message");
                        let from = self.plain[j].1;
                        let oldest = self
                            .plain
                            .iter()
                            .position(|&(_, f, to)| to == who && f == from)
                            .unwrap();
                        assert_eq!(j, oldest, "a plain message overtook an older one");
                        self.plain.remove(j);
                    }
                    (Some(Errno::EAGAIN), false) => {}
                    other => panic!("plain recv: {other:?} with {:?} queued", self.plain),
                }
            }
        }
        self.settle();
    }

    /// Blocked ranks whose wait the model says is over must have their result; the others none.
    fn settle(&mut self) {
        for who in 0..RANKS {
            let Some(blocked) = self.blocked[who] else {
                continue;
            };
            let pid = self.pids[who];
            match blocked {
                Blocked::Request(r) => {
                    if self.reqs[r].matched.is_some() {
                        let regs = self
                            .h
                            .completion(pid)
                            .expect("a matched request wakes its waiter");
                        self.check_done(r, regs);
                        if self.reqs[r].handle != 0 {
                            assert_eq!(self.handle_now(who), 0);
                            self.free(who, r);
                        }
                        self.blocked[who] = None;
                    } else {
                        assert_eq!(self.h.completion(pid), None, "woke without a match");
                    }
                }
                Blocked::Probe { from, tag, comm } => {
                    match self.probe_match(who, from, tag, comm) {
                        Some(id) => {
                            let regs = self
                                .h
                                .completion(pid)
                                .expect("a matching message wakes the probe");
                            self.check_probe(id, regs);
                            self.blocked[who] = None;
                        }
                        None => assert_eq!(self.h.completion(pid), None),
                    }
                }
            }
        }
    }

    /// At the end: every message whose receive was matched was delivered
    /// once; every unmatched one is still offered to a probe.
    fn finish(&self) {
        let matched = self
            .reqs
            .iter()
            .filter(|r| matches!(r.kind, Kind::Recv { .. }) && r.matched.is_some())
            .count();
        assert_eq!(
            matched + self.in_flight.len(),
            self.msgs.len(),
            "each message matched once or still in flight"
        );
        for &id in &self.in_flight {
            let m = &self.msgs[&id];
            assert!(self
                .probe_match(m.to, Some(m.from), Some(m.tag), m.comm)
                .is_some());
        }
    }
}

fn done(outcome: Outcome) -> RetRegs {
    match outcome {
        Outcome::Done(regs) => regs,
        other => panic!("expected a completed call, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn mpi_matching_agrees_with_the_reference_model(ops in prop::collection::vec(op(), 1..32)) {
        let mut model = Model::new();
        for op in &ops {
            model.step(op);
        }
        model.finish();
    }
}
