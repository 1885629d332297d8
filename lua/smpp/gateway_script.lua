-- smpp.gateway_script -- the gateway's handlers as a module with hooks:
-- scripts/gateway.lua is `require("smpp.gateway_script").new(...)`, and a
-- script of the operator's sets `before_route` / `after_answer` on it to
-- change a message, pick its route or refuse it, and to act on an
-- upstream's answer, without a copy of the handlers (docs/scripting.md,
-- "Gateway hooks"). Routing: smpp.router (keys, windows), the store's
-- sticky table (the parts of one long message follow the first part's
-- route, keyed by smpp.split.part_key), the queueing and forwarding
-- policy: smpp.gateway.
local smpp = require "smpp"
local core = require "smpp.core"
local config = require "smpp.config"
local router = require "smpp.router"
local gateway = require "smpp.gateway"
local upstream = require "smpp.upstream"
local store = require "smpp.store"
local cluster = require "smpp.cluster"
local receipt = require "smpp.receipt"
local stime = require "smpp.time"
local webhook = require "smpp.webhook"
local server = require "smpp.server"
local text = require "smpp.text"
local split = require "smpp.split"
local checks = require "smpp.checks"

local S = smpp.status
local ROK = S.ESME_ROK

local M = {}

-- The gateway section's keys (conf/gateway.lua documents them).
M.fields = {
    message_id = { type = "enum", values = { "upstream", "own" } },
    own_id_format = { type = "enum", values = { "decimal", "hex", "uuid" } },
    validity = { type = "number", min = 1 }, max_validity = { type = "number", min = 0 },
    early_ttl = { type = "number", above = 0,            -- 0 would keep an early receipt until a sweep
                  doc = "seconds a receipt may wait for its message's answer" },
    queue_ttl = { type = "number", min = 1 },
    receipt_wait = { type = "number", min = 0 },
    retry_min = { type = "number", min = 0.01 }, retry_max = { type = "number", min = 0.01 },
    mapping_ttl = { type = "number", min = 1 }, mapping_max = { type = "integer", min = 1 },   -- no longer used
    match = { type = "enum", values = { "first", "longest" } },
    time_zone = { type = "string", doc = "the routes' days and hours: UTC (default) or +HH:MM" },
    sticky_ttl = { type = "number", min = 1, doc = "seconds the parts of one long message stick together" },
    sticky_max = { type = "integer", min = 1, doc = "no longer used: store.limits.sticky" },
    routes = { type = "list", of = { type = "table", free = true } },
    routes_file = { type = "string", nonempty = "a JSON file of routes, relative to the configuration" },
    no_route_status = { type = "string" },
    mo_routes = { type = "list", of = { type = "table", fields = {
        prefix = { type = "string" }, upstream = { type = "string" }, account = { type = "string", required = true },
    } } },
}

-- routing(g, conf_path [, find_steps [, on_give_up]]) -> router | nil,
-- err: the gateway section's routes (its own or its routes_file's) as a
-- router (smpp.router.new says what the functions do).
function M.routing(g, conf_path, find_steps, on_give_up)
    local routes = g.routes or {}
    if g.routes_file then
        local r, err = router.load_json(config.resolve(conf_path or "conf/gateway.lua", g.routes_file))
        if not r then return nil, err end
        routes = r
    end
    return router.new { routes = routes, match = g.match, time_zone = g.time_zone, find_steps = find_steps,
                        on_give_up = on_give_up }
end

-- A hook's answer as a status number, or nil for "no verdict".
local function status_of(v, what)
    if v == nil then return nil end
    if type(v) == "number" then return v end
    if type(v) == "string" and S[v] then return S[v] end
    error(string.format("%s returned %s: a status (number or name), a table, or nothing", what, tostring(v)), 0)
end

