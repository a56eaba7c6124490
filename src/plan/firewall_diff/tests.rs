//! The rule-by-rule listing of firewall operations.

use super::*;

fn script(old: &str, new: &str) -> String {
    let o: Vec<char> = old.chars().collect();
    let n: Vec<char> = new.chars().collect();
    edits(&o, &n)
        .into_iter()
        .map(|e| match e {
            Edit::Same => "=".to_string(),
            Edit::Removed(i) => format!("-{}", o[i]),
            Edit::Added(j) => format!("+{}", n[j]),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn edits_keep_what_is_common_in_order() {
    assert_eq!(script("abc", "abc"), "= = =");
    assert_eq!(script("", "ab"), "+a +b");
    assert_eq!(script("ab", ""), "-a -b");
    assert_eq!(script("abc", "aXc"), "= -b +X =");
    assert_eq!(script("abcd", "acd"), "= -b = =");
    assert_eq!(script("abcd", "bcda"), "-a = = = +a");
    assert_eq!(script("axbyc", "abc"), "= -x = -y =");
}

#[test]
fn past_the_bound_the_middle_is_replaced_whole() {
    let n = 1100; // 1100 × 1100 pairs > LCS_CELLS
    let old: Vec<u32> = (0..n).collect();
    let mut new = old.clone();
    new[0] = 99_999;
    new[n as usize - 1] = 99_998;
    let e = edits(&old, &new);
    assert_eq!(e.iter().filter(|e| matches!(e, Edit::Removed(_))).count(), n as usize);
    assert_eq!(e.iter().filter(|e| matches!(e, Edit::Added(_))).count(), n as usize);
    // Small edits in a long chain stay small: the common ends are trimmed first.
    let mut near = old.clone();
    near[500] = 99_999;
    let e = edits(&old, &near);
    assert_eq!(e.iter().filter(|e| **e != Edit::Same).count(), 2);
}
