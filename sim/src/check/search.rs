//! The state-space search: depth-first (sequential) or level-synchronous breadth-first (parallel), with ample-set reduction; builds the explored graph.
//!
//! Every discovered state gets a node (its fingerprint in the visited set);
//! every expanded state records its outgoing edges, each labelled with the
//! choice and what the step did (produce, consume, a completed call). The
//! analyses ([`super::analysis`]) run on this graph afterwards.
//!
//! # Reduction (ample sets)
//! A step whose only effect is on its own process (`compute`, `print`, a
//! step budget, `produce`, `consume`) commutes with every other transition
//! and stays enabled until taken. When a ready process's next step is such
//! a local step, the search explores only that step from the state (the
//! ample set is that one transition), unless the step could close a cycle
//! of reduced states (the cycle proviso). The proviso is static, so that
//! the reduced graph is a function of the state alone and every search
//! order and number of workers explores the same states: a local step is
//! not taken alone when the instruction it starts at lies on a loop of the
//! process's code without system calls ([`super::model::local_loops`]).
//! On a cycle of reduced states every step is local (a reduced state has
//! only its ample edge), so every process that moves on it runs round a
//! loop of its code without system calls, and each of its steps on the
//! cycle starts on that loop: such a state is fully expanded, a
//! contradiction. So every cycle of the explored graph contains a fully
//! expanded state, whatever the search order. (Programs whose loops all
//! make system calls, as the lecture's do, lose no reduction to it.)
//!
//! # Search orders
//! Depth-first with one worker ([`dfs`], an explicit stack;
//! `max_depth` bounds the stack, the length of the current path); otherwise
//! level-synchronous breadth-first over `jobs` workers ([`bfs`]; each
//! level's states are expanded in parallel, then recorded in frontier
//! order, so the graph's numbering does not depend on the number of
//! workers; `max_depth` bounds the level, the distance from the start).
//! Both explore the same states and transitions when they finish.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::model::{fingerprint, Model, Scratch, StepKind};
use super::schedule::Choice;
use super::{Bound, CheckOptions, Kind, SearchOrder};
use crate::verdict::Verdict;

/// The fingerprints are hashes already: use their low bits.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub type Visited = HashMap<u128, u32, BuildHasherDefault<Identity>>;

/// Edge label bits.
pub const LABEL_TIMER: u16 = 1 << 6;
pub const LABEL_PRODUCED: u16 = 1 << 7;
pub const LABEL_CONSUMED: u16 = 1 << 8;
pub const LABEL_CALL: u16 = 1 << 9;

/// The choice an edge label names.
pub fn label_choice(label: u16) -> Choice {
    let k = (label & 0x3f) as usize;
    if label & LABEL_TIMER != 0 {
        Choice::Timer(k)
    } else {
        Choice::Run(k)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Edge {
    pub to: u32,
    pub label: u16,
}

/// Node states.
pub const UNEXPANDED: u8 = 0;
pub const EXPANDED: u8 = 1;
/// An error state (or a stuck or end state): nothing follows.
pub const TERMINAL: u8 = 2;

#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub first_edge: u32,
    pub edge_count: u32,
    /// Ready instances, instances whose timer can fire, live instances.
    pub run: u64,
    pub timer: u64,
    pub alive: u64,
    pub depth: u32,
    pub status: u8,
    /// The kind of violation this state is (`Kind as u8 + 1`), or 0.
    pub violation: u8,
    /// With `--require-empty`: a message became one no one will ever
    /// receive on the way here (undeliverable, or its send cancelled). The
    /// run goes on, so the state is expanded as any other, but it is a
    /// `not_empty` state whatever follows (see [`Node::shows`]).
    pub lost: bool,
}

impl Node {
    /// Is this state a violation of code `code` (`Kind as u8 + 1`)? A
    /// state after a lost message is a `not_empty` one, and may be
    /// another kind too (stuck, say): the one byte holds the other.
    #[inline]
    pub fn shows(&self, code: u8) -> bool {
        self.violation == code || (self.lost && code == Kind::NotEmpty as u8 + 1)
    }

    /// Where its edges lie in [`Graph::edges`].
    #[inline]
    pub fn edge_range(&self) -> std::ops::Range<usize> {
        self.first_edge as usize..(self.first_edge + self.edge_count) as usize
    }
}

/// The explored graph.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub visited: Visited,
    /// The first state found of each kind of violation, with its verdict.
    pub found: Vec<(Kind, u32, Verdict)>,
    /// Expansions that took an ample set smaller than the enabled set.
    pub reduced: u64,
}

