//! Which grammar rules are keywords (`kw_*`), decided once per rule rather than by
//! formatting a rule's name for every pair the builder visits.

use super::Rule;
use std::sync::OnceLock;

/// True for a `kw_*` rule.
pub fn is_keyword(rule: Rule) -> bool {
    static KEYWORDS: OnceLock<Vec<bool>> = OnceLock::new();
    let table = KEYWORDS.get_or_init(|| {
        // `all_rules` leaves out `EOI`: size the table by the largest discriminant.
        let len = Rule::all_rules().iter().map(|&r| r as usize + 1).max().unwrap_or(0);
        let mut table = vec![false; len];
        for &r in Rule::all_rules() {
            table[r as usize] = format!("{r:?}").starts_with("kw_");
        }
        table
    });
    table.get(rule as usize).copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_the_kw_rules() {
        for &r in Rule::all_rules() {
            assert_eq!(is_keyword(r), format!("{r:?}").starts_with("kw_"), "{r:?}");
        }
        assert!(is_keyword(Rule::kw_netns));
        assert!(!is_keyword(Rule::netns_stmt));
        assert!(!is_keyword(Rule::EOI));
    }
}
