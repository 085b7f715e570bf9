-- The request mix of bench/mixed.py, for wrk: each wrk thread draws requests from these weights (per 1000) and
-- sends the writes as its own volunteers (their tokens: one line each in the file given as the first argument).
--   wrk ... -s bench/mixed.lua URL -- TOKENS_FILE FIRST_EVENT_ID LAST_EVENT_ID THREADS ROUND
-- A volunteer's writes alternate: join a random event, then leave it; a thread's volunteers take turns, so a
-- volunteer's next write leaves long after the previous one was answered (no 409 from a join racing its leave).
-- Each run (ROUND) joins events of its own slice: a volunteer a previous run left joined somewhere never joins
-- that event again.

local MIX = {
  -- anonymous, 75 %
  { "list", 150 }, { "list_page_2", 50 }, { "list_category", 50 },
  { "detail", 300 }, { "nearby", 120 }, { "categories", 80 },
  -- authenticated reads, 15 %
  { "profile", 50 }, { "my_events", 50 }, { "detail_authenticated", 50 },
  -- writes, 10 %
  { "join_or_leave", 80 }, { "comment", 20 },
}

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[4])
  first_event, last_event = tonumber(args[2]), tonumber(args[3])
  local round = tonumber(args[5])
  slice_size = math.max(1, math.floor((last_event - first_event + 1) / 16))
  slice_start = first_event + (round % 16) * slice_size
  tokens, joined, counts, failures = {}, {}, {}, {}
  local line_number = 0
  for line in io.lines(args[1]) do
    if line_number % nthreads == id then
      table.insert(tokens, line)
    end
    line_number = line_number + 1
  end
  writer, commenter = 0, 0
  math.randomseed(7919 * (id + 1))
end

local function event_id()
  return math.random(first_event, last_event)
end

local function event_to_join()
  return slice_start + math.random(0, slice_size - 1)
end

local function auth(volunteer)
  return { ["Authorization"] = "Bearer " .. tokens[volunteer], ["Content-Type"] = "application/json" }
end

local function pick()
  local draw, total = math.random(1, 1000), 0
  for _, entry in ipairs(MIX) do
    total = total + entry[2]
    if draw <= total then
      return entry[1]
    end
  end
  return MIX[1][1]
end

function request()
  local kind = pick()
  counts[kind] = (counts[kind] or 0) + 1
  local volunteer = math.random(1, #tokens)
  if kind == "list" then
    return wrk.format("GET", "/api/events/")
  elseif kind == "list_page_2" then
    return wrk.format("GET", "/api/events/?page=2")
  elseif kind == "list_category" then
    return wrk.format("GET", "/api/events/?category=" .. math.random(1, 4))
  elseif kind == "detail" then
    return wrk.format("GET", "/api/events/" .. event_id() .. "/")
  elseif kind == "nearby" then
    local lat = string.format("%.3f", -22.97 + math.random() * 0.1)
    local lng = string.format("%.3f", -43.18 - math.random() * 0.1)
    return wrk.format("GET", "/api/events/nearby/?latitude=" .. lat .. "&longitude=" .. lng .. "&radius=5")
  elseif kind == "categories" then
    return wrk.format("GET", "/api/events/categories/")
  elseif kind == "profile" then
    return wrk.format("GET", "/api/users/profile/", auth(volunteer))
  elseif kind == "my_events" then
    return wrk.format("GET", "/api/events/my_events/", auth(volunteer))
  elseif kind == "detail_authenticated" then
    return wrk.format("GET", "/api/events/" .. event_id() .. "/", auth(volunteer))
  elseif kind == "comment" then
    -- the thread's volunteers in turn, like the joins: a random pick bunches one person's comments past the
    -- per-person limit (MUTIROES_COMMENTS_PER_MINUTE, 10) long before the mix's rate says they should
    commenter = commenter % #tokens + 1
    return wrk.format("POST", "/api/events/" .. event_id() .. "/comments/", auth(commenter),
      '{"content": "Estarei lá com luvas e sacos!"}')
  end
  -- join_or_leave: the thread's volunteers in turn
  writer = writer % #tokens + 1
  if joined[writer] == nil then
    joined[writer] = event_to_join()
    return wrk.format("POST", "/api/events/" .. joined[writer] .. "/join/", auth(writer), "{}")
  end
  local leaving = joined[writer]
  joined[writer] = nil
  return wrk.format("POST", "/api/events/" .. leaving .. "/leave/", auth(writer), "{}")
end

function response(status, headers, body)
  if status >= 400 then
    local key = tostring(status) .. " " .. string.sub(body or "", 1, 80)
    failures[key] = (failures[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local thread_counts = thread:get("counts")
    for kind, n in pairs(thread_counts) do
      totals[kind] = (totals[kind] or 0) + n
    end
  end
  local parts = {}
  for kind, n in pairs(totals) do
    table.insert(parts, string.format('"%s": %d', kind, n))
  end
  io.write("MIX {" .. table.concat(parts, ", ") .. "}\n")
  for _, thread in ipairs(threads) do
    for failure, n in pairs(thread:get("failures")) do
      io.write("FAILED " .. n .. " x " .. failure .. "\n")
    end
  end
end
