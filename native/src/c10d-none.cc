// oodgen native shim, c10d part for a build without process groups: scripts/gpu/build-addon.sh links this file
// instead of c10d.cc when c10d.cc does not compile against the libtorch on a lent GPU machine (its c10d headers change
// between releases), so the rest of the addon (single-process training and scoring) still builds there.
// c10dBackends reports neither backend, which src/engine/distributed.ts already turns into a clear refusal of
// --nproc; the other entry points throw the same message should anything call them.
#include "c10d.h"

namespace oodgen {
namespace {

const char* kMissing =
    "oodgen native: this addon was built without c10d (native/src/c10d.cc did not compile against this libtorch; "
    "see scripts/gpu/build-addon.sh), so process groups (--nproc) are unavailable";

Napi::Value Backends(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gloo", Napi::Boolean::New(info.Env(), false));
  o.Set("nccl", Napi::Boolean::New(info.Env(), false));
  return o;
}

Napi::Value Missing(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), kMissing).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

}  // namespace

void RegisterC10d(Napi::Env env, Napi::Object exports, TensorLookup) {
  exports.Set("c10dBackends", Napi::Function::New(env, Backends));
  for (const char* name : {"c10dInit", "c10dDestroy", "c10dAllreduce", "c10dBroadcast", "c10dAllgather", "c10dBarrier"})
    exports.Set(name, Napi::Function::New(env, Missing));
}

}  // namespace oodgen
