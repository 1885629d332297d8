-- core/gen/config_keys.lua -- the table of every configuration key, made
-- from the schema of lua/smpp/config.lua (its type, default and doc), for
-- docs/operations.md. `make docs` writes it there between the two
-- markers below; spec/docs_spec.lua checks the file holds what this
-- prints, so the documented keys and defaults are the schema's.
--   luajit core/gen/config_keys.lua            print the table
--   luajit core/gen/config_keys.lua FILE       replace the table in FILE
local config = require "smpp.config"

local BEGIN = "<!-- config keys: made by core/gen/config_keys.lua from lua/smpp/config.lua (make docs); do not edit -->"
local END = "<!-- end of config keys -->"

local function show(v)
    if type(v) == "string" then return string.format('`"%s"`', v) end
    if type(v) == "table" then
        local out = {}
        for i, x in ipairs(v) do out[i] = type(x) == "string" and string.format('"%s"', x) or tostring(x) end
        return "`{" .. table.concat(out, ", ") .. "}`"
    end
    return "`" .. tostring(v) .. "`"
end

local function type_of(f)
    if f.type == "list" then return "list of " .. type_of(f.of) end
    if f.type == "enum" then
        local vs = {}
        for i, v in ipairs(f.values) do vs[i] = v end
        return table.concat(vs, " \\| ")
    end
    local t = f.type == "table" and (f.fields and not f.free and "table" or "table (free)") or f.type
    if f.min and f.max then return string.format("%s %s..%s", t, f.min, f.max) end
    if f.min then return string.format("%s >= %s", t, f.min) end
    if f.above then return string.format("%s > %s", t, f.above) end
    if f.type == "string" and (f.max or f.nonempty) then
        return "string" .. (f.nonempty and ", not empty" or "") .. (f.max and string.format(", at most %d", f.max) or "")
    end
    return t
end

local function default_of(f)
    if f.default ~= nil then
        if type(f.default) == "table" and next(f.default) == nil then return "" end
        return show(f.default)
    end
    if f.derived then return "derived: " .. f.derived end
    if f.required then return "required" end
    return ""
end

local function sorted(fields)
    local keys = {}
    for k in pairs(fields) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end

-- rows(spec, prefix, out): one row per key, depth first, in key order
local function rows(fields, prefix, out)
    for _, k in ipairs(sorted(fields)) do
        local f = fields[k]
        local path = prefix .. k
        local inner = f.type == "list" and f.of or f
        local shown = f.type == "list" and inner.fields and path .. "[]" or path
        out[#out + 1] = string.format("| `%s` | %s | %s | %s |", shown, type_of(f), default_of(f),
                                      (f.doc or ""):gsub("|", "\\|"))
        if inner.fields and not inner.free then rows(inner.fields, shown .. ".", out) end
    end
    return out
end

local function table_text()
    local out = { BEGIN, "", "| key | type | default | meaning |", "| --- | --- | --- | --- |" }
    rows(config.schema.fields, "", out)
    out[#out + 1] = ""
    out[#out + 1] = END
    return table.concat(out, "\n")
end

local M = { BEGIN = BEGIN, END = END, text = table_text }

-- replace(path): the table in that file rewritten; an error when the
-- markers are missing
function M.replace(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    local a = s:find(BEGIN, 1, true)
    local b = s:find(END, 1, true)
    assert(a and b and b > a, path .. ": the config keys markers are missing")
    s = s:sub(1, a - 1) .. table_text() .. s:sub(b + #END)
    f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
end

if arg and arg[0] and arg[0]:match("config_keys%.lua$") then
    if arg[1] then M.replace(arg[1]) else io.write(table_text(), "\n") end
end

return M
