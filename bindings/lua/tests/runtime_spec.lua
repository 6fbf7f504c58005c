-- runtime_spec.lua - Lua handlers and modules called synchronously: events, results, the
-- ctx, errors in Lua's nil-and-error convention, limits, and the runtime's life.
local faas = require "faas"

local function uuid4(s)
  return s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$")
end

describe("a runtime", function()
  local rt
  before_each(function() rt = faas.runtime{ workers = 2 } end)
  after_each(function() rt:close() end)

  it("runs the README's hello", function()
    rt:register("hello", function(event, ctx)
      return { greeting = "hi " .. event.name }
    end, { memory_mb = 128 })
    assert.are.same({ greeting = "hi x" }, rt:invoke("hello", { name = "x" }))
  end)

  it("gives the handler a ctx valid during the call", function()
    local kept
    rt:register("ctx", function(event, ctx)
      kept = ctx
      return {
        id = ctx.request_id, aws = ctx.aws_request_id, name = ctx.function_name,
        version = ctx.function_version, memory = ctx.memory_limit_in_mb,
        left = ctx:remaining_ms(),
      }
    end, { memory_mb = 256, timeout_ms = 5000 })
    local res = rt:invoke_response("ctx")
    local r = res.result
    assert.truthy(uuid4(r.id))
    assert.are.equal(r.id, r.aws)
    assert.are.equal(res.record.request_id, r.id)
    assert.are.equal("ctx", r.name)
    assert.are.equal("$LATEST", r.version)
    assert.are.equal(256, r.memory)
    assert.is_true(r.left > 0 and r.left <= 5000)
    assert.has_error(function() return kept.request_id end,
      "faas: a ctx is valid only during its call")
    assert.has_error(function() kept:log("late") end)
  end)

  it("gives the handler the caller's client context", function()
    rt:register("cc", function(event, ctx)
      local c = ctx.client_context
      if c == nil then return "none" end
      return { title = c.client.app_title, tenant = c.custom.tenant, locale = c.env.locale }
    end)
    local cc = '{"client": {"app_title": "shop"}, "custom": {"tenant": "t1"}, ' ..
               '"env": {"locale": "fr"}}'
    assert.are.same({ title = "shop", tenant = "t1", locale = "fr" },
      rt:invoke("cc", {}, { client_context = cc }))
    assert.are.equal("none", rt:invoke("cc", {}))
    local r, err = rt:invoke("cc", {}, { client_context = "[1]" })
    assert.is_nil(r)
    assert.are.equal("EINVAL", err.status)
  end)

  it("keeps a ctx's name and memory once its function is gone", function()
    local kept
    rt:register("keeper", function(event, ctx) kept = ctx; return 1 end, { memory_mb = 256 })
    assert.are.equal(1, rt:invoke("keeper"))
    assert.is_true(rt:unregister("keeper"))
    -- what the unregistered function's memory may now hold
    for i = 1, 8 do rt:register("other" .. i, function() end, { memory_mb = 512 }) end
    assert.are.equal("keeper", kept.function_name)
    assert.are.equal(256, kept.memory_limit_in_mb)
    assert.are.equal("faas.ctx (keeper, ended)", tostring(kept))
  end)

  it("puts ctx:log lines in the call's log", function()
    rt:register("chatty", function(event, ctx)
      ctx:log("one", 2, true)
      ctx:log("two")
      return 1
    end)
    assert.are.equal("one\t2\ttrue\ntwo\n", rt:invoke_response("chatty").log)
  end)

  it("decodes events and encodes results", function()
    rt:register("echo", function(event) return event end)
    assert.are.same({ a = { 1, 2 } }, rt:invoke("echo", { a = { 1, 2 } }))
    assert.are.equal("text", rt:invoke("echo", "text"))
    assert.are.equal(42, rt:invoke("echo", 42))
    assert.are.same({}, rt:invoke("echo"))                    -- no event: {}
    assert.are.equal("\0raw", rt:invoke("echo", faas.raw("\0raw")))   -- not JSON: bytes
    rt:register("nothing", function() end)
    assert.are.equal(faas.null, rt:invoke("nothing"))
    rt:register("bytes", function() return faas.raw("\1\2 not json") end)
    assert.are.equal("\1\2 not json", rt:invoke("bytes"))
    rt:register("empty", function() return faas.array({}) end)
    assert.are.equal("[]", faas.encode(rt:invoke("empty")))
  end)

  it("turns error() into a LuaError with the handler's trace", function()
    local function check(event)
      if not event.id then error("id is required") end
    end
    rt:register("validate", function(event) check(event) return "ok" end)
    local r, err = rt:invoke("validate", {})
    assert.is_nil(r)
    assert.are.equal("LuaError", err.type)
    assert.matches("runtime_spec.lua:%d+: id is required$", err.message)
    assert.are.equal(faas.EHANDLER, err.code)
    assert.are.equal("EHANDLER", err.status)
    assert.truthy(uuid4(err.request_id))
    assert.matches("in function 'error'", err.trace[1])
    assert.matches("runtime_spec.lua:%d+: in upvalue 'check'", err.trace[2])
    assert.are.equal(3, #err.trace)             -- error, check, the handler: nothing else
    assert.matches("^%[ERROR%] LuaError: ", err.log)
    assert.are.equal("LuaError: " .. err.message, tostring(err))
    assert.are.equal("ok", rt:invoke("validate", { id = 1 }))
  end)

  it("takes the type and message of an error table", function()
    rt:register("typed", function() error({ type = "ValidationError", message = "bad input" }) end)
    local _, err = rt:invoke("typed")
    assert.are.equal("ValidationError", err.type)
    assert.are.equal("bad input", err.message)
  end)

  it("reports return nil, err as a handled failure", function()
    rt:register("soft", function(event)
      if event.table then return nil, { type = "NotFound", message = "no such key" } end
      return nil, "no such key"
    end)
    local _, err = rt:invoke("soft")
    assert.are.equal("HandlerError", err.type)
    assert.are.equal("no such key", err.message)
    assert.are.same({}, err.trace)
    _, err = rt:invoke("soft", { table = true })
    assert.are.equal("NotFound", err.type)
  end)

  it("reports a result JSON cannot hold as Runtime.MarshalError", function()
    rt:register("fn", function() return { f = print } end)
    local _, err = rt:invoke("fn")
    assert.are.equal("Runtime.MarshalError", err.type)
    assert.matches("^Unable to marshal response: faas: cannot encode a function", err.message)
  end)

  it("times a handler out at its deadline", function()
    rt:register("slow", function(event, ctx)
      while ctx:remaining_ms() >= 0 do end     -- works past the deadline
      return "too late"
    end, { timeout_ms = 10 })
    local r, err = rt:invoke("slow")
    assert.is_nil(r)
    assert.are.equal(faas.ETIMEOUT, err.code)
    assert.are.equal("Sandbox.Timedout", err.type)
    assert.are.equal("Task timed out after 0.01 seconds", err.message)
  end)

  it("throttles at max_concurrency", function()
    local inner
    rt:register("single", function(event)
      if event.outer then
        local r, err = rt:invoke("single", { outer = false })
        inner = err
        return "outer"
      end
      return "inner"
    end, { max_concurrency = 1 })
    assert.are.equal("outer", rt:invoke("single", { outer = true }))
    assert.are.equal(faas.ETHROTTLED, inner.code)
    assert.are.equal("TooManyRequestsException", inner.type)
    assert.are.equal(1, rt:stats("single").throttles)
  end)

  it("answers nil, err for service errors", function()
    local r, err = rt:invoke("nobody")
    assert.is_nil(r)
    assert.are.equal(faas.ENOTFOUND, err.code)
    assert.are.equal("ResourceNotFoundException", err.type)
    local ok, e2 = rt:register("bad name", function() end)
    assert.is_nil(ok)
    assert.are.equal(faas.EINVAL, e2.code)
    assert.truthy(rt:register("twice", function() end))
    ok, e2 = rt:register("twice", function() end)
    assert.are.equal(faas.EEXIST, e2.code)
    assert.has_error(function() rt:register("x", function() end, { memory_mbs = 1 }) end,
      "faas: unknown function setting 'memory_mbs'")
    assert.has_error(function() rt:register("x", function() end, { timeout_ms = -1 }) end,
      "faas: function setting timeout_ms must be an integer from 0 to 4294967295")
    local none, e3 = faas.runtime{ price_model = "no-such-cloud" }
    assert.is_nil(none)
    assert.are.equal(faas.EINVAL, e3.code)
  end)

  it("unregisters", function()
    rt:register("gone", function() return 1 end)
    assert.is_true(rt:unregister("gone"))
    local _, err = rt:invoke("gone")
    assert.are.equal(faas.ENOTFOUND, err.code)
    _, err = rt:unregister("gone")
    assert.are.equal(faas.ENOTFOUND, err.code)
    rt:register("self", function() return select(2, rt:unregister("self")) end)
    assert.are.equal(faas.EBUSY, rt:invoke("self").code)
    rt:register("gone", function() return 2 end)
    assert.are.equal(2, rt:invoke("gone"))
  end)

  it("warms and counts", function()
    rt:register("w", function() return true end, { max_concurrency = 3 })
    assert.is_true(rt:warm("w", 2))
    local s = rt:stats("w")
    assert.are.equal(2, s.instances_live)
    assert.are.equal(0, s.invocations)
    rt:invoke("w")
    s = rt:stats("w")
    assert.are.equal(1, s.invocations)
    assert.are.equal(0, s.cold_starts)
    assert.is_true(s.cost_picousd > 0)
    assert.are.equal(faas.ENOTFOUND, select(2, rt:stats("nobody")).code)
  end)

  it("keeps records", function()
    rt:register("rec", function() return 1 end, { memory_mb = 512, tag = "team-a" })
    local first = rt:invoke_response("rec").record
    local second = rt:invoke_response("rec").record
    assert.is_true(first.cold)
    assert.is_false(second.cold)
    assert.are.equal("rec", first["function"])
    assert.are.equal("team-a", first.tag)
    assert.are.equal(512, first.memory_mb)
    assert.is_true(first.billed_ms >= 1)
  end)

  it("lets handlers call each other, also from a coroutine", function()
    rt:register("inner", function(n) return n * 2 end)
    rt:register("outer", function(n) return rt:invoke("inner", n) + 1 end)
    assert.are.equal(41, rt:invoke("outer", 20))
    local co = coroutine.wrap(function()
      coroutine.yield(rt:invoke("outer", 1))
      return rt:invoke("outer", 2)
    end)
    assert.are.equal(3, co())
    assert.are.equal(5, co())
  end)

  it("keeps two runtimes' functions of one name apart", function()
    local other = faas.runtime{ workers = 1 }
    rt:register("same", function() return "first" end)
    other:register("same", function() return "second" end)
    assert.are.equal("first", rt:invoke("same"))
    assert.are.equal("second", other:invoke("same"))
    other:close()
  end)

  it("runs C modules beside Lua handlers", function()
    local dir = os.getenv("FAAS_MODULE_DIR")
    local f = dir and io.open(dir .. "/echo.so")
    if not f then pending("FAAS_MODULE_DIR does not hold echo.so") return end
    f:close()
    assert.is_true(rt:register_module("echo", dir .. "/echo.so", "echo", { memory_mb = 64 }))
    assert.are.same({ x = { 1 } }, rt:invoke("echo", { x = { 1 } }))
    rt:register_module("missing", dir .. "/no-such.so", "f")
    local _, err = rt:invoke("missing")
    assert.are.equal(faas.ELOAD, err.code)
    assert.are.equal("Runtime.LoadError", err.type)
  end)

  it("gives a C handler its payload followed by a NUL byte", function()
    -- The handler ABI: mod_basic's `terminated` fails the call unless payload[len] is NUL.
    local dir = os.getenv("FAAS_TEST_MODULES")
    local f = dir and io.open(dir .. "/mod_basic.so")
    if not f then pending("FAAS_TEST_MODULES does not hold mod_basic.so") return end
    f:close()
    assert.is_true(rt:register_module("term", dir .. "/mod_basic.so", "terminated"))
    assert.are.equal("a\0b", rt:invoke("term", faas.raw("a\0b")))
    local long = string.rep("z", 5000)
    assert.are.equal(long, rt:invoke("term", faas.raw(long)))
    assert.are.same({ k = "v" }, rt:invoke("term", { k = "v" }))
    local r, err = rt:invoke("term")              -- no event: "" reaches the handler
    assert.is_nil(err)
    assert.are.equal(faas.null, r)                -- and an empty reply is faas.null
  end)

  it("isolates a C module that crashes, when the library can", function()
    local dir = os.getenv("FAAS_TEST_MODULES")
    local f = dir and io.open(dir .. "/mod_misbehave.so")
    if not f then pending("FAAS_TEST_MODULES does not hold mod_misbehave.so") return end
    f:close()
    local ok, err = rt:register_module("crash", dir .. "/mod_misbehave.so", "null_deref",
      { isolation = "process" })
    if not ok and err.code == faas.ENOTSUP then
      pending("libfaas was built without process isolation")
      return
    end
    assert.is_true(ok)
    local r, e = rt:invoke("crash")
    assert.is_nil(r)
    assert.are.equal(faas.ECRASHED, e.code)
    assert.are.equal("Runtime.ExitError", e.type)
    assert.is_true(rt:register_module("iso_echo", dir .. "/mod_misbehave.so", "echo",
      { isolation = "process", seccomp = "strict" }))
    assert.are.same({ a = 1 }, rt:invoke("iso_echo", { a = 1 }))
    assert.has_error(function()
      rt:register_module("x", "x.so", "x", { isolation = "vm" })
    end, 'faas: function setting isolation must be one of "none", "process"')
  end)

  it("calls an existing C function through register_ffi", function()
    -- The libffi bridge (faas_register_ffi(3)): arguments are a JSON array, the result JSON.
    assert.is_true(rt:register_ffi("cos", "libm.so.6", "cos", "double (double)"))
    assert.are.equal(1.0, rt:invoke("cos", faas.array{ 0 }))
    assert.are.equal(-1.0, rt:invoke("cos", { math.pi }))
    local r, err = rt:invoke("cos", { "zero" })
    assert.is_nil(r)
    assert.are.equal(faas.EINVAL, err.code)
    assert.truthy(err.message:find("double"))
    assert.is_true(rt:register_ffi("strdup", nil, "strdup", "faas_owned char *strdup(const char *)"))
    assert.are.equal("h\u{e9}llo", rt:invoke("strdup", { "h\u{e9}llo" }))
    assert.are.equal(3, rt:stats("cos").invocations)
    local ok
    ok, err = rt:register_ffi("bad", nil, "cos", "double (")
    assert.is_nil(ok)
    assert.are.equal(faas.EINVAL, err.code)
  end)
end)

describe("a runtime's life", function()
  it("refuses calls once closed", function()
    local rt = faas.runtime{ workers = 1 }
    rt:close()
    rt:close()
    assert.has_error(function() rt:invoke("x") end, "faas: the runtime is closed")
    assert.are.equal("faas.runtime (closed)", tostring(rt))
  end)

  it("is collected without a close", function()
    for _ = 1, 20 do
      local rt = faas.runtime{ workers = 1 }
      rt:register("f", function() return rt end)   -- a cycle through the handler
      rt:invoke_async("f", nil, function() end)
    end
    collectgarbage()
    collectgarbage()
  end)

  it("cannot be closed by its own handler", function()
    local rt = faas.runtime{ workers = 1 }
    rt:register("f", function() rt:close() end)
    local _, err = rt:invoke("f")
    assert.matches("rt:close%(%) from inside one of its own handlers", err.message)
    rt:close()
  end)

  it("knows its version", function()
    assert.matches("^%d+%.%d+%.%d+$", faas.version())
    assert.are.equal("function at its concurrency limit", faas.strerror(faas.ETHROTTLED))
  end)
end)

describe("cost, budgets and metrics", function()
  local rt
  before_each(function() rt = faas.runtime{ workers = 1 } end)
  after_each(function() rt:close() end)

  it("knows the library's price models and formats pico-dollars", function()
    local names = {}
    for _, m in ipairs(faas.price_models()) do names[m.name] = m end
    assert.are.equal(200000, names["aws-lambda-x86"].request_picousd)
    assert.truthy(names["aws-lambda-arm64"])
    assert.are.equal("$1.200002", faas.format_usd(1200002000000))
    assert.are.equal("$2.00", faas.format_usd(1995000000000, 2))
  end)

  it("adds up what the calls cost, per function, tag and in all", function()
    rt:register("a", function() return 1 end, { memory_mb = 256, tag = "team-a" })
    rt:register("b", function() return 2 end, { tag = "team-b" })
    for _ = 1, 5 do rt:invoke("a"); rt:invoke("b") end
    local rows = rt:cost_totals()
    assert.are.equal(2, #rows)
    assert.are.equal("a", rows[1].name)
    assert.are.equal("function", rows[1].group)
    assert.are.equal(5, rows[1].calls)
    local total = rt:cost_totals("total")[1]
    assert.are.equal("total", total.group)
    assert.is_nil(total.name)
    assert.are.equal(rt:stats().cost_picousd, total.total_picousd)
    assert.are.equal(2, #rt:cost_totals("tag"))
    assert.has_error(function() rt:cost_totals("tenant") end)
  end)

  it("stops a tag at its budget", function()
    rt:register("tenant", function() return "ok" end, { tag = "tenant-1" })
    assert.is_true(rt:budget_set("tenant-1", 1))
    assert.are.equal("ok", rt:invoke("tenant"))
    local r, err = rt:invoke("tenant")
    assert.is_nil(r)
    assert.are.equal(faas.EBUDGET, err.code)
    assert.are.equal("BudgetExceededException", err.type)
    local b = rt:budget("tenant-1")
    assert.are.equal(1, b.limit_picousd)
    assert.are.equal(1, b.refusals)
    assert.are.equal(1, rt:stats("tenant").budget_refusals)
    assert.is_true(rt:budget_remove("tenant-1"))
    assert.are.equal("ok", rt:invoke("tenant"))
    assert.are.equal(faas.ENOTFOUND, select(2, rt:budget("tenant-1")).code)
  end)

  it("exports metrics as JSON and Prometheus text", function()
    rt:register("m", function() return 1 end)
    rt:invoke("m")
    local m = faas.decode(rt:metrics())
    assert.are.equal("aws-lambda-x86", m.price_model)
    local text = rt:metrics("prometheus")
    assert.truthy(text:find("# TYPE faas_invocations_total counter", 1, true))
    assert.truthy(text:find('function="m"', 1, true))
  end)
end)
