-- versions_spec.lua - versions and aliases (faas_publish_version(3), faas_alias_set(3)):
-- qualified names in invoke, publish, the versions list, weighted aliases, and records
-- that say which version ran.
local faas = require "faas"

local function module_dir()
  local dir = os.getenv("FAAS_MODULE_DIR")
  local f = dir and io.open(dir .. "/greet_v2.so")
  if f then f:close() return dir end
end

local function copy(from, to)
  local i = assert(io.open(from, "rb"))
  local data = i:read("a")
  i:close()
  local o = assert(io.open(to .. ".new", "wb"))
  o:write(data)
  o:close()
  assert(os.rename(to .. ".new", to))      -- a rebuilt module put in place
end

describe("versions and aliases", function()
  local rt, live
  before_each(function()
    rt = faas.runtime{ workers = 2 }
    live = os.tmpname()
  end)
  after_each(function()
    rt:close()
    os.remove(live)
  end)

  it("publish two builds, route by weight, promote, delete", function()
    local dir = module_dir()
    if not dir then pending("FAAS_MODULE_DIR does not hold greet.so") return end
    copy(dir .. "/greet.so", live)
    assert.is_true(rt:register_module("greet", live, "greet"))
    assert.are.equal(1, rt:publish_version("greet", "v1"))
    assert.are.equal(1, rt:publish_version("greet"))          -- nothing changed
    copy(dir .. "/greet_v2.so", live)
    assert.are.equal(2, rt:publish_version("greet", "v2"))
    local vs = rt:versions("greet")
    assert.are.equal(2, #vs)
    assert.are.equal(1, vs[1].version)
    assert.are.equal("v1", vs[1].description)
    assert.are.equal(44, #vs[1].code_sha256)
    assert.are_not.equal(vs[1].code_sha256, vs[2].code_sha256)
    local f = assert(io.open(dir .. "/greet.so", "rb"))
    assert.are.equal(f:seek("end"), vs[1].code_size)   -- the module file's bytes
    f:close()
    assert.is_true(vs[2].published_ns > 0)

    assert.are.same({ greeting = "hello" }, rt:invoke("greet:1", {}))
    assert.are.same({ greeting = "Hello!", version = 2 }, rt:invoke("greet:2", {}))
    local r, err = rt:invoke("greet:9", {})
    assert.is_nil(r)
    assert.are.equal("ENOTFOUND", err.status)
    assert.truthy(err.message:find("greet:9", 1, true))

    assert.is_true(rt:alias_set("greet", "live", 1, 2, 0.25))
    local a = rt:alias_get("greet", "live")
    assert.are.same({ version = 1, extra_version = 2, extra_weight = 0.25, revision = 1 }, a)
    rt:routing_seed(7)
    local counts = { [1] = 0, [2] = 0 }
    for _ = 1, 2000 do
      local res = rt:invoke_response("greet:live", {})
      assert.is_true(res.ok)
      counts[res.record.version] = counts[res.record.version] + 1
    end
    assert.is_true(counts[2] >= 380 and counts[2] <= 620)    -- 500 expected
    assert.is_true(rt:alias_set("greet", "live", 2))          -- promote
    for _ = 1, 20 do
      assert.are.equal(2, rt:invoke_response("greet:live", {}).record.version)
    end
    assert.are.equal(0, rt:invoke_response("greet", {}).record.version)

    local ok, e = rt:alias_set("greet", "bad", 1, 2, 1.5)
    assert.is_nil(ok)
    assert.are.equal("EINVAL", e.status)
    assert.is_true(rt:alias_delete("greet", "live"))
    assert.is_nil(rt:alias_get("greet", "live"))
    assert.is_nil(rt:invoke("greet:live", {}))
  end)

  it("updates a module's code and reports the status", function()
    local dir = module_dir()
    if not dir then pending("FAAS_MODULE_DIR does not hold greet.so") return end
    local live = os.tmpname()
    local src = assert(io.open(dir .. "/greet.so", "rb"))
    local out = assert(io.open(live, "wb"))
    out:write(src:read("a"))
    src:close()
    out:close()
    assert.is_true(rt:register_module("greet", live, "greet"))
    assert.are.equal("hello", rt:invoke("greet", {}).greeting)
    assert.is_nil(rt:update_status("greet").status)
    local st = assert(rt:update_code("greet", dir .. "/greet_v2.so"))
    assert.are.equal("Successful", st.status)
    assert.are.equal(1, st.updates)
    assert.are.equal(44, #st.code_sha256)
    assert.are.equal(2, rt:invoke("greet", {}).version)
    -- Code without the handler's symbol: nil, err; the old code keeps serving.
    local ok, err = rt:update_code("greet", dir .. "/echo.so")
    assert.is_nil(ok)
    assert.are.equal("ELOAD", err.status)
    st = rt:update_status("greet")
    assert.are.equal("Failed", st.status)
    assert.are.equal(1, st.failures)
    assert.are.equal(2, rt:invoke("greet", {}).version)
    -- A host function has no code to update.
    rt:register("h", function() return 1 end)
    ok, err = rt:update_code("h", dir .. "/echo.so")
    assert.is_nil(ok)
    assert.are.equal("ENOTSUP", err.status)
    os.remove(live)
  end)
end)
