-- netscript's language server in Neovim: diagnostics, hover (K), completion (omnifunc /
-- nvim-cmp), go to definition, references, outline, rename and formatting.
-- Put in init.lua (or :luafile it); `netscript` must be on PATH (or set cmd below).
-- Uses vim.lsp.start on Neovim 0.8+, vim.lsp.start_client on 0.7 (Debian bookworm).
vim.api.nvim_create_autocmd({ 'BufRead', 'BufNewFile' }, { pattern = '*.ns', command = 'setfiletype netscript' })
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'netscript',
  callback = function(args)
    local config = {
      name = 'netscript',
      cmd = { 'netscript', 'lsp' },
      root_dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ':p:h'),
    }
    if vim.lsp.start then
      vim.lsp.start(config)
    else
      local id = vim.lsp.start_client(config)
      if id then vim.lsp.buf_attach_client(args.buf, id) end
    end
    vim.bo[args.buf].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end,
})
