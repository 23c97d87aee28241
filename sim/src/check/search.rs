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
//! ample set is that one transition), unless its successor could close a
//! cycle of reduced states (the cycle proviso): under depth-first search,
//! when the successor is on the search stack; under breadth-first search,
//! when it was already visited before the current level began (so a reduced
//! edge always goes one level deeper, and every cycle contains a fully
//! expanded state). Then the state is fully expanded.

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
    next: Vec<u8>,
    label: u16,
    error: Option<(Kind, Verdict)>,
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

fn expand(
    model: &Model,
    scratch: &mut Scratch,
    state: &[u8],
    options: &CheckOptions,
    may_reduce: &dyn Fn(u128) -> bool,
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
    let push = |choice: Choice, expansion: &mut Expansion, scratch: &mut Scratch| -> bool {
        let result = model.step(scratch, state, choice);
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
        let mut fp = fingerprint(&result.next);
        if let Some((kind, _)) = &error {
            // An error state is never the same as a running one.
            fp ^= 0x9e37_79b9_7f4a_7c15_u128 * (*kind as u128 + 1);
        }
        let local = result.kind == StepKind::Local && error.is_none();
        let reduce = options.reduction && local && may_reduce(fp);
        expansion.succs.push(Succ {
            fp,
            next: result.next,
            label,
            error,
        });
        reduce
    };
    for k in 0..model.instances {
        if run & (1 << k) != 0 && push(Choice::Run(k), &mut expansion, scratch) {
            let ample = expansion.succs.pop();
            expansion.succs.clear();
            expansion.succs.extend(ample);
            expansion.reduced = run.count_ones() + timer.count_ones() > 1;
            return expansion;
        }
    }
    for k in 0..model.instances {
        if timer & (1 << k) != 0 {
            push(Choice::Timer(k), &mut expansion, scratch);
        }
    }
    expansion
}

impl Graph {
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
        });
        (id, true)
    }

    fn note(&mut self, kind: Kind, id: u32, verdict: Verdict) {
        self.nodes[id as usize].violation = kind as u8 + 1;
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
}

struct Limits {
    start: Instant,
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
        Limits {
            start: Instant::now(),
            bar,
            expansions: 0,
        }
    }

    /// Counts an expansion; a bound when the states or the time ran out.
    fn tick(&mut self, graph: &Graph, depth: u32, options: &CheckOptions) -> Option<Bound> {
        self.expansions += 1;
        if graph.nodes.len() as u64 >= options.max_states {
            return Some(Bound::States);
        }
        if self.expansions.is_multiple_of(1024) {
            let elapsed = self.start.elapsed();
            if !self.bar.is_hidden() {
                let rate = graph.nodes.len() as f64 / elapsed.as_secs_f64().max(1e-9);
                self.bar.set_message(format!(
                    "{} states, depth {depth}, {:.0} states/s",
                    graph.nodes.len(),
                    rate
                ));
                self.bar.tick();
            }
            if options.time_limit.is_some_and(|t| elapsed >= t) {
                return Some(Bound::Time);
            }
        }
        None
    }
}

/// Explores the state space of `model` as `options` say.
pub fn search(model: &Model, options: &CheckOptions) -> Searched {
    match options.order {
        SearchOrder::DepthFirst => dfs(model, options),
        SearchOrder::BreadthFirst => bfs(model, options),
    }
}

struct Frame {
    id: u32,
    children: Vec<(u32, Vec<u8>)>,
    next: usize,
}

fn dfs(model: &Model, options: &CheckOptions) -> Searched {
    let mut limits = Limits::new(options);
    let mut graph = Graph::default();
    let mut scratch = model.scratch();
    let mut on_stack: Vec<bool> = Vec::new();
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
                bound.get_or_insert(Bound::Depth);
            } else {
                if let Some(b) = limits.tick(&graph, depth, options) {
                    bound = Some(b);
                    break;
                }
                on_stack.resize(graph.nodes.len().max(on_stack.len()), false);
                on_stack[id as usize] = true;
                let expansion = {
                    let visited = &graph.visited;
                    let on = &on_stack;
                    let may_reduce = |fp: u128| {
                        visited
                            .get(&fp)
                            .is_none_or(|&i| !on.get(i as usize).copied().unwrap_or(false))
                    };
                    expand(model, &mut scratch, &state, options, &may_reduce)
                };
                let children = graph.record(id, expansion);
                stack.push(Frame {
                    id,
                    children,
                    next: 0,
                });
            }
        }
        let Some(top) = stack.last_mut() else { break };
        if top.next < top.children.len() {
            let (id, state) = std::mem::take(&mut top.children[top.next]);
            top.next += 1;
            pending = Some((id, state));
        } else {
            on_stack[top.id as usize] = false;
            stack.pop();
        }
    }
    limits.bar.finish_and_clear();
    Searched {
        graph,
        bound,
        max_depth,
        elapsed: limits.start.elapsed(),
    }
}

fn bfs(model: &Model, options: &CheckOptions) -> Searched {
    let mut limits = Limits::new(options);
    let mut graph = Graph::default();
    let jobs = options.jobs.max(1);
    let mut scratches: Vec<Scratch> = (0..jobs).map(|_| model.scratch()).collect();
    let (root, _) = graph.node_of(fingerprint(model.initial()), 0);
    let mut frontier: Vec<(u32, Vec<u8>)> = vec![(root, model.initial().to_vec())];
    let mut bound = None;
    let mut depth = 0u32;
    'levels: while !frontier.is_empty() {
        if u64::from(depth) >= options.max_depth {
            bound = Some(Bound::Depth);
            break;
        }
        let expansions: Vec<Expansion> = {
            let visited = &graph.visited;
            let may_reduce = |fp: u128| !visited.contains_key(&fp);
            let chunk = frontier.len().div_ceil(jobs);
            if jobs == 1 || frontier.len() < 64 {
                let scratch = &mut scratches[0];
                frontier
                    .iter()
                    .map(|(_, s)| expand(model, scratch, s, options, &may_reduce))
                    .collect()
            } else {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = frontier
                        .chunks(chunk)
                        .zip(scratches.iter_mut())
                        .map(|(part, scratch)| {
                            let may_reduce = &may_reduce;
                            scope.spawn(move || {
                                part.iter()
                                    .map(|(_, s)| expand(model, scratch, s, options, may_reduce))
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().unwrap_or_default())
                        .collect()
                })
            }
        };
        let mut next = Vec::new();
        for ((id, _), expansion) in frontier.iter().zip(expansions) {
            if let Some(b) = limits.tick(&graph, depth, options) {
                bound = Some(b);
                break 'levels;
            }
            next.extend(graph.record(*id, expansion));
        }
        frontier = next;
        depth += 1;
    }
    limits.bar.finish_and_clear();
    Searched {
        graph,
        bound,
        max_depth: depth,
        elapsed: limits.start.elapsed(),
    }
}
