-- scripts/gateway.lua -- the gateway: ESMEs bind to us, each message is
-- routed to an upstream SMSC, receipts and MO messages come back.
local smpp = require "smpp"
local config = require "smpp.config"
local router = require "smpp.router"
local gateway = require "smpp.gateway"
local upstream = require "smpp.upstream"

local S = smpp.status
local conf, conf_path = ...
conf = conf or {}
local g = conf.gateway or {}

assert(config.check_section(g, {
    message_id = { type = "enum", values = { "upstream", "own" } },
    own_id_format = { type = "enum", values = { "decimal", "hex", "uuid" } },
    mapping_ttl = { type = "number", min = 1 }, mapping_max = { type = "integer", min = 1 },
    early_ttl = { type = "number", min = 0 },
    queue_ttl = { type = "number", min = 1 },
    match = { type = "enum", values = { "first", "longest" } },
    routes = { type = "list", of = { type = "table", free = true } },
    routes_file = { type = "string" },
    no_route_status = { type = "string" },
    mo_routes = { type = "list", of = { type = "table", fields = {
        prefix = { type = "string" }, upstream = { type = "string" }, account = { type = "string", required = true },
    } } },
}, "gateway"))
gateway.configure(g)

-- Routing table: in the config, or in a JSON file beside it.
local routes = g.routes or {}
if g.routes_file then
    routes = assert(router.load_json(config.resolve(conf_path or "conf/gateway.lua", g.routes_file)))
end
local routing = assert(router.new { routes = routes, match = g.match })
local no_route = S[g.no_route_status or "ESME_RINVDSTADR"] or S.ESME_RINVDSTADR

-- An ESME's submit_sm, data_sm or submit_multi: route it, send it to the
-- upstream, give the ESME the upstream's status and a message id.
local function submit(session, pdu)
    local key = pdu
    if pdu.command == "submit_multi" then      -- routed by its first SME destination
        local d = pdu.dest_address[1] or {}
        key = { destination_addr = d.destination_addr or d.dl_name, source_addr = pdu.source_addr,
                service_type = pdu.service_type }
    end
    local route = routing:match(key, session)
    if not route then
        gateway.stats.no_route = gateway.stats.no_route + 1
        session:log("info", "no route for %s", tostring(key.destination_addr))
        return no_route
    end
    local resp, link, reason = gateway.forward(route, pdu)
    if not resp then
        session:log("warn", "%s via %s not forwarded: %s (%s)", pdu.command, route.name, reason,
            smpp.status_name(link) or link)
        return link                             -- the status to answer with
    end
    if resp.command_status ~= 0 then return resp.command_status end
    local fields = { message_id = gateway.remember(session, link, resp, pdu) }
    if pdu.command == "submit_multi" then fields.unsuccess_sme = resp.unsuccess_sme end
    return S.ESME_ROK, fields
end

-- From an upstream: a receipt goes back to the ESME that sent the message;
-- an MO goes to the account its destination is routed to.
local function from_upstream(session, pdu)
    local link = upstream.link_of(session)
    local name = link and link.name or "?"
    if gateway.is_receipt(pdu) then return gateway.receipt(name, pdu) end
    local dest = pdu.destination_addr or ""
    for _, m in ipairs(g.mo_routes or {}) do
        if (not m.prefix or dest:sub(1, #m.prefix) == m.prefix) and (not m.upstream or m.upstream == name) then
            return gateway.mo(m.account, pdu)
        end
    end
    gateway.stats.mo_no_route = gateway.stats.mo_no_route + 1
    smpp.log("warn", "MO from %s to %s: no mo_routes entry", name, dest)
    return S.ESME_RINVDSTADR
end

-- POST /send: route the text like an ESME's message (account "@http"; its
-- receipts are kept for GET /messages/ID).
local http = require "smpp.http"
local split = require "smpp.split"
local text = require "smpp.text"
local function http_send(d)
    local coding = d.coding or text.choose(d.text)
    local parts, why = split.split(d.text, { coding = coding })
    if not parts then return 422, { error = why } end
    local session = { system_id = "@http" }
    local ids = {}
    for _, part in ipairs(parts) do
        local pdu = { command = "submit_sm", source_addr = d.from or "smppgw", destination_addr = d.to,
                      registered_delivery = 1 }
        for k, v in pairs(part) do pdu[k] = v end
        local route = routing:match(pdu, session)
        if not route then return 404, { error = "no route for " .. d.to, message_ids = ids } end
        local resp, link, reason = gateway.forward(route, pdu)
        if not resp then
            return 502, { error = reason, status = smpp.status_name(link), message_ids = ids }
        end
        if resp.command_status ~= 0 then
            return 502, { error = "upstream refused", status = smpp.status_name(resp.command_status), message_ids = ids }
        end
        local id = gateway.remember(session, link, resp, pdu)
        local ok, err = http.remember { message_id = id, from = pdu.source_addr, to = d.to,
                                        callback_url = d.callback_url, upstream = link, upstream_id = resp.message_id,
                                        route = route.name }
        if not ok then return 503, { error = "the message was sent but cannot be kept: " .. tostring(err),
                                     message_ids = ids } end
        ids[#ids + 1] = id
    end
    return 200, { message_ids = ids }
end

return {
    http_send = http_send,
    submit_sm = submit,
    submit_multi = submit,
    data_sm = function(session, pdu)
        if session.side == "client" then return from_upstream(session, pdu) end
        return submit(session, pdu)
    end,
    deliver_sm = from_upstream,
    outbind = upstream.on_outbind,                        -- links that wait for outbind
    start = function() gateway.start() end,
}
