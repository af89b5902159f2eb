/*
 * File mappings for src/os/mmap.ts.
 *
 * The arena. Every ArrayBuffer over outside memory costs V8 an account of its size, and on a
 * large file that account sets off a full garbage collection at every open (measured: 260-345 us
 * per open+close of a 91 MB file, a mark-compact every ten opens, on Node 20, 22 and 24). So the
 * addon reserves one large range of address space once (zero pages, read-only, no memory behind
 * it) and wraps it, per thread, in ArrayBuffers of SLICE_BYTES laid every SLICE_STRIDE bytes: V8
 * accounts those once. A file is mapped into a free part of the arena with MAP_FIXED, and the
 * JS side views it through the slice that holds it. Closing maps zero pages back over the range
 * at once: the file is let go (disk space of a deleted file comes back), nothing waits for a
 * collection, and a view that a caller kept reads zeros instead of faulting. Measured: 27-32 us
 * per open+close, no collection. A file the arena cannot hold gets a mapping and ArrayBuffers of
 * its own (detached when released), which is correct and only slower to open.
 *
 * Even one account is a cost at a process's first open: V8 takes a 4 GiB slice for memory
 * pressure and collects at once (7 ms measured on Node 20). So the arena's first SMALL_ZONE
 * bytes, where mappings that small go first, have a slice of their own of that size, under
 * V8's threshold: a process that opens only small indexes never pays that collection.
 *
 * SIGBUS. A file that shrinks under a mapping (cp over it, truncate) makes every access past its
 * new end fault. The handler turns a fault inside one of these mappings into zero pages over the
 * whole mapping, marked lost: the lookup that faulted fails its check of the header's identity
 * word (zero is never the file's) and the reader's slow path asks state() and reopens the path.
 * Any other fault goes to the handler that was there before, as the JVM does for mapped buffers.
 *
 * The watcher. A reader follows a file replaced by the protocol of spec §11.4 on its own. A file
 * replaced by a rename (mv, rsync), removed and rebuilt, or rewritten in place does not retire
 * the old one; a thread looks at every watched path every WATCH_MS and, when it names another
 * file or the file changed size or header, marks the mapping and maps a zero page over its
 * first page, which sends readers to their slow path (§11.8): one mmap, so no reader sees a page
 * half done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idx.h"

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

#define SLICE_BYTES ((size_t)1 << 32)
#define SLICE_STRIDE ((size_t)1 << 30)
/* Arena offsets [0, SMALL_ZONE) hold mappings of at most that length, under one slice of that
   size (slices[0]); the rest start at SLICE_STRIDE. Measured on Node 20, 22 and 24: a first
   slice of 24 MiB sets off no collection, one of 32 MiB a scavenge or two, one of 4 GiB a full
   collection. 24 MiB holds an index of 2.6 million entries. */
#define SMALL_ZONE ((size_t)24 << 20)
/* The largest window a caller may ask for: any range this long lies inside one slice. */
#define MAX_WINDOW (SLICE_BYTES - SLICE_STRIDE)
#define WATCH_MS 100
#define BLOCK_ENTRIES 1024
#define MAX_BLOCKS 1024

enum { STATUS_OK = 0, STATUS_MOVED = 1, STATUS_LOST = 2 };

