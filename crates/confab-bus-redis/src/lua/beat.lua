-- A node's heartbeat. Returns 0 when the cluster already knew the node; 1 when it did not (its
-- first beat, or Redis lost its data): nothing was announced; 2 when the node had been counted dead
-- and its members' leaves announced (the reaper left a tombstone).
-- KEYS: 1 the node's alive key, 2 the set of nodes, 3 the node's tombstone
-- ARGV: 1 node id, 2 time to live of the alive key (ms)
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('DEL', KEYS[3]) == 1 then return 2 end
return 1
