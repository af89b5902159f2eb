{
  "targets": [
    {
      "target_name": "idx_native",
      "sources": ["native/idx_native.c"],
      "cflags": ["-O2"]
    }
  ]
}
