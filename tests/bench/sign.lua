-- wrk script: POST a 600-byte event to a generic source, each request with
-- a new webhook-id and a Standard Webhooks signature made with OpenSSL
-- through LuaJIT's FFI (so signing costs wrk microseconds, not Herald's
-- measurement). Arguments after "--": KEY_HEX PATH [DELAY_MS [MAX [POOL]]],
-- MAX being how many requests each thread sends before it stops (0: no
-- limit) and POOL how many requests each thread builds before the run
-- starts (0: none), so that wrk spends the two shared cores on sending,
-- not on formatting; past the pool, requests are built as they go.
local ffi = require("ffi")
ffi.cdef [[
const void *EVP_sha256(void);
unsigned char *HMAC(const void *md, const void *key, int key_len,
		    const unsigned char *d, size_t n, unsigned char *out,
		    unsigned int *out_len);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
]]
local crypto = ffi.load("crypto.so.3")
local digest = ffi.new("unsigned char[32]")
local digest_len = ffi.new("unsigned int[1]")
local encoded = ffi.new("unsigned char[48]")

local key, path, delay_ms, max_requests
local counter, run = 0, tostring(os.time())
local pool = {}
local threads = {}
-- thread_id is a global that setup() gives each thread's own state.
thread_id = 0

local function from_hex(h)
   return (h:gsub("..", function(c) return string.char(tonumber(c, 16)) end))
end

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

local make

function init(args)
   key = from_hex(args[1])
   path = args[2]
   delay_ms = tonumber(args[3] or "0")
   max_requests = tonumber(args[4] or "0")
   for n = 1, tonumber(args[5] or "0") do
      pool[n] = make(n)
   end
end

local function sign(id, ts, body)
   local msg = id .. "." .. ts .. "." .. body
   crypto.HMAC(crypto.EVP_sha256(), key, #key, msg, #msg, digest, digest_len)
   local n = crypto.EVP_EncodeBlock(encoded, digest, 32)
   return "v1," .. ffi.string(encoded, n)
end

local pad = string.rep("x", 600)

-- Request n of this thread, signed now.
make = function(n)
   local id = string.format("bench-%s-%d-%d", run, thread_id, n)
   local head = string.format(
      '{"type":"DEPLOYMENT_SUCCESS","deployment_id":"bench-%d",' ..
      '"run":"%s","n":%d,"pad":"', n % 100, run, n)
   local body = head .. pad:sub(1, 598 - #head) .. '"}'
   local ts = tostring(os.time())
   return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["webhook-id"] = id,
      ["webhook-timestamp"] = ts,
      ["webhook-signature"] = sign(id, ts, body),
   }, body)
end

function request()
   if max_requests > 0 and counter >= max_requests then
      -- Past the limit: the thread stops at the next answer.
      return wrk.format("GET", "/healthz")
   end
   counter = counter + 1
   return pool[counter] or make(counter)
end

function delay()
   return delay_ms
end

local answered = 0

function response(status, headers, body)
   answered = answered + 1
   if max_requests > 0 and answered >= max_requests then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   io.write(string.format(
      "RESULT requests=%d duration_us=%d non2xx=%d errors=%d " ..
      "p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout,
      latency:percentile(50), latency:percentile(99)))
end
