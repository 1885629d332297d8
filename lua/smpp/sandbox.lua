-- smpp.sandbox -- the environment a behaviour script runs in, and the load
-- of a script into it.
--
-- The environment is built from the allow-list below (M.allow, the one
-- place that says what scripts may reach), never by copying _G and hiding
-- names. It is locked: reading a global nobody declared raises, and so does
-- declaring one after the script's main chunk has run (declaring top-level
-- globals while loading is allowed, with a warning naming the line).
-- Modules come from `require`, which hands out read-only views of the
-- smpp modules meant for scripts, without the functions that would give a
-- way back out (loading code, reading or writing files, the runtime's
-- internals); read-only all the way down, so that no table the runtime
-- reads can be changed by a script, and the script's configuration is a
-- copy of the runtime's. scripts.allow = { "io", "os", "debug", "files", "ffi" } opts
-- in to more, one capability at a time: each one can break the containment
-- (docs/scripting.md, "The sandbox and the budgets").
--
-- The functions whose cost depends on their input come from core.lstring:
-- patterns that the script budget stops, rep and concat bounded by
-- scripts.max_string. Script chunks run with the JIT off for every function
-- they define (the budget hook does not run in compiled code); the library
-- code they call stays compiled.
local core = require "smpp.core"
local config = require "smpp.config"

local lstring = core.lstring
local session_fields = require("smpp.session").fields_of
local M = {}

