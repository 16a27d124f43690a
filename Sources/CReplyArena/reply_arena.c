#include "reply_arena.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

struct reply_arena {
    char *base;
    size_t size;
    size_t used;
    size_t spills;
};

/// Every allocation starts with this, so freeing knows where it came from.
typedef struct {
    reply_arena *arena;  /* the arena of the reply (NULL when none is attached) */
    int onHeap;          /* 1: malloc'd, free it; 0: in the arena */
    int padding;
} piece_header;

reply_arena *reply_arena_create(size_t bytes) {
    reply_arena *arena = calloc(1, sizeof(reply_arena));
    if (!arena) return NULL;
    arena->base = malloc(bytes);
    if (!arena->base) { free(arena); return NULL; }
    arena->size = bytes;
    return arena;
}

void reply_arena_destroy(reply_arena *arena) {
    if (!arena) return;
    free(arena->base);
    free(arena);
}

size_t reply_arena_spills(const reply_arena *arena) { return arena->spills; }

/// `bytes` of zeroed memory from `arena`, or from malloc when it is full (or NULL).
static void *piece(reply_arena *arena, size_t bytes) {
    size_t total = (sizeof(piece_header) + bytes + 15) & ~(size_t)15;
    piece_header *header;
    if (arena && arena->used + total <= arena->size) {
        header = (piece_header *)(arena->base + arena->used);
        arena->used += total;
        memset(header, 0, total);
        header->onHeap = 0;
    } else {
        header = calloc(1, total);
        if (!header) return NULL;
        header->onHeap = 1;
        if (arena) arena->spills++;
    }
    header->arena = arena;
    return header + 1;
}

static piece_header *header_of(void *pointer) { return (piece_header *)pointer - 1; }

static void release(void *pointer) {
    if (pointer && header_of(pointer)->onHeap) free(header_of(pointer));
}

static redisReply *node(const redisReadTask *task, int type) {
    redisReply *reply = piece(task->privdata, sizeof(redisReply));
    if (!reply) return NULL;
    reply->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = reply;
    }
    return reply;
}

static void *create_string(const redisReadTask *task, char *text, size_t length) {
    char *copy = piece(task->privdata, length + 1);
    if (!copy) return NULL;
    redisReply *reply = node(task, task->type);
    if (!reply) { release(copy); return NULL; }
    memcpy(copy, text, length);
    copy[length] = '\0';
    reply->str = copy;
    reply->len = length;
    return reply;
}

static void *create_array(const redisReadTask *task, int elements) {
    redisReply **vector = NULL;
    if (elements > 0) {
        vector = piece(task->privdata, (size_t)elements * sizeof(redisReply *));
        if (!vector) return NULL;
    }
    redisReply *reply = node(task, REDIS_REPLY_ARRAY);
    if (!reply) { release(vector); return NULL; }
    reply->element = vector;
    reply->elements = (size_t)elements;
    return reply;
}

static void *create_integer(const redisReadTask *task, long long value) {
    redisReply *reply = node(task, REDIS_REPLY_INTEGER);
    if (reply) reply->integer = value;
    return reply;
}

static void *create_nil(const redisReadTask *task) { return node(task, REDIS_REPLY_NIL); }

static void release_tree(redisReply *reply) {
    if (!reply) return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->element) {
        for (size_t index = 0; index < reply->elements; index++) release_tree(reply->element[index]);
        release(reply->element);
    }
    release(reply->str);
    release(reply);
}

/// Frees a whole reply (hiredis calls it with the root only) and empties its arena.
static void free_reply(void *root) {
    if (!root) return;
    reply_arena *arena = header_of(root)->arena;
    release_tree(root);
    if (arena) arena->used = 0;
}

static redisReplyObjectFunctions arena_functions = {
    create_string, create_array, create_integer, create_nil, free_reply,
};

void reply_arena_attach(redisReader *reader, reply_arena *arena) {
    reader->fn = &arena_functions;
    reader->privdata = arena;
}
