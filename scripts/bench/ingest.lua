-- wrk script: one Alertmanager webhook POST per request, each alert new (its own group), the
-- alert token from MV_TOKEN. Used by scripts/bench.sh for the ingestion row.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  n = 0
  token = os.getenv("MV_TOKEN")
end
request = function()
  n = n + 1
  local body = string.format(
    '{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Ing%d_%d","org":"%s","service":"PLO","kind":"kvittering"}}]}',
    tid, n, ({"malvik", "melhus", "skaun", "frosta"})[n % 4 + 1])
  return wrk.format("POST", "/api/v1/alerts",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
