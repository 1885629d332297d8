-- core/gen/defaults.lua SECTION PREFIX [all] -- writes a C header of the
-- defaults of one section of the schema in lua/smpp/config.lua, one
-- "#define PREFIX_key value" each (in the config's units: seconds for
-- times), and PREFIX_COUNT. make runs it with luajit for
-- build/gen/sess_defaults.h (session, SESS_DEFAULT, all: every option
-- must have one; sess.h's SESS_CONFIG_MAP maps each to its sess_config_t
-- field and sess.c checks that both list the same keys) and
-- build/gen/http_defaults.h (http, HTTP_DEFAULT: http_opts_default()).
-- The schema is the one place a default is written.
local config = require "smpp.config"

local section, prefix, all = arg[1], arg[2], arg[3] == "all"
assert(section and prefix, "usage: luajit core/gen/defaults.lua SECTION PREFIX [all]")
local defaults, keys = config.defaults(section), {}
for k, f in pairs(config.schema.fields[section].fields) do
    if f.default ~= nil then
        keys[#keys + 1] = k
    else
        assert(not all, "lua/smpp/config.lua: " .. section .. "." .. k .. " has no default")
    end
end
table.sort(keys)

local guard = "SMPPGW_" .. prefix .. "S_H"
local out = {
    string.format("/* generated from lua/smpp/config.lua by core/gen/defaults.lua %s %s:", section, prefix),
    " * do not edit. The default of each " .. section .. " option that has one, in the",
    " * config's units (seconds for times). */",
    "#ifndef " .. guard,
    "#define " .. guard,
    "",
}
for _, k in ipairs(keys) do
    local v = defaults[k]
    assert(type(v) == "number" and v >= 0, section .. "." .. k .. ": a default must be a number >= 0")
    out[#out + 1] = string.format("#define %s_%s %s", prefix, k, v == math.floor(v) and string.format("%d", v)
        or string.format("%.17g", v))
end
out[#out + 1] = ""
out[#out + 1] = string.format("#define %s_COUNT %d", prefix, #keys)
out[#out + 1] = ""
out[#out + 1] = "#endif"
io.write(table.concat(out, "\n"), "\n")