struct Succ {
    fp: u128,
    /// The encoding; empty when the state was known to be visited already.
    next: Vec<u8>,
    label: u16,
    error: Option<(Kind, Verdict)>,
    /// The state follows a lost message (this step's or an earlier one's).
    lost: bool,
    /// This step lost a message: the `not_empty` finding.
    loss: Option<Verdict>,
}

struct Expansion {
    run: u64,
    timer: u64,
    alive: u64,
    succs: Vec<Succ>,
    /// The state itself is a violation (stuck, or an end state with
    /// messages left).
    stuck: Option<(Kind, Verdict)>,
    reduced: bool,
}

/// The `not_empty` finding: `count` messages became undeliverable (the
/// kernel's three cases: queued when the receiver exited, sent after it
/// exited, queued in a mailbox destroyed).
fn left_undelivered(count: u64) -> Verdict {
    let one = count == 1;
    Verdict::BlockedForever {
        stuck: vec![crate::verdict::Stuck {
            process: "kernel buffer".into(),
            why: format!(
                "{count} message{} never received (undeliverable): {} receiver exited before \
                 receiving {}, or {} mailbox went away",
                if one { " is" } else { "s are" },
                if one { "its" } else { "their" },
                if one { "it" } else { "them" },
                if one { "its" } else { "their" },
            ),
        }],
    }
}

/// The `not_empty` finding of `count` MPI sends cancelled by their
/// sender's exit: their messages never left the sender.
fn left_unsent(count: u64) -> Verdict {
    let one = count == 1;
    Verdict::BlockedForever {
        stuck: vec![crate::verdict::Stuck {
            process: "kernel buffer".into(),
            why: format!(
                "{count} message{} never received (cancelled): {} sender exited with {} \
                 nonblocking send still pending (an MPI_Isend or the like, never completed by a \
                 wait)",
                if one { " is" } else { "s are" },
                if one { "its" } else { "their" },
                if one { "its" } else { "their" },
            ),
        }],
    }
}

/// Salted into the fingerprint of a state that follows a lost message:
/// the same kernel and processes, but a run that has gone wrong.
const LOST_SALT: u128 = 0x5851_f42d_4c95_7f2d_1405_7b7e_f767_814f;

