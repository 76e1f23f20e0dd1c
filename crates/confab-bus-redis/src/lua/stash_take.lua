-- Takes a stash record whose holder is ARGV[1] ("" for a final record): its value, and the key
-- deleted; nil when the key is gone or its holder changed since the caller looked.
local h = redis.call('HGET', KEYS[1], 'h')
if h ~= ARGV[1] then return false end
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('DEL', KEYS[1])
return v
