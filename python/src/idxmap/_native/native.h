/*
 * idxmap._native: the C half of idxmap's reader (the pure package works without it). What the
 * files share: the mapping of one index file (mapping.c) and the reader's base type (lookup.c).
 *
 * Built against the stable ABI of Python 3.9 (Py_LIMITED_API): no buffer protocol, so the
 * extension maps the files it reads itself, beside the Python mapping of the same file.
 */
#ifndef IDXMAP_NATIVE_H
#define IDXMAP_NATIVE_H

#include <Python.h>
#include <stdatomic.h>
#include <stdint.h>

#include "format.h"
#include "probe.h"

/* One index file mapped read-only (shared) by the extension: what a lookup reads. */
typedef struct {
  PyObject_HEAD
  const uint8_t *base;
  size_t length;
  uint32_t headerBytes;
  uint32_t keyBits, valueBits;
  int wide; /* version 3: packed 12- or 16-byte slots (§16.1) */
  idx_table table;
  /* Set by the Python side (MappedFile.flag): the watcher saw the path name another file or this
     one change (§11.8); lookups take the slow path. */
  int spoiled;
  /* Set by the SIGBUS handler: the file shrank under the mapping, now zero pages (mapping.c). */
  atomic_int *lost;
  uint32_t slot; /* its entry in the registry the SIGBUS handler reads */
} idxn_mapping;

extern PyTypeObject *idxn_mapping_type;

/* The registry of the extension's mappings, which the SIGBUS handler reads (mapping.c): an
   entry's number, or -1 when full; its use for a mapping (returns its lost flag); its end. */
int64_t idxn_take_entry(void);
atomic_int *idxn_register(uint32_t i, const void *base, size_t length, int writable);
void idxn_unregister(uint32_t i);
void idxn_give_back(uint32_t i);

/* A probe's answers (lookup.c). */
enum { ANSWER_HIT, ANSWER_MISS, ANSWER_SLOW, ANSWER_KEY };
int idxn_probe(const idxn_mapping *m, uint64_t key, uint64_t *value);

int idxn_mapping_init_type(PyObject *module);
int idxn_slots_init_type(PyObject *module);
int idxn_index_init_type(PyObject *module);
int idxn_install_sigbus(void);

/* A bytes's or bytearray's memory and length (a bytearray only when writable), or NULL with
   TypeError. */
char *idxn_bytes_of(PyObject *o, Py_ssize_t *len, int writable);

/* The module's functions: build.c's. */
extern PyMethodDef idxn_build_methods[];

/* True when the mapping can be read: not lost under a truncation. */
static inline int idxn_readable(const idxn_mapping *m) {
  return !atomic_load_explicit(m->lost, memory_order_relaxed);
}

#endif
