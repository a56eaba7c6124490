" Vim indent file for netscript: the body of a `< ... >` block is indented one level.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetNetscriptIndent(v:lnum)
setlocal indentkeys=0>,!^F,o,O
setlocal autoindent nosmartindent nolisp
let b:undo_indent = 'setlocal indentexpr< indentkeys< autoindent< smartindent< lisp<'

if exists('*GetNetscriptIndent')
  finish
endif

" The line with strings, comments and the `<->` / `->` operators taken out, so that
" only block brackets are left.
function! s:Brackets(line) abort
  let l = substitute(a:line, '"\%([^"\\]\|\\.\)*"', '', 'g')
  let l = substitute(l, '#.*$', '', '')
  let l = substitute(l, '<->\|->', '', 'g')
  return substitute(l, '[^<>]', '', 'g')
endfunction

" The number of `>` that start the line, before anything else.
function! s:Leading(line) abort
  return strlen(substitute(matchstr(a:line, '^\s*\%(>\s*\)*'), '[^>]', '', 'g'))
endfunction

function! GetNetscriptIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  " skip comment-only lines above
  while prev > 0 && getline(prev) =~# '^\s*#'
    let prev = prevnonblank(prev - 1)
  endwhile
  if prev == 0
    return 0
  endif
  let sw = shiftwidth()
  let ind = indent(prev)
  " brackets of the previous line: a leading run of `>` was already accounted for
  " when that line was indented
  let b = s:Brackets(getline(prev))
  let lead = s:Leading(getline(prev))
  let opens = strlen(substitute(b, '>', '', 'g'))
  let closes = strlen(substitute(b, '<', '', 'g')) - lead
  let ind += sw * (opens - closes)
  " a line that starts with `>` closes its block
  let ind -= sw * s:Leading(getline(a:lnum))
  return max([ind, 0])
endfunction
