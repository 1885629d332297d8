-- pdu_json_spec -- every decoded PDU can be written as JSON and read back.
-- A TLV the tables do not name is kept under its numeric tag; tag 0x0001
-- put [1] beside the fields, and smpp.json (the HTTP API's answers,
-- smpp.http.post) refused the table as one that mixes list entries and
-- other keys: a script route returning such a PDU answered 500. A PDU
-- table's tags are now written "0x0001", which smpp.encode reads back.
local smpp = require "smpp"
local json = require "smpp.json"
local cjson = require "cjson"
local hex = require "smpp.hex"
local run = require "helpers.run"

local function tlv(tag, v)
    return string.char(math.floor(tag / 256), tag % 256, math.floor(#v / 256), #v % 256) .. v
end

-- a submit_sm (sequence_number 7) with the TLVs given, in the order given
local function submit(...)
    local body = "\0" .. "\1\1" .. "123\0" .. "\1\1" .. "456\0" .. ("\0"):rep(3) .. "\0\0" .. "\0\0\0\0"
        .. "\2hi" .. table.concat { ... }
    local len = 16 + #body
    return string.char(0, 0, math.floor(len / 256), len % 256, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7) .. body
end

local CASES = {
    { "tag 0x0001 (unknown, the key [1])", submit(tlv(0x0001, "\1\2")), { ["0x0001"] = { hex = "0102" } } },
    { "tag 0x0005 (dest_addr_subunit: named)", submit(tlv(0x0005, "\7")), { dest_addr_subunit = 7 } },
    { "vendor tag 0x1400", submit(tlv(0x1400, "abc")), { ["0x1400"] = "abc" } },
    { "several, out of order, 0x0001 repeated",
      submit(tlv(0x1400, "x"), tlv(0x0001, "\255"), tlv(0x0005, "\3"), tlv(0x0001, "y"), tlv(0x0002, "")),
      { ["0x1400"] = "x", ["0x0001"] = { { hex = "FF" }, "y" }, dest_addr_subunit = 3, ["0x0002"] = "",
        tlv_order = { 0x1400, 1, 5, 1, 2 } } },
}

-- the JSON text read back as smpp.encode takes it: {"hex": ...} to bytes
local function read_back(text) return json.decode_value(cjson.decode(text)) end

describe("smpp.json: decoded PDUs with TLVs the tables do not name", function()
    for _, c in ipairs(CASES) do
        it(c[1] .. ": written, and encoded back to the same octets", function()
            local pdu = assert(smpp.decode(c[2]))
            local text = json.encode(pdu)
            local obj = cjson.decode(text)
            for k, v in pairs(c[3]) do assert.same(v, obj[k], k) end
            assert.equal("submit_sm", obj.command)
            for k in pairs(obj) do assert.equal("string", type(k)) end
            assert.equal(hex.from_bytes(c[2]), hex.from_bytes(assert(smpp.encode(read_back(text)))))
            -- nested, as a route or smpp.http.post gives it
            local nested = cjson.decode(json.encode { pdus = { pdu, pdu }, n = 2 })
            assert.same(obj, nested.pdus[2])
        end)
    end

    it("refuses a PDU table's number key that is no tag, as it refuses other mixed tables", function()
        local pdu = assert(smpp.decode(submit()))
        pdu[1.5] = "x"
        assert.matches("no TLV tag %(1.5%)", select(2, pcall(json.encode, pdu)))
        pdu[1.5], pdu[65536] = nil, "x"
        assert.matches("no TLV tag %(65536%)", select(2, pcall(json.encode, pdu)))
        -- a table that is not a PDU is refused as before
        assert.matches("mixes list entries", select(2, pcall(json.encode, { 1, command = "nonsense" })))
    end)
end)

describe("smppgw decode | smppgw encode", function()
    for _, c in ipairs(CASES) do
        it(c[1] .. ": decode prints it, encode gives the same octets back", function()
            local out, err, rc = run.smppgw({ "decode", hex.from_bytes(c[2]) })
            assert.equal(0, rc, err)
            local obj = cjson.decode(out)
            for k, v in pairs(c[3]) do
                if k ~= "tlv_order" then assert.same(v, obj[k], k) end
            end
            local again, err2, rc2 = run.smppgw({ "encode", "-" }, out)
            assert.equal(0, rc2, err2)
            assert.equal(hex.from_bytes(c[2]):lower(), (again:gsub("%s", "")):lower())
        end)
    end
end)

describe("#integration a script route answering with decoded PDUs", function()
    local server = require "helpers.server"
    local raw = require "helpers.rawhttp"
    local srv
    local SCRIPT = [==[
local http = require "smpp.http"
local smpp = require "smpp"
local hex = require "smpp.hex"
-- GET /pdu/HEX: the PDU decoded; GET /pdus/HEX: it in a list, beside a count
http.route("GET", "/pdu/(%x+)", function(req) return 200, (smpp.decode(hex.to_bytes(req.params[1]))) end)
http.route("GET", "/pdus/(%x+)", function(req)
    local p = smpp.decode(hex.to_bytes(req.params[1]))
    return 200, { pdus = { p }, n = 1 }
end)
return {}
]==]
    setup(function()
        srv = server.start { conf = [[return { script = 'script.lua', http = { listen = '127.0.0.1:0' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = SCRIPT }
    end)
    teardown(function() if srv then srv:stop() end end)

    for _, c in ipairs(CASES) do
        it(c[1] .. ": 200 with JSON that encodes back to the same octets", function()
            local s = raw.connect(srv.http_port)
            s:send(raw.get("/pdu/" .. hex.from_bytes(c[2])) .. raw.get("/pdus/" .. hex.from_bytes(c[2])))
            local status, h, body = raw.response(s)
            assert.equal(200, status, body)
            assert.equal("application/json", h["content-type"])
            for k, v in pairs(c[3]) do assert.same(v, cjson.decode(body)[k], k) end
            assert.equal(hex.from_bytes(c[2]), hex.from_bytes(assert(smpp.encode(read_back(body)))))
            status, h, body = raw.response(s)
            assert.equal(200, status, body)
            local list = read_back(body)
            assert.equal(1, list.n)
            assert.equal(hex.from_bytes(c[2]), hex.from_bytes(assert(smpp.encode(list.pdus[1]))))
        end)
    end
end)
