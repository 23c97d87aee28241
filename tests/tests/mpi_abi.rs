//! Integration tests for MPI point-to-point: the kernel seen from user space, through the syscall ABI only.
//!
//! Each rule of `docs/mpi.md` once: the four send modes, requests (isend,
//! irecv, wait, test, waitany, waitall), probe and iprobe, the wildcards,
//! communicators that never cross-match, and the MPI errnos with their
//! registers. The harness checks the kernel's invariants after every step.

use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RankFilter, RetRegs, SendMode, Source, Syscall, TagFilter,
    Timeout,
};
use ipclab_tests::{Harness, Outcome};

const W: CommId = CommId::WORLD;
const SEND_BUF: u64 = 0;
const RECV_BUF: u64 = 1024;
const HANDLES: u64 = 2048;
const ATTACH: u64 = 4096;

/// A kernel with `ranks` processes in `COMM_WORLD`, the config changed by `f`.
fn world(ranks: usize, f: impl FnOnce(&mut ipclab_kernel::Config)) -> (Harness, Vec<Pid>) {
    let mut h = Harness::with(f);
    let pids: Vec<Pid> = (0..ranks)
        .map(|i| h.spawn(&format!("rank{i}"), 1))
        .collect();
    assert_eq!(h.kernel.create_communicator(&pids), Ok(W));
    (h, pids)
}

fn done(outcome: Outcome) -> RetRegs {
    match outcome {
        Outcome::Done(regs) => regs,
        other => panic!("expected a completed call, got {other:?}"),
    }
}

/// `r1` of a call that succeeded now.
fn ok(outcome: Outcome) -> u64 {
    let regs = done(outcome);
    assert_eq!(
        regs[0],
        0,
        "the call failed with {:?}",
        Errno::from_number(regs[0])
    );
    regs[1]
}

fn errno(outcome: Outcome) -> Errno {
    let regs = done(outcome);
    Errno::from_number(regs[0]).expect("an error")
}

fn send_call(mode: SendMode, buf: u64, len: usize, dest: u32, tag: u32, comm: CommId) -> Syscall {
    Syscall::MpiSend {
        mode,
        buf,
        len: len as u64,
        dest,
        tag,
        comm,
    }
}

/// A blocking send of `bytes` (put at `SEND_BUF`) in `mode` on `COMM_WORLD`.
fn send(h: &mut Harness, p: Pid, mode: SendMode, dest: u32, bytes: &[u8], tag: u32) -> Outcome {
    h.poke(p, SEND_BUF, bytes);
    h.call(p, send_call(mode, SEND_BUF, bytes.len(), dest, tag, W))
}

fn recv(h: &mut Harness, p: Pid, source: RankFilter, tag: TagFilter, cap: u64) -> Outcome {
    h.call(
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

/// Starts a send of `bytes` at `buf`; its handle.
fn isend(h: &mut Harness, p: Pid, dest: u32, bytes: &[u8], tag: u32, buf: u64) -> u64 {
    h.poke(p, buf, bytes);
    ok(h.call(
        p,
        Syscall::Isend {
            mode: SendMode::Standard,
            buf,
            len: bytes.len() as u64,
            dest,
            tag,
            comm: W,
        },
    ))
}

/// Posts a receive into `buf`; its handle.
fn irecv(h: &mut Harness, p: Pid, source: RankFilter, tag: TagFilter, buf: u64) -> u64 {
    ok(h.call(
        p,
        Syscall::Irecv {
            buf,
            cap: 64,
            source,
            tag,
            comm: W,
        },
    ))
}

/// Writes `handles` at `HANDLES`.
fn put_handles(h: &mut Harness, p: Pid, handles: &[u64]) {
    let bytes: Vec<u8> = handles.iter().flat_map(|h| h.to_le_bytes()).collect();
    h.poke(p, HANDLES, &bytes);
}

fn handles(h: &Harness, p: Pid, n: usize) -> Vec<u64> {
    h.peek(p, HANDLES, 8 * n)
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn wait(h: &mut Harness, p: Pid, handle: u64) -> Outcome {
    put_handles(h, p, &[handle]);
    h.call(
        p,
        Syscall::Waitall {
            handles: HANDLES,
            count: 1,
        },
    )
}

fn test(h: &mut Harness, p: Pid, handle: u64) -> Outcome {
    put_handles(h, p, &[handle]);
    h.call(p, Syscall::Test { handle: HANDLES })
}

fn status(regs: RetRegs) -> (u32, u32, u64) {
    let s = MpiStatus::from_regs(regs);
    (s.source, s.tag, s.len)
}

#[test]
fn the_mpi_errnos_have_their_documented_numbers() {
    assert_eq!(Errno::EBADRQC.number(), 56);
    assert_eq!(Errno::ENOBUFS.number(), 105);
    assert_eq!(Errno::ENORECV.number(), 201);
}

#[test]
fn a_standard_send_returns_at_once_below_the_eager_limit_and_waits_above_it() {
    let (mut h, p) = world(2, |c| c.eager_limit = 16);
    ok(send(&mut h, p[0], SendMode::Standard, 1, &[1; 16], 0));
    assert_eq!(
        send(&mut h, p[0], SendMode::Standard, 1, &[2; 17], 0),
        Outcome::Blocked
    );
    // The receiver takes them in order; the second receive releases the sender.
    let first = done(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 64));
    assert_eq!(status(first), (0, 0, 16));
    assert!(h.is_blocked(p[0]));
    let second = done(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 64));
    assert_eq!(status(second), (0, 0, 17));
    assert_eq!(h.peek(p[1], RECV_BUF, 17), [2; 17]);
    assert_eq!(h.completion(p[0]).map(|r| r[0]), Some(0));
}

#[test]
fn eager_limit_zero_makes_every_standard_send_wait() {
    let (mut h, p) = world(2, |c| c.eager_limit = 0);
    assert_eq!(
        send(&mut h, p[0], SendMode::Standard, 1, &[1], 0),
        Outcome::Blocked
    );
    ok(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 8));
    assert_eq!(h.completion(p[0]).map(|r| r[0]), Some(0));
}

