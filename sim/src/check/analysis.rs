//! Analyses of the explored graph: shortest counterexamples, doomed states (the critical step), starvation under weak fairness.

use std::collections::VecDeque;

use super::schedule::Choice;
use super::search::{
    label_choice, Graph, EXPANDED, LABEL_CALL, LABEL_CONSUMED, LABEL_PRODUCED, LABEL_TIMER,
    TERMINAL,
};
use super::ProgressKind;

/// The path (nodes, then the choices between them) from the initial state
/// to the nearest node satisfying `target`, moving only along edges that
/// `allowed` accepts and through nodes `inside` accepts.
pub fn shortest_path(
    graph: &Graph,
    from: u32,
    target: impl Fn(u32) -> bool,
    inside: impl Fn(u32) -> bool,
    allowed: impl Fn(u32, u16) -> bool,
) -> Option<(Vec<u32>, Vec<u16>)> {
    let n = graph.nodes.len();
    let mut parent: Vec<(u32, u16)> = vec![(u32::MAX, 0); n];
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    seen[from as usize] = true;
    queue.push_back(from);
    while let Some(v) = queue.pop_front() {
        if target(v) {
            return Some(path_to(&parent, from, v));
        }
        let node = &graph.nodes[v as usize];
        for e in &graph.edges[node.edge_range()] {
            if !seen[e.to as usize] && inside(e.to) && allowed(v, e.label) {
                seen[e.to as usize] = true;
                parent[e.to as usize] = (v, e.label);
                queue.push_back(e.to);
            }
        }
    }
    None
}

/// The path from `from` to `v` in a tree of `parent` links (the parent
/// and the label of the edge from it): its nodes and its labels.
fn path_to(parent: &[(u32, u16)], from: u32, v: u32) -> (Vec<u32>, Vec<u16>) {
    let mut nodes = vec![v];
    let mut labels = Vec::new();
    let mut cur = v;
    while cur != from {
        let (p, l) = parent[cur as usize];
        labels.push(l);
        nodes.push(p);
        cur = p;
    }
    nodes.reverse();
    labels.reverse();
    (nodes, labels)
}

/// The nodes a path of edge `labels` from `from` goes through, `from`
/// first; `None` if a label is no edge where the path has got to.
pub fn nodes_along(graph: &Graph, from: u32, labels: &[u16]) -> Option<Vec<u32>> {
    let mut nodes = vec![from];
    let mut at = from;
    for &label in labels {
        let n = &graph.nodes[at as usize];
        at = graph.edges[n.edge_range()]
            .iter()
            .find(|e| e.label == label)?
            .to;
        nodes.push(at);
    }
    Some(nodes)
}

/// The shortest paths from `from` to every node that `target` accepts,
/// nearest first (breadth-first order): their nodes and edge labels.
pub fn shortest_paths_to<'g>(
    graph: &'g Graph,
    from: u32,
    target: impl Fn(u32) -> bool + 'g,
) -> impl Iterator<Item = (Vec<u32>, Vec<u16>)> + 'g {
    let n = graph.nodes.len();
    let mut parent: Vec<(u32, u16)> = vec![(u32::MAX, 0); n];
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    seen[from as usize] = true;
    queue.push_back(from);
    std::iter::from_fn(move || {
        while let Some(v) = queue.pop_front() {
            let node = &graph.nodes[v as usize];
            for e in &graph.edges[node.edge_range()] {
                if !seen[e.to as usize] {
                    seen[e.to as usize] = true;
                    parent[e.to as usize] = (v, e.label);
                    queue.push_back(e.to);
                }
            }
            if target(v) {
                return Some(path_to(&parent, from, v));
            }
        }
        None
    })
}

/// The choices along a list of edge labels.
pub fn choices(labels: &[u16]) -> Vec<Choice> {
    labels.iter().map(|l| label_choice(*l)).collect()
}

