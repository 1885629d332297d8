-- gateway_park_full_spec -- a store whose commit fails while a handler
-- that stored its message waits: what the ESME is told decides the
-- message. A run whose stored rows a failed commit lost answers an error,
-- never ESME_ROK; a run whose success is turned into an error by a failed
-- commit, or whose response table does not check, has its message ended
-- REJECTED, never forwarded. The commit is made to fail as in
-- runstore_spec: the process may not write past the write-ahead log's
-- end (prlimit --fsize), so the writes go to SQLite's cache and the
-- commit's append fails. The upstream is the spec itself.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"
local lfs = require "lfs"

local id = wire.id
local park = require "helpers.park"
local accept_bind, send, answer, go, queue, parked = park.accept_bind, park.send, park.answer, park.go,
    park.queue, park.parked
local ROK, RSYSERR, RMSGQFUL = 0, 0x08, 0x14

-- A text starting "wait" is stored, then its handler waits until a "go"
-- arrives (stored nothing, answered ESME_RINVDSTADR) and ends as its text
-- says; "... store ..." stores its message a second time first, so that
-- its answer is held for the commit of that turn. One starting "respond"
-- is stored and answered at once (smpp.respond), then stored again after
-- the "go". "many" stores its message until a store is refused, and
-- returns ESME_ROK regardless ("many then wait": after a wait).
local SCRIPT = [[
local smpp = require "smpp"
local gw = require("smpp.gateway_script").new(...)
local submit = gw.handlers.submit_sm
local go = 0
gw.handlers.submit_sm = function(session, pdu)
    local text = pdu.short_message
    if text == "go" then
        go = go + 1
        return "ESME_RINVDSTADR"
    end
    local seen = go
    local status, resp = submit(session, pdu)
    if text:sub(1, 4) == "many" then            -- store until refused, answer ESME_ROK all the same
        local n = 0
        while n < 100000 and submit(session, pdu) == 0 do n = n + 1 end
        smpp.log("info", "stored %d, then refused", n)
        if text == "many then wait" then smpp.sleep(0.05) end
        return 0, { message_id = "many" }
    end
    if text:sub(1, 7) == "respond" then         -- answer early, wait, store again
        smpp.respond(status, resp)
        while go == seen do smpp.sleep(0.01) end
        smpp.log("info", "stored again: status %s", tostring((submit(session, pdu))))
        return
    end
    if text:sub(1, 4) ~= "wait" then return status, resp end
    while go == seen do smpp.sleep(0.01) end
    if text:find("store", 1, true) then submit(session, pdu) end
    if text:find("bad answer", 1, true) then return status, { message_id = 12 } end    -- not a string
    if text:find("then error", 1, true) then return "ESME_RINVSRCADR" end
    return status, resp
end
return gw.handlers
]]

local function gateway_conf(port, dir)
    local f = assert(io.open(dir .. "/gw.lua", "w"))
    f:write(SCRIPT)
    f:close()
    return "return " .. server.lua {
        script = dir .. "/gw.lua",
        store = { path = "gw.db", busy_timeout = 0 },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", binds = 1,
                        reconnect_min = 0.1, reconnect_max = 0.2 } },
        gateway = { routes = { { name = "all", prefix = "", to = { "U" } } } },
    }
end

-- Commits fail from now on (until lift): no write past the log's end.
local function fail_commits(gw)
    local wal = assert(lfs.attributes(gw.dir .. "/gw.db-wal", "size"))
    local _, perr, prc = run.sh("prlimit --pid " .. gw.pid .. " --fsize=" .. wal .. ":")
    assert.equal(0, prc, perr)
    return function() run.sh("prlimit --pid " .. gw.pid .. " --fsize=unlimited:") end
end

local function commit_failed(gw, before)
    assert(wait_until(function() return gw:stats().store.commit_failures > before end, 10), "no commit failed")
end

-- After the episode: the next message is the first the upstream gets.
local function only_fine_forwarded(gw, up, e)
    assert.equal(ROK, answer(e, send(e, "fine")))
    local p = assert(up:expect(function(q) return q.id == id.submit_sm end, 10), "nothing forwarded")
    assert.equal("fine", wire.parse_sm(p.body).short_message)
    assert.equal(1, queue(gw).sent)
end

local function rejected(gw)
    local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1&state=REJECTD"))))
    return list.count
end

-- Once the store takes writes again: the waiting run's one message ended
-- REJECTED, none parked or queued.
local function ended_rejected(gw)
    assert(wait_until(function() return queue(gw).parked == 0 and rejected(gw) == 1 end, 15),
        "not ended: " .. cjson.encode(queue(gw)))
    assert.equal(0, queue(gw).queued)
