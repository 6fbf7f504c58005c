-- json_spec.lua - Lua values <-> JSON: arrays and objects as Lua users expect them.
local faas = require "faas"

describe("faas.encode", function()
  it("makes a table with keys 1..n an array, anything else an object", function()
    assert.are.equal("[1,2,3]", faas.encode({ 1, 2, 3 }))
    assert.are.equal('{"a":1}', faas.encode({ a = 1 }))
    local sparse = faas.decode(faas.encode({ 1, nil, 3 }))
    assert.are.same({ ["1"] = 1, ["3"] = 3 }, sparse)
    local mixed = faas.decode(faas.encode({ 1, x = 2 }))
    assert.are.same({ ["1"] = 1, x = 2 }, mixed)
  end)

  it("makes an empty table an object unless told", function()
    assert.are.equal("{}", faas.encode({}))
    assert.are.equal("[]", faas.encode(faas.array({})))
    assert.are.equal('{"1":"a"}', faas.encode(faas.object({ "a" })))
  end)

  it("honours __jsontype in any metatable", function()
    local List = { __jsontype = "array" }
    assert.are.equal("[]", faas.encode(setmetatable({}, List)))
  end)

  it("keeps integers and floats apart", function()
    assert.are.equal("1", faas.encode(1))
    assert.are.equal("1.5", faas.encode(1.5))
    assert.are.equal("2.0", faas.encode(2.0))
    assert.are.equal(math.type(faas.decode("2")), "integer")
    assert.are.equal(math.type(faas.decode("2.0")), "float")
  end)

  it("encodes null, booleans and strings (NUL bytes too)", function()
    assert.are.equal('[null,true,false]', faas.encode({ faas.null, true, false }))
    assert.are.equal('"a\\u0000b"', faas.encode("a\0b"))
    assert.are.equal("null", faas.encode(nil))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() faas.encode(print) end,
      "faas: cannot encode a function as JSON")
    assert.has_error(function() faas.encode("\255") end)
    assert.has_error(function() faas.encode(0 / 0) end)
    assert.has_error(function() faas.encode({ [true] = 1 }) end)
    local cycle = {}
    cycle[1] = cycle
    assert.has_error(function() faas.encode(cycle) end)
    assert.has_error(function() faas.encode(faas.raw("x")) end)
  end)
end)

describe("faas.decode", function()
  it("marks arrays, so that [] goes back as []", function()
    local t = faas.decode('{"list":[],"obj":{}}')
    assert.are.equal("[]", faas.encode(t.list))
    assert.are.equal("{}", faas.encode(t.obj))
  end)

  it("gives faas.null for null, even inside arrays", function()
    local t = faas.decode('{"a":[1,null,{"b":null}]}')
    assert.are.equal(3, #t.a)
    assert.are.equal(faas.null, t.a[2])
    assert.are.equal(faas.null, t.a[3].b)
    assert.are.equal(faas.null, faas.decode("null"))
  end)

  it("is the same null as lua-cjson's", function()
    local ok, cjson = pcall(require, "cjson")
    if not ok then pending("lua-cjson is not installed") return end
    assert.are.equal(cjson.null, faas.null)
    assert.are.equal("null", faas.encode(cjson.null))
  end)

  it("answers nil and a message for bad JSON", function()
    local v, err = faas.decode("{bad")
    assert.is_nil(v)
    assert.matches("faas.decode: .* line 1", err)
  end)
end)

describe("faas.raw", function()
  it("holds bytes", function()
    assert.are.equal("\0\1\2", tostring(faas.raw("\0\1\2")))
  end)
end)