#[test]
fn a_synchronous_send_waits_for_the_receive_even_when_it_would_fit() {
    let (mut h, p) = world(2, |_| {});
    assert_eq!(
        send(&mut h, p[0], SendMode::Synchronous, 1, &[7; 4], 3),
        Outcome::Blocked
    );
    assert_eq!(h.completion(p[0]), None);
    let regs = done(recv(&mut h, p[1], RankFilter::Any, TagFilter::Tag(3), 8));
    assert_eq!(status(regs), (0, 3, 4));
    assert_eq!(h.completion(p[0]).map(|r| r[0]), Some(0));
}

#[test]
fn a_buffered_send_uses_the_attached_buffer_and_enobufs_names_the_sizes() {
    let (mut h, p) = world(2, |c| c.eager_limit = 0);
    // Without a buffer: nothing available.
    let regs = done(send(&mut h, p[0], SendMode::Buffered, 1, &[1; 24], 0));
    assert_eq!(
        (Errno::from_number(regs[0]), regs[1], regs[2]),
        (Some(Errno::ENOBUFS), 24, 0)
    );
    ok(h.call(
        p[0],
        Syscall::BufferAttach {
            addr: ATTACH,
            size: 40,
        },
    ));
    assert_eq!(
        errno(h.call(
            p[0],
            Syscall::BufferAttach {
                addr: ATTACH,
                size: 8
            }
        )),
        Errno::EINVAL
    );
    // Returns at once, although eager_limit = 0 and nobody receives.
    ok(send(&mut h, p[0], SendMode::Buffered, 1, &[5; 24], 0));
    // The user buffer is free again: overwriting it changes nothing sent.
    h.poke(p[0], SEND_BUF, &[9; 24]);
    let regs = done(send(&mut h, p[0], SendMode::Buffered, 1, &[6; 24], 0));
    assert_eq!(
        (Errno::from_number(regs[0]), regs[1], regs[2]),
        (Some(Errno::ENOBUFS), 24, 16)
    );
    // Detach waits for the buffered message, then gives the buffer back.
    assert_eq!(h.call(p[0], Syscall::BufferDetach), Outcome::Blocked);
    ok(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 64));
    assert_eq!(h.peek(p[1], RECV_BUF, 24), [5; 24]);
    assert_eq!(h.completion(p[0]), Some([0, ATTACH, 40, 0]));
    assert_eq!(errno(h.call(p[0], Syscall::BufferDetach)), Errno::EINVAL);
}

