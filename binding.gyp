{
  "targets": [
    {
      "target_name": "idx_flock",
      "sources": ["native/flock.c"]
    }
  ]
}
