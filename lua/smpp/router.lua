-- smpp.router -- routing tables: which upstream (or group of upstreams) a
-- message goes to, matched on destination prefix, source address, the
-- ESME's system_id, service_type or a Lua pattern.
local cjson = require "cjson.safe"
local config = require "smpp.config"

local M = {}

local route_fields = {
    name = { type = "string" },
    prefix = { type = "string", doc = "destination_addr starts with" },
    source = { type = "string", doc = "source_addr starts with" },
    system_id = { type = "string", doc = "the ESME's account" },
    service_type = { type = "string" },
    pattern = { type = "string", doc = "Lua pattern on destination_addr" },
    to = { type = "list", of = { type = "string" }, doc = "upstream names" },
    strategy = { type = "enum", values = { "failover", "round_robin", "weighted", "least_outstanding" } },
    weights = { type = "list", of = { type = "number", min = 0 } },
    failover_on = { type = "list", of = { type = "string" }, doc = "statuses that move on to the next link" },
    rate = { type = "number", min = 0, doc = "messages per second on this route" },
    burst = { type = "number", min = 0 },
    status = { type = "string", doc = "status when the route's rate is exceeded (default ESME_RTHROTTLED)" },
}
M.route_fields = route_fields

local Router = {}
Router.__index = Router

-- Does route r match this message from this ESME session?
local function matches(r, pdu, session)
    local dest = pdu.destination_addr or ""
    if r.prefix and dest:sub(1, #r.prefix) ~= r.prefix then return false end
    if r.source and (pdu.source_addr or ""):sub(1, #r.source) ~= r.source then return false end
    if r.system_id and (session and session.system_id) ~= r.system_id then return false end
    if r.service_type and (pdu.service_type or "") ~= r.service_type then return false end
    if r.pattern and not dest:match(r.pattern) then return false end
    return true
end

-- new{routes = {...}, match = "first" | "longest"} -> router | nil, err.
-- `to` may be a single name (a string) or a list; `strategy` applies to a
-- list (default failover).
function M.new(opts)
    local routes = {}
    for i, r in ipairs(opts.routes or {}) do
        local copy = {}
        for k, v in pairs(r) do copy[k] = v end
        if type(copy.to) == "string" then copy.to = { copy.to } end
        local ok, err = config.check_section(copy, route_fields, string.format("routes[%d]", i))
        if not ok then return nil, err end
        if not copy.to or #copy.to == 0 then return nil, string.format("routes[%d].to: missing", i) end
        copy.name = copy.name or ("route " .. i)
        copy.strategy = copy.strategy or "failover"
        routes[i] = copy
    end
    if opts.match and opts.match ~= "first" and opts.match ~= "longest" then
        return nil, "match must be first or longest, got " .. tostring(opts.match)
    end
    return setmetatable({ routes = routes, mode = opts.match or "first" }, Router)
end

-- router:match(pdu, session) -> route | nil. "first": the first route that
-- matches; "longest": the matching route with the longest prefix (routes
-- without a prefix count as length 0; ties go to the earlier route).
function Router:match(pdu, session)
    local best, best_len = nil, -1
    for _, r in ipairs(self.routes) do
        if matches(r, pdu, session) then
            if self.mode == "first" then return r end
            local len = r.prefix and #r.prefix or 0
            if len > best_len then best, best_len = r, len end
        end
    end
    return best
end

-- load_json(path) -> routes | nil, err: a JSON file holding an array of
-- routes (the same fields), for routing tables kept outside the config.
function M.load_json(path)
    local f, err = io.open(path)
    if not f then return nil, err end
    local text = f:read("*a")
    f:close()
    local routes, jerr = cjson.decode(text)
    if routes == nil then return nil, path .. ": " .. tostring(jerr) end
    if type(routes) ~= "table" then return nil, path .. ": expected an array of routes" end
    return routes
end

return M
