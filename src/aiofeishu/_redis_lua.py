"""The Redis store's server-side scripts. Times are integer microseconds of Redis's ``TIME``,
so the hosts' clocks never enter a decision; scores are formatted with ``%.0f`` because Lua's
``tostring`` keeps only 14 digits."""

from __future__ import annotations

__all__ = ["ADMIT", "COMPARE_AND_DELETE", "COOL_DOWN", "GIVE_BACK", "KEEP_PLACE", "RENEW_LEASE"]

# The concurrency lease first (a waiter takes no reservation), then the earliest start that
# is no earlier than now, the cool-down's end and the last reservation (FIFO), and, for each
# window, the reservation `limit` places back plus the padded period. Reservations older than
# the longest period cannot constrain a start >= now and are trimmed.
#   KEYS: starts (zset member -> start), cool-down (string: end), leases (zset id -> expiry)
#   ARGV: member, member it replaces or '', lease id, concurrency or 0, lease ttl,
#         then limit, padded period for each window
#   returns {now, the reserved start}, or {now, -1} when the leases are all held
ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local concurrency = tonumber(ARGV[4])
if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))
  if not redis.call('ZSCORE', KEYS[3], ARGV[3]) then
    if redis.call('ZCARD', KEYS[3]) >= concurrency then
      return {now, -1}
    end
    local ttl = tonumber(ARGV[5])
    redis.call('ZADD', KEYS[3], string.format('%.0f', now + ttl), ARGV[3])
    redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000))
  end
end
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[2])
end
local start = now
local cool = tonumber(redis.call('GET', KEYS[2]) or 0)
if cool > start then
  start = cool
end
if #ARGV < 6 then
  return {now, start}
end
local longest = 0
for i = 7, #ARGV, 2 do
  longest = math.max(longest, tonumber(ARGV[i]))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - longest))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  start = math.max(start, tonumber(last[2]))
end
for i = 6, #ARGV, 2 do
  local limit, period = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local nth = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  if nth[2] then
    start = math.max(start, tonumber(nth[2]) + period)
  end
end
redis.call('ZADD', KEYS[1], string.format('%.0f', start), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((start - now + longest) / 1000) + 1000)
return {now, start}
"""

# KEYS: starts, leases; ARGV: member or '', lease id or ''
GIVE_BACK = """
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 0
"""

# A cool-down only ever grows: a shorter one set later never cuts a longer one short. The
# reservations that would start inside it are dropped (they neither hold places nor count in
# windows), and every store hears of its end on the channel, so their owners reserve again
# after it, in their order; reservations already after its end keep their places.
#   KEYS: cool-down, starts; ARGV: its length, channel, the quota's hash
#   returns the end of the cool-down now in force
COOL_DOWN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ends = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if ends <= current then
  return current
end
local stamp = string.format('%.0f', ends)
redis.call('SET', KEYS[1], stamp, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. string.format('%.0f', now), '(' .. stamp)
redis.call('PUBLISH', ARGV[2], 'cool ' .. ARGV[3] .. ' ' .. stamp)
return ends
"""

# A call leaving later than its reservation keeps its place: it is counted from now, and
# every later reservation moves on by as much, so gaps and order stay as reserved and no
# window can overrun. Every store hears of the move, so their sleepers wait it out; a move
# longer than the given bound is refused (the sleepers it concerns might leave before
# hearing of it): that call reserves again instead.
#   KEYS: starts; ARGV: member, channel, the quota's hash, the longest move
#   returns {now, the move} ({now, 0}: not late after all), or {now, -1} when the
#   reservation is gone (a cool-down dropped it) or the move would be too long
KEEP_PLACE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return {now, -1}
end
score = tonumber(score)
local by = now - score
if by <= 0 then
  return {now, 0}
end
if by > tonumber(ARGV[4]) then
  return {now, -1}
end
local after = string.format('%.0f', score)
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'WITHSCORES')
for i = 1, #later, 2 do
  redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(later[i + 1]) + by), later[i])
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl + math.ceil(by / 1000))
end
local move = after .. ' ' .. string.format('%.0f', by) .. ' ' .. string.format('%.0f', now)
redis.call('PUBLISH', ARGV[2], 'move ' .. ARGV[3] .. ' ' .. move)
return {now, by}
"""

# Extends a lease its holder still has (an expired one is gone for good).
#   KEYS: leases; ARGV: lease id, ttl
RENEW_LEASE = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + ttl), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return 1
"""

# Deletes the key only while it holds the value: releasing a fetch lock, dropping a token.
#   KEYS: the key; ARGV: the value
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
