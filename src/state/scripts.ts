/** The state store's Lua scripts (src/state/store.ts): each runs atomically in Redis. */

/**
 * HSETNX the delivery's outcome; count it only the first time, so a retried job never
 * counts a record twice. Run deliveries are kept per run; webhook and replay deliveries
 * per pipeline and day.
 */
export const RECORD_OUTCOMES = `
local runKey, doneKey, statsKey = KEYS[1], KEYS[2], KEYS[3]
local n = 0
local counts = {}
for i = 1, #ARGV, 2 do
  local delivery, outcome = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', doneKey, delivery, outcome) == 1 then
    counts[outcome] = (counts[outcome] or 0) + 1
    n = n + 1
  end
end
for outcome, c in pairs(counts) do
  if runKey ~= statsKey then redis.call('HINCRBY', runKey, outcome, c) end
  redis.call('HINCRBY', statsKey, outcome, c)
end
return n`;

/**
 * Records a page's delivery count once per page seq. Pages of a run are ingested side by
 * side, so the last page to be pulled is not always the last to be recorded: the pull is
 * done (and the next run's cursor committed) when every page up to the last is recorded.
 * ARGV: seq, deliveries, records, checkpoint, and for the last page its cursor (else '').
 * Answers 1 when this call finished the pull.
 */
export const RECORD_PAGE = `
local runKey, pagesKey, cursorKey = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HSETNX', pagesKey, ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', runKey, 'expected', tonumber(ARGV[2]))
  redis.call('HINCRBY', runKey, 'pages', 1)
  redis.call('HINCRBY', runKey, 'pulled', tonumber(ARGV[3]))
  redis.call('HSET', runKey, 'checkpoint', ARGV[4])
end
if ARGV[5] ~= '' then redis.call('HSET', runKey, 'lastSeq', ARGV[1], 'finalCursor', ARGV[5]) end
local lastSeq = redis.call('HGET', runKey, 'lastSeq')
if lastSeq and redis.call('HGET', runKey, 'pullDone') ~= '1' and tonumber(redis.call('HGET', runKey, 'pages')) >= tonumber(lastSeq) + 1 then
  redis.call('SET', cursorKey, redis.call('HGET', runKey, 'finalCursor'))
  redis.call('HSET', runKey, 'pullDone', '1')
  return 1
end
return 0`;

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


/**
 * Locks every key or none: ARGV[1] token, ARGV[2] ttl ms. A free key is taken by SET NX (one
 * command a record, not a read and a write); one this token holds already is renewed; one
 * another token holds releases what this call took and answers 0 (keys it renewed stay its own).
 */
export const LOCK_ALL = `
local taken = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    taken[#taken + 1] = KEYS[i]
  elseif redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  else
    for j = 1, #taken do redis.call('DEL', taken[j]) end
    return 0
  end
end
return 1`;

/** Releases the keys this token holds, and only those. */
export const UNLOCK_OWN = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1`;

/**
 * Settles deliveries of a source page: their fields leave the page's pending hash, and the
 * sealed page goes with the hash once nothing is pending. KEYS: page, pending; ARGV: fields.
 */
export const SETTLE_SOURCES = `
for i = 1, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('DEL', KEYS[1]) end
return 1`;

/**
 * SETTLE_SOURCES for several pages in one call (a coalesced push batch's items each have a page
 * of their own: one call per record before). KEYS: page, pending, page, pending, …; ARGV: for
 * each page in turn, how many of its fields follow, then those fields.
 */
export const SETTLE_SOURCES_OF_PAGES = `
local a = 1
for p = 1, #KEYS, 2 do
  local n = tonumber(ARGV[a])
  for i = a + 1, a + n do redis.call('HDEL', KEYS[p + 1], ARGV[i]) end
  a = a + n + 1
  if redis.call('EXISTS', KEYS[p + 1]) == 0 then redis.call('DEL', KEYS[p]) end
