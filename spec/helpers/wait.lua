-- helpers.wait -- wait for a state, not for a time: poll a function until
-- it returns a true value or a deadline passes.
local socket = require "socket"

local M = {}

local gettime, sleep = socket.gettime, socket.sleep

-- wait_until(fn [, timeout [, what]]) -> fn's first true value (and the
-- values after it), or nil after timeout seconds (default 5). Polls after
-- 5 ms, then less often, at most every 50 ms. With `what`, a timeout raises
-- "timed out after N s waiting for <what>" instead of returning nil.
function M.wait_until(fn, timeout, what)
    local deadline = gettime() + (timeout or 5)
    local step = 0.005
    while true do
        local r = { fn() }
        if r[1] then return unpack(r, 1, table.maxn(r)) end
        if gettime() >= deadline then
            if what then error(("timed out after %g s waiting for %s"):format(timeout or 5, what), 2) end
            return nil
        end
        sleep(math.min(step, math.max(0, deadline - gettime())))
        step = math.min(step * 2, 0.05)
    end
end

M.gettime = gettime

return M
