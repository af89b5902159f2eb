/*
 * The reader's base type: idxmap.Index derives from it, so that ix[k], ix.get(k) and k in ix
 * run §5.3 under §11.7 in C with no Python frame. Only the usual case is answered here: an exact
 * int key, a quiet file (seq even, or a dead writer's, and the same after the probe; the header
 * checksum word as at open; not flagged by the watcher; not lost under a truncation), a probe
 * that ends within the reach. Everything else goes to the Python reader (Index._native_slow, or
 * Index._get for a key that is not an exact int), so the protocol's rules live in one place.
 */
#include "native.h"

typedef struct {
  PyObject_HEAD
  PyObject *file;    /* the MappedFile now answered from (Index._m), or NULL when closed */
  idxn_mapping *map; /* its extension mapping, or NULL (then every lookup takes Python's path) */
} idxn_index;


static PyObject *slow_name, *get_name, *native_name;

/* ---- one lookup ---- */

/* A version 3 slot's hash word at the file's key width (§16.1). */
static inline uint64_t slot_hash(const idxn_mapping *m, uint64_t s, unsigned words) {
  const uint32_t *p = m->table.slots + (uint64_t)words * s;
  return m->keyBits == 64 ? idx_load64(p) : p[0];
}

/* §5.3 (§16) for key (of the file's key width) on m, no seq check: ANSWER_HIT with *value,
   ANSWER_MISS, or ANSWER_SLOW when the probe used up its reach. */
int idxn_probe(const idxn_mapping *m, uint64_t key, uint64_t *value) {
  const volatile uint32_t *header = m->table.header;
  const uint64_t lastSlot = m->table.slotCount - 1;
  int answer;
  if (!m->wide) {
    uint32_t h = idx_hash32((uint32_t)key);
    if (h == IDX_EMPTY_HASH) {
      answer = ANSWER_MISS;
      if (header[IDX_CELL_STATE / 4] & IDX_STATE_ESCAPED) {
        *value = header[IDX_CELL_ESCAPED / 4];
        answer = ANSWER_HIT;
      }
    } else {
      uint64_t s = m->table.capacity < ((uint64_t)1 << 32) ? idx_home_narrow(h, m->table.capacity)
                                                           : idx_home(h, m->table.capacity);
      uint64_t last = s + m->table.reach < lastSlot ? s + m->table.reach : lastSlot;
      const uint32_t *p = m->table.slots + 2 * s;
      uint32_t w = p[0];
      while (w < h && s < last) {
        s++;
        p += 2;
        w = p[0];
      }
      if (w == h) {
        *value = p[1];
        answer = ANSWER_HIT;
      } else {
        answer = w < h ? ANSWER_SLOW : ANSWER_MISS;
      }
    }
  } else {
    /* Version 3 (§16): the hash of the key width, a 64-bit hash's home from its high half. */
    const unsigned words = (m->keyBits + m->valueBits) / 32, valueWord = m->keyBits / 32;
    uint64_t h = m->keyBits == 64 ? idx_hash64(key) : idx_hash32((uint32_t)key);
    uint64_t empty = m->keyBits == 64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
    if (h == empty) {
      answer = ANSWER_MISS;
      if (header[IDX_CELL_STATE / 4] & IDX_STATE_ESCAPED) {
        uint64_t v = header[IDX_CELL_ESCAPED / 4];
        if (m->valueBits == 64) v |= (uint64_t)header[IDX_CELL_ESCAPED_HIGH / 4] << 32;
        *value = v;
        answer = ANSWER_HIT;
      }
    } else {
      uint64_t s = idx_home(m->keyBits == 64 ? (uint32_t)(h >> 32) : (uint32_t)h, m->table.capacity);
      uint64_t last = s + m->table.reach < lastSlot ? s + m->table.reach : lastSlot;
      uint64_t w = slot_hash(m, s, words);
      while (w < h && s < last) w = slot_hash(m, ++s, words);
      if (w == h) {
        const uint32_t *p = m->table.slots + (uint64_t)words * s + valueWord;
        *value = m->valueBits == 64 ? idx_load64(p) : p[0];
        answer = ANSWER_HIT;
      } else {
        answer = w < h ? ANSWER_SLOW : ANSWER_MISS;
      }
    }
  }
  return answer;
}

