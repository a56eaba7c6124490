" Vim filetype plugin for netscript
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal comments=:# commentstring=#\ %s
setlocal formatoptions-=t formatoptions+=croql
" `<` `>` delimit blocks: let % jump between them.
setlocal matchpairs+=<:>
setlocal iskeyword=@,48-57,_,-

let b:undo_ftplugin = 'setlocal comments< commentstring< formatoptions< matchpairs< iskeyword<'
