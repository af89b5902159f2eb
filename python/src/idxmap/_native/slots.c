/*
 * The writer's whole-slot stores for version 3 (spec §16.6), as the Node addon's native/write.c
 * makes them (stores.h, a copy of native/'s): a slot of 12 or 16 bytes stored with one 16-byte
 * store instruction, so that no reader or crash sees half a slot. Pure Python stores a slot's two fields one after the other
 * (idxmap.slots, idxmap.edits). The writer's Python mapping does every other store; this is a
 * second mapping of the same file (shared: the same pages), since the limited API gives C no
 * pointer into a Python mmap.
 */
#define _GNU_SOURCE
#include "native.h"
#include "stores.h"

#include <sys/mman.h>

typedef struct {
  PyObject_HEAD
  uint8_t *base;
  size_t length;
  uint64_t regionOffset, slotCount;
  uint32_t slotBytes, keyBits, valueBits;
  atomic_int *lost;
  uint32_t slot; /* its registry entry */
} idxn_slots;

/* A 12-byte slot's store carries the 4 bytes after it, read just before and stored back as they
   were (the writer alone stores into the file). */
static void store_slot(idxn_slots *t, uint8_t *p, const uint8_t *slot) {
  uint8_t bytes[16];
  memcpy(bytes, slot, t->slotBytes);
  if (t->slotBytes < 16) memcpy(bytes + 12, p + 12, 4);
  store16_once(p, bytes);
}

/* Slot s's address, when its 16 bytes lie in the mapping; else NULL with IndexError. */
static uint8_t *slot_at(idxn_slots *t, unsigned long long s) {
  if (t->base == NULL) {
    PyErr_SetString(PyExc_ValueError, "SlotStore: closed");
    return NULL;
  }
  if (s >= t->slotCount || t->regionOffset + s * t->slotBytes + 16 > t->length) {
    PyErr_SetString(PyExc_IndexError, "SlotStore: slot outside the table");
    return NULL;
  }
  return t->base + t->regionOffset + s * t->slotBytes;
}

/*
 * SlotStore(fd, size, region_offset, slot_count, key_bits, value_bits): the slot region of the
 * open file fd (size bytes), a version 3 file of those widths, mapped for writing.
 */
static PyObject *slots_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
  int fd;
  unsigned long long size, regionOffset, slotCount;
  unsigned int keyBits, valueBits;
  if (kwargs != NULL && PyObject_Length(kwargs) > 0) {
    PyErr_SetString(PyExc_TypeError, "SlotStore takes positional arguments only");
    return NULL;
  }
  if (!PyArg_ParseTuple(args, "iKKKII:SlotStore", &fd, &size, &regionOffset, &slotCount, &keyBits, &valueBits)) return NULL;
  if ((keyBits != 32 && keyBits != 64) || (valueBits != 32 && valueBits != 64) || (keyBits == 32 && valueBits == 32) ||
      slotCount < 2 || slotCount > (unsigned long long)IDX_MAX_SLOTS_V3 || regionOffset != IDX_HEADER_V3 ||
      regionOffset + slotCount * ((keyBits + valueBits) / 8) + 4 > size || size > (unsigned long long)SIZE_MAX) {
    /* + 4: a 12-byte last slot's store carries 4 bytes after it (the checksums follow). */
    PyErr_SetString(PyExc_ValueError, "SlotStore: the table does not fit the file");
    return NULL;
  }
  int64_t entry = idxn_take_entry();
  if (entry < 0) {
    PyErr_SetString(PyExc_MemoryError, "SlotStore: too many open mappings");
    return NULL;
  }
  void *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    idxn_give_back((uint32_t)entry);
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  idxn_slots *t = (idxn_slots *)PyType_GenericAlloc(type, 0);
  if (t == NULL) {
    munmap(base, (size_t)size);
    idxn_give_back((uint32_t)entry);
    return NULL;
  }
  t->base = base;
  t->length = (size_t)size;
  t->regionOffset = regionOffset;
  t->slotCount = slotCount;
  t->keyBits = keyBits;
  t->valueBits = valueBits;
  t->slotBytes = (keyBits + valueBits) / 8;
  t->slot = (uint32_t)entry;
  t->lost = idxn_register((uint32_t)entry, base, (size_t)size, 1);
  return (PyObject *)t;
}

