-- wrk script for bench/load.sh. OP selects what every request of this wrk run does:
--   report: hiresByQuarter for a year (2019 to 2023 in turn)
--   list:   a page of 50 hires of one department, with their department and job
--   insert: insertHiredEmployees with 1000 new rows (ids unique per thread and request)
-- It counts 5xx answers, answers with GraphQL errors, and the rows acknowledged
-- as inserted, and prints one RESULT line for bench/load.sh to read.
local op = os.getenv("OP") or "report"
local BATCH = 1000
local BASE = tonumber(os.getenv("ID_BASE") or "100000000")
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  next_id = BASE + thread_index * 10000000
  sent = 0
  errors5xx = 0
  failed = 0
  inserted = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function insert_body()
  local rows = {}
  for i = 1, BATCH do
    local id = next_id
    next_id = next_id + 1
    rows[i] = string.format(
      '{"id":%d,"name":"Load Hire %d","hireDatetime":"2022-%02d-%02dT%02d:%02d:00Z","departmentId":%d,"jobId":%d}',
      id, id, (id % 12) + 1, (id % 28) + 1, id % 24, id % 60, (id % 12) + 1, (id % 183) + 1)
  end
  return '{"query":"mutation Insert($rows:[HiredEmployeeInput!]!){insertHiredEmployees(rows:$rows){inserted unchanged rejected{code}}}","variables":{"rows":['
    .. table.concat(rows, ",") .. ']}}'
end

function request()
  sent = sent + 1
  local body
  if op == "insert" then
    body = insert_body()
  elseif op == "list" then
    body = string.format(
      '{"query":"query List{hiredEmployees(first:50,filter:{departmentIds:[%d]}){totalCount nodes{id name hireDatetime department{department} job{job}}}}"}',
      (sent % 12) + 1)
  else
    body = string.format(
      '{"query":"query Report{hiresByQuarter(year:%d){department job q1 q2 q3 q4}}"}',
      2019 + (sent % 5))
  end
  return wrk.format(nil, "/graphql", nil, body)
end

function response(status, headers, body)
  if status >= 500 then
    errors5xx = errors5xx + 1
  end
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write(op .. ": " .. status .. " " .. string.sub(body, 1, 200) .. "\n")
    end
  end
  if op == "insert" then
    local n = string.match(body, '"inserted":(%d+)')
    if n then
      inserted = inserted + tonumber(n)
    end
  end
end

function done(summary, latency, requests)
  local e5, bad, rows = 0, 0, 0
  for _, thread in ipairs(threads) do
    e5 = e5 + thread:get("errors5xx")
    bad = bad + thread:get("failed")
    rows = rows + thread:get("inserted")
  end
  local errors = summary.errors
  io.write(string.format(
    "RESULT op=%s requests=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f errors5xx=%d failed=%d inserted=%d socket_errors=%d seconds=%.1f\n",
    op, summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e5, bad, rows,
    errors.connect + errors.read + errors.write + errors.timeout, summary.duration / 1e6))
end
