-- helpers.run -- run the smppgw binary (or any shell command) and collect
-- its standard output, standard error and exit code.
local M = {}

M.bin = os.getenv("SMPPGW_BIN") or "build/smppgw"

local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    os.remove(path)
    return s
end

-- run(cmd [, stdin]) -> stdout, stderr, exit code
function M.sh(cmd, stdin)
    local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
    local f = assert(io.open(inp, "wb"))
    f:write(stdin or "")
    f:close()
    local p = assert(io.popen(string.format("%s < %s > %s 2> %s; echo $?", cmd, inp, out, err)))
    local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
    p:close()
    os.remove(inp)
    return slurp(out), slurp(err), rc
end

-- smppgw(args [, stdin]) with args a list of words (quoted for the shell).
function M.smppgw(args, stdin)
    local words = { M.bin }
    for _, a in ipairs(args) do words[#words + 1] = "'" .. a:gsub("'", "'\\''") .. "'" end
    return M.sh(table.concat(words, " "), stdin)
end

return M
