//! Unit tests of the MPI model, each driving a small `COMM_WORLD` through the syscalls.
//!
//! Each test checks one rule of the model (eager limit, send modes,
//! requests, matching order, probe, exit, the canonical encoding) by what
//! the processes get back and what the kernel reports.

use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RankFilter, SendMode, Source, Syscall, TagFilter, Timeout,
};

use crate::testing::*;
use crate::{BlockReason, MpiCall, Policy, RequestKind, TrapOutcome};

const W: CommId = CommId::WORLD;
const REQ: u64 = 1024;

fn world(ranks: usize, f: impl FnOnce(&mut crate::Config)) -> (World, std::vec::Vec<Pid>) {
    let mut w = World::with(f);
    let pids: std::vec::Vec<Pid> = (0..ranks).map(|_| w.spawn(1)).collect();
    assert_eq!(w.k.create_communicator(&pids), Ok(W));
    (w, pids)
}

fn send(w: &mut World, p: Pid, mode: SendMode, dest: u32, bytes: &[u8], tag: u32) -> TrapOutcome {
    w.write(p, SEND_BUF, bytes);
    w.call(
        p,
        Syscall::MpiSend {
            mode,
            buf: SEND_BUF,
            len: bytes.len() as u64,
            dest,
            tag,
            comm: W,
        },
    )
}

fn isend(w: &mut World, p: Pid, mode: SendMode, dest: u32, bytes: &[u8], tag: u32) -> u64 {
    w.write(p, SEND_BUF, bytes);
    ok(w.call(
        p,
        Syscall::Isend {
            mode,
            buf: SEND_BUF,
            len: bytes.len() as u64,
            dest,
            tag,
            comm: W,
        },
    ))
}

fn recv(w: &mut World, p: Pid, source: RankFilter, tag: TagFilter, cap: u64) -> TrapOutcome {
    w.call(
        p,
        Syscall::MpiRecv {
            buf: RECV_BUF,
            cap,
            source,
            tag,
            comm: W,
        },
    )
}

fn irecv(w: &mut World, p: Pid, source: RankFilter, cap: u64) -> u64 {
    ok(w.call(
        p,
        Syscall::Irecv {
            buf: RECV_BUF,
            cap,
            source,
            tag: TagFilter::Any,
            comm: W,
        },
    ))
}

fn wait(w: &mut World, p: Pid, handle: u64) -> TrapOutcome {
    w.write(p, REQ, &handle.to_le_bytes());
    w.call(
        p,
        Syscall::Waitall {
            handles: REQ,
            count: 1,
        },
    )
}

#[test]
fn rank_and_size_come_from_the_communicator() {
    let (mut w, p) = world(3, |_| {});
    assert_eq!(ok(w.call(p[2], Syscall::CommRank { comm: W })), 2);
    assert_eq!(ok(w.call(p[0], Syscall::CommSize { comm: W })), 3);
    assert_eq!(
        failed(w.call(p[0], Syscall::CommSize { comm: CommId(2) })),
        Errno::EINVAL
    );
}

#[test]
fn a_standard_send_below_the_eager_limit_completes_at_once_and_the_status_names_the_rank() {
    let (mut w, p) = world(2, |_| {});
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"hi", 7));
    assert_eq!(w.k.mpi_messages().len(), 1);
    let regs = done(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
    let status = MpiStatus::from_regs(regs);
    assert_eq!((status.source, status.tag, status.len), (0, 7, 2));
    assert_eq!(w.read(p[1], RECV_BUF, 2), b"hi");
}

#[test]
fn head_to_head_sends_deadlock_above_the_eager_limit_and_complete_below_it() {
    for (limit, deadlocks) in [(64, false), (4, true), (0, true)] {
        let (mut w, p) = world(2, |c| c.eager_limit = limit);
        let a = send(&mut w, p[0], SendMode::Standard, 1, &[1; 8], 0);
        let b = send(&mut w, p[1], SendMode::Standard, 0, &[2; 8], 0);
        if deadlocks {
            assert!(matches!(
                a,
                TrapOutcome::Blocked(BlockReason::Mpi {
                    call: MpiCall::Send(SendMode::Standard),
                    peer: Source::Pid(_),
                    ..
                })
            ));
            blocked(b);
        } else {
            ok(a);
            ok(b);
        }
    }
}

