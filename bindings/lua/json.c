/*
 * json.c - Lua values <-> JSON for the Lua binding, with jansson. It owns the rules of
 * which table is an array (keys exactly 1..n, or a metatable saying so), what null is
 * (faas.null, the same light userdata as cjson.null) and raw bytes (faas.raw). It knows
 * nothing of runtimes or calls.
 */
#include "lfaas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000      /* deeper than any real document; stops cycles */

void lfaas_hold_release(lfaas_hold *h)
{
    json_decref(h->tree);
    h->tree = NULL;
    free(h->text);
    h->text = NULL;
}

json_t *lfaas_json_text(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j != NULL)
        return j;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = ((unsigned char)s[i] >= 0x80 || s[i] == '\0') ? '?' : s[i];
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

/* ---- Lua -> JSON ---------------------------------------------------------------------- */

/* 'a' (array), 'o' (object) or 0: what the table's metatable says it is. */
static int declared_type(lua_State *L, int idx)
{
    int t = 0;
    if (luaL_getmetafield(L, idx, "__jsontype") != LUA_TNIL) {
        const char *s = lua_tostring(L, -1);
        if (s != NULL && strcmp(s, "array") == 0)
            t = 'a';
        else if (s != NULL && strcmp(s, "object") == 0)
            t = 'o';
        lua_pop(L, 1);
    }
    return t;
}

/* n > 0 if the table's keys are exactly the integers 1..n; 0 if it is empty; -1 else. */
static lua_Integer sequence_length(lua_State *L, int idx)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        count++;
    }
    return count == max ? count : -1;
}

/* A new JSON value for the non-table at idx (NULL out of memory). */
static json_t *scalar(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx)))
            luaL_error(L, "faas: cannot encode %f as JSON", lua_tonumber(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        if (j == NULL)
            luaL_error(L, "faas: cannot encode a string that is not UTF-8 as JSON "
                          "(faas.raw(s) sends bytes as they are)");
        return j;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return json_null();
        break;
    default:
        break;
    }
    luaL_error(L, "faas: cannot encode a %s as JSON", luaL_typename(L, idx));
    return NULL;
}

/* Put j into parent (at key, or appended when key is NULL), or make it the root. */
static void attach(lua_State *L, lfaas_hold *h, json_t *parent, const char *key,
                   size_t keylen, json_t *j)
{
    if (j == NULL)
        luaL_error(L, "faas: out of memory encoding JSON");
    if (parent == NULL) {
        h->tree = j;
        return;
    }
    int rc = key ? json_object_setn_new(parent, key, keylen, j)
                 : json_array_append_new(parent, j);
    if (rc != 0)
        luaL_error(L, key ? "faas: cannot encode the key \"%s\" as JSON (not UTF-8?)"
                          : "faas: out of memory encoding JSON", key);
}

/* Encode the value at idx into parent (the root when NULL). A container is attached before
 * it is filled, so that everything allocated hangs from h->tree whenever Lua raises. */
static void walk(lua_State *L, int idx, lfaas_hold *h, json_t *parent, const char *key,
                 size_t keylen, int depth)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        attach(L, h, parent, key, keylen, scalar(L, idx));
        return;
    }
    if (depth >= MAX_DEPTH)
        luaL_error(L, "faas: cannot encode JSON nested deeper than %d (a cycle?)", MAX_DEPTH);
    luaL_checkstack(L, 6, "faas: JSON nesting");
    int declared = declared_type(L, idx);
    lua_Integer n = declared == 'a' ? (lua_Integer)lua_rawlen(L, idx)
                  : declared == 'o' ? -1 : sequence_length(L, idx);
    json_t *j = n > 0 || declared == 'a' ? json_array() : json_object();
    attach(L, h, parent, key, keylen, j);
    if (json_is_array(j)) {
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            walk(L, lua_gettop(L), h, j, NULL, 0, depth + 1);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        char num[64];
        const char *k;
        size_t klen;
        switch (lua_type(L, -2)) {
        case LUA_TSTRING:
            k = lua_tolstring(L, -2, &klen);
            break;
        case LUA_TNUMBER:       /* formatted here: lua_tostring would change the key */
            if (lua_isinteger(L, -2))
                klen = (size_t)snprintf(num, sizeof num, LUA_INTEGER_FMT, lua_tointeger(L, -2));
            else
                klen = (size_t)snprintf(num, sizeof num, "%.17g", lua_tonumber(L, -2));
            k = num;
            break;
        default:
            luaL_error(L, "faas: cannot encode a table key of type %s as JSON",
                       luaL_typename(L, -2));
            return;
        }
        walk(L, lua_gettop(L), h, j, k, klen, depth + 1);
        lua_pop(L, 1);
    }
}

static int is_raw(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, LFAAS_RAW_MT) != NULL;
}

