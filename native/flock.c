#include <node_api.h>
#include <sys/file.h>
#include <errno.h>

/* flock(fd, exclusive, wait) -> 0 on success, else errno (EWOULDBLOCK when held elsewhere). */
static napi_value Flock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, op = 0;
  bool wait = false;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &op);
  napi_get_value_bool(env, argv[2], &wait);
  int how = op == 0 ? LOCK_UN : (op == 1 ? LOCK_SH : LOCK_EX);
  if (!wait && op != 0) how |= LOCK_NB;
  int rc;
  do { rc = flock(fd, how); } while (rc != 0 && errno == EINTR);
  napi_value result;
  napi_create_int32(env, rc == 0 ? 0 : errno, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "flock", NAPI_AUTO_LENGTH, Flock, NULL, &fn);
  napi_set_named_property(env, exports, "flock", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
