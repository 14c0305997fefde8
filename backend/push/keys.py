"""Redis keys of push dispatch, and the scripts that change several of them at once.

    grove:push:active               set (with a TTL) while any process holds a push session
    grove:push:<db>:work            pub/sub channel: a language whose work may have grown
                                    (``work_channel``: channels are one namespace per Redis
                                    server, not per database)
    grove:push:langs                languages with waiting entries
    grove:push:ready:<lang>         zset entry -> when it (re)joined the line, ms: arrival order
    grove:push:kinds:<lang>         set: the task kinds asked for by entries of that line (a
                                    superset: emptied only with the line, by ``LINE_EMPTY``)
    grove:push:entry:<entry>        hash of one waiting user on one session (see ``ready``)
    grove:push:held                 hash entry -> tasks pushed and not closed or returned
    grove:push:session:<session>    hash client, channel, pid; its tasks in ...:tasks, its entries
                                    in ...:entries; ...:alive exists while its socket is open
    grove:push:task:<task id>       hash entry, session, lang, client, user (JSON)
    grove:push:ack_due              zset task id -> ack deadline (ms)
    grove:push:session_due          zset session -> when its tasks go back to the pool (ms)
    grove:push:client:<client>:ready  set of the client's waiting entries
    grove:push:client:<client>:held   tasks pushed to the client's sockets and not closed
    grove:push:session:<id>:held      the same for one socket's session (with places reserved)
    grove:push:lock:<lang>          ``<pid>:<random>`` of the dispatcher running the language's
                                    round (a short TTL its holder renews while the round runs)
    grove:push:holder:<lang>        the token of the last dispatcher to take the language's
                                    round, until it ends the round (``TAKE_ROUND``)
    grove:push:rerun:<lang>         set while a round runs: another was asked for meanwhile
    grove:push:scarce:<lang>        set (with a TTL) when a claim found nothing for its user:
                                    claims for those behind someone being claimed for wait

An entry id is ``<session>.<user id>``: one user waiting on one socket session.
"""

from __future__ import annotations

from redis.connection import parse_url

PREFIX = "grove:push:"
ACTIVE = PREFIX + "active"
LANGS = PREFIX + "langs"
HELD = PREFIX + "held"
ACK_DUE = PREFIX + "ack_due"
SESSION_DUE = PREFIX + "session_due"


def work_channel(redis_url: str) -> str:
    """The pub/sub channel of work signals for the push Redis at ``redis_url``.

    Keys live in one Redis database, but pub/sub channels are shared by every database of the
    server: two Grove instances (two test suites) on databases 2 and 15 of one Redis heard each
    other's signals under one name. The database number keeps them apart."""
    return f"{PREFIX}{redis_db(redis_url)}:work"


def redis_db(url: str) -> int:
    """The database a Redis URL selects, as redis-py reads it (``/n``, else ``?db=n``, else 0)."""
    return int(parse_url(url).get("db") or 0)


def ready(lang: str) -> str:
    return f"{PREFIX}ready:{lang}"


def kinds(lang: str) -> str:
    return f"{PREFIX}kinds:{lang}"


def entry(entry_id: str) -> str:
    return f"{PREFIX}entry:{entry_id}"


def session(session_id: str, part: str = "") -> str:
    return f"{PREFIX}session:{session_id}" + (f":{part}" if part else "")


def task(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}"


def client(client_id: str, part: str) -> str:
    return f"{PREFIX}client:{client_id}:{part}"


def round_lock(lang: str) -> str:
    return f"{PREFIX}lock:{lang}"


def round_holder(lang: str) -> str:
    return f"{PREFIX}holder:{lang}"


def rerun(lang: str) -> str:
    return f"{PREFIX}rerun:{lang}"


def scarce(lang: str) -> str:
    return f"{PREFIX}scarce:{lang}"


def entry_id(session_id: str, user_id: str) -> str:
    return f"{session_id}.{user_id}"