#[test]
fn a_ready_send_needs_a_posted_receive() {
    let (mut h, p) = world(2, |_| {});
    assert_eq!(
        errno(send(&mut h, p[0], SendMode::Ready, 1, &[1], 0)),
        Errno::ENORECV
    );
    // Nothing was queued.
    assert_eq!(
        ok(h.call(
            p[1],
            Syscall::Iprobe {
                source: RankFilter::Any,
                tag: TagFilter::Any,
                comm: W
            }
        )),
        0
    );
    // A posted receive with another tag does not count.
    let handle = irecv(
        &mut h,
        p[1],
        RankFilter::Rank(0),
        TagFilter::Tag(2),
        RECV_BUF,
    );
    assert_eq!(
        errno(send(&mut h, p[0], SendMode::Ready, 1, &[1], 1)),
        Errno::ENORECV
    );
    ok(send(&mut h, p[0], SendMode::Ready, 1, b"ready", 2));
    assert_eq!(status(done(wait(&mut h, p[1], handle))), (0, 2, 5));
    assert_eq!(h.peek(p[1], RECV_BUF, 5), b"ready");
    // A blocked MPI_Recv is a posted receive too.
    assert_eq!(
        recv(&mut h, p[1], RankFilter::Any, TagFilter::Any, 8),
        Outcome::Blocked
    );
    ok(send(&mut h, p[0], SendMode::Ready, 1, &[4], 0));
    assert_eq!(h.completion(p[1]).map(status), Some((0, 0, 1)));
}

#[test]
fn test_polls_a_request_frees_it_once_complete_and_a_stale_handle_is_ebadrqc() {
    let (mut h, p) = world(2, |_| {});
    let handle = irecv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, RECV_BUF);
    assert_ne!(handle, 0);
    assert_eq!(ok(test(&mut h, p[1], handle)), 0);
    assert_eq!(
        handles(&h, p[1], 1),
        [handle],
        "not complete: the handle stays"
    );
    ok(send(&mut h, p[0], SendMode::Standard, 1, b"hi", 8));
    let regs = done(test(&mut h, p[1], handle));
    assert_eq!((regs[1], status(regs)), (1, (0, 8, 2)));
    assert_eq!(
        handles(&h, p[1], 1),
        [0],
        "freed: the handle is MPI_REQUEST_NULL"
    );
    assert_eq!(errno(test(&mut h, p[1], handle)), Errno::EBADRQC);
    assert_eq!(errno(wait(&mut h, p[1], handle)), Errno::EBADRQC);
    // Someone else's handle is not the caller's either.
    let other = irecv(&mut h, p[0], RankFilter::Rank(1), TagFilter::Any, RECV_BUF);
    assert_eq!(errno(test(&mut h, p[1], other)), Errno::EBADRQC);
    // Waiting on MPI_REQUEST_NULL returns at once.
    ok(wait(&mut h, p[1], 0));
}

#[test]
fn a_null_request_gives_the_empty_status_any_source_any_tag_length_0() {
    let (mut h, p) = world(2, |_| {});
    let empty = (u32::MAX, u32::MAX, 0);
    // After a real receive, so that nothing of its status lingers.
    ok(send(&mut h, p[0], SendMode::Standard, 1, b"abc", 7));
    assert_eq!(
        status(done(recv(
            &mut h,
            p[1],
            RankFilter::Rank(0),
            TagFilter::Any,
            8
        ))),
        (0, 7, 3)
    );
    let regs = done(wait(&mut h, p[1], 0));
    assert_eq!((regs[0], status(regs)), (0, empty), "MPI_Wait");
    let regs = done(test(&mut h, p[1], 0));
    assert_eq!(
        (regs[0], regs[1], status(regs)),
        (0, 1, empty),
        "MPI_Test: flag 1"
    );
    put_handles(&mut h, p[1], &[0, 0]);
    let waitany = Syscall::Waitany {
        handles: HANDLES,
        count: 2,
    };
    let regs = done(h.call(p[1], waitany));
    assert_eq!(
        (regs[1], status(regs)),
        (u64::MAX, empty),
        "MPI_Waitany: MPI_UNDEFINED"
    );
    let waitall = Syscall::Waitall {
        handles: HANDLES,
        count: 2,
    };
    assert_eq!(status(done(h.call(p[1], waitall))), empty, "MPI_Waitall");
    let s = MpiStatus::from_regs(regs);
    assert_eq!(
        (s.source_filter(), s.tag_filter()),
        (RankFilter::Any, TagFilter::Any)
    );
}

