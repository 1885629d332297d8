-- address_spec -- "host:port" read one way everywhere (smpp.address): the
-- parser's cases, each reader of an address agreeing with it (the config
-- checker, smppgw send, the HTTP API's callback URLs, smppgw bench in C),
-- and an IPv6 session whose address the runtime writes in brackets.
local address = require "smpp.address"
local config = require "smpp.config"
local send_args = require "smpp.send_args"
local run = require "helpers.run"
local server = require "helpers.server"

-- s -> host, port (nil: refused, with why naming the fault)
local CASES = {
    { "127.0.0.1:2775", "127.0.0.1", 2775 },
    { "localhost:0", "localhost", 0 },
    { "smsc-1.example.com:65535", "smsc-1.example.com", 65535 },
    { "[::1]:2775", "::1", 2775 },
    { "[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80 },
    { "[fe80::1%eth0]:2775", "fe80::1%eth0", 2775 },
    { "::1:2775", nil, "brackets" },
    { "[::1:2775", nil, "brackets" },
    { "[localhost]:2775", nil, "only an IPv6" },
    { "[]:2775", nil, "only an IPv6" },
    { "127.0.0.1", nil, "port is missing" },
    { "[::1]", nil, "port is missing" },
    { "127.0.0.1:", nil, "not a number" },
    { "127.0.0.1:http", nil, "not a number" },
    { "127.0.0.1:65536", nil, "above 65535" },
    { ":2775", nil, "host is missing" },
    { "a b:2775", nil, "no address has" },
    { "host/x:2775", nil, "no address has" },
}

describe("smpp.address", function()
    it("reads HOST:PORT, an IPv6 host only in brackets, and says what is wrong", function()
        for _, c in ipairs(CASES) do
            local host, port = address.parse(c[1])
            if c[2] then
                assert.same({ c[2], c[3] }, { host, port }, c[1])
            else
                assert.is_nil(host, c[1])
                assert.matches(c[3], port, 1, true)
            end
        end
        assert.is_nil((address.parse(2775)))
    end)

    it("takes a default port when one is given, and writes what it reads", function()
        assert.same({ "::1", 80 }, { address.parse("[::1]", 80) })
        assert.same({ "10.0.0.1", 8080 }, { address.parse("10.0.0.1:8080", 80) })
        for _, c in ipairs(CASES) do
            if c[2] then assert.equal(c[1], address.format(c[2], c[3])) end
        end
    end)

    it("is the rule of every reader: the config, smppgw send and callback URLs", function()
        for _, c in ipairs(CASES) do
            local ok, errs = config.validate { listen = { c[1] }, http = { listen = c[1] } }
            if c[2] then
                assert.is_true(ok, c[1])
            else
                assert.equal(2, #errs, c[1])
                assert.matches('is not host:port %(.*' .. c[3]:gsub("%p", "%%%0"), errs[1])
            end
            local o, why = send_args.parse { "send", "--from", "1", "--to", "2", "--text", "x", c[1] }
            if c[2] and c[3] ~= 0 then
                assert.same({ c[2], c[3] }, { o.host, o.port }, c[1])
            else
                assert.is_nil(o, c[1])
                assert.matches(c[1], why, 1, true)
            end
        end
        local http = require "smpp.http"
        assert.same({ "::1", 8080, "/cb" }, { http.parse_url("http://[::1]:8080/cb") })
        assert.is_nil(http.parse_url("http://::1:8080/cb"))
        assert.is_nil(http.parse_url("http://127.0.0.1:65536/cb"))
    end)
end)

describe("#integration addresses in C", function()
    it("smppgw bench reads HOST:PORT by the same rules", function()
        for _, c in ipairs(CASES) do
            if c[3] ~= 0 and not (c[2] and c[2]:find("%%")) then
                -- a good address gets as far as connecting (nothing listens on
                -- port 1 of a name that does not resolve: exit 1); a bad one is exit 2
                local target = c[2] and address.format(c[2] == "smsc-1.example.com" and "invalid.invalid"
                    or c[2], 1) or c[1]
                local _, err, rc = run.smppgw { "bench", "--count", "1", "--quiet", target }
                if c[2] then
                    assert.are_not.equal(2, rc, target .. ": " .. err)
                else
                    assert.equal(2, rc, target)
                    assert.matches("is not HOST:PORT", err, 1, true)
                end
            end
        end
    end)

    it("writes an IPv6 peer in brackets, and the bind check reads its address from it", function()
        local srv = server.start {
            conf = server.smsc_conf { accounts = { { system_id = "smppclient1", password = "password",
                                                     networks = { "::1/128" } } } },
            args = { "-l", "'[::1]:0'" },
        }
        assert.is_true(srv:wait_log("listening on %[::1%]:%d+"))
        local port = srv:log_text():match("listening on %[::1%]:(%d+)")
        local out, err, rc = run.smppgw { "send", "[::1]:" .. port, "--from", "1234", "--to", "447700900123",
                                          "--text", "hi" }
        assert.equal(0, rc, err)
        assert.matches("message_id", out)
        assert.matches("connection from %[::1%]\n", srv:log_text())
        -- the same account from 127.0.0.1 is outside its networks
        _, err, rc = run.smppgw { "send", "127.0.0.1:" .. srv.port, "--from", "1234", "--to", "4477", "--text", "x" }
        assert.equal(1, rc)
        assert.matches("ESME_RBINDFAIL", err)
    end)
end)
