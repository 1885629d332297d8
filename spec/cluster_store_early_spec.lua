-- Early receipts on the Redis store (a receipt that comes before its
-- message's submit_sm_resp waits in Redis, and the answer's script hands
-- it back): it stays in Redis until it is in the account's stream. An
-- append Redis refuses, or a node that dies before it appends, leaves it
-- in the upstream's "being matched" set, and a node matches it again after
-- claim_after; the record is final only once the receipt is in the stream.
-- Redis' ACL makes the account's stream unwritable for a while: the same
-- failure every time, with no timing to win.
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local ROK = gwr.ROK

-- every key but the accounts' streams (smppgw:{a:...}) is writable
local function lock_accounts(r)
    assert.are.equal("OK", r:cmd("ACL", "SETUSER", "default", "resetkeys", "~smppgw:[^{]*", "~smppgw:{[^a]*"))
end

local function unlock(r) assert.are.equal("OK", r:cmd("ACL", "SETUSER", "default", "allkeys")) end

-- the next receipt on receiver rx, answered -> its id
local function receipt(rx, timeout)
    local p = rx:expect(function(p) return p.id == wire.id.deliver_sm end, timeout or 10)
    if not p then return nil end
    rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
    return wire.parse_sm(p.body).short_message:match("^id:(%S+) ")
end

describe("cluster store early receipts", function()
    it("keep an early receipt whose append Redis refused, and pass it on once the stream takes it", function()
        local r = redis.start()
        local up = gwr.upstream(wait.scaled(0.5))
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local rx = wire.connect(a.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        lock_accounts(r)
        local ok, err = pcall(function()
            local id = gwr.submit_all(a, { "rcpt-early-slow-locked" })[1]
            -- the receipt came first, was kept, handed back with the answer, and its append refused
            assert.is_true(wait.wait_until(function()
                local st = a:stats().cluster.store
                return st.receipts_early == 1 and st.rx_append_failed >= 1
            end, 10), a:log_text():sub(-2000))
            assert.is_nil(r:cmd("HGET", "smppgw:{u:U}m:" .. id, "final"), "final before the receipt is stored")
            assert.are.equal(1, r:cmd("ZCARD", "smppgw:{u:U}p"), "the receipt waits in the being-matched set")
            unlock(r)
            assert.are.equal(id, receipt(rx, 10), "the receipt reaches the ESME")
            assert.is_true(wait.wait_until(function()
                return r:cmd("HGET", "smppgw:{u:U}m:" .. id, "final") == "1"
                    and r:cmd("HGET", "smppgw:{u:U}m:" .. id, "state") == "2"
                    and r:cmd("ZCARD", "smppgw:{u:U}p") == 0 and r:cmd("XLEN", "smppgw:{a:esme1}r") == 0
            end, 10), "the record final, the set and the stream empty")
            assert.is_true(a:stats().cluster.store.receipts_early_swept >= 1)
            assert.is_nil(receipt(rx, 1.5), "a second copy")
        end)
        unlock(r)
        assert(ok, err)
    end)

    it("keep an early receipt whose node died before appending it: another node passes it on", function()
        local r = redis.start()
        local up = gwr.upstream(wait.scaled(0.5))
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local b = gwr.node(r, redis.free_port())     -- no bind to U: sweeps, and holds the ESME's receiver
        local rx = wire.connect(b.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        lock_accounts(r)
        local ok, err = pcall(function()
            local id = gwr.submit_all(a, { "rcpt-early-slow-dies" })[1]
            assert.is_true(wait.wait_until(function()
                return a:stats().cluster.store.rx_append_failed >= 1
            end, 10), a:log_text():sub(-2000))
            a:kill()
            unlock(r)
            assert.are.equal(id, receipt(rx, 10), "the receipt reaches the ESME through b")
            assert.is_true(b:wait_log("matched again 1 early receipts of U", 5), b:log_text():sub(-2000))
            assert.is_true(wait.wait_until(function()
                return r:cmd("HGET", "smppgw:{u:U}m:" .. id, "final") == "1" and r:cmd("ZCARD", "smppgw:{u:U}p") == 0
            end, 10), "the record final and the set empty")
        end)
        unlock(r)
        assert(ok, err)
    end)
end)
