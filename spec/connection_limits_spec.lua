-- connection_limits_spec -- the SMPP side's defaults hold on this machine:
-- limits.max_connections comes from the open-files limit (with room for
-- the listeners, upstream binds, the HTTP API and a margin), one address
-- may hold at most limits.max_per_address (256) connections, and every
-- connection turned away is counted in refused_connections -- rather than
-- the process running out of descriptors while unbound connections lock
-- everyone else out with nothing counted.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local socket = require "socket"
local cjson = require "cjson"

local NOFILE = 1024

local function stats(srv)
    local http = require "socket.http"
    return cjson.decode((assert(http.request("http://127.0.0.1:" .. srv.http_port .. "/stats"))))
end

-- Wait until /stats shows `n` refused connections (they are refused as
-- the server accepts them, a moment after our connect returned).
local function wait_refused(srv, n)
    local deadline = socket.gettime() + 10
    local got
    repeat
        got = stats(srv).totals.refused_connections
        if got < n then socket.sleep(0.05) end
    until got >= n or socket.gettime() > deadline
    return got
end

local function open_from(port, from, n, into)
    for _ = 1, n do
        local s = assert(socket.tcp())
        assert(s:bind(from, 0))
        assert(s:connect("127.0.0.1", port))
        into[#into + 1] = s
    end
end

describe("#integration SMPP connection limits", function()
    it("derives max_connections from the open-files limit and refuses past it, counted", function()
        -- smppgw under a lower open-files limit, through a wrapper
        local dir = os.tmpname()
        os.remove(dir)
        os.execute("mkdir -p " .. dir)
        local wrapper = dir .. "/smppgw"
        local f = assert(io.open(wrapper, "w"))
        f:write("#!/bin/sh\nulimit -n " .. NOFILE .. "\nexec " .. run.bin .. ' "$@"\n')
        f:close()
        os.execute("chmod +x " .. wrapper)
        local bin = run.bin
        run.bin = wrapper
        local ok, srv = pcall(server.start, { conf = [[return { script = 'script.lua',
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = "return {}" })
        run.bin = bin
        local socks = {}
        finally(function()
            for _, s in ipairs(socks) do s:close() end
            if ok then
                if not srv:stop("TERM", 10) then srv:kill() end
                os.execute("rm -rf " .. srv.dir)
            end
            os.execute("rm -rf " .. dir)
        end)
        assert(ok, srv)
        local lim = stats(srv).limits
        -- 1024 - 1 SMPP listener - (256 HTTP connections + its listener) - 128
        assert.equal(NOFILE - 1 - 257 - 128, lim.max_connections)
        assert.equal(256, lim.max_per_address)

        -- one address holding unbound connections: past 256 they are refused
        open_from(srv.port, "127.0.0.2", 300, socks)
        assert.equal(44, wait_refused(srv, 44))
        local c = wire.connect(srv.port)                      -- another address binds meanwhile
        assert.equal(0, c:bind("transceiver").status)
        c:close()
        -- the refused ones were closed by the server: close our ends too (a
        -- refused connection lingers until its peer closes, 2 s at most)
        local deadline = socket.gettime() + 10
        repeat
            local kept = {}
            for _, s in ipairs(socks) do
                s:settimeout(0)
                local _, err = s:receive(1)
                if err == "closed" then s:close() else kept[#kept + 1] = s end
            end
            socks = kept
        until #socks <= 256 or socket.gettime() > deadline
        assert.equal(256, #socks)
        local live
        repeat
            local t = stats(srv).totals
            live = t.opened - t.closed
        until live == 256 or socket.gettime() > deadline
        assert.equal(256, live)

        -- many addresses: past max_connections they are refused too, counted,
        -- and the process never runs out of descriptors
        open_from(srv.port, "127.0.0.3", 256, socks)
        open_from(srv.port, "127.0.0.4", 256, socks)
        local want = 44 + (256 * 3 - lim.max_connections)
        assert.equal(want, wait_refused(srv, want))
        assert.equal(0, srv:count_log("connection not accepted"))   -- no EMFILE
        for _, s in ipairs(socks) do s:close() end
        socks = {}
        local deadline = socket.gettime() + 10
        local st
        repeat
            local cl = wire.connect(srv.port)
            local r = cl:bind("transceiver")
            st = r and r.status
            cl:close()
        until st == 0 or socket.gettime() > deadline
        assert.equal(0, st)                                   -- room again once they are gone
    end)

    it("keeps an explicit limits.max_connections and max_per_address = 0", function()
        local srv = server.start { conf = [[return { script = 'script.lua',
            limits = { max_connections = 5000, max_per_address = 0 } }]], script = "return {}" }
        finally(function()
            if not srv:stop("TERM", 10) then srv:kill() end
            os.execute("rm -rf " .. srv.dir)
        end)
        local lim = stats(srv).limits
        assert.equal(5000, lim.max_connections)
        assert.equal(0, lim.max_per_address)
        assert.equal(0, srv:count_log("is more than the open%-files limit"))
    end)

    it("warns when limits.max_connections is more than the open-files limit leaves room for", function()
        local srv = server.start { conf = [[return { script = 'script.lua',
            limits = { max_connections = 10000000 } }]], script = "return {}" }
        finally(function()
            if not srv:stop("TERM", 10) then srv:kill() end
            os.execute("rm -rf " .. srv.dir)
        end)
        assert.is_true(srv:wait_log("limits%.max_connections %(10000000%) is more than the open%-files limit"))
    end)
end)
