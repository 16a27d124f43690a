#ifndef TALLY_REPLY_ARENA_H
#define TALLY_REPLY_ARENA_H

#include <stddef.h>
#include <hiredis/read.h>

/// Reply objects for a hiredis reader without a malloc per object: every node, string and element
/// vector of a reply is carved from one arena, reset when the reply is freed. Async hiredis frees
/// each reply after its callback and before it parses the next, so one arena per connection holds
/// at most one reply. A reply larger than the arena spills over to malloc.
typedef struct reply_arena reply_arena;

reply_arena *reply_arena_create(size_t bytes);
void reply_arena_destroy(reply_arena *arena);

/// Makes `reader` build its replies in `arena` (standard `redisReply` objects, so readers of
/// replies do not change). The arena must outlive the reader's replies.
void reply_arena_attach(redisReader *reader, reply_arena *arena);

/// Allocations that spilled over to malloc so far (for tests and benchmarks).
size_t reply_arena_spills(const reply_arena *arena);

#endif