/// Expands `state` (`lost`: a message was lost on the way to it): its
/// enabled sets, and its successors (an ample set when the reduction
/// allows). `known` says whether a fingerprint is certainly visited
/// already (its encoding is then not kept).
fn expand(
    model: &Model,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    (state, lost): (&[u8], bool),
    options: &CheckOptions,
    known: &dyn Fn(u128) -> bool,
) -> Expansion {
    model.load(scratch, state);
    let (run, timer, alive) = model.enabled(scratch);
    let mut expansion = Expansion {
        run,
        timer,
        alive,
        succs: Vec::new(),
        stuck: None,
        reduced: false,
    };
    if run == 0 && timer == 0 {
        if alive == 0 {
            let left = model.buffered(scratch);
            if options.require_empty && left > 0 {
                expansion.stuck = Some((
                    Kind::NotEmpty,
                    Verdict::BlockedForever {
                        stuck: vec![crate::verdict::Stuck {
                            process: "kernel buffer".into(),
                            why: format!(
                                "every process exited with {left} message{} still buffered",
                                if left == 1 { "" } else { "s" }
                            ),
                        }],
                    },
                ));
            }
        } else {
            let verdict = model.analyse_stuck(scratch);
            let kind = match verdict {
                Verdict::Deadlock { .. } => Kind::Deadlock,
                _ => Kind::BlockedForever,
            };
            expansion.stuck = Some((kind, verdict));
        }
        return expansion;
    }
    expansion
        .succs
        .reserve((run.count_ones() + timer.count_ones()) as usize);
    let mut push = |choice: Choice, expansion: &mut Expansion| -> bool {
        let result = model.step_into(scratch, state, choice, buf);
        let mut label: u16 = match choice {
            Choice::Run(k) => k as u16,
            Choice::Timer(k) => k as u16 | LABEL_TIMER,
        };
        if result.produced {
            label |= LABEL_PRODUCED;
        }
        if result.consumed {
            label |= LABEL_CONSUMED;
        }
        if result.call_done {
            label |= LABEL_CALL;
        }
        let error = result.error.map(|v| {
            let kind = match v {
                Verdict::AssertionFailed { .. } => Kind::AssertionFailed,
                _ => Kind::Error,
            };
            (kind, v)
        });
        // A message left in a buffer when its receiver exited (or its
        // mailbox went away) can never be received: the run ends with it
        // undelivered, whatever happens next. So can the message of an
        // `MPI_Isend` still pending when its sender exited (erroneous in
        // MPI: a request never completed). The run goes on: what follows
        // is explored too (a process left blocked forever by it, say).
        let loss = if !options.require_empty || error.is_some() {
            None
        } else if result.undeliverable > 0 {
            Some(left_undelivered(result.undeliverable))
        } else if result.cancelled > 0 {
            Some(left_unsent(result.cancelled))
        } else {
            None
        };
        let lost = lost || loss.is_some();
        let mut fp = fingerprint(buf);
        if let Some((kind, _)) = &error {
            // An error state is never the same as a running one.
            fp ^= 0x9e37_79b9_7f4a_7c15_u128 * (*kind as u128 + 1);
        }
        if lost {
            fp ^= LOST_SALT;
        }
        // The cycle proviso (module documentation): forward local steps only.
        let reduce = options.reduction
            && result.kind == StepKind::Local
            && !result.in_local_loop
            && error.is_none();
        let next = if error.is_some() || known(fp) {
            Vec::new()
        } else {
            buf.as_slice().to_vec()
        };
        expansion.succs.push(Succ {
            fp,
            next,
            label,
            error,
            lost,
            loss,
        });
        reduce
    };
    for k in 0..model.instances {
        if run & (1 << k) != 0 && push(Choice::Run(k), &mut expansion) {
            let ample = expansion.succs.pop();
            expansion.succs.clear();
            expansion.succs.extend(ample);
            expansion.reduced = run.count_ones() + timer.count_ones() > 1;
            return expansion;
        }
    }
    for k in 0..model.instances {
        if timer & (1 << k) != 0 {
            push(Choice::Timer(k), &mut expansion);
        }
    }
    expansion
}

impl Graph {
    /// Expands stored node `id`, whose encoding is `state`, against the
    /// states visited so far (and whether a loss led to it).
    fn expand_node(
        &self,
        model: &Model,
        (scratch, buf): (&mut Scratch, &mut Vec<u8>),
        id: u32,
        state: &[u8],
        options: &CheckOptions,
    ) -> Expansion {
        let known = |fp: u128| self.visited.contains_key(&fp);
        let lost = self.nodes[id as usize].lost;
        expand(model, scratch, buf, (state, lost), options, &known)
    }

