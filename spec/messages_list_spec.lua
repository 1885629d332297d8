-- messages_list_spec -- GET /messages with a long list on the SQLite store:
-- the list is read in chunks with a pause between them and its brief
-- views do not parse traces line by line, so 6,000 messages with their
-- traces are answered inside a 200 ms script budget (scaled) (they ran past a 1 s
-- one and answered 500) while the loop serves everyone else.
local server = require "helpers.server"
local wait = require "helpers.wait"
local cjson = require "cjson"

local N = 6000

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
end)
