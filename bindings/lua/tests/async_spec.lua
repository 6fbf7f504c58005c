-- async_spec.lua - asynchronous calls: Lua handlers run only on the thread that owns the
-- state (handed over by workers, run by rt:poll / rt:drain), completions delivered there.
local faas = require "faas"
local scale = tonumber(os.getenv("FAAS_STRESS_SCALE") or "1")
local function scaled(n) return math.max(1, math.floor(n * scale)) end

local function module_dir()
  local dir = os.getenv("FAAS_MODULE_DIR")
  local f = dir and io.open(dir .. "/echo.so")
  if f then f:close() return dir end
end

describe("asynchronous calls", function()
  local rt
  before_each(function() rt = faas.runtime{ workers = 2 } end)
  after_each(function() rt:close() end)

  it("deliver one callback per call, in rt:poll, for C functions on workers", function()
    local dir = module_dir()
    if not dir then pending("FAAS_MODULE_DIR does not hold echo.so") return end
    rt:register_module("echo", dir .. "/echo.so", "echo")
    local n, got = scaled(2000), {}
    for i = 1, n do
      local id = rt:invoke_async("echo", { i = i }, function(r, err)
        assert.is_nil(err)
        got[r.i] = (got[r.i] or 0) + 1
      end)
      assert.truthy(id)
    end
    assert.is_true(rt:drain(30000))
    for i = 1, n do assert.are.equal(1, got[i]) end
  end)

  it("run a Lua handler on this thread only when it polls", function()
    rt:register("lua", function(event) return event.n * 2 end)
    local result
    rt:invoke_async("lua", { n = 21 }, function(r) result = r end)
    -- A worker took the call and waits for this thread: its instance is busy.
    while rt:stats("lua").instances_busy == 0 do end
    assert.is_nil(result)
    assert.are.equal(0, rt:stats("lua").invocations)
    while result == nil do rt:poll(1000) end
    assert.are.equal(42, result)
    assert.are.equal(1, rt:stats("lua").invocations)
  end)

  it("complete many Lua calls, each exactly once", function()
    local n, seen, sum = scaled(1000), {}, 0
    rt:register("square", function(event) return event * event end)
    for i = 1, n do
      rt:invoke_async("square", i, function(r, err)
        assert.is_nil(err)
        seen[r] = (seen[r] or 0) + 1
        sum = sum + 1
      end)
    end
    assert.is_true(rt:drain(60000))
    assert.are.equal(n, sum)
    for i = 1, n do assert.are.equal(1, seen[i * i]) end
  end)

  it("deliver failures as nil, err", function()
    rt:register("boom", function() error("async boom") end, { max_retries = 0 })
    local err
    rt:invoke_async("boom", nil, function(r, e) err = e end)
    assert.is_true(rt:drain(10000))
    assert.are.equal("LuaError", err.type)
    assert.matches("async boom", err.message)
    assert.is_true(#err.trace > 0)
  end)

  it("time out a Lua call nobody polls for", function()
    rt:register("never", function() return "ran" end, { timeout_ms = 20, max_retries = 0 })
    local err
    rt:invoke_async("never", nil, function(r, e) err = e end)
    -- The worker gives the call up at its deadline; the record is counted then.
    while rt:stats("never").invocations == 0 do end
    while err == nil do rt:poll(1000) end
    assert.are.equal(faas.ETIMEOUT, err.code)
    assert.are.equal("Sandbox.Timedout", err.type)
  end)

  it("refuse at once what the library refuses", function()
    local id, err = rt:invoke_async("nobody", nil, function() error("never called") end)
    assert.is_nil(id)
    assert.are.equal(faas.ENOTFOUND, err.code)
    assert.are.equal(0, rt:poll())
  end)

  it("retry, then send the dead letter to a Lua function", function()
    local letters, attempts = {}, 0
    rt:register("dlq", function(event) letters[#letters + 1] = event end)
    rt:register("flaky", function() attempts = attempts + 1; error("down") end,
      { max_retries = 2, dead_letter = "dlq" })
    rt:invoke_async("flaky", { order = 7 })
    assert.is_true(rt:drain(30000))
    assert.are.equal(3, attempts)
    assert.are.equal(1, #letters)
    assert.are.equal("RetriesExhausted", letters[1].requestContext.condition)
    assert.are.equal(7, letters[1].requestPayload.order)
    assert.are.equal("LuaError", letters[1].responsePayload.errorType)
    assert.truthy(#letters[1].responsePayload.stackTrace > 0)
  end)
end)

describe("a callback that raises", function()
  it("surfaces from rt:poll; the next poll delivers the rest", function()
    local rt = faas.runtime{ manual = true }
    rt:register("id", function(e) return e end)
    local got = {}
    rt:invoke_async("id", 1, function() error("callback failed") end)
    rt:invoke_async("id", 2, function(r) got[#got + 1] = r end)
    assert.has_error(function() rt:poll() end)
    assert.are.equal(0, #got)
    rt:poll()
    assert.are.same({ 2 }, got)
    rt:close()
  end)
end)

describe("closing", function()
  it("runs every callback even when one raises, then raises the first error", function()
    local rt = faas.runtime{ manual = true }
    rt:register("f", function() return 1 end)
    local codes = {}
    for i = 1, 3 do
      rt:invoke_async("f", nil, function(r, err)
        codes[#codes + 1] = err.code
        if i < 3 then error("callback " .. i .. " failed") end
      end)
    end
    assert.has_error(function() rt:close() end)
    assert.are.same({ faas.ESHUTDOWN, faas.ESHUTDOWN, faas.ESHUTDOWN }, codes)
    local ok, msg = pcall(function() rt:close() end)   -- closed: nothing more to raise
    assert.is_true(ok, msg)
  end)

  it("lets a callback close the runtime inside rt:drain", function()
    local rt = faas.runtime{ workers = 1 }
    rt:register("f", function() return 1 end)
    local got
    rt:invoke_async("f", nil, function(r) got = r; rt:close() end)
    assert.is_true(rt:drain(10000))
    assert.are.equal(1, got)
    assert.are.equal("faas.runtime (closed)", tostring(rt))
  end)
end)

describe("manual mode", function()
  it("runs calls only inside rt:poll, on this thread", function()
    local rt = faas.runtime{ manual = true }
    local ran = false
    rt:register("f", function() ran = true; return "done" end)
    local result
    rt:invoke_async("f", nil, function(r) result = r end)
    assert.is_false(ran)
    assert.are.equal(2, rt:poll())           -- the call, then its callback
    assert.is_true(ran)
    assert.are.equal("done", result)
    rt:close()
  end)

  it("completes queued calls with ESHUTDOWN when closed", function()
    local rt = faas.runtime{ manual = true }
    rt:register("f", function() return 1 end)
    local codes = {}
    for _ = 1, 3 do
      rt:invoke_async("f", nil, function(r, err) codes[#codes + 1] = err.code end)
    end
    rt:close()
    assert.are.same({ faas.ESHUTDOWN, faas.ESHUTDOWN, faas.ESHUTDOWN }, codes)
  end)
end)

describe("a to-be-closed runtime", function()
  it("drains, then closes, at the end of its scope", function()
    local done = 0
    do
      local rt <close> = faas.runtime{ workers = 2 }
      rt:register("f", function() return 1 end)
      for _ = 1, 10 do rt:invoke_async("f", nil, function() done = done + 1 end) end
    end
    assert.are.equal(10, done)
  end)
end)