end
return 1`;

/**
 * Keeps a pulled page (KEYS[1], ARGV[3]) with its pulled mark (KEYS[2], ARGV[2]) unless the
 * run's pages hash (KEYS[3]) records the page (ARGV[1]) already: a stalled page job that pulled
 * again after its first run finished must not bring back a page nothing will settle.
 * ARGV[4]: the TTL in seconds. Returns 1 when kept. ARGV[3] empty: only the mark (the page's
 * bytes go to its shard group, StateStore.keepPulledPage).
 */
export const KEEP_PULLED_PAGE = `
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3], 'EX', tonumber(ARGV[4])) end
redis.call('HSET', KEYS[2], ARGV[2], '1')
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
return 1`;

/**
 * A pulled page's deliveries, pending from its first hand-on only: while the page is kept
 * (ARGV[1], its pulled mark, is pending) and no attempt handed it on yet (ARGV[2], the handed
 * mark, set here). A page job taken up again (stalled, retried) re-queues only push jobs that
 * exist already under their ids, which will not settle deliveries added a second time.
 * ARGV[3]: the TTL in seconds; ARGV[4…]: the deliveries.
 */
export const HAND_ON_PULLED = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 or redis.call('HSETNX', KEYS[2], ARGV[2], '1') == 0 then return 0 end
for i = 4, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], '1') end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return 1`;

/** The values of many hashes in one call (a page's payment ledgers): one array per key. */
export const HVALS_ALL = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HVALS', KEYS[i]) end
return out`;

/** One field of many hashes in one call (each record's link for one connection); false where absent. */
export const HGET_ALL = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], ARGV[1]) end
return out`;

/** Appends events to a capped stream in one call: KEYS[1] the stream; ARGV[1] its approximate length, then each event's JSON. */
export const XADD_ALL = `
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
end
return #ARGV - 1`;

/** Appends to a list and keeps it ARGV[1] seconds: KEYS[1] the list; ARGV[2..] the entries. Answers the list's new length. */
export const RPUSH_EXPIRE = `
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return n`;

/**
 * A coalesced push batch's records, copied inside Redis from the head of its coalesce list
 * (coalesce.ts) into a list of their own (the batch's `recordsKey`, kept like any batch's
 * records): the entries are not sent back to Redis re-sealed. KEYS[1] the coalesce list, KEYS[2]
 * the batch's records; ARGV[1] the TTL (s), then per entry its index in the list and its length
 * in bytes, as the flusher read them. An entry that is not there as read (the list changed under
 * a flusher whose lock expired) fails the copy, and the flush is retried.
 */
export const COPY_COALESCED = `
local last = 0
for i = 2, #ARGV, 2 do last = math.max(last, tonumber(ARGV[i])) end
local list = redis.call('LRANGE', KEYS[1], 0, last)
redis.call('DEL', KEYS[2])
for i = 2, #ARGV, 2 do
  local e = list[tonumber(ARGV[i]) + 1]
  if not e or string.len(e) ~= tonumber(ARGV[i + 1]) then return redis.error_reply('COALESCE_CHANGED the coalesce list is not as its flusher read it') end
  redis.call('RPUSH', KEYS[2], e)
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1`;

/**
 * The person index of one ingest batch in one call (src/operations/erasure-index.ts): KEYS are
 * each person's keys set and refs set; ARGV[1] the refs' TTL, ARGV[2] one JSON array (./script-json.ts)
 * holding, per person, the number of keys and of refs, then those members: one argument for the
 * batch rather than ~5 a record, which ioredis frames one by one.
 */
export const INDEX_PERSONS = `
local ttl = tonumber(ARGV[1])
local m = cjson.decode(ARGV[2])
local at = 1
for i = 1, #KEYS, 2 do
  local nk = m[at]
  local nr = m[at + 1]
  at = at + 2
  if nk > 0 then redis.call('SADD', KEYS[i], unpack(m, at, at + nk - 1)) end
  at = at + nk
  if nr > 0 then
    redis.call('SADD', KEYS[i + 1], unpack(m, at, at + nr - 1))
    redis.call('EXPIRE', KEYS[i + 1], ttl)
  end
  at = at + nr
end
return 0`;

