-- wrk script: POSTs the GraphQL body in $QUERY_BODY to /graphql and counts unexpected answers.
wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("QUERY_BODY")
local bad = 0

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write("unexpected response: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end
