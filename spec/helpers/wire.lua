-- helpers.wire -- SMPP bytes built and read by hand, independently of the
-- project's codec (so a codec bug cannot hide itself in the integration
-- specs), and a blocking TCP client on LuaSocket. Every client is closed
-- when the test (or describe) that opened it ends (helpers.cleanup).
local socket = require "socket"
local cleanup = require "helpers.cleanup"
local scaled = require("helpers.wait").scaled

local byte, char, floor = string.byte, string.char, math.floor

local M = {}

function M.u8(n) return char(n % 256) end
function M.u16(n) return char(floor(n / 256) % 256, n % 256) end
function M.u32(n)
    return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end
function M.cstr(s) return s .. "\0" end
function M.get32(s, i)
    local a, b, c, d = byte(s, i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

-- Command ids, typed from the specification (not from the codec).
M.id = {
    generic_nack = 0x80000000, bind_receiver = 1, bind_transmitter = 2, query_sm = 3,
    submit_sm = 4, deliver_sm = 5, unbind = 6, replace_sm = 7, cancel_sm = 8,
    bind_transceiver = 9, outbind = 0x0B, enquire_link = 0x15, submit_multi = 0x21,
    alert_notification = 0x102, data_sm = 0x103,
}
M.RESP = 0x80000000

-- A whole PDU from its header values and body bytes.
function M.pdu(id, seq, body, status)
    body = body or ""
    return M.u32(16 + #body) .. M.u32(id) .. M.u32(status or 0) .. M.u32(seq) .. body
end

function M.bind(kind, seq, system_id, password, system_type)
    return M.pdu(M.id["bind_" .. kind], seq, M.cstr(system_id) .. M.cstr(password)
        .. M.cstr(system_type or "") .. M.u8(0x34) .. M.u8(0) .. M.u8(0) .. M.cstr(""))
end

-- submit_sm (or deliver_sm with id = M.id.deliver_sm) from a few fields.
function M.submit_sm(seq, f, id)
    f = f or {}
    local sm = f.short_message or "hello"
    return M.pdu(id or M.id.submit_sm, seq,
        M.cstr(f.service_type or "") .. M.u8(f.source_addr_ton or 0) .. M.u8(0) .. M.cstr(f.source_addr or "1234")
        .. M.u8(f.dest_addr_ton or 1) .. M.u8(1) .. M.cstr(f.destination_addr or "447700900123")
        .. M.u8(f.esm_class or 0) .. M.u8(0) .. M.u8(f.priority_flag or 0) .. M.cstr(f.schedule_delivery_time or "")
        .. M.cstr(f.validity_period or "")
        .. M.u8(f.registered_delivery or 0) .. M.u8(f.replace_if_present_flag or 0) .. M.u8(f.data_coding or 0) .. M.u8(0)
        .. M.u8(#sm) .. sm .. (f.tlvs or ""))
end

function M.tlv(tag, value) return M.u16(tag) .. M.u16(#value) .. value end

-- Read a PDU's header: {len, id, status, seq, body}.
function M.parse(s)
    return { len = M.get32(s, 1), id = M.get32(s, 5), status = M.get32(s, 9),
             seq = M.get32(s, 13), body = s:sub(17) }
end

-- The C-Octet String at the start of a body (message_id, system_id).
function M.first_cstr(body) return body:match("^([^%z]*)%z") end

-- Read a C-Octet String at position i: value, next position.
local function cstr_at(s, i)
    local j = s:find("\0", i, true)
    return s:sub(i, j - 1), j + 1
end

-- TLVs from position i to the end: tag -> value (last one wins).
function M.parse_tlvs(s, i)
    local t = {}
    while i + 3 <= #s do
        local tag, len = byte(s, i) * 256 + byte(s, i + 1), byte(s, i + 2) * 256 + byte(s, i + 3)
        t[tag] = s:sub(i + 4, i + 3 + len)
        i = i + 4 + len
    end
    return t
end

-- The fields of a submit_sm/deliver_sm body, read by hand.
function M.parse_sm(body)
    local f, i = {}, 1
    f.service_type, i = cstr_at(body, i)
    f.source_addr_ton, f.source_addr_npi = byte(body, i, i + 1)
    f.source_addr, i = cstr_at(body, i + 2)
    f.dest_addr_ton, f.dest_addr_npi = byte(body, i, i + 1)
    f.destination_addr, i = cstr_at(body, i + 2)
    f.esm_class, f.protocol_id, f.priority_flag = byte(body, i, i + 2)
    f.schedule_delivery_time, i = cstr_at(body, i + 3)
    f.validity_period, i = cstr_at(body, i)
    f.registered_delivery, f.replace_if_present_flag, f.data_coding, f.sm_default_msg_id, f.sm_length =
        byte(body, i, i + 4)
    f.short_message = body:sub(i + 5, i + 4 + f.sm_length)
    f.tlvs = M.parse_tlvs(body, i + 5 + f.sm_length)
    return f
end

-- query_sm_resp body: message_id, final_date, message_state, error_code.
function M.parse_query_resp(body)
    local id, i = cstr_at(body, 1)
    local date
    date, i = cstr_at(body, i)
    return { message_id = id, final_date = date, message_state = byte(body, i), error_code = byte(body, i + 1) }
end

-- submit_multi_resp body: message_id and the unsuccess_sme entries.
function M.parse_multi_resp(body)
    local id, i = cstr_at(body, 1)
    local n = byte(body, i)
    local out = { message_id = id, unsuccess = {} }
    i = i + 1
    for k = 1, n do
        local e = { ton = byte(body, i), npi = byte(body, i + 1) }
        e.addr, i = cstr_at(body, i + 2)
        e.status = M.get32(body, i)
        i = i + 4
        out.unsuccess[k] = e
    end
    return out
end

-- -- client ------------------------------------------------------------------

local Client = {}
Client.__index = Client
M.Client = Client

-- client(sock) -> a client over a connected LuaSocket TCP object (one the
-- spec made itself: bound to another address, or accepted); it is closed
-- at the end of the current scope.
function M.client(sock)
    local c = setmetatable({ sock = sock, buf = "", seq = 0 }, Client)
    cleanup.defer(function() c:close() end, "client connection")
    return c
end

-- connect(port [, host]) -> client (raises if the connection fails)
function M.connect(port, host)
    local c = assert(socket.tcp())
    c:settimeout(5)
    local ok, err = c:connect(host or "127.0.0.1", port)
    if not ok then
        c:close()
        error("connect to " .. (host or "127.0.0.1") .. ":" .. tostring(port) .. ": " .. tostring(err), 2)
    end
    c:setoption("tcp-nodelay", true)
    return M.client(c)
end

-- listen() -> a listening LuaSocket on 127.0.0.1 (an ephemeral port), and
-- its port; closed at the end of the current scope.
function M.listen()
    local l = assert(socket.bind("127.0.0.1", 0))
    cleanup.defer(function() l:close() end, "listener")
    local _, port = l:getsockname()
    return l, tonumber(port)
end

function Client:send(bytes) assert(self.sock:send(bytes)) end

function Client:next_seq()
    self.seq = self.seq + 1
    return self.seq
end

-- read(timeout) -> pdu table | nil, "timeout" | "closed". Reads exactly
-- what the PDU needs (the header's command_length), so it never waits for
-- more than that. (Timeouts are scaled by SPEC_TIME_SCALE: helpers.wait.)
function Client:read(timeout)
    return self:read_by(socket.gettime() + scaled(timeout or 5))
end

-- read_by(deadline) -> read() with an absolute deadline (socket.gettime()).
function Client:read_by(deadline)
    local function fill(n)
        while #self.buf < n do
            local left = deadline - socket.gettime()
            if left <= 0 then return nil, "timeout" end
            self.sock:settimeout(left)
            local data, err, partial = self.sock:receive(n - #self.buf)
            data = data or partial
            if data and #data > 0 then self.buf = self.buf .. data end
            if #self.buf >= n then return true end
            if err == "closed" then return nil, "closed" end
            if err == "timeout" then return nil, "timeout" end
        end
        return true
    end
    local ok, err = fill(4)
    if not ok then return nil, err end
    local len = M.get32(self.buf, 1)
    if len < 16 then return nil, "bad command_length " .. len end
    ok, err = fill(len)
    if not ok then return nil, err end
    local p = M.parse(self.buf:sub(1, len))
    self.buf = self.buf:sub(len + 1)
    return p
end

-- read until a PDU matching pred arrives; answers enquire_link and
-- deliver_sm on the way when asked.
function Client:expect(pred, timeout)
    local deadline = socket.gettime() + scaled(timeout or 5)
    while true do
        local p, err = self:read_by(deadline)
        if not p then return nil, err end
        if pred(p) then return p end
    end
end

-- bind(kind, system_id, password) -> the bind response
function Client:bind(kind, system_id, password, timeout)
    self:send(M.bind(kind, self:next_seq(), system_id or "smppclient1", password or "password"))
    return self:read(timeout)
end

-- True once the server closed the connection (within timeout).
function Client:closed(timeout)
    local deadline = socket.gettime() + scaled(timeout or 5)
    while socket.gettime() < deadline do
        local p, err = self:read_by(deadline)
        if not p and err == "closed" then return true end
        if not p then return false end
    end
    return false
end

-- close(): idempotent (the scope closes every client again at its end).
function Client:close()
    if not self.closed_ then
        self.closed_ = true
        self.sock:close()
    end
end

M.gettime = socket.gettime
M.sleep = socket.sleep

return M