    /// Renumbers the nodes in breadth-first order from the initial state,
    /// edges in their stored order: the numbering a breadth-first search
    /// gives. After a depth-first search that explored the whole space, the
    /// graph is then the same, node for node, as after a breadth-first one,
    /// so every analysis (which lasso is reported, which state is found
    /// first) gives the same answer. Unreachable nodes (none) keep their order
    /// after the rest.
    fn renumber_breadth_first(&mut self) {
        let n = self.nodes.len();
        if n == 0 {
            return;
        }
        const NONE: u32 = u32::MAX;
        let mut new_of = vec![NONE; n];
        let mut order: Vec<u32> = Vec::with_capacity(n);
        new_of[0] = 0;
        order.push(0);
        let mut head = 0;
        while head < order.len() {
            let v = order[head] as usize;
            head += 1;
            let node = self.nodes[v];
            for e in &self.edges[node.edge_range()] {
                if new_of[e.to as usize] == NONE {
                    new_of[e.to as usize] = order.len() as u32;
                    order.push(e.to);
                }
            }
        }
        for (v, new) in new_of.iter_mut().enumerate() {
            if *new == NONE {
                *new = order.len() as u32;
                order.push(v as u32);
            }
        }
        let mut nodes = Vec::with_capacity(n);
        let mut edges = Vec::with_capacity(self.edges.len());
        for &old in &order {
            let mut node = self.nodes[old as usize];
            let first = edges.len() as u32;
            for e in &self.edges[node.edge_range()] {
                edges.push(Edge {
                    to: new_of[e.to as usize],
                    label: e.label,
                });
            }
            node.first_edge = first;
            nodes.push(node);
        }
        self.nodes = nodes;
        self.edges = edges;
        for id in self.visited.values_mut() {
            *id = new_of[*id as usize];
        }
        for (_, id, _) in &mut self.found {
            *id = new_of[*id as usize];
        }
    }

    fn node_of(&mut self, fp: u128, depth: u32) -> (u32, bool) {
        if let Some(&id) = self.visited.get(&fp) {
            return (id, false);
        }
        let id = self.nodes.len() as u32;
        self.visited.insert(fp, id);
        self.nodes.push(Node {
            first_edge: 0,
            edge_count: 0,
            run: 0,
            timer: 0,
            alive: 0,
            depth,
            status: UNEXPANDED,
            violation: 0,
            lost: false,
        });
        (id, true)
    }

    fn note(&mut self, kind: Kind, id: u32, verdict: Verdict) {
        self.nodes[id as usize].violation = kind as u8 + 1;
        self.found_first(kind, id, verdict);
    }

    /// Keeps `id` as the state found of `kind` if it is the first.
    fn found_first(&mut self, kind: Kind, id: u32, verdict: Verdict) {
        if !self.found.iter().any(|(k, _, _)| *k == kind) {
            self.found.push((kind, id, verdict));
        }
    }

    /// Records an expansion of node `id`; returns the new successors to
    /// explore (not error states), with their encodings.
    fn record(&mut self, id: u32, expansion: Expansion) -> Vec<(u32, Vec<u8>)> {
        let depth = self.nodes[id as usize].depth;
        {
            let node = &mut self.nodes[id as usize];
            node.run = expansion.run;
            node.timer = expansion.timer;
            node.alive = expansion.alive;
            node.first_edge = self.edges.len() as u32;
            node.edge_count = expansion.succs.len() as u32;
            node.status = if expansion.succs.is_empty() {
                TERMINAL
            } else {
                EXPANDED
            };
        }
        if expansion.reduced {
            self.reduced += 1;
        }
        if let Some((kind, verdict)) = expansion.stuck {
            self.note(kind, id, verdict);
        }
        let mut fresh = Vec::new();
        for succ in expansion.succs {
            let (to, is_new) = self.node_of(succ.fp, depth + 1);
            self.edges.push(Edge {
                to,
                label: succ.label,
            });
            self.nodes[to as usize].lost |= succ.lost;
            if let Some(verdict) = succ.loss {
                // The state is `not_empty` by its flag (`Node::shows`);
                // its violation byte stays free for what it is besides.
                self.found_first(Kind::NotEmpty, to, verdict);
            }
            if let Some((kind, verdict)) = succ.error {
                self.nodes[to as usize].status = TERMINAL;
                self.note(kind, to, verdict);
            } else if is_new {
                fresh.push((to, succ.next));
            }
        }
        fresh
    }
}

