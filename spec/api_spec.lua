-- api_spec -- the script API's conventions: seconds everywhere, error
-- tokens (smpp.E) for runtime failures and raising for misuse, one
-- vocabulary for bind types and sides, stats as functions, names that say
-- waiting or queueing, read-only session views with a writable ctx,
-- smpp.respond (answer now, keep working), the stop event and premature
-- timers, and the logged seed of the SMSC's random rules.
local server = require "helpers.server"
local wire = require "helpers.wire"
local cjson = require "cjson"

describe("smpp.E", function()
    local smpp = require "smpp"
    local codec = require "smpp.codec"

    it("names every token the engine returns, and the runtime's own, one name each", function()
        assert.equal("window full", smpp.E.WINDOW_FULL)
        assert.equal("closed", smpp.E.CLOSED)
        assert.equal("timeout", smpp.E.TIMEOUT)
        assert.equal("not allowed in this state", smpp.E.NOT_ALLOWED_IN_THIS_STATE)
        assert.equal("connect refused", smpp.E.CONNECT_REFUSED)
        assert.equal("resolve", smpp.E.RESOLVE)
        assert.equal("no account", smpp.E.NO_ACCOUNT)
        assert.equal("no receiver", smpp.E.NO_RECEIVER)
        assert.equal("full", smpp.E.FULL)
        local seen = {}
        for _, tok in ipairs(codec.errors) do
            assert.equal(tok, smpp.E[(tok:upper():gsub("[^%w]+", "_"))])
            seen[tok] = true
        end
        assert.is_true(#codec.errors >= 10)
        local n = 0
        for name, tok in pairs(smpp.E) do
            n = n + 1
            assert.equal(name, (tok:upper():gsub("[^%w]+", "_")))
        end
        assert.equal(#smpp.error_tokens, n)                -- no token twice
    end)

    it("raises for a name that is not a token (a typo is found at once)", function()
        assert.has_error(function() return smpp.E.WINDOW_FUL end, "smpp.E.WINDOW_FUL: no such error token")
    end)

    it("keeps the old names as aliases: deliver, post, now_ms", function()
        assert.equal(smpp.deliver_wait, smpp.deliver)
        assert.equal(smpp.deliver_queue, smpp.post)
        assert.is_function(smpp.now_ms)
        assert.is_function(smpp.respond)
    end)
end)

-- The script of the integration tests below: GET /t?port=N runs the checks
-- as a script would and answers what it saw.
local SCRIPT = [==[
local smpp = require "smpp"
local http = require "smpp.http"
local gateway = require "smpp.gateway"
local upstream = require "smpp.upstream"
local security = require "smpp.security"
local webhook = require "smpp.webhook"
local E = smpp.E
local slow                                    -- the token the slow handler waits on

http.route("GET", "/t", function(req)
    local out = {}
    -- seconds: now() is the loop clock in seconds, now_ms() the old milliseconds
    local t0 = smpp.now()
    smpp.sleep(0.05)
    out.elapsed = smpp.now() - t0
    out.now_is_clock = math.abs(smpp.now() - smpp.clock()) < 0.001
    out.now_ms_is_ms = math.abs(smpp.now_ms() / 1000 - smpp.now()) < 0.01

    local s = assert(smpp.connect { port = tonumber(req.query.port), system_id = "smppclient1",
                                    password = "password", bind = "transceiver", session = { window = 1 } })
    out.bind_type = s.bind_type
    out.side = s.side
    -- one vocabulary: smsc/esme accepted for server/client
    out.esme_has_it = false
    for _, x in ipairs(smpp.sessions { side = "esme" }) do out.esme_has_it = out.esme_has_it or x == s end
    out.smsc_count = #smpp.sessions { side = "smsc" }
    out.bad_side = select(2, pcall(smpp.sessions, { side = "upstream" }))
    out.bad_bind = select(2, pcall(smpp.connect, { port = 1, bind = "both" }))

    -- read-only view, writable ctx
    local ok, e = pcall(function() s.id = 7 end)
    out.assign = e
    out.rawset = select(2, pcall(rawset, s, "id", 7))
    s.ctx.mine = "kept"
    out.ctx = s.ctx.mine
    out.id_kept = s.id ~= 7
    out.keys = {}
    for k in pairs(s) do out.keys[#out.keys + 1] = k end
    table.sort(out.keys)

    -- runtime failures are nil, token; misuse raises
    local waiting, answered = false, false
    smpp.after(0, function()
        waiting = true
        s:send { command = "submit_sm", destination_addr = "1", short_message = "slow" }
        answered = true
    end)
    while not waiting do smpp.sleep(0.01) end
    local r, err = s:send { command = "submit_sm", destination_addr = "1", short_message = "x" }
    out.window_full = r == nil and err == E.WINDOW_FULL
    ok, e = pcall(s.send, s, { command = "submit_sm_resp", message_id = "x" })
    out.misuse = not ok and tostring(e)
    while not slow do smpp.sleep(0.01) end
    smpp.wake(slow)
    while not answered do smpp.sleep(0.01) end
    -- answer now, keep working: the response comes before the handler ends
    local resp = s:send { command = "submit_sm", destination_addr = "1", short_message = "respond" }
    out.early = resp and resp.message_id
    s:close()
    while not s.closed do smpp.sleep(0.01) end
    r, err = s:send { command = "enquire_link" }
    out.closed = r == nil and err == E.CLOSED
    r, err = smpp.deliver_wait("idle", { source_addr = "1", destination_addr = "2", short_message = "x" })
    out.no_receiver = r == nil and err == E.NO_RECEIVER
    -- an account the configuration does not have: nil, NO_ACCOUNT, nothing kept
    r, err = smpp.deliver_wait("nobody", { source_addr = "1", destination_addr = "2", short_message = "x" })
    out.wait_nobody = { r == nil, err == E.NO_ACCOUNT }
    r, err = smpp.deliver_queue("nobody", { source_addr = "1", destination_addr = "2", short_message = "x" })
    out.queue_nobody = { r == nil, err == E.NO_ACCOUNT }
    out.queue_idle = smpp.deliver_queue("idle", { source_addr = "1", destination_addr = "2", short_message = "x" })
    out.queue_misuse = select(2, pcall(smpp.deliver_queue, 42, { short_message = "x" }))
    -- a connection not made: a token of smpp.E, the prose third
    local cs, cerr, cdetail = smpp.connect { port = 1, system_id = "x", password = "x" }
    out.refused = { cs == nil, cerr == E.CONNECT_REFUSED, tostring(cdetail) }
    cs, cerr, cdetail = smpp.connect { host = "no.such.host.invalid", port = 2775 }
    out.resolve = { cs == nil, cerr == E.RESOLVE, tostring(cdetail) }
    -- the list of tokens has a length in a script
    out.n_errors = #smpp.errors()
    out.errors_has = false
    for _, tok in ipairs(smpp.errors()) do out.errors_has = out.errors_has or tok == E.NO_ACCOUNT end
    local n_walked = 0
    for _ in ipairs(smpp.error_tokens) do n_walked = n_walked + 1 end
    out.n_walked = n_walked
    -- a bucket without a clock of its own refills by the loop's clock, in fractions
    local b = require("smpp.ratelimit").bucket(1, 1)
    b:take()
    smpp.sleep(0.05)
    out.bucket = b:available()
    -- every stats is a function
    out.stats = {}
    for name, f in pairs { smpp = smpp.stats, gateway = gateway.stats, upstream = upstream.stats,
                           security = security.stats, webhook = webhook.stats, session = s.stats } do
        out.stats[name] = type(f)
    end
    out.outside = select(2, pcall(smpp.respond, "ESME_ROK"))
    return 200, out
end)

return {
    submit_sm = function(session, pdu)
        if pdu.short_message == "slow" then
            smpp.wait(function(tok) slow = tok end, 30)
        elseif pdu.short_message == "respond_bad" then
            -- fields the encoder refuses raise at the call, while the handler can still answer
            local ok, e = pcall(smpp.respond, "ESME_ROK", { message_id = ("x"):rep(200) })
            smpp.log("info", "respond_bad: ok=%s: %s", tostring(ok), tostring(e))
            return "ESME_RINVMSGLEN"
        elseif pdu.short_message == "respond" then
            smpp.respond("ESME_ROK", { message_id = "early" })
            local _, second = pcall(smpp.respond, "ESME_ROK")
            smpp.sleep(0.01)                    -- still running after the answer went out
            smpp.log("info", "respond: kept working; a second respond: %s", tostring(second))
            return "ESME_RSYSERR"               -- not sent: the request was answered
        end
        return "ESME_ROK", { message_id = "m" }
    end,
    start = function()
        smpp.after(0, function(premature) smpp.log("info", "timer in time: premature=%s", tostring(premature)) end)
        smpp.after(3600, function(premature) smpp.log("info", "after at stop: premature=%s", tostring(premature)) end)
        smpp.every(3600, function(premature) smpp.log("info", "every at stop: premature=%s", tostring(premature)) end)
        -- a premature timer that never ends its waits cannot hold the stop
        smpp.after(3600, function() while true do smpp.sleep(0.5) end end)
    end,
    stop = function()
        smpp.log("info", "stop event: stopping=%s", tostring(smpp.stopping()))
    end,
}
]==]

describe("#integration the script API", function()
    local CONF = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' }, "
        .. "{ system_id = 'idle', password = 'password' } } }"

    it("follows its conventions in a running server", function()
        local srv = server.start { script = SCRIPT, conf = CONF }
        local code, body = srv:http("GET", "/t?port=" .. srv.port)
        assert.equal(200, code, body)
        local t = cjson.decode(body)
        assert.is_true(t.elapsed >= 0.04 and t.elapsed < 30, "smpp.now() in seconds: " .. t.elapsed)
        assert.is_true(t.now_is_clock)
        assert.is_true(t.now_ms_is_ms)
        assert.same({ "transceiver", "client" }, { t.bind_type, t.side })
        assert.is_true(t.esme_has_it)
        assert.equal(1, t.smsc_count)                     -- the server side of the same connection
        assert.matches("side must be server or client", t.bad_side)
        assert.matches("bind must be transmitter, receiver or transceiver", t.bad_bind)
        assert.matches("session fields are read%-only %(assigning 'id'%)", t.assign)
        assert.matches("read%-only", t.rawset)
        assert.equal("kept", t.ctx)
        assert.is_true(t.id_kept)
        assert.same({ "bind_type", "ctx", "id", "local", "remote", "side", "state", "system_id" }, t.keys)
        assert.is_true(t.window_full)
        assert.matches("smpp: send:", t.misuse)
        assert.equal("early", t.early)
        assert.is_true(t.closed)
        assert.is_true(t.no_receiver)
        assert.same({ true, true }, t.wait_nobody)
        assert.same({ true, true }, t.queue_nobody)
        assert.is_true(t.queue_idle)
        assert.matches("system_id must be a string", t.queue_misuse)
        assert.same({ true, true, "connection refused" }, t.refused)
        assert.is_true(t.resolve[1] and t.resolve[2], cjson.encode(t.resolve))
        assert.matches("cannot resolve host 'no%.such%.host%.invalid'", t.resolve[3])
        assert.equal(#require("smpp").error_tokens, t.n_errors)
        assert.is_true(t.n_errors >= 20)
        assert.is_true(t.errors_has)
        assert.equal(t.n_errors, t.n_walked)
        assert.is_true(t.bucket > 0 and t.bucket < 1, tostring(t.bucket))
        assert.same({ smpp = "function", gateway = "function", upstream = "function", security = "function",
                      webhook = "function", session = "function" }, t.stats)
        assert.matches("only a request's handler may answer", t.outside)
        assert.is_true(srv:wait_log("respond: kept working; a second respond: [^\n]*only a request's handler may answer"))
        assert.is_true(srv:wait_log("timer in time: premature=false"))
        assert.equal(0, srv:count_log("at stop: premature"))
        assert.is_true(srv:stop())
        assert.equal(0, srv:exit_code())
        local log = srv:log_text()
        assert.matches("stop event: stopping=true", log)
        assert.matches("after at stop: premature=true", log)
        assert.matches("every at stop: premature=true", log)
        assert.equal(1, srv:count_log("every at stop"))   -- once, then it ends
        -- the stop event comes before the timers fire
        assert.is_true(log:find("stop event", 1, true) < log:find("after at stop", 1, true))
    end)

    it("a script that answers a bound session keeps the handler's bad return to itself after respond", function()
        local srv = server.start { script = SCRIPT }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(2, { short_message = "respond" }))
        local r = c:read()
        assert.equal(0, r.status)
        assert.is_true(srv:wait_log("respond: kept working"))
        -- a response the encoder refuses raises in the handler, which answers otherwise
        c:send(wire.submit_sm(3, { short_message = "respond_bad" }))
        r = c:read()
        assert.equal(0x00000001, r.status)                -- ESME_RINVMSGLEN, the handler's own answer
        assert.is_true(srv:wait_log("respond_bad: ok=false: [^\n]*smpp%.respond: the encoder refuses the response: "
                                    .. "message_id is 200 characters"))
        c:close()
    end)
end)

describe("#integration the stop with many looping timers", function()
    it("runs their premature calls for a second at most, then stops (the rest counted)", function()
        local srv = server.start { script = [[
local smpp = require "smpp"
return { submit_sm = function(session, pdu)
    for i = 1, 40 do smpp.after(3600, function() while true do end end) end
    return 0, { message_id = "armed" }
end }]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(2, { short_message = "x" }))
        assert.equal(0, c:read().status)
        c:close()
        local t0 = wire.gettime()
        srv:signal("TERM")
        assert.equal(0, srv:wait_exit(require("helpers.wait").scaled(8)), srv:log_text())
        local took = wire.gettime() - t0
        assert.is_true(took < require("helpers.wait").scaled(4), "stopped after " .. took .. " s")   -- 40 x 0.25 s before
        assert.matches("stop: %d+ of 40 pending timers not run prematurely", srv:log_text())
    end)
end)

describe("#integration the SMSC's seed", function()
    it("is logged, from the configuration or the random source", function()
        local srv = server.start { conf = server.smsc_conf { smsc = { seed = 42 } } }
        assert.is_true(srv:wait_log("smsc: random rules seeded with 42 %(smsc%.seed%)"))
        local other = server.start { conf = server.smsc_conf() }
        assert.is_true(other:wait_log("smsc: random rules seeded with %d+ from the system's random source"))
    end)
end)

-- Misuse of smpp.post and session:send raises at the script's own line
-- (it named lua/smpp/session.lua), in the script's words (smpp.respond,
-- not the engine's sess_respond); a nil PDU says so (it was "attempt to
-- index local 'pdu'").
describe("#integration misuse of smpp.post and session:send", function()
    local SCRIPT = [==[
local smpp = require "smpp"
local function caught(f) return select(2, pcall(f)) end
require("smpp.http").route("GET", "/t", function(req)
    local out = {}
    out.post_nil = caught(function() smpp.post("smppclient1", nil) end)                               -- POST_NIL
    out.post_cmd = caught(function() smpp.post("smppclient1", { command = "submit_sm" }) end)         -- POST_CMD
    out.post_long = caught(function() smpp.post("smppclient1", { short_message = ("x"):rep(300) }) end) -- POST_LONG
    local s = assert(smpp.connect { port = tonumber(req.query.port), system_id = "smppclient1",
                                    password = "password", bind = "transceiver" })
    out.send_resp = caught(function() s:send { command = "deliver_sm_resp" } end)                     -- SEND_RESP
    out.send_field = caught(function() s:send { command = "submit_sm", source_addr = ("1"):rep(30) } end) -- SEND_FIELD
    out.send_nil = caught(function() s:send(nil) end)                                                 -- SEND_NIL
    out.waited = s:send { command = "enquire_link" } ~= nil                  -- a wait through the pcall
    s:close()
    return 200, out
end)
return {}
]==]
    local function line_of(mark)
        local n = 0
        for line in SCRIPT:gmatch("[^\n]*\n") do
            n = n + 1
            if line:find("-- " .. mark, 1, true) then return n end
        end
        error("no line marked " .. mark)
    end

    it("raises at the calling line of the script, naming smpp.respond for a response", function()
        local srv = server.start { script = SCRIPT }
        local code, body = srv:http("GET", "/t?port=" .. srv.port)
        assert.equal(200, code, body)
        local t = cjson.decode(body)
        local function at(mark) return "^[^\n]-script%.lua:" .. line_of(mark) .. ": " end
        assert.matches(at("POST_NIL") .. "smpp%.post: the PDU must be a table, not nil$", t.post_nil)
        assert.matches(at("POST_CMD") .. "smpp%.post: only deliver_sm and data_sm", t.post_cmd)
        assert.matches(at("POST_LONG") .. "smpp%.post: short_message is 300 octets", t.post_long)
        assert.matches(at("SEND_RESP") .. "smpp: send: deliver_sm_resp is a response: a handler answers its "
                       .. "request by returning, or with smpp%.respond$", t.send_resp)
        assert.matches(at("SEND_FIELD") .. "smpp: send: source_addr is 30 characters", t.send_field)
        assert.matches(at("SEND_NIL") .. "smpp: send: the PDU must be a table, not nil$", t.send_nil)
        assert.is_true(t.waited)
    end)
end)
