/*
 * The extension's own mapping of an index file (idxmap.mapping maps it for the Python side too:
 * the limited API hands C no pointer into a Python mmap), and the SIGBUS handler that keeps a
 * truncation under it from killing the process.
 *
 * SIGBUS, as the Node addon's native/mapping.c: a file that shrinks under a mapping (cp over
 * it, truncate) makes every access past its new end fault. The handler turns a fault inside one
 * of these mappings into zero pages over the whole mapping, marked lost: the lookup that
 * faulted runs its load again, reads zero, fails its check of the header's identity word (zero
 * is never the file's), and its slow path (Python's) sees the lost flag and reopens the path.
 * Any other fault goes to the handler that was there before.
 */
#define _GNU_SOURCE
#include "native.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

PyTypeObject *idxn_mapping_type;

/* ---- the registry the SIGBUS handler reads (atomics only; entries live for the process) ---- */

#define BLOCK_ENTRIES 1024
#define MAX_BLOCKS 256

typedef struct {
  _Atomic uintptr_t base;
  _Atomic size_t length;
  atomic_int lost;
  atomic_int writable; /* a writer's mapping: zero pages it can store into (into nothing) */
  int used;            /* GIL held */
} registry_entry;

static registry_entry *_Atomic blocks[MAX_BLOCKS];
static uint32_t next_entry;
static uint32_t *free_entries;
static uint32_t nfree, capfree;

static registry_entry *entry(uint32_t i) {
  registry_entry *block = atomic_load(&blocks[i / BLOCK_ENTRIES]);
  return block == NULL ? NULL : &block[i % BLOCK_ENTRIES];
}

/* A free entry's number (GIL held), or -1 when the registry is full. */
int64_t idxn_take_entry(void) {
  if (nfree > 0) return free_entries[--nfree];
  uint32_t i = next_entry;
  if (i / BLOCK_ENTRIES >= MAX_BLOCKS) return -1;
  if (atomic_load(&blocks[i / BLOCK_ENTRIES]) == NULL) {
    registry_entry *block = calloc(BLOCK_ENTRIES, sizeof *block);
    if (block == NULL) return -1;
    atomic_store(&blocks[i / BLOCK_ENTRIES], block);
  }
  next_entry++;
  return i;
}

void idxn_give_back(uint32_t i) {
  if (nfree == capfree) {
    uint32_t cap = capfree ? capfree * 2 : 64;
    uint32_t *grown = realloc(free_entries, cap * sizeof *grown);
    if (grown == NULL) return; /* the entry is not reused */
    free_entries = grown;
    capfree = cap;
  }
  free_entries[nfree++] = i;
}

/* Entry i now describes the mapping [base, base + length): returns its lost flag. */
atomic_int *idxn_register(uint32_t i, const void *base, size_t length, int writable) {
  registry_entry *e = entry(i);
  atomic_store(&e->lost, 0);
  atomic_store(&e->writable, writable);
  atomic_store(&e->length, length);
  atomic_store(&e->base, (uintptr_t)base);
  e->used = 1;
  return &e->lost;
}

void idxn_unregister(uint32_t i) {
  registry_entry *e = entry(i);
  atomic_store(&e->base, 0);
  atomic_store(&e->length, 0);
  e->used = 0;
}

/* ---- SIGBUS ---- */

static struct sigaction previous_bus;
static int handler_installed;

