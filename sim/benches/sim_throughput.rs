//! Simulator throughput: syscalls per second through the whole simulator, against the kernel path alone.
//!
//! Runs, in one process and one after the other:
//! 1. the kernel-only path: a 64-byte `send` + `recv` pair through
//!    `Kernel::trap`, two processes, no simulator;
//! 2. the simulator on the one-producer, one-consumer credit scenario
//!    (bytecode VM, scheduler, clock, kernel), trace recording off;
//! 3. the same scenario with direct addressing;
//! 4. the kernel's share of 2: its calls, context switches and clock ticks
//!    driven straight through the kernel, without the VM;
//! 5. a scenario with 1,000 processes, to show it runs.
//!
//! and prints syscalls per second for 1 to 4 and their ratios to 1 (issue
//! 3's target: the simulator adds at most 3x over the kernel path; 4 shows
//! how much of that the kernel itself takes on this workload). Run with
//! `cargo bench -p ipclab-sim --bench sim_throughput`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ipclab_kernel::{Config, Fault, Kernel, NullSink, ProcessState, TrapOutcome, UserMemory};
use ipclab_sim::runner::{self, RunOptions};
use ipclab_syscalls::{Handle, Pid, Source, Syscall, TagFilter, Timeout};

const CREDIT_1P1C: &str = r#"
const N = 2;
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);
process Producer {
    loop { produce item; recv(prodMbox, credit); send(consMbox, item); }
}
process Consumer {
    repeat N { send(prodMbox, credit); }
    loop { recv(consMbox, item); send(prodMbox, credit); consume item; }
}
"#;

const CREDIT_DIRECT_1P1C: &str = r#"
const N = 2;
process Producer {
    loop { produce item; recv(Consumer, credit); send(Consumer, item); }
}
process Consumer {
    repeat N { send(Producer, credit); }
    loop { recv(Producer, item); send(Producer, credit); consume item; }
}
"#;

const THOUSAND: &str = r#"
process Sender[500] { send(Receiver[index], index); }
process Receiver[500] { recv(Sender[index], x); assert x == index; }
expect completes;
"#;

struct Flat(Vec<Vec<u8>>);

impl UserMemory for Flat {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
        let m = self.0.get(pid.index as usize).ok_or(Fault)?;
        let a = addr as usize;
        out.copy_from_slice(m.get(a..a + out.len()).ok_or(Fault)?);
        Ok(())
    }
    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let m = self.0.get_mut(pid.index as usize).ok_or(Fault)?;
        let a = addr as usize;
        m.get_mut(a..a + data.len())
            .ok_or(Fault)?
            .copy_from_slice(data);
        Ok(())
    }
}