-- before_route's refusal: a status that is not ESME_ROK. 0 would answer
-- the ESME "accepted" for a message kept nowhere and sent nowhere, so it
-- is the hook's mistake (the message fails ESME_RSYSERR, logged), not a
-- verdict: nothing (nil) routes by the table.
local function refusal_of(v, shown)
    local st = status_of(v, "before_route")
    if st == 0 then
        error(string.format("before_route returned %s (ESME_ROK): not a refusal; return nothing to route by "
            .. "the table, a route, or a status that is not 0", shown), 0)
    end
    return st
end

local Gw = {}
Gw.__index = Gw

-- The before_route hook's verdict -> route | nil, status | nil (nothing:
-- route by the table). The hook may change m.pdu's fields.
function Gw:hook(session, pdu, account)
    if not self.before_route then return nil end
    local m = { account = account, session = session, pdu = pdu, command = pdu.command,
                text = self.routing:text(pdu, server.alphabet(account)) }
    local sm = pdu.short_message
    local v = self.before_route(m)
    if pdu.short_message ~= sm then pdu.sm_length = nil end      -- the encoder counts the new text
    if type(v) == "table" then
        if v.status ~= nil then return nil, refusal_of(v.status, "{status = " .. tostring(v.status) .. "}") end
        if v.route ~= nil then
            local r = (gateway.routes or {})[v.route]
            if not r then error("before_route picked route " .. tostring(v.route) .. ": no such route", 0) end
            return r
        end
        return nil
    end
    return nil, refusal_of(v, tostring(v))
end

-- -- The parts of one long message ----------------------------------------------------
-- The first part's route and upstream are held in the store (its sticky
-- table, bounded by store.limits.sticky, sticky_ttl seconds), so the
-- later parts follow them, also after a restart. A held route is a hint:
-- when the store cannot hold or find one, the part is routed on its own;
-- the message is never refused for it.

-- The route name and upstream held for key | nil.
local function held(key)
    if not key or not store.current() then return nil end
    return store.sticky_get(key, smpp.time())
end