/// The outcome of a search.
pub struct Searched {
    pub graph: Graph,
    pub bound: Option<Bound>,
    pub max_depth: u32,
    pub elapsed: std::time::Duration,
    /// The order that produced this graph (see [`search`]).
    pub order: SearchOrder,
}

struct Limits {
    start: Instant,
    /// When the time limit runs out, if there is one.
    deadline: Option<Instant>,
    bar: ProgressBar,
    expansions: u64,
}

impl Limits {
    fn new(options: &CheckOptions) -> Limits {
        let bar = if options.progress_bar && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let start = Instant::now();
        Limits {
            start,
            deadline: options.time_limit.and_then(|t| start.checked_add(t)),
            bar,
            expansions: 0,
        }
    }

    /// Has the time limit run out? Asked before every expansion: one state
    /// of a large scenario may take milliseconds to expand, so a check every
    /// thousand states could overrun the limit many times over.
    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Counts an expansion; a bound when the states or the time ran out.
    fn tick(&mut self, graph: &Graph, depth: u32, options: &CheckOptions) -> Option<Bound> {
        self.expansions += 1;
        if graph.nodes.len() as u64 >= options.max_states {
            return Some(Bound::States);
        }
        if self.out_of_time() {
            return Some(Bound::Time);
        }
        if self.expansions.is_multiple_of(1024) && !self.bar.is_hidden() {
            let elapsed = self.start.elapsed();
            let rate = graph.nodes.len() as f64 / elapsed.as_secs_f64().max(1e-9);
            self.bar.set_message(format!(
                "{} states, depth {depth}, {:.0} states/s",
                graph.nodes.len(),
                rate
            ));
            self.bar.tick();
        }
        None
    }
}

/// Explores the state space of `model` as `options` say: depth-first with
/// one worker, else breadth-first over `options.jobs` workers.
///
/// A depth-first search that the depth bound cut short is done again
/// breadth-first. Depth-first meets a state first by whichever path it
/// takes, maybe a long one, and explores below it only as far as the bound
/// allows from there; a state `max_depth` steps from the start, reached
/// through it, can then be missed. Breadth-first bounds the distance from
/// the start, so `--max-depth N` finds every violation N steps away.
pub fn search(model: &Model, options: &CheckOptions) -> Searched {
    match effective_order(options) {
        SearchOrder::DepthFirst => {
            let searched = dfs(model, options);
            if searched.bound != Some(Bound::Depth) {
                return searched;
            }
            // The rest of the time allowed, for the second search.
            let rest = CheckOptions {
                time_limit: options
                    .time_limit
                    .map(|t| t.saturating_sub(searched.elapsed)),
                ..options.clone()
            };
            let mut again = bfs(model, &rest);
            again.elapsed += searched.elapsed;
            again
        }
        SearchOrder::BreadthFirst => bfs(model, options),
    }
}

/// The order a search with `options` uses: depth-first only when asked and
/// with one worker (`--jobs 1`); several workers search level by level.
pub fn effective_order(options: &CheckOptions) -> SearchOrder {
    if options.order == SearchOrder::DepthFirst && options.jobs <= 1 {
        SearchOrder::DepthFirst
    } else {
        SearchOrder::BreadthFirst
    }
}

struct Frame {
    children: Vec<(u32, Vec<u8>)>,
    next: usize,
}