# A task left the session (answered, skipped, closed, expired or returned): free its entry's
# place and put a still-waiting entry back in line, at the end (arrival = now). When the task
# was answered on its own session's socket (``session``, '' otherwise) and its entry was full,
# the entry stays out of line: that socket serves it next itself (``RETURNING``), and
# ``kept(fields, entry key)`` gives the script's answer. Returns false, or {the task's lang,
# the entry id kept out of line or '', ...what ``kept`` adds}. KEYS: task hash, held, ack_due.
_RELEASE_BODY = """
local t = redis.call('HGETALL', KEYS[1])
if #t == 0 then return false end
local f = {}
for i = 1, #t, 2 do f[t[i]] = t[i + 1] end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], task_id)
local p = 'grove:push:'
redis.call('SREM', p .. 'session:' .. f.session .. ':tasks', task_id)
local held = tonumber(redis.call('HINCRBY', KEYS[2], f.entry, -1))
if held <= 0 then redis.call('HDEL', KEYS[2], f.entry) end
local ckey = p .. 'client:' .. f.client .. ':held'
if tonumber(redis.call('DECR', ckey)) <= 0 then redis.call('DEL', ckey) end
local skey = p .. 'session:' .. f.session .. ':held'
if tonumber(redis.call('DECR', skey)) <= 0 then redis.call('DEL', skey) end
local e = p .. 'entry:' .. f.entry
if redis.call('EXISTS', e) == 1 then
  local capacity = tonumber(redis.call('HGET', e, 'capacity') or '0')
  if session ~= '' and f.session == session and held + 1 >= capacity then
    return kept(f, e)
  end
  for lang in string.gmatch(redis.call('HGET', e, 'langs'), '[^,]+') do
    redis.call('ZADD', p .. 'ready:' .. lang, 'NX', now, f.entry)
    redis.call('SADD', p .. 'langs', lang)
  end
end
return {f.lang, ''}
"""
# ARGV: task id, now ms, answering session.
RELEASE = (
    """
local task_id, now, session = ARGV[1], ARGV[2], ARGV[3]
local function kept(f, e) return {f.lang, f.entry} end
"""
    + _RELEASE_BODY
)


# What the scripts below share: an entry's fields, its socket alive, its room (its places,
# its socket's and its client's caps), taking a place (as RESERVE), joining the end of its
# lines, and the first entry waiting in a line: not full (a full entry in line is being
# claimed for: a round or an answer's wake reserved its place), its socket alive (a dead one
# leaves the line). While work is scarce in the line's language (``scarce:<lang>``: a claim
# found nothing lately), those being claimed for before it are named too ("lang:id,..."): a
# claim for someone behind them waits for theirs to end, or it could take the work they waited
# for. With work for everyone, nobody waits (at 64 volunteers, waiting on every claim under
# way cut push cycles by a fifth).
# KEYS[2] is always ``held``; ARGV[2], ARGV[3], ARGV[4] the socket and client caps and the
# reserving token, ARGV[5] now (ms), ARGV[6] how far into a line is looked.
_LINE_HEAD = """
local p = 'grove:push:'
local function fields(flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end
local function alive(f)
  return redis.call('EXISTS', p .. 'session:' .. f.session .. ':alive') == 1
end
local function room(id, f)
  return tonumber(redis.call('HGET', KEYS[2], id) or '0') < tonumber(f.capacity)
    and tonumber(redis.call('GET', p .. 'session:' .. f.session .. ':held') or '0')
      < tonumber(ARGV[2])
    and tonumber(redis.call('GET', p .. 'client:' .. f.client .. ':held') or '0')
      < tonumber(ARGV[3])
end
local function take(id, f)
  redis.call('HINCRBY', KEYS[2], id, 1)
  redis.call('INCR', p .. 'session:' .. f.session .. ':held')
  redis.call('INCR', p .. 'client:' .. f.client .. ':held')
  local r = p .. 'reserving:' .. ARGV[4]
  redis.call('HINCRBY', r, id, 1)
  redis.call('PEXPIRE', r, 3600000)
end
local function queue(id, f)
  for lang in string.gmatch(f.langs, '[^,]+') do
    redis.call('ZADD', p .. 'ready:' .. lang, 'NX', ARGV[5], id)
    redis.call('SADD', p .. 'kinds:' .. lang, f.kind)
    redis.call('SADD', p .. 'langs', lang)
  end
end
local function head(line, skip, lang, ahead)
  local fair = redis.call('EXISTS', p .. 'scarce:' .. lang) == 1
  for _, other in ipairs(redis.call('ZRANGE', line, 0, tonumber(ARGV[6]) - 1)) do
    if other ~= skip then
      local flat = redis.call('HGETALL', p .. 'entry:' .. other)
      if #flat == 0 then
        redis.call('ZREM', line, other)
      else
        local f = fields(flat)
        if tonumber(redis.call('HGET', KEYS[2], other) or '0') < tonumber(f.capacity) then
          if not alive(f) then redis.call('ZREM', line, other)
          else return other, flat, f end
        elseif fair then
          ahead[#ahead + 1] = lang .. ':' .. other
        end
      end
    end
  end
  return nil
end
"""