struct idx_mapping {
  _Atomic(uintptr_t) base; /* 0 while the entry is free */
  _Atomic(size_t) length;  /* bytes mapped: the file size rounded up to pages */
  atomic_int status;
  uint32_t id;
  int in_arena;
  int writable;
  size_t file_size;
  dev_t dev;
  ino_t ino;
  uint8_t fixed[32]; /* header bytes 0..31 when mapped: no writer changes them in place */
  size_t fixed_len;
  char *path; /* the watched path, or NULL */
  int releasing; /* handed to the watcher thread to unmap: no longer usable, still known to the SIGBUS handler */
  napi_env env;
  napi_ref *views; /* a mapping of its own: its ArrayBuffers, detached at release */
  size_t nviews, capviews;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Wakes the watcher thread when a release is handed to it. */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int reap_pending;
static idx_mapping *_Atomic blocks[MAX_BLOCKS];
static uint32_t *free_ids;
static size_t nfree_ids, capfree_ids;
static uint32_t next_id = 1;
static size_t page;

/* ---- the arena: reserved address space, and its free ranges ---- */

static uint8_t *arena;
static size_t arena_bytes;
static int arena_tried;
struct range { size_t start, end; };
static struct range *ranges;
static size_t nranges, capranges;

static void arena_reserve(void) {
  if (arena_tried) return;
  arena_tried = 1;
  /* 1 TiB where the address space allows, less where it does not (39-bit arm64, emulators). */
  for (int bits = 40; bits >= 34; bits -= 2) {
    size_t size = (size_t)1 << bits;
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    arena = p;
    arena_bytes = size;
    ranges = malloc(sizeof *ranges * 16);
    if (ranges == NULL) {
      munmap(p, size);
      arena = NULL;
      arena_bytes = 0;
      return;
    }
    capranges = 16;
    ranges[0].start = 0;
    ranges[0].end = SMALL_ZONE;
    ranges[1].start = SLICE_STRIDE;
    ranges[1].end = size;
    nranges = 2;
    return;
  }
}

/*
 * An offset in the arena with `len` free bytes from it, or (size_t)-1. First fit, lowest
 * address: mappings stay in the first slices, whose ArrayBuffers exist already (each new slice
 * is 4 GiB more that V8 counts, and a collection; placing each mapping further along, to delay
 * the reuse of freed ranges, measured a full collection every 60 opens). The small zone's
 * ranges come first; a mapping too long for it skips them, one that finds it full goes on to
 * the rest. No range spans the two: they are never adjacent, so frees never join them.
 */
static size_t arena_alloc(size_t len) {
  for (size_t i = 0; i < nranges; i++) {
    if (ranges[i].end - ranges[i].start < len) continue;
    if (ranges[i].start < SMALL_ZONE && len > SMALL_ZONE) continue;
    size_t off = ranges[i].start;
    ranges[i].start += len;
    if (ranges[i].start == ranges[i].end) {
      memmove(ranges + i, ranges + i + 1, (nranges - i - 1) * sizeof *ranges);
      nranges--;
    }
    return off;
  }
  return (size_t)-1;
}

static int arena_free(size_t off, size_t len) {
  size_t i = 0;
  while (i < nranges && ranges[i].start < off) i++;
  int joins_prev = i > 0 && ranges[i - 1].end == off;
  int joins_next = i < nranges && ranges[i].start == off + len;
  if (joins_prev && joins_next) {
    ranges[i - 1].end = ranges[i].end;
    memmove(ranges + i, ranges + i + 1, (nranges - i - 1) * sizeof *ranges);
    nranges--;
  } else if (joins_prev) {
    ranges[i - 1].end = off + len;
  } else if (joins_next) {
    ranges[i].start = off;
  } else {
    if (nranges == capranges) {
      struct range *r = realloc(ranges, sizeof *ranges * capranges * 2);
      if (r == NULL) return 0; /* the range stays allocated: lost address space, nothing worse */
      ranges = r;
      capranges *= 2;
    }
    memmove(ranges + i + 1, ranges + i, (nranges - i) * sizeof *ranges);
    ranges[i].start = off;
    ranges[i].end = off + len;
    nranges++;
  }
  return 1;
}

/* ---- the registry of mappings (read without the lock by the SIGBUS handler) ---- */

static idx_mapping *entry(uint32_t id) {
  if (id == 0) return NULL;
  uint32_t b = (id - 1) / BLOCK_ENTRIES;
  if (b >= MAX_BLOCKS) return NULL;
  idx_mapping *block = atomic_load(&blocks[b]);
  return block == NULL ? NULL : &block[(id - 1) % BLOCK_ENTRIES];
}

/* A free entry (lock held), or NULL. */
static idx_mapping *new_entry(void) {
  uint32_t id;
  if (nfree_ids > 0) {
    id = free_ids[--nfree_ids];
  } else {
    id = next_id;
    uint32_t b = (id - 1) / BLOCK_ENTRIES;
    if (b >= MAX_BLOCKS) return NULL;
    if (atomic_load(&blocks[b]) == NULL) {
      idx_mapping *block = calloc(BLOCK_ENTRIES, sizeof *block);
      if (block == NULL) return NULL;
      atomic_store(&blocks[b], block);
    }
    next_id++;
  }
  idx_mapping *m = entry(id);
  m->id = id;
  return m;
}

static void drop_entry(idx_mapping *m) {
  if (nfree_ids == capfree_ids) {
    size_t cap = capfree_ids ? capfree_ids * 2 : 64;
    uint32_t *ids = realloc(free_ids, cap * sizeof *ids);
    if (ids == NULL) return; /* the id is not reused */
    free_ids = ids;
    capfree_ids = cap;
  }
  free_ids[nfree_ids++] = m->id;
}

/* The live mapping holding address a, or NULL. Safe in a signal handler: atomics only. */
static idx_mapping *find_live(uintptr_t a) {
  for (uint32_t b = 0; b < MAX_BLOCKS; b++) {
    idx_mapping *block = atomic_load(&blocks[b]);
    if (block == NULL) return NULL;
    for (uint32_t i = 0; i < BLOCK_ENTRIES; i++) {
      uintptr_t base = atomic_load(&block[i].base);
      if (base != 0 && a >= base && a - base < atomic_load(&block[i].length)) return &block[i];
    }
  }
  return NULL;
}

/* ---- poisoning: what a reader's next lookup sees when its file is lost or replaced ---- */

static void raise_status(idx_mapping *m, int status) {
  int old = atomic_load(&m->status);
  while (old < status && !atomic_compare_exchange_weak(&m->status, &old, status)) {
  }
}

/*
 * The file under m shrank: zero pages over all of it (writable, so that a writer's store that
 * faulted completes, into nothing). Signal handler context (the faulting thread is inside the
 * handler, so no JS of its own runs meanwhile). The status is raised first: a reader that
 * meets the zero pages' header (whose identity word is not the file's, spec §11.7) and asks
 * state() finds the file lost.
 */
static int lose(idx_mapping *m) {
  uint8_t *base = (uint8_t *)atomic_load(&m->base);
  size_t length = atomic_load(&m->length);
  if (base == NULL) return 0;
  raise_status(m, STATUS_LOST);
  return mmap(base, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) !=
         MAP_FAILED;
}

/*
 * The path names another file now (MOVED), or the file changed size or header (LOST): a zero
 * page over m's first page, after the status (watcher thread, lock held). Readers compare the
 * header's identity word beside seq on every lookup (spec §11.7): the zero page's is not the
 * file's, so the next lookup takes the slow path, asks state() and follows. No rule of the
 * format is written here: the page is not a header, only a signal. A writer's mapping only has
 * its status raised: its stores must reach the file, and the writer asks state() before every
 * operation.
 */
static void poison(idx_mapping *m, int status) {
  uint8_t *base = (uint8_t *)atomic_load(&m->base);
  if (base == NULL || atomic_load(&m->status) != STATUS_OK) return;
  raise_status(m, status);
  if (m->writable) return;
  mmap(base, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* ---- SIGBUS ---- */

static struct sigaction previous_bus;
static atomic_int handler_installed;

static void on_sigbus(int sig, siginfo_t *si, void *context) {
  idx_mapping *m = find_live((uintptr_t)si->si_addr);
  if (m != NULL && lose(m)) return; /* the faulting load runs again and reads zero */
  if (previous_bus.sa_flags & SA_SIGINFO) {
    if (previous_bus.sa_sigaction != NULL) {
      previous_bus.sa_sigaction(sig, si, context);
      return;
    }
  } else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
    previous_bus.sa_handler(sig);
    return;
  }
  /* Not ours and nobody else's: the default action, when the faulting instruction runs again. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, NULL);
}

static void install_handler(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&handler_installed, &expected, 1)) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &previous_bus);
}

/* ---- the watcher ---- */

static int watcher_started;
static void unmap_now(idx_mapping *m);

/*
 * Unmaps the mappings handed over by release(id, deferred). Called with the lock held; lets go
 * of it around each unmapping, which frees a deleted file's pages and blocks (milliseconds) and
 * would otherwise hold up a reader's next map() or release() on the JS thread. Meanwhile the
 * entry stays `releasing` (no caller can use it, env teardown skips it) and its range stays
 * allocated in the arena (no map() can reuse it), so only this thread touches either.
 */
static void reap(void) {
  reap_pending = 0;
  for (uint32_t b = 0; b < MAX_BLOCKS; b++) {
    idx_mapping *block = atomic_load(&blocks[b]);
    if (block == NULL) break;
    for (uint32_t i = 0; i < BLOCK_ENTRIES; i++) {
      idx_mapping *m = &block[i];
      if (atomic_load(&m->base) == 0 || !m->releasing) continue;
      uint8_t *base = (uint8_t *)atomic_load(&m->base);
      size_t length = atomic_load(&m->length);
      int in_arena = m->in_arena;
      atomic_store(&m->base, 0); /* the handler lets go of it first */
      pthread_mutex_unlock(&lock);
      int zeroed = in_arena
        ? mmap(base, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != MAP_FAILED
        : munmap(base, length) == 0;
      pthread_mutex_lock(&lock);
      if (in_arena && zeroed) arena_free((size_t)(base - arena), length);
      free(m->path);
      m->path = NULL;
      m->releasing = 0;
      drop_entry(m);
    }
  }
}

static void *watch_loop(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += WATCH_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    /* Releases to reap wake the thread between checks; they do not put the next check off (a
       reader following a file replaced every few ms released one each time, and with the deadline
       set anew after each, no path was looked at again while that went on). */
    int timed_out = 0;
    while (!timed_out) {
      while (!reap_pending && !timed_out) timed_out = pthread_cond_timedwait(&wake, &lock, &deadline) != 0;
      if (reap_pending) reap();
    }
    for (uint32_t b = 0; b < MAX_BLOCKS; b++) {
      idx_mapping *block = atomic_load(&blocks[b]);
      if (block == NULL) break;
      for (uint32_t i = 0; i < BLOCK_ENTRIES; i++) {
        idx_mapping *m = &block[i];
        if (atomic_load(&m->base) == 0 || m->path == NULL || m->releasing || atomic_load(&m->status) != STATUS_OK) continue;
        struct stat st;
        if (stat(m->path, &st) != 0) continue; /* gone: nothing to follow yet */
        if (st.st_dev != m->dev || st.st_ino != m->ino) {
          poison(m, STATUS_MOVED);
        } else if ((size_t)st.st_size != m->file_size ||
                   memcmp((const void *)atomic_load(&m->base), m->fixed, m->fixed_len) != 0) {
          poison(m, STATUS_LOST);
        }
      }
    }
  }
  return NULL;
}

static int start_watcher(void) {
  if (watcher_started) return 1;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  /* The watcher takes no signals: SIGBUS on its reads is synchronous and still delivered. */
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGSEGV);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int ok = pthread_create(&t, &attr, watch_loop, NULL) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (ok) watcher_started = 1;
  return ok;
}

/* ---- per-env state: the slices' ArrayBuffers, and the mappings to release at teardown ---- */

typedef struct {
  napi_ref *slices;
  size_t nslices;
} env_data;

static void release_locked(napi_env env, idx_mapping *m, int live_env, int deferred);

static void env_teardown(void *arg) {
  napi_env env = arg;
  pthread_mutex_lock(&lock);
  for (uint32_t b = 0; b < MAX_BLOCKS; b++) {
    idx_mapping *block = atomic_load(&blocks[b]);
    if (block == NULL) break;
    for (uint32_t i = 0; i < BLOCK_ENTRIES; i++) {
      if (atomic_load(&block[i].base) != 0 && block[i].env == env && !block[i].releasing) release_locked(env, &block[i], 0, 0);
    }
  }
  pthread_mutex_unlock(&lock);
}

static void free_env_data(napi_env env, void *data, void *hint) {
  (void)hint;
  env_data *d = data;
  for (size_t j = 0; j < d->nslices; j++)
    if (d->slices[j] != NULL) napi_delete_reference(env, d->slices[j]);
  free(d->slices);
  free(d);
}

static env_data *env_state(napi_env env) {
  env_data *d = NULL;
  napi_get_instance_data(env, (void **)&d);
  return d;
}

/* ---- errors ---- */

static const char *errno_code(int e) {
  switch (e) {
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case EAGAIN: return "EAGAIN";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  return idx_throw(env, errno_code(e), "%s: %s", what, strerror(e));
}

/* ---- the JS functions ---- */

/*
 * map(fd, size, writable, sequential) -> id. Maps the whole file open at fd (size: its size,
 * which must match fstat), shared, read-only or read-write; sequential sets the read-ahead for
 * scans, else random access with no huge pages (a lookup touches one page).
 */
static napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL, NULL, NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  double sizeD;
  bool writable, sequential;
  if (!idx_arg_int32(env, argv[0], "map", "fd", &fd) ||
      !idx_arg_whole(env, argv[1], "map", "size", 1, 1099511627776.0, &sizeD) ||
      !idx_arg_bool(env, argv[2], "map", "writable", &writable) ||
      !idx_arg_bool(env, argv[3], "map", "sequential", &sequential))
    return NULL;
  if (fd < 0) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "map: fd must not be negative");
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, "fstat", errno);
  if (!S_ISREG(st.st_mode)) return idx_throw(env, "EINVAL", "map: not a regular file");
  size_t size = (size_t)sizeD;
  if ((size_t)st.st_size != size) return idx_throw(env, "EAGAIN", "map: the file changed size while it was opened");
  size_t length = (size + page - 1) / page * page;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);

  pthread_mutex_lock(&lock);
  arena_reserve();
  idx_mapping *m = new_entry();
  if (m == NULL) {
    pthread_mutex_unlock(&lock);
    return throw_errno(env, "map", ENOMEM);
  }
  uint8_t *addr = NULL;
  int in_arena = 0;
  /* Any size fits the arena's scheme (each window lies inside one slice); a file larger than a
     quarter of the arena gets a mapping of its own rather than crowd out the rest. */
  size_t off = arena != NULL && length <= arena_bytes / 4 ? arena_alloc(length) : (size_t)-1;
  if (off != (size_t)-1) {
    void *p = mmap(arena + off, length, prot, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      /* MAP_FIXED failed: the range may no longer be the arena's zero pages; restore them. */
      if (mmap(arena + off, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != MAP_FAILED)
        arena_free(off, length);
      drop_entry(m);
      pthread_mutex_unlock(&lock);
      return throw_errno(env, "mmap", e);
    }
    addr = p;
    in_arena = 1;
  } else {
    void *p = mmap(NULL, length, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      drop_entry(m);
      pthread_mutex_unlock(&lock);
      return throw_errno(env, "mmap", e);
    }
    addr = p;
  }
#ifdef MADV_NOHUGEPAGE
  /* A lookup touches one page; where the page cache holds the file in 2 MB folios, huge pages
     made one answer map 4 MB of a 9 MB index into the reader (measured), for no speed. */
  if (!sequential) madvise(addr, length, MADV_NOHUGEPAGE);
#endif
  madvise(addr, length, sequential ? MADV_SEQUENTIAL : MADV_RANDOM);
  m->in_arena = in_arena;
  m->writable = writable;
  m->file_size = size;
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  m->path = NULL;
  m->releasing = 0;
  m->env = env;
  m->views = NULL;
  m->nviews = m->capviews = 0;
  atomic_store(&m->status, STATUS_OK);
  atomic_store(&m->length, length);
  atomic_store(&m->base, (uintptr_t)addr); /* live from here: the handler knows it */
  m->fixed_len = size < sizeof m->fixed ? size : sizeof m->fixed;
  memcpy(m->fixed, addr, m->fixed_len);
  pthread_mutex_unlock(&lock);
  return idx_number(env, m->id);
}

