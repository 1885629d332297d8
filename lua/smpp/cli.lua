-- smpp.cli -- the smppgw command line: each verb is a function of its
-- arguments that returns the process exit code. main.c calls M.main(argv).
local smpp = require "smpp"
local hex = require "smpp.hex"
local json = require "smpp.json"
local cjson = require "cjson.safe"

local M = {}

local USAGE = [[
usage: smppgw <command> [arguments]

commands:
  decode HEX...     decode PDUs given in hex (arguments are joined, spaces and
                    newlines allowed, several PDUs may follow each other; with
                    no argument, or "-", hex is read from standard input) and
                    print each as one JSON object per line: command ids and
                    statuses in hex with their names, TLVs by name. Exit 1 if
                    any PDU is invalid, with the status name and what is wrong.
  encode JSON...    encode PDUs given as JSON objects (or arrays of them; "-"
                    reads standard input, one per line as decode prints
                    them) and print each as hex.
  [run] CONFIG      run a configuration (default conf/smppgw.lua) until
                    SIGINT/SIGTERM, which unbind every session first.
        -l, --listen HOST:PORT   listen there instead (repeatable; port 0
                                 picks a free port, printed in the log)
        --http HOST:PORT         the HTTP API and dashboard there
        --store PATH             the store there instead (relative to the
                                 working directory; ":memory:" keeps it in memory)
  check CONFIG      validate the configuration, load its script, and open and
                    check its store (conf.store, or --store); exit 1 naming
                    what is wrong.
  send HOST:PORT --from A --to B --text "..." [options]
                    bind, send a text (split when long, or one data_sm) with
                    the TON/NPI, validity, service_type, registered_delivery
                    and TLVs asked for, print the message ids; --wait-dlr
                    waits for the receipts, --listen prints receipts and MO
                    as they come (smppgw send --help); exit 1 on any failure
                    with the status name.
  messages CONFIG ID | CONFIG --account A [--state S] [--since T]
                    a stored message and its trace (where is my message?),
                    or an account's messages by state and time
                    (smppgw messages --help).
  route CONFIG --to B [--from A] [--system-id X] [--text T] [--at TIME]
                    the route and upstream a message would take, and why
                    (a dry run: no socket, no store; smppgw route --help);
                    exit 1 when no route matches.
  bench [options] HOST:PORT
                    the load generator (smppgw bench --help).
  passwd [PASSWORD] print the hashed form of a password for accounts[].password
                    (reads standard input without an argument).
  help COMMAND      that command's usage (so does COMMAND --help)
  --help            this text
  --version         print the version

In JSON, a string that is not printable UTF-8 appears as {"hex": "..."};
encode accepts that form for any string, and TLVs under numeric keys.

Exit codes: 0 ok; 1 a failure, named on standard error (with the SMPP
status by name and in hex where there is one); 2 bad arguments or input.
docs/cli.md describes every verb.
]]

