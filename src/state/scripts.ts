/** The state store's Lua scripts (src/state/store.ts): each runs atomically in Redis. */

/**
 * HSETNX the delivery's outcome; count it only the first time, so a retried job never
 * counts a record twice. Run deliveries are kept per run; webhook and replay deliveries
 * per pipeline and day.
 */
export const RECORD_OUTCOMES = `
local runKey, doneKey, statsKey = KEYS[1], KEYS[2], KEYS[3]
local n = 0
for i = 1, #ARGV, 2 do
  local delivery, outcome = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', doneKey, delivery, outcome) == 1 then
    if runKey ~= '' then redis.call('HINCRBY', runKey, outcome, 1) end
    redis.call('HINCRBY', statsKey, outcome, 1)
    n = n + 1
  end
end
return n`;

/** Records a page's delivery count once per page seq. */
export const RECORD_PAGE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'expected', tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[1], 'pages', 1)
  redis.call('HINCRBY', KEYS[1], 'pulled', tonumber(ARGV[3]))
end
return 1`;

/** Sets the value only when it is still what the caller read (lifecycle compare-and-set). */
export const COMPARE_AND_SET = `
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** Compare-and-set of many keys: ARGV holds (expected, next) pairs; answers 1 or 0 per key. */
export const COMPARE_AND_SET_ALL = `
local out = {}
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local expected = ARGV[2 * i - 1]
  if (cur == false and expected == '') or cur == expected then
    redis.call('SET', KEYS[i], ARGV[2 * i])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;

/** Links of a page in one call: KEYS link hashes then xref keys; ARGV connection, external ids, canonical keys. */
export const LINK_ALL = `
local n = #KEYS / 2
for i = 1, n do
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[1 + i])
  redis.call('SET', KEYS[n + i], ARGV[1 + n + i])
end
return n`;


/** Locks every key or none: ARGV[1] token, ARGV[2] ttl ms. */
export const LOCK_ALL = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 1`;

/** Releases the keys this token holds, and only those. */
export const UNLOCK_OWN = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1`;