idx_mapping *idx_mapping_get(napi_env env, napi_value id, const char *fn) {
  uint32_t n;
  if (!idx_arg_u32(env, id, fn, "mapping id", &n)) return NULL;
  idx_mapping *m = entry(n);
  if (m == NULL || atomic_load(&m->base) == 0 || m->env != env || m->releasing) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: mapping %u is not open", fn, n);
    return NULL;
  }
  return m;
}

const uint8_t *idx_mapping_base(const idx_mapping *m) {
  return (const uint8_t *)atomic_load(&((idx_mapping *)m)->base);
}

size_t idx_mapping_length(const idx_mapping *m) {
  return ((idx_mapping *)m)->file_size;
}

int idx_mapping_ok(const idx_mapping *m) {
  return atomic_load(&((idx_mapping *)m)->status) == STATUS_OK;
}

int idx_mapping_writable(const idx_mapping *m) {
  return m->writable && atomic_load(&((idx_mapping *)m)->status) == STATUS_OK;
}

/*
 * window(id, offset, length) -> [arrayBuffer, byteOffset]: an ArrayBuffer holding the mapped
 * file's bytes offset..offset+length-1 at byteOffset. At most 3 GiB.
 */
static napi_value Window(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  idx_mapping *m = idx_mapping_get(env, argv[0], "window");
  double offD, lenD;
  if (m == NULL || !idx_arg_whole(env, argv[1], "window", "offset", 0, 1099511627776.0, &offD) ||
      !idx_arg_whole(env, argv[2], "window", "length", 0, (double)MAX_WINDOW, &lenD))
    return NULL;
  size_t off = (size_t)offD, len = (size_t)lenD;
  if (off + len > m->file_size) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "window: past the end of the file");
  uint8_t *addr = (uint8_t *)atomic_load(&m->base) + off;
  napi_value ab, result, n;
  size_t byteOffset;
  if (m->in_arena) {
    env_data *d = env_state(env);
    /* slices[0] is the small zone's (no mapping lies in [SMALL_ZONE, SLICE_STRIDE)). */
    size_t j = (size_t)(addr - arena) / SLICE_STRIDE;
    if (d == NULL || j >= d->nslices) return idx_throw(env, "EINVAL", "window: no slice");
    if (d->slices[j] == NULL ||
        napi_get_reference_value(env, d->slices[j], &ab) != napi_ok || ab == NULL) {
      size_t start = j * SLICE_STRIDE;
      size_t slice = j == 0 ? SMALL_ZONE : arena_bytes - start < SLICE_BYTES ? arena_bytes - start : SLICE_BYTES;
      if (napi_create_external_arraybuffer(env, arena + start, slice, NULL, NULL, &ab) != napi_ok)
        return idx_throw(env, "ENOMEM", "window: cannot make an ArrayBuffer over the arena");
      if (d->slices[j] != NULL) napi_delete_reference(env, d->slices[j]);
      napi_create_reference(env, ab, 1, &d->slices[j]);
    }
    byteOffset = (size_t)(addr - (arena + j * SLICE_STRIDE));
  } else {
    if (napi_create_external_arraybuffer(env, addr, len, NULL, NULL, &ab) != napi_ok)
      return idx_throw(env, "ENOMEM", "window: cannot make an ArrayBuffer over the mapping");
    if (m->nviews == m->capviews) {
      size_t cap = m->capviews ? m->capviews * 2 : 4;
      napi_ref *v = realloc(m->views, cap * sizeof *v);
      if (v == NULL) return idx_throw(env, "ENOMEM", "window: out of memory");
      m->views = v;
      m->capviews = cap;
    }
    napi_create_reference(env, ab, 1, &m->views[m->nviews++]);
    byteOffset = 0;
  }
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, ab);
  napi_create_double(env, (double)byteOffset, &n);
  napi_set_element(env, result, 1, n);
  return result;
}

