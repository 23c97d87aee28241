//! Integration tests: the kernel seen from user space, through the syscall ABI only.

use ipclab_kernel::{Event, Policy, UndeliverableReason};
use ipclab_syscalls::{
    user, Errno, Handle, Regs, Reply, Source, Syscall, Sysno, TagFilter, Timeout,
};
use ipclab_tests::{Harness, Outcome};

const BUF: u64 = 0;
const INBOX: u64 = 4096;
const NAME: u64 = 2048;

#[test]
fn a_message_goes_from_user_memory_to_user_memory_through_the_wrappers() {
    let mut h = Harness::new(Default::default());
    let (s, r) = (h.spawn("sender", 1), h.spawn("receiver", 1));
    h.poke(s, BUF, b"ping");
    user::send(&mut h.user(s), r, BUF, 4, 42, Timeout::Never).unwrap();
    let status = user::recv(
        &mut h.user(r),
        Source::Pid(s),
        TagFilter::Tag(42),
        INBOX,
        64,
        Timeout::Never,
    )
    .unwrap();
    assert_eq!((status.source, status.tag, status.len), (s, 42, 4));
    assert_eq!(h.peek(r, INBOX, 4), b"ping");
    assert_eq!(user::getpid(&mut h.user(r)), Ok(r));
}

#[test]
fn a_blocked_receive_completes_when_the_sender_arrives() {
    let mut h = Harness::new(Default::default());
    let (s, r) = (h.spawn("sender", 1), h.spawn("receiver", 1));
    let recv = Syscall::Recv {
        from: Source::Any,
        tag: TagFilter::Any,
        buf: INBOX,
        cap: 64,
        timeout: Timeout::Never,
    };
    assert_eq!(h.call(r, recv), Outcome::Blocked);
    assert_eq!(h.completion(r), None);
    h.poke(s, BUF, b"late");
    user::send(&mut h.user(s), r, BUF, 4, 0, Timeout::Never).unwrap();
    let reply = Reply::from_regs(h.completion(r).unwrap()).unwrap();
    assert_eq!(reply.status().unwrap().source, s);
    assert_eq!(h.peek(r, INBOX, 4), b"late");
}

#[test]
fn emsgsize_reports_the_pending_message_through_the_wrapper() {
    let mut h = Harness::new(Default::default());
    let (s, r) = (h.spawn("sender", 1), h.spawn("receiver", 1));
    user::send(&mut h.user(s), r, BUF, 40, 9, Timeout::Never).unwrap();
    let err = user::recv(
        &mut h.user(r),
        Source::Any,
        TagFilter::Any,
        INBOX,
        8,
        Timeout::Never,
    )
    .unwrap_err();
    assert_eq!(err.errno, Errno::EMSGSIZE);
    let pending = err.pending.unwrap();
    assert_eq!((pending.len, pending.source, pending.tag), (40, s, 9));
    assert_eq!(h.kernel.messages().len(), 1, "the message stays queued");
}

#[test]
fn producers_and_consumers_share_a_mailbox() {
    let mut h = Harness::with(|c| c.buffer_slots = 4);
    let owner = h.spawn("owner", 1);
    h.poke(owner, NAME, b"jobs");
    let mbox = user::mbox_create(&mut h.user(owner), NAME, 4, 2).unwrap();
    let producers: Vec<_> = (0..2).map(|i| h.spawn(&format!("p{i}"), 1)).collect();
    let consumers: Vec<_> = (0..2).map(|i| h.spawn(&format!("c{i}"), 1)).collect();
    let mut handles = std::collections::HashMap::new();
    for &p in producers.iter().chain(&consumers) {
        h.poke(p, NAME, b"jobs");
        handles.insert(p, user::mbox_open(&mut h.user(p), NAME, 4).unwrap());
    }
    // Two consumers wait; four jobs arrive; the mailbox holds two of them.
    for &c in &consumers {
        let call = Syscall::MboxRecv {
            handle: handles[&c],
            tag: TagFilter::Any,
            buf: INBOX,
            cap: 8,
            timeout: Timeout::Never,
        };
        assert_eq!(h.call(c, call), Outcome::Blocked);
    }
    for (i, &p) in producers.iter().chain(&producers).enumerate() {
        h.poke(p, BUF, &[i as u8]);
        user::mbox_send(&mut h.user(p), handles[&p], BUF, 1, 0, Timeout::Never).unwrap();
    }
    for (i, &c) in consumers.iter().enumerate() {
        assert_eq!(h.completion(c).unwrap()[0], 0);
        assert_eq!(h.peek(c, INBOX, 1), [i as u8]);
    }
    let id = h.kernel.mailboxes().next().unwrap().0;
    assert_eq!(h.kernel.queued_at(ipclab_kernel::Dest::Mailbox(id)), 2);
    assert_eq!(
        user::mbox_send(&mut h.user(owner), mbox, BUF, 1, 0, Timeout::NonBlocking),
        Err(Errno::EAGAIN)
    );
    assert_eq!(
        user::mbox_destroy(&mut h.user(producers[0]), handles[&producers[0]]),
        Err(Errno::EPERM)
    );
    user::mbox_destroy(&mut h.user(owner), mbox).unwrap();
    assert_eq!(h.kernel.stats().undeliverable, 2);
    assert_eq!(
        user::mbox_recv(
            &mut h.user(consumers[0]),
            handles[&consumers[0]],
            TagFilter::Any,
            INBOX,
            8,
            Timeout::Never
        )
        .unwrap_err()
        .errno,
        Errno::EIDRM
    );
}