static void on_sigbus(int sig, siginfo_t *si, void *context) {
  uintptr_t a = (uintptr_t)si->si_addr;
  for (uint32_t b = 0; b < MAX_BLOCKS; b++) {
    registry_entry *block = atomic_load(&blocks[b]);
    if (block == NULL) break;
    for (uint32_t i = 0; i < BLOCK_ENTRIES; i++) {
      uintptr_t base = atomic_load(&block[i].base);
      size_t length = atomic_load(&block[i].length);
      if (base != 0 && a >= base && a - base < length) {
        /* The flag first: a reader that meets the zero pages asks it. */
        atomic_store(&block[i].lost, 1);
        int prot = atomic_load(&block[i].writable) ? PROT_READ | PROT_WRITE : PROT_READ;
        if (mmap((void *)base, length, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != MAP_FAILED)
          return; /* the faulting load runs again and reads zero */
      }
    }
  }
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

int idxn_install_sigbus(void) {
  if (handler_installed) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &previous_bus) != 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  handler_installed = 1;
  return 0;
}

/* ---- the Mapping type ---- */

/*
 * Mapping(fd, size, header_bytes, capacity, slot_count, reach, id_word, file_id, key_bits,
 *         value_bits): maps the open file fd (size bytes) whose header idxmap.mapping has
 * validated (§9.1); the numbers are that header's. Raises OSError when it cannot map, ValueError
 * when the numbers do not describe a table inside size bytes.
 */
static PyObject *mapping_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
  int fd;
  unsigned long long size, headerBytes, capacity, slotCount, reach, idWord, fileId, keyBits, valueBits;
  if (kwargs != NULL && PyObject_Length(kwargs) > 0) {
    PyErr_SetString(PyExc_TypeError, "Mapping takes positional arguments only");
    return NULL;
  }
  if (!PyArg_ParseTuple(args, "iKKKKKKKKK:Mapping", &fd, &size, &headerBytes, &capacity, &slotCount, &reach, &idWord,
                        &fileId, &keyBits, &valueBits))
    return NULL;
  int wide = keyBits != 32 || valueBits != 32;
  unsigned long long slotBytes = wide ? (keyBits + valueBits) / 8 : 8;
  if ((headerBytes != IDX_HEADER_V1 && headerBytes != IDX_HEADER_V2) || (keyBits != 32 && keyBits != 64) ||
      (valueBits != 32 && valueBits != 64) || slotCount < 2 || slotCount > (unsigned long long)IDX_MAX_SLOTS_V3 ||
      capacity == 0 || capacity >= slotCount || reach >= slotCount || idWord >= headerBytes / 4 ||
      fileId > 0xffffffffull || headerBytes + slotCount * slotBytes > size || size > (unsigned long long)SIZE_MAX) {
    PyErr_SetString(PyExc_ValueError, "Mapping: the table does not fit the file");
    return NULL;
  }
  int64_t slot = idxn_take_entry();
  if (slot < 0) {
    PyErr_SetString(PyExc_MemoryError, "Mapping: too many open mappings");
    return NULL;
  }
  void *base = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    idxn_give_back((uint32_t)slot);
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  /* Lookups touch a page or two each: no read-ahead of neighbours (idxmap.mapping's _advise). */
  madvise(base, (size_t)size, MADV_RANDOM);
  idxn_mapping *m = (idxn_mapping *)PyType_GenericAlloc(type, 0);
  if (m == NULL) {
    munmap(base, (size_t)size);
    idxn_give_back((uint32_t)slot);
    return NULL;
  }
  m->slot = (uint32_t)slot;
  m->lost = idxn_register((uint32_t)slot, base, (size_t)size, 0);
  m->base = base;
  m->length = (size_t)size;
  m->headerBytes = (uint32_t)headerBytes;
  m->keyBits = (uint32_t)keyBits;
  m->valueBits = (uint32_t)valueBits;
  m->wide = wide;
  m->spoiled = 0;
  m->table.header = (const volatile uint32_t *)base;
  m->table.slots = (const uint32_t *)((const uint8_t *)base + headerBytes);
  m->table.capacity = capacity;
  m->table.slotCount = slotCount;
  m->table.reach = reach;
  m->table.dead = UINT64_MAX;
  m->table.idWord = (uint32_t)idWord;
  m->table.fileId = (uint32_t)fileId;
  return (PyObject *)m;
}

static void mapping_dealloc(PyObject *self) {
  idxn_mapping *m = (idxn_mapping *)self;
  PyTypeObject *tp = Py_TYPE(self);
  if (m->base != NULL) {
    /* Out of the registry first: the handler never zero-maps a range unmapped and reused. */
    idxn_unregister(m->slot);
    munmap((void *)m->base, m->length);
    idxn_give_back(m->slot);
    m->base = NULL;
  }
  freefunc free_ = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  free_(self);
  Py_DECREF(tp);
}

static PyObject *get_reach(PyObject *self, void *closure) {
  return PyLong_FromUnsignedLongLong(((idxn_mapping *)self)->table.reach);
}

static int set_reach(PyObject *self, PyObject *value, void *closure) {
  idxn_mapping *m = (idxn_mapping *)self;
  if (value == NULL) {
    PyErr_SetString(PyExc_AttributeError, "reach cannot be deleted");
    return -1;
  }
  unsigned long long reach = PyLong_AsUnsignedLongLong(value);
  if (PyErr_Occurred()) return -1;
  /* A reach past the last slot would take the scan out of the table. */
  m->table.reach = reach < m->table.slotCount - 1 ? reach : m->table.slotCount - 1;
  return 0;
}

