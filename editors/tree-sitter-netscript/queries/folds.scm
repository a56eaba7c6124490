; A `< ... >` block folds.
(block) @fold