# The user a socket kept out of line as it answered (RELEASE), ARGV[1], KEYS[1] its entry:
# the place their answer freed goes to whoever waits first. Nobody else waits in their
# languages: a place of theirs is reserved ({'reserved', '', id, ahead, fields...}) and that
# socket claims their next task at once. Someone waits: they join the end of their lines and
# the first waiting is reserved instead ({'head', lang, id, ahead, fields...}), so an answer
# serves the line in order with no round. Either claim first waits for those being claimed
# for before it (``ahead``, "lang:id,...", '' for none). A line longer than ARGV[6], or no
# room under the caps: they join their lines ({'queued', langs}: a round serves them).
# {'gone'}: they stopped waiting, or their socket closed.
_RETURNING = (
    _LINE_HEAD
    + """
local function returning(own, ekey)
  local flat = redis.call('HGETALL', ekey)
  if #flat == 0 then return {'gone'} end
  local f = fields(flat)
  if not alive(f) then return {'gone'} end
  local ahead = {}
  for lang in string.gmatch(f.langs, '[^,]+') do
    local line = p .. 'ready:' .. lang
    if redis.call('ZCARD', line) > tonumber(ARGV[6]) then
      queue(own, f)
      return {'queued', f.langs}
    end
    local id, first, ff = head(line, own, lang, ahead)
    if id then
      queue(own, f)
      if not room(id, ff) then return {'queued', f.langs} end
      take(id, ff)
      local out = {'head', lang, id, table.concat(ahead, ',')}
      for i = 1, #first do out[#out + 1] = first[i] end
      return out
    end
  end
  if not room(own, f) then
    queue(own, f)
    return {'queued', f.langs}
  end
  take(own, f)
  local out = {'reserved', '', own, table.concat(ahead, ',')}
  for i = 1, #flat do out[#out + 1] = flat[i] end
  return out
end
"""
)
RETURNING = _RETURNING + "return returning(ARGV[1], KEYS[1])\n"

# RELEASE and, when the entry is kept out of line for the answering socket, RETURNING for it
# in the same call: {lang, entry id, RETURNING's answer...}, {lang, ''} or false (as RELEASE).
# KEYS: as RELEASE. ARGV: task id, then ARGV[2] to ARGV[6] as RETURNING's, then the answering
# session.
RELEASE_RETURNING = (
    _RETURNING
    + """
local task_id, now, session = ARGV[1], ARGV[5], ARGV[7]
local function kept(f, e)
  local out = {f.lang, f.entry}
  for _, value in ipairs(returning(f.entry, e)) do out[#out + 1] = value end
  return out
end
"""
    + _RELEASE_BODY
)

