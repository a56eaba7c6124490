-- Neovim (Debian's 0.7: vim.lsp.start_client) against `netscript lsp`, headless:
-- a file with an error gets its diagnostic with its code; hover and go-to-definition
-- answer. Run by editors/test.sh:
--   NETSCRIPT_BIN=... nvim --headless --clean -c "luafile editors/lsp/nvim_test.lua"
local function fail(message)
  io.stderr:write('nvim lsp test: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local bin = os.getenv('NETSCRIPT_BIN') or (here .. '/../../target/debug/netscript')
local file = here .. '/fixtures/broken.ns'
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({ name = 'netscript', cmd = { bin, 'lsp' }, root_dir = here .. '/fixtures' })
if not id then fail('the server did not start') end
vim.lsp.buf_attach_client(buf, id)

-- The diagnostic arrives, with its stable code.
if not vim.wait(10000, function() return #vim.diagnostic.get(buf) > 0 end, 20) then
  fail('no diagnostic within 10s')
end
local d = vim.diagnostic.get(buf)[1]
local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
if code ~= 'netscript::check::unknown_table' then fail('diagnostic code: ' .. tostring(code)) end
if d.lnum ~= 2 or not d.message:find('did you mean `wan`', 1, true) then
  fail('diagnostic: line ' .. d.lnum .. ': ' .. d.message)
end

local client = vim.lsp.get_client_by_id(id)
local function at(line, needle)
  local text = vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]
  local col = text:find(needle, 1, true) - 1
  return { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = line, character = col } }
end

-- Hover on `rule` says what it is.
local hover = client.request_sync('textDocument/hover', at(2, 'rule'), 5000, buf)
if not (hover and hover.result and hover.result.contents.value:find('policy routing rule', 1, true)) then
  fail('hover: ' .. vim.inspect(hover))
end

-- Go to the definition of `v1` in `link v1`: the veth's peer on line 2.
local def = client.request_sync('textDocument/definition', at(2, 'v1'), 5000, buf)
local loc = def and def.result and def.result[1]
if not (loc and loc.range.start.line == 1 and loc.range.start.character == 24) then
  fail('definition: ' .. vim.inspect(def))
end

client.stop()
print('nvim lsp test: ok')
vim.cmd('qall!')
