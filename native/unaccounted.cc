/*
 * An ArrayBuffer over a file mapping that V8 does not count as external memory.
 *
 * N-API's napi_create_external_arraybuffer makes V8 count the whole mapping as memory the
 * process allocated, so opening a large index looked to V8 like a large allocation and set off
 * a scavenge and a full mark-compact (measured: 1 to 3 ms of every open of a 91 MB index, and
 * of a reopen). A mapping of a file is not allocated memory: its pages belong to the page cache.
 * V8 does not count a backing store whose deleter is BackingStore::EmptyDeleter, so the buffer
 * is made with that deleter, and the mapping is unmapped by an N-API finalizer on the
 * ArrayBuffer object instead (it runs once no view of the buffer is left).
 *
 * N-API has no call for this, so this one function uses V8's API and turns the Local into a
 * napi_value the way Node's own N-API does (v8impl::JsValueFromV8LocalValue: the napi_value is
 * the Local's slot). That holds for the Node versions listed below; for any other, it falls
 * back to napi_create_external_arraybuffer, which is correct, only slower to open.
 */
// node_version.h first: it defines NAPI_VERSION, which node_api.h otherwise defaults.
#include <node_version.h>
#include <node_api.h>
#include <v8.h>

#include <memory>
#include <utility>

#if NODE_MAJOR_VERSION >= 18 && NODE_MAJOR_VERSION <= 22
#define IDX_UNACCOUNTED 1
#else
#define IDX_UNACCOUNTED 0
#endif

/* 1 when mappings are made uncounted (this Node is one of the versions above). */
extern "C" int idx_mappings_uncounted(void) { return IDX_UNACCOUNTED; }

extern "C" napi_status idx_mapping_arraybuffer(napi_env env, void *data, size_t length, napi_finalize unmap,
                                               void *hint, napi_value *result) {
#if IDX_UNACCOUNTED
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) {
    std::unique_ptr<v8::BackingStore> store =
        v8::ArrayBuffer::NewBackingStore(data, length, v8::BackingStore::EmptyDeleter, nullptr);
    v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
    napi_value value = reinterpret_cast<napi_value>(*buffer);
    // The same buffer, seen through N-API, or the cast above is wrong for this Node.
    void *seen = nullptr;
    size_t seen_length = 0;
    if (napi_get_arraybuffer_info(env, value, &seen, &seen_length) == napi_ok && seen == data &&
        seen_length == length) {
      napi_status status = napi_add_finalizer(env, value, data, unmap, hint, nullptr);
      if (status == napi_ok) *result = value;
      return status;
    }
  }
#endif
  return napi_create_external_arraybuffer(env, data, length, unmap, hint, result);
}
