//! Integration tests: semaphores, mutexes, condition variables and shared words seen from user space, through the syscall ABI only.

use ipclab_kernel::{Object, Policy, SemaphoreId};
use ipclab_syscalls::{user, Errno, Handle, Pid, Regs, SyncCall, Syscall, Sysno, Timeout};
use ipclab_tests::{Harness, Outcome};

/// Handles every process gets, in this order.
const SEM: Handle = Handle(0);
const MUTEX: Handle = Handle(1);
const COND: Handle = Handle(2);
const SHARED: Handle = Handle(3);

/// A harness with `n` processes that each hold a semaphore (count
/// `initial`), a mutex, a condition variable and a 4-word shared segment.
fn boot(policy: Policy, n: usize, initial: u32) -> (Harness, Vec<Pid>) {
    let mut h = Harness::with(|c| c.policy = policy);
    let objects = [
        Object::Semaphore(h.kernel.create_semaphore("s", initial).unwrap()),
        Object::Mutex(h.kernel.create_mutex("m").unwrap()),
        Object::Condvar(h.kernel.create_condvar("c").unwrap()),
        Object::Shared(h.kernel.create_shared("buf", 4).unwrap()),
    ];
    let pids: Vec<Pid> = (0..n).map(|i| h.spawn(&format!("p{i}"), 1)).collect();
    for &pid in &pids {
        for (i, &object) in objects.iter().enumerate() {
            assert_eq!(h.kernel.grant_object(pid, object), Ok(Handle(i as u32)));
        }
    }
    h.check();
    (h, pids)
}

fn sync(h: &mut Harness, pid: Pid, call: SyncCall) -> Outcome {
    h.call(pid, Syscall::Sync(call))
}

fn p(h: &mut Harness, pid: Pid) -> Outcome {
    sync(
        h,
        pid,
        SyncCall::P {
            sem: SEM,
            timeout: Timeout::Never,
        },
    )
}

fn lock(h: &mut Harness, pid: Pid) -> Outcome {
    sync(
        h,
        pid,
        SyncCall::Lock {
            mutex: MUTEX,
            timeout: Timeout::Never,
        },
    )
}

fn wait(h: &mut Harness, pid: Pid) -> Outcome {
    sync(
        h,
        pid,
        SyncCall::Wait {
            condvar: COND,
            mutex: MUTEX,
        },
    )
}

#[test]
fn a_semaphore_counts_units_through_the_wrappers() {
    let (mut h, ps) = boot(Policy::Classic, 2, 2);
    user::sem_p(&mut h.user(ps[0]), SEM, Timeout::Never).unwrap();
    user::sem_p(&mut h.user(ps[1]), SEM, Timeout::Never).unwrap();
    assert_eq!(
        user::sem_p(&mut h.user(ps[0]), SEM, Timeout::NonBlocking),
        Err(Errno::EAGAIN)
    );
    user::sem_v(&mut h.user(ps[1]), SEM).unwrap();
    user::sem_p(&mut h.user(ps[0]), SEM, Timeout::NonBlocking).unwrap();
}

#[test]
fn a_blocked_p_completes_when_another_process_does_v_oldest_waiter_first() {
    let (mut h, ps) = boot(Policy::Classic, 3, 0);
    assert_eq!(p(&mut h, ps[0]), Outcome::Blocked);
    assert_eq!(p(&mut h, ps[1]), Outcome::Blocked);
    user::sem_v(&mut h.user(ps[2]), SEM).unwrap();
    assert_eq!(h.completion(ps[0]), Some([0; 4]));
    assert!(h.is_blocked(ps[1]));
    user::sem_v(&mut h.user(ps[2]), SEM).unwrap();
    assert_eq!(h.completion(ps[1]), Some([0; 4]));
    assert_eq!(h.kernel.semaphore(SemaphoreId(0)).unwrap().count, 0);
}

#[test]
fn a_timed_p_fails_with_etimedout_when_nobody_does_v() {
    let (mut h, ps) = boot(Policy::Classic, 1, 0);
    let timed = SyncCall::P {
        sem: SEM,
        timeout: Timeout::After(3),
    };
    assert_eq!(sync(&mut h, ps[0], timed), Outcome::Blocked);
    for _ in 0..3 {
        h.tick();
    }
    assert_eq!(
        h.completion(ps[0]).map(|r| r[0]),
        Some(Errno::ETIMEDOUT.number())
    );
}

#[test]
fn the_mutex_rules_hold_through_the_abi() {
    let (mut h, ps) = boot(Policy::Classic, 2, 0);
    assert_eq!(user::unlock(&mut h.user(ps[0]), MUTEX), Err(Errno::EPERM));
    user::lock(&mut h.user(ps[0]), MUTEX, Timeout::Never).unwrap();
    assert_eq!(
        user::lock(&mut h.user(ps[0]), MUTEX, Timeout::Never),
        Err(Errno::EDEADLK)
    );
    assert_eq!(
        user::lock(&mut h.user(ps[1]), MUTEX, Timeout::NonBlocking),
        Err(Errno::EAGAIN)
    );
    assert_eq!(user::unlock(&mut h.user(ps[1]), MUTEX), Err(Errno::EPERM));
    assert_eq!(lock(&mut h, ps[1]), Outcome::Blocked);
    user::unlock(&mut h.user(ps[0]), MUTEX).unwrap();
    assert_eq!(h.completion(ps[1]), Some([0; 4]));
    user::unlock(&mut h.user(ps[1]), MUTEX).unwrap();
}