#[test]
fn a_synchronous_send_never_goes_eager_and_completes_when_the_receive_matches() {
    let (mut w, p) = world(2, |_| {});
    blocked(send(&mut w, p[0], SendMode::Synchronous, 1, b"x", 0));
    assert!(w.k.mpi_messages().is_empty());
    ok(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8));
    assert_eq!(w.completion(p[0])[0], 0);
}

#[test]
fn a_ready_send_without_a_posted_receive_is_enorecv_and_with_one_is_delivered() {
    let (mut w, p) = world(2, |_| {});
    assert_eq!(
        failed(send(&mut w, p[0], SendMode::Ready, 1, b"x", 0)),
        Errno::ENORECV
    );
    let r = irecv(&mut w, p[1], RankFilter::Rank(0), 8);
    ok(send(&mut w, p[0], SendMode::Ready, 1, b"y", 0));
    let regs = done(wait(&mut w, p[1], r));
    assert_eq!(MpiStatus::from_regs(regs).len, 1);
    assert_eq!(w.read(p[1], RECV_BUF, 1), b"y");
    assert_eq!(w.read(p[1], REQ, 8), 0u64.to_le_bytes(), "handle nulled");
}

#[test]
fn a_buffered_send_needs_attached_space_and_reports_the_sizes() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    let regs = done(send(&mut w, p[0], SendMode::Buffered, 1, &[5; 16], 0));
    assert_eq!(errno(regs), Some(Errno::ENOBUFS));
    assert_eq!((regs[1], regs[2], regs[3]), (16, 0, 0), "none attached");
    ok(w.call(
        p[0],
        Syscall::BufferAttach {
            addr: 512,
            size: 24,
        },
    ));
    ok(send(&mut w, p[0], SendMode::Buffered, 1, &[5; 16], 0));
    let regs = done(send(&mut w, p[0], SendMode::Buffered, 1, &[6; 16], 0));
    assert_eq!(
        (errno(regs), regs[1], regs[2], regs[3]),
        (Some(Errno::ENOBUFS), 16, 8, 24),
        "needed, the largest gap, the size attached"
    );
    // Detach waits for the buffered message to be received.
    blocked(w.call(p[0], Syscall::BufferDetach));
    ok(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 16));
    assert_eq!(w.read(p[1], RECV_BUF, 16), [5; 16]);
    assert_eq!(w.completion(p[0]), [0, 512, 24, 0]);
}

#[test]
fn an_isend_request_completes_when_matched_and_test_reports_it() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    let h = isend(&mut w, p[0], SendMode::Standard, 1, b"abc", 1);
    w.write(p[0], REQ, &h.to_le_bytes());
    assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 0);
    assert_eq!(w.k.owned_buffers(p[0]).count(), 1);
    ok(recv(&mut w, p[1], RankFilter::Any, TagFilter::Tag(1), 8));
    // Complete but not yet freed: the buffer is still the kernel's.
    assert_eq!(w.k.owned_buffers(p[0]).count(), 1);
    assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 1);
    assert_eq!(w.k.owned_buffers(p[0]).count(), 0);
    // The handle is null now; a stale handle is EBADRQC.
    w.write(p[0], REQ, &h.to_le_bytes());
    assert_eq!(
        failed(w.call(p[0], Syscall::Test { handle: REQ })),
        Errno::EBADRQC
    );
}

#[test]
fn a_wait_on_a_pending_request_names_its_partner() {
    let (mut w, p) = world(2, |_| {});
    let h = irecv(&mut w, p[1], RankFilter::Rank(0), 8);
    assert_eq!(
        wait(&mut w, p[1], h),
        TrapOutcome::Blocked(BlockReason::Mpi {
            call: MpiCall::Wait,
            request: Some(RequestKind::Recv),
            peer: Source::Pid(p[0]),
            tag: TagFilter::Any,
        })
    );
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"z", 3));
    assert_eq!(MpiStatus::from_regs(w.completion(p[1])).tag, 3);
}

#[test]
fn any_source_takes_the_oldest_arrival_and_each_pair_stays_in_order() {
    let (mut w, p) = world(3, |c| c.eager_limit = 8);
    ok(send(&mut w, p[2], SendMode::Standard, 0, b"c1", 0));
    ok(send(&mut w, p[1], SendMode::Standard, 0, b"b1", 0));
    ok(send(&mut w, p[2], SendMode::Standard, 0, b"c2", 0));
    let order: std::vec::Vec<u32> = (0..3)
        .map(|_| {
            MpiStatus::from_regs(done(recv(&mut w, p[0], RankFilter::Any, TagFilter::Any, 8)))
                .source
        })
        .collect();
    assert_eq!(order, [2, 1, 2]);
}

