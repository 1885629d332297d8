-- response_check_spec -- a handler's response table, against the real
-- smppgw binary: the common shape (a few body fields of the response) is
-- read by a quick path once its keys are known, anything else by the full
-- check; both give the same bytes, and a bad table the same ESME_RSYSERR
-- and log line, before and after the quick path knows the keys (a key of
-- any type: the quick path knows keys by the address of their object).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local id, RESP = wire.id, wire.RESP
local ROK, RSYSERR = 0, 0x08

local SCRIPT = [[
local S = require("smpp").status
local answers = {
    ["id"] = function() return S.ESME_ROK, { message_id = "m1" } end,
    ["empty"] = function() return S.ESME_ROK, {} end,
    ["fields only"] = function() return { message_id = "m2" } end,
    ["a number id"] = function() return S.ESME_ROK, { message_id = 5 } end,
    ["a table id"] = function() return S.ESME_ROK, { message_id = {} } end,
    ["an unknown key"] = function() return S.ESME_ROK, { message_id = "x", foo = 1 } end,
    ["a numeric key"] = function() return S.ESME_ROK, { message_id = "x", [1] = true } end,
    ["a boolean key"] = function() return S.ESME_ROK, { message_id = "x", [true] = 1 } end,
    ["a table key"] = function() return S.ESME_ROK, { message_id = "x", [{}] = "y" } end,
    ["a function key"] = function() return S.ESME_ROK, { message_id = "x", [tostring] = "y" } end,
    ["another command's field"] = function() return S.ESME_ROK, { message_id = "x", short_message = "y" } end,
    ["the wrong command"] = function() return S.ESME_ROK, { message_id = "x", command = "deliver_sm_resp" } end,
    ["a TLV"] = function() return S.ESME_ROK, { message_id = "m3", additional_status_info_text = "hi" } end,
    ["a header key"] = function() return S.ESME_ROK, { message_id = "m4", command = "submit_sm_resp" } end,
}
return {
    submit_sm = function(session, pdu)
        return answers[pdu.short_message]()
    end,
}
]]

-- every line printed (no repeat counting): each bad answer has its line
local CONF = [[return { script = 'script.lua', log = { repeat_window = 0 },
    accounts = { { system_id = 'smppclient1', password = 'password' } } }]]

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = text }))
    while true do
        local p = assert(c:read())
        if p.id == RESP + id.submit_sm and p.seq == seq then return p end
    end
end

describe("#integration a handler's response table", function()
    local srv, c
    setup(function()
        srv = server.start { conf = CONF, script = SCRIPT }
        c = wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
    end)
    teardown(function()
        if c then c:close() end
        if srv then
            if not srv:stop("TERM", 5) then srv:kill() end
            os.execute("rm -rf '" .. srv.dir .. "'")
        end
    end)

    local good = {
        { "id", "m1\0" },
        { "empty", "\0" },
        { "fields only", "m2\0" },
        { "a TLV", "m3\0\0\29\0\3hi\0" },
        { "a header key", "m4\0" },
    }
    local bad = {
        { "a number id", "message_id must be a string" },
        { "a table id", "message_id must be a string" },
        { "an unknown key", "unknown field 'foo' in submit_sm_resp" },
        { "a numeric key", "TLV 0x0001 must be a string" },
        { "a boolean key", "unknown field '(non-string key)' in submit_sm_resp" },
        { "a table key", "unknown field '(non-string key)' in submit_sm_resp" },
        { "a function key", "unknown field '(non-string key)' in submit_sm_resp" },
        { "another command's field", "short_message is not a field of submit_sm_resp" },
        { "the wrong command", "command 'deliver_sm_resp' given where submit_sm_resp is expected" },
    }

    -- Three passes: the first meets every key for the first time (the full
    -- check reads them), the later ones find them known.
    for pass = 1, 3 do
        for _, case in ipairs(good) do
            it("encodes " .. case[1] .. " (pass " .. pass .. ")", function()
                local r = submit(c, case[1])
                assert.equal(ROK, r.status)
                assert.equal(case[2], r.body)
            end)
        end
        for _, case in ipairs(bad) do
            it("answers ESME_RSYSERR for " .. case[1] .. ", naming why (pass " .. pass .. ")", function()
                local line = "submit_sm returned a bad response: " .. case[2] .. "; answering ESME_RSYSERR"
                local plain = line:gsub("%p", "%%%0")
                local before = srv:count_log(plain)
                local r = submit(c, case[1])
                assert.equal(RSYSERR, r.status)
                assert.equal(16, r.len)
                assert.truthy(wait.wait_until(function() return srv:count_log(plain) > before end, 5))
                assert.equal(before + 1, srv:count_log(plain))
            end)
        end
    end
end)
