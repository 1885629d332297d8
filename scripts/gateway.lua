-- scripts/gateway.lua -- the gateway: ESMEs bind to us; each message is
-- routed, stored in the queue of an upstream SMSC and answered with our id
-- once stored; the runtime forwards it and brings its receipt back under
-- that id (store and forward, docs/gateway.md). MO messages from upstreams
-- go to the account their destination is routed to.
local smpp = require "smpp"
local config = require "smpp.config"
local router = require "smpp.router"
local gateway = require "smpp.gateway"
local upstream = require "smpp.upstream"
local store = require "smpp.store"
local receipt = require "smpp.receipt"
local stime = require "smpp.time"

local S = smpp.status
local conf, conf_path = ...
conf = conf or {}
local g = conf.gateway or {}

assert(config.check_section(g, {
    message_id = { type = "enum", values = { "upstream", "own" } },
    own_id_format = { type = "enum", values = { "decimal", "hex", "uuid" } },
    validity = { type = "number", min = 1 }, max_validity = { type = "number", min = 0 },
    early_ttl = { type = "number", min = 0 },
    queue_ttl = { type = "number", min = 1 },
    retry_min = { type = "number", min = 0.01 }, retry_max = { type = "number", min = 0.01 },
    mapping_ttl = { type = "number", min = 1 }, mapping_max = { type = "integer", min = 1 },   -- no longer used
    match = { type = "enum", values = { "first", "longest" } },
    routes = { type = "list", of = { type = "table", free = true } },
    routes_file = { type = "string" },
    no_route_status = { type = "string" },
    mo_routes = { type = "list", of = { type = "table", fields = {
        prefix = { type = "string" }, upstream = { type = "string" }, account = { type = "string", required = true },
    } } },
}, "gateway"))
if g.mapping_ttl or g.mapping_max then
    smpp.log("warn", "gateway.mapping_ttl and mapping_max are no longer used: id mappings live in the store "
        .. "(store.trace_ttl, store.limits.messages)")
end
gateway.configure(g)

-- Routing table: in the config, or in a JSON file beside it.
local routes = g.routes or {}
if g.routes_file then
    routes = assert(router.load_json(config.resolve(conf_path or "conf/gateway.lua", g.routes_file)))
end
local routing = assert(router.new { routes = routes, match = g.match })
gateway.set_routes(routing.routes)          -- failover looks up a message's route by name
local no_route = S[g.no_route_status or "ESME_RINVDSTADR"] or S.ESME_RINVDSTADR

-- The key a message is routed by (submit_multi: its first SME destination).
local function route_key(pdu)
    if pdu.command ~= "submit_multi" then return pdu end
    local d = pdu.dest_address[1] or {}
    return { destination_addr = d.destination_addr or d.dl_name, source_addr = pdu.source_addr,
             service_type = pdu.service_type }
end

-- An ESME's submit_sm, data_sm or submit_multi: routed, stored and
-- answered with the gateway's id (message_id "own"), or forwarded while
-- the ESME waits (message_id "upstream").
local function submit(session, pdu)
    local key = route_key(pdu)
    local route = routing:match(key, session)
    if not route then
        gateway.count("no_route")
        session:log("info", "no route for %s", tostring(key.destination_addr))
        return no_route
    end
    local id, status, reason = gateway.submit(session.system_id, pdu, route, session.id)
    if not id then
        session:log("warn", "%s via %s not accepted: %s (%s)", pdu.command, route.name, tostring(reason),
            smpp.status_name(status) or status)
        return status
    end
    return S.ESME_ROK, { message_id = id }
end

-- query_sm: the state of one of the account's messages, from the store.
local function query(session, pdu)
    local rec = store.get(pdu.message_id or "")
    if not rec or rec.account ~= session.system_id then return S.ESME_RQUERYFAIL end
    return S.ESME_ROK, { message_id = rec.id,
        final_date = rec.final and rec.done and stime.format_absolute(rec.done) or "",
        message_state = rec.state == 0 and store.state.ENROUTE or rec.state, error_code = (rec.err or 0) % 256 }
end

-- From an upstream: MO goes to the account of the first mo_routes entry
-- that matches its destination (and upstream). Receipts are matched by the
-- runtime before they get here (core/rt_gw_rcpt.c); one that reaches this
-- handler came on a session that is no upstream link of ours.
local function from_upstream(session, pdu)
    local link = upstream.link_of(session)
    local name = link and link.name or "?"
    if receipt.is_receipt(pdu) then
        smpp.log("warn", "a receipt on session %d, which is no upstream link: refused", session.id)
        return S.ESME_RX_R_APPN
    end
    local dest = pdu.destination_addr or ""
    for _, m in ipairs(g.mo_routes or {}) do
        if (not m.prefix or dest:sub(1, #m.prefix) == m.prefix) and (not m.upstream or m.upstream == name) then
            return gateway.mo(m.account, pdu)
        end
    end
    gateway.count("mo_no_route")
    smpp.log("warn", "MO from %s to %s: no mo_routes entry", name, dest)
    return S.ESME_RINVDSTADR
end

-- POST /send: the text routed like an ESME's message, as the account
-- the request is authorised for (system_id; smpp.http checked its token
-- and limits), else under "@http". Its receipts update the stored message
-- (GET /messages/ID), are posted to callback_url, and for an account with
-- a webhook go to its outbox (and so to the webhook) like an ESME's.
local split = require "smpp.split"
local text = require "smpp.text"
local webhook = require "smpp.webhook"
local function http_send(d)
    local coding = d.coding or text.choose(d.text)
    local parts, why = split.split(d.text, { coding = coding })
    if not parts then return 422, { error = why } end
    local account = d.system_id or "@http"
    local session = { system_id = account }
    local rd = (account == "@http" or webhook.has(account)) and 1 or 0
    local ids = {}
    for _, part in ipairs(parts) do
        local pdu = { command = "submit_sm", source_addr = d.from or "smppgw", destination_addr = d.to,
                      registered_delivery = rd }
        for k, v in pairs(part) do pdu[k] = v end
        local route = routing:match(pdu, session)
        if not route then return 404, { error = "no route for " .. d.to, message_ids = ids } end
        local id, status, reason = gateway.submit(account, pdu, route, "POST /send", d.callback_url)
        if not id then
            local code = status == S.ESME_RMSGQFUL and 503 or 502
            return code, { error = tostring(reason), status = smpp.status_name(status), message_ids = ids }
        end
        ids[#ids + 1] = id
    end
    return 200, { message_ids = ids }
end

return {
    http_send = http_send,
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
