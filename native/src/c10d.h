// c10d entry points (process groups and collectives), registered on the addon's exports by shim.cc's Init.
// Tensors are reached through shim.cc's handle table: it passes its own lookup function, so handles stay
// validated in one place.
#pragma once
#define NAPI_DISABLE_CPP_EXCEPTIONS 1
#include <napi.h>
#include <ATen/ATen.h>

namespace oodgen {
// A validated tensor of the calling environment's handle table: a reference-counted copy that shares the storage,
// so collectives work in place on the tensor JS holds.
using TensorLookup = at::Tensor (*)(const Napi::Value&, const char*);
void RegisterC10d(Napi::Env env, Napi::Object exports, TensorLookup lookup);
}  // namespace oodgen