static PyObject *get_dead(PyObject *self, void *closure) {
  uint64_t dead = ((idxn_mapping *)self)->table.dead;
  return dead == UINT64_MAX ? PyLong_FromLong(-1) : PyLong_FromUnsignedLongLong(dead);
}

static int set_dead(PyObject *self, PyObject *value, void *closure) {
  idxn_mapping *m = (idxn_mapping *)self;
  if (value == NULL) {
    PyErr_SetString(PyExc_AttributeError, "dead cannot be deleted");
    return -1;
  }
  long long dead = PyLong_AsLongLong(value);
  if (dead == -1 && PyErr_Occurred()) return -1;
  /* -1: no seq is dead (an odd seq never equals UINT64_MAX). */
  m->table.dead = dead < 0 || dead > 0xffffffffll ? UINT64_MAX : (uint64_t)dead;
  return 0;
}

static PyObject *get_spoiled(PyObject *self, void *closure) {
  return PyBool_FromLong(((idxn_mapping *)self)->spoiled);
}

static int set_spoiled(PyObject *self, PyObject *value, void *closure) {
  if (value == NULL) {
    PyErr_SetString(PyExc_AttributeError, "spoiled cannot be deleted");
    return -1;
  }
  int truth = PyObject_IsTrue(value);
  if (truth < 0) return -1;
  ((idxn_mapping *)self)->spoiled = truth;
  return 0;
}

static PyObject *get_lost(PyObject *self, void *closure) {
  return PyBool_FromLong(!idxn_readable((idxn_mapping *)self));
}

static PyGetSetDef mapping_getset[] = {
    {"reach", get_reach, set_reach, "the reach lookups probe with (raised by the Python side)", NULL},
    {"dead", get_dead, set_dead, "a seq whose writer died, read as even (§11.7), or -1", NULL},
    {"spoiled", get_spoiled, set_spoiled, "the watcher flagged the file: lookups take the slow path", NULL},
    {"lost", get_lost, NULL, "the file shrank under the mapping (SIGBUS): it reads zeros now", NULL},
    {NULL},
};

/* A bytes or bytearray's memory and length (what the 3.9 limited API can reach). */
char *idxn_bytes_of(PyObject *o, Py_ssize_t *len, int writable) {
  if (!writable && PyBytes_Check(o)) {
    *len = PyBytes_Size(o);
    return PyBytes_AsString(o);
  }
  if (PyByteArray_Check(o)) {
    *len = PyByteArray_Size(o);
    return PyByteArray_AsString(o);
  }
  PyErr_SetString(PyExc_TypeError, writable ? "expected a bytearray" : "expected bytes or a bytearray");
  return NULL;
}

/*
 * probe_many(keys, keys64, values, found, missing, from, to) -> (stop, hits)
 * getMany's loop (probe.h) over keys[from..to): keys the u32 (or u64 when keys64) of a bytes or
 * bytearray; values a bytearray of u32 (u64 for 64-bit values), found a bytearray of u8. Stops
 * before the first chunk that a write overlapped, after which the file is not the one opened,
 * or in which a probe used up its reach (the caller answers that chunk the slow way); nothing
 * stands (stop = from) once the mapping is lost, spoiled by the watcher, or read zeros.
 */
