-- config_schema_spec -- the schema of lua/smpp/config.lua as the one place
-- a default is written: every default is a value its own key accepts,
-- every key says what it is, with_defaults fills nested sections, and the
-- code that reads a section takes its defaults from the schema (a default
-- changed there is the one in force).
local config = require "smpp.config"

-- walk(fn): fn(path, spec) for every key of the schema, items of lists
-- under their list's path
local function walk(fn, spec, path)
    spec = spec or config.schema
    for k, f in pairs(spec.fields or {}) do
        local p = path and path .. "." .. k or k
        fn(p, f)
        local inner = f.type == "list" and f.of or f
        if inner.fields and not inner.free then walk(fn, inner, p) end
    end
end

describe("the configuration schema", function()
    it("holds defaults that its own checks accept, and says what every key is", function()
        local n = 0
        walk(function(path, f)
            if f.default ~= nil then
                n = n + 1
                local errs = {}
                config.check_into(f.default, f, path, errs)
                assert.same({}, errs, path)
            end
            assert.is_false(f.default ~= nil and f.derived ~= nil, path .. ": a default or a derived one, not both")
            if not (f.type == "list" and f.of or f).fields then
                assert(f.doc, path .. " has no doc")  -- a leaf: docs/operations.md is made from these
            end
        end)
        assert.is_true(n >= 60, "defaults in the schema: " .. n)
    end)

    it("fills in defaults, nested sections and list items included", function()
        local store = config.with_defaults("store", { path = "x.db", limits = { outbox = 5 } })
        assert.equal("normal", store.sync)
        assert.equal(5, store.limits.outbox)
        assert.equal(config.default("store.limits.messages"), store.limits.messages)
        local up = config.with_defaults("upstreams", { name = "a", window = 3 })
        assert.equal(3, up.window)
        assert.equal(config.default("session.response_timeout"), up.response_timeout)
        assert.is_nil(up.tls)
        local l1, l2 = config.default("listen"), config.default("listen")
        assert.same({ "127.0.0.1:2775" }, l1)
        l1[1] = "changed"                             -- a copy: the schema keeps its own
        assert.same({ "127.0.0.1:2775" }, l2)
        assert.has_error(function() config.defaults("nosuch") end)
        assert.has_error(function() config.default("http.nosuch") end)
    end)

    it("is where the bind checks, the limits in /stats and the HTTP API read their defaults", function()
        local sec = config.schema.fields.security.fields
        local http = config.schema.fields.http.fields
        local was = { sec.max_tracked.default, sec.max_failures.default, http.max_per_address.default }
        local server = require "smpp.server"
        finally(function()
            sec.max_tracked.default, sec.max_failures.default, http.max_per_address.default = was[1], was[2], was[3]
            require("smpp.security").configure {}
            server.conf = nil
        end)
        sec.max_tracked.default, sec.max_failures.default, http.max_per_address.default = 77, 9, 3
        local security = require "smpp.security"
        security.configure {}
        assert.equal(77, security.stats().tracked_max)
        server.conf = {}
        assert.equal(9, server.limits().bind_max_failures)
        assert.equal(3, config.with_defaults("http", { listen = "127.0.0.1:0" }).max_per_address)
    end)

    it("is what smppgw check's summary shows for an upstream that leaves keys out", function()
        local lines = require("smpp.config_check").summary({ upstreams = { { name = "up" } } }, {}, "x.lua")
        local want = string.format("up %s:%d %s x%d", config.default("upstreams.host"), config.default("upstreams.port"),
                                   config.default("upstreams.bind"), config.default("upstreams.binds"))
        assert.matches(want, table.concat(lines, "\n"), 1, true)
    end)

    it("is what the C side is built with (build/gen/*.h)", function()
        for _, g in ipairs { { "build/gen/sess_defaults.h", "session", "SESS_DEFAULT" },
                             { "build/gen/http_defaults.h", "http", "HTTP_DEFAULT" } } do
            local f = assert(io.open(g[1]))
            local text = f:read("*a")
            f:close()
            local n = 0
            for k, v in pairs(config.defaults(g[2])) do
                n = n + 1
                assert.equal(v, tonumber(text:match("#define " .. g[3] .. "_" .. k .. " (%S+)")), g[1] .. ": " .. k)
            end
            assert.equal(n, tonumber(text:match("#define " .. g[3] .. "_COUNT (%d+)")))
        end
    end)
end)