#[test]
fn mpi_and_plain_messages_never_match_each_other() {
    let (mut w, p) = world(2, |_| {});
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"m", 0));
    assert_eq!(
        failed(w.recv(p[1], Source::Any, TagFilter::Any, 8, Timeout::NonBlocking)),
        Errno::EAGAIN
    );
    ok(w.send(p[0], p[1], b"p", 0, Timeout::Never));
    let regs = done(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(w.read(p[1], RECV_BUF, 1), b"m");
    assert_eq!(MpiStatus::from_regs(regs).len, 1);
}

#[test]
fn probe_blocks_until_a_message_is_there_and_iprobe_only_looks() {
    let (mut w, p) = world(2, |_| {});
    let probe = Syscall::Iprobe {
        source: RankFilter::Any,
        tag: TagFilter::Any,
        comm: W,
    };
    assert_eq!(ok(w.call(p[1], probe)), 0);
    blocked(w.call(
        p[1],
        Syscall::Probe {
            source: RankFilter::Rank(0),
            tag: TagFilter::Any,
            comm: W,
        },
    ));
    ok(send(&mut w, p[0], SendMode::Standard, 1, &[0; 24], 4));
    assert_eq!(MpiStatus::from_regs(w.completion(p[1])).len, 24);
    assert_eq!(ok(w.call(p[1], probe)), 1);
    assert_eq!(w.k.mpi_messages().len(), 1, "probing receives nothing");
}

#[test]
fn exit_cancels_requests_and_notify_wakes_partners_with_edeadpeer() {
    let (mut w, p) = world(3, |c| {
        c.policy = Policy::Notify;
        c.eager_limit = 0;
    });
    isend(&mut w, p[0], SendMode::Standard, 1, b"x", 0);
    blocked(recv(&mut w, p[2], RankFilter::Rank(0), TagFilter::Any, 8));
    w.exit(p[0], 0);
    assert_eq!(w.k.requests().count(), 0);
    assert_eq!(errno(w.completion(p[2])), Some(Errno::EDEADPEER));
    assert_eq!(
        failed(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8)),
        Errno::EDEADPEER
    );
}

#[test]
fn the_mpi_state_survives_a_canonical_round_trip() {
    let (mut w, p) = world(2, |c| c.eager_limit = 2);
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"a", 0));
    isend(&mut w, p[0], SendMode::Synchronous, 1, b"bb", 0);
    irecv(&mut w, p[0], RankFilter::Rank(1), 8);
    let mut bytes = std::vec::Vec::new();
    w.k.encode_canonical(&mut |b: &[u8]| bytes.extend_from_slice(b));
    let mut fresh = World::with(|c| c.eager_limit = 2);
    fresh.spawn(1);
    fresh.spawn(1);
    fresh.k.restore_canonical(&bytes).unwrap();
    fresh.check();
    let mut again = std::vec::Vec::new();
    fresh
        .k
        .encode_canonical(&mut |b: &[u8]| again.extend_from_slice(b));
    assert_eq!(again, bytes);
    // Order survives: "a" then "bb".
    ok(recv(
        &mut fresh,
        p[1],
        RankFilter::Rank(0),
        TagFilter::Any,
        8,
    ));
    assert_eq!(fresh.read(p[1], RECV_BUF, 1), b"a");
}

#[test]
fn under_classic_a_send_to_a_terminated_rank_is_reported_undeliverable_not_queued() {
    let (mut w, p) = world(3, |c| c.buffer_slots = 1);
    w.exit(p[1], 0);
    // Standard, fits the eager limit: completes, and the message is
    // reported, as a plain send to the dead is; the slot stays free.
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"x", 0));
    assert!(w.k.mpi_messages().is_empty());
    assert_eq!(w.k.stats().undeliverable, 1);
    assert!(w
        .events()
        .iter()
        .any(|e| matches!(e, crate::Event::Undeliverable { .. })));
    w.write(p[0], SEND_BUF, b"y");
    ok(w.call(
        p[0],
        Syscall::Send {
            to: p[2],
            buf: SEND_BUF,
            len: 1,
            tag: 0,
            timeout: Timeout::NonBlocking,
        },
    ));
    // Buffered: accepted into the attached buffer, reported at once, and
    // the buffer is free again.
    ok(w.call(
        p[0],
        Syscall::BufferAttach {
            addr: 512,
            size: 64,
        },
    ));
    ok(send(&mut w, p[0], SendMode::Buffered, 1, b"z", 0));
    assert_eq!(w.k.stats().undeliverable, 2);
    assert_eq!(w.k.requests().count(), 0);
}