-- Each verb's own usage, printed by `smppgw VERB --help` (exit 0) and
-- after a bad argument (exit 2). bench is C (core/load.c) and prints its own.
local VERB_USAGE = {
    decode = [[
usage: smppgw decode [HEX...]
Decode PDUs given in hex (arguments are joined; spaces, newlines and 0x
prefixes allowed; several PDUs may follow each other). With no argument, or
"-", the hex is read from standard input. Prints one JSON object per PDU,
keys in wire order: command, command_id and command_status in hex
("0x00000004"), status (the status's name), sequence_number, the body
fields, then the TLVs by name (one the tables do not name under its tag in
hex, "0x1401"). Text that is not printable UTF-8 shows as {"hex": "..."}.
encode reads this form back. Exit 1 if any PDU is invalid (naming the
command, the status and what is wrong), 2 on input that is not hex.
]],
    encode = [[
usage: smppgw encode [JSON...]
Encode PDUs given as JSON objects or arrays of them (one per argument, or
"-" or no argument: standard input, one JSON text or one per line as
decode prints them) and print each as hex. Takes what decode
prints: command_id and command_status as numbers or hex ("0x00000058"),
the status by name ("status": "ESME_RTHROTTLED", or as command_status),
TLVs by name or tag ("0x1401"), {"hex": "..."} for any bytes;
sequence_number 1 unless given (a request's outside 1..0x7FFFFFFF is
written as given, with a warning on stderr). Exit 1 if a
PDU cannot be encoded (naming the field), 2 on invalid JSON or JSON that
is not an object or an array of objects (nothing printed).
]],
    run = [[
usage: smppgw [run] [CONFIG] [options]
Run a configuration (default conf/smppgw.lua) until SIGINT/SIGTERM, which
unbind every session first; SIGHUP reloads it.
  -l, --listen HOST:PORT   listen there instead (repeatable; port 0 picks a
                           free port, printed in the log)
  --http HOST:PORT         the HTTP API and dashboard there
  --store PATH             the store there instead of the configuration's
                           (relative to the working directory)
  -w, --workers N          N processes sharing the ports (config `workers`)
  --help                   this text
]],
    check = [[
usage: smppgw check [CONFIG] [-l HOST:PORT]... [--store PATH]
Validate the configuration (default conf/smppgw.lua): every key against
the schema, and against each other (routes to upstreams that exist, status
names, mo_routes' accounts, no two accounts or upstreams with one name,
password hashes, networks, Lua patterns); load its script; open and check
its store. Print a summary (listeners, accounts, upstreams, routes), or
every wrong key by its path and exit 1.
]],
    messages = [[
usage: smppgw messages [CONFIG] ID [--json] [--store PATH]
       smppgw messages [CONFIG] --account A [--state S] [--since T] [--until T]
                       [--limit N] [--json] [--store PATH]
Read the store of a configuration (default conf/smppgw.lua; --store PATH
another file), while it runs or not. With an ID: that message, its state,
route, upstream and ids, and its trace (accepted from whom, each attempt
and its answer, the receipt, the delivery to the ESME). With --account:
that account's messages submitted in [since, until), oldest first, at most
--limit (default 100). A state is a name (SCHEDULED, ENROUTE, DELIVERED,
EXPIRED, REJECTED ...) or a stat word (DELIVRD ...); a time is seconds
since the epoch, an age (90s, 15m, 2h, 7d) or 2026-12-01T16:00:00Z. --json
prints what GET /messages/ID and GET /messages answer. Exit 1 when there
is no such message or the store cannot be opened, 2 on bad arguments.
]],
    passwd = [[
usage: smppgw passwd [--] [PASSWORD]
Print the hashed form of a password for accounts[].password (PBKDF2-SHA256,
random salt), at most 1024 octets. Without PASSWORD the first line of
standard input is used; "--" lets a password start with "-".
]],
}

local function err(fmt, ...)
    io.stderr:write(string.format(fmt, ...), "\n")
end

-- -- How decode shows a PDU and encode reads it back ----------------------------

local function hex32(v) return string.format("0x%08X", v) end

-- The PDU as decode prints it: command_id and command_status in hex, the
-- status's name beside them, tlv_order by TLV names (json.encode_pdu puts
-- a TLV without a name under its tag in hex).
local function shown(pdu)
    local t = {}
    for k, v in pairs(pdu) do t[k] = v end
    t.command_id = hex32(pdu.command_id)
    t.command_status = hex32(pdu.command_status or 0)
    t.status = smpp.status_name(pdu.command_status or 0)
    if pdu.tlv_order then
        local names = {}
        for i, tag in ipairs(pdu.tlv_order) do names[i] = smpp.tlv_name(tag) or string.format("0x%04X", tag) end
        t.tlv_order = names
    end
    return t
end

-- A number written as a number or as "0x..." hex -> number | nil.
local function number_of(v)
    if type(v) == "number" then return v end
    local h = type(v) == "string" and v:match("^0[xX](%x+)$")
    return h and tonumber(h, 16) or nil
end

-- The PDU table of what `shown` printed (or what a person wrote the same
-- way): hex and names back to numbers. Raises naming what it cannot read.
local function unshown(obj)
    local pdu = json.decode_value(obj)
    if pdu.command_id ~= nil then
        pdu.command_id = number_of(pdu.command_id)
            or error("command_id must be a number or hex (\"0x00000004\"), not " .. tostring(obj.command_id), 0)
    end
    local st = pdu.command_status
    if st ~= nil then
        st = number_of(st) or smpp.status[st]
            or error("command_status must be a number, hex or a status name, not " .. tostring(pdu.command_status), 0)
    end
    if pdu.status ~= nil then
        local named = smpp.status[pdu.status] or error("unknown status " .. tostring(pdu.status), 0)
        if st and st ~= named then
            error(("status %s (%s) does not match command_status %s"):format(pdu.status, hex32(named), hex32(st)), 0)
        end
        st, pdu.status = named, nil
    end
    pdu.command_status = st
    if type(pdu.tlv_order) == "table" then
        for i, t in ipairs(pdu.tlv_order) do
            pdu.tlv_order[i] = number_of(t) or smpp.tlv[t] or error("tlv_order: unknown TLV " .. tostring(t), 0)
        end
    end
    return pdu
