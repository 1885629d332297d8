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
                    print each as one JSON object per line. Exit 1 if any PDU
                    is invalid, with the status name and what is wrong.
  encode JSON...    encode PDUs given as JSON objects (or one JSON array of
                    them; "-" reads standard input) and print each as hex.
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
  send HOST:PORT --from A --to B --text "..." [--system-id ID --password PW
                    --wait-dlr SECONDS --coding auto|gsm|ucs2|latin1
                    --split udh|sar|payload]
                    bind, send a text (split when long), print the message
                    ids and, with --wait-dlr, the receipts; exit 1 on any
                    failure with the status name.
  bench [options] HOST:PORT
                    the load generator (smppgw bench --help).
  passwd [PASSWORD] print the hashed form of a password for accounts[].password
                    (reads standard input without an argument).
  --help            this text
  --version         print the version

In JSON, a string that is not printable UTF-8 appears as {"hex": "..."};
encode accepts that form for any string, and TLVs under numeric keys.
]]

local function err(fmt, ...)
    io.stderr:write(string.format(fmt, ...), "\n")
end

-- -- decode ------------------------------------------------------------------

local function read_all_args(args, from)
    local parts = {}
    for i = from, #args do parts[#parts + 1] = args[i] end
    if #parts == 0 or (#parts == 1 and parts[1] == "-") then
        return io.stdin:read("*a")
    end
    return table.concat(parts, " ")
end

function M.decode(args)
    local text = read_all_args(args, 2)
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
        if not len then
            -- command_length unusable: decode reports why, and framing ends here
            local _, st, msg = smpp.decode(rest)
            err("PDU %d: %s: %s", n + 1, smpp.status_name(st) or st, msg)
            return 1
        elseif len == 0 then
            local _, st, msg = smpp.decode(rest)
            err("PDU %d: %s: %s", n + 1, smpp.status_name(st) or st, msg)
            return 1
        end
        n = n + 1
        local pdu, st, msg, hdr = smpp.decode(rest:sub(1, len))
        if pdu then
            io.stdout:write(json.encode_pdu(pdu), "\n")
        else
            err("PDU %d (%s, sequence_number %d): %s: %s", n,
                hdr.command or string.format("command_id 0x%08X", hdr.command_id),
                hdr.sequence_number, smpp.status_name(st) or st, msg)
            rc = 1
        end
        pos = pos + len
    end
    return rc
end

-- -- encode ------------------------------------------------------------------

function M.encode(args)
    local text = read_all_args(args, 2)
    local value, why = cjson.decode(text)
    if value == nil then
        err("encode: invalid JSON: %s", why)
        return 2
    end
    if type(value) ~= "table" then
        err("encode: expected a JSON object or an array of objects")
        return 2
    end
    local list = value[1] and value or { value }
    local rc = 0
    for i, obj in ipairs(list) do
        local ok, pdu = pcall(json.decode_value, obj)
        local bytes, msg
        if ok then bytes, msg = smpp.encode(pdu) else msg = pdu end
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
    local conf, listen, http, store = nil, nil, nil, nil
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
    return { conf = conf or "conf/smppgw.lua", listen = listen, http = http, store = store }
end

function M.run(args, from)
    local opts, why = run_args(args, from or 2)
    if not opts then
        err("smppgw: %s", why)
        return 2
    end
    return require("smpp.server").run(opts.conf, { listen = opts.listen, http = opts.http, store = opts.store })
end

function M.check(args)
    local opts, why = run_args(args, 2)
    if not opts then
        err("smppgw check: %s", why)
        return 2
    end
    local conf, handlers, listen = require("smpp.server").prepare(opts.conf, { listen = opts.listen,
                                                                            store = opts.store })
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
    -- beside the configuration), and its pages are checked
    local st, why = require("smpp.server").open_store(conf, opts.conf, { quick_check = true })
    if not st then
        err("%s", why)
        return 1
    end
    local s = st:stats()
    st:close()
    local stored = string.format("; store: %d messages, %d in outboxes", s.messages.value, s.outbox.value)
    io.stdout:write(string.format("%s: ok (listen %s; %d accounts; handlers: %s%s)\n", opts.conf,
        table.concat(where, ", "), #(conf.accounts or {}), table.concat(names, ", "), stored))
    return 0
end

function M.main(args)
    local verb = args[1]
    if verb == nil or verb == "--help" or verb == "-h" or verb == "help" then
        io.stdout:write(USAGE)
        return verb == nil and 2 or 0
    elseif verb == "--version" or verb == "-V" then
        io.stdout:write("smppgw ", smpp.version, " (SMPP 3.4)\n")
        return 0
    elseif verb == "decode" or verb == "encode" or verb == "run" or verb == "check" then
        return M[verb](args)
    elseif verb == "send" then
        return require("smpp.send").run(args)
    elseif verb == "passwd" then
        -- smppgw passwd [PASSWORD]: the hashed form for an account's password
        local pw = args[2] or io.stdin:read("*l")
        if not pw or pw == "" then
            err("usage: smppgw passwd PASSWORD   (or the password on standard input)")
            return 2
        end
        io.stdout:write(require("smpp.security").hash(pw), "\n")
        return 0
    elseif verb:match("%.lua$") or verb == "-l" or verb == "--listen" then
        return M.run(args, 1)               -- smppgw CONFIG: run is the default verb
    end
    err("smppgw: unknown command '%s' (try smppgw --help)", tostring(verb))
    return 2
end

return M