/* §5.3 for key on m between two loads of seq (§11.7): ANSWER_HIT with *value, ANSWER_MISS, or
   ANSWER_SLOW when the file was not quiet or the probe used up its reach. */
static int probe_one(const idxn_mapping *m, uint64_t key, uint64_t *value) {
  const volatile uint32_t *header = m->table.header;
  if (m->spoiled) return ANSWER_SLOW;
  uint32_t s1 = __atomic_load_n(&header[IDX_CELL_SEQ / 4], __ATOMIC_ACQUIRE);
  if ((s1 & 1) && s1 != m->table.dead) return ANSWER_SLOW;
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  int answer = idxn_probe(m, key, value);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  /* A lost mapping reads zeros: its checksum word is not the file's, and the flag says so too. */
  if (header[IDX_CELL_SEQ / 4] != s1 || header[m->table.idWord] != m->table.fileId || m->spoiled || !idxn_readable(m))
    return ANSWER_SLOW;
  return answer;
}

/* The lookup of key: ANSWER_HIT (*value), ANSWER_MISS, ANSWER_SLOW (Python's slow path for a
   key that is a uint of the file's width), ANSWER_KEY (Python's whole lookup: the index is
   closed, has no extension mapping, or the key is not an exact int). */
static int lookup(idxn_index *self, PyObject *key, uint64_t *value) {
  const idxn_mapping *m = self->map;
  if (m == NULL || !PyLong_CheckExact(key)) return ANSWER_KEY;
  int overflow;
  long long k = PyLong_AsLongLongAndOverflow(key, &overflow);
  uint64_t u;
  /* As a dict of int keys: an int that no key of the file's width equals is simply absent. */
  if (overflow == 0) {
    if (k < 0 || (m->keyBits == 32 && (unsigned long long)k > 0xffffffffull)) return ANSWER_MISS;
    u = (uint64_t)k;
  } else if (overflow < 0 || m->keyBits == 32) {
    return ANSWER_MISS;
  } else {
    u = PyLong_AsUnsignedLongLong(key);
    if (u == (uint64_t)-1 && PyErr_Occurred()) {
      PyErr_Clear();
      return ANSWER_MISS;
    }
  }
  return probe_one(m, u, value);
}

/* Python's answer for what C left: Index._native_slow(key) or Index._get(key): the value or None. */
static PyObject *python_lookup(PyObject *self, PyObject *key, int answer) {
  return PyObject_CallMethodObjArgs(self, answer == ANSWER_SLOW ? slow_name : get_name, key, NULL);
}

static PyObject *key_error(PyObject *key) {
  PyObject *args = PyTuple_Pack(1, key);
  if (args != NULL) {
    PyErr_SetObject(PyExc_KeyError, args);
    Py_DECREF(args);
  }
  return NULL;
}

static PyObject *index_subscript(PyObject *self, PyObject *key) {
  uint64_t value;
  int answer = lookup((idxn_index *)self, key, &value);
  if (answer == ANSWER_HIT) return PyLong_FromUnsignedLongLong(value);
  if (answer == ANSWER_MISS) return key_error(key);
  PyObject *v = python_lookup(self, key, answer);
  if (v == Py_None) {
    Py_DECREF(v);
    return key_error(key);
  }
  return v;
}

