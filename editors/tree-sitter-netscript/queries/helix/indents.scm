; Helix: the body of a `< ... >` block is indented, its closing `>` is not.
(block) @indent

(block
  ">" @outdent)