# The first entry waiting in a line gets a place reserved: {id, ahead, fields...} (ahead:
# those being claimed for before it, as in RETURNING), or false when nobody waits there (or
# they have no room under the caps).
# KEYS: the ready zset, held. ARGV: lang, then as _LINE_HEAD.
RESERVE_HEAD = (
    _LINE_HEAD
    + """
local ahead = {}
local id, flat, f = head(KEYS[1], '', ARGV[1], ahead)
if not id or not room(id, f) then return false end
take(id, f)
local out = {id, table.concat(ahead, ',')}
for i = 1, #flat do out[#out + 1] = flat[i] end
return out
"""
)


# An entry served out of line (RETURNING) found no work: it joins the end of its lines, to
# wait for work as everyone in them does. KEYS: entry hash. ARGV: entry id, then as
# _LINE_HEAD (only ARGV[5], now, is read).
REJOIN = (
    _LINE_HEAD
    + """
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return 0 end
queue(ARGV[1], fields(flat))
return 1
"""
)

# Reserve one place of an entry before claiming a task for it; refuse when its socket is
# gone (and take it out of line), or when it, its session or its client is full.
# KEYS: entry hash, held, ready zset of the lang. ARGV: entry id, per-session cap,
# per-client cap, the reserving round's token. Returns the entry's fields as a flat list,
# 1 (its places are all held, a claim for it is under way elsewhere, and work is scarce), or
# false. The place is noted under the token (``reserving``) until the claim's RECORD or
# UNRESERVE: a round whose process dies in between leaves it there for FORGET_RESERVATIONS.
RESERVE = (
    _LINE_HEAD
    + """
local e = redis.call('HGETALL', KEYS[1])
if #e == 0 then redis.call('ZREM', KEYS[3], ARGV[1]) return false end
local f = fields(e)
if not alive(f) then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return false
end
-- Full: leave it in line (a place held by a claim under way may come back); RECORD takes
-- an entry out of line when a push fills it, RELEASE puts it back. The socket's and the
-- client's counts include places reserved by claims still under way: counting only
-- recorded tasks let parallel claims push past the per-socket cap. An entry full and in
-- line is being claimed for elsewhere: 1 while work is scarce (the round waits for that
-- claim to end).
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') >= tonumber(f.capacity)
  and redis.call('EXISTS', p .. 'scarce:' .. string.sub(KEYS[3], #p + 7)) == 1 then
  return 1
end
if not room(ARGV[1], f) then return false end
take(ARGV[1], f)
return e
"""
)

# A claim for a reserved place failed: give the place back.
# KEYS: held. ARGV: entry id, client id, session id, the reserving round's token. Nothing
# when the place was given back already (FORGET_RESERVATIONS, after the round lost its lock).
UNRESERVE = """
local r = 'grove:push:reserving:' .. ARGV[4]
if tonumber(redis.call('HGET', r, ARGV[1]) or '0') <= 0 then return 0 end
if tonumber(redis.call('HINCRBY', r, ARGV[1], -1)) <= 0 then redis.call('HDEL', r, ARGV[1]) end
if tonumber(redis.call('HINCRBY', KEYS[1], ARGV[1], -1)) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local ckey = 'grove:push:client:' .. ARGV[2] .. ':held'
if tonumber(redis.call('DECR', ckey)) <= 0 then redis.call('DEL', ckey) end
local skey = 'grove:push:session:' .. ARGV[3] .. ':held'
if tonumber(redis.call('DECR', skey)) <= 0 then redis.call('DEL', skey) end
return 1
"""

