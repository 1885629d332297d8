-- cli_send_spec -- smppgw send against the reference SMSC, and against a
-- recording SMSC that shows what each option put on the wire.
local run = require "helpers.run"
local server = require "helpers.server"
local recorder = require "helpers.recorder"
local cjson = require "cjson"

describe("#integration smppgw send", function()
    -- each send gets a fresh SMSC: no receipt held from an earlier test
    -- reaches it
    local function send(args)
        local srv = server.start { conf = server.smsc_conf() }
        local all = { "send", "127.0.0.1:" .. srv.port }
        for _, a in ipairs(args) do all[#all + 1] = a end
        return run.smppgw(all)
    end

    it("gives up on an SMSC that never answers after --timeout, exit 1", function()
        local wire = require "helpers.wire"
        local _, port = wire.listen()                  -- the kernel accepts; nobody answers
        local out, err, rc = run.smppgw { "send", "127.0.0.1:" .. port, "--from", "1", "--to", "2",
                                          "--text", "x", "--timeout", "0.3" }
        assert.equal(1, rc, out .. err)
        assert.matches("bind failed: .*timeout", err)
        _, err, rc = run.smppgw { "send", "127.0.0.1:" .. port, "--from", "1", "--to", "2", "--text", "x",
                                  "--timeout", "0" }
        assert.equal(2, rc)
        assert.matches("%-%-timeout takes a number of seconds", err)
    end)

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
        local out, err, rc = send { "--from", "INFO", "--to", "000123", "--text", "x" }
        assert.equal(1, rc)
        -- exactly as docs/cli.md shows it: no message_id line, the refusal alone
        assert.same({ "", "smppgw send: part 1/1 refused: ESME_RINVDSTADR (0x0000000B)\n" }, { out, err })
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

describe("#integration smppgw send puts its options on the wire", function()
    local srv
    setup(function() srv = recorder.start() end)

    -- send(args) -> stdout, stderr, exit code, and the PDUs the SMSC got
    local function send(args)
        local before = #recorder.pdus(srv)
        local all = { "send", "127.0.0.1:" .. srv.port }
        for _, a in ipairs(args) do all[#all + 1] = a end
        local out, err, rc = run.smppgw(all)
        local parts = select(2, out:gsub("message_id ", ""))
        local got = recorder.wait_for(srv, before + parts)
        return out, err, rc, { unpack(got, before + 1) }
    end

    it("TON/NPI by number or name, service_type, validity, registered_delivery", function()
        local out, err, rc, got = send { "--from", "4477", "--from-ton", "national", "--from-npi", "9",
            "--to", "447700900123", "--to-ton", "2", "--to-npi", "land_mobile", "--text", "hi",
            "--service-type", "CMT", "--validity", "2h", "--registered-delivery", "0x11" }
        assert.equal(0, rc, err)
        assert.matches("^message_id m%d+ %(part 1/1%)\n$", out)
        local p = got[1]
        assert.same({ "submit_sm", "CMT", 2, 9, "4477", 2, 6, "447700900123", "000000020000000R", 17, "hi" },
            { p.command, p.service_type, p.source_addr_ton, p.source_addr_npi, p.source_addr,
              p.dest_addr_ton, p.dest_addr_npi, p.destination_addr, p.validity_period,
              p.registered_delivery, p.short_message })
        -- the defaults: TON 5 NPI 0 for a sender name, 1/1 for numbers, nothing asked
        _, err, rc, got = send { "--from", "Shop", "--to", "447700900123", "--text", "hi" }
        assert.equal(0, rc, err)
        assert.same({ 5, 0, 1, 1, "", "", 0 }, { got[1].source_addr_ton, got[1].source_addr_npi,
            got[1].dest_addr_ton, got[1].dest_addr_npi, got[1].service_type, got[1].validity_period,
            got[1].registered_delivery })
        -- an SMPP time goes as it is; seconds with no unit are seconds
        _, err, rc, got = send { "--from", "1", "--to", "2", "--text", "x", "--validity", "270101120000004+" }
        assert.equal(0, rc, err)
        assert.equal("270101120000004+", got[1].validity_period)
        _, _, _, got = send { "--from", "1", "--to", "2", "--text", "x", "--validity", "90" }
        assert.equal("000000000130000R", got[1].validity_period)
    end)

    it("TLVs by name or tag, numbers, hex octets, text, a flag and a repeated tag", function()
        local _, err, rc, got = send { "--from", "1", "--to", "2", "--text", "hi",
            "--tlv", "user_message_reference=0x10", "--tlv", "source_port=5000",
            "--tlv", "callback_num=0x01013132", "--tlv", "callback_num_atag=Shop",
            "--tlv", "alert_on_message_delivery", "--tlv", "0x1401=0xABCD", "--tlv", "5121=text" }
        assert.equal(0, rc, err)
        local p = got[1]
        assert.same({ 16, 5000, "\1\1\49\50", "Shop", true },
            { p.user_message_reference, p.source_port, p.callback_num, p.callback_num_atag,
              p.alert_on_message_delivery })
        assert.same({ ["1"] = "\171\205", ["2"] = "text" }, p["5121"])   -- both, in the order given
    end)

    it("sends data_sm with the text in message_payload and the validity as qos_time_to_live", function()
        local long = ("x"):rep(300)
        local out, err, rc, got = send { "--from", "1", "--to", "2", "--text", long, "--data-sm",
                                         "--validity", "30m", "--tlv", "source_port=7" }
        assert.equal(0, rc, err)
        assert.matches("%(part 1/1%)", out)
        assert.same({ "data_sm", long, 1800, 7, 0, nil }, { got[1].command, got[1].message_payload,
            got[1].qos_time_to_live, got[1].source_port, got[1].data_coding, got[1].validity_period })
    end)

    -- The concatenation reference of part 1 of each of `n` sends of a
    -- two-part text; every part of one send must carry the same one.
    local function refs(n, extra)
        local out = {}
        for i = 1, n do
            local args = { "--from", "1", "--to", "2", "--text", ("long text %d "):format(i):rep(15) }
            for _, a in ipairs(extra) do args[#args + 1] = a end
            local _, err, rc, got = send(args)
            assert.equal(0, rc, err)
            assert.equal(2, #got)
            local r1, r2
            if extra[2] == "sar" then
                r1, r2 = got[1].sar_msg_ref_num, got[2].sar_msg_ref_num
            else
                assert.same({ 0x40, 0x40 }, { got[1].esm_class, got[2].esm_class })
                assert.equal("\5\0\3", got[1].short_message:sub(1, 3))      -- 8-bit concatenation IE
                r1, r2 = got[1].short_message:byte(4), got[2].short_message:byte(4)
                assert.same({ 2, 1 }, { got[1].short_message:byte(5, 6) })   -- total, seq
                assert.same({ 2, 2 }, { got[2].short_message:byte(5, 6) })
            end
            assert.equal(r1, r2)
            out[r1] = true
        end
        local distinct = 0
        for _ in pairs(out) do distinct = distinct + 1 end
        return distinct
    end

    it("gives each long message a random reference (UDH and SAR)", function()
        -- four sends with one 8-bit reference: 1 in 256^3; three with one
        -- 16-bit reference: 1 in 65536^2
        assert.is_true(refs(4, { "--split", "udh" }) >= 2)
        assert.is_true(refs(3, { "--split", "sar" }) >= 2)
    end)

    it("splits with a 16-bit reference UDH (--split udh16)", function()
        local _, err, rc, got = send { "--from", "1", "--to", "2", "--text", ("x"):rep(200), "--split", "udh16" }
        assert.equal(0, rc, err)
        assert.equal(2, #got)
        for i, p in ipairs(got) do
            assert.equal(0x40, p.esm_class)
            assert.equal("\6\8\4", p.short_message:sub(1, 3))             -- IEI 0x08, 4 octets
            assert.same({ 2, i }, { p.short_message:byte(6, 7) })
        end
        assert.equal(got[1].short_message:sub(4, 5), got[2].short_message:sub(4, 5))
        assert.equal(("x"):rep(200), got[1].short_message:sub(8) .. got[2].short_message:sub(8))
    end)
end)

describe("smppgw send refuses bad arguments before connecting (exit 2)", function()
    local cases = {
        { { "--from-ton", "300" }, "%-%-from%-ton takes 0%.%.255 or one of unknown, international" },
        { { "--to-npi", "klingon" }, "%-%-to%-npi takes 0%.%.255 or one of unknown, isdn" },
        { { "--validity", "soon" }, "%-%-validity takes seconds" },
        { { "--validity", "0" }, "%-%-validity takes seconds" },
        { { "--validity", "200d" }, "%-%-validity: relative time too long" },
        { { "--registered-delivery", "256" }, "%-%-registered%-delivery takes 0%.%.255" },
        { { "--service-type", "TOOLONG" }, "service_type is 7 characters, at most 5 allowed" },
        { { "--tlv", "colour=red" }, "%-%-tlv: unknown TLV colour" },
        { { "--tlv", "source_port=x" }, "%-%-tlv source_port takes a number" },
        { { "--tlv", "source_port" }, "%-%-tlv source_port needs a value" },
        { { "--tlv", "alert_on_message_delivery=1" }, "%-%-tlv alert_on_message_delivery takes no value" },
        { { "--tlv", "callback_num=0x01" }, "callback_num has length 1, allowed 4%.%.19" },
        { { "--tlv", "user_message_reference=70000" }, "user_message_reference value 70000 does not fit" },
        { { "--tlv", "0x10000=1" }, "%-%-tlv: unknown TLV 0x10000" },
        { { "--wait", "1" }, "%-%-wait needs %-%-listen" },
        { { "--listen", "--wait-dlr", "1" }, "do not go together" },
        { { "--data-sm", "--split", "sar" }, "%-%-split does not apply to %-%-data%-sm" },
        { { "--wait-dlr", "1", "--registered-delivery", "0" }, "asks for none" },
        { { "--split", "udh7" }, "%-%-split takes udh, udh16, sar or payload" },
        { { "--coding", "gsm", "--text2" }, "unknown option %-%-text2" },
    }
    for _, case in ipairs(cases) do
        it(table.concat(case[1], " "), function()
            local args = { "send", "127.0.0.1:1", "--from", "1", "--to", "2", "--text", "hi" }
            for _, a in ipairs(case[1]) do args[#args + 1] = a end
            local out, err, rc = run.smppgw(args)
            assert.equal(2, rc, err)
            assert.equal("", out)
            assert.matches(case[2], err)
            assert.is_nil(err:find("bind failed", 1, true))    -- nothing was tried
        end)
    end

    it("a text the coding cannot carry, and --listen with half a message", function()
        local _, err, rc = run.smppgw({ "send", "127.0.0.1:1", "--from", "1", "--to", "2", "--text", "Ω✓",
                                        "--coding", "latin1" })
        assert.equal(2, rc)
        assert.matches("latin1", err)
        _, err, rc = run.smppgw({ "send", "127.0.0.1:1", "--listen", "--from", "1" })
        assert.equal(2, rc)
        assert.matches("%-%-to is missing", err)
    end)
end)
