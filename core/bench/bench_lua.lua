-- bench_lua.lua -- cost of decode -> Lua table and Lua table -> encode for a
-- typical submit_sm and a deliver_sm receipt, beside a baseline measured in
-- the same run: building the same table in plain Lua from a template.
local smpp = require "smpp"

local N = 300000

local submit = {
    command = "submit_sm", sequence_number = 12345, service_type = "CMT",
    source_addr_ton = 5, source_addr = "MyBank", dest_addr_ton = 1, dest_addr_npi = 1,
    destination_addr = "447700900123", validity_period = "000001000000000R",
    registered_delivery = 1,
    short_message = ("Your verification code is 482913. It expires in 10 minutes. "
        .. "Do not share this code with anyone; our staff will never ask you for it. "):sub(1, 140),
    user_message_reference = 77, source_port = 9200,
}
local receipt = {
    command = "deliver_sm", sequence_number = 9, source_addr_ton = 1, source_addr_npi = 1,
    source_addr = "447700900123", dest_addr_ton = 5, destination_addr = "MyBank", esm_class = 4,
    short_message = "id:0001715004 sub:001 dlvrd:001 submit date:2501311200 "
        .. "done date:2501311201 stat:DELIVRD err:000 text:Hello",
    receipted_message_id = "1A2B3C", message_state = 2,
}

local clock = os.clock

local function run(name, pdu)
    local bytes = assert(smpp.encode(pdu))
    local template = assert(smpp.decode(bytes))
    local decode, encode = smpp.decode, smpp.encode

    local t0 = clock()
    for _ = 1, N do
        local t = {}
        for k, v in pairs(template) do t[k] = v end
    end
    local base = (clock() - t0) / N * 1e9

    t0 = clock()
    for _ = 1, N do decode(bytes) end
    local dec = (clock() - t0) / N * 1e9

    t0 = clock()
    for _ = 1, N do encode(template) end
    local enc = (clock() - t0) / N * 1e9

    print(string.format("%-26s baseline (copy table) %6.0f ns  decode->table %6.0f ns (%4.1fx)  "
        .. "table->encode %6.0f ns (%4.1fx)", name, base, dec, dec / base, enc, enc / base))
end

run("submit_sm (140 B, 2 TLVs)", submit)
run("deliver_sm receipt", receipt)