-- Hold route name and upstream `to` for key (the first part's choice
-- stays; a failure is logged, not the message's).
function Gw:hold(key, route, to)
    if not key or not store.current() then return end
    local ok, err = store.sticky_put(key, route.name, to, self.sticky_ttl, smpp.time())
    if ok == nil then
        smpp.log("warn", "the route of a long message's part is not held (%s): its later parts are routed "
            .. "on their own", tostring(err))
    end
end

-- The route a message takes: the sticky one of its long message, else
-- the table's -> route | nil, sticky key, upstream the key holds.
function Gw:route(session, pdu, account)
    local key = split.part_key(account, pdu)
    if key then
        local stuck, link = held(key)
        local r = stuck and (gateway.routes or {})[stuck]
        if r then return r, key, link end
    end
    local routing = self.routing
    -- a table of plain routes reads neither the clock nor the alphabet
    -- (smpp.router: no time or text key): no options to make for it
    if routing.plain == true then return routing:match(pdu, session), key end
    return routing:match(pdu, session, { now = smpp.time(), alphabet = server.alphabet(account) }), key
end

-- One message (a submit_sm, data_sm, or a submit_multi to one route's
-- destinations) queued or forwarded -> id | nil, status, reason.
-- account: the session's system_id (read from the session when not given).
function Gw:send(session, pdu, route, key, link, account)
    local id, status, reason, to = gateway.submit(account or session.system_id, pdu, route, session.id, nil, link)
    if id and key and not link then self:hold(key, route, to) end     -- a held route stays as it is
    return id, status, reason
end

-- A submit_multi whose destinations take different routes: one message
-- per route; the destinations without a route, or whose route refused,
-- are the unsuccess_sme list. The answer's message_id is the first
-- accepted group's (the other groups' receipts carry their own ids).
function Gw:multi(session, pdu, bad)
    local groups, order, unsuccess = {}, {}, {}
    local account = session.system_id
    for _, d in ipairs(pdu.dest_address or {}) do
        if bad and bad[d] then                   -- refused for its values (smpp.checks)
            unsuccess[#unsuccess + 1] = bad[d]
        else
            local key = { destination_addr = d.destination_addr or d.dl_name, source_addr = pdu.source_addr,
                          service_type = pdu.service_type, short_message = pdu.short_message,
                          data_coding = pdu.data_coding, esm_class = pdu.esm_class,
                          message_payload = pdu.message_payload }
            local route = self.routing:match(key, session,
                                             { now = smpp.time(), alphabet = server.alphabet(account) })
            if route then
                if not groups[route.name] then
                    groups[route.name] = { route = route }
                    order[#order + 1] = route.name
                end
                local g = groups[route.name]
                g[#g + 1] = d
            else
                unsuccess[#unsuccess + 1] = { dest_addr_ton = d.dest_addr_ton or 0,
                    dest_addr_npi = d.dest_addr_npi or 0, destination_addr = d.destination_addr or d.dl_name or "",
                    error_status_code = self.no_route }
            end
        end
    end
    local first, first_status
    for _, name in ipairs(order) do
        local g = groups[name]
        local part = {}
        for k, v in pairs(pdu) do part[k] = v end
        part.dest_address = {}
        for i, d in ipairs(g) do part.dest_address[i] = d end
        part.number_of_dests = #g
        local id, status, reason = self:send(session, part, g.route, nil, nil, account)
        gateway.note(g.route.name, account, id and 0 or status)
        if id then
            first = first or id
        else
            first_status = first_status or status
            session:log("warn", "submit_multi via %s not accepted: %s (%s)", name, tostring(reason),
                smpp.status_name(status) or status)
            for _, d in ipairs(g) do
                unsuccess[#unsuccess + 1] = { dest_addr_ton = d.dest_addr_ton or 0, dest_addr_npi = d.dest_addr_npi or 0,
                    destination_addr = d.destination_addr or d.dl_name or "", error_status_code = status }
            end
        end
    end
    if not first then
        if first_status == nil then
            gateway.count("no_route")
            gateway.note(nil, account, self.no_route)
        end
        return first_status or self.no_route
    end
    return S.ESME_ROK, { message_id = first, no_unsuccess = #unsuccess, unsuccess_sme = unsuccess }
end

-- A copy of submit_multi `pdu` without the destinations of `bad`
-- (smpp.checks.multi), and their unsuccess_sme entries.
local function without(pdu, bad)
    local part, unsuccess = {}, {}
    for k, v in pairs(pdu) do part[k] = v end
    part.dest_address = {}
    for _, d in ipairs(pdu.dest_address) do
        if bad[d] then unsuccess[#unsuccess + 1] = bad[d]
        else part.dest_address[#part.dest_address + 1] = d end
    end
    part.number_of_dests = #part.dest_address
    return part, unsuccess
end

-- An ESME's submit_sm, data_sm or submit_multi: routed, stored and
-- answered with the gateway's id (message_id "own"), or forwarded while
-- the ESME waits (message_id "upstream").
function Gw:submit(session, pdu)
    local account = session.system_id
    -- a TLV that 3.4 defines, given twice (a second message_payload): the
    -- routes, the hooks and the upstream could each read another copy, so
    -- the message is refused before any of them sees it
    local twice = smpp.repeated_tlv(pdu)
    if twice then
        gateway.note(nil, account, S.ESME_RINVOPTPARSTREAM)
        session:log("info", "%s refused: TLV %s given more than once (ESME_RINVOPTPARSTREAM)", pdu.command, twice)
        return S.ESME_RINVOPTPARSTREAM
    end
    local command = pdu.command
    -- SMPP 3.4's checks of its values (smpp.checks, as the reference SMSC's)
    local invalid, why = checks.message(pdu)
    local bad = command == "submit_multi" and not invalid and checks.multi(pdu) or nil
    local fields
    if bad then
        local _, unsuccess = without(pdu, bad)
        if #unsuccess == #pdu.dest_address then      -- none left: as the reference SMSC answers
            invalid, why = S.ESME_RSUBMITFAIL, "no valid destination"
            fields = { message_id = "", no_unsuccess = #unsuccess, unsuccess_sme = unsuccess }
        end
    end
    if invalid then
        gateway.count("invalid")
        gateway.note(nil, account, invalid)
        session:log("debug", "%s refused: %s (%s)", command, why, smpp.status_name(invalid) or invalid)
        return invalid, fields
    end
    local picked, refused
    if self.before_route then
        picked, refused = self:hook(session, pdu, account)
        if refused then
            gateway.note(nil, account, refused)
            return refused
        end
    end
    local unsuccess
    if command == "submit_multi" then
        if not picked then return self:multi(session, pdu, bad) end
        if bad then pdu, unsuccess = without(pdu, bad) end
    end
    local route, key, link = picked, nil, nil
    if not route then route, key, link = self:route(session, pdu, account) end
    if not route then
        gateway.count("no_route")
        gateway.note(nil, account, self.no_route)
        session:log("info", "no route for %s", tostring(pdu.destination_addr))
        return self.no_route
    end
    local id, status, reason = self:send(session, pdu, route, key, link, account)
    gateway.note(route.name, account, id and 0 or status)
    if not id then
        session:log("warn", "%s via %s not accepted: %s (%s)", command, route.name, tostring(reason),
            smpp.status_name(status) or status)
        return status
    end
    if command == "submit_multi" then
        return ROK, { message_id = id, no_unsuccess = unsuccess and #unsuccess or 0, unsuccess_sme = unsuccess }
    end
    return ROK, { message_id = id }
end

-- query_sm: the state of one of the account's messages, from the store;
-- a source_addr given must be the message's (SMPP 3.4 4.8.1: it verifies
-- the originator), as the reference SMSC checks it. With message_id
-- "upstream" an id an upstream gave twice names several messages (parts
-- of one id), maybe of several accounts: the newest of them that is the
-- account's, with that source.
local function query(session, pdu)
    local source = pdu.source_addr
    local function its(r)
        return r and r.account == session.system_id
            and not (source and source ~= "" and r.source ~= nil and r.source ~= source)
    end
    local rec
    if cluster.stores_messages() then
        rec = cluster.message(pdu.message_id or "")
        if not its(rec) then rec = nil end
    else
        for _, r in ipairs(store.parts(pdu.message_id or "") or {}) do
            if its(r) then rec = r end
        end
    end
    if not rec then return S.ESME_RQUERYFAIL end
    return S.ESME_ROK, { message_id = rec.id,
        final_date = rec.final and rec.done and stime.format_absolute(rec.done) or "",
        message_state = rec.state == 0 and store.state.ENROUTE or rec.state, error_code = (rec.err or 0) % 256 }
end

-- From an upstream: MO goes to the account of the first mo_routes entry
-- that matches its destination (and upstream). Receipts are matched by the
-- runtime before they get here (core/rt_gw_rcpt.c); one that reaches this
-- handler came on a session that is no upstream link of ours.
function Gw:from_upstream(session, pdu)
    local link = upstream.link_of(session)
    local name = link and link.name or "?"
    if receipt.is_receipt(pdu) then
        smpp.log("warn", "a receipt on session %d, which is no upstream link: refused", session.id)
        return S.ESME_RX_R_APPN
    end
    local dest = pdu.destination_addr or ""
    for _, m in ipairs(self.g.mo_routes or {}) do
        if (not m.prefix or dest:sub(1, #m.prefix) == m.prefix) and (not m.upstream or m.upstream == name) then
            return gateway.mo(m.account, pdu)
        end
    end
    gateway.count("mo_no_route")
    smpp.log("warn", "MO from %s to %s: no mo_routes entry", name, dest)
    return S.ESME_RINVDSTADR
end

-- POST /send: the text routed like an ESME's message, under the account
-- "@http"; its receipts update the stored message (GET /messages/ID) and
-- are posted to callback_url. An error answer names no id: what the
-- client is told decides, so the parts stored before it are ended, not
-- forwarded (or were lost with a failed write).
function Gw:http_send(d)
    local coding = d.coding or text.choose(d.text)
    local parts, why = split.split(d.text, { coding = coding })
    if not parts then return 422, { error = why } end
    -- as the account the request is authorised for (smpp.http checked its
    -- token and limits), else "@http"; an account with a webhook gets its
    -- receipts there, from its outbox, like an ESME's
    local account = d.system_id or "@http"
    local session = { system_id = account }
    local rd = (account == "@http" or webhook.has(account)) and 1 or 0
    local ids = {}
    for _, part in ipairs(parts) do
        local pdu = { command = "submit_sm", source_addr = d.from or "smppgw", destination_addr = d.to,
                      registered_delivery = rd }
        for k, v in pairs(part) do pdu[k] = v end
        local route, refused = self:hook(session, pdu, account)
        if refused then
            return 403, { error = "refused: " .. tostring(smpp.status_name(refused) or refused) }
        end
        local key, link
        if not route then route, key, link = self:route(session, pdu, account) end
        if not route then return 404, { error = "no route for " .. d.to } end
        local id, status, reason, to = gateway.submit(account, pdu, route, "POST /send", d.callback_url, link)
        gateway.note(route.name, account, id and 0 or status)
        if not id then
            local code = status == S.ESME_RMSGQFUL and 503 or 502
            return code, { error = tostring(reason), status = smpp.status_name(status) }
        end
        if key and not link then self:hold(key, route, to) end
        ids[#ids + 1] = id
    end
    return 200, { message_ids = ids }
end

-- new(conf [, conf_path]) -> the gateway: routing (its router), hooks
-- (before_route, after_answer: nil until set), and the handlers table the
-- script returns. Call it while the script loads.
function M.new(conf, conf_path)
    conf = conf or {}
    local g = conf.gateway or {}
    assert(config.check_section(g, M.fields, "gateway"))
    if g.mapping_ttl or g.mapping_max then
        smpp.log("warn", "gateway.mapping_ttl and mapping_max are no longer used: id mappings live in the store "
            .. "(store.trace_ttl, store.limits.messages)")
    end
    if g.sticky_max then
        smpp.log("warn", "gateway.sticky_max is no longer used: the routes of long messages live in the store, "
            .. "bounded by store.limits.sticky")
    end
    gateway.configure(g)
    local routing = assert(M.routing(g, conf_path, core.lstring.find_steps, function(r, key)
        gateway.count("pattern_gave_up")
        smpp.log("warn", "route %s: its %s gave up after %d steps on a message (a pattern that backtracks): "
            .. "the route did not match it", string.format("%q", r.name), key, router.PATTERN_STEPS)
    end))
    gateway.set_routes(routing.routes)      -- failover looks up a message's route by name
    local self = setmetatable({ g = g, routing = routing,
        no_route = S[g.no_route_status or "ESME_RINVDSTADR"] or S.ESME_RINVDSTADR,
        sticky_ttl = g.sticky_ttl or 300 }, Gw)
    gateway.hooks = self                    -- the forwarder's events ask it for after_answer
    local function submit(session, pdu) return self:submit(session, pdu) end
    local function from_upstream(session, pdu) return self:from_upstream(session, pdu) end
    self.handlers = {
        http_send = function(d) return self:http_send(d) end,
        submit_sm = submit,
        submit_multi = submit,
        query_sm = query,
        data_sm = function(session, pdu)
            if session.side == "client" then return from_upstream(session, pdu) end
            return submit(session, pdu)
        end,
        deliver_sm = from_upstream,
        outbind = upstream.on_outbind,                        -- links that wait for outbind
        start = function() gateway.start() end,
    }
    return self
end

return M