/// Kernel-only: syscalls per second of send+recv pairs.
fn kernel_path(duration: Duration) -> f64 {
    let mut kernel = Box::new(Kernel::new(Config::default()).expect("default config"));
    let mut sink = NullSink;
    let a = kernel.spawn("A", 0, 256, &mut sink).expect("spawn");
    let b = kernel.spawn("B", 0, 256, &mut sink).expect("spawn");
    kernel.dispatch(a, &mut sink).expect("dispatch");
    kernel.dispatch(b, &mut sink).expect("dispatch");
    let mut mem = Flat(vec![vec![7u8; 256], vec![0u8; 256]]);
    let send = Syscall::Send {
        to: b,
        buf: 0,
        len: 64,
        tag: 1,
        timeout: Timeout::Never,
    }
    .encode();
    let recv = Syscall::Recv {
        from: Source::Pid(a),
        tag: TagFilter::Any,
        buf: 64,
        cap: 64,
        timeout: Timeout::Never,
    }
    .encode();
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < duration {
        for _ in 0..1000 {
            let s = kernel.trap(a, &send, &mut mem, &mut sink);
            let r = kernel.trap(b, &recv, &mut mem, &mut sink);
            assert!(matches!(s, Ok(TrapOutcome::Complete(_))));
            black_box(r).ok();
        }
        calls += 2000;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// The kernel's share of the credit scenario: the same calls, in the same
/// order, driven straight through the kernel as the runner drives them
/// (a context switch when the running process blocks, the completion of a
/// blocked call collected on resume, one clock tick per step), with no VM.
/// The producer's `produce` is a step of its own, as in the simulator.
fn kernel_floor(duration: Duration) -> f64 {
    let mut kernel = Box::new(Kernel::new(Config::default()).expect("default config"));
    let mut sink = NullSink;
    let prod_mbox = kernel
        .create_mailbox("prodMbox", 4, &mut sink)
        .expect("mailbox");
    let cons_mbox = kernel
        .create_mailbox("consMbox", 4, &mut sink)
        .expect("mailbox");
    let producer = kernel.spawn("Producer", 0, 64, &mut sink).expect("spawn");
    let consumer = kernel.spawn("Consumer", 0, 64, &mut sink).expect("spawn");
    for pid in [producer, consumer] {
        for mailbox in [prod_mbox, cons_mbox] {
            kernel.grant_handle(pid, mailbox).expect("handle");
        }
    }
    let mut mem = Flat(vec![vec![0u8; 64], vec![0u8; 64]]);
    let handle = |raw: u64| Handle::from_raw(raw).expect("handle");
    let send = |h: u64, buf: u64| {
        Some(
            Syscall::MboxSend {
                handle: handle(h),
                buf,
                len: 8,
                tag: 0,
                timeout: Timeout::Never,
            }
            .encode(),
        )
    };
    let recv = |h: u64, buf: u64| {
        Some(
            Syscall::MboxRecv {
                handle: handle(h),
                tag: TagFilter::Any,
                buf,
                cap: 8,
                timeout: Timeout::Never,
            }
            .encode(),
        )
    };
    // Each process's steps, in a cycle; `None` is a step without a call
    // (`produce`, `consume`). The consumer's first two steps hand out its
    // N = 2 credits and are not repeated.
    let producer_steps = [None, recv(0, 8), send(1, 0)];
    let consumer_start = [send(0, 8), send(0, 8)];
    let consumer_steps = [recv(1, 16), send(0, 8), None];
    let mut next = [0usize, 0usize];
    let start = Instant::now();
    let calls_before = kernel.stats().syscalls;
    while start.elapsed() < duration {
        for _ in 0..1000 {
            let running = kernel
                .processes()
                .iter()
                .position(|p| matches!(p.state, ProcessState::Running));
            let k = match running {
                Some(k) => k,
                None => {
                    let pid = kernel
                        .pick_next()
                        .expect("the credit scheme never deadlocks");
                    kernel.dispatch(pid, &mut sink).expect("dispatch");
                    pid.index as usize
                }
            };
            let pid = [producer, consumer][k];
            black_box(kernel.take_completion(pid));
            let step = next[k];
            next[k] += 1;
            let call = match k {
                0 => &producer_steps[step % 3],
                _ if step < 2 => &consumer_start[step],
                _ => &consumer_steps[(step - 2) % 3],
            };
            if let Some(regs) = call {
                black_box(kernel.trap(pid, regs, &mut mem, &mut sink)).ok();
            }
            kernel.tick(&mut sink);
        }
    }
    let rate = (kernel.stats().syscalls - calls_before) as f64 / start.elapsed().as_secs_f64();
    // Every call did its work: the consumer received every item sent but
    // the ones in flight, and the kernel's books balance.
    let stats = kernel.stats();
    assert!(stats.delivered + 8 >= stats.accepted, "{stats:?}");
    assert!(stats.delivered * 2 + 16 >= stats.syscalls, "{stats:?}");
    kernel.check_invariants().expect("invariants hold");
    rate
}

/// Whole simulator: syscalls per second on the credit scenario.
fn simulator_path(source: &str, duration: Duration) -> f64 {
    let program = ipclab_sim::lang::compile("credit-1p1c.ipc", source.as_bytes(), &[])
        .expect("bench scenario compiles");
    let options = RunOptions {
        max_steps: 200_000,
        max_ticks: u64::MAX,
        record: false,
        ..RunOptions::default()
    };
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < duration {
        let result = runner::run(&program, options).expect("boots");
        calls += result.stats.syscalls;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less args: keep it short then.
    let quick = std::env::args().any(|a| a == "--test");
    let duration = if quick {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(3)
    };
    let kernel = kernel_path(duration);
    let simulator = simulator_path(CREDIT_1P1C, duration);
    let direct = simulator_path(CREDIT_DIRECT_1P1C, duration);
    let floor = kernel_floor(duration);
    println!(
        "kernel path (send+recv through trap): {:>12.0} syscalls/s",
        kernel
    );
    println!(
        "simulator (credit 1P1C, no trace):    {:>12.0} syscalls/s",
        simulator
    );
    println!(
        "simulator (credit 1P1C direct):       {:>12.0} syscalls/s",
        direct
    );
    println!(
        "simulator overhead: {:.2}x the kernel path (target: at most 3x); direct addressing {:.2}x",
        kernel / simulator,
        kernel / direct
    );
    println!(
        "the kernel's share: the credit scenario's calls, ticks and switches without the VM: {:>12.0} syscalls/s, {:.2}x the kernel path",
        floor,
        kernel / floor
    );
    let program = ipclab_sim::lang::compile("thousand.ipc", THOUSAND.as_bytes(), &[])
        .expect("1000-process scenario compiles");
    let start = Instant::now();
    let result = runner::run(
        &program,
        RunOptions {
            record: false,
            max_steps: 100_000,
            ..RunOptions::default()
        },
    )
    .expect("boots");
    println!(
        "1000 processes: verdict {} after {} steps, {} syscalls, in {:.1} ms",
        result.verdict.keyword(),
        result.steps,
        result.stats.syscalls,
        start.elapsed().as_secs_f64() * 1e3
    );
}
