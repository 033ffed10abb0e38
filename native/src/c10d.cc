// oodgen native shim, c10d part: libtorch's own process groups (Gloo on CPU, NCCL in CUDA builds) and a TCPStore
// rendezvous, exposed as opaque handles. Marshalling only, like shim.cc: every argument is validated, every C++
// exception becomes a JS Error with libtorch's message, and which backend / device / timeout to use is decided in
// TypeScript (src/engine/distributed.ts).
//
// Collectives are synchronous for JS: each entry point starts the c10d work and waits for it with the group's
// timeout (or the one given), so a peer that died or hangs surfaces as an Error here instead of a hang.
#include "c10d.h"

#include <cmath>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

// Gloo's headers come from libgloo-dev (Debian) or the torch wheel; without them the addon still builds and
// 'gloo' reports itself unavailable.
#if __has_include(<gloo/algorithm.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define OODGEN_HAVE_GLOO 1
#endif

// OODGEN_NO_NCCL: leave NCCL out of a CUDA build (scripts/gpu/issue15.sh's fallback if this part does not compile).
#if defined(OODGEN_CUDA) && !defined(OODGEN_NO_NCCL) && __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define OODGEN_HAVE_NCCL 1
#endif

namespace oodgen {
namespace {

using ms = std::chrono::milliseconds;

// libtorch 2.x made Gloo/NCCL "Backends" under a ProcessGroup; their collectives are the same calls.
#if TORCH_VERSION_MAJOR >= 2
using GroupImpl = c10d::Backend;
#else
using GroupImpl = c10d::ProcessGroup;
#endif

const napi_type_tag kGroupTag = {0x6f6f6467656e0004ULL, 0x6331306467726f75ULL};

TensorLookup g_lookup = nullptr;

struct GroupBox {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupImpl> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  ms timeout{0};
};

// Thrown when an N-API call (a getter on an options object or array) left a JS exception pending: unwinds to the
// entry point, which returns without throwing a second one (that would abort Node; see shim.cc).
struct JsPending {};

void ok(Napi::Env env) {
  if (env.IsExceptionPending()) throw JsPending{};
}

Napi::Value throwJs(Napi::Env env, const std::string& msg) {
  if (!env.IsExceptionPending()) Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

#define ENTRY(name)                                   \
  Napi::Value name(const Napi::CallbackInfo& info) {  \
    Napi::Env env = info.Env();                       \
    try {
#define END_ENTRY                                                          \
  }                                                                        \
  catch (const JsPending&) {                                               \
    return env.Undefined();                                                \
  }                                                                        \
  catch (const c10::Error& e) {                                            \
    return throwJs(env, e.what_without_backtrace());                       \
  }                                                                        \
  catch (const std::exception& e) {                                        \
    return throwJs(env, e.what());                                         \
  }                                                                        \
  catch (...) {                                                            \
    return throwJs(env, "oodgen native: unknown C++ exception");           \
  }                                                                        \
  }

int64_t intArg(const Napi::Value& v, const std::string& what, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < -9.2e18 || d > 9.2e18) throw std::invalid_argument(what + ": expected a finite integer");
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw std::invalid_argument(what + ": expected an integer, got " + std::to_string(d));
  auto i = static_cast<int64_t>(d);
  if (i < lo || i > hi) throw std::invalid_argument(what + ": " + std::to_string(i) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return i;
}

std::string strArg(const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw std::invalid_argument(what + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Value field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  ok(o.Env());
  return v;
}

GroupBox* groupOf(const Napi::Value& v, const char* what) {
  if (!v.IsExternal() || !v.As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag))
    throw std::invalid_argument(std::string(what) + ": expected a process group handle");
  auto* b = v.As<Napi::External<GroupBox>>().Data();
  if (!b->pg) throw std::invalid_argument(std::string(what) + ": the process group was already destroyed");
  return b;
}

// Optional per-call timeout (ms); undefined/null: the group's.
ms timeoutArg(const Napi::CallbackInfo& info, size_t i, const GroupBox* g) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return g->timeout;
  return ms(intArg(info[i], "timeoutMs", 1, 7 * 24 * 3600 * 1000LL));
}

std::vector<at::Tensor> tensorList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw std::invalid_argument(std::string(what) + ": expected an array of tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    ok(v.Env());
    at::Tensor t = g_lookup(e, what);
    // Collectives read and write the storage directly: a view with gaps would be silently wrong.
    if (!t.is_contiguous()) throw std::invalid_argument(std::string(what) + ": tensor " + std::to_string(i) + " is not contiguous");
    out.push_back(t);
  }
  return out;
}

// Waits for a collective; a failure names the operation and this rank so a log of N ranks reads clearly.
void finish(const c10::intrusive_ptr<c10d::Work>& work, const GroupBox* g, ms timeout, const char* op) {
  try {
    work->wait(timeout);
  } catch (const c10::Error& e) {
    throw std::runtime_error(std::string("c10d ") + op + " failed on rank " + std::to_string(g->rank) + " of " +
                             std::to_string(g->size) + " (" + g->backend + ", timeout " + std::to_string(timeout.count()) +
                             " ms): " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("c10d ") + op + " failed on rank " + std::to_string(g->rank) + " of " +
                             std::to_string(g->size) + " (" + g->backend + ", timeout " + std::to_string(timeout.count()) +
                             " ms): " + e.what());
  }
}

c10d::ReduceOp reduceOpOf(const std::string& s) {
  if (s == "sum") return c10d::ReduceOp(c10d::ReduceOp::SUM);
  if (s == "max") return c10d::ReduceOp(c10d::ReduceOp::MAX);
  if (s == "min") return c10d::ReduceOp(c10d::ReduceOp::MIN);
  if (s == "product") return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
  throw std::invalid_argument("allreduce: unknown reduce op '" + s + "' (sum, max, min, product)");
}

// c10dBackends() -> { gloo, nccl }: which process groups this build can create.
ENTRY(Backends)
  auto o = Napi::Object::New(env);
#ifdef OODGEN_HAVE_GLOO
  o.Set("gloo", Napi::Boolean::New(env, true));
#else
  o.Set("gloo", Napi::Boolean::New(env, false));
#endif
#ifdef OODGEN_HAVE_NCCL
  o.Set("nccl", Napi::Boolean::New(env, true));
#else
  o.Set("nccl", Napi::Boolean::New(env, false));
#endif
  return o;
END_ENTRY

// c10dInit({ backend, masterAddr, masterPort, rank, worldSize, timeoutMs, hostname? }) -> process group handle.
// Rank 0 hosts the TCPStore; every rank waits (up to timeoutMs) until all worldSize ranks have joined.
ENTRY(Init)
  if (info.Length() < 1 || !info[0].IsObject()) throw std::invalid_argument("c10dInit: expected an options object");
  auto o = info[0].As<Napi::Object>();
  auto backend = strArg(field(o, "backend"), "c10dInit backend");
  auto addr = strArg(field(o, "masterAddr"), "c10dInit masterAddr");
  if (addr.empty()) throw std::invalid_argument("c10dInit masterAddr: empty");
  auto port = intArg(field(o, "masterPort"), "c10dInit masterPort", 1, 65535);
  auto size = intArg(field(o, "worldSize"), "c10dInit worldSize", 1, 1 << 16);
  auto rank = intArg(field(o, "rank"), "c10dInit rank", 0, size - 1);
  auto timeout = ms(intArg(field(o, "timeoutMs"), "c10dInit timeoutMs", 1, 7 * 24 * 3600 * 1000LL));
  std::string hostname;
  if (!field(o, "hostname").IsUndefined() && !field(o, "hostname").IsNull()) hostname = strArg(field(o, "hostname"), "c10dInit hostname");

