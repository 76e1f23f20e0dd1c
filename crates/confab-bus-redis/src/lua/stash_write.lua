-- Writes a stash record (a hash: `h` its holder, "" for a final record; `v` the value) when the key is
-- free or held by ARGV[1]. KEYS[1] the record; ARGV: the writer, the holder to store ("" = final), the
-- value, the ttl in ms. Returns 1 when written, 0 when another holder or a final record is there.
local h = redis.call('HGET', KEYS[1], 'h')
if h and h ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'v', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
