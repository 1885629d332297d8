-- docs_spec -- the documentation against the code: docs/operations.md's
-- table of configuration keys is the one core/gen/config_keys.lua makes
-- from the schema (every key, its type and default), and every relative
-- link in README.md and docs/*.md resolves: the file exists, and an
-- anchor names a heading of that file (GitHub's rule for heading ids).
local config = require "smpp.config"
local keys = dofile("core/gen/config_keys.lua")
local tmp = require "helpers.tmp"

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

-- the text without fenced code blocks and inline code spans: links and
-- headings are read from what is left
local function prose(s)
    s = s:gsub("\n```.-\n```", "\n")
    return (s:gsub("`[^`\n]*`", function(code) return code:gsub("[^\n]", "x") end))
end

-- anchors(text) -> set of the ids GitHub gives the file's headings
local function anchors(text)
    local set, seen = {}, {}
    local body = ("\n" .. text):gsub("\n```.-\n```", "\n")
    for title in body:gmatch("\n#+%s+([^\n]+)") do
        local id = title:lower():gsub("[^%w%s_-]", ""):gsub("%s", "-")
        local n = seen[id]
        seen[id] = (n or 0) + 1
        set[n and (id .. "-" .. n) or id] = true
    end
    return set
end

local function dir_of(path) return path:match("^(.*)/[^/]*$") or "." end

-- broken(files) -> list of "file: target (why)" for every relative link
-- that does not resolve
local function broken(files)
    local out, cache = {}, {}
    local function headings(path)
        cache[path] = cache[path] or anchors(read(path))
        return cache[path]
    end
    for _, file in ipairs(files) do
        local text = read(file)
        for target in prose(text):gmatch("%]%(([^)%s]+)%)") do
            if not target:match("^%a[%w+.-]*:") then           -- http:, mailto: ... are not ours to check
                local path, anchor = target:match("^([^#]*)#?(.*)$")
                local full = path == "" and file or dir_of(file) .. "/" .. path
                if not exists(full) then
                    out[#out + 1] = file .. ": " .. target .. " (no such file)"
                elseif anchor ~= "" and not (full:match("%.md$") and headings(full)[anchor]) then
                    out[#out + 1] = file .. ": " .. target .. " (no such heading)"
                end
            end
        end
    end
    return out
end

local function doc_files()
    local files = { "README.md" }
    local p = assert(io.popen("ls docs/*.md"))
    for line in p:lines() do files[#files + 1] = line end
    p:close()
    return files
end

describe("the documentation", function()
    it("holds the table of configuration keys the schema makes (make docs)", function()
        local text = read("docs/operations.md")
        local a = assert(text:find(keys.BEGIN, 1, true), "docs/operations.md: the table's first marker is missing")
        local b = assert(text:find(keys.END, 1, true), "docs/operations.md: the table's last marker is missing")
        assert.equal(keys.text(), text:sub(a, b + #keys.END - 1), "docs/operations.md is out of date: run make docs")
    end)

    it("names every key of the schema in docs/operations.md, with its default", function()
        local text = read("docs/operations.md")
        local n = 0
        local function walk(fields, prefix)
            for k, f in pairs(fields) do
                local inner = f.type == "list" and f.of or f
                local path = prefix .. k .. (f.type == "list" and inner.fields and "[]" or "")
                local row = text:match("\n| `" .. path:gsub("%p", "%%%0") .. "` |[^\n]*")
                assert(row, "docs/operations.md does not document " .. path)
                if f.default ~= nil and type(f.default) ~= "table" then
                    assert(row:find("`" .. (type(f.default) == "string" and '"' .. f.default .. '"'
                                            or tostring(f.default)) .. "`", 1, true),
                           path .. ": the default is not " .. tostring(f.default) .. " in " .. row)
                end
                n = n + 1
                if inner.fields and not inner.free then walk(inner.fields, path .. ".") end
            end
        end
        walk(config.schema.fields, "")
        assert.is_true(n > 100, "keys walked: " .. n)
    end)

    it("finds a link to a missing file or heading", function()
        local dir = tmp.dir()
        local f = assert(io.open(dir .. "/a.md", "wb"))
        f:write("# Title\n\n## Two words\n\n[ok](#two-words) [ok](a.md#title) `[not a](link.md)`\n",
                "[bad](missing.md) [bad](#no-heading) [ok](https://example.com/x)\n",
                "```\n[in code](nothing.md)\n```\n")
        f:close()
        assert.same({ dir .. "/a.md: missing.md (no such file)", dir .. "/a.md: #no-heading (no such heading)" },
                    broken { dir .. "/a.md" })
    end)

    it("has no broken relative link in README.md and docs/", function()
        local files = doc_files()
        assert.is_true(#files >= 10, "files: " .. #files)
        assert.same({}, broken(files))
    end)
    it("holds no merge conflict markers in any tracked file", function()
        local marked = {}
        local git = assert(io.popen("git ls-files 2>/dev/null"))
        for path in git:lines() do
            local f = io.open(path, "rb")
            local s = f and f:read("*a") or ""
            if f then f:close() end
            if s:find("\n<<<<<<< ") or s:find("\n>>>>>>> ") or s:find("^<<<<<<< ") then marked[#marked + 1] = path end
        end
        git:close()
        assert.same({}, marked)
    end)
end)