-- -- The allow-list ----------------------------------------------------------------
-- To give scripts a standard function: add its name to its library's list.
-- To give them an smpp module: add it under `modules` with the fields they
-- must not get (`hide`), or the only ones they may (`only`); `from` (and
-- `field`) names what scripts get under that name instead of the module
-- itself (require(from)[field]); `swap` gives a field the module's
-- function of another name (what scripts get instead); a field that
-- takes a file path is listed under `confine` (it then accepts paths inside
-- the configuration's directory only); a function that returns one of the
-- module's own tables under `results` (the script gets a read-only view).
-- Everything else is read-only, deep (a script changes a module's state
-- only through its functions). A module absent here
-- cannot be required by scripts.
M.allow = {
    -- base functions handed as they are (pairs, ipairs, next, getmetatable,
    -- setmetatable, rawset, xpcall, collectgarbage, print and require are
    -- the sandbox's own, below)
    base = { "assert", "error", "pcall", "rawequal", "rawget", "select", "tonumber", "tostring", "type",
             "unpack", "_VERSION" },
    string = { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep", "reverse",
               "sub", "upper" },
    table = { "concat", "insert", "maxn", "remove", "sort" },
    math = { "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor", "fmod",
             "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow", "rad", "random",
             "randomseed", "sin", "sinh", "sqrt", "tan", "tanh" },
    bit = { "arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol", "ror", "rshift", "tobit", "tohex" },
    coroutine = { "create", "isyieldable", "resume", "running", "status", "wrap", "yield" },
    os = { "clock", "date", "difftime", "time" },
    modules = {
        ["smpp"] = { results = { "command_info", "tlv_info" } },     -- rows of the codec's tables
        ["smpp.address"] = {},
        ["smpp.checks"] = {},
        ["smpp.codec"] = {},
        ["smpp.config"] = { hide = { "load" } },                       -- runs a file
        ["smpp.fifo"] = {},
        ["smpp.gateway"] = {},
        ["smpp.gateway_script"] = {},
        ["smpp.hex"] = {},
        ["smpp.http"] = { hide = { "start", "set_send", "set_accounts", "replace", "script_routes_begin",
                                   "script_routes_end" } },   -- the runtime's
        ["smpp.json"] = {},
        ["smpp.mo"] = {},
        ["smpp.msgid"] = {},
        ["smpp.ratelimit"] = {},
        ["smpp.receipt"] = {},
        ["smpp.router"] = { confine = { "load_json" } },
        ["smpp.security"] = { hide = { "configure" } },
        ["smpp.server"] = { only = { "check_bind", "alphabet", "address", "accounts", "limits" } },
        ["smpp.smsc"] = { hide = { "active" } },                      -- the process's scheduler
        ["smpp.split"] = {},
        -- open any path; current() hands out the runtime's store behind a guard (no close)
        ["smpp.store"] = { hide = { "open", "from_config", "use", "use_runtime" },
                           swap = { current = "script_current" } },
        ["smpp.text"] = {},
        ["smpp.time"] = {},
        -- a link's description, not the link (its slots and methods are the gateway's)
        ["smpp.upstream"] = { hide = { "configure", "on_outbind", "on_down" },
                              swap = { get = "script_get", link_of = "script_link_of" },
                              results = { "get", "link_of" } },
        ["smpp.webhook"] = { only = { "has", "stats", "body" } },
        -- not the knobs (decode_max_depth...): they are the whole process's; and
        -- not lua-cjson's encode, which builds its text in one C call outside the
        -- heap: smpp.script_json's, walked in Lua and bounded by scripts.max_string
        ["cjson"] = { from = "smpp.script_json", only = { "encode", "decode", "null" } },
        ["cjson.safe"] = { from = "smpp.script_json", field = "safe", only = { "encode", "decode", "null" } },
    },
    -- scripts.allow: what each capability adds (see `capabilities` below)
    capabilities = { "io", "os", "debug", "files", "ffi" },
}

-- -- Pieces ----------------------------------------------------------------------------

local function set_of(list)
    local s = {}
    for _, v in ipairs(list or {}) do s[v] = true end
    return s
end

-- A copy of the listed fields of `from` (taking `over`'s where it has
-- them); reading any other field raises, naming it.
local function library(name, names, from, over)
    local t = {}
    for _, k in ipairs(names) do
        local v = over and over[k]
        if v == nil then v = from[k] end
        t[k] = v
    end
    return setmetatable(t, { __index = function(_, k)
        error(string.format("%s.%s is not available to scripts", name, tostring(k)), 2)
    end })
end

-- Is `path` inside `dir` (both as the configuration names them; no `..`)?
local function inside(path, dir)
    if type(path) ~= "string" or path:sub(1, #dir) ~= dir then return false end
    for seg in path:sub(#dir + 1):gmatch("[^/]+") do
        if seg == ".." then return false end
    end
    return true
end

-- -- Read-only views -----------------------------------------------------------------
-- Everything a script reaches through a module is read through a view: an
-- empty table whose protected metatable reads the real table and refuses
-- assignments, so no table the runtime reads can be changed by a script
-- (smpp.status, whose values the bind check returns; smpp.Session, the
-- class of every session; smpp.codec; config.schema, which validates a
-- reload). Deep: a table read through a view comes out as a view of its
-- own, one per table and environment (smpp.status == smpp.status holds).
-- A table below a module with no table among its values and no metatable
-- when its view is made (smpp.status) is read through __index = itself,
-- as fast as the table and live; modules and the other tables through a
-- function that wraps what it reads. Functions come out as they are: what
-- they return is the script's own, except the shared tables of the
-- functions an allow-list entry names under `results`, which come out as
-- views too. pairs, ipairs and next walk a view as the table it shows;
-- rawset, table.insert, table.remove and table.sort refuse it; #, rawget
-- and C functions see it empty.

-- Can t be read through __index = t without handing out a table?
local function flat(t)
    if getmetatable(t) ~= nil then return false end
    for _, v in next, t do
        if type(v) == "table" then return false end
    end
    return true
end

local function refuse_write(name)
    return function(_, k)
        error(string.format("%s is read-only in scripts (assigning '%s')", name, tostring(k)), 2)
    end
end

-- readonly(ctx, t, name) -> the view of t in this environment (`name`
-- says what it is in errors).
local function readonly(ctx, t, name)
    local v = ctx.views[t]
    if v then return v end
    local mt = { __metatable = false, __newindex = refuse_write(name) }
    if flat(t) then
        mt.__index = t
    else
        mt.__index = function(_, k)
            local x = t[k]
            if type(x) == "table" then return readonly(ctx, x, name .. "." .. tostring(k)) end
            return x
        end
    end
    v = setmetatable({}, mt)
    ctx.views[t], ctx.shown[v] = v, t
    return v
end

-- A view of module `mod` as the allow-list's `spec` says: a hidden field
-- is a function that raises when called, a confined one a wrapper, a
-- `results` one a wrapper that hands out its table results as views;
-- these live in `own`, under the view, so that the view itself
-- stays empty and every assignment to it is refused. The rest is read
-- from the module, deep (above), whatever the module holds by then. With
-- `only`, `own` holds those fields and nothing else is there.
local function view(name, mod, spec, ctx)
    local own = {}
    local function refuse(k)
        return function() error(string.format("%s.%s is not available to scripts", name, k), 2) end
    end
    for _, k in ipairs(spec.hide or {}) do own[k] = refuse(k) end
    for k, instead in pairs(spec.swap or {}) do own[k] = mod[instead] end
    for _, k in ipairs(spec.confine or {}) do
        local fn = mod[k]
        own[k] = function(path, ...)
            if not ctx.files and not inside(path, ctx.dir) then
                error(string.format("%s.%s: %s is outside the configuration's directory %s "
                    .. "(scripts.allow \"files\" lifts this)", name, k, tostring(path), ctx.dir), 2)
            end
            return fn(path, ...)
        end
    end
    for _, k in ipairs(spec.results or {}) do
        local fn = own[k] or mod[k]                 -- a swapped function's results too
        own[k] = function(...)
            local r = fn(...)
            if type(r) == "table" then return readonly(ctx, r, name .. "." .. k .. "()") end
            return r
        end
    end
    local below
    if spec.only then                   -- functions the module defines once: copied
        for _, k in ipairs(spec.only) do own[k] = mod[k] end
        below = function(_, k)
            error(string.format("%s.%s is not available to scripts", name, tostring(k)), 2)
        end
    else                                -- never flat: a module may store a table in itself later
        below = function(_, k)
            local x = mod[k]
            if type(x) == "table" then return readonly(ctx, x, name .. "." .. tostring(k)) end
            return x
        end
    end
    setmetatable(own, { __index = below })
    local v = setmetatable({}, { __metatable = false, __index = own,
                                 __newindex = refuse_write("module " .. name) })
    ctx.shown[v] = spec.only and own or mod
    return v
end

-- pairs, ipairs and next of the environment: a view is walked as the table
-- it shows (its keys, its values as the view gives them).
local function view_iterators(ctx)
    local function view_next(t, k)
        local real = ctx.shown[t]
        if real == nil then return next(t, k) end
        local nk = next(real, k)
        if nk == nil then return nil end
        return nk, t[nk]
    end
    local function view_inext(t, i)
        i = i + 1
        local x = t[i]
        if x ~= nil then return i, x end
    end
    local function env_pairs(t)
        if ctx.shown[t] then return view_next, t, nil end
        local f, s, c = pairs(t)
        return f, s, c
    end
    local function env_ipairs(t)
        if ctx.shown[t] then return view_inext, t, 0 end
        local f, s, c = ipairs(t)
        return f, s, c
    end
    return view_next, env_pairs, env_ipairs
end

-- A deep copy of a plain value (tables copied, cycles kept): the script's
-- own copy of its configuration, which the runtime goes on reading.
local function copy(v, seen)
    if type(v) ~= "table" then return v end
    seen = seen or {}
    if seen[v] then return seen[v] end
    local out = {}
    seen[v] = out
    for k, x in next, v do out[copy(k, seen)] = copy(x, seen) end
    return out
end

-- xpcall(f, handler, ...): the handler runs after the error has unwound,
-- as an ordinary call. LuaJIT runs a message handler with hooks held off
-- when the error came from the budget hook: a handler that loops would
-- never be stopped. Scripts have no debug library, so the stack the
-- handler would see makes no difference to them.
local function pack(...) return { n = select("#", ...), ... } end
local function safe_xpcall(f, handler, ...)
    local r = pack(pcall(f, ...))
    if r[1] then return unpack(r, 1, r.n) end
    local ok, v = pcall(handler, r[2])
    if ok then return false, v end
    return false, "error in error handling"
end

-- coroutine.resume(co, ...), but not of a task's coroutine (a handler's,
-- found with coroutine.running): only the runtime resumes those, when what
-- they wait for has come. Each resume nests a C call of LuaJIT's that no
-- Lua stack bounds (every coroutine has its own): it goes through
-- core.nest, which counts the levels against the run's bound, and so does
-- every call of a function coroutine.wrap made; table.sort asks the C
-- stack bound first (its comparator may sort).
local resume, wrap, sort = coroutine.resume, coroutine.wrap, table.sort
local nest, cstack_check = core.nest, core.cstack_check
local function safe_resume(co, ...)
    if type(co) ~= "thread" then
        error("bad argument #1 to 'resume' (coroutine expected, got " .. type(co) .. ")", 2)
    end
    if core.is_task(co) then
        error("coroutine.resume: that coroutine is a handler's task; only the runtime resumes it", 2)
    end
    return nest(resume, co, ...)
end

local function safe_wrap(f)
    local w = wrap(f)
    return function(...)
        return nest(w, ...)
    end
end


-- -- Capabilities (scripts.allow) -----------------------------------------------------

local capabilities = {
    io = function(env, mods) env.io, mods.io = io, io end,
    os = function(env, mods) env.os, mods.os = os, os end,
    debug = function(env, mods) env.debug, mods.debug = debug, debug end,
    ffi = function(_, mods) mods.ffi = require "ffi" end,
    -- loadfile and dofile whose chunks run in this environment, like the script
    files = function(env, _, ctx)
        local function load_file(path)
            local chunk, err = loadfile(path)
            if not chunk then return nil, err end
            setfenv(chunk, env)
            if not ctx.jit then jit.off(chunk, true) end
            return chunk
        end
        env.loadfile = load_file
        env.dofile = function(path, ...)
            local chunk = assert(load_file(path))
            return chunk(...)
        end
    end,
}

-- -- The environment --------------------------------------------------------------------

-- environment(path, conf_path, allow_list, opts) -> env, state: a new
-- environment for the script at `path`; state.loading = false once its main
-- chunk has run (new globals are refused from then on). opts.jit: chunks
-- loaded through "files" keep the JIT.
function M.environment(path, conf_path, allow_list, opts)
    local allow = set_of(allow_list)
    for name in pairs(allow) do
        if not capabilities[name] then
            error(string.format("scripts.allow: unknown capability '%s' (known: %s)", tostring(name),
                table.concat(M.allow.capabilities, ", ")), 2)
        end
    end
    local ctx = { dir = config.dir_of(conf_path or path), files = allow.files, jit = opts and opts.jit,
                  views = setmetatable({}, { __mode = "kv" }),     -- table -> its view
                  -- view -> the table it shows; a session (a view the engine made) shows its fields
                  shown = setmetatable({}, { __mode = "k", __index = function(_, v) return session_fields(v) end }),
                  own_mt = setmetatable({}, { __mode = "k" }) }    -- metatables the script set
    local state = { loading = true }
    local env = {}
    for _, k in ipairs(M.allow.base) do env[k] = _G[k] end
    local function refuse_view(t, fn)
        if ctx.shown[t] then error(string.format("%s: the table is read-only in scripts", fn), 3) end
    end
    local tablelib = {
        concat = lstring.concat,
        insert = function(t, ...)
            refuse_view(t, "table.insert")
            table.insert(t, ...)
        end,
        remove = function(t, ...)
            refuse_view(t, "table.remove")
            return (table.remove(t, ...))
        end,
        sort = function(t, cmp)                       -- a comparator may sort: the C stack bound first
            refuse_view(t, "table.sort")
            cstack_check()
            sort(t, cmp)
        end,
    }
    env.string = library("string", M.allow.string, string, lstring)
    env.table = library("table", M.allow.table, table, tablelib)
    env.math = library("math", M.allow.math, math)
    env.bit = library("bit", M.allow.bit, bit)
    env.coroutine = library("coroutine", M.allow.coroutine, coroutine, { resume = safe_resume, wrap = safe_wrap })
    env.os = library("os", M.allow.os, os)
    env._G = env
    env.next, env.pairs, env.ipairs = view_iterators(ctx)
    -- no way to the string metatable, or a userdata's; a metatable the
    -- runtime set (a session's class, a router's) comes out as a view
    env.getmetatable = function(v)
        if type(v) ~= "table" then return nil end
        local mt = getmetatable(v)
        if type(mt) ~= "table" or ctx.own_mt[mt] then return mt end
        return readonly(ctx, mt, "the metatable of a runtime object")
    end
    env.setmetatable = function(t, mt)
        if type(mt) == "table" then ctx.own_mt[mt] = true end
        local r = setmetatable(t, mt)
        return r
    end
    env.rawset = function(t, k, v)
        if t == env then error("rawset on the script's environment is not allowed", 2) end
        if ctx.shown[t] then error("rawset: the table is read-only in scripts", 2) end
        local r = rawset(t, k, v)
        return r
    end
    env.xpcall = safe_xpcall
    env.collectgarbage = function(what)
        if what == "count" then return collectgarbage("count") end
        error("collectgarbage: scripts may only ask for \"count\"", 2)
    end
    env.print = function(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        require("smpp").log("info", "%s: %s", path, table.concat(parts, "\t"))
    end

    local mods = { string = env.string, table = env.table, math = env.math, bit = env.bit,
                   coroutine = env.coroutine, os = env.os }
    for name in pairs(allow) do capabilities[name](env, mods, ctx) end
    local loaded = {}
    env.require = function(name)
        if type(name) ~= "string" then error("require: expects a module name", 2) end
        local v = loaded[name] or mods[name]
        if v then return v end
        local spec = M.allow.modules[name]
        if spec then
            local mod = require(spec.from or name)
            if spec.field then mod = mod[spec.field] end
            v = view(name, mod, spec, ctx)
            loaded[name] = v
            return v
        end
        for _, cap in ipairs(M.allow.capabilities) do
            if name == cap then
                error(string.format("module '%s' is not allowed in scripts (scripts.allow = { \"%s\" } opts in: "
                    .. "it can break the script's containment)", name, name), 2)
            end
        end
        error(string.format("module '%s' is not available to scripts", name), 2)
    end

    local reported = {}
    return setmetatable(env, {
        __metatable = false,
        __index = function(_, k)
            error(string.format("undeclared global '%s'", tostring(k)), 2)
        end,
        __newindex = function(t, k, v)
            local info = debug.getinfo(2, "Sl")
            local where = info and info.currentline or "?"
            if not state.loading then
                error(string.format("assignment to undeclared global '%s' (declare it at the top of the "
                    .. "script, or use a local)", tostring(k)), 2)
            end
            if not reported[k] then
                reported[k] = true
                require("smpp").log("warn", "%s:%s sets the global '%s' (a missing local?)", path, where, tostring(k))
            end
            rawset(t, k, v)
        end,
    }), state
end

-- load(path, conf, conf_path) -> what the script's main chunk returned |
-- nil, message. The chunk runs in a new environment with (a copy of conf,
-- conf_path) as `...` (the runtime goes on reading conf: accounts and
-- their passwords among others), as a run of script code under the budget
-- (core.budget_call);
-- scripts.jit = true keeps the JIT on for it (then a loop the JIT compiled
-- cannot be interrupted: the watchdog ends the process).
function M.load(path, conf, conf_path)
    local sc = config.with_defaults("scripts", conf and conf.scripts)
    local chunk, err = loadfile(path)
    if not chunk then return nil, err end
    local ok, env, state = pcall(M.environment, path, conf_path, sc.allow, { jit = sc.jit })
    if not ok then return nil, env end
    setfenv(chunk, env)
    if not sc.jit then jit.off(chunk, true) end
    local done, result = core.budget_call("load of " .. path, chunk, copy(conf), conf_path)
    state.loading = false
    if not done then
        -- what a load stopped at the heap's ceiling made is garbage now:
        -- collected before anything is allocated (the message), which
        -- would stop the run that reloads at the ceiling too
        collectgarbage("collect")
        return nil, path .. ": " .. M.error_text(result)
    end
    return result
end

-- error_text(e) -> a string for a script's error value, whatever it is: an
-- error object whose __tostring raises (or returns no string) is named, not
-- raised again out of the runtime's own code.
function M.error_text(e)
    if type(e) == "string" then return e end
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
    return "an error object whose __tostring failed" .. (type(s) == "string" and ": " .. s or "")
end

return M
