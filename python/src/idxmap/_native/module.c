/*
 * idxmap._native: the optional C extension of the idxmap package (see idxmap/native.py, which
 * loads it, and the package README). The pure package answers the same without it.
 */
#include "native.h"


static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "idxmap._native",
    .m_doc = "idxmap's C extension: lookups, get_many and builds in C (idxmap works without it).",
    .m_size = -1,
    .m_methods = idxn_build_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
  PyObject *module = PyModule_Create(&module_def);
  if (module == NULL) return NULL;
  if (idxn_mapping_init_type(module) < 0 || idxn_index_init_type(module) < 0 || idxn_slots_init_type(module) < 0 || idxn_install_sigbus() < 0 ||
      PyModule_AddIntConstant(module, "CHUNK", IDX_CHUNK) < 0) {
    Py_DECREF(module);
    return NULL;
  }
  return module;
}