  auto box = std::make_unique<GroupBox>();
  box->backend = backend;
  box->rank = static_cast<int>(rank);
  box->size = static_cast<int>(size);
  box->timeout = timeout;

  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = static_cast<std::size_t>(size);
  so.waitWorkers = true;
  so.timeout = timeout;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(addr, so);
  box->store = c10::make_intrusive<c10d::PrefixStore>("oodgen", tcp);

  if (backend == "gloo") {
#ifdef OODGEN_HAVE_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices.push_back(hostname.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                             : c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    box->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(box->store, static_cast<int>(rank), static_cast<int>(size), opts);
#else
    throw std::invalid_argument("c10dInit: this build of the oodgen addon has no Gloo (install libgloo-dev and run npm run build:native)");
#endif
  } else if (backend == "nccl") {
#ifdef OODGEN_HAVE_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    box->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(box->store, static_cast<int>(rank), static_cast<int>(size), opts);
#else
    throw std::invalid_argument("c10dInit: this build of the oodgen addon has no NCCL (a CUDA libtorch with nccl.h is needed)");
#endif
  } else {
    throw std::invalid_argument("c10dInit backend: unknown '" + backend + "' (gloo, nccl)");
  }
  auto ext = Napi::External<GroupBox>::New(env, box.release(), [](Napi::Env, GroupBox* b) { delete b; });
  ext.TypeTag(&kGroupTag);
  return ext;
END_ENTRY

// c10dDestroy(pg): releases the process group and the store now (idempotent use is an error: destroyed handle).
ENTRY(Destroy)
  auto* g = groupOf(info[0], "c10dDestroy");
  g->pg.reset();
  g->store.reset();
  return env.Undefined();
END_ENTRY

// c10dAllreduce(pg, tensors[], op, timeoutMs?): in place.
ENTRY(Allreduce)
  auto* g = groupOf(info[0], "c10dAllreduce");
  auto ts = tensorList(info[1], "c10dAllreduce tensors");
  if (ts.size() != 1) throw std::invalid_argument("c10dAllreduce tensors: expected exactly one tensor (flatten several into one)");
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduceOpOf(strArg(info[2], "c10dAllreduce op"));
  auto timeout = timeoutArg(info, 3, g);
  opts.timeout = timeout;
  finish(g->pg->allreduce(ts, opts), g, timeout, "allreduce");
  return env.Undefined();
END_ENTRY

// c10dBroadcast(pg, tensor, root, timeoutMs?): in place.
ENTRY(Broadcast)
  auto* g = groupOf(info[0], "c10dBroadcast");
  auto ts = tensorList(info[1], "c10dBroadcast tensors");
  if (ts.size() != 1) throw std::invalid_argument("c10dBroadcast tensors: expected exactly one tensor");
  c10d::BroadcastOptions opts;
  opts.rootRank = intArg(info[2], "c10dBroadcast root", 0, g->size - 1);
  auto timeout = timeoutArg(info, 3, g);
  opts.timeout = timeout;
  finish(g->pg->broadcast(ts, opts), g, timeout, "broadcast");
  return env.Undefined();
END_ENTRY

// c10dAllgather(pg, outputs[worldSize], input, timeoutMs?): outputs[r] receives rank r's input (same shapes).
ENTRY(Allgather)
  auto* g = groupOf(info[0], "c10dAllgather");
  auto outs = tensorList(info[1], "c10dAllgather outputs");
  auto ins = tensorList(info[2], "c10dAllgather input");
  if (ins.size() != 1) throw std::invalid_argument("c10dAllgather input: expected exactly one tensor");
  if (static_cast<int>(outs.size()) != g->size)
    throw std::invalid_argument("c10dAllgather outputs: expected " + std::to_string(g->size) + " tensors (one per rank), got " + std::to_string(outs.size()));
  for (const auto& o : outs) {
    if (o.sizes() != ins[0].sizes() || o.scalar_type() != ins[0].scalar_type())
      throw std::invalid_argument("c10dAllgather outputs: every output must have the input's shape and dtype");
  }
  std::vector<std::vector<at::Tensor>> outputs{outs};
  c10d::AllgatherOptions opts;
  auto timeout = timeoutArg(info, 3, g);
  opts.timeout = timeout;
  finish(g->pg->allgather(outputs, ins, opts), g, timeout, "allgather");
  return env.Undefined();
END_ENTRY

// c10dBarrier(pg, timeoutMs?)
ENTRY(Barrier)
  auto* g = groupOf(info[0], "c10dBarrier");
  c10d::BarrierOptions opts;
  auto timeout = timeoutArg(info, 1, g);
  opts.timeout = timeout;
  finish(g->pg->barrier(opts), g, timeout, "barrier");
  return env.Undefined();
END_ENTRY

}  // namespace

void RegisterC10d(Napi::Env env, Napi::Object exports, TensorLookup lookup) {
  g_lookup = lookup;
  exports.Set("c10dBackends", Napi::Function::New(env, Backends));
  exports.Set("c10dInit", Napi::Function::New(env, Init));
  exports.Set("c10dDestroy", Napi::Function::New(env, Destroy));
  exports.Set("c10dAllreduce", Napi::Function::New(env, Allreduce));
  exports.Set("c10dBroadcast", Napi::Function::New(env, Broadcast));
  exports.Set("c10dAllgather", Napi::Function::New(env, Allgather));
  exports.Set("c10dBarrier", Napi::Function::New(env, Barrier));
}

}  // namespace oodgen
