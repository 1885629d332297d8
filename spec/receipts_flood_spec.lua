-- receipts_flood_spec -- an upstream replays receipts for ids the gateway
-- never sent (core/bench/receipt_flood.lua, as one restarted with old
-- receipts would): the early table fills to store.limits.early and no
-- further, the upstream is then answered ESME_RX_T_APPN, the Lua heap
-- does not grow with the receipts, a bystander binds and /stats answer
-- within a second throughout, and the kept ones expire after early_ttl.
-- The 300,000-receipt run is core/bench/receipt_flood.sh (make bench).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local ROK = 0
local CWD = os.getenv("PWD")
local COUNT, LIMIT = 30000, 200

local UPSTREAM_CONF = string.format([[return { script = '%s/core/bench/receipt_flood.lua',
    log = { level = 'info' }, store = { path = ':memory:' }, session = { window = 100 },
    smsc = { params = { count = %d, tasks = 50 } },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]], CWD, COUNT)

local function gateway_conf(port)
    return string.format([[return { script = '%s/scripts/gateway.lua', log = { level = 'info' },
        store = { path = 'gw.db', sync = 'off', limits = { early = %d } },
        accounts = { { system_id = 'esme1', password = 'pw1' } },
        upstreams = { { name = 'U', port = %d, system_id = 'gw', password = 'gwpw', binds = 1, window = 100 } },
        gateway = { early_ttl = 1, routes = { { name = 'all', prefix = '', to = { 'U' } } } } }]], CWD, LIMIT, port)
end

-- The time fn() takes, in seconds.
local function timed(fn)
    local t0 = wire.gettime()
    local r = fn()
    return wire.gettime() - t0, r
end

describe("#integration a flood of unmatchable receipts", function()
    it("fills the early table to its bound, then answers ESME_RX_T_APPN; bystanders are served, "
        .. "the heap stays, the kept ones expire", function()
        local up, gw
        finally(function()
            for _, s in ipairs { gw, up } do if s and not s:stop("TERM", 5) then s:kill() end end
        end)
        -- the upstream floods once the gateway's bind is up
        up = server.start { conf = UPSTREAM_CONF }
        gw = server.start { conf = gateway_conf(up.port) }
        local heap0 = gw:stats().totals.lua_heap_bytes
        assert.is_truthy(up:wait_log("flood: %d+ receipts", 10), up:log_text())
        -- while it lasts: /stats and a bystander's bind each within a second,
        -- the early table never past its bound
        local during, slowest, most = 0, 0, 0
        repeat
            local t_stats, st = timed(function() return gw:stats() end)
            local t_bind, status = timed(function()
                local c = wire.connect(gw.port)
                local r = c:bind("transceiver", "esme1", "pw1").status
                c:close()
                return r
            end)
            assert.equal(ROK, status)
            slowest = math.max(slowest, t_stats, t_bind)
            most = math.max(most, st.store.early.value)
            local done = up:log_text():match("flood done")
            if not done then during = during + 1 end
            -- the probes make garbage of their own (the heap is looked at
            -- below): at most 100 of them, however long a slow machine
            -- makes the flood last
        until done or during >= 100
        assert.is_truthy(up:wait_log("flood done", 60), up:log_text())
        assert.is_true(during >= 1, "no check while the flood went on")
        assert.is_true(slowest < wait.scaled(1), "slowest answer " .. slowest .. " s")
        assert.is_true(most <= LIMIT)
        -- every receipt answered: kept (ESME_ROK) or refused once the table was full
        local ok = tonumber(up:log_text():match("ESME_ROK=(%d+)") or "0")
        local appn = tonumber(up:log_text():match("ESME_RX_T_APPN=(%d+)") or "0")
        assert.equal(COUNT, ok + appn, up:log_text():match("flood done[^\n]*"))
        assert.is_true(ok >= LIMIT and appn > 0)
        assert.is_truthy(gw:log_text():match("the early table is full: answered ESME_RX_T_APPN"))
        local st = gw:stats()
        assert.equal(appn, st.gateway.queues.U.receipts_unmatched)
        -- no receipt went through Lua: the heap did not grow with them (a
        -- small heap may reach 4x what the last collection kept before the
        -- next one starts, core/rt_budget.c; 30,000 receipts kept would be more)
        assert.is_true(st.totals.lua_heap_bytes < 4 * heap0 + 1024 * 1024,
            "heap " .. heap0 .. " -> " .. st.totals.lua_heap_bytes)
        -- kept ones expire after early_ttl, counted
        assert.is_truthy(wait.wait_until(function()
            st = gw:stats().store
            return st.early.value == 0 and st.expired.early == ok
        end, 10), "early " .. st.early.value .. ", expired " .. st.expired.early .. " of " .. ok)
    end)
end)