void lfaas_payload(lua_State *L, int idx, lfaas_hold *h, size_t *len)
{
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx)) {
        *len = 0;
        return;
    }
    if (is_raw(L, idx)) {
        lua_getiuservalue(L, idx, 1);
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        h->text = malloc(n + 1);
        if (h->text == NULL)
            luaL_error(L, "faas: out of memory for a %I byte payload", (lua_Integer)n);
        memcpy(h->text, s, n);
        h->text[n] = '\0';
        *len = n;
        lua_pop(L, 1);
        return;
    }
    walk(L, idx, h, NULL, NULL, 0, 0);
    h->text = json_dumps(h->tree, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(h->tree);
    h->tree = NULL;
    if (h->text == NULL)
        luaL_error(L, "faas: out of memory encoding JSON");
    *len = strlen(h->text);
}

int lfaas_payload_protected(lua_State *L)
{
    lfaas_hold *h = lua_touserdata(L, 1);
    size_t len;
    lfaas_payload(L, 2, h, &len);
    lua_pushinteger(L, (lua_Integer)len);
    return 1;
}

/* ---- JSON -> Lua ---------------------------------------------------------------------- */

static void push_json(lua_State *L, const json_t *j, int depth)
{
    luaL_checkstack(L, 3, "faas: JSON nesting");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            lua_pushstring(L, k);
            push_json(L, v, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_array_get(j, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        luaL_setmetatable(L, LFAAS_ARRAY_MT);   /* [] stays [] when it is sent back */
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
    }
}

void lfaas_push_payload(lua_State *L, const char *data, size_t len, int empty_table,
                        lfaas_hold *h)
{
    if (len == 0) {
        if (empty_table)
            lua_newtable(L);
        else
            lua_pushlightuserdata(L, NULL);
        return;
    }
    h->tree = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (h->tree == NULL) {
        lua_pushlstring(L, data, len);          /* not JSON: the bytes themselves */
        return;
    }
    push_json(L, h->tree, 0);
    json_decref(h->tree);
    h->tree = NULL;
}

/* ---- the module's JSON functions ------------------------------------------------------- */

/* faas.encode and faas.decode share one hold, their upvalue (a userdata whose __gc frees
 * it): released before and after each use, so an error in between leaks nothing. Neither
 * runs Lua code while it holds it. */
static lfaas_hold *shared_hold(lua_State *L)
{
    lfaas_hold *h = lua_touserdata(L, lua_upvalueindex(1));
    lfaas_hold_release(h);
    return h;
}

/* faas.encode(value) -> JSON text */
static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    if (is_raw(L, 1))
        return luaL_argerror(L, 1, "faas.raw bytes are not JSON");
    if (lua_isnil(L, 1)) {
        lua_pushliteral(L, "null");
        return 1;
    }
    lfaas_hold *h = shared_hold(L);
    size_t len;
    lfaas_payload(L, 1, h, &len);
    lua_pushlstring(L, h->text, len);
    lfaas_hold_release(h);
    return 1;
}

/* faas.decode(text) -> value, or nil and a message */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lfaas_hold *h = shared_hold(L);
    json_error_t err;
    h->tree = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (h->tree == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "faas.decode: %s at line %d column %d", err.text, err.line,
                        err.column);
        return 2;
    }
    push_json(L, h->tree, 0);
    lfaas_hold_release(h);
    return 1;
}

static int l_hold_gc(lua_State *L)
{
    lfaas_hold_release(luaL_checkudata(L, 1, "faas.hold"));
    return 0;
}

static int set_mt(lua_State *L, const char *mt)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, mt);
    return 1;
}

/* faas.array(t) / faas.object(t): t, marked (its metatable is replaced) */
static int l_array(lua_State *L)
{
    return set_mt(L, LFAAS_ARRAY_MT);
}

static int l_object(lua_State *L)
{
    return set_mt(L, LFAAS_OBJECT_MT);
}

/* faas.raw(bytes): a value sent as those bytes, not as JSON */
static int l_raw(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_newuserdatauv(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, LFAAS_RAW_MT);
    return 1;
}

static int l_raw_tostring(lua_State *L)
{
    luaL_checkudata(L, 1, LFAAS_RAW_MT);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

void lfaas_json_open(lua_State *L, int t)
{
    t = lua_absindex(L, t);
    luaL_newmetatable(L, LFAAS_ARRAY_MT);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype");
    lua_pop(L, 1);
    luaL_newmetatable(L, LFAAS_OBJECT_MT);
    lua_pushliteral(L, "object");
    lua_setfield(L, -2, "__jsontype");
    lua_pop(L, 1);
    luaL_newmetatable(L, LFAAS_RAW_MT);
    lua_pushcfunction(L, l_raw_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newmetatable(L, "faas.hold");
    lua_pushcfunction(L, l_hold_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    static const luaL_Reg fns[] = {
        { "array", l_array }, { "object", l_object }, { "raw", l_raw }, { NULL, NULL },
    };
    lua_pushvalue(L, t);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
    lfaas_hold *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->tree = NULL;
    h->text = NULL;
    luaL_setmetatable(L, "faas.hold");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_encode, 1);
    lua_setfield(L, t, "encode");
    lua_pushcclosure(L, l_decode, 1);
    lua_setfield(L, t, "decode");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, t, "null");
}
