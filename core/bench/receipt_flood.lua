-- core/bench/receipt_flood.lua -- an upstream that replays receipts for
-- ids it never issued (as one restarted with old receipts would): once the
-- gateway binds, `tasks` tasks send `count` deliver_sm receipts in all,
-- each waiting for its answer, and the answers are counted by status.
-- Used by spec/receipts_flood_spec.lua and core/bench/receipt_flood.sh.
-- Its values, where a test SMSC keeps its own (conf.smsc.params):
-- { count = 300000, tasks = 50, system_id = "gw" }
local smpp = require "smpp"

local conf = ...
local p = conf and conf.smsc and conf.smsc.params or {}
local COUNT, TASKS, SYSTEM_ID = p.count or 300000, p.tasks or 50, p.system_id or "gw"
local by_status, sent, done, started = {}, 0, 0, nil

local function flood(session)
    while sent < COUNT do
        sent = sent + 1
        local id = "9" .. sent                      -- no message of the gateway has these ids
        local resp, err = session:send { command = "deliver_sm", esm_class = 4,
            source_addr = "447700900123", destination_addr = "1234", receipted_message_id = id,
            message_state = 2,
            short_message = "id:" .. id .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:DELIVRD err:000 text:" }
        local k = resp and (smpp.status_name(resp.command_status) or resp.command_status) or tostring(err)
        by_status[k] = (by_status[k] or 0) + 1
    end
    done = done + 1
    if done == TASKS then
        local parts = {}
        for k, v in pairs(by_status) do parts[#parts + 1] = k .. "=" .. v end
        table.sort(parts)
        smpp.log("info", "flood done: %d receipts in %.3f s: %s", COUNT, smpp.clock() - started,
                 table.concat(parts, " "))
    end
end

return {
    start = function()
        local timer
        timer = smpp.every(0.02, function()
            local s = smpp.sessions { system_id = SYSTEM_ID, side = "server", bound = true }[1]
            if not s or started then return end
            smpp.cancel(timer)
            started = smpp.clock()
            smpp.log("info", "flood: %d receipts from %d tasks", COUNT, TASKS)
            for _ = 1, TASKS do smpp.after(0, function() flood(s) end) end
        end)
    end,
}