static PyObject *mapping_probe_many(PyObject *self, PyObject *args) {
  idxn_mapping *m = (idxn_mapping *)self;
  PyObject *keysObj, *valuesObj, *foundObj;
  int keys64;
  unsigned long long missing;
  Py_ssize_t from, to, keysLen, valuesLen, foundLen;
  if (!PyArg_ParseTuple(args, "OpOOKnn:probe_many", &keysObj, &keys64, &valuesObj, &foundObj, &missing, &from, &to))
    return NULL;
  const char *keys = idxn_bytes_of(keysObj, &keysLen, 0);
  if (keys == NULL) return NULL;
  char *values = idxn_bytes_of(valuesObj, &valuesLen, 1);
  if (values == NULL) return NULL;
  char *found = idxn_bytes_of(foundObj, &foundLen, 1);
  if (found == NULL) return NULL;
  Py_ssize_t keyBytes = keys64 ? 8 : 4, valueBytes = m->valueBits == 64 ? 8 : 4;
  if (from < 0 || from > to || to > keysLen / keyBytes || to > valuesLen / valueBytes || to > foundLen ||
      to > 0xffffffffll || valuesObj == foundObj || valuesObj == keysObj || foundObj == keysObj) {
    PyErr_SetString(PyExc_ValueError, "probe_many: from/to outside the arrays, or arrays that share memory");
    return NULL;
  }
  if (!m->wide && (keys64 || missing > 0xffffffffull)) {
    PyErr_SetString(PyExc_ValueError, "probe_many: a version 2 file takes u32 keys and a u32 missing");
    return NULL;
  }
  uint64_t hits = 0;
  uint32_t stop = (uint32_t)from;
  if (!m->spoiled && idxn_readable(m)) {
    if (m->wide)
      stop = idx_probe_chunks_wide(&m->table, m->keyBits, m->valueBits, keys, keys64, values, (uint8_t *)found, missing,
                                   (uint32_t)from, (uint32_t)to, &hits);
    else
      stop = idx_probe_chunks(&m->table, (const uint32_t *)keys, (uint32_t *)values, (uint8_t *)found, (uint32_t)missing,
                              (uint32_t)from, (uint32_t)to, &hits);
  }
  /* Lost or spoiled meanwhile: zero pages or another file's turn; none of it stands. */
  if (m->spoiled || !idxn_readable(m)) {
    stop = (uint32_t)from;
    hits = 0;
  }
  return Py_BuildValue("(nK)", (Py_ssize_t)stop, (unsigned long long)hits);
}

/* word(i): header word i, read from this mapping (zero once it is lost under a truncation). */
static PyObject *mapping_word(PyObject *self, PyObject *arg) {
  idxn_mapping *m = (idxn_mapping *)self;
  Py_ssize_t i = PyLong_AsSsize_t(arg);
  if (i == -1 && PyErr_Occurred()) return NULL;
  if (i < 0 || (size_t)i >= m->headerBytes / 4) {
    PyErr_SetString(PyExc_IndexError, "word: not a header word");
    return NULL;
  }
  return PyLong_FromUnsignedLong(__atomic_load_n(&m->table.header[i], __ATOMIC_ACQUIRE));
}

/*
 * probe(key) -> (answer, value): §5.3 (§16) for key, an int of the file's key width, with no seq
 * check (the caller's, idxmap.protocol.settle): answer 0 found (value), 1 absent, 2 the probe
 * used up the reach. The Python slow path's probe, through this mapping: a truncation under it
 * reads zeros, never kills.
 */
static PyObject *mapping_probe(PyObject *self, PyObject *arg) {
  idxn_mapping *m = (idxn_mapping *)self;
  unsigned long long key = PyLong_AsUnsignedLongLong(arg);
  if (key == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  if (m->keyBits == 32 && key > 0xffffffffull) return Py_BuildValue("(iK)", ANSWER_MISS, 0ull);
  uint64_t value = 0;
  int answer = idxn_probe(m, key, &value);
  return Py_BuildValue("(iK)", answer, (unsigned long long)value);
}

static PyMethodDef mapping_methods[] = {
    {"word", mapping_word, METH_O, "word(i): header word i, read from this mapping"},
    {"probe", mapping_probe, METH_O, "probe(key) -> (0 found | 1 absent | 2 reach used up, value), no seq check"},
    {"probe_many", mapping_probe_many, METH_VARARGS, "getMany's loop over a chunk range: (stop, hits)"},
    {NULL},
};

static PyType_Slot mapping_slots[] = {
    {Py_tp_new, mapping_new},
    {Py_tp_dealloc, mapping_dealloc},
    {Py_tp_getset, mapping_getset},
    {Py_tp_methods, mapping_methods},
    {Py_tp_doc, "An index file mapped by the extension (see idxmap.mapping.MappedFile.native)."},
    {0, NULL},
};

static PyType_Spec mapping_spec = {
    .name = "idxmap._native.Mapping",
    .basicsize = sizeof(idxn_mapping),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = mapping_slots,
};

int idxn_mapping_init_type(PyObject *module) {
  idxn_mapping_type = (PyTypeObject *)PyType_FromSpec(&mapping_spec);
  if (idxn_mapping_type == NULL) return -1;
  Py_INCREF(idxn_mapping_type);
  if (PyModule_AddObject(module, "Mapping", (PyObject *)idxn_mapping_type) < 0) {
    Py_DECREF(idxn_mapping_type);
    return -1;
  }
  return 0;
}
