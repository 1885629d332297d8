-- helpers.cleanup -- what a spec starts is undone when the test, describe
-- or file that started it ends, whether its asserts passed or not.
--
-- The helpers register their own undo (server.start stops the server,
-- wire.connect closes the client, tmp.dir removes the directory), so a spec
-- cannot forget it. Scopes follow busted's events: a resource made inside an
-- `it` (or its `finally`) goes when that test ends; one made in a describe's
-- `setup` when the describe ends (after its `teardown`); one made at the top
-- of a file when the file ends; anything else when busted exits. Undo runs
-- newest first, so clients close before the servers they talk to stop.
-- (busted publishes no event around `before_each`: what it starts lives
-- until the describe ends; start per-test resources inside the `it`.)
local M = {}

-- -- Scopes ----------------------------------------------------------------------

-- stack[1] is the whole run; every other entry is { key = busted element }.
-- An entry's array part holds { fn =, what = } undo records, oldest first.
local stack = { { key = "run" } }

local function undo(scope)
    for i = #scope, 1, -1 do
        local rec = scope[i]
        scope[i] = nil
        local ok, err = pcall(rec.fn)
        if not ok then
            io.stderr:write(("cleanup of %s failed: %s\n"):format(rec.what or "?", tostring(err)))
        end
    end
end

-- defer(fn [, what]): run fn when the current scope ends. `what` names the
-- resource in the message printed if fn raises (the run goes on).
function M.defer(fn, what)
    local top = stack[#stack]
    top[#top + 1] = { fn = fn, what = what }
end

-- at_exit(fn [, what]): run fn when the run ends (busted exits).
function M.at_exit(fn, what)
    local run = stack[1]
    run[#run + 1] = { fn = fn, what = what }
end

-- push(key): open a scope for key (a busted element, or any value).
function M.push(key)
    stack[#stack + 1] = { key = key }
end

-- pop(key): close the scopes down to and including key's, newest first. A
-- key without a scope (a test whose before_each failed) closes nothing.
function M.pop(key)
    for i = #stack, 2, -1 do
        if stack[i].key == key then
            for j = #stack, i, -1 do
                undo(stack[j])
                stack[j] = nil
            end
            return
        end
    end
end

-- run_all(): close every scope, the run's included (busted's exit does this;
-- a plain Lua script that uses the helpers calls it at its end).
function M.run_all()
    for j = #stack, 1, -1 do
        undo(stack[j])
        if j > 1 then stack[j] = nil end
    end
end

-- -- busted events ---------------------------------------------------------------
-- Subscribed once per process: spec/helpers/init.lua (the helper named in
-- .busted) loads this module before any spec file, so every file shares it.

local ok, busted = pcall(require, "busted")
if ok and type(busted) == "table" and busted.subscribe then
    for _, kind in ipairs { "file", "describe", "test" } do
        busted.subscribe({ kind, "start" }, function(element)
            M.push(element)
            return nil, true
        end)
        busted.subscribe({ kind, "end" }, function(element)
            M.pop(element)
            return nil, true
        end)
    end
    busted.subscribe({ "exit" }, function()
        M.run_all()
        return nil, true
    end)
end

return M