/*
 * live_env: called from JS (detach the mapping's own ArrayBuffers), not from env teardown.
 * deferred: the unmapping itself goes to the watcher thread. Unmapping the last mapping of a
 * deleted file frees its pages and disk blocks inside the call (3.5 to 30 ms measured for a
 * 9 MB index), which a reader following a replaced file would otherwise pay inside a lookup.
 */
static void release_locked(napi_env env, idx_mapping *m, int live_env, int deferred) {
  for (size_t i = 0; live_env && i < m->nviews; i++) {
    napi_value ab;
    if (napi_get_reference_value(env, m->views[i], &ab) == napi_ok && ab != NULL) napi_detach_arraybuffer(env, ab);
    napi_delete_reference(env, m->views[i]);
  }
  free(m->views);
  m->views = NULL;
  m->nviews = m->capviews = 0;
  if (deferred && start_watcher()) {
    m->releasing = 1;
    reap_pending = 1;
    pthread_cond_signal(&wake);
    return;
  }
  unmap_now(m);
}

static void unmap_now(idx_mapping *m) {
  uint8_t *base = (uint8_t *)atomic_load(&m->base);
  size_t length = atomic_load(&m->length);
  atomic_store(&m->base, 0); /* the handler lets go of it first */
  if (m->in_arena) {
    /* Zero pages back over the range: the file is let go, the address space stays valid. */
    if (mmap(base, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != MAP_FAILED)
      arena_free((size_t)(base - arena), length);
  } else {
    munmap(base, length); /* its ArrayBuffers were detached above: nothing can reach it */
  }
  free(m->path);
  m->path = NULL;
  m->releasing = 0;
  drop_entry(m);
}

/*
 * release(id, deferred): lets go of the mapping, now or (deferred) on the watcher thread within
 * moments. Views over it read zeros (or are detached) once it is unmapped.
 */
static napi_value Release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool deferred = false;
  if (argc >= 2 && !idx_arg_bool(env, argv[1], "release", "deferred", &deferred)) return NULL;
  pthread_mutex_lock(&lock);
  idx_mapping *m = idx_mapping_get(env, argv[0], "release");
  if (m != NULL) release_locked(env, m, 1, deferred);
  pthread_mutex_unlock(&lock);
  return idx_undefined(env);
}