# A session ended for good (its process died or its resume window passed): the places its
# entries still hold are places reserved by claims that never finished (a kill -9 between
# RESERVE and RECORD/UNRESERVE), since RELEASE gave back every recorded task's. Without this
# they stayed held, and the client's count with them, so its cap filled up for good.
# KEYS: held. ARGV: entry id, client id ('' when unknown). Returns the places given back.
CLEAR_HELD = """
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
redis.call('HDEL', KEYS[1], ARGV[1])
if n > 0 and ARGV[2] ~= '' then
  local ckey = 'grove:push:client:' .. ARGV[2] .. ':held'
  if tonumber(redis.call('DECRBY', ckey, n)) <= 0 then redis.call('DEL', ckey) end
end
return n
"""

# A round's holder went away (killed with -9, or stalled past its lock): the places it had
# reserved for claims that never reached RECORD or UNRESERVE are given back, or they stayed
# held for as long as their users' sessions lived (on another process) and those users were
# never served again. A place whose entry is gone was given back with its session
# (CLEAR_HELD). KEYS: held. ARGV: the token. Returns the places given back.
FORGET_RESERVATIONS = """
local p = 'grove:push:'
local r = p .. 'reserving:' .. ARGV[1]
local found = redis.call('HGETALL', r)
local given = 0
for i = 1, #found, 2 do
  local entry = found[i]
  local held = tonumber(redis.call('HGET', KEYS[1], entry) or '0')
  local n = math.min(tonumber(found[i + 1]), held)
  if n > 0 then
    if held - n <= 0 then redis.call('HDEL', KEYS[1], entry)
    else redis.call('HINCRBY', KEYS[1], entry, -n) end
    local f = redis.call('HMGET', p .. 'entry:' .. entry, 'client', 'session')
    if f[1] then
      local ckey = p .. 'client:' .. f[1] .. ':held'
      if tonumber(redis.call('DECRBY', ckey, n)) <= 0 then redis.call('DEL', ckey) end
    end
    if f[2] then
      local skey = p .. 'session:' .. f[2] .. ':held'
      if tonumber(redis.call('DECRBY', skey, n)) <= 0 then redis.call('DEL', skey) end
    end
    given = given + n
  end
end
redis.call('DEL', r)
return given
"""


# A task was claimed for a reserved place: remember it for its session, start its ack clock,
# and send the entry to the end of the line (or out of it when it is now full). 0, recording
# nothing, when the entry stopped waiting (unready, its socket closed) while the task was
# being claimed: the dispatcher returns the task to the pool.
# KEYS: task hash, held, ack_due. ARGV: task id, entry id, session, lang, client, user json,
# ack deadline ms, now ms, the reserving round's token.
RECORD = """
local p = 'grove:push:'
if redis.call('EXISTS', p .. 'entry:' .. ARGV[2]) == 0 then return 0 end
local r = p .. 'reserving:' .. ARGV[9]
if tonumber(redis.call('HGET', r, ARGV[2]) or '0') > 0 then
  if tonumber(redis.call('HINCRBY', r, ARGV[2], -1)) <= 0 then redis.call('HDEL', r, ARGV[2]) end
else
  -- The place was given back meanwhile (the round lost its lock, FORGET_RESERVATIONS): the
  -- task recorded now holds it again.
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('INCR', p .. 'session:' .. ARGV[3] .. ':held')
  redis.call('INCR', p .. 'client:' .. ARGV[5] .. ':held')
end
redis.call('HSET', KEYS[1], 'entry', ARGV[2], 'session', ARGV[3], 'lang', ARGV[4],
  'client', ARGV[5], 'user', ARGV[6])
redis.call('SADD', p .. 'session:' .. ARGV[3] .. ':tasks', ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[1])
local e = p .. 'entry:' .. ARGV[2]
local capacity = tonumber(redis.call('HGET', e, 'capacity') or '0')
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local langs = redis.call('HGET', e, 'langs') or ''
for lang in string.gmatch(langs, '[^,]+') do
  if held >= capacity then
    redis.call('ZREM', p .. 'ready:' .. lang, ARGV[2])
  else
    redis.call('ZADD', p .. 'ready:' .. lang, 'XX', ARGV[8], ARGV[2])
  end
end
return 1
"""

