{
  "targets": [
    {
      "target_name": "idx_native",
      "sources": ["native/addon.c", "native/mapping.c", "native/lookup.c", "native/build.c", "native/write.c", "native/crc32.c", "native/writeback.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=gnu11"] }
    }
  ]
}