static PyObject *index_get(PyObject *self, PyObject *args) {
  PyObject *key, *fallback = Py_None;
  if (!PyArg_UnpackTuple(args, "get", 1, 2, &key, &fallback)) return NULL;
  uint64_t value;
  int answer = lookup((idxn_index *)self, key, &value);
  if (answer == ANSWER_HIT) return PyLong_FromUnsignedLongLong(value);
  if (answer != ANSWER_MISS) {
    PyObject *v = python_lookup(self, key, answer);
    if (v != Py_None) return v;
    Py_DECREF(v);
  }
  Py_INCREF(fallback);
  return fallback;
}

static int index_contains(PyObject *self, PyObject *key) {
  uint64_t value;
  int answer = lookup((idxn_index *)self, key, &value);
  if (answer == ANSWER_HIT) return 1;
  if (answer == ANSWER_MISS) return 0;
  PyObject *v = python_lookup(self, key, answer);
  if (v == NULL) return -1;
  int found = v != Py_None;
  Py_DECREF(v);
  return found;
}

/* ---- the file answered from: Index._m ---- */

static PyObject *get_file(PyObject *self, void *closure) {
  PyObject *file = ((idxn_index *)self)->file;
  if (file == NULL) Py_RETURN_NONE;
  Py_INCREF(file);
  return file;
}

/* Index._m = file (a MappedFile, or None once closed): lookups read file.native from now on. */
static int set_file(PyObject *self, PyObject *value, void *closure) {
  idxn_index *ix = (idxn_index *)self;
  PyObject *file = NULL;
  idxn_mapping *map = NULL;
  if (value != NULL && value != Py_None) {
    PyObject *n = PyObject_GetAttr(value, native_name);
    if (n == NULL) {
      if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
      PyErr_Clear();
    } else if (PyObject_TypeCheck(n, idxn_mapping_type)) {
      map = (idxn_mapping *)n;
    } else {
      Py_DECREF(n);
    }
    Py_INCREF(value);
    file = value;
  }
  PyObject *oldFile = ix->file;
  idxn_mapping *oldMap = ix->map;
  ix->file = file;
  ix->map = map;
  Py_XDECREF(oldMap);
  Py_XDECREF(oldFile);
  return 0;
}

static PyGetSetDef index_getset[] = {
    {"_m", get_file, set_file, "the MappedFile answered from, or None once closed", NULL},
    {NULL},
};

static void index_dealloc(PyObject *self) {
  idxn_index *ix = (idxn_index *)self;
  PyTypeObject *tp = Py_TYPE(self);
  Py_CLEAR(ix->map);
  Py_CLEAR(ix->file);
  freefunc free_ = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  free_(self);
  Py_DECREF(tp);
}

static PyMethodDef index_methods[] = {
    {"get", index_get, METH_VARARGS,
     "get(key, default=None): the value of key, or default when it is absent (or not a key of the file's width).\n"
     "Raises ClosedError after close()."},
    {NULL},
};

static PyType_Slot index_slots[] = {
    {Py_tp_dealloc, index_dealloc},
    {Py_tp_getset, index_getset},
    {Py_tp_methods, index_methods},
    {Py_mp_subscript, index_subscript},
    {Py_sq_contains, index_contains},
    {Py_tp_doc, "The C base of idxmap.Index: ix[key], ix.get(key) and key in ix."},
    {0, NULL},
};

static PyType_Spec index_spec = {
    .name = "idxmap._native.IndexBase",
    .basicsize = sizeof(idxn_index),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = index_slots,
};

int idxn_index_init_type(PyObject *module) {
  slow_name = PyUnicode_InternFromString("_native_slow");
  get_name = PyUnicode_InternFromString("_get");
  native_name = PyUnicode_InternFromString("native");
  if (slow_name == NULL || get_name == NULL || native_name == NULL) return -1;
  PyObject *type = PyType_FromSpec(&index_spec);
  if (type == NULL) return -1;
  if (PyModule_AddObject(module, "IndexBase", type) < 0) {
    Py_DECREF(type);
    return -1;
  }
  return 0;
}