/// After the states bound stopped a search: looks at the states stored but
/// not expanded, and records those that are stuck or end states (they add
/// no state). A stored state is then judged whatever the search order,
/// as at the depth bound.
fn judge_unexpanded<'a>(
    model: &Model,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    graph: &mut Graph,
    options: &CheckOptions,
    limits: &Limits,
    states: impl Iterator<Item = (u32, &'a [u8])>,
) {
    for (id, state) in states {
        if limits.out_of_time() {
            // A bound was reached already: the answer is no proof either way.
            return;
        }
        if graph.nodes[id as usize].status != UNEXPANDED {
            continue;
        }
        let expansion = graph.expand_node(model, (scratch, buf), id, state, options);
        if expansion.succs.is_empty() {
            graph.record(id, expansion);
        }
    }
}

fn dfs(model: &Model, options: &CheckOptions) -> Searched {
    let mut limits = Limits::new(options);
    let mut graph = Graph::default();
    let mut scratch = model.scratch();
    let mut buf = Vec::new();
    let mut bound = None;
    let mut max_depth = 0;
    let (root, _) = graph.node_of(fingerprint(model.initial()), 0);
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Option<(u32, Vec<u8>)> = Some((root, model.initial().to_vec()));
    loop {
        if let Some((id, state)) = pending.take() {
            let depth = stack.len() as u32;
            max_depth = max_depth.max(depth);
            if depth as u64 >= options.max_depth {
                // Nothing past the bound is explored, but a state at it may
                // be stuck: `--max-depth N` finds a deadlock N steps away.
                let expansion =
                    graph.expand_node(model, (&mut scratch, &mut buf), id, &state, options);
                if expansion.succs.is_empty() {
                    graph.record(id, expansion);
                } else {
                    bound.get_or_insert(Bound::Depth);
                }
            } else {
                if let Some(b) = limits.tick(&graph, depth, options) {
                    bound = Some(b);
                    if b == Bound::States {
                        let unexpanded = std::iter::once((id, state.as_slice())).chain(
                            stack.iter().flat_map(|f| {
                                f.children[f.next..]
                                    .iter()
                                    .map(|(id, s)| (*id, s.as_slice()))
                            }),
                        );
                        judge_unexpanded(
                            model,
                            &mut scratch,
                            &mut buf,
                            &mut graph,
                            options,
                            &limits,
                            unexpanded,
                        );
                    }
                    break;
                }
                let expansion =
                    graph.expand_node(model, (&mut scratch, &mut buf), id, &state, options);
                let children = graph.record(id, expansion);
                stack.push(Frame { children, next: 0 });
            }
        }
        let Some(top) = stack.last_mut() else { break };
        if top.next < top.children.len() {
            let (id, state) = std::mem::take(&mut top.children[top.next]);
            top.next += 1;
            pending = Some((id, state));
        } else {
            stack.pop();
        }
    }
    graph.renumber_breadth_first();
    let elapsed = limits.start.elapsed();
    limits.bar.finish_and_clear();
    Searched {
        graph,
        bound,
        max_depth,
        elapsed,
        order: SearchOrder::DepthFirst,
    }
}

