-- helpers.wait -- wait for a state, not for a time: poll a function until
-- it returns a true value or a deadline passes.
--
-- SPEC_TIME_SCALE (default 1; `make asan-suite` sets 3) multiplies every
-- timeout here and in helpers.wire, and the bounds of the few assertions
-- on elapsed time (M.scaled): a sanitizer build is several times slower,
-- and speed is not what it tests. A timeout only ends a wait that has
-- already failed, so a longer one costs nothing when things work.
local socket = require "socket"

local M = {}

local gettime, sleep = socket.gettime, socket.sleep

M.scale = tonumber(os.getenv("SPEC_TIME_SCALE")) or 1

-- scaled(seconds) -> seconds times SPEC_TIME_SCALE.
function M.scaled(seconds) return seconds * M.scale end

-- wait_until(fn [, timeout [, what]]) -> fn's first true value (and the
-- values after it), or nil after timeout seconds (default 5). Polls after
-- 5 ms, then less often, at most every 50 ms. With `what`, a timeout raises
-- "timed out after N s waiting for <what>" instead of returning nil.
function M.wait_until(fn, timeout, what)
    timeout = M.scaled(timeout or 5)
    local deadline = gettime() + timeout
    local step = 0.005
    while true do
        local r = { fn() }
        if r[1] then return unpack(r, 1, table.maxn(r)) end
        if gettime() >= deadline then
            if what then error(("timed out after %g s waiting for %s"):format(timeout, what), 2) end
            return nil
        end
        sleep(math.min(step, math.max(0, deadline - gettime())))
        step = math.min(step * 2, 0.05)
    end
end

M.gettime = gettime

return M
