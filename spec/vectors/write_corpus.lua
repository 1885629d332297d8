-- write_corpus.lua DIR -- the golden vectors as a fuzzing seed corpus, one
-- binary file per PDU (make corpus; used by make fuzz and make asan).
local hex = require "smpp.hex"
local dir = assert(arg[1], "usage: write_corpus.lua DIR")
os.execute("mkdir -p '" .. dir .. "'")
for i, v in ipairs(require "vectors.golden") do
    local f = assert(io.open(string.format("%s/golden-%02d", dir, i), "wb"))
    f:write(assert(hex.to_bytes(v.hex)))
    f:close()
end
