-- send_spec -- smppgw send against the reference SMSC.
local run = require "helpers.run"
local server = require "helpers.server"

describe("#integration smppgw send", function()
    -- each send gets a fresh SMSC: no receipt held from an earlier test
    -- reaches it
    local function send(args)
        local srv = server.start { conf = server.smsc_conf() }
        local all = { "send", "127.0.0.1:" .. srv.port }
        for _, a in ipairs(args) do all[#all + 1] = a end
        return run.smppgw(all)
    end

    it("sends a long UCS-2 text in parts and prints their receipts", function()
        local long = ("Ωμέγα текст ✓ "):rep(12)         -- 168 characters: 3 UCS-2 parts
        local out, err, rc = send { "--from", "1234", "--to", "447700900123", "--text", long,
                                    "--wait-dlr", "5" }
        assert.equal(0, rc, err)
        local ids = {}
        for id, n, total in out:gmatch("message_id (%d+) %(part (%d)/(%d)%)") do
            ids[#ids + 1] = id
            assert.equal("3", total)
        end
        assert.equal(3, #ids)
        for _, id in ipairs(ids) do
            assert.matches("receipt " .. id .. ": DELIVRD err:000 %(id:" .. id .. " ", out)
        end
        assert.matches("text:%?+ %?+ %?", out)           -- the SMSC's ASCII preview of the text
    end)

    it("chooses GSM 7-bit for GSM text and sends it in one part with SAR or payload too", function()
        local out, err, rc = send { "--from", "INFO", "--to", "447700900123", "--text", "Hello {world}",
                                    "--split", "sar" }
        assert.equal(0, rc, err)
        assert.matches("%(part 1/1%)", out)
        out, err, rc = send { "--from", "INFO", "--to", "447700900123", "--text", ("x"):rep(400),
                              "--split", "payload", "--coding", "latin1" }
        assert.equal(0, rc, err)
        assert.matches("%(part 1/1%)", out)
    end)

    it("exits 1 with the status name when a part is refused or a receipt fails", function()
        local _, err, rc = send { "--from", "INFO", "--to", "000123", "--text", "x" }
        assert.equal(1, rc)
        assert.matches("refused: ESME_RINVDSTADR", err)
        local out
        out, err, rc = send { "--from", "INFO", "--to", "99912345", "--text", "x", "--wait-dlr", "5" }
        assert.equal(1, rc)
        assert.matches("UNDELIV err:001", out)
        _, err, rc = send { "--from", "INFO", "--to", "44", "--text", "x", "--password", "bad" }
        assert.equal(1, rc)
        assert.matches("bind failed: ESME_RINVPASWD", err)
    end)

    it("refuses bad arguments with exit code 2", function()
        local _, err, rc = send { "--from", "INFO", "--text", "x" }
        assert.equal(2, rc)
        assert.matches("%-%-to is missing", err)
        _, err, rc = send { "--from", "A", "--to", "B", "--text", "x", "--coding", "ebcdic" }
        assert.equal(2, rc)
        assert.matches("%-%-coding", err)
    end)
end)
