//! loom model: two senders and a receiver on one mailbox from two CPUs (no lost wake-up, no loss or double delivery, FIFO per sender).
//!
//! Three processes share two CPUs; the mailbox holds one message, so
//! senders block when it is full and the receiver when it is empty. The
//! broken variant runs the trap on a copy of the kernel taken under the
//! lock and writes the copy back afterwards: two CPUs trapping at once lose
//! one's update, and loom finds the execution (a process left on no CPU, a
//! message lost or delivered twice, or a refused trap).
#![cfg(loom)]

use ipclab_kernel::{Config, NullSink, ProcessState};
use ipclab_syscalls::{Reply, Syscall, TagFilter, Timeout};
use ipclab_tests::loom_cpu::{boot, model, run_cpus, Machine, Variant};

fn mailbox(variant: Variant) {
    model(2, move || {
        let config = Config {
            buffer_slots: 1,
            receiver_quota: 1,
            mailbox_quota: 1,
            ..Config::default()
        };
        let (mut kernel, mut memories, pids) = boot(config, &["a", "b", "server"]);
        let mailbox = kernel.create_mailbox("requests", 1, &mut NullSink).unwrap();
        let mut handles = Vec::new();
        for &p in &pids {
            handles.push(kernel.grant_handle(p, mailbox).unwrap());
        }
        let (a, b, server) = (pids[0], pids[1], pids[2]);
        for (p, base) in [(a, 10u64), (b, 20u64)] {
            let mem = memories.0.get_mut(&p).unwrap();
            mem[0..8].copy_from_slice(&base.to_le_bytes());
            mem[8..16].copy_from_slice(&(base + 1).to_le_bytes());
        }
        let send = |handle, buf| Syscall::MboxSend {
            handle,
            buf,
            len: 8,
            tag: 0,
            timeout: Timeout::Never,
        };
        let recv = |buf| Syscall::MboxRecv {
            handle: handles[2],
            tag: TagFilter::Any,
            buf,
            cap: 8,
            timeout: Timeout::Never,
        };
        let scripts = vec![
            (a, vec![send(handles[0], 0), send(handles[0], 8)]),
            (b, vec![send(handles[1], 0), send(handles[1], 8)]),
            (server, vec![recv(16), recv(24), recv(32), recv(40)]),
        ];
        let machine = run_cpus(Machine::new(kernel, memories, scripts, 2, variant), 2);
        machine.kernel.with(|k| {
            k.check_invariants().unwrap();
            assert_eq!(k.stats().delivered, 4, "each message delivered once");
            for p in [a, b, server] {
                assert_eq!(k.process(p).unwrap().state, ProcessState::Exited(0));
            }
        });
        for p in machine.processes.lock().unwrap().iter() {
            assert!(p.results.iter().all(|&r| Reply::from_regs(r).is_ok()));
        }
        let mem = machine.memories.lock().unwrap();
        let got: Vec<u64> = (0..4)
            .map(|i| {
                let at = 16 + 8 * i;
                u64::from_le_bytes(mem.0[&server][at..at + 8].try_into().unwrap())
            })
            .collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [10, 11, 20, 21], "nothing lost or duplicated");
        for first in [10, 20] {
            let at = |v| got.iter().position(|&g| g == v).unwrap();
            assert!(at(first) < at(first + 1), "FIFO per sender: {got:?}");
        }
    });
}

#[test]
fn two_senders_and_a_receiver_on_one_mailbox_lose_nothing_and_keep_each_senders_order() {
    mailbox(Variant::Correct);
}

#[test]
#[should_panic]
fn loom_finds_the_lost_update_of_a_trap_run_outside_the_lock() {
    mailbox(Variant::TrapOnSnapshot);
}
