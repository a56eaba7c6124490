" Headless test of the netscript vim runtime files; run from editors/ by test.sh:
"   vim -Nu NONE -es -S vim/test/run.vim      nvim --headless --clean -S vim/test/run.vim
" Checks filetype detection, the ftplugin, syntax groups at the positions listed in
" test/sample.expect, and the indent script. Exits non-zero on any failure.
set nocompatible
let s:root = fnamemodify(expand('<sfile>:p'), ':h:h:h')
let &runtimepath = s:root . '/vim,' . &runtimepath
" neovim turns filetype detection on before this runs: reload it with our ftdetect
filetype off
filetype plugin indent on
syntax on

let s:errors = []
function! s:Fail(msg) abort
  call add(s:errors, a:msg)
endfunction

" syntax group expected for each class of test/sample.expect
let s:groups = {
      \ 'comment': 'netscriptComment', 'string': 'netscriptString',
      \ 'statement': 'netscriptStatement', 'include': 'netscriptInclude',
      \ 'repeat': 'netscriptRepeat', 'kind': 'netscriptKind',
      \ 'attribute': 'netscriptAttribute', 'option': 'netscriptOption|netscriptHtbDefault',
      \ 'value': 'netscriptValue', 'namespace': 'netscriptNsName|netscriptPeerNs',
      \ 'interface': 'netscriptIfName', 'variable': 'netscriptVariable|netscriptVarDef',
      \ 'table': 'netscriptTableName', 'interp': 'netscriptInterpDelim',
      \ 'address': 'netscriptIPv4|netscriptIPv6', 'mac': 'netscriptMac',
      \ 'rate': 'netscriptRate', 'size': 'netscriptSize', 'duration': 'netscriptDuration',
      \ 'percentage': 'netscriptPercent', 'number': 'netscriptNumber',
      \ 'classid': 'netscriptClassId', 'operator': 'netscriptOperator|netscriptVeth|netscriptArrow',
      \ 'bracket': 'netscriptBlock', 'separator': 'netscriptSep',
      \ 'sysctl': 'netscriptSysctlKey', 'section': 'netscriptSection',
      \ }

" --- filetype detection and ftplugin
execute 'edit ' . fnameescape(s:root . '/test/sample.ns')
if &filetype !=# 'netscript'
  call s:Fail('filetype is "' . &filetype . '", expected netscript')
endif
if &commentstring !=# '# %s'
  call s:Fail('commentstring is "' . &commentstring . '"')
endif
if get(b:, 'current_syntax', '') !=# 'netscript'
  call s:Fail('syntax not loaded')
endif

" --- syntax groups
let s:checked = 0
for s:spec in readfile(s:root . '/test/sample.expect')
  if s:spec =~# '^\s*\(#\|$\)'
    continue
  endif
  let [s:lnum, s:tok, s:class] = split(s:spec)
  let s:n = 1
  if s:tok =~# '#\d\+$'
    let s:n = str2nr(matchstr(s:tok, '\d\+$'))
    let s:tok = substitute(s:tok, '#\d\+$', '', '')
  endif
  let s:line = getline(str2nr(s:lnum))
  let s:col = -1
  for s:i in range(s:n)
    let s:col = stridx(s:line, s:tok, s:col + 1)
  endfor
  if s:col < 0
    call s:Fail(printf('line %s: token %s not found', s:lnum, s:tok))
    continue
  endif
  let s:name = synIDattr(synID(str2nr(s:lnum), s:col + 1, 1), 'name')
  if index(split(s:groups[s:class], '|'), s:name) < 0
    call s:Fail(printf('line %s col %d %s: expected %s (%s), got "%s"',
          \ s:lnum, s:col + 1, s:tok, s:class, s:groups[s:class], s:name))
  endif
  let s:checked += 1
endfor
if s:checked < 100
  call s:Fail('only ' . s:checked . ' syntax checks ran')
endif

" --- indentation: re-indent a flattened copy of test/indent.ns, compare
let s:want = readfile(s:root . '/test/indent.ns')
enew!
setlocal filetype=netscript shiftwidth=2 expandtab
call setline(1, map(copy(s:want), 'substitute(v:val, "^\\s*", "", "")'))
silent normal! gg=G
let s:got = getline(1, '$')
if &indentexpr !~# 'GetNetscriptIndent'
  call s:Fail('indentexpr is "' . &indentexpr . '"')
endif
for s:i in range(len(s:want))
  if get(s:got, s:i, '') !=# s:want[s:i]
    call s:Fail(printf('indent line %d: got "%s", want "%s"', s:i + 1, get(s:got, s:i, ''), s:want[s:i]))
  endif
endfor

" --- report
let s:who = has('nvim') ? 'neovim' : 'vim'
if empty(s:errors)
  call writefile([printf('%s: ok (%d syntax checks, %d indented lines)', s:who, s:checked, len(s:want))], '/dev/stdout')
  qall!
else
  call writefile(map(copy(s:errors), 's:who . ": " . v:val'), '/dev/stderr')
  cquit!
endif
