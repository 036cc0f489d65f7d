-- tests/chaos/check.lua -- wrk script for tests/chaos/chaos.py: POSTs an echo
-- request, checks every answer, and prints one line at the end:
--   CHAOS {"statuses":{"200":N,…},"bad":N,"sample":"…","requests":N,
--          "errors":{"connect":N,…},"latency_max_us":N}
-- An answer is good when it is 200 with the echoed body, or 503 with the
-- JSON error body of code 14 (UNAVAILABLE).
local body = '{"value":"chaos"}'
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   statuses = {}
   bad = 0
   sample = ""
end

function response(status, headers, got)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   local ok
   if status == 200 then
      ok = got == body
   elseif status == 503 then
      ok = string.find(got, '^{"code":14,"message":"') ~= nil
         and headers["Content-Type"] == "application/json"
   else
      ok = false
   end
   if not ok then
      bad = bad + 1
      if sample == "" then
         sample = key .. " " .. string.sub(got, 1, 200)
      end
   end
end

local function escape(s)
   return (string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end))
end

function done(summary, latency, requests)
   local total, nbad, first = {}, 0, ""
   for _, t in ipairs(threads) do
      for k, v in pairs(t:get("statuses") or {}) do
         total[k] = (total[k] or 0) + v
      end
      nbad = nbad + (t:get("bad") or 0)
      local s = t:get("sample") or ""
      if first == "" then first = s end
   end
   local parts = {}
   for k, v in pairs(total) do
      table.insert(parts, string.format('"%s":%d', k, v))
   end
   local e = summary.errors
   io.write(string.format('CHAOS {"statuses":{%s},"bad":%d,"sample":"%s","requests":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_max_us":%d}\n', table.concat(parts, ","), nbad, escape(first),
      summary.requests, e.connect, e.read, e.write, e.status, e.timeout, latency.max))
end
