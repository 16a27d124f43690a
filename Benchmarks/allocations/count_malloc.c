// LD_PRELOAD shim: counts calls to malloc, calloc, realloc, posix_memalign, aligned_alloc and
// memalign in the whole process, forwarding to glibc's own entry points (no dlsym bootstrap);
// SIGUSR2 writes the count to stderr as "allocations N".
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong count;

static void report(int signal) {
    (void)signal;
    char text[40] = "allocations ";
    char digits[24];
    unsigned long value = atomic_load(&count);
    int n = 0, length = 12;
    do { digits[n++] = '0' + value % 10; value /= 10; } while (value);
    while (n) text[length++] = digits[--n];
    text[length++] = '\n';
    write(2, text, length);
}

__attribute__((constructor)) static void setup(void) { signal(SIGUSR2, report); }

void *malloc(size_t size) { atomic_fetch_add(&count, 1); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add(&count, 1); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add(&count, 1); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { atomic_fetch_add(&count, 1); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { atomic_fetch_add(&count, 1); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&count, 1);
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