end

-- The store holds esme1's "fine" alone (what the episode lost is not there).
local function only_fine_stored(gw)
    local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1"))))
    assert.equal(1, list.count)
end

local function scenario(body)
    local dir = require("helpers.tmp").dir()
    local l, port = wire.listen()
    l:settimeout(5)
    local gw = server.start { conf = gateway_conf(port, dir) }
    local up = accept_bind(l)
    local e, lift
    local ok, err = pcall(function()
        assert(gw:wait_log("upstream U: bind 1 up", 5))
        e = park.esme(gw)
        body(gw, up, e, function()
            lift = fail_commits(gw)
            return gw:stats().store.commit_failures
        end, function()
            lift()
            lift = nil
        end)
    end)
    if lift then lift() end
    if e then e:close() end
    up:close()
    assert.is_true(gw:stop("TERM", 10))
    assert(ok, err)
end

describe("#integration gateway parked messages and a failed commit", function()
    it("answers an error, not ESME_ROK, when the commit that stored the waiting run's message failed", function()
        scenario(function(gw, up, e, fail, lift)
            local before = fail()
            local seq = send(e, "wait then ok")
            commit_failed(gw, before)
            parked(gw, 0)                                   -- lost with the commit
            lift()
            go(e)
            local status = answer(e, seq)
            assert.is_true(status == RMSGQFUL or status == RSYSERR, "answered " .. status)
            only_fine_forwarded(gw, up, e)
            only_fine_stored(gw)
        end)
    end)

    it("ends REJECTED, never forwarded, the message of a run whose success a failed commit turned into an error", function()
        scenario(function(gw, up, e, fail, lift)
            local seq = send(e, "wait then store ok")
            parked(gw, 1)
            local before = fail()
            go(e)
            local status = answer(e, seq)
            assert.is_true(status == RMSGQFUL or status == RSYSERR, "answered " .. status)
            commit_failed(gw, before)
            lift()
            ended_rejected(gw)
            only_fine_forwarded(gw, up, e)
        end)
    end)

    it("answers ESME_RSYSERR and ends REJECTED a waiting run's message whose response table does not check", function()
        scenario(function(gw, up, e, fail, lift)
            local seq = send(e, "wait then store bad answer")
            parked(gw, 1)
            local before = fail()
            go(e)
            assert.equal(RSYSERR, answer(e, seq))
            commit_failed(gw, before)
            lift()
            ended_rejected(gw)
            only_fine_forwarded(gw, up, e)
        end)
    end)

    it("stores nothing more for a run whose early ESME_ROK (smpp.respond) a failed commit turned into an error",
        function()
        scenario(function(gw, up, e, fail, lift)
            local before = fail()
            local seq = send(e, "respond early, then store again")
            local status = answer(e, seq)
            assert.is_true(status == RMSGQFUL or status == RSYSERR, "answered " .. status)
            commit_failed(gw, before)
            lift()
            go(e)
            assert(gw:wait_log("stored again: status 8%s", 10), "the later store was not refused")
            parked(gw, 0)
            only_fine_forwarded(gw, up, e)
            only_fine_stored(gw)
        end)
    end)

    it("answers an error, not ESME_ROK, for a run whose messages a failed write lost before it ended", function()
        -- commits fail: the run stores until a store is refused, and the
        -- turn's write or commit that fails loses all of them; the run
        -- then returns ESME_ROK, which must not go out
        for _, text in ipairs { "many", "many then wait" } do
            scenario(function(gw, up, e, fail, lift)
                local before = fail()
                local seq = send(e, text)
                local status = answer(e, seq)
                assert.is_true(status == RMSGQFUL or status == RSYSERR, text .. ": answered " .. status)
                assert(gw:wait_log("stored %d+, then refused", 5))
                commit_failed(gw, before)
                lift()
                only_fine_forwarded(gw, up, e)
                only_fine_stored(gw)
            end)
        end
    end)

    it("ends REJECTED, not forwarded, the message of a run that answers an error status after waiting", function()
        scenario(function(gw, up, e)
            local seq = send(e, "wait then error")
            parked(gw, 1)
            go(e)
            assert.equal(0x0A, answer(e, seq))              -- ESME_RINVSRCADR, the script's
            assert(wait_until(function()
                local q = queue(gw)
                return q.parked == 0 and q.refused == 1
            end, 10), "not ended")
            assert.equal(1, rejected(gw))
            only_fine_forwarded(gw, up, e)
        end)
    end)
end)
