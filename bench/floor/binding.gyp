{
  "targets": [
    {
      "target_name": "inproc",
      "sources": ["inproc.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra"]
    }
  ]
}
