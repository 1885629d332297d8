-- cli_send_listen_spec -- smppgw send --listen against the reference SMSC:
-- receipts and MO messages printed as they come (text or JSON lines), until
-- Ctrl-C, --wait or an unbind (exit 0), or a lost connection (exit 1).
local run = require "helpers.run"
local server = require "helpers.server"
local wait = require "helpers.wait"
local cjson = require "cjson"

-- smppgw send 127.0.0.1:PORT ARGS... in the background (stopped with the test).
local function spawn_send(port, args)
    local words = { "exec", run.quote(run.bin), "send", "127.0.0.1:" .. port }
    for _, a in ipairs(args) do words[#words + 1] = run.quote(a) end
    return run.spawn(table.concat(words, " "))
end

-- Wait until the process's output matches pattern -> the captures.
local function wait_output(p, pattern, what)
    return wait.wait_until(function() return p:log_text():match(pattern) end, 5, what)
end

-- The JSON lines of the output, by type.
local function objects(p)
    local by = { submitted = {}, receipt = {}, mo = {} }
    for line in p:log_text():gmatch("[^\n]+") do
        if line:sub(1, 1) == "{" then
            local o = cjson.decode(line)
            table.insert(by[o.type], o)
        end
    end
    return by
end

describe("#integration smppgw send --listen", function()
    it("prints the receipt and the echoed MO as they come, and ends at Ctrl-C with exit 0", function()
        local srv = server.start { conf = server.smsc_conf() }
        local p = spawn_send(srv.port, { "--from", "1234", "--to", "447700900123",
                                         "--text", "echo Grüße\nzwei", "--listen" })
        local id = wait_output(p, "message_id (%d+) %(part 1/1%)\n", "the message id")
        wait_output(p, "\nreceipt " .. id .. ": DELIVRD err:000 %(id:" .. id .. " [^\n]*%)\n", "the receipt")
        -- GSM 7-bit there and back, decoded to UTF-8, the line break escaped
        wait_output(p, "\nmo from 447700900123 to 1234: echo Grüße\\nzwei\n", "the MO")
        assert.is_true(p:alive())                       -- still listening
        p:signal("INT")
        assert.equal(0, p:wait_exit(5), p:log_text())
        assert.is_true(srv:wait_log("unbind"), srv:log_text())
    end)

    it("--json --wait: one object per line, a long MO joined from its parts, exit 0 at the end", function()
        local srv = server.start { conf = server.smsc_conf { smsc = { echo = "all" } } }
        local long = ("Ωμέγα текст ✓ "):rep(12)           -- 168 characters: 3 UCS-2 parts
        local p = spawn_send(srv.port, { "--from", "1234", "--to", "447700900123", "--text", long,
                                         "--listen", "--json", "--wait", tostring(wait.scaled(1.5)) })
        assert.equal(0, p:wait_exit(10), p:log_text())
        local by = objects(p)
        assert.equal(3, #by.submitted)
        assert.equal(3, #by.receipt)                    -- --listen asks for receipts
        for i, s in ipairs(by.submitted) do
            assert.same({ i, 3 }, { s.part, s.parts })
            local r
            for _, x in ipairs(by.receipt) do if x.message_id == s.message_id then r = x end end
            assert.same({ "DELIVRD", "000", "447700900123", "1234" }, { r.stat, r.err, r.from, r.to })
            assert.matches("^id:" .. s.message_id .. " ", r.text)
        end
        assert.equal(1, #by.mo)
        local mo = by.mo[1]
        assert.same({ long, 3, 8, "447700900123", 1, 1, "1234", 1, 1 }, { mo.text, mo.parts, mo.data_coding,
            mo.from, mo.from_ton, mo.from_npi, mo.to, mo.to_ton, mo.to_npi })
    end)

    it("listens without sending; exit 1 naming the cause when the connection is lost", function()
        local srv = server.start { conf = server.smsc_conf() }
        local p = spawn_send(srv.port, { "--listen" })
        assert.is_true(srv:wait_log("bound smppclient1 as BOUND_TRX"), srv:log_text())
        -- another client's message comes back to the only receiver bound
        local _, err, rc = run.smppgw({ "send", "127.0.0.1:" .. srv.port, "--from", "555", "--to", "447700900123",
                                        "--text", "echo to the listener" })
        assert.equal(0, rc, err)
        wait_output(p, "mo from 447700900123 to 555: echo to the listener\n", "the MO")
        assert.is_nil(p:log_text():find("message_id", 1, true))
        srv:kill()
        assert.equal(1, p:wait_exit(5), p:log_text())
        -- a killed peer's kernel closes with FIN, or with RST when our last
        -- PDU was still unread there: either way the cause is named
        local text = p:log_text()
        assert.is_truthy(text:find("smppgw send: the session closed: peer closed the connection", 1, true)
                         or text:find("smppgw send: the session closed: connection reset by peer", 1, true), text)
    end)

    it("ends with exit 0 when the SMSC unbinds", function()
        local srv = server.start { conf = server.smsc_conf() }
        local p = spawn_send(srv.port, { "--listen", "--json" })
        assert.is_true(srv:wait_log("bound smppclient1 as BOUND_TRX"), srv:log_text())
        assert.is_true(srv:stop("TERM", 5))
        assert.equal(0, p:wait_exit(5), p:log_text())
        assert.equal("exit=0\n", p:log_text())          -- nothing printed
    end)
end)