#[test]
fn isend_returns_at_once_and_wait_blocks_until_the_receive() {
    let (mut h, p) = world(2, |c| c.eager_limit = 0);
    let handle = isend(&mut h, p[0], 1, b"data", 5, SEND_BUF);
    assert_eq!(wait(&mut h, p[0], handle), Outcome::Blocked);
    let regs = done(recv(
        &mut h,
        p[1],
        RankFilter::Rank(0),
        TagFilter::Tag(5),
        8,
    ));
    assert_eq!(status(regs), (0, 5, 4));
    assert_eq!(h.peek(p[1], RECV_BUF, 4), b"data");
    assert_eq!(h.completion(p[0]).map(|r| r[0]), Some(0));
    assert_eq!(handles(&h, p[0], 1), [0]);
}

#[test]
fn waitany_returns_the_completed_request_and_waitall_waits_for_every_one() {
    let (mut h, p) = world(3, |_| {});
    let from1 = irecv(&mut h, p[0], RankFilter::Rank(1), TagFilter::Any, RECV_BUF);
    let from2 = irecv(
        &mut h,
        p[0],
        RankFilter::Rank(2),
        TagFilter::Any,
        RECV_BUF + 64,
    );
    put_handles(&mut h, p[0], &[from1, from2]);
    let waitany = Syscall::Waitany {
        handles: HANDLES,
        count: 2,
    };
    assert_eq!(h.call(p[0], waitany), Outcome::Blocked);
    ok(send(&mut h, p[2], SendMode::Standard, 0, b"two", 2));
    let regs = h.completion(p[0]).expect("waitany completed");
    assert_eq!((regs[1], status(regs)), (1, (2, 2, 3)));
    assert_eq!(handles(&h, p[0], 2), [from1, 0]);
    // Waitall skips the null handle and waits for the other.
    let waitall = Syscall::Waitall {
        handles: HANDLES,
        count: 2,
    };
    assert_eq!(h.call(p[0], waitall), Outcome::Blocked);
    ok(send(&mut h, p[1], SendMode::Standard, 0, b"one", 1));
    let regs = h.completion(p[0]).expect("waitall completed");
    assert_eq!((regs[0], regs[1]), (0, 2));
    assert_eq!(handles(&h, p[0], 2), [0, 0]);
    assert_eq!(h.peek(p[0], RECV_BUF, 3), b"one");
    assert_eq!(h.peek(p[0], RECV_BUF + 64, 3), b"two");
    // Every handle null: waitany answers index u64::MAX at once.
    assert_eq!(done(h.call(p[0], waitany))[1], u64::MAX);
}

#[test]
fn a_request_named_twice_in_waitall_or_waitany_is_einval_and_stays_live() {
    let (mut h, p) = world(2, |_| {});
    let r = irecv(&mut h, p[0], RankFilter::Rank(1), TagFilter::Any, RECV_BUF);
    for call in [
        Syscall::Waitall {
            handles: HANDLES,
            count: 2,
        },
        Syscall::Waitany {
            handles: HANDLES,
            count: 2,
        },
    ] {
        put_handles(&mut h, p[0], &[r, r]);
        let regs = done(h.call(p[0], call));
        assert_eq!(Errno::from_number(regs[0]), Some(Errno::EINVAL), "{call:?}");
        assert_eq!(regs[1], 1, "r1: the index of the second naming");
        assert_eq!(handles(&h, p[0], 2), [r, r], "nothing is nulled");
    }
    // The request was not touched: it still takes the message.
    ok(send(&mut h, p[1], SendMode::Standard, 0, b"ok", 3));
    let regs = done(wait(&mut h, p[0], r));
    assert_eq!(status(regs), (1, 3, 2));
    assert_eq!(h.peek(p[0], RECV_BUF, 2), b"ok");
}

#[test]
fn a_receive_too_small_for_its_match_truncates_it_and_a_later_receive_never_sees_it() {
    // MPI-3.1 §3.5: the first of two posted receives that match a message
    // takes it; too small, it completes with the truncation error.
    for (eager_limit, mode) in [
        (64, SendMode::Standard),
        (0, SendMode::Standard),
        (64, SendMode::Synchronous),
        (64, SendMode::Ready),
    ] {
        let (mut h, p) = world(2, |c| c.eager_limit = eager_limit);
        let small = ok(h.call(
            p[1],
            Syscall::Irecv {
                buf: RECV_BUF,
                cap: 8,
                source: RankFilter::Rank(0),
                tag: TagFilter::Tag(0),
                comm: W,
            },
        ));
        let big = irecv(
            &mut h,
            p[1],
            RankFilter::Rank(0),
            TagFilter::Tag(0),
            RECV_BUF + 64,
        );
        let sent = send(&mut h, p[0], mode, 1, &[7; 16], 0);
        assert_eq!(done(sent)[0], 0, "the send completes: {mode:?}");
        let regs = done(wait(&mut h, p[1], small));
        assert_eq!(Errno::from_number(regs[0]), Some(Errno::EMSGSIZE));
        assert_eq!(status(regs), (0, 0, 16), "the real length");
        assert_eq!(h.peek(p[1], RECV_BUF, 8), [7; 8]);
        assert_eq!(handles(&h, p[1], 1), [0], "completed, freed");
        assert_eq!(
            ok(test(&mut h, p[1], big)),
            0,
            "the second receive waits on"
        );
        let stats = h.kernel.stats();
        assert_eq!((stats.delivered, stats.undeliverable), (1, 0));
    }
}

