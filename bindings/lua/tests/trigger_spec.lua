-- trigger_spec.lua - schedules and watched directories from Lua: each firing or file is an
-- asynchronous call, so a Lua function it calls runs on this thread, inside rt:poll or
-- rt:drain, never on the library's threads.
local faas = require "faas"

local WAIT_MS = 30000   -- generous: sanitizer builds on a loaded machine

-- A fresh directory NAME (its base name is the bucket's). tests/bindings_lua.sh makes them
-- in FAAS_LUA_TESTDIR and removes them: under a sanitizer's LD_PRELOAD a shell started by
-- os.execute may not run. By hand, without it, they are made and removed with the shell.
local testdir = os.getenv("FAAS_LUA_TESTDIR")

local function tmpdir(name)
  if testdir then return testdir .. "/" .. name, nil end
  local base = os.tmpname()                 -- a fresh file name: made a directory instead
  os.remove(base)
  assert(os.execute("mkdir -p '" .. base .. "/" .. name .. "'"))
  return base .. "/" .. name, base
end

local function rmtree(path) if path then os.execute("rm -rf '" .. path .. "'") end end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- unquote_plus, as a Lua handler for S3 does it
local function unquote_plus(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

describe("a watched directory", function()
  local rt, dir, base
  after_each(function()
    if rt then rt:close() end
    rt = nil
    rmtree(base)
  end)

  it("runs a Lua handler for S3's record, on this thread, inside rt:poll", function()
    rt = faas.runtime{ workers = 2 }
    dir, base = tmpdir("uploads")
    local polling, got = false, nil
    rt:register("on_upload", function(event, ctx)
      local r = event.Records[1]
      got = { bucket = r.s3.bucket.name, key = unquote_plus(r.s3.object.key),
              raw = r.s3.object.key, name = r.eventName, size = r.s3.object.size,
              in_poll = polling }
      return true
    end)
    local id = assert(rt:watch("on_upload", dir))
    assert.is_true(math.type(id) == "integer" and id > 0)
    write(dir .. "/my photo (1).txt", "meow\n")
    local deadline = os.time() + WAIT_MS // 1000
    while got == nil and os.time() < deadline do
      polling = true
      rt:poll(100)
      polling = false
    end
    assert.is_table(got)
    assert.is_true(got.in_poll)             -- delivered by rt:poll, on this thread
    assert.are.equal("uploads", got.bucket)
    assert.are.equal("my photo (1).txt", got.key)
    assert.are.equal("my+photo+%281%29.txt", got.raw)
    assert.are.equal("ObjectCreated:Put", got.name)
    assert.are.equal(5, got.size)
    assert.is_true(rt:unwatch(id))
    assert.is_true(rt:drain(WAIT_MS))
    assert.are.equal(1, rt:stats("on_upload").invocations)
  end)

  it("in manual mode: rt:poll reads the watch and runs the handler, no wait", function()
    rt = faas.runtime{ manual = true }
    dir, base = tmpdir("inbox")
    local seen = {}
    rt:register("sync", function(event)
      local r = event.Records[1]
      seen[#seen + 1] = r.eventName .. " " .. r.s3.object.key .. " " .. r.s3.bucket.name
    end)
    write(dir .. "/old.csv", "1")
    local id = assert(rt:watch("sync", dir, { events = { "created", "removed" },
                                               existing = true, suffix = ".csv",
                                               bucket = "reports" }))
    rt:poll()
    assert.are.same({ "ObjectCreated:Put old.csv reports" }, seen)
    write(dir .. "/skip.txt", "not a .csv")
    os.remove(dir .. "/old.csv")
    rt:poll()
    assert.are.same({ "ObjectCreated:Put old.csv reports",
                      "ObjectRemoved:Delete old.csv reports" }, seen)
    assert.is_true(rt:unwatch(id))
    write(dir .. "/new.csv", "2")
    rt:poll()
    assert.are.equal(2, #seen)              -- stopped
  end)

  it("reports errors as nil, err", function()
    rt = faas.runtime{ manual = true }
    dir, base = tmpdir("x")
    rt:register("f", function() end)
    local id, err = rt:watch("nobody", dir)
    assert.is_nil(id)
    assert.are.equal("ENOTFOUND", err.status)
    assert.are.equal(faas.ENOTFOUND, err.code)
    id, err = rt:watch("f", dir .. "/missing")
    assert.is_nil(id)
    assert.is_string(err.message)
    assert.has_error(function() rt:watch("f", dir, { events = { "modified" } }) end)
    assert.has_error(function() rt:watch("f", dir, { recursively = true }) end)
    local ok
    ok, err = rt:unwatch(987654)
    assert.is_nil(ok)
    assert.are.equal("ENOTFOUND", err.status)
  end)
end)

describe("a schedule", function()
  local THU = 1795651200                    -- 2026-11-26T00:00:00Z, a Thursday
  local rt
  before_each(function() rt = faas.runtime{ manual = true, fake_time = THU } end)
  after_each(function() rt:close() end)

  it("fires a rate every period on the fake clock, in rt:poll", function()
    local events = {}
    rt:register("tick", function(event) events[#events + 1] = event end)
    local id = assert(rt:schedule("tick", "rate(5 minutes)",
                                  { rule_name = "ticker", region = "eu-west-1" }))
    assert.are.equal(THU, rt:time())
    rt:advance(299)
    rt:poll()
    assert.are.equal(0, #events)            -- not early
    rt:advance(1)
    assert.is_true(rt:poll() > 0)
    assert.are.equal(1, #events)
    local e = events[1]
    assert.are.equal("Scheduled Event", e["detail-type"])
    assert.are.equal("aws.events", e.source)
    assert.are.equal("2026-11-26T00:05:00Z", e.time)
    assert.are.same({ "arn:aws:events:eu-west-1:000000000000:rule/ticker" }, e.resources)
    assert.are.equal(0, #e.resources - 1)   -- an array of one
    assert.is_nil(next(e.detail))           -- {}
    for _ = 1, 3 do rt:advance(300) rt:poll() end
    assert.are.equal(4, #events)
    assert.are.equal("2026-11-26T00:20:00Z", events[4].time)
    assert.is_true(rt:unschedule(id))
    rt:advance(3600)
    rt:poll()
    assert.are.equal(4, #events)            -- stopped
    local ok, err = rt:unschedule(id)
    assert.is_nil(ok)
    assert.are.equal("ENOTFOUND", err.status)
  end)

  it("reads cron fields in a time zone", function()
    local times = {}
    rt:register("report", function(event) times[#times + 1] = event.time end)
    assert(rt:schedule("report", "cron(0 9 ? * MON-FRI *)", { time_zone = "Europe/Berlin" }))
    for _ = 1, 24 * 7 do rt:advance(3600) rt:poll() end
    assert.are.same({ "2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z", "2026-11-30T08:00:00Z",
                      "2026-12-01T08:00:00Z", "2026-12-02T08:00:00Z" }, times)
  end)

  it("gives handlers the fake clock's deadline", function()
    rt:register("slow", function(_, ctx)
      rt:advance(1.25)
      return ctx:remaining_ms()
    end, { timeout_ms = 3000 })
    assert.are.equal(1750, rt:invoke("slow"))
  end)

  it("refuses what EventBridge refuses, as nil, err", function()
    rt:register("f", function() end)
    local id, err = rt:schedule("f", "rate(5 minute)")
    assert.is_nil(id)
    assert.are.equal("EINVAL", err.status)
    assert.truthy(err.message:find("rate"))
    id, err = rt:schedule("nobody", "rate(1 minute)")
    assert.is_nil(id)
    assert.are.equal("ENOTFOUND", err.status)
    assert.has_error(function() rt:schedule("f", "rate(1 minute)", { tz = "UTC" }) end)
  end)

  it("says when an expression fires next", function()
    assert.are.equal(THU + 3600, faas.schedule_next("rate(1 hour)", THU))
    assert.are.equal(THU + 12 * 3600, faas.schedule_next("cron(0 12 * * ? *)", THU))
    assert.are.equal(THU + 11 * 3600,
                     faas.schedule_next("cron(0 12 * * ? *)", THU, "Europe/Berlin"))
    assert.is_false(faas.schedule_next("cron(0 0 1 1 ? 1999)", THU))
    local t, err = faas.schedule_next("cron(nonsense)", THU)
    assert.is_nil(t)
    assert.are.equal("EINVAL", err.status)
  end)
end)

describe("rt:advance", function()
  it("needs fake_time", function()
    local rt = faas.runtime{ manual = true }
    assert.has_error(function() rt:advance(1) end)
    rt:close()
  end)
end)