/// States from which every path of the explored graph reaches a state
/// with violation code `violation`: the least fixpoint of "is such a state,
/// or is expanded and all its successors are doomed". States the search did
/// not expand (cut off by a bound) are never doomed.
pub fn doomed(graph: &Graph, violation: u8) -> Vec<bool> {
    let n = graph.nodes.len();
    let mut doomed = vec![false; n];
    let mut left: Vec<u32> = graph.nodes.iter().map(|v| v.edge_count).collect();
    // Reverse adjacency, as compressed rows.
    let mut start = vec![0u32; n + 1];
    for e in &graph.edges {
        start[e.to as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut preds = vec![0u32; graph.edges.len()];
    for (v, node) in graph.nodes.iter().enumerate() {
        for e in &graph.edges[node.edge_range()] {
            preds[fill[e.to as usize] as usize] = v as u32;
            fill[e.to as usize] += 1;
        }
    }
    let mut work: Vec<u32> = (0..n as u32)
        .filter(|&v| graph.nodes[v as usize].shows(violation))
        .collect();
    for &v in &work {
        doomed[v as usize] = true;
    }
    while let Some(w) = work.pop() {
        for &v in &preds[start[w as usize] as usize..start[w as usize + 1] as usize] {
            let node = &graph.nodes[v as usize];
            if doomed[v as usize] || node.status != EXPANDED {
                continue;
            }
            left[v as usize] -= 1;
            if left[v as usize] == 0 {
                doomed[v as usize] = true;
                work.push(v);
            }
        }
    }
    doomed
}

/// Is an edge label a progress step of instance `k`?
pub fn is_progress(label: u16, k: usize, progress: ProgressKind) -> bool {
    if label & LABEL_TIMER != 0 || (label & 0x3f) as usize != k {
        return false;
    }
    match progress {
        ProgressKind::Items => label & (LABEL_PRODUCED | LABEL_CONSUMED) != 0,
        ProgressKind::Produce => label & LABEL_PRODUCED != 0,
        ProgressKind::Consume => label & LABEL_CONSUMED != 0,
        ProgressKind::AnyCall => label & LABEL_CALL != 0,
    }
}

/// A starvation witness: instance `k` never progresses on the cycle.
pub struct Lasso {
    pub process: usize,
    /// Nodes of the prefix (from the initial state to the cycle's entry).
    pub prefix: Vec<u16>,
    pub cycle: Vec<u16>,
    pub entry: u32,
}

/// The first fair non-progress cycle for instance `k`, if any: an SCC of
/// the graph without `k`'s progress edges, with at least one edge, where
/// `k` is alive, and in which every choice enabled in all its states is
/// taken by one of its edges (weak fairness).
pub fn starvation(graph: &Graph, k: usize, progress: ProgressKind) -> Option<Lasso> {
    fair_cycle_where(graph, &|label| !is_progress(label, k, progress), Some(k))
}

/// A schedule that runs forever: the first weakly fair cycle of the graph
/// (an SCC with at least one edge in which every choice enabled in all its
/// states is taken by one of its edges), whatever its steps do. Its
/// lasso's `process` is `usize::MAX`. `None` when every fair schedule ends
/// (the graph's only cycles are unfair: a process spins while another,
/// ready all along, never gets its turn).
pub fn runs_forever(graph: &Graph) -> Option<Lasso> {
    fair_cycle_where(graph, &|_| true, None)
}

/// The shortest path (its edge labels) to an end state in which every
/// process has exited and nothing went wrong, if one is reachable.
pub fn completes(graph: &Graph) -> Option<Vec<u16>> {
    let is_end = |node: &super::search::Node| {
        node.status == TERMINAL && node.alive == 0 && node.violation == 0 && !node.lost
    };
    // A scan first: most programs that loop forever have no end state, and
    // need no search for a path to one.
    if !graph.nodes.iter().any(is_end) {
        return None;
    }
    shortest_path(
        graph,
        0,
        |v| is_end(&graph.nodes[v as usize]),
        |_| true,
        |_, _| true,
    )
    .map(|(_, labels)| labels)
}

/// The first fair cycle of the graph restricted to the edges `keep`
/// accepts (Tarjan's SCCs, then [`fair_cycle`]); with `alive`, only in
/// components where that instance is alive.
fn fair_cycle_where(
    graph: &Graph,
    keep: &dyn Fn(u16) -> bool,
    alive: Option<usize>,
) -> Option<Lasso> {
    let n = graph.nodes.len();
    let edges_of = |v: u32| {
        let node = &graph.nodes[v as usize];
        &graph.edges[node.edge_range()]
    };
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![NONE; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut counter = 0u32;
    let mut comps = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != NONE {
            continue;
        }
        index[root as usize] = counter;
        low[root as usize] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        calls.push((root, 0));
        while let Some(&mut (v, ref mut next)) = calls.last_mut() {
            let edges = edges_of(v);
            if (*next as usize) < edges.len() {
                let e = edges[*next as usize];
                *next += 1;
                if !keep(e.label) {
                    continue;
                }
                let w = e.to;
                if index[w as usize] == NONE {
                    index[w as usize] = counter;
                    low[w as usize] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, 0));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] != index[v as usize] {
                continue;
            }
            let mut members = Vec::new();
            while let Some(w) = stack.pop() {
                on_stack[w as usize] = false;
                comp[w as usize] = comps;
                members.push(w);
                if w == v {
                    break;
                }
            }
            let id = comps;
            comps += 1;
            if let Some(lasso) = fair_cycle(graph, &members, &comp, id, alive, keep) {
                return Some(lasso);
            }
        }
    }
    None
}

fn fair_cycle(
    graph: &Graph,
    members: &[u32],
    comp: &[u32],
    id: u32,
    alive: Option<usize>,
    keep: &dyn Fn(u16) -> bool,
) -> Option<Lasso> {
    let entry = *members.iter().min()?;
    if alive.is_some_and(|k| graph.nodes[entry as usize].alive & (1 << k) == 0) {
        return None;
    }
    let (mut need_run, mut need_timer) = (u64::MAX, u64::MAX);
    let (mut has_run, mut has_timer) = (0u64, 0u64);
    let mut internal = 0;
    for &v in members {
        let node = &graph.nodes[v as usize];
        if node.status != EXPANDED {
            return None;
        }
        need_run &= node.run;
        need_timer &= node.timer;
        for e in &graph.edges[node.edge_range()] {
            if comp[e.to as usize] == id && keep(e.label) {
                internal += 1;
                let bit = 1u64 << (e.label & 0x3f);
                if e.label & LABEL_TIMER != 0 {
                    has_timer |= bit;
                } else {
                    has_run |= bit;
                }
            }
        }
    }
    if internal == 0 || need_run & !has_run != 0 || need_timer & !has_timer != 0 {
        return None;
    }
    // The cycle: from the entry, take one internal edge of every required
    // choice, then come back.
    let inside = |v: u32| comp[v as usize] == id;
    let allowed = |_: u32, l: u16| keep(l);
    let mut cycle = Vec::new();
    let mut at = entry;
    let mut required: Vec<u16> = Vec::new();
    for b in 0..64u16 {
        if need_run & (1 << b) != 0 {
            required.push(b);
        }
        if need_timer & (1 << b) != 0 {
            required.push(b | LABEL_TIMER);
        }
    }
    if required.is_empty() {
        // Any internal edge will do: take the first one from the entry's SCC.
        let node = &graph.nodes[entry as usize];
        if let Some(e) = graph.edges[node.edge_range()]
            .iter()
            .find(|e| inside(e.to) && keep(e.label))
        {
            cycle.push(e.label);
            at = e.to;
        } else {
            // Start from a member that has one.
            let (_, labels) = shortest_path(
                graph,
                entry,
                |v| {
                    let n = &graph.nodes[v as usize];
                    graph.edges[n.edge_range()]
                        .iter()
                        .any(|e| inside(e.to) && keep(e.label))
                },
                inside,
                allowed,
            )?;
            cycle.extend(labels);
        }
    }
    for want in required {
        let matches = |l: u16| (l & (0x3f | LABEL_TIMER)) == want;
        let (nodes, labels) = shortest_path(
            graph,
            at,
            |v| {
                let n = &graph.nodes[v as usize];
                graph.edges[n.edge_range()]
                    .iter()
                    .any(|e| inside(e.to) && keep(e.label) && matches(e.label))
            },
            inside,
            allowed,
        )?;
        cycle.extend(labels);
        at = *nodes.last()?;
        let n = &graph.nodes[at as usize];
        let e = graph.edges[n.edge_range()]
            .iter()
            .find(|e| inside(e.to) && keep(e.label) && matches(e.label))?;
        cycle.push(e.label);
        at = e.to;
    }
    if at != entry || cycle.is_empty() {
        let (_, labels) = shortest_path(graph, at, |v| v == entry, inside, allowed)?;
        cycle.extend(labels);
    }
    make_fair(graph, entry, &mut cycle, &inside, &allowed)?;
    let (_, prefix) = shortest_path(graph, 0, |v| v == entry, |_| true, |_, _| true)?;
    Some(Lasso {
        process: alive.unwrap_or(usize::MAX),
        prefix,
        cycle,
        entry,
    })
}

/// Extends `cycle` (from `entry` back to it) until it is weakly fair by
/// itself: every choice enabled in all the states it visits is taken on
/// it. The component's own check covers the choices enabled in all of its
/// states; a cycle through only some of them can leave another choice
/// enabled all along (a timer that never fires while someone else spins).
/// Each such choice gets a detour inside the component: to an edge that
/// takes it, or to a state where it is not enabled, and back.
fn make_fair(
    graph: &Graph,
    entry: u32,
    cycle: &mut Vec<u16>,
    inside: &dyn Fn(u32) -> bool,
    allowed: &dyn Fn(u32, u16) -> bool,
) -> Option<()> {
    let edges_of = |v: u32| {
        let n = &graph.nodes[v as usize];
        &graph.edges[n.edge_range()]
    };
    let choice = |l: u16| l & (0x3f | LABEL_TIMER);
    // Every detour visits a state not visited before or takes a choice not
    // taken before, so this ends; the bound is a backstop.
    for _ in 0..4 * 64 {
        let visited = nodes_along(graph, entry, cycle)?;
        let (mut run_all, mut timer_all) = (u64::MAX, u64::MAX);
        for &v in &visited {
            run_all &= graph.nodes[v as usize].run;
            timer_all &= graph.nodes[v as usize].timer;
        }
        let (mut run_taken, mut timer_taken) = (0u64, 0u64);
        for &label in cycle.iter() {
            let bit = 1u64 << (label & 0x3f);
            if label & LABEL_TIMER != 0 {
                timer_taken |= bit;
            } else {
                run_taken |= bit;
            }
        }
        let (missing, timer) = match (run_all & !run_taken, timer_all & !timer_taken) {
            (0, 0) => return Some(()),
            (0, t) => (t, true),
            (r, _) => (r, false),
        };
        let bit = missing.trailing_zeros() as u16;
        let want = if timer { bit | LABEL_TIMER } else { bit };
        let enabled = |v: u32| {
            let node = &graph.nodes[v as usize];
            (if timer { node.timer } else { node.run }) & (1 << bit) != 0
        };
        let takes = |v: u32| {
            edges_of(v)
                .iter()
                .find(|e| inside(e.to) && allowed(v, e.label) && choice(e.label) == want)
                .copied()
        };
        let (nodes, mut detour) = shortest_path(
            graph,
            entry,
            |v| !enabled(v) || takes(v).is_some(),
            inside,
            allowed,
        )?;
        let mut at = *nodes.last()?;
        if enabled(at) {
            let e = takes(at)?;
            detour.push(e.label);
            at = e.to;
        }
        let (_, back) = shortest_path(graph, at, |v| v == entry, inside, allowed)?;
        detour.extend(back);
        if detour.is_empty() {
            return None;
        }
        cycle.extend(detour);
    }
    None
}

/// The progress instance `k` is judged by when `progress` is asked for:
/// `progress` itself if its code has a statement of that kind; under the
/// default (`items`), a process with no `produce` or `consume` is judged
/// by its completed calls, as `ipclab run` judges every process; `None`
/// when it has nothing that counts (it cannot starve by this definition).
pub fn progress_of(
    program: &crate::lang::Program,
    k: usize,
    progress: ProgressKind,
) -> Option<ProgressKind> {
    if can_progress(program, k, progress) {
        Some(progress)
    } else if progress == ProgressKind::Items && can_progress(program, k, ProgressKind::AnyCall) {
        Some(ProgressKind::AnyCall)
    } else {
        None
    }
}

/// Can instance `k` reach a statement that counts as progress of kind
/// `progress` (its code, branches on its index or rank followed its way:
/// `Program::live_code`)?
fn can_progress(program: &crate::lang::Program, k: usize, progress: ProgressKind) -> bool {
    use crate::lang::Instruction;
    program
        .live_code(k)
        .into_iter()
        .filter(|&(_, live)| live)
        .any(|(i, _)| match progress {
            ProgressKind::Items => matches!(i, Instruction::Produce(_) | Instruction::Consume),
            ProgressKind::Produce => matches!(i, Instruction::Produce(_)),
            ProgressKind::Consume => matches!(i, Instruction::Consume),
            ProgressKind::AnyCall => i.traps_with().is_some(),
        })
}
