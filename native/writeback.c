/*
 * Writes of a new index file that go on while the caller computes the next bytes: the build and
 * the rehash place slots into one buffer while the other one's bytes go to the file. A 64/64
 * build of 10 M pairs spent 35 of its 330 ms in write(2) copying 183 MB into the page cache,
 * with the other core idle (bench/BUILD-FRESH.md).
 *
 * Why it is safe with any JS values: the bytes come only from an array of words() (native/
 * build.c), whose memory JS cannot detach or free while a reference holds it; the file is a
 * dup of the caller's descriptor, so closing or reusing that number meanwhile cannot send the
 * bytes to another file; the thread ends on its own (it owns nothing JS sees but the result,
 * read after the join).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "idx.h"

typedef struct writeback {
  struct writeback *next; /* in `active` until joined */
  int done;               /* set by the thread, under active_lock, when it no longer reads */
  pthread_t thread;
  int fd; /* the dup; closed by the thread when it is done */
  const uint8_t *data;
  size_t length;
  uint64_t position;
  size_t blockBytes;
  uint8_t *sums; /* each block's checksum, taken before the write, or NULL for none */
  int error;  /* errno of the write that failed, 0 when every byte was written: read after the join */
  int joined; /* by writeBehindWait or the finalizer, whichever comes first */
  napi_ref words, sums_ref;
} writeback;

/* The writes under way: a words() array's memory is not freed while one still reads it (a worker
   torn down with writes under way frees its ArrayBuffers in no order we choose). */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_done = PTHREAD_COND_INITIALIZER;
static writeback *active;

void idx_writeback_wait_for(const void *memory) {
  pthread_mutex_lock(&active_lock);
  for (;;) {
    int reading = 0;
    for (writeback *w = active; w != NULL; w = w->next)
      if (!w->done && ((const void *)w->data == memory || (const void *)w->sums == memory)) reading = 1;
    if (!reading) break;
    pthread_cond_wait(&active_done, &active_lock);
  }
  pthread_mutex_unlock(&active_lock);
}

static const napi_type_tag WRITEBACK_TAG = {0x6964786d61707762ULL, 0x7772697465626b31ULL};

static void *write_all(void *arg) {
  writeback *w = arg;
  if (w->sums != NULL) idx_block_checksums(w->data, w->length, w->blockBytes, w->sums);
  size_t done = 0;
  while (done < w->length) {
    ssize_t k = pwrite(w->fd, w->data + done, w->length - done, (off_t)(w->position + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      w->error = k < 0 ? errno : EIO;
      break;
    }
    done += (size_t)k;
  }
  close(w->fd);
  pthread_mutex_lock(&active_lock);
  w->done = 1;
  pthread_cond_broadcast(&active_done);
  pthread_mutex_unlock(&active_lock);
  return NULL;
}

static void let_go(napi_env env, writeback *w) {
  if (w->words != NULL) napi_delete_reference(env, w->words);
  if (w->sums_ref != NULL) napi_delete_reference(env, w->sums_ref);
  w->words = w->sums_ref = NULL;
}

static void unlist(writeback *w) {
  pthread_mutex_lock(&active_lock);
  for (writeback **p = &active; *p != NULL; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      break;
    }
  }
  pthread_mutex_unlock(&active_lock);
}

static int join(napi_env env, writeback *w) {
  if (!w->joined) {
    pthread_join(w->thread, NULL);
    w->joined = 1;
    unlist(w);
    let_go(env, w);
  }
  return w->error;
}

/* A handle dropped without a wait: the thread still owns the struct until it is joined. */
static void finalize(napi_env env, void *data, void *hint) {
  join(env, data);
  free(data);
}

/*
 * writeBehind(fd, words u32[] from words(), bytes, position, blockBytes, sums u32[] from words() | null) -> handle
 * Starts writing bytes 0..bytes of `words` to the file at `position` on a thread of its own and
 * returns at once; with sums, the thread first puts each blockBytes block's checksum there, as
 * blockChecksums does. The caller must not touch words or sums until writeBehindWait(handle).
 */