#[test]
fn a_buffered_message_whose_receiver_exits_is_reported_under_either_policy() {
    for policy in [Policy::Classic, Policy::Notify] {
        let (mut w, p) = world(2, |c| {
            c.policy = policy;
            c.eager_limit = 0;
        });
        ok(w.call(
            p[0],
            Syscall::BufferAttach {
                addr: 512,
                size: 64,
            },
        ));
        ok(send(&mut w, p[0], SendMode::Buffered, 1, b"z", 0));
        assert_eq!(w.k.requests().count(), 1);
        w.exit(p[1], 0);
        assert_eq!(w.k.requests().count(), 0, "{policy:?}");
        assert_eq!(w.k.stats().undeliverable, 1, "{policy:?}");
        // Nothing left to wait for: detach returns at once.
        ok(w.call(p[0], Syscall::BufferDetach));
    }
}

#[test]
fn a_bsend_refused_for_a_full_request_table_copies_nothing() {
    let (mut w, p) = world(9, |c| c.eager_limit = 0);
    // Eight ranks post 16 receives each: the table's 128 entries.
    for &rank in &p[1..] {
        for _ in 0..16 {
            irecv(&mut w, rank, RankFilter::Rank(0), 8);
        }
    }
    ok(w.call(
        p[0],
        Syscall::BufferAttach {
            addr: 512,
            size: 64,
        },
    ));
    let memory = w.read(p[0], 512, 64);
    let stats = *w.k.stats();
    assert_eq!(
        failed(send(&mut w, p[0], SendMode::Buffered, 1, b"z", 9)),
        Errno::ENOSPC
    );
    assert_eq!(w.read(p[0], 512, 64), memory);
    assert_eq!(w.k.stats().copies_user_to_user, stats.copies_user_to_user);
    assert_eq!(w.k.stats().bytes_copied, stats.bytes_copied);
}

#[test]
fn a_blocking_mpi_call_refused_with_edeadlk_changes_nothing() {
    let (mut w, p) = world(2, |c| {
        c.refuse_deadlock = true;
        c.eager_limit = 0;
    });
    // p0 waits for a message from p1; p1 receiving from p0 closes the cycle.
    blocked(recv(&mut w, p[0], RankFilter::Rank(1), TagFilter::Any, 8));
    w.run(p[1]);
    let before = w.k.clone();
    assert_eq!(
        failed(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8)),
        Errno::EDEADLK
    );
    let mut after = w.k.clone();
    after.stats = before.stats;
    assert!(after == before, "a refused call changes nothing");
    // The next request gets the handle it would have got anyway: slot 1
    // (p0's receive holds slot 0), first generation.
    let handle = irecv(&mut w, p[1], RankFilter::Rank(0), 8);
    assert_eq!(handle, ipclab_syscalls::RequestHandle::new(1, 1).0);
    // A blocking send to p0 is no deadlock: p0's posted receive takes it.
    ok(send(&mut w, p[1], SendMode::Synchronous, 0, b"12345678", 1));
}

/// `waitall` or `waitany` on `handles`, written at `REQ`.
fn wait_on(w: &mut World, p: Pid, handles: &[u64], any: bool) -> TrapOutcome {
    for (i, h) in handles.iter().enumerate() {
        w.write(p, REQ + 8 * i as u64, &h.to_le_bytes());
    }
    let (handles, count) = (REQ, handles.len() as u64);
    w.call(
        p,
        if any {
            Syscall::Waitany { handles, count }
        } else {
            Syscall::Waitall { handles, count }
        },
    )
}

