; Zed: the body of a `< ... >` block is indented up to its closing `>`.
(block
  ">" @end) @indent
