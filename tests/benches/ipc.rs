//! The cost of a send+recv pair through `trap`, against a crossbeam-channel pair as the yardstick.
//!
//! - `pair/kernel_64B`: one 64-byte message sent and received through the
//!   syscall ABI, one thread, `NullSink`, default configuration;
//! - `pair/crossbeam_64B`: a bounded crossbeam channel `try_send` +
//!   `try_recv` of a 64-byte array;
//! - `procs/N`: the kernel pair with N processes in the table;
//! - `depth/D`: the kernel pair with D messages already queued for the
//!   receiver (a send at the back, a receive from the front).
//!
//! Each kernel call's result is checked (the error register must be 0) and
//! the received length is kept from the optimiser, as an embedder reads a
//! result; the 40-byte outcome is not copied whole through `black_box`,
//! which costs a store-forwarding stall per call that no embedder pays
//! (`docs/kernel.md`, "Size and speed").

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ipclab_kernel::{Config, Fault, Kernel, NullSink, TrapOutcome, UserMemory};
use ipclab_syscalls::{Pid, Regs, Source, Syscall, TagFilter, Timeout};

/// Process memories indexed by slot: the embedder's side of a copy stays
/// cheap, so the figures are the kernel's.
#[derive(Default)]
struct Memories(Vec<Vec<u8>>);

impl Memories {
    fn insert(&mut self, pid: Pid, bytes: Vec<u8>) {
        let i = pid.index as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, Vec::new());
        }
        self.0[i] = bytes;
    }
}

impl UserMemory for Memories {
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
use std::hint::black_box;

struct Pair {
    kernel: Box<Kernel>,
    mem: Memories,
    sender: Pid,
    receiver: Pid,
    send: Regs,
    recv: Regs,
}

impl Pair {
    fn new(config: Config, processes: usize, depth: usize) -> Pair {
        let mut kernel = Box::new(Kernel::new(config).unwrap());
        let mut mem = Memories::default();
        let mut spawn = |kernel: &mut Kernel| {
            let pid = kernel.spawn("p", 1, 4096, &mut NullSink).unwrap();
            mem.insert(pid, vec![7; 4096]);
            pid
        };
        let sender = spawn(&mut kernel);
        let receiver = spawn(&mut kernel);
        for _ in 2..processes {
            spawn(&mut kernel);
        }
        kernel.dispatch(sender, &mut NullSink).unwrap();
        kernel.dispatch(receiver, &mut NullSink).unwrap();
        let send = Syscall::Send {
            to: receiver,
            buf: 0,
            len: 64,
            tag: 1,
            timeout: Timeout::NonBlocking,
        }
        .encode();
        let recv = Syscall::Recv {
            from: Source::Any,
            tag: TagFilter::Any,
            buf: 1024,
            cap: 64,
            timeout: Timeout::NonBlocking,
        }
        .encode();
        let mut pair = Pair {
            kernel,
            mem,
            sender,
            receiver,
            send,
            recv,
        };
        for _ in 0..depth {
            pair.send();
        }
        pair
    }

    /// Sends one message; it must complete (result register 0).
    fn send(&mut self) {
        let out = self
            .kernel
            .trap(self.sender, &self.send, &mut self.mem, &mut NullSink);
        assert!(matches!(out, Ok(TrapOutcome::Complete([0, ..]))));
    }

    /// Sends one message and receives it; the receive must complete with
    /// the message's length, which is kept from the optimiser. The results
    /// are checked as an embedder checks them (the error register first),
    /// not copied whole.
    fn round_trip(&mut self) {
        self.send();
        let out = self
            .kernel
            .trap(self.receiver, &self.recv, &mut self.mem, &mut NullSink);
        match out {
            Ok(TrapOutcome::Complete([0, len, ..])) => {
                black_box(len);
            }
            other => panic!("the receive failed: {other:?}"),
        }
    }
}

fn config_for_depth(depth: usize) -> Config {
    Config {
        buffer_slots: (depth + 1).max(8),
        receiver_quota: (depth + 1).max(8),
        ..Config::default()
    }
}

fn pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("pair");
    let mut p = Pair::new(Config::default(), 2, 0);
    group.bench_function("kernel_64B", |b| b.iter(|| p.round_trip()));
    let (tx, rx) = crossbeam_channel::bounded::<[u8; 64]>(8);
    let msg = [7u8; 64];
    group.bench_function("crossbeam_64B", |b| {
        b.iter(|| {
            tx.try_send(black_box(msg)).unwrap();
            black_box(rx.try_recv().unwrap());
        })
    });
    group.finish();
}

fn processes(c: &mut Criterion) {
    let mut group = c.benchmark_group("procs");
    for n in [2usize, 16, 128, 1024] {
        let mut p = Pair::new(Config::default(), n, 0);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| p.round_trip())
        });
    }
    group.finish();
}

fn depth(c: &mut Criterion) {
    let mut group = c.benchmark_group("depth");
    for d in [0usize, 1, 8, 32, 63] {
        let mut p = Pair::new(config_for_depth(d), 2, d);
        group.bench_with_input(BenchmarkId::from_parameter(d), &d, |b, _| {
            b.iter(|| p.round_trip())
        });
    }
    group.finish();
}

criterion_group!(benches, pair, processes, depth);
criterion_main!(benches);