#[test]
fn a_request_named_twice_in_one_wait_is_einval_and_changes_nothing() {
    for any in [false, true] {
        for eager in [true, false] {
            // Eager: the send is complete before the wait; otherwise pending.
            let (mut w, p) = world(2, |c| c.eager_limit = if eager { 8 } else { 0 });
            let h = isend(&mut w, p[0], SendMode::Standard, 1, b"x", 0);
            w.write(p[0], REQ, &h.to_le_bytes());
            w.write(p[0], REQ + 8, &0u64.to_le_bytes());
            w.write(p[0], REQ + 16, &h.to_le_bytes());
            w.run(p[0]);
            let (kernel, memory) = (w.k.clone(), w.mem.clone());
            let regs = done(w.call(
                p[0],
                if any {
                    Syscall::Waitany {
                        handles: REQ,
                        count: 3,
                    }
                } else {
                    Syscall::Waitall {
                        handles: REQ,
                        count: 3,
                    }
                },
            ));
            assert_eq!(errno(regs), Some(Errno::EINVAL), "any {any}, eager {eager}");
            assert_eq!(regs[1], 2, "r1 is the index of the second naming");
            let mut after = w.k.clone();
            after.stats = kernel.stats;
            assert!(after == kernel, "a refused wait changes nothing");
            assert!(w.mem == memory, "no handle is nulled");
            // The request is still there, and one wait on it works.
            if !eager {
                ok(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8));
            }
            ok(wait_on(&mut w, p[0], &[h], any));
            assert_eq!(w.read(p[0], REQ, 8), 0u64.to_le_bytes());
            w.check();
        }
    }
}

fn irecv_into(w: &mut World, p: Pid, buf: u64, cap: u64) -> u64 {
    ok(w.call(
        p,
        Syscall::Irecv {
            buf,
            cap,
            source: RankFilter::Any,
            tag: TagFilter::Any,
            comm: W,
        },
    ))
}

#[test]
fn a_message_too_long_for_the_first_posted_receive_truncates_there_and_the_second_stays_posted() {
    // Eager or rendezvous, the send meets the oldest posted receive.
    for limit in [64, 0] {
        let (mut w, p) = world(2, |c| c.eager_limit = limit);
        let small = irecv_into(&mut w, p[1], RECV_BUF, 4);
        let big = irecv_into(&mut w, p[1], RECV_BUF + 64, 32);
        w.write(p[1], RECV_BUF, &[0xee; 8]);
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"abcdefgh", 5));
        let regs = done(wait(&mut w, p[1], small));
        assert_eq!(errno(regs), Some(Errno::EMSGSIZE), "limit {limit}");
        let status = MpiStatus::from_regs(regs);
        assert_eq!((status.source, status.tag, status.len), (0, 5, 8));
        assert_eq!(
            w.read(p[1], RECV_BUF, 8),
            b"abcd\xee\xee\xee\xee",
            "the part that fits, nothing past the buffer"
        );
        assert!(w.k.mpi_messages().is_empty(), "the message is consumed");
        assert_eq!(w.k.stats().delivered, 1);
        assert!(w.events().iter().any(|e| matches!(
            e,
            crate::Event::Truncated {
                len: 8,
                copied: 4,
                ..
            }
        )));
        // The second receive was not given the message: still posted.
        w.write(p[1], REQ, &big.to_le_bytes());
        assert_eq!(ok(w.call(p[1], Syscall::Test { handle: REQ })), 0);
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"next", 6));
        let status = MpiStatus::from_regs(done(wait(&mut w, p[1], big)));
        assert_eq!((status.tag, status.len), (6, 4));
    }
}

#[test]
fn a_blocking_mpi_recv_too_small_for_the_oldest_match_takes_it_truncated() {
    // Queued eager, or a pending rendezvous sender that the receive frees.
    for limit in [64, 0] {
        let (mut w, p) = world(2, |c| c.eager_limit = limit);
        let first = send(&mut w, p[0], SendMode::Standard, 1, b"0123456789", 1);
        let regs = done(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 3));
        assert_eq!(errno(regs), Some(Errno::EMSGSIZE));
        assert_eq!(MpiStatus::from_regs(regs).len, 10);
        assert_eq!(w.read(p[1], RECV_BUF, 3), b"012");
        if limit == 0 {
            blocked(first);
            assert_eq!(w.completion(p[0])[0], 0, "the sender's send completes");
        } else {
            ok(first);
        }
        assert!(w.k.mpi_messages().is_empty());
        assert_eq!(w.k.requests().count(), 0);
        // The next receive gets the next message, not the truncated one.
        let next = irecv_into(&mut w, p[1], RECV_BUF, 8);
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"b", 2));
        assert_eq!(MpiStatus::from_regs(done(wait(&mut w, p[1], next))).tag, 2);
        w.check();
    }
}

