-- helpers.run -- run the smppgw binary (or any shell command) and collect
-- its standard output, standard error and exit code; start background
-- processes that are stopped when the test (or describe) that started them
-- ends (helpers.cleanup).
local cleanup = require "helpers.cleanup"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local ffi = require "ffi"

ffi.cdef [[
int close_range(unsigned int first, unsigned int last, int flags);
int fcntl(int fd, int cmd, ...);
]]

local M = {}

M.bin = os.getenv("SMPPGW_BIN") or "build/smppgw"

-- quote(word) -> word quoted for sh.
function M.quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- -- Descriptors -------------------------------------------------------------------
-- LuaSocket opens its sockets without close-on-exec, so a server started
-- while a test holds a client connection would inherit that connection and
-- keep it open after the test closed its end (the server's peer then never
-- sees the close). Before anything is started, every descriptor above
-- stderr is marked close-on-exec.

local CLOSE_RANGE_CLOEXEC, F_SETFD, FD_CLOEXEC = 4, 2, 1

local function seal_descriptors()
    local ok, rc = pcall(function() return ffi.C.close_range(3, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC) end)
    if ok and rc == 0 then return end
    for fd = 3, 4096 do ffi.C.fcntl(fd, F_SETFD, ffi.new("int", FD_CLOEXEC)) end   -- older kernels
end
M.seal_descriptors = seal_descriptors

-- -- Commands that run to their end -----------------------------------------------

-- sh(cmd [, stdin]) -> stdout, stderr, exit code
function M.sh(cmd, stdin)
    local out, err, inp = tmp.name(), tmp.name(), tmp.name()
    tmp.write(inp, stdin or "")
    seal_descriptors()
    local p = assert(io.popen(string.format("%s < %s > %s 2> %s; echo $?", cmd, inp, out, err)))
    local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
    p:close()
    local o, e = tmp.read(out), tmp.read(err)
    tmp.remove(inp)
    tmp.remove(out)
    tmp.remove(err)
    return o, e, rc
end

-- smppgw(args [, stdin]) with args a list of words (quoted for the shell).
function M.smppgw(args, stdin)
    local words = { M.bin }
    for _, a in ipairs(args) do words[#words + 1] = M.quote(a) end
    return M.sh(table.concat(words, " "), stdin)
end

-- -- Background processes --------------------------------------------------------

local Process = {}
Process.__index = Process
M.Process = Process

-- spawn(cmd [, opts]) -> process with .pid, .log (stdout and stderr), .dir.
-- opts.dir: the directory for its log (default: a new temporary one).
-- A waiting shell appends "exit=N" to the log when the command ends. The
-- process is stopped (TERM, then KILL) when the current scope ends.
function M.spawn(cmd, opts)
    opts = opts or {}
    local dir = opts.dir or tmp.dir()
    local log, pidfile = dir .. "/" .. (opts.log or "out.log"), dir .. "/" .. (opts.pidfile or "pid")
    os.remove(pidfile)
    local script = string.format("%s > %s 2>&1 & echo $! > %s; wait $!; echo \"exit=$?\" >> %s",
        cmd, M.quote(log), M.quote(pidfile), M.quote(log))
    seal_descriptors()
    os.execute("sh -c " .. M.quote(script) .. " > /dev/null 2>&1 &")
    local pid = wait.wait_until(function()
        local f = io.open(pidfile)
        local n = f and tonumber(f:read("*l"))
        if f then f:close() end
        return n
    end, 10)
    assert(pid, "no pid for: " .. cmd)
    local p = setmetatable({ pid = pid, log = log, dir = dir, cmd = cmd }, opts.class or Process)
    cleanup.defer(function() p:finish() end, "process " .. pid .. " (" .. cmd .. ")")
    return p
end

-- The log so far.
function Process:log_text() return tmp.read(self.log) end

-- True while the process runs (a zombie has ended).
function Process:alive()
    local f = io.open("/proc/" .. self.pid .. "/stat")
    if not f then return false end
    local stat = f:read("*l") or ""
    f:close()
    return not stat:match("^%d+ %b() [ZX]")
end

-- The exit code once it has ended and its shell has recorded it (nil while
-- running; 128 + N after signal N).
function Process:exit_code()
    local code = self:log_text():match("exit=(%d+)%s*$")
    return code and tonumber(code)
end

-- wait_exit([timeout]) -> the exit code, or nil if it still runs.
function Process:wait_exit(timeout)
    return wait.wait_until(function() return self:exit_code() end, timeout or 10)
end

-- signal(name): send a signal (TERM, HUP, INT, KILL ...).
function Process:signal(name)
    os.execute(string.format("kill -%s %d 2>/dev/null", name, self.pid))
end

-- stop([signal [, timeout]]) -> true if it exited within the timeout
-- (true at once when it had already ended).
function Process:stop(signal, timeout)
    if self:alive() then self:signal(signal or "TERM") end
    -- ended, and its exit code recorded (the shell writes it just after)
    return wait.wait_until(function() return not self:alive() and self:exit_code() ~= nil end, timeout or 10) or false
end

function Process:kill()
    self:signal("KILL")
    wait.wait_until(function() return not self:alive() end, 5)
end

-- Undo at the end of the scope: a polite stop, then a hard one (said on
-- stderr, as it hides a shutdown that hangs).
function Process:finish()
    if self:alive() and not self:stop("TERM", 5) then
        io.stderr:write(("process %d (%s) ignored SIGTERM for 5 s; killed\n"):format(self.pid, self.cmd))
        self:kill()
    end
end

-- lock_store(db) -> release(): another process (the sqlite3 shell) holds
-- the write lock of the SQLite file db until release() (the caller hands
-- it to busted's finally too); returns once the lock is taken.
function M.lock_store(db)
    local flag = db .. ".locked"
    local locker = io.popen("sqlite3 " .. M.quote(db) .. " >/dev/null 2>&1", "w")
    local released = false
    local function release()
        if released then return end
        released = true
        locker:write("ROLLBACK;\n.quit\n")
        locker:close()
        os.remove(flag)
    end
    locker:write("PRAGMA busy_timeout = 20000;\nBEGIN IMMEDIATE;\n.shell touch " .. M.quote(flag) .. "\n")
    locker:flush()
    assert(wait.wait_until(function() return io.open(flag) ~= nil end, 10), "the lock on " .. db)
    return release
end

return M
