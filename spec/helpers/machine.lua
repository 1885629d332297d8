-- helpers.machine -- what this machine can give a resource-hungry test:
-- free file descriptors and ephemeral ports. Such a test sizes itself from
-- these (or skips, saying why) instead of assuming a big machine and then
-- failing, or starving the tests after it.
local ffi = require "ffi"
local lfs = require "lfs"

ffi.cdef [[
struct sg_spec_rlimit { unsigned long cur, max; };
int getrlimit(int resource, struct sg_spec_rlimit *rl);
]]

local M = {}

local RLIMIT_NOFILE = 7

-- fd_limit() -> the soft limit on open files (a server started by the
-- test inherits the same limit).
function M.fd_limit()
    local rl = ffi.new("struct sg_spec_rlimit")
    assert(ffi.C.getrlimit(RLIMIT_NOFILE, rl) == 0, "getrlimit failed")
    return tonumber(rl.cur)
end

-- fds_open() -> descriptors this process has open now.
function M.fds_open()
    local n = 0
    for name in lfs.dir("/proc/self/fd") do
        if name ~= "." and name ~= ".." then n = n + 1 end
    end
    return n
end

-- ephemeral_ports() -> how many local ports connect() may pick from.
function M.ephemeral_ports()
    local f = io.open("/proc/sys/net/ipv4/ip_local_port_range")
    if not f then return 28232 end                      -- Linux's default range
    local lo, hi = f:read("*a"):match("(%d+)%s+(%d+)")
    f:close()
    return tonumber(hi) - tonumber(lo) + 1
end

-- connections(want) -> how many loopback connections a test may hold open
-- at once (at most want), and a sentence saying what limited it: both
-- ends are on this machine, so each takes a descriptor here and one in the
-- server, and a local port; half the port range stays for everyone else.
function M.connections(want)
    local fds = M.fd_limit() - M.fds_open() - 100
    local ports = math.floor(M.ephemeral_ports() / 2)
    local n, why = want, nil
    if fds < n then n, why = fds, ("the open-files limit is %d"):format(M.fd_limit()) end
    if ports < n then n, why = ports, ("the ephemeral port range has %d ports"):format(M.ephemeral_ports()) end
    return math.max(n, 0), why
end

return M