#[test]
fn a_truncated_request_reports_its_index_to_waitany_and_its_flag_to_test() {
    let (mut w, p) = world(2, |_| {});
    let other = irecv_into(&mut w, p[1], RECV_BUF + 64, 8);
    // `other` takes anything: the truncating receive is posted behind it,
    // so the first message goes to `other`, the second to the small one.
    let small = irecv_into(&mut w, p[1], RECV_BUF, 1);
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"a", 0));
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"long", 0));
    ok(wait(&mut w, p[1], other));
    let regs = done(wait_on(&mut w, p[1], &[0, small], true));
    assert_eq!((errno(regs), regs[1]), (Some(Errno::EMSGSIZE), 1));
    assert_eq!(
        w.read(p[1], REQ + 8, 8),
        0u64.to_le_bytes(),
        "freed, nulled"
    );
    let small = irecv_into(&mut w, p[1], RECV_BUF, 1);
    ok(send(&mut w, p[0], SendMode::Standard, 1, b"long", 0));
    w.write(p[1], REQ, &small.to_le_bytes());
    let regs = done(w.call(p[1], Syscall::Test { handle: REQ }));
    assert_eq!((errno(regs), regs[1]), (Some(Errno::EMSGSIZE), 1));
    assert_eq!(MpiStatus::from_regs(regs).len, 4);
}

#[test]
fn a_null_request_completes_at_once_with_the_empty_status() {
    let (mut w, p) = world(1, |_| {});
    let empty = MpiStatus::EMPTY;
    assert_eq!(
        (empty.source, empty.tag, empty.len),
        (u32::MAX, u32::MAX, 0)
    );
    // MPI_Wait, MPI_Waitall and MPI_Test of null handles; MPI_Waitany's
    // index is MPI_UNDEFINED (u64::MAX).
    for (any, handles, value) in [
        (false, &[0u64][..], 1),
        (false, &[0, 0][..], 2),
        (false, &[][..], 0),
        (true, &[0, 0][..], u64::MAX),
    ] {
        let regs = done(wait_on(&mut w, p[0], handles, any));
        assert_eq!(regs, empty.to_regs(value), "{any} {handles:?}");
        let status = MpiStatus::from_regs(regs);
        assert!(status.is_empty());
        assert_eq!(status.source_filter(), RankFilter::Any);
        assert_eq!(status.tag_filter(), TagFilter::Any);
    }
    w.write(p[0], REQ, &0u64.to_le_bytes());
    let regs = done(w.call(p[0], Syscall::Test { handle: REQ }));
    assert_eq!(regs, empty.to_regs(1), "flag 1, the empty status");
    // A real status is never taken for the empty one, even with tag u32::MAX.
    let real = MpiStatus {
        source: 0,
        tag: u32::MAX,
        len: 8,
    };
    assert!(!real.is_empty());
    assert_eq!(real.tag_filter(), TagFilter::Tag(u32::MAX));
}

#[test]
fn a_pending_send_of_an_exiting_rank_is_traced_send_cancelled_not_undeliverable() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    isend(&mut w, p[0], SendMode::Standard, 1, b"never", 0);
    let before = *w.k.stats();
    w.exit(p[0], 0);
    let events = w.events();
    assert!(events.iter().any(|e| matches!(
        e,
        crate::Event::SendCancelled { from, .. } if *from == p[0]
    )));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, crate::Event::Undeliverable { .. })),
        "never accepted: not undeliverable"
    );
    let after = w.k.stats();
    assert_eq!(
        (after.accepted, after.undeliverable),
        (before.accepted, before.undeliverable)
    );
    // Counted on its own: never received, and not lost unreported.
    assert_eq!(after.cancelled, before.cancelled + 1);
}

