(block
  "<" @open
  ">" @close)

(interpolation
  "{" @open
  "}" @close)

(parenthesized_expression
  "(" @open
  ")" @close)
