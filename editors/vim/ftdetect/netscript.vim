autocmd BufNewFile,BufRead *.ns setfiletype netscript