#[test]
fn a_blocking_send_takes_no_new_generation_and_a_stale_handle_stays_stale() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    // A user request in slot 0, completed and freed: its handle is stale.
    let h = isend(&mut w, p[0], SendMode::Standard, 1, b"abc", 1);
    ok(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
    w.write(p[0], REQ, &h.to_le_bytes());
    assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 1);
    // A blocking send's internal request takes slot 0 again, without a
    // new generation: nobody gets a handle to it, and its owner, blocked
    // in the send, can name no request while it lives.
    let generation = |w: &World| w.k.mpi.requests[0].generation;
    let before = generation(&w);
    blocked(send(&mut w, p[0], SendMode::Standard, 1, b"def", 2));
    assert!(
        w.k.mpi.requests[0].request.is_some(),
        "the send holds slot 0"
    );
    assert_eq!(generation(&w), before);
    ok(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(w.completion(p[0])[0], 0);
    // The program kept a copy of the old handle: the next user request in
    // the slot takes another generation, and the copy is still refused.
    w.write(p[0], KEPT, &h.to_le_bytes());
    let again = isend(&mut w, p[0], SendMode::Standard, 1, b"ghi", 3);
    assert_ne!(again, h);
    w.write(p[0], REQ, &h.to_le_bytes());
    assert_eq!(
        failed(w.call(p[0], Syscall::Test { handle: REQ })),
        Errno::EBADRQC
    );
}

/// Where a test program keeps a copy of a handle.
const KEPT: u64 = REQ + 64;

#[test]
fn a_request_started_and_waited_for_in_a_loop_comes_back_to_the_same_handle() {
    // The wait nulls the only copy of the handle, so the next round's
    // request is the same slot and generation: the kernel state repeats,
    // and the checker sees the loop as a loop.
    let (mut w, p) = world(2, |_| {});
    let mut handles = std::vec::Vec::new();
    for round in 0..3u8 {
        let h = isend(&mut w, p[0], SendMode::Standard, 1, &[round], 1);
        ok(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
        w.write(p[0], REQ, &h.to_le_bytes());
        assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 1);
        assert_eq!(w.read(p[0], REQ, 8), 0u64.to_le_bytes(), "handle nulled");
        handles.push(h);
    }
    assert!(handles.windows(2).all(|h| h[0] == h[1]), "{handles:?}");
    // A copy kept anywhere in the owner's memory makes the next one new.
    w.write(p[0], KEPT + 8, &handles[0].to_le_bytes());
    let next = isend(&mut w, p[0], SendMode::Standard, 1, b"x", 1);
    assert_ne!(next, handles[0]);
}

#[test]
fn an_ibsend_gives_a_request_complete_at_once_that_guards_the_callers_buffer_until_its_wait() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    ok(w.call(
        p[0],
        Syscall::BufferAttach {
            addr: 512,
            size: 64,
        },
    ));
    let handle = isend(&mut w, p[0], SendMode::Buffered, 1, b"hi", 3);
    assert_ne!(
        handle, 0,
        "MPI_Ibsend gives a request, as every nonblocking send does"
    );
    // Two entries: the buffered message and the caller's request.
    assert_eq!(w.k.requests().count(), 2);
    let owned: std::vec::Vec<_> = w.k.owned_buffers(p[0]).map(|b| (b.addr, b.len)).collect();
    assert!(owned.contains(&(SEND_BUF, 2)), "{owned:?}");
    // Complete already: the wait returns at once, before any receive.
    done(wait(&mut w, p[0], handle));
    assert_eq!(w.k.requests().count(), 1, "the buffered message stays");
    assert!(w.k.owned_buffers(p[0]).all(|b| b.addr != SEND_BUF));
    let regs = done(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(MpiStatus::from_regs(regs).tag, 3);
    assert_eq!(w.read(p[1], RECV_BUF, 2), b"hi");
    w.k.check_invariants().expect("invariants hold");
}

#[test]
fn an_ibsend_at_the_request_limit_is_emfile_and_buffers_nothing() {
    let (mut w, p) = world(2, |c| c.eager_limit = 0);
    ok(w.call(
        p[0],
        Syscall::BufferAttach {
            addr: 512,
            size: 256,
        },
    ));
    for _ in 0..crate::config::MAX_REQUESTS_PER_PROCESS {
        isend(&mut w, p[0], SendMode::Buffered, 1, b"z", 0);
    }
    let before = w.k.requests().count();
    w.write(p[0], SEND_BUF, b"z");
    let regs = w.call(
        p[0],
        Syscall::Isend {
            mode: SendMode::Buffered,
            buf: SEND_BUF,
            len: 1,
            dest: 1,
            tag: 0,
            comm: W,
        },
    );
    assert_eq!(failed(regs), Errno::EMFILE);
    assert_eq!(w.k.requests().count(), before, "nothing buffered");
}