fn bfs(model: &Model, options: &CheckOptions) -> Searched {
    let mut limits = Limits::new(options);
    let mut graph = Graph::default();
    let jobs = options.jobs.max(1);
    let mut scratches: Vec<(Scratch, Vec<u8>)> =
        (0..jobs).map(|_| (model.scratch(), Vec::new())).collect();
    let (root, _) = graph.node_of(fingerprint(model.initial()), 0);
    let mut frontier: Vec<(u32, Vec<u8>)> = vec![(root, model.initial().to_vec())];
    let mut bound = None;
    let mut depth = 0u32;
    // The level of the last frontier: the distance of the farthest state.
    let mut deepest = 0u32;
    'levels: while !frontier.is_empty() {
        deepest = depth;
        if u64::from(depth) >= options.max_depth {
            // As depth-first: a state at the bound may still be stuck.
            let (scratch, buf) = &mut scratches[0];
            for (id, state) in &frontier {
                let expansion = graph.expand_node(model, (scratch, buf), *id, state, options);
                if expansion.succs.is_empty() {
                    graph.record(*id, expansion);
                } else {
                    bound = Some(Bound::Depth);
                }
            }
            break;
        }
        // Aligned with the frontier: `None` where the time ran out before
        // the state was expanded.
        let expansions: Vec<Option<Expansion>> = {
            let (graph, limits) = (&graph, &limits);
            let expand_one =
                |scratch: &mut Scratch, buf: &mut Vec<u8>, (id, state): &(u32, Vec<u8>)| {
                    (!limits.out_of_time())
                        .then(|| graph.expand_node(model, (scratch, buf), *id, state, options))
                };
            if jobs == 1 || frontier.len() < 64 {
                let (scratch, buf) = &mut scratches[0];
                frontier
                    .iter()
                    .map(|item| expand_one(scratch, buf, item))
                    .collect()
            } else {
                // Small chunks handed out in turn: states differ in cost.
                let chunk = (frontier.len() / (jobs * 16)).clamp(16, 4096);
                let next_chunk = std::sync::atomic::AtomicUsize::new(0);
                let chunks = frontier.len().div_ceil(chunk);
                let mut done: Vec<Option<Vec<Option<Expansion>>>> = Vec::new();
                done.resize_with(chunks, || None);
                let results = std::thread::scope(|scope| {
                    let handles: Vec<_> = scratches
                        .iter_mut()
                        .map(|(scratch, buf)| {
                            let (expand_one, next_chunk, frontier) =
                                (&expand_one, &next_chunk, &frontier);
                            scope.spawn(move || {
                                let mut mine = Vec::new();
                                loop {
                                    let c = next_chunk
                                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    if c >= chunks {
                                        break mine;
                                    }
                                    let part =
                                        &frontier[c * chunk..((c + 1) * chunk).min(frontier.len())];
                                    let out: Vec<Option<Expansion>> = part
                                        .iter()
                                        .map(|item| expand_one(scratch, buf, item))
                                        .collect();
                                    mine.push((c, out));
                                }
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().expect("a checker worker panicked"))
                        .collect::<Vec<_>>()
                });
                for (c, out) in results {
                    done[c] = Some(out);
                }
                done.into_iter().flatten().flatten().collect()
            }
        };
        let cut_by_time = expansions.iter().any(Option::is_none);
        let mut next = Vec::new();
        let mut expansions = expansions.into_iter();
        for (id, _) in frontier.iter() {
            let Some(expansion) = expansions.next() else {
                break;
            };
            let Some(expansion) = expansion else {
                continue;
            };
            if let Some(b) = limits.tick(&graph, depth, options) {
                bound = Some(b);
                if b == Bound::States {
                    // The rest of this level is expanded already: its stuck
                    // states add nothing; the next level's are looked at.
                    let from = frontier.len() - expansions.len() - 1;
                    let rest = std::iter::once(Some(expansion)).chain(expansions);
                    for ((id, _), expansion) in frontier[from..].iter().zip(rest) {
                        if let Some(expansion) = expansion.filter(|e| e.succs.is_empty()) {
                            graph.record(*id, expansion);
                        }
                    }
                    let (scratch, buf) = &mut scratches[0];
                    let unexpanded = next
                        .iter()
                        .map(|(id, s): &(u32, Vec<u8>)| (*id, s.as_slice()));
                    judge_unexpanded(
                        model, scratch, buf, &mut graph, options, &limits, unexpanded,
                    );
                }
                break 'levels;
            }
            next.extend(graph.record(*id, expansion));
        }
        if cut_by_time {
            // The states expanded before the time ran out are recorded.
            bound = Some(Bound::Time);
            break;
        }
        frontier = next;
        depth += 1;
    }
    limits.bar.finish_and_clear();
    Searched {
        graph,
        bound,
        max_depth: deepest,
        elapsed: limits.start.elapsed(),
        order: SearchOrder::BreadthFirst,
    }
}
