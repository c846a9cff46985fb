-- wrk script: POSTs the GraphQL body in $QUERY_BODY to /graphql and counts unexpected answers
-- (not a 200, an "errors" key, or, with $EXPECT_PREFIX, a body that does not start with it),
-- reporting the first on stderr. With $AUTH_TOKEN it sends `Authorization: Bearer $AUTH_TOKEN`.
wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("AUTH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.body = os.getenv("QUERY_BODY")
local prefix = os.getenv("EXPECT_PREFIX")
local bad = 0

function response(status, headers, body)
  local wrong_start = prefix and prefix ~= "" and string.find(body, prefix, 1, true) ~= 1
  if status ~= 200 or wrong_start or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write("unexpected response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end