static napi_value WriteBehind(napi_env env, napi_callback_info info) {
  static const char *fn = "writeBehind";
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  uint32_t blockBytes;
  double bytes, position;
  size_t length, sumsLength = 0;
  if (!idx_arg_int32(env, argv[0], fn, "fd", &fd) || !idx_arg_whole(env, argv[2], fn, "bytes", 0, 9007199254740991.0, &bytes) ||
      !idx_arg_whole(env, argv[3], fn, "position", 0, 9007199254740991.0, &position) || !idx_arg_u32(env, argv[4], fn, "blockBytes", &blockBytes))
    return NULL;
  uint32_t *words = idx_words_of(env, argv[1], &length), *sums = NULL;
  napi_valuetype sumsType = napi_undefined;
  if (argv[5] != NULL) napi_typeof(env, argv[5], &sumsType);
  if (sumsType != napi_null && sumsType != napi_undefined) {
    sums = idx_words_of(env, argv[5], &sumsLength);
    if (sums == NULL) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: sums must be null or a whole Uint32Array from words()", fn);
  }
  if (words == NULL) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: words must be a whole Uint32Array from words()", fn);
  if (fd < 0 || bytes > (double)length * 4) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: bad fd %d, or bytes past the words", fn, fd);
  if (sums != NULL && (blockBytes == 0 || (size_t)bytes / blockBytes + ((size_t)bytes % blockBytes != 0) > sumsLength))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: blockBytes must be at least 1 and sums hold a word for each block", fn);
  if ((const void *)sums < (const void *)((uint8_t *)words + (size_t)bytes) && (const void *)words < (const void *)(sums + sumsLength))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: sums must not overlap the bytes", fn);
  writeback *w = calloc(1, sizeof *w);
  if (w == NULL) return idx_throw(env, "ENOMEM", "%s: out of memory", fn);
  w->data = (const uint8_t *)words;
  w->length = (size_t)bytes;
  w->position = (uint64_t)position;
  w->blockBytes = blockBytes;
  w->sums = (uint8_t *)sums;
  w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (w->fd < 0) {
    int e = errno;
    free(w);
    return idx_throw(env, e == EBADF ? "ERR_IDX_INVALID_ARGUMENT" : "EMFILE", "%s: cannot duplicate fd %d (errno %d)", fn, fd, e);
  }
  if (napi_create_reference(env, argv[1], 1, &w->words) != napi_ok || (sums != NULL && napi_create_reference(env, argv[5], 1, &w->sums_ref) != napi_ok)) {
    let_go(env, w);
    close(w->fd);
    free(w);
    return idx_throw(env, "ENOMEM", "%s: cannot hold the arrays", fn);
  }
  pthread_mutex_lock(&active_lock);
  w->next = active;
  active = w;
  pthread_mutex_unlock(&active_lock);
  if (pthread_create(&w->thread, NULL, write_all, w) != 0) {
    /* No thread to be had: write here, as a plain write would. */
    write_all(w);
    w->joined = 1;
    unlist(w);
    let_go(env, w);
  }
  napi_value handle;
  if (napi_create_external(env, w, finalize, NULL, &handle) != napi_ok) {
    finalize(env, w, NULL);
    return idx_throw(env, "ENOMEM", "%s: cannot make a handle", fn);
  }
  napi_type_tag_object(env, handle, &WRITEBACK_TAG);
  return handle;
}

/* writeBehindWait(handle) -> 0 when every byte was written, else the errno of the write that failed. */
static napi_value WriteBehindWait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool ours = false;
  napi_valuetype type = napi_undefined;
  if (argv[0] != NULL) napi_typeof(env, argv[0], &type);
  if (type == napi_external) napi_check_object_type_tag(env, argv[0], &WRITEBACK_TAG, &ours);
  void *w = NULL;
  if (!ours || napi_get_value_external(env, argv[0], &w) != napi_ok || w == NULL)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "writeBehindWait: handle must be one writeBehind returned");
  return idx_number(env, join(env, w));
}

napi_status idx_writeback_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "writeBehind", WriteBehind);
  IDX_EXPORT(env, exports, "writeBehindWait", WriteBehindWait);
  return napi_ok;
}
