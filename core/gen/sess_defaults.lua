-- core/gen/sess_defaults.lua -- writes build/gen/sess_defaults.h (make runs it with
-- luajit): the defaults of the session options, read from the schema of
-- lua/smpp/config.lua, for sess_config_default(). The schema is the one
-- place a default is written; sess.h's SESS_CONFIG_MAP maps each option to
-- its sess_config_t field, and sess.c checks that both list the same keys.
local config = require "smpp.config"

local defaults, keys = config.defaults("session"), {}
for k, f in pairs(config.schema.fields.session.fields) do
    assert(f.default ~= nil, "lua/smpp/config.lua: session." .. k .. " has no default")
    keys[#keys + 1] = k
end
table.sort(keys)

local out = {
    "/* sess_defaults.h -- generated from lua/smpp/config.lua by core/gen/sess_defaults.lua:",
    " * do not edit. The default of each session option, in the config's units",
    " * (seconds for times). */",
    "#ifndef SMPPGW_SESS_DEFAULTS_H",
    "#define SMPPGW_SESS_DEFAULTS_H",
    "",
}
for _, k in ipairs(keys) do
    local v = defaults[k]
    assert(type(v) == "number" and v >= 0, "session." .. k .. ": a default must be a number >= 0")
    out[#out + 1] = string.format("#define SESS_DEFAULT_%s %s", k, v == math.floor(v) and string.format("%d", v)
        or string.format("%.17g", v))
end
out[#out + 1] = ""
out[#out + 1] = string.format("#define SESS_DEFAULT_COUNT %d", #keys)
out[#out + 1] = ""
out[#out + 1] = "#endif"
io.write(table.concat(out, "\n"), "\n")