static void slots_unmap(idxn_slots *t) {
  if (t->base == NULL) return;
  idxn_unregister(t->slot);
  munmap(t->base, t->length);
  idxn_give_back(t->slot);
  t->base = NULL;
}

static void slots_dealloc(PyObject *self) {
  PyTypeObject *tp = Py_TYPE(self);
  slots_unmap((idxn_slots *)self);
  freefunc free_ = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  free_(self);
  Py_DECREF(tp);
}

/* store(s, h, v): slot s := (h, v), with one store. */
static PyObject *slots_store(PyObject *self, PyObject *args) {
  idxn_slots *t = (idxn_slots *)self;
  unsigned long long s, h, v;
  if (!PyArg_ParseTuple(args, "KKK:store", &s, &h, &v)) return NULL;
  uint8_t *p = slot_at(t, s);
  if (p == NULL) return NULL;
  if ((t->keyBits == 32 && h > 0xffffffffull) || (t->valueBits == 32 && v > 0xffffffffull)) {
    PyErr_SetString(PyExc_OverflowError, "SlotStore.store: wider than the slot's fields");
    return NULL;
  }
  uint8_t slot[16];
  uint32_t h32 = (uint32_t)h, v32 = (uint32_t)v;
  size_t hb = t->keyBits / 8;
  if (t->keyBits == 64) memcpy(slot, &h, 8); else memcpy(slot, &h32, 4);
  if (t->valueBits == 64) memcpy(slot + hb, &v, 8); else memcpy(slot + hb, &v32, 4);
  store_slot(t, p, slot);
  Py_RETURN_NONE;
}

/* copy(to, frm): slot to := slot frm, with one store. */
static PyObject *slots_copy(PyObject *self, PyObject *args) {
  idxn_slots *t = (idxn_slots *)self;
  unsigned long long to, from;
  if (!PyArg_ParseTuple(args, "KK:copy", &to, &from)) return NULL;
  uint8_t *p = slot_at(t, to), *q = p == NULL ? NULL : slot_at(t, from);
  if (q == NULL) return NULL;
  uint8_t slot[16];
  memcpy(slot, q, t->slotBytes);
  store_slot(t, p, slot);
  Py_RETURN_NONE;
}

static PyObject *slots_close(PyObject *self, PyObject *unused) {
  slots_unmap((idxn_slots *)self);
  Py_RETURN_NONE;
}

static PyObject *slots_lost(PyObject *self, void *closure) {
  idxn_slots *t = (idxn_slots *)self;
  return PyBool_FromLong(t->lost != NULL && atomic_load(t->lost));
}

static PyMethodDef slots_methods[] = {
    {"store", slots_store, METH_VARARGS, "store(s, h, v): slot s := (h, v), one 16-byte store"},
    {"copy", slots_copy, METH_VARARGS, "copy(to, frm): slot to := slot frm, one 16-byte store"},
    {"close", slots_close, METH_NOARGS, "unmaps (later stores raise ValueError)"},
    {NULL},
};

static PyGetSetDef slots_getset[] = {
    {"lost", slots_lost, NULL, "the file shrank under the mapping (SIGBUS): stores go nowhere now", NULL},
    {NULL},
};

static PyType_Slot slots_slots[] = {
    {Py_tp_new, slots_new},
    {Py_tp_dealloc, slots_dealloc},
    {Py_tp_methods, slots_methods},
    {Py_tp_getset, slots_getset},
    {Py_tp_doc, "A version 3 file's slots mapped for writing, stored whole (see idxmap.slots)."},
    {0, NULL},
};

static PyType_Spec slots_spec = {
    .name = "idxmap._native.SlotStore",
    .basicsize = sizeof(idxn_slots),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = slots_slots,
};

int idxn_slots_init_type(PyObject *module) {
  PyObject *type = PyType_FromSpec(&slots_spec);
  if (type == NULL) return -1;
  if (PyModule_AddObject(module, "SlotStore", type) < 0) {
    Py_DECREF(type);
    return -1;
  }
  return 0;
}