#[test]
fn probe_waits_for_a_match_without_receiving_it_and_iprobe_never_blocks() {
    let (mut h, p) = world(2, |_| {});
    let probe = |tag| Syscall::Probe {
        source: RankFilter::Any,
        tag,
        comm: W,
    };
    let iprobe = |tag| Syscall::Iprobe {
        source: RankFilter::Rank(0),
        tag,
        comm: W,
    };
    assert_eq!(ok(h.call(p[1], iprobe(TagFilter::Any))), 0);
    assert_eq!(h.call(p[1], probe(TagFilter::Tag(4))), Outcome::Blocked);
    ok(send(&mut h, p[0], SendMode::Standard, 1, b"abc", 3));
    assert!(h.is_blocked(p[1]), "tag 3 does not match a probe for tag 4");
    ok(send(&mut h, p[0], SendMode::Standard, 1, b"abcdef", 4));
    assert_eq!(h.completion(p[1]).map(status), Some((0, 4, 6)));
    let regs = done(h.call(p[1], iprobe(TagFilter::Any)));
    assert_eq!((regs[1], status(regs)), (1, (0, 3, 3)));
    // Probing received nothing: both messages are still there, in order.
    let regs = done(recv(&mut h, p[1], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(status(regs), (0, 3, 3));
    let regs = done(recv(&mut h, p[1], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(status(regs), (0, 4, 6));
}

#[test]
fn wildcards_take_the_oldest_match_and_a_tag_filter_skips_others_in_order() {
    let (mut h, p) = world(3, |_| {});
    ok(send(&mut h, p[2], SendMode::Standard, 0, b"a", 1));
    ok(send(&mut h, p[1], SendMode::Standard, 0, b"b", 2));
    ok(send(&mut h, p[2], SendMode::Standard, 0, b"c", 2));
    // Tag 2 from any source: the oldest such, from rank 1.
    let regs = done(recv(&mut h, p[0], RankFilter::Any, TagFilter::Tag(2), 8));
    assert_eq!(status(regs), (1, 2, 1));
    assert_eq!(h.peek(p[0], RECV_BUF, 1), b"b");
    // Any tag from rank 2: its messages in the order it sent them.
    let regs = done(recv(&mut h, p[0], RankFilter::Rank(2), TagFilter::Any, 8));
    assert_eq!(
        (status(regs), h.peek(p[0], RECV_BUF, 1)),
        ((2, 1, 1), b"a".to_vec())
    );
    let regs = done(recv(&mut h, p[0], RankFilter::Any, TagFilter::Any, 8));
    assert_eq!(
        (status(regs), h.peek(p[0], RECV_BUF, 1)),
        ((2, 2, 1), b"c".to_vec())
    );
}

#[test]
fn a_pending_send_and_a_later_eager_one_arrive_in_order() {
    // The first send is rendezvous (too long), the second eager: the
    // receive still takes the first one first (non-overtaking).
    let (mut h, p) = world(2, |c| c.eager_limit = 4);
    let first = isend(&mut h, p[0], 1, b"long message", 0, SEND_BUF);
    let second = isend(&mut h, p[0], 1, b"ok", 0, SEND_BUF + 64);
    let regs = done(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 64));
    assert_eq!(status(regs).2, 12);
    let regs = done(recv(&mut h, p[1], RankFilter::Rank(0), TagFilter::Any, 64));
    assert_eq!(status(regs).2, 2);
    ok(wait(&mut h, p[0], first));
    ok(wait(&mut h, p[0], second));
}

#[test]
fn communicators_and_plain_messages_never_cross_match() {
    let (mut h, p) = world(3, |_| {});
    let other = h.kernel.create_communicator(&[p[1], p[0]]).unwrap();
    assert_ne!(other, W);
    // On `other`, p[1] is rank 0 and p[0] rank 1.
    h.poke(p[1], SEND_BUF, b"other");
    ok(h.call(
        p[1],
        send_call(SendMode::Standard, SEND_BUF, 5, 1, 0, other),
    ));
    // A plain message to p[0] (context 0).
    h.poke(p[2], SEND_BUF, b"plain");
    let plain_send = Syscall::Send {
        to: p[0],
        buf: SEND_BUF,
        len: 5,
        tag: 0,
        timeout: Timeout::Never,
    };
    ok(h.call(p[2], plain_send));
    // Neither is visible on COMM_WORLD.
    let iprobe = Syscall::Iprobe {
        source: RankFilter::Any,
        tag: TagFilter::Any,
        comm: W,
    };
    assert_eq!(ok(h.call(p[0], iprobe)), 0);
    assert_eq!(
        recv(&mut h, p[0], RankFilter::Any, TagFilter::Any, 8),
        Outcome::Blocked
    );
    ok(send(&mut h, p[1], SendMode::Standard, 0, b"world", 0));
    assert_eq!(h.completion(p[0]).map(status), Some((1, 0, 5)));
    assert_eq!(h.peek(p[0], RECV_BUF, 5), b"world");
    // A plain receive takes the plain message, whatever MPI has queued.
    ok(send(&mut h, p[1], SendMode::Standard, 0, b"late", 0));
    let plain_recv = |from| Syscall::Recv {
        from,
        tag: TagFilter::Any,
        buf: RECV_BUF,
        cap: 8,
        timeout: Timeout::Never,
    };
    let regs = done(h.call(p[0], plain_recv(Source::Any)));
    assert_eq!(regs[0], 0);
    assert_eq!(h.peek(p[0], RECV_BUF, 5), b"plain");
    // `other` has its own message, from its rank 0.
    let regs = done(h.call(
        p[0],
        Syscall::MpiRecv {
            buf: RECV_BUF,
            cap: 8,
            source: RankFilter::Any,
            tag: TagFilter::Any,
            comm: other,
        },
    ));
    assert_eq!(status(regs), (0, 0, 5));
    assert_eq!(h.peek(p[0], RECV_BUF, 5), b"other");
    // p[1]'s COMM_WORLD message ("late") is queued, yet a plain receive
    // from p[1] waits.
    assert_eq!(
        h.call(p[0], plain_recv(Source::Pid(p[1]))),
        Outcome::Blocked
    );
    h.poke(p[1], SEND_BUF, b"plain2");
    let plain_send = Syscall::Send {
        to: p[0],
        buf: SEND_BUF,
        len: 6,
        tag: 0,
        timeout: Timeout::Never,
    };
    ok(h.call(p[1], plain_send));
    assert_eq!(h.completion(p[0]).map(|r| r[0]), Some(0));
    assert_eq!(h.peek(p[0], RECV_BUF, 6), b"plain2");
    let regs = done(recv(&mut h, p[0], RankFilter::Rank(1), TagFilter::Any, 8));
    assert_eq!(
        (status(regs), h.peek(p[0], RECV_BUF, 4)),
        ((1, 0, 4), b"late".to_vec())
    );
}

#[test]
fn bad_ranks_and_communicators_are_einval_and_a_rank_may_send_to_itself() {
    let (mut h, p) = world(2, |_| {});
    assert_eq!(
        errno(send(&mut h, p[0], SendMode::Standard, 5, &[1], 0)),
        Errno::EINVAL
    );
    assert_eq!(
        errno(h.call(
            p[0],
            send_call(SendMode::Standard, SEND_BUF, 1, 1, 0, CommId(3))
        )),
        Errno::EINVAL
    );
    let outsider = h.spawn("outsider", 1);
    assert_eq!(
        errno(h.call(outsider, Syscall::CommRank { comm: W })),
        Errno::EINVAL
    );
    assert_eq!(ok(h.call(p[1], Syscall::CommRank { comm: W })), 1);
    assert_eq!(ok(h.call(p[1], Syscall::CommSize { comm: W })), 2);
    // MPI allows a message to oneself; below the eager limit it is queued.
    ok(send(&mut h, p[0], SendMode::Standard, 0, b"me", 9));
    let regs = done(recv(
        &mut h,
        p[0],
        RankFilter::Rank(0),
        TagFilter::Tag(9),
        8,
    ));
    assert_eq!(status(regs), (0, 9, 2));
}
