-- bindings_lua.lua - the Lua binding's warm call against calling the function directly.
--
-- Side by side in one process run, round-robin over the cases (rep 1 of every case, then
-- rep 2, ...), the median [min-max] of the reps in microseconds per call and the ratio of
-- medians to the direct call:
--
--   direct     hello(event, nil): the Lua function, called directly
--   json       the same with the JSON boundary a call has (faas.encode / faas.decode of
--              the event and of the result): the floor of any JSON-speaking call
--   invoke     rt:invoke("hello", event): a warm libfaas call of the Lua handler
--   invoke_c   rt:invoke("echo", event): a warm call of echo.so (C) from Lua
--   async      rt:invoke_async("hello", event, cb), then rt:poll until cb ran: a worker
--              takes the call and hands it to this thread, one call at a time
--
-- Time is lua-system's monotonic clock (wall time), or os.clock (process CPU time) when
-- lua-system is missing. Run from a build directory with LUA_CPATH_5_4 pointing at
-- bindings/lua/.libs and LD_LIBRARY_PATH at libfaas/.libs (make bench-bindings does this).
--   lua5.4 bindings_lua.lua [--reps N (9)] [--iters N (20000; async: a tenth)] [--only A,B]
-- callgrind_bindings.sh counts instructions per call with --only CASE --reps 1.
local faas = require "faas"
local ok, system = pcall(require, "system")
local now = ok and system.monotime or os.clock
local clock_name = ok and "lua-system monotime (wall)" or "os.clock (CPU)"

local opts = { reps = "9", iters = "20000", only = "" }
for i = 1, #arg, 2 do
  local k = arg[i]:match("^%-%-(%w+)$")
  if not k or opts[k] == nil or arg[i + 1] == nil then error("bindings_lua: bad argument " .. arg[i]) end
  opts[k] = arg[i + 1]
end
local reps, iters = tonumber(opts.reps), tonumber(opts.iters)
local event = { name = "x", n = 1 }

local function hello(ev, ctx)
  return { greeting = "hi " .. ev.name }
end

local rt = faas.runtime{ workers = 1 }
rt:register("hello", hello)
local modules = os.getenv("FAAS_MODULE_DIR") or "examples/modules/.libs"
local f = io.open(modules .. "/echo.so")
local have_echo = f ~= nil
if f then
  f:close()
  rt:register_module("echo", modules .. "/echo.so", "echo")
end

local done
local function on_done() done = true end

local cases = {
  { "direct", function() hello(event, nil) end, 1 },
  { "json", function()
      faas.decode(faas.encode(hello(faas.decode(faas.encode(event)), nil)))
    end, 1 },
  { "invoke", function() rt:invoke("hello", event) end, 1 },
}
if have_echo then
  cases[#cases + 1] = { "invoke_c", function() rt:invoke("echo", event) end, 1 }
end
cases[#cases + 1] = { "async", function()
    done = false
    rt:invoke_async("hello", event, on_done)
    while not done do rt:poll(1000) end
  end, 10 }

if opts.only ~= "" then
  local keep = {}
  for _, c in ipairs(cases) do
    if ("," .. opts.only .. ","):find("," .. c[1] .. ",", 1, true) then keep[#keep + 1] = c end
  end
  cases = keep
end
for _, c in ipairs(cases) do
  for _ = 1, math.max(1, 2000 // c[3]) do c[2]() end
end
local results = {}
for _, c in ipairs(cases) do results[c[1]] = {} end
for _ = 1, reps do
  for _, c in ipairs(cases) do
    local n = math.max(1, iters // c[3])
    local fn = c[2]
    local t0 = now()
    for _ = 1, n do fn() end
    local r = results[c[1]]
    r[#r + 1] = (now() - t0) / n * 1e6
  end
end
rt:close()

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local m = #s // 2
  return #s % 2 == 1 and s[m + 1] or (s[m] + s[m + 1]) / 2
end

local base = results.direct and median(results.direct) or 0 / 0
print(string.format("libfaas %s, %s, %d reps, median [min-max] us per call, clock: %s",
  faas.version(), _VERSION, reps, clock_name))
for _, c in ipairs(cases) do
  local r = results[c[1]]
  local lo, hi = math.huge, 0
  for _, v in ipairs(r) do lo = math.min(lo, v); hi = math.max(hi, v) end
  print(string.format("  %-9s %9.3f us [%.3f-%.3f]  %7.1fx direct", c[1], median(r), lo, hi,
    median(r) / base))
end
if results.invoke and results.json then
  print(string.format("  invoke - json: %.2f us is the binding and libfaas (the call, the ctx, "
    .. "the record)", median(results.invoke) - median(results.json)))
end
