-- cli_route_spec -- `smppgw route`: the dry run of a gateway's routing.
-- It prints every route looked at with the key that did not match, the
-- route and upstream taken, exits 0 when routed and 1 when not, and opens
-- no socket (an upstream listening here is never connected to).
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wire = require "helpers.wire"
local server = require "helpers.server"

local function conf(port)
    local dir = tmp.dir()
    return tmp.write(dir .. "/gw.lua", "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw" }, { system_id = "latin", password = "pw",
                                                                    default_alphabet = "latin1" } },
        upstreams = { { name = "A", host = "127.0.0.1", port = port }, { name = "B", host = "127.0.0.1", port = port } },
        gateway = { time_zone = "+01:00", no_route_status = "ESME_RINVDSTADR", routes = {
            { name = "promo", contains = "promo", to = "B" },
            { name = "code", text_pattern = "^code %d+$", to = "B" },
            { name = "vip", system_id = "vip", to = "B" },
            { name = "office", hours = "09:00-17:00", days = { "mon", "tue", "wed", "thu", "fri" },
              to = { "A", "B" }, strategy = "round_robin" },
            { name = "uk", prefix = "44", to = "A" },
        } },
    })
end

describe("#integration smppgw route (dry run)", function()
    local listener, port, path
    before_each(function()
        listener, port = wire.listen()
        listener:settimeout(0)
        path = conf(port)
    end)
    after_each(function()
        assert.is_nil(listener:accept(), "the dry run connected to an upstream")
    end)

    it("prints the route and upstream and why the others did not match", function()
        -- Monday 2026-12-07 20:00 UTC is 21:00 at +01:00: outside office hours
        local out, err, rc = run.smppgw { "route", path, "--to", "447700900123", "--from", "ME",
            "--system-id", "esme1", "--text", "hello", "--at", "2026-12-07T20:00:00Z" }
        assert.equal(0, rc, err)
        assert.matches("route 'promo' +no: contains %(the text holds none of promo%)", out)
        assert.matches("route 'code' +no: text_pattern", out)
        assert.matches("route 'vip' +no: system_id %(system_id \"esme1\" is not \"vip\"%)", out)
        assert.matches("route 'office' +no: hours %(21:00 is outside 09:00%-17:00%)", out)
        assert.matches("route 'uk' +matches", out)
        assert.matches("\nroute: uk\nupstream: A\n", out)
        assert.matches("mon 21:00 in %+01:00", out)
    end)

    it("reads the text as the gateway would: any case, UCS-2, the account's alphabet", function()
        local out, _, rc = run.smppgw { "route", path, "--to", "33", "--text", "Большой PROMO", "--at", "0" }
        assert.equal(0, rc)
        assert.matches("\nroute: promo\nupstream: B\n", out)
        out, _, rc = run.smppgw { "route", path, "--to", "33", "--text", "code 42", "--system-id", "latin",
                                  "--coding", "latin1", "--at", "0" }
        assert.equal(0, rc)
        assert.matches("\nroute: code\n", out)
    end)

    it("names a strategy's upstreams and follows the time window", function()
        local out, _, rc = run.smppgw { "route", path, "--to", "33", "--at", "2026-12-07T10:00:00Z" }
        assert.equal(0, rc)
        assert.matches("\nroute: office\nupstream: A %(of A, B, round_robin", out)
        -- Saturday: the weekdays-only window is closed
        out, _, rc = run.smppgw { "route", path, "--to", "33", "--at", "2026-12-12T10:00:00Z" }
        assert.equal(1, rc)
        assert.matches("route 'office' +no: days %(sat is not one of mon, tue, wed, thu, fri%)", out)
        assert.matches("no route: the ESME is answered ESME_RINVDSTADR", out)
    end)

    it("takes --help, refuses bad arguments (2) and a wrong configuration (1)", function()
        local out, _, rc = run.smppgw { "route", "--help" }
        assert.equal(0, rc)
        assert.matches("^usage: smppgw route", out)
        local _, err
        _, err, rc = run.smppgw { "route", path }
        assert.equal(2, rc)
        assert.matches("%-%-to is required", err)
        _, err, rc = run.smppgw { "route", path, "--to", "1", "--bogus", "x" }
        assert.equal(2, rc)
        assert.matches("unknown option %-%-bogus", err)
        _, err, rc = run.smppgw { "route", path, "--to", "1", "--at", "tomorrow" }
        assert.equal(2, rc)
        assert.matches("%-%-at", err)
        -- an account the configuration does not have: its bind would be refused
        _, err, rc = run.smppgw { "route", path, "--to", "1", "--system-id", "nobody" }
        assert.equal(2, rc)
        assert.matches('%-%-system%-id: no account "nobody"', err)
        -- addresses the PDU cannot hold (21 octets with the NUL)
        _, err, rc = run.smppgw { "route", path, "--to", ("4"):rep(21) }
        assert.equal(2, rc)
        assert.matches("%-%-to is longer than 20 characters %(21%)", err)
        _, err, rc = run.smppgw { "route", path, "--to", "44", "--from", ("x"):rep(5000) }
        assert.equal(2, rc)
        assert.matches("%-%-from is longer than 20 characters", err)
        local out
        out, _, rc = run.smppgw { "route", path, "--to", ("4"):rep(20), "--at", "0" }
        assert.equal(0, rc)
        assert.matches("route: uk", out)
        -- an option given twice: which one was meant?
        _, err, rc = run.smppgw { "route", path, "--to", "44", "--to", "55" }
        assert.equal(2, rc)
        assert.matches("%-%-to given twice", err)
        local bad = tmp.write(tmp.dir() .. "/bad.lua", [[return { upstreams = { { name = "A", port = 1 } },
            gateway = { routes = { { prefix = "1", to = "Z" } } } }]])
        _, err, rc = run.smppgw { "route", bad, "--to", "1" }
        assert.equal(1, rc)
        assert.matches('no upstream named "Z"', err)
    end)
end)
