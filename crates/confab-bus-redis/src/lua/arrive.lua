-- An actor arrives in a room on one node. Returns 1 when no node held it before (announce the join).
-- KEYS: 1 order (zset actor -> arrival), 2 names (hash actor -> name), 3 arrivals (counter),
--       4 nodes holding this actor here (set), 5 what this node holds (set of entries)
-- ARGV: 1 actor id, 2 display name, 3 node id, 4 this node's entry for (room, actor)
redis.call('SADD', KEYS[5], ARGV[4])
if redis.call('SADD', KEYS[4], ARGV[3]) == 0 then return 0 end
if redis.call('SCARD', KEYS[4]) > 1 then return 0 end
local n = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], n, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
