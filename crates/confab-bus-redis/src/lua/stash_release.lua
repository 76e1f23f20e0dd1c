-- Deletes a stash record if ARGV[1] holds it.
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