#[test]
fn an_error_number_reaches_the_process_unchanged() {
    let mut h = Harness::new(Default::default());
    let p = h.spawn("p", 1);
    for (regs, errno) in [
        (Regs::new(0, [0; 6]), Errno::ENOSYS),
        (
            Regs::new(Sysno::Close as u64, [3, 0, 0, 0, 0, 0]),
            Errno::EBADF,
        ),
        (Regs::new(Sysno::Send as u64, [0; 6]), Errno::ESRCH),
        (
            Regs::new(Sysno::MboxOpen as u64, [NAME, 17, 0, 0, 0, 0]),
            Errno::ENAMETOOLONG,
        ),
        (
            Regs::new(Sysno::Recv as u64, [u64::MAX, u64::MAX, 0, 8, 7, 0]),
            Errno::EINVAL,
        ),
    ] {
        match h.trap(p, regs) {
            Outcome::Done(ret) => assert_eq!(ret[0], errno.number(), "{regs:?}"),
            other => panic!("{regs:?}: {other:?}"),
        }
    }
    assert_eq!(
        user::close(&mut h.user(p), Handle(u32::MAX)),
        Err(Errno::EBADF)
    );
}

#[test]
fn sleep_and_timeouts_follow_the_virtual_clock() {
    let mut h = Harness::new(Default::default());
    let (a, b) = (h.spawn("a", 1), h.spawn("b", 1));
    assert_eq!(h.call(a, Syscall::Sleep { ticks: 2 }), Outcome::Blocked);
    let recv = Syscall::Recv {
        from: Source::Pid(a),
        tag: TagFilter::Any,
        buf: INBOX,
        cap: 8,
        timeout: Timeout::After(5),
    };
    assert_eq!(h.call(b, recv), Outcome::Blocked);
    assert_eq!(h.kernel.next_timer(), Some(2));
    h.tick();
    h.tick();
    assert_eq!(h.completion(a), Some([0; 4]));
    for _ in 0..3 {
        h.tick();
    }
    assert_eq!(
        Reply::from_regs(h.completion(b).unwrap()),
        Err(Errno::ETIMEDOUT)
    );
    assert_eq!(user::clock(&mut h.user(a)), Ok(5));
}

#[test]
fn under_notify_an_exit_wakes_partners_and_reports_queued_messages() {
    let mut h = Harness::with(|c| c.policy = Policy::Notify);
    let (dead, s, r) = (h.spawn("dead", 1), h.spawn("s", 1), h.spawn("r", 1));
    user::send(&mut h.user(s), dead, BUF, 1, 0, Timeout::Never).unwrap();
    let recv = Syscall::Recv {
        from: Source::Pid(dead),
        tag: TagFilter::Any,
        buf: INBOX,
        cap: 8,
        timeout: Timeout::Never,
    };
    assert_eq!(h.call(r, recv), Outcome::Blocked);
    assert_eq!(h.call(dead, Syscall::Exit { code: 7 }), Outcome::Exited);
    assert_eq!(
        Reply::from_regs(h.completion(r).unwrap()),
        Err(Errno::EDEADPEER)
    );
    assert!(h.events().any(|e| matches!(
        e,
        Event::Undeliverable {
            reason: UndeliverableReason::ReceiverExited,
            ..
        }
    )));
    assert_eq!(
        user::send(&mut h.user(s), dead, BUF, 1, 0, Timeout::Never),
        Err(Errno::EDEADPEER)
    );
}

#[test]
fn a_rendezvous_copies_user_to_user_once() {
    let mut h = Harness::with(|c| c.eager_limit = 16);
    let (s, r) = (h.spawn("s", 1), h.spawn("r", 1));
    let data: Vec<u8> = (0..=255).collect();
    h.poke(s, BUF, &data);
    let send = Syscall::Send {
        to: r,
        buf: BUF,
        len: 256,
        tag: 1,
        timeout: Timeout::Never,
    };
    assert_eq!(h.call(s, send), Outcome::Blocked);
    let status = user::recv(
        &mut h.user(r),
        Source::Any,
        TagFilter::Any,
        INBOX,
        1024,
        Timeout::Never,
    )
    .unwrap();
    assert_eq!(status.len, 256);
    assert_eq!(h.peek(r, INBOX, 256), data);
    assert_eq!(h.completion(s), Some([0; 4]));
    let stats = h.kernel.stats();
    assert_eq!(
        (
            stats.copies_user_to_user,
            stats.copies_to_kernel,
            stats.bytes_copied
        ),
        (1, 0, 256)
    );
}

#[test]
fn size_of_the_kernel_at_the_default_configuration() {
    // The figure quoted in docs/kernel.md; run with --nocapture to see it.
    let size = std::mem::size_of::<ipclab_kernel::Kernel>();
    println!("size_of::<Kernel>() = {size} bytes");
    assert!(size > 0);
}
