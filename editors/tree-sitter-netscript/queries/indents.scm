; nvim-treesitter indent captures: the body of a `< ... >` block is indented, and the
; closing `>` goes back to the level of the line that opened the block.
(block) @indent.begin

(block
  ">" @indent.end)

">" @indent.branch

(comment) @indent.auto