/* sync(id): msync(MS_SYNC) of the whole mapping: on disk when it returns. */
static napi_value Sync(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  idx_mapping *m = idx_mapping_get(env, argv[0], "sync");
  if (m == NULL) return NULL;
  if (atomic_load(&m->status) == STATUS_LOST) return throw_errno(env, "msync", EIO);
  if (msync((void *)atomic_load(&m->base), atomic_load(&m->length), MS_SYNC) != 0) return throw_errno(env, "msync", errno);
  return idx_undefined(env);
}

/* state(id) -> 0 intact, 1 its path names another file now, 2 the file was lost or rewritten. */
static napi_value State(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  idx_mapping *m = idx_mapping_get(env, argv[0], "state");
  return m == NULL ? NULL : idx_number(env, atomic_load(&m->status));
}

/* watch(id, path): the watcher compares `path` with the mapped file every WATCH_MS. */
static napi_value Watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  if (!idx_arg_string(env, argv[1], "watch", "path", path, sizeof path)) return NULL;
  pthread_mutex_lock(&lock);
  idx_mapping *m = idx_mapping_get(env, argv[0], "watch");
  if (m != NULL) {
    free(m->path);
    m->path = strdup(path);
    if (!start_watcher()) {
      free(m->path);
      m->path = NULL;
    }
  }
  pthread_mutex_unlock(&lock);
  return m == NULL ? NULL : idx_undefined(env);
}