#[test]
fn a_condition_variable_wait_releases_the_mutex_and_returns_holding_it() {
    let (mut h, ps) = boot(Policy::Classic, 2, 0);
    assert_eq!(
        user::wait(&mut h.user(ps[0]), COND, MUTEX),
        Err(Errno::EPERM)
    );
    user::lock(&mut h.user(ps[0]), MUTEX, Timeout::Never).unwrap();
    assert_eq!(wait(&mut h, ps[0]), Outcome::Blocked);
    // The mutex is free again: the other process takes it and signals.
    user::lock(&mut h.user(ps[1]), MUTEX, Timeout::Never).unwrap();
    user::signal(&mut h.user(ps[1]), COND).unwrap();
    assert!(h.is_blocked(ps[0]), "it waits for the mutex now");
    user::unlock(&mut h.user(ps[1]), MUTEX).unwrap();
    assert_eq!(h.completion(ps[0]), Some([0; 4]));
    user::unlock(&mut h.user(ps[0]), MUTEX).unwrap();
}

#[test]
fn broadcast_wakes_every_waiter_and_they_take_the_mutex_in_turn() {
    let (mut h, ps) = boot(Policy::Classic, 4, 0);
    for &pid in &ps[..3] {
        user::lock(&mut h.user(pid), MUTEX, Timeout::Never).unwrap();
        assert_eq!(wait(&mut h, pid), Outcome::Blocked);
    }
    user::broadcast(&mut h.user(ps[3]), COND).unwrap();
    for &pid in &ps[..3] {
        assert_eq!(h.completion(pid), Some([0; 4]));
        user::unlock(&mut h.user(pid), MUTEX).unwrap();
    }
}

#[test]
fn shared_words_are_seen_by_every_holder() {
    let (mut h, ps) = boot(Policy::Classic, 2, 0);
    user::shared_store(&mut h.user(ps[0]), SHARED, 3, 99).unwrap();
    assert_eq!(user::shared_load(&mut h.user(ps[1]), SHARED, 3), Ok(99));
    assert_eq!(
        user::shared_load(&mut h.user(ps[1]), SHARED, 4),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        user::shared_load(&mut h.user(ps[1]), SEM, 0),
        Err(Errno::EBADF)
    );
}

#[test]
fn a_dead_owner_keeps_the_mutex_under_classic_and_poisons_it_under_notify() {
    let (mut h, ps) = boot(Policy::Classic, 2, 0);
    user::lock(&mut h.user(ps[0]), MUTEX, Timeout::Never).unwrap();
    assert_eq!(lock(&mut h, ps[1]), Outcome::Blocked);
    user::exit(&mut h.user(ps[0]), 0);
    assert!(h.is_blocked(ps[1]));

    let (mut h, ps) = boot(Policy::Notify, 3, 0);
    user::lock(&mut h.user(ps[0]), MUTEX, Timeout::Never).unwrap();
    assert_eq!(lock(&mut h, ps[1]), Outcome::Blocked);
    user::exit(&mut h.user(ps[0]), 0);
    assert_eq!(
        h.completion(ps[1]).map(|r| r[0]),
        Some(Errno::EDEADPEER.number())
    );
    assert_eq!(
        user::lock(&mut h.user(ps[2]), MUTEX, Timeout::Never),
        Err(Errno::EDEADPEER)
    );
}

#[test]
fn close_drops_a_sync_handle_and_later_calls_on_it_are_ebadf() {
    let (mut h, ps) = boot(Policy::Classic, 1, 1);
    user::close(&mut h.user(ps[0]), SEM).unwrap();
    assert_eq!(
        user::sem_p(&mut h.user(ps[0]), SEM, Timeout::Never),
        Err(Errno::EBADF)
    );
    assert!(h.kernel.semaphore(SemaphoreId(0)).is_none());
}

#[test]
fn raw_registers_of_sync_calls_decode_or_fail_without_changing_anything() {
    let (mut h, ps) = boot(Policy::Classic, 1, 0);
    let count = |h: &Harness| h.kernel.semaphore(SemaphoreId(0)).unwrap().count;
    // P with unknown flag bits.
    let bad = h.trap(ps[0], Regs::new(Sysno::P as u64, [0, 8, 0, 0, 0, 0]));
    assert_eq!(bad.errno(), Errno::EINVAL);
    // V on a handle that is not open.
    let bad = h.trap(ps[0], Regs::new(Sysno::V as u64, [15, 0, 0, 0, 0, 0]));
    assert_eq!(bad.errno(), Errno::EBADF);
    assert_eq!(count(&h), 0);
    assert!(!h.is_blocked(ps[0]));
}
