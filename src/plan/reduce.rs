//! The transitive reduction of a plan's dependency graph, for drawing it: an edge
//! `a -> c` is left out when `c` depends on `a` through another of its dependencies
//! already (`a -> b -> c`). The order it implies is the same; the picture has only the
//! edges that say something.

use super::Plan;

/// Plans larger than this are drawn with every edge: the reduction keeps one bit per
/// pair of operations (12.5 MB at this size).
pub const MAX_OPS: usize = 10_000;

/// For each operation, the dependencies that are not implied by its other ones, in the
/// order the plan lists them. `None` for plans over [`MAX_OPS`].
pub fn direct_deps(plan: &Plan) -> Option<Vec<Vec<usize>>> {
    let n = plan.ops.len();
    if n > MAX_OPS {
        return None;
    }
    let words = n.div_ceil(64);
    // ancestors[i]: every operation i depends on, directly or not (deps come first).
    let mut ancestors = vec![0u64; n * words];
    let mut out = Vec::with_capacity(n);
    for (i, op) in plan.ops.iter().enumerate() {
        let mut mine = vec![0u64; words];
        // Implied: reached through another dependency.
        let mut implied = vec![0u64; words];
        for &d in &op.deps {
            if d >= i {
                continue;
            }
            let theirs = &ancestors[d * words..(d + 1) * words];
            for w in 0..words {
                implied[w] |= theirs[w];
                mine[w] |= theirs[w];
            }
            mine[d / 64] |= 1 << (d % 64);
        }
        let mut kept: Vec<usize> = op.deps.iter().copied().filter(|&d| d < i && implied[d / 64] & (1 << (d % 64)) == 0).collect();
        kept.dedup();
        out.push(kept);
        ancestors[i * words..(i + 1) * words].copy_from_slice(&mine);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Op};

    fn plan(deps: &[&[usize]]) -> Plan {
        let ops = deps
            .iter()
            .map(|d| Op { action: Action::CreateNetns { ns: "a".into() }, origin: Default::default(), deps: d.to_vec(), undo: Vec::new(), removes: None })
            .collect();
        Plan { ops, ..Default::default() }
    }

    #[test]
    fn transitive_edges_go() {
        // 0 -> 1 -> 2, and 0 -> 2 directly: implied. 3 depends on 2 and 1: 1 implied.
        let p = plan(&[&[], &[0], &[0, 1], &[1, 2], &[0]]);
        assert_eq!(direct_deps(&p).unwrap(), vec![vec![], vec![0], vec![1], vec![2], vec![0]]);
    }

    #[test]
    fn a_diamond_keeps_both_sides() {
        let p = plan(&[&[], &[0], &[0], &[1, 2, 0]]);
        assert_eq!(direct_deps(&p).unwrap(), vec![vec![], vec![0], vec![0], vec![1, 2]]);
    }

    #[test]
    fn over_a_hundred_ops_in_a_chain() {
        let deps: Vec<Vec<usize>> = (0..130).map(|i| (0..i).collect()).collect();
        let refs: Vec<&[usize]> = deps.iter().map(Vec::as_slice).collect();
        let reduced = direct_deps(&plan(&refs)).unwrap();
        for (i, d) in reduced.iter().enumerate() {
            assert_eq!(*d, if i == 0 { vec![] } else { vec![i - 1] }, "op {i}");
        }
    }
}