/** Marks a run finished once (HSETNX), and in the same step releases the pipeline's running marker if it is still this run's. */
export const COMPLETE_RUN = `
if redis.call('HSETNX', KEYS[1], 'finishedAt', ARGV[2]) == 1 then
  redis.call('HSET', KEYS[3], 'lastFinishedRunId', ARGV[1], 'lastRunAt', ARGV[2])
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
end
return 1`;

/**
 * Claims webhook events for one ingest job (WebhookEventMarks.claimWebhookEvents). KEYS: the claims.
 * ARGV[1] the job's id, ARGV[2] the job it was split from ('' if none), ARGV[3] ttl seconds.
 * Per key: 2 claimed for the first time (free), 1 claimed again (this job's already, or the
 * job it was split from), 0 done already, -1 held by another job (a second copy of the event
 * in another batch).
 */
export const CLAIM_WEBHOOK_EVENTS = `
local out = {}
for i = 1, #KEYS do
  -- Most claims are free: one SET NX takes them.
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[3]) then out[i] = 2
  else
    local v = redis.call('GET', KEYS[i])
    if v == 'done' then out[i] = 0
    elseif v and v ~= ARGV[1] and v ~= ARGV[2] then out[i] = -1
    else
      if v ~= ARGV[1] then redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[3]) end
      out[i] = v and 1 or 2
    end
  end
end
return out`;

/**
 * Unique keys of a page's records (src/operations/uniqueness.ts), claimed record by record in
 * page order so that of two records with one key, within a page or across workers, exactly one
 * holds it. KEYS: per claim its claim key then its owner key (which claim the record held last
 * under that rule). ARGV: per claim the record's owner prefix ("connection\nexternalId\n"), its
 * canonical key, its mode (r reject, m merge) and its record's number. A record with a reject
 * conflict claims nothing; a merge conflict claims nothing under that rule. A record that held
 * another value before releases it. Answers per claim '' (held by this record) or the holder.
 */
export const CLAIM_UNIQUE = `
local out = {}
local n = #KEYS / 2
local i = 1
while i <= n do
  local j = i
  while j < n and ARGV[4 * j + 4] == ARGV[4 * i] do j = j + 1 end
  local rejected = false
  for c = i, j do
    local cur = redis.call('GET', KEYS[2 * c - 1])
    local prefix = ARGV[4 * c - 3]
    if cur and string.sub(cur, 1, #prefix) ~= prefix then
      out[c] = cur
      if ARGV[4 * c - 1] == 'r' then rejected = true end
    else
      out[c] = ''
    end
  end
  if not rejected then
    for c = i, j do
      if out[c] == '' then
        local claim, own, prefix = KEYS[2 * c - 1], KEYS[2 * c], ARGV[4 * c - 3]
        local prev = redis.call('GET', own)
        if prev and prev ~= claim then
          local held = redis.call('GET', prev)
          if held and string.sub(held, 1, #prefix) == prefix then redis.call('DEL', prev) end
        end
        redis.call('SET', claim, prefix .. ARGV[4 * c - 2])
        redis.call('SET', own, claim)
      end
    end
  end
  i = j + 1
end
return out`;

/**
 * Uniqueness conflicts, each once (a retried job records none twice): KEYS the conflicts hash,
 * its time index, the run hash (the stats key again outside a run: every key of a script must be a real key of its slot on a Redis Cluster) and the pipeline's stats; ARGV the time
 * then (id, JSON) pairs. The index keeps the newest 1000.
 */
export const RECORD_CONFLICTS = `
local n = 0
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[i])
    n = n + 1
  end
end
if n > 0 then
  if KEYS[3] ~= KEYS[4] then redis.call('HINCRBY', KEYS[3], 'conflicts', n) end
  redis.call('HINCRBY', KEYS[4], 'conflicts', n)
  local extra = redis.call('ZCARD', KEYS[2]) - 1000
  if extra > 0 then
    local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
    redis.call('HDEL', KEYS[1], unpack(old))
  end
end
return n`;