/*
 * replacements(bump) -> how many index files this process has renamed a new file over (bump:
 * count one more first). One count for every thread of the process: a reader that finds its
 * file retired looks at the path at once, not after its usual pause, when the count moved
 * since its last look, so that a process always reads what it wrote (spec §11.7, following).
 */
static atomic_uint replacements;

static napi_value Replacements(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool bump;
  if (!idx_arg_bool(env, argv[0], "replacements", "bump", &bump)) return NULL;
  unsigned n = bump ? atomic_fetch_add(&replacements, 1) + 1 : atomic_load(&replacements);
  return idx_number(env, (double)n);
}

/* arena() -> bytes of address space reserved for mappings (0: every mapping gets its own). */
static napi_value Arena(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&lock);
  arena_reserve();
  size_t n = arena_bytes;
  pthread_mutex_unlock(&lock);
  return idx_number(env, (double)n);
}

napi_status idx_mapping_init(napi_env env, napi_value exports) {
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  install_handler();
  env_data *d = calloc(1, sizeof *d);
  if (d == NULL) return napi_generic_failure;
  pthread_mutex_lock(&lock);
  arena_reserve();
  size_t nslices = arena_bytes / SLICE_STRIDE;
  pthread_mutex_unlock(&lock);
  d->slices = calloc(nslices ? nslices : 1, sizeof *d->slices);
  d->nslices = nslices;
  if (d->slices == NULL || napi_set_instance_data(env, d, free_env_data, NULL) != napi_ok) return napi_generic_failure;
  napi_add_env_cleanup_hook(env, env_teardown, env);
  IDX_EXPORT(env, exports, "map", Map);
  IDX_EXPORT(env, exports, "window", Window);
  IDX_EXPORT(env, exports, "release", Release);
  IDX_EXPORT(env, exports, "sync", Sync);
  IDX_EXPORT(env, exports, "state", State);
  IDX_EXPORT(env, exports, "watch", Watch);
  IDX_EXPORT(env, exports, "arena", Arena);
  IDX_EXPORT(env, exports, "replacements", Replacements);
  return napi_ok;
}
