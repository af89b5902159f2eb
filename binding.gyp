{
  "targets": [
    {
      "target_name": "idx_native",
      "sources": ["native/idx_native.c", "native/unaccounted.cc"],
      "cflags": ["-O2"]
    }
  ]
}
