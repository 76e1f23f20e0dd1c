-- An actor departs a room on one node (or a reaper departs it for a dead node). Returns the actor's
-- display name when no node holds it any more (announce the leave), nil when another node does or
-- this node no longer held it.
-- KEYS and ARGV[1..3] as in arrive.lua, without the name: 1 actor id, 2 node id, 3 the node's entry
redis.call('SREM', KEYS[5], ARGV[3])
if redis.call('SREM', KEYS[4], ARGV[2]) == 0 then return false end
if redis.call('SCARD', KEYS[4]) > 0 then return false end
local name = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[3]) end
return name
