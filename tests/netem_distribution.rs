//! netem's `distribution normal|pareto|paretonormal` (issue 24).
//!
//! The tables: netscript computes them (it reads no file outside the script), and they
//! must be the very files iproute2 installs (oracle: Debian's iproute2 package, its
//! `tc/NAME.dist`, read here by the test only).
//!
//! The kernel: parity of `tc -json qdisc show` with tc's, a re-run is a no-op, an edit
//! to another table or to none makes the netem anew (the kernel keeps a table across a
//! change without one and never reports it), a refused edit rolls back, `down` restores
//! the start. Like tests/netem_options.rs: in the full-kernel lane
//! (NETSCRIPT_FULL_KERNEL=1) netem is required; on a kernel without it, each test asserts
//! the documented refusal and a complete rollback instead.

mod support;
use netscript::exec::tc::netem_dist;
use netscript::model::NetemDistribution;

/// Where Debian's iproute2 installs the tables (its LIBDIR), and where upstream does.
const DIST_DIRS: [&str; 2] = ["/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc"];

#[test]
fn generated_tables_are_iproute2s_files() {
    for dist in NetemDistribution::ALL {
        let name = dist.name();
        let shipped = DIST_DIRS
            .iter()
            .find_map(|d| std::fs::read_to_string(format!("{d}/{name}.dist")).ok())
            .unwrap_or_else(|| panic!("iproute2's {name}.dist (the oracle) in none of {DIST_DIRS:?}: install Debian's iproute2"));
        let ours = netem_dist::dist_file(dist);
        if ours != shipped {
            let at = ours.lines().zip(shipped.lines()).position(|(a, b)| a != b);
            panic!("{name}.dist differs from the generated table, first at line {at:?}: ours {:?}, theirs {:?}", at.and_then(|l| ours.lines().nth(l)), at.and_then(|l| shipped.lines().nth(l)));
        }
        // What tc sends is those numbers as s16, 4096 of them.
        let table = netem_dist::table(dist);
        assert_eq!(table.len(), 4096, "{name}");
        let numbers: Vec<i16> = shipped.lines().filter(|l| !l.starts_with('#')).flat_map(|l| l.split_whitespace().map(|n| n.parse::<i16>().unwrap())).collect();
        assert_eq!(table, numbers, "{name}");
    }
}
