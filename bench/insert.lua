-- wrk script: each request inserts 1000 new hires with insertHiredEmployees.
-- Ids are unique across threads and requests: thread t uses ids from
-- BASE + t * 100,000,000 upwards.
local BATCH = 1000
local BASE = tonumber(os.getenv("ID_BASE") or "10000000")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  next_id = BASE + thread_index * 100000000
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local rows = {}
  for i = 1, BATCH do
    local id = next_id
    next_id = next_id + 1
    local month = (id % 12) + 1
    local day = (id % 28) + 1
    rows[i] = string.format(
      '{"id":%d,"name":"Bench Hire %d","hireDatetime":"2021-%02d-%02dT%02d:%02d:00Z","departmentId":%d,"jobId":%d}',
      id, id, month, day, id % 24, id % 60, (id % 12) + 1, (id % 183) + 1)
  end
  local body = '{"query":"mutation($rows:[HiredEmployeeInput!]!){insertHiredEmployees(rows:$rows){inserted unchanged rejected{code}}}","variables":{"rows":['
    .. table.concat(rows, ",") .. ']}}'
  return wrk.format(nil, "/graphql", nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"inserted":1000') then
    counter = counter + 1
    if counter <= 3 then
      io.stderr:write("unexpected response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end
