-- wrk script for bench/load.py: sends the GET requests listed in a file, in turn, and
-- prints the figures as one parseable line at the end.
--
--   wrk -t2 -c20 -d20s -s bench/wrk/requests.lua http://127.0.0.1:PORT -- requests.tsv
--
-- Each line of the file is one request: the path, then its headers, separated by tabs:
--   /my/<TAB>Cookie: sessionid=...<TAB>X-Forwarded-Proto: https
-- The lines carry different people's cookies, so that the pages read different rows.
-- Every wrk thread starts at a different line and takes the next one for each request.
--
-- Any answer but 200 counts as an error (wrk itself counts only 4xx and 5xx, and a 302 to
-- the log-in page would otherwise pass as a fast success).

local lines = {}
local next_line = 1
local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

local function split_tabs(line)
   local fields = {}
   for field in string.gmatch(line, "[^\t]+") do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   local path = args[1]
   if path == nil then
      error("usage: wrk ... -s requests.lua URL -- <requests file>")
   end
   for line in io.lines(path) do
      if line ~= "" then
         local fields = split_tabs(line)
         local headers = {}
         for i = 2, #fields do
            local name, value = string.match(fields[i], "^([^:]+):%s*(.*)$")
            if name ~= nil then
               headers[name] = value
            end
         end
         table.insert(lines, wrk.format("GET", fields[1], headers))
      end
   end
   if #lines == 0 then
      error("no requests in " .. path)
   end
   -- Threads start spread over the list rather than all on the first line.
   local number = thread_number or 1
   next_line = ((number - 1) * math.floor(#lines / 2 + 1)) % #lines + 1
   not_ok = 0
end

function request()
   local chosen = lines[next_line]
   next_line = next_line % #lines + 1
   return chosen
end

function response(status, headers, body)
   if status ~= 200 then
      not_ok = not_ok + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("not_ok") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_WRK {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
      "\"not_200\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, \"status\": %d, " ..
      "\"timeout\": %d, \"p50_us\": %d, \"p75_us\": %d, \"p90_us\": %d, \"p95_us\": %d, " ..
      "\"p99_us\": %d, \"mean_us\": %.1f, \"max_us\": %d}\n",
      summary.requests, summary.duration, summary.bytes, bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
