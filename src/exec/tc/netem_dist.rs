//! netem's delay distribution tables (`distribution normal|pareto|paretonormal`), made
//! here as iproute2's generators (netem/normal.c, pareto.c, paretonormal.c, from NISTnet)
//! make the files tc reads from its library directory (`/usr/lib/…/tc/NAME.dist`):
//! netscript reads no file outside the script's, so it computes them. The same
//! floating-point operations in the same order (glibc's `erf` and `pow`, `rint` as
//! round-half-even), so the tables are the shipped files' numbers exactly (tested
//! against Debian's files).
//!
//! A table is 4096 values of the inverse of the distribution's cumulative function,
//! scaled by NETEM_DIST_SCALE (8192) and clamped to s16; the kernel picks one at random
//! and adds `value × jitter / 8192` to the delay.

use crate::model::NetemDistribution;

const TABLE_SIZE: usize = 16384;
/// NETEM_DIST_SCALE of `<linux/pkt_sched.h>`.
const TABLE_FACTOR: f64 = 8192.0;
/// Every 4th entry of the 16384 is written (the files hold 4096 numbers).
const STEP: usize = 4;
/// The pareto distribution's shape.
const PARETO_A: f64 = 3.0;

unsafe extern "C" {
    // glibc's libm (which std links): the generators' own `erf`, so that every index
    // rounds as theirs does. Rust's std has no stable `erf`.
    fn erf(x: f64) -> f64;
}

/// `normal()` of the generators: the normal distribution's cumulative function.
fn normal_cdf(x: f64, mu: f64, sigma: f64) -> f64 {
    // SAFETY: erf is a pure function of a double.
    0.5 + 0.5 * unsafe { erf((x - mu) / (2.0f64.sqrt() * sigma)) }
}

/// The inverse of the standard normal cumulative function, tabulated as normal.c does:
/// x walks −10 … 10.05 by 0.00005 and the last x that lands on each index is kept.
fn inverse_normal() -> Vec<f64> {
    let mut table = vec![0.0f64; TABLE_SIZE + 1];
    let mut x = -10.0f64;
    while x < 10.05 {
        let i = (TABLE_SIZE as f64 * normal_cdf(x, 0.0, 1.0)).round_ties_even() as usize;
        table[i] = x;
        x += 0.00005;
    }
    table
}

fn clamp_s16(value: i64) -> i16 {
    value.clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

fn normal_table() -> Vec<i16> {
    let table = inverse_normal();
    (0..TABLE_SIZE).step_by(STEP).map(|i| clamp_s16((table[i] * TABLE_FACTOR).round_ties_even() as i64)).collect()
}

/// pareto.c's (and paretonormal.c's `paretovalue`) entry for `i` of 65536 … 16 by 16.
fn pareto_value(i: i64) -> i32 {
    let mut d = i as f64 / 65536.0;
    d = 1.0 / d.powf(1.0 / PARETO_A);
    d -= 1.5;
    d *= (4.0 / 3.0) * TABLE_FACTOR;
    if d > 32767.0 {
        d = 32767.0;
    }
    d.round_ties_even() as i32
}

fn pareto_table() -> Vec<i16> {
    // Never below −1.5 × 4/3 × 8192 = −16384: no lower clamp (pareto.c has none).
    (0..TABLE_SIZE / STEP).map(|n| pareto_value(65536 - 16 * n as i64) as i16).collect()
}

/// ¼ normal + ¾ pareto, entry by entry, C's integer division (towards zero).
fn paretonormal_table() -> Vec<i16> {
    let table = inverse_normal();
    (0..TABLE_SIZE)
        .step_by(STEP)
        .map(|i| {
            let norm = (table[i] * TABLE_FACTOR).round_ties_even() as i64;
            let par = pareto_value(65536 - 4 * i as i64) as i64;
            clamp_s16((norm + 3 * par) / 4)
        })
        .collect()
}

/// The table of `dist`: 4096 values, what tc sends as TCA_NETEM_DELAY_DIST.
pub fn table(dist: NetemDistribution) -> Vec<i16> {
    match dist {
        NetemDistribution::Normal => normal_table(),
        NetemDistribution::Pareto => pareto_table(),
        NetemDistribution::ParetoNormal => paretonormal_table(),
    }
}

/// The table as the generator prints it (the `.dist` file iproute2 installs): a
/// comment line, then the values, eight a line, each after a space.
pub fn dist_file(dist: NetemDistribution) -> String {
    let mut out = format!("# This is the distribution table for the {} distribution.\n", dist.name());
    for (n, v) in table(dist).iter().enumerate() {
        out.push_str(&format!(" {v}"));
        if n % 8 == 7 {
            out.push('\n');
        }
    }
    out
}

/// The payload of TCA_NETEM_DELAY_DIST: the s16 values in host order.
pub fn table_bytes(dist: NetemDistribution) -> Vec<u8> {
    table(dist).iter().flat_map(|v| v.to_ne_bytes()).collect()
}
