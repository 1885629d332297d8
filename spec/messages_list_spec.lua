-- messages_list_spec -- GET /messages with a long list on the SQLite store:
-- the list is read in chunks with a pause between them and its brief
-- views do not parse traces line by line, so 6,000 messages with their
-- traces are answered inside a 200 ms script budget (scaled) (they ran past a 1 s
-- one and answered 500) while the loop serves everyone else.
local server = require "helpers.server"
local wait = require "helpers.wait"
local raw = require "helpers.rawhttp"
local socket = require "socket"
local cjson = require "cjson"

local N = 6000

-- A script that stores n messages of account acct (no trace) once it has
-- started, then logs "all put".
local function filler(n)
    return ([[
        local smpp = require "smpp"
        local store = require "smpp.store"
        return {
            start = function()
                smpp.after(0, function()
                    local now, st = smpp.time(), store.current()
                    for i = 1, %d do
                        assert(st:put { id = "m" .. i, account = "acct", source = "s", dest = "d",
                                        submitted = now, final = true })
                        if i %% 500 == 0 then st:commit() smpp.sleep(0) end
                    end
                    st:commit()
                    smpp.log("info", "all put")
                end)
            end,
        }
    ]]):format(n)
end

describe("#integration GET /messages on a long list", function()
    it("answers thousands of messages inside the script budget, each with its last receipt", function()
        local n = server.start {
            conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } }, "
                .. "store = { path = 'list.db', sync = 'off' }, scripts = { budget_ms = " .. math.floor(200 * wait.scale) .. " } }",
            script = ([[
                local smpp = require "smpp"
                local store = require "smpp.store"
                return {
                    start = function()
                        smpp.after(0, function()
                            local now = smpp.time()
                            local st = store.current()
                            local lines = {}
                            for j = 1, 12 do lines[j] = now .. " attempt " .. j .. " to smsc1: ESME_RTHROTTLED" end
                            lines[#lines + 1] = now .. " receipt from smsc1: DELIVRD; to esme"
                            local trace = table.concat(lines, "\n") .. "\n"
                            for i = 1, %d do
                                assert(st:put { id = "m" .. i, account = "acct", source = "s", dest = "d",
                                                submitted = now, final = true, trace = trace })
                                if i %% 500 == 0 then st:commit() smpp.sleep(0) end
                            end
                            st:commit()
                            smpp.log("info", "all put")
                        end)
                    end,
                }
            ]]):format(N),
        }
        assert.is_true(n:wait_log("all put", wait.scaled(60)), n:log_text())
        local code, body = n:http("GET", "/messages?account=acct&limit=10000")
        assert.are.equal(200, code, n:log_text())
        local r = cjson.decode(body)
        assert.are.equal(N, r.count)
        assert.are.equal("DELIVRD", r.messages[1].receipt)
        assert.are.equal("DELIVRD", r.messages[N].receipt)
        assert.is_nil(r.messages[1].trace)
        assert.are.equal(0, n:count_log("budget exceeded"), n:log_text())
    end)

    -- Many lists of 10,000 at once. Each list in progress held what it had
    -- made so far; with many at once the heap's reserve ran out where
    -- nothing caught it, and the process exited ("smppgw: not enough
    -- memory"). Past http.max_lists (4) they are refused at once (503,
    -- Retry-After), and each list writes its views out as it makes them.
    it("answers 32 clients asking for 10,000 each with 200 or 503 and stays", function()
        local n = server.start {
            conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', "
                .. "password = 'password' } }, store = { path = 'list.db', sync = 'off' }, "
                .. "scripts = { memory_mb = 32 } }",
            script = filler(10000),
        }
        assert.is_true(n:wait_log("all put", wait.scaled(60)), n:log_text())
        local req = raw.get("/messages?account=acct&limit=10000")
        local conns = {}
        for i = 1, 32 do
            conns[i] = raw.connect(n.http_port)
            assert(conns[i]:send(req .. req))              -- two pipelined, then one more per answer
        end
        local seen, ok200, refused = {}, 0, 0
        local deadline = socket.gettime() + wait.scaled(30)     -- ends as soon as enough came
        while socket.gettime() < deadline and (ok200 < 8 or refused < 100) and n:alive() do
            for _, s in ipairs((socket.select(conns, nil, 0.2))) do
                local status, h, body = raw.response(s, 10)
                assert.truthy(status, "no answer: " .. tostring(h) .. "\n" .. n:log_text())
                if status == 200 then
                    ok200 = ok200 + 1
                    assert.equal(10000, cjson.decode(body).count)
                else
                    assert.equal(503, status, body)
                    assert.equal("1", h["retry-after"])
                    assert.equal("application/json", h["content-type"])
                    local why = cjson.decode(body).error
                    seen[why:sub(1, 40)] = (seen[why:sub(1, 40)] or 0) + 1
                    refused = refused + 1
                end
                s:send(req)
            end
        end
        for _, s in ipairs(conns) do s:close() end
        assert.is_true(n:alive(), "the process ended:\n" .. n:log_text())
        assert.is_true(ok200 >= 8 and refused >= 100, ok200 .. " lists; refusals " .. cjson.encode(seen))
        assert.matches("^busy: 4 lists of messages are being made", (next(seen)))
        -- and it answers as usual once the clients are gone (their
        -- connections count against http.max_per_address until it sees them close)
        assert.is_true(wait.wait_until(function() return n:http("GET", "/stats") == 200 end, wait.scaled(10)),
                       n:log_text())
    end)
end)