end

-- -- decode ------------------------------------------------------------------

-- The arguments from `from` on joined, or standard input (none, or "-").
-- Options are refused (hex and JSON never start with "-").
local function read_all_args(args, from)
    local parts = {}
    for i = from, #args do
        local a = args[i]
        if a:match("^%-.") then return nil, "unknown option " .. a end
        parts[#parts + 1] = a
    end
    if #parts == 0 or (#parts == 1 and parts[1] == "-") then
        return io.stdin:read("*a")
    end
    return table.concat(parts, " ")
end

function M.decode(args)
    local text, bad = read_all_args(args, 2)
    if not text then
        err("decode: %s", bad)
        return 2
    end
    local bytes, why = hex.to_bytes(text)
    if not bytes then
        err("decode: %s", why)
        return 2
    end
    if #bytes == 0 then
        err("decode: no input")
        return 2
    end
    local rc, pos, n = 0, 1, 0
    while pos <= #bytes do
        local rest = bytes:sub(pos)
        local len = smpp.frame(rest)
        if not len or len == 0 then
            -- command_length unusable or past the end: decode says why, and
            -- framing ends here
            local _, st, msg = smpp.decode(rest)
            err("PDU %d: %s: %s", n + 1, smpp.status_string(st), msg)
            return 1
        end
        n = n + 1
        local pdu, st, msg, hdr = smpp.decode(rest:sub(1, len))
        if pdu then
            io.stdout:write(json.encode_pdu(shown(pdu)), "\n")
        else
            err("PDU %d (%s%s, sequence_number %d): %s: %s", n, hex32(hdr.command_id),
                hdr.command and " " .. hdr.command or "", hdr.sequence_number, smpp.status_string(st), msg)
            rc = 1
        end
        pos = pos + len
    end
    return rc
end

-- -- encode ------------------------------------------------------------------

-- The JSON texts of encode's input: the whole input when it is one JSON
-- text (an object or an array, even spread over lines or arguments), else
-- one per argument, or one per non-blank line of standard input (what
-- decode prints) -> list of { value, where } | nil, error.
local function encode_texts(args)
    local parts = {}
    for i = 2, #args do
        if args[i]:match("^%-.") then return nil, "unknown option " .. args[i] end
        parts[#parts + 1] = args[i]
    end
    local stdin = #parts == 0 or (#parts == 1 and parts[1] == "-")
    local whole = stdin and io.stdin:read("*a") or table.concat(parts, " ")
    local value, why = cjson.decode(whole)
    if value ~= nil then return { { value, "" } } end
    local pieces, what = {}, stdin and "line" or "argument"
    if stdin then
        local n = 0
        for line in (whole .. "\n"):gmatch("([^\n]*)\n") do
            n = n + 1
            if line:match("%S") then pieces[#pieces + 1] = { line, n } end
        end
    else
        for i, a in ipairs(parts) do pieces[#pieces + 1] = { a, i } end
    end
    if #pieces < 2 then return nil, "invalid JSON: " .. tostring(why) end
    local out = {}
    for _, p in ipairs(pieces) do
        local v, verr = cjson.decode(p[1])
        if v == nil then return nil, string.format("invalid JSON in %s %d: %s", what, p[2], tostring(verr)) end
        out[#out + 1] = { v, string.format(" (%s %d)", what, p[2]) }
    end
    return out
end

local function hdr32(b, i)
    local b1, b2, b3, b4 = b:byte(i, i + 3)
    return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end

function M.encode(args)
    local texts, bad = encode_texts(args)
    if not texts then
        err("encode: %s", bad)
        return 2
    end
    local list = {}
    for _, t in ipairs(texts) do
        local value = t[1]
        if type(value) ~= "table" then
            err("encode: expected a JSON object or an array of objects%s", t[2])
            return 2
        end
        if value[1] ~= nil then
            for _, obj in ipairs(value) do list[#list + 1] = obj end
        else
            list[#list + 1] = value
        end
    end
    -- every element an object before anything is printed, as the whole
    -- input must be one
    for i, obj in ipairs(list) do
        if type(obj) ~= "table" or obj[1] ~= nil then
            local kind = obj == cjson.null and "null" or type(obj) == "table" and "an array" or "a " .. type(obj)
            err("encode: PDU %d is not a JSON object (%s)", i, kind)
            return 2
        end
    end
    local rc = 0
    for i, obj in ipairs(list) do
        local ok, pdu = pcall(unshown, obj)
        local bytes, msg
        if ok then
            -- a request is numbered 1..0x7FFFFFFF (3.4): 1 unless given; one
            -- given outside that is written as given (decode | encode gives a
            -- capture's octets back, and a peer can be tested with it) and
            -- warned about on stderr (a response echoes any)
            if pdu.sequence_number == nil then pdu.sequence_number = 1 end
            bytes, msg = smpp.encode(pdu)
            local id, seq = bytes and hdr32(bytes, 5), bytes and hdr32(bytes, 13)
            if bytes and id < 0x80000000 and (seq == 0 or seq > 0x7FFFFFFF) then
                io.stderr:write(string.format("PDU %d: warning: sequence_number %d is outside 1..0x7FFFFFFF "
                    .. "(a request's number; written as given)\n", i, seq))
            end
        else
            msg = pdu
        end
        if bytes then
            io.stdout:write(hex.from_bytes(bytes), "\n")
        else
            err("PDU %d: %s", i, msg)
            rc = 1
        end
    end
    return rc
end

-- -- main --------------------------------------------------------------------

-- [run] CONFIG [-l HOST:PORT]...
local function run_args(args, from)
    local conf, listen, http, store, workers = nil, nil, nil, nil, nil
    local i = from
    while i <= #args do
        local a = args[i]
        if a == "-l" or a == "--listen" then
            if not args[i + 1] then return nil, a .. " needs HOST:PORT" end
            listen = listen or {}
            listen[#listen + 1] = args[i + 1]
            i = i + 2
        elseif a == "--http" then
            if not args[i + 1] then return nil, a .. " needs HOST:PORT" end
            http = args[i + 1]
            i = i + 2
        elseif a == "-w" or a == "--workers" then
            local n = tonumber(args[i + 1] or "")
            if not n or n < 1 or n > 1024 or n % 1 ~= 0 then return nil, a .. " needs a number of workers 1..1024" end
            workers = n
            i = i + 2
        elseif a == "--store" then
            if not args[i + 1] then return nil, a .. " needs a PATH" end
            store = args[i + 1]
            i = i + 2
        elseif a:sub(1, 1) == "-" then
            return nil, "unknown option " .. a
        elseif conf then
            return nil, "one configuration only (got " .. conf .. " and " .. a .. ")"
        else
            conf = a
            i = i + 1
        end
    end
    return { conf = conf or "conf/smppgw.lua", listen = listen, http = http, store = store, workers = workers }
end

function M.run(args, from)
    local opts, why = run_args(args, from or 2)
    if not opts then
        err("smppgw run: %s", why)
        io.stderr:write(VERB_USAGE.run)
        return 2
    end
    return require("smpp.server").run(opts.conf, { listen = opts.listen, http = opts.http, store = opts.store,
                                                    workers = opts.workers })
end

function M.check(args)
    local opts, why = run_args(args, 2)
    if not opts then
        err("smppgw check: %s", why)
        io.stderr:write(VERB_USAGE.check)
        return 2
    end
    local conf, handlers, listen = require("smpp.server").prepare(opts.conf, { listen = opts.listen,
                                                                            store = opts.store }, true)
    if not conf then
        err("%s", handlers)
        return 1
    end
    local names = {}
    for k in pairs(handlers) do names[#names + 1] = k end
    table.sort(names)
    local where = {}
    for _, l in ipairs(listen) do where[#where + 1] = l.host .. ":" .. l.port end
    -- the store opens as `run` would open it (conf.store, or the file
    -- beside the configuration), and its pages are checked; a file that
    -- does not exist yet is not made (nor its directories): run makes it
    local section = require("smpp.server").store_section(conf, opts.conf)
    local file = not section.redis and section.path ~= ":memory:"
        and require("smpp.config").resolve(opts.conf, section.path)
    local exists = file and io.open(file, "rb")
    if exists then exists:close() end
    local st, why, stored
    if not file or exists then
        st, why = require("smpp.server").open_store(conf, opts.conf, { quick_check = true })
        if not st then
            err("%s", why)
            return 1
        end
    end
    if not st then
        stored = string.format("; store: %s does not exist yet (run creates it)", file)
    elseif section.redis then      -- its calls wait on the runtime's link: not contacted here
        stored = string.format("; store: redis %s db %d prefix %s", section.redis, section.db or 0, section.prefix)
    else
        local s = st:stats()
        stored = string.format("; store: %d messages, %d in outboxes", s.messages.value, s.outbox.value)
    end
    if st then st:close() end
    io.stdout:write(string.format("%s: ok (listen %s; %d accounts; handlers: %s%s)\n", opts.conf,
        table.concat(where, ", "), #(conf.accounts or {}), table.concat(names, ", "), stored))
    for _, line in ipairs(require("smpp.config_check").summary(conf, listen, opts.conf)) do
        io.stdout:write(line, "\n")
    end
    for _, line in ipairs(require("smpp.config_check").warnings(conf, opts.conf)) do
        io.stdout:write("warning: ", line, "\n")
    end
    return 0
end

-- messages [CONFIG] ID | [CONFIG] --account A [--state S] [--since T] [--until T] [--limit N]
local function messages_args(args)
    local o, i = { q = {} }, 2
    local takes = { ["--account"] = "account", ["--state"] = "state", ["--since"] = "since",
                    ["--until"] = "until", ["--limit"] = "limit" }
    while i <= #args do
        local a = args[i]
        if takes[a] then
            if not args[i + 1] then return nil, a .. " needs a value" end
            o.q[takes[a]] = args[i + 1]
            i = i + 2
        elseif a == "--store" then
            if not args[i + 1] then return nil, a .. " needs a PATH" end
            o.store = args[i + 1]
            i = i + 2
        elseif a == "--json" then
            o.json = true
            i = i + 1
        elseif a:sub(1, 1) == "-" then
            return nil, "unknown option " .. a
        elseif a:match("%.lua$") and not o.conf then
            o.conf = a
            i = i + 1
        elseif o.id then
            return nil, "one message id only (got " .. o.id .. " and " .. a .. ")"
        else
            o.id = a
            i = i + 1
        end
    end
    if not o.id and not o.q.account then return nil, "give a message ID, or --account to list" end
    if o.id and next(o.q) then return nil, "an ID, or --account and its filters: not both" end
    o.conf = o.conf or "conf/smppgw.lua"
    return o
end

local function show_message(v)
    local out = {}
    local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
    add("message %s%s: %s%s", v.message_id, (v.part or 0) > 0 and (" part " .. v.part) or "", v.state,
        v.final and " (final)" or "")
    add("  account %s, from %s to %s, route %s, upstream %s%s, %d attempt%s", tostring(v.account or "-"),
        tostring(v.from or "-"), tostring(v.to or "-"), v.route and ("'" .. v.route .. "'") or "-", tostring(v.upstream or "-"),
        v.upstream_id and (" as " .. v.upstream_id) or "", v.attempts or 0, v.attempts == 1 and "" or "s")
    add("  submitted %s%s%s", tostring(v.submitted_time), v.done_time and (", done " .. v.done_time) or "",
        v.error and string.format(", error %d", v.error) or "")
    for _, t in ipairs(v.trace or {}) do add("  %s  %s", t.time or "?", t.event) end
    return table.concat(out, "\n") .. "\n"
end

function M.messages(args)
    local o, why = messages_args(args)
    if not o then
        err("smppgw messages: %s", why)
        io.stderr:write(VERB_USAGE.messages)
        return 2
    end
    local server = require("smpp.server")
    local conf, cerr = require("smpp.config").load(o.conf)
    if not conf then
        err("%s", cerr)
        return 1
    end
    if o.store then
        local ok, serr = server.store_path(conf, o.store)
        if not ok then
            err("smppgw messages: %s", serr)
            return 2
        end
    end
    local messages = require("smpp.messages")
    if not o.id and messages.gateway_in_redis(conf) then
        err("smppgw messages: %s", messages.NO_LISTS)
        return 2
    end
    local rstore = require("smpp.store").redis_of(conf)
    local gateway                                 -- the gateway's records (smpp.cluster.message)
    if rstore then
        local names = {}
        for i, u in ipairs(conf.upstreams or {}) do names[i] = u.name end
        gateway = function(id) return require("smpp.cluster").message(id, names, rstore.prefix) end
    end
    local opened = true
    local v, lerr = server.with_store(conf, o.conf, function(st)
        opened = st
        if o.id then return messages.find(st, o.id, gateway) end
        return messages.list(st, o.q, os.time(), 1000)          -- its own process: every page
    end)
    if opened == true then                     -- the store did not open: lerr says why
        err("%s", lerr)
        return 1
    end
    if rstore and lerr and lerr:find("unavailable", 1, true) then
        lerr = "Redis at " .. tostring(rstore.redis) .. " is unreachable (" .. lerr .. ")"
    end
    if o.id and not v and lerr then
        err("smppgw messages: %s", lerr)
        return 1
    end
    if o.id and not v then
        err("smppgw messages: no message %s in the store", o.id)
        return 1
    end
    if not v then
        err("smppgw messages: %s", lerr)
        return 2
    end
    if o.json then
        io.stdout:write(json.encode(v), "\n")
    elseif o.id then
        for _, p in ipairs(v.parts or { v }) do io.stdout:write(show_message(p)) end
    else
        for _, m in ipairs(v.messages) do
            io.stdout:write(string.format("%s  %-9s %s  %s -> %s  %s%s\n", m.message_id, m.state,
                tostring(m.submitted_time), tostring(m.from), tostring(m.to), tostring(m.upstream or "-"),
                m.upstream_id and (" " .. m.upstream_id) or ""))
        end
        io.stdout:write(string.format("%d message%s\n", v.count, v.count == 1 and "" or "s"))
    end
    return 0
end

-- passwd [--] [PASSWORD]
function M.passwd(args)
    local pw, i = nil, 2
    while i <= #args do
        local a = args[i]
        if a == "--" then
            if args[i + 2] then err("smppgw passwd: one password only") return 2 end
            pw = args[i + 1]
            break
        elseif a:match("^%-.") then
            err("smppgw passwd: unknown option %s (a password starting with - goes after --)", a)
            return 2
        elseif pw then
            err("smppgw passwd: one password only")
            return 2
        end
        pw = a
        i = i + 1
    end
    pw = pw or io.stdin:read("*l")
    if not pw or pw == "" then
        err("smppgw passwd: no password given")
        io.stderr:write(VERB_USAGE.passwd)
        return 2
    end
    local max = require("smpp.core").pbkdf2_max_input
    if #pw > max then
        err("smppgw passwd: the password is %d octets long; at most %d are hashed", #pw, max)
        io.stderr:write(VERB_USAGE.passwd)
        return 2
    end
    io.stdout:write(require("smpp.security").hash(pw), "\n")
    return 0
end

-- True when args (from `from` on, up to a "--") ask for help.
local function wants_help(args, from)
    for i = from, #args do
        if args[i] == "--" then return false end
        if args[i] == "--help" or args[i] == "-h" then return true end
    end
    return false
end

local function verb_usage(verb)
    if verb == "send" then return require("smpp.send").usage end
    if verb == "route" then return require("smpp.dryrun").usage end
    return VERB_USAGE[verb]
end

function M.main(args)
    local verb = args[1]
    if verb == "help" and args[2] and verb_usage(args[2]) then
        io.stdout:write(verb_usage(args[2]))
        return 0
    elseif verb == nil or verb == "--help" or verb == "-h" or verb == "help" then
        io.stdout:write(USAGE)
        return verb == nil and 2 or 0
    elseif verb_usage(verb) and wants_help(args, 2) then
        io.stdout:write(verb_usage(verb))
        return 0
    elseif verb == "--version" or verb == "-V" then
        io.stdout:write("smppgw ", smpp.version, " (SMPP 3.4)\n")
        return 0
    elseif verb == "decode" or verb == "encode" or verb == "run" or verb == "check" or verb == "passwd"
        or verb == "messages" then
        return M[verb](args)
    elseif verb == "send" then
        return require("smpp.send").run(args)
    elseif verb == "route" then
        return require("smpp.dryrun").run(args)
    elseif verb:match("%.lua$") or verb == "-l" or verb == "--listen" or verb == "--http" then
        if wants_help(args, 1) then
            io.stdout:write(VERB_USAGE.run)
            return 0
        end
        return M.run(args, 1)               -- smppgw CONFIG: run is the default verb
    end
    err("smppgw: unknown command '%s' (try smppgw --help)", tostring(verb))
    return 2
end

return M
