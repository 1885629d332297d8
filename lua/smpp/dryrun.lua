-- smpp.dryrun -- `smppgw route CONFIG --from A --to B --system-id X --text T
-- [--at TIME]`: the route and upstream a message would take through a
-- gateway configuration, and why (each route looked at, the key that did
-- not match), without a socket or the store: prototyping routes becomes a
-- loop of seconds. The routing is the running gateway's own
-- (smpp.gateway_script.routing: the same router, keys and time zone).
local config = require "smpp.config"
local text = require "smpp.text"

local format = string.format

local M = {}

M.usage = [[
usage: smppgw route [CONFIG] --to B [--from A] [--system-id X] [--text T]
                    [--service-type S] [--coding C] [--at TIME]
Print the route and upstream a submit_sm would take through the gateway of
CONFIG (default conf/smppgw.lua), and why: every route looked at, with the
key that did not match. No socket is opened and the store is not touched.
  --to B             destination_addr (required; at most 20 characters)
  --from A           source_addr (default ""; at most 20 characters)
  --system-id X      the ESME's account (system_id, one of CONFIG's
                     accounts; its default_alphabet decides what
                     data_coding 0 means)
  --text T           the text (the keys contains and text_pattern read it)
  --service-type S   service_type
  --coding C         gsm | latin1 | ascii | ucs2 (default: as send picks)
  --at TIME          the time the days/hours windows see: seconds since the
                     epoch, or 2026-12-01T16:00:00Z (default now)
The script's before_route hook, rate limits and link states are not run or
known in a dry run: the upstream shown is the first its strategy tries.
Each option at most once. Exit 0 when a route matches, 1 when none does
(or the configuration is wrong), 2 on bad arguments (an unknown account
included).
]]

local OPTS = { ["--from"] = "from", ["--to"] = "to", ["--system-id"] = "system_id", ["--text"] = "text",
               ["--service-type"] = "service_type", ["--coding"] = "coding", ["--at"] = "at" }

local function parse(args)
    local o, i = {}, 2
    while i <= #args do
        local a = args[i]
        if OPTS[a] then
            if args[i + 1] == nil then return nil, a .. " needs a value" end
            if o[OPTS[a]] ~= nil then return nil, a .. " given twice" end
            o[OPTS[a]] = args[i + 1]
            i = i + 2
        elseif a:sub(1, 1) == "-" then
            return nil, "unknown option " .. a
        elseif not o.conf then
            o.conf = a
            i = i + 1
        else
            return nil, "one configuration only (got " .. o.conf .. " and " .. a .. ")"
        end
    end
    if not o.to then return nil, "--to is required" end
    -- the PDU's fields hold 21 octets with their NUL: a longer address is no message at all
    for _, k in ipairs { { "--to", o.to }, { "--from", o.from } } do
        if k[2] and #k[2] > 20 then return nil, format("%s is longer than 20 characters (%d)", k[1], #k[2]) end
    end
    o.conf = o.conf or "conf/smppgw.lua"
    return o
end

-- The time --at names -> seconds since the epoch | nil, why.
local function at(s)
    if s == nil then return os.time() end
    if s:match("^%d+$") then return tonumber(s) end
    local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):?(%d*)Z$")
    if not y then return nil, "--at: " .. s .. " is not seconds since the epoch nor 2026-12-01T16:00:00Z" end
    -- days since the epoch of a proleptic Gregorian date (UTC, no os.time's local zone)
    y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
    if mo <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    local days = era * 146097 + doe - 719468
    return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(se) or 0)
end
M.at = at

local STRATEGY = {
    failover = "tried in this order",
    round_robin = "in turn, one further each message",
    weighted = "the first by weight",
    least_outstanding = "the one with the fewest answers awaited first",
}

-- run(args) -> exit code.
function M.run(args)
    local o, why = parse(args)
    if not o then
        io.stderr:write("smppgw route: ", why, "\n", M.usage)
        return 2
    end
    local now, terr = at(o.at)
    if not now then
        io.stderr:write("smppgw route: ", terr, "\n")
        return 2
    end
    local conf, cerr = config.load(o.conf)
    if not conf then
        io.stderr:write(cerr, "\n")
        return 1
    end
    local ok, errs = require("smpp.config_check").check(conf, o.conf)
    if not ok then
        io.stderr:write(o.conf, ":\n  ", table.concat(errs, "\n  "), "\n")
        return 1
    end
    local g = conf.gateway
    if type(g) ~= "table" then
        io.stderr:write(o.conf, ": no gateway section: nothing is routed\n")
        return 1
    end
    local gok, gerr = config.check_section(g, require("smpp.gateway_script").fields, "gateway")
    if not gok then
        io.stderr:write(o.conf, ": ", tostring(gerr), "\n")
        return 1
    end
    local alphabet, known = "gsm", false
    for _, a in ipairs(conf.accounts or {}) do
        if a.system_id == o.system_id then alphabet, known = a.default_alphabet or "gsm", true end
    end
    if o.system_id and not known then
        -- a bind as it would be refused ESME_RINVSYSID: nothing it sends is routed
        io.stderr:write(format("smppgw route: --system-id: no account %q in %s\n", o.system_id, o.conf))
        return 2
    end
    local pdu = { command = "submit_sm", source_addr = o.from or "", destination_addr = o.to,
                  service_type = o.service_type }
    if o.text then
        local coding = o.coding or text.choose(o.text)
        local bytes, eerr = text.encode(o.text, coding)
        if not bytes then
            io.stderr:write("smppgw route: --text: ", tostring(eerr), "\n")
            return 2
        end
        pdu.short_message, pdu.data_coding = bytes, text.data_coding_of(coding)
        if coding == alphabet and coding ~= "ucs2" then pdu.data_coding = 0 end
    end
    local core_ok, core = pcall(require, "smpp.core")
    local find_steps = core_ok and core.lstring and core.lstring.find_steps or nil
    local routing, rerr = require("smpp.gateway_script").routing(g, o.conf, find_steps)
    if not routing then
        io.stderr:write(o.conf, ": ", tostring(rerr), "\n")
        return 1
    end
    local out = {}
    local function add(fmt, ...) out[#out + 1] = format(fmt, ...) end
    local session = o.system_id and { system_id = o.system_id } or nil
    local route, steps = routing:explain(pdu, session, { now = now, alphabet = alphabet })
    local t = routing:text(pdu, alphabet)
    add("message: from %q to %q, account %s, text %s", pdu.source_addr, o.to, o.system_id or "(none)",
        t and format("%q", t) or "(none)")
    add("time: %s (%s in %s, match %s)", os.date("!%Y-%m-%dT%H:%M:%SZ", now),
        (function() local d, m = require("smpp.router").local_time(now, routing.offset)
                    return format("%s %02d:%02d", d, math.floor(m / 60), m % 60) end)(),
        routing.time_zone, routing.mode)
    for _, s in ipairs(steps) do
        if s.matched then add("  route %-16s matches", "'" .. s.route .. "'")
        else add("  route %-16s no: %s (%s)", "'" .. s.route .. "'", s.key, s.why) end
    end
    if not route then
        add("no route: the ESME is answered %s", g.no_route_status or "ESME_RINVDSTADR")
        io.stdout:write(table.concat(out, "\n"), "\n")
        return 1
    end
    add("route: %s", route.name)
    add("upstream: %s%s", route.to[1], #route.to > 1
        and format(" (of %s, %s: %s)", table.concat(route.to, ", "), route.strategy, STRATEGY[route.strategy]) or "")
    io.stdout:write(table.concat(out, "\n"), "\n")
    return 0
end

return M
