-- conf_spec -- the shipped configurations (conf/*.lua). The only spec that
-- reads them: every other spec writes its own configuration, so changing a
-- shipped default (a receipt delay, a port) cannot break or slow the suite.
-- Their stores (var/*.db) are a developer's own: --store puts the spec's
-- in a temporary directory.
local run = require "helpers.run"
local server = require "helpers.server"
local tmp = require "helpers.tmp"
local wire = require "helpers.wire"
local lfs = require "lfs"

describe("#integration shipped configurations", function()
    local confs = {}
    for name in lfs.dir("conf") do
        if name:match("%.lua$") then confs[#confs + 1] = "conf/" .. name end
    end
    table.sort(confs)
    assert(#confs > 0, "no conf/*.lua: run busted from the top directory")

    for _, path in ipairs(confs) do
        it(path .. " passes smppgw check", function()
            local store = tmp.dir() .. "/check.db"
            local out, err, rc = run.smppgw({ "check", path, "--store", store })
            assert.equal(0, rc, err)
            assert.matches("ok", out)
            -- check has no side effects: it names the file run would make
            assert.matches(store .. " does not exist yet", out, 1, true)
            assert.is_nil(lfs.attributes(store), "check made the store")
        end)
    end

    it("conf/smppgw.lua (make run) starts and answers a bind", function()
        -- on ephemeral ports: the shipped 2775 and 8775 may be in use
        local srv = server.start { conf_file = "conf/smppgw.lua", args = { "--store", tmp.dir() .. "/run.db" } }
        local c = wire.connect(srv.port)
        local r = c:bind("transceiver", "smppclient1", "password")
        assert.same({ wire.RESP + wire.id.bind_transceiver, 0 }, { r.id, r.status })
        assert.equal("smppgw", wire.first_cstr(r.body))
    end)
end)
