-- wrk script: POST the body read from the file named by the first script argument (after `--`), and print the
-- latency summary as one JSON line prefixed with BENCH_JSON when the run is done. Headers come from `-H` flags.
--   wrk -t1 -c64 -d5s -H 'authorization: Bearer …' -s bench/wrk/post.lua http://127.0.0.1:<port>/v1/messages -- body.json

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"p50":%d,"p90":%d,"p99":%d,"mean":%d,"max":%d,"requests":%d,"bytes":%d,"durationUs":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)), math.floor(latency:percentile(99)),
    math.floor(latency.mean), math.floor(latency.max), summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
end
