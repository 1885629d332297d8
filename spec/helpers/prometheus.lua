-- helpers.prometheus -- a strict parser of the Prometheus text exposition
-- format 0.0.4: every line is a HELP or TYPE comment or a sample, every
-- family is declared before its samples, names and labels are well formed,
-- histograms have increasing le buckets ending in +Inf equal to _count.
local M = {}

local NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*"

-- The label set inside {...}: name="value" pairs, values with only the
-- escapes the format allows (\\, \" and \n), unescaped.
local function parse_labels(s, lineno)
    local labels, pos = {}, 1
    local unescape = { ["\\"] = "\\", ['"'] = '"', n = "\n" }
    while pos <= #s do
        local k, after = s:match('^(' .. NAME .. ')="()', pos)
        if not k then error(("line %d: bad label set {%s}"):format(lineno, s), 0) end
        local v, i = {}, after
        while true do
            local c = s:sub(i, i)
            if c == "" then error(("line %d: unterminated label value"):format(lineno), 0) end
            if c == '"' then break end
            if c == "\\" then
                local e = unescape[s:sub(i + 1, i + 1)]
                if not e then error(("line %d: bad escape in a label value"):format(lineno), 0) end
                v[#v + 1], i = e, i + 2
            else
                v[#v + 1], i = c, i + 1
            end
        end
        if labels[k] then error(("line %d: label %s repeated"):format(lineno, k), 0) end
        labels[k] = table.concat(v)
        pos = i + 1
        if pos <= #s then
            if s:sub(pos, pos) ~= "," then error(("line %d: bad label separator"):format(lineno), 0) end
            pos = pos + 1
        end
    end
    return labels
end

-- parse(text) -> families { name -> {type, help, samples = {{name, labels, value}}} } or raises.
function M.parse(text)
    local families, lineno = {}, 0
    if text:sub(-1) ~= "\n" then error("the exposition must end with a newline", 0) end
    for line in text:gmatch("([^\n]*)\n") do
        lineno = lineno + 1
        if line:match("^# HELP ") then
            local name, help = line:match("^# HELP (" .. NAME .. ") (.*)$")
            if not name then error(("line %d: bad HELP"):format(lineno), 0) end
            families[name] = families[name] or { samples = {} }
            families[name].help = help
        elseif line:match("^# TYPE ") then
            local name, kind = line:match("^# TYPE (" .. NAME .. ") (%a+)$")
            if not name then error(("line %d: bad TYPE"):format(lineno), 0) end
            local ok = { counter = true, gauge = true, histogram = true, summary = true, untyped = true }
            if not ok[kind] then error(("line %d: unknown type %s"):format(lineno, kind), 0) end
            families[name] = families[name] or { samples = {} }
            if families[name].type then error(("line %d: TYPE of %s given twice"):format(lineno, name), 0) end
            if #families[name].samples > 0 then error(("line %d: TYPE after samples"):format(lineno), 0) end
            families[name].type = kind
        elseif line:match("^#") or line == "" then
            error(("line %d: unexpected comment or empty line"):format(lineno), 0)
        else
            local name, rest = line:match("^(" .. NAME .. ")(.*)$")
            if not name then error(("line %d: bad sample name: %s"):format(lineno, line), 0) end
            local lab, value = rest:match("^{(.*)} (%S+)$")
            if not lab then value = rest:match("^ (%S+)$") end
            if not value then error(("line %d: bad sample: %s"):format(lineno, line), 0) end
            local v = value == "+Inf" and math.huge or value == "-Inf" and -math.huge or tonumber(value)
            if not v and value ~= "NaN" then error(("line %d: bad value %s"):format(lineno, value), 0) end
            local base = name:gsub("_bucket$", ""):gsub("_sum$", ""):gsub("_count$", "")
            local fam = families[name] or families[base]
            if not fam or not fam.type then error(("line %d: sample %s before its TYPE"):format(lineno, name), 0) end
            if fam.type == "counter" and v < 0 then error(("line %d: negative counter"):format(lineno), 0) end
            fam.samples[#fam.samples + 1] = { name = name, labels = lab and parse_labels(lab, lineno) or {}, value = v }
        end
    end
    for name, fam in pairs(families) do
        if not fam.type or not fam.help then error(name .. ": HELP and TYPE are both required", 0) end
        if fam.type == "histogram" then
            -- one series per label set (le aside): buckets increasing in le,
            -- cumulative, ending in +Inf, equal to that series' _count
            local series, order = {}, {}
            local function of(labels)
                local keys = {}
                for k, v in pairs(labels) do if k ~= "le" then keys[#keys + 1] = k .. "=" .. v end end
                table.sort(keys)
                local key = table.concat(keys, ",")
                if not series[key] then
                    series[key] = { last = -1, le_last = -math.huge }
                    order[#order + 1] = key
                end
                return series[key]
            end
            for _, s in ipairs(fam.samples) do
                local h = of(s.labels)
                if s.name == name .. "_bucket" then
                    local le = s.labels.le == "+Inf" and math.huge or tonumber(s.labels.le)
                    if not le or le <= h.le_last then error(name .. ": le not increasing", 0) end
                    if s.value < h.last then error(name .. ": buckets not cumulative", 0) end
                    h.le_last, h.last = le, s.value
                elseif s.name == name .. "_count" then
                    h.count = s.value
                end
            end
            if #order == 0 then error(name .. ": no +Inf bucket", 0) end
            for _, key in ipairs(order) do
                local h = series[key]
                if h.le_last ~= math.huge then error(name .. ": no +Inf bucket" .. (key ~= "" and " {" .. key .. "}" or ""), 0) end
                if h.count ~= h.last then error(name .. ": _count differs from the +Inf bucket", 0) end
            end
        end
    end
    return families
end

return M