# An entry stops waiting: out of every line, its hash and its client's count gone.
# KEYS: entry hash. ARGV: entry id.
DROP_ENTRY = """
local f = redis.call('HMGET', KEYS[1], 'langs', 'client', 'session')
local p = 'grove:push:'
if f[1] then
  for lang in string.gmatch(f[1], '[^,]+') do redis.call('ZREM', p .. 'ready:' .. lang, ARGV[1]) end
end
if f[2] then redis.call('SREM', p .. 'client:' .. f[2] .. ':ready', ARGV[1]) end
if f[3] then redis.call('SREM', p .. 'session:' .. f[3] .. ':entries', ARGV[1]) end
redis.call('DEL', KEYS[1])
return 1
"""


# A web process's sockets are alive: one call for all of them (a pipeline of two commands per
# socket cost the event loop milliseconds each tick at a thousand sockets).
# KEYS: active, session_due. ARGV: alive ms, session due ms, then session, channel pairs.
HEARTBEAT = """
redis.call('SET', KEYS[1], 1, 'EX', 10)
for i = 3, #ARGV, 2 do
  redis.call('SET', 'grove:push:session:' .. ARGV[i] .. ':alive', ARGV[i + 1], 'PX', ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
end
return 1
"""


# The line of a language is empty: forget the language and the kinds its entries asked for,
# atomically (a ``ready`` adds its entry and its kind in one transaction).
# KEYS: ready zset, kinds set, langs. ARGV: lang. Returns 1 when the line was empty.
LINE_EMPTY = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1
"""


# Work signals for the languages someone waits in: a round of a line with nobody in it ends
# at TAKE_ROUND's '-' anyway, so the sender's check spares every web process the message, its
# round and that call. Whoever joins a line later asks for their own round (``ready``; a claim
# that missed rejoins and kicks one; a release that puts an entry back in line signals after
# it is back), and the dispatcher's poll serves the rest.
# KEYS: the languages' ready zsets. ARGV: the work channel, then the languages in KEYS' order.
# Returns how many signals were sent.
PUBLISH_WAITED = """
local sent = 0
for i, line in ipairs(KEYS) do
  if redis.call('ZCARD', line) > 0 then
    redis.call('PUBLISH', ARGV[1], ARGV[i + 1])
    sent = sent + 1
  end
end
return sent
"""


# The round's holder is alive: extend its lock, and the request for another round made
# meanwhile (its holder reads it when the round ends), only while the lock is still its own.
# KEYS: round lock, rerun. ARGV: the holder's token, lock ms, rerun ms. Returns 0 when the
# lock was lost.
RENEW_ROUND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
"""


# Take a language's round: its lock, and the note of who holds it. A note found there is a
# holder that never ended its round (killed with -9 mid-round, or stalled past its lock): its
# reserved places go back (FORGET_RESERVATIONS), whether or not any process saw its lock run
# out (a lock that ran out while nobody waited on it left those places held for good).
# With the language's line as KEYS[3], an empty line is no round at all ('-': nobody waits;
# a user who joins it later asks for a round of their own): a work signal, sent to every
# process, ran a round in each (lock, line, kinds, a request for one more) for nobody.
# KEYS: round lock, round holder[, ready zset]. ARGV: the taker's token, lock ms, note ms.
# Returns false when the lock is held, else the token of the holder that went away ('' when
# none), or '-'.
TAKE_ROUND = """
if KEYS[3] and redis.call('ZCARD', KEYS[3]) == 0 then return '-' end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local previous = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return previous
"""


# The round ended: forget its holder's note, and give the lock back, only if it is still the
# holder's (a lock that ran out and was taken by another process is that process's, and so is
# the note then).
# KEYS: round lock, round holder. ARGV: the holder's token. Returns 1 when it was released.
END_ROUND = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""
