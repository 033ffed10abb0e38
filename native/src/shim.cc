// oodgen native shim: Node-API <-> libtorch marshalling, nothing else.
//
// Design (see docs/architecture.md):
//  - Tensors, generators and operators cross into JS as type-tagged opaque Externals.
//  - Every ATen operator is reached through one entry point, `call`, which boxes the JS arguments
//    according to the operator's schema and runs it through the c10 dispatcher (autograd included).
//    TypeScript decides which operator to call; this file only converts values.
//  - Every entry point catches c10::Error / std::exception and throws a JS Error with libtorch's message
//    (without the C++ backtrace).
//  - A live-handle counter lets tests assert that nothing leaks.
#define NAPI_DISABLE_CPP_EXCEPTIONS 1
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>
#include <torch/cuda.h>
#include <sstream>
#include "c10d.h"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

// c10::optional became std::optional in libtorch 2.x.
#if TORCH_VERSION_MAJOR >= 2
template <typename T>
using Opt = std::optional<T>;
#define OPT_NONE std::nullopt
#else
template <typename T>
using Opt = c10::optional<T>;
#define OPT_NONE c10::nullopt
#endif

namespace {

std::atomic<int64_t> g_live{0};

const napi_type_tag kOpTag = {0x6f6f6467656e0002ULL, 0x6f70657261746f72ULL};
const napi_type_tag kGenTag = {0x6f6f6467656e0003ULL, 0x67656e6572617472ULL};

// Tensors live in a slot table; a JS handle is a type-tagged External whose data word encodes (slot, generation),
// not a pointer. So a handle used after dispose() is detected (generation mismatch) instead of touching freed
// memory, and handles need no N-API finalizer: Node defers those to the event loop, so a long synchronous training
// loop would pile them up. The TypeScript FinalizationRegistry is the backstop for handles never disposed.
struct Slot {
  at::Tensor t;
  uint32_t gen = 0;
  bool alive = false;
};
std::vector<Slot> g_slots;
std::vector<uint32_t> g_free;

struct OpBox {
  c10::OperatorHandle op;
};
struct GenBox {
  at::Generator g;
};

Napi::Value throwJs(Napi::Env env, const std::string& msg) {
  Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

#define ENTRY(name)                                   \
  Napi::Value name(const Napi::CallbackInfo& info) {  \
    Napi::Env env = info.Env();                       \
    try {
#define END_ENTRY                                                          \
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

// ---- handles ---------------------------------------------------------------------------------

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  uint32_t idx;
  if (!g_free.empty()) {
    idx = g_free.back();
    g_free.pop_back();
  } else {
    idx = static_cast<uint32_t>(g_slots.size());
    g_slots.emplace_back();
  }
  Slot& s = g_slots[idx];
  s.t = std::move(t);
  s.alive = true;
  g_live.fetch_add(1);
  // +1 keeps the encoded word non-zero.
  uintptr_t word = (static_cast<uintptr_t>(s.gen) << 32) | (static_cast<uintptr_t>(idx) + 1);
  // No type tag: tagging costs a property write per handle, and slotOf() validates any External against the
  // slot table (index range, liveness, generation) without dereferencing it.
  return Napi::External<void>::New(env, reinterpret_cast<void*>(word));
}

// The live slot a handle refers to, or nullptr if it was disposed.
Slot* slotOf(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw std::invalid_argument(std::string(what) + ": expected a tensor handle");
  auto word = reinterpret_cast<uintptr_t>(v.As<Napi::External<void>>().Data());
  uint32_t idx = static_cast<uint32_t>(word & 0xffffffffu) - 1;
  uint32_t gen = static_cast<uint32_t>(word >> 32);
  if (idx >= g_slots.size()) throw std::invalid_argument(std::string(what) + ": invalid tensor handle");
  Slot& s = g_slots[idx];
  if (!s.alive || s.gen != gen) return nullptr;
  return &s;
}

at::Tensor& tensorRef(const Napi::Value& v, const char* what) {
  Slot* s = slotOf(v, what);
  if (!s) throw std::invalid_argument(std::string(what) + ": tensor was already disposed");
  return s->t;
}

const at::Tensor& tensorOf(const Napi::Value& v, const char* what) { return tensorRef(v, what); }

at::Generator genOf(const Napi::Value& v, const char* what) {
  if (!v.IsExternal() || !v.As<Napi::External<GenBox>>().CheckTypeTag(&kGenTag))
    throw std::invalid_argument(std::string(what) + ": expected a generator handle");
  return v.As<Napi::External<GenBox>>().Data()->g;
}

Napi::Value wrapGen(Napi::Env env, at::Generator g) {
  auto ext = Napi::External<GenBox>::New(env, new GenBox{std::move(g)}, [](Napi::Env, GenBox* b) { delete b; });
  ext.TypeTag(&kGenTag);
  return ext;
}

// Names an argument in error messages. Built only when an error is thrown: formatting it for every argument of
// every call was a measurable share of the per-op overhead.
struct What {
  const c10::FunctionSchema* schema = nullptr;
  size_t idx = 0;
  const char* plain = "";
  What(const char* p) : plain(p) {}
  What(const std::string& p) : plain(p.c_str()) {}
  What(const c10::FunctionSchema* s, size_t i) : schema(s), idx(i) {}
  std::string str() const {
    return schema ? schema->name() + " argument '" + schema->arguments()[idx].name() + "'" : std::string(plain);
  }
};
std::string operator+(const What& w, const char* s) { return w.str() + s; }
std::string operator+(const What& w, const std::string& s) { return w.str() + s; }

const at::Tensor& tensorArg(const Napi::Value& v, const What& what) {
  if (!v.IsExternal()) throw std::invalid_argument(what + ": expected a tensor handle");
  Slot* s = slotOf(v, "tensor argument");
  if (!s) throw std::invalid_argument(what + ": tensor was already disposed");
  return s->t;
}

int64_t toInt(const Napi::Value& v, const What& what) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw std::invalid_argument(what + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

std::vector<int64_t> toIntVec(const Napi::Value& v, const What& what) {
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    out.push_back(toInt(v, what));
    return out;
  }
  if (!v.IsArray()) throw std::invalid_argument(what + ": expected an integer array");
  auto arr = v.As<Napi::Array>();
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(toInt(arr.Get(i), what));
  return out;
}

// ---- schema-driven boxing ------------------------------------------------------------------------

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const What& what) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return c10::IValue(tensorArg(v, what));
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(v, type->castRaw<c10::OptionalType>()->getElementType(), what);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(toInt(v, what));
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a number");
      return c10::IValue(v.As<Napi::Number>().DoubleValue());
    case c10::TypeKind::BoolType:
      if (v.IsNumber()) return c10::IValue(v.As<Napi::Number>().DoubleValue() != 0);
      if (!v.IsBoolean()) throw std::invalid_argument(what + ": expected a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case c10::TypeKind::NumberType: {  // Scalar
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a number");
      double d = v.As<Napi::Number>().DoubleValue();
      // Integral JS numbers become integer Scalars so integer tensors keep their dtype (x + 1).
      if (std::abs(d) < 9007199254740992.0 && d == static_cast<double>(static_cast<int64_t>(d)))
        return c10::IValue(static_cast<int64_t>(d));
      return c10::IValue(d);
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::GeneratorType:
      return c10::IValue(genOf(v, what.str().c_str()));
    case c10::TypeKind::ListType: {
      auto elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType:
          return c10::IValue(toIntVec(v, what));
        case c10::TypeKind::FloatType: {
          std::vector<double> out;
          if (v.IsNumber()) {
            out.push_back(v.As<Napi::Number>().DoubleValue());
          } else {
            if (!v.IsArray()) throw std::invalid_argument(what + ": expected a number array");
            auto arr = v.As<Napi::Array>();
            for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).As<Napi::Number>().DoubleValue());
          }
          return c10::IValue(out);
        }
        case c10::TypeKind::BoolType: {
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected a boolean array");
          auto arr = v.As<Napi::Array>();
          c10::List<bool> out;
          for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).ToBoolean().Value());
          return c10::IValue(out);
        }
        case c10::TypeKind::TensorType: {
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of tensors");
          auto arr = v.As<Napi::Array>();
          c10::List<at::Tensor> out;
          out.reserve(arr.Length());
          for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(tensorArg(arr.Get(i), what));
          return c10::IValue(out);
        }
        case c10::TypeKind::OptionalType: {
          if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of tensors or nulls");
          auto arr = v.As<Napi::Array>();
          c10::List<Opt<at::Tensor>> out;
          for (uint32_t i = 0; i < arr.Length(); i++) {
            auto e = arr.Get(i);
            if (e.IsNull() || e.IsUndefined()) out.push_back(OPT_NONE);
            else out.push_back(tensorArg(e, what));
          }
          return c10::IValue(out);
        }
        default:
          break;
      }
      break;
    }
    default:
      break;
  }
  throw std::invalid_argument(what + ": argument type " + type->str() + " is not supported by the oodgen shim");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(i, wrapTensor(env, list.get(i)));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) arr.Set(i, fromIValue(env, elems[i]));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(i, fromIValue(env, list[i]));
    return arr;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  throw std::runtime_error("oodgen native: cannot return a value of type " + v.tagKind());
}

// ---- operators --------------------------------------------------------------------------------

// op(name, overload) -> operator handle
ENTRY(Op)
  auto name = info[0].As<Napi::String>().Utf8Value();
  auto overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw std::invalid_argument("unknown operator " + name + (overload.empty() ? "" : "." + overload) + " in this libtorch");
  auto ext = Napi::External<OpBox>::New(env, new OpBox{*handle}, [](Napi::Env, OpBox* b) { delete b; });
  ext.TypeTag(&kOpTag);
  return ext;
END_ENTRY

const c10::OperatorHandle& opOf(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<OpBox>>().CheckTypeTag(&kOpTag))
    throw std::invalid_argument("expected an operator handle");
  return v.As<Napi::External<OpBox>>().Data()->op;
}

// schema(op) -> string
ENTRY(Schema)
  std::ostringstream os;
  os << opOf(info[0]).schema();
  return Napi::String::New(env, os.str());
END_ENTRY

// call(op, args[]) -> result (tensor handle, number, boolean, null, or an array of those)
ENTRY(Call)
  const auto& op = opOf(info[0]);
  auto jsArgs = info[1].As<Napi::Array>();
  const auto& schema = op.schema();
  const auto& args = schema.arguments();
  if (jsArgs.Length() > args.size())
    throw std::invalid_argument(schema.name() + ": takes " + std::to_string(args.size()) + " arguments, got " + std::to_string(jsArgs.Length()));
  std::vector<c10::IValue> stack;
  stack.reserve(args.size());
  for (size_t i = 0; i < args.size(); i++) {
    Napi::Value v = i < jsArgs.Length() ? jsArgs.Get(static_cast<uint32_t>(i)) : env.Undefined();
    if (v.IsUndefined()) {
      if (args[i].default_value()) {
        stack.push_back(*args[i].default_value());
        continue;
      }
      if (args[i].type()->kind() != c10::TypeKind::OptionalType)
        throw std::invalid_argument(schema.name() + ": missing argument '" + args[i].name() + "'");
    }
    stack.push_back(toIValue(v, args[i].type(), What(&schema, i)));
  }
  op.callBoxed(&stack);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  auto arr = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) arr.Set(i, fromIValue(env, stack[i]));
  return arr;
END_ENTRY

// ---- tensor data and metadata ---------------------------------------------------------------------

size_t elemSize(at::ScalarType s) { return c10::elementSize(s); }

// fromBuffer(typedArray, shape[], scalarType) -> tensor (a copy)
ENTRY(FromBuffer)
  if (!info[0].IsTypedArray()) throw std::invalid_argument("fromBuffer: expected a typed array");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = toIntVec(info[1], "fromBuffer shape");
  auto st = static_cast<at::ScalarType>(toInt(info[2], "fromBuffer dtype"));
  int64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("fromBuffer: negative dimension in shape");
    numel *= d;
  }
  size_t bytes = static_cast<size_t>(numel) * elemSize(st);
  if (ta.ByteLength() != bytes)
    throw std::invalid_argument("fromBuffer: " + std::to_string(ta.ByteLength()) + " bytes given, shape needs " + std::to_string(bytes));
  auto t = at::empty(shape, at::TensorOptions().dtype(st));
  auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (bytes) std::memcpy(t.data_ptr(), src, bytes);
  return wrapTensor(env, t);
END_ENTRY

// toBuffer(tensor) -> ArrayBuffer (a contiguous CPU copy)
ENTRY(ToBuffer)
  at::Tensor t;
  {
    c10::AutoGradMode noGrad(false);
    t = tensorOf(info[0], "toBuffer").detach().to(at::kCPU).contiguous();
  }
  size_t bytes = static_cast<size_t>(t.numel()) * elemSize(t.scalar_type());
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  return buf;
END_ENTRY

ENTRY(Shape)
  const auto& t = tensorOf(info[0], "shape");
  auto sizes = t.sizes();
  auto arr = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) arr.Set(i, Napi::Number::New(env, static_cast<double>(sizes[i])));
  return arr;
END_ENTRY

ENTRY(Dtype)
  return Napi::Number::New(env, static_cast<int>(tensorOf(info[0], "dtype").scalar_type()));
END_ENTRY

ENTRY(DeviceOf)
  return Napi::String::New(env, tensorOf(info[0], "device").device().str());
END_ENTRY

ENTRY(Dispose)
  Slot* s = slotOf(info[0], "dispose");
  if (s) {  // disposing twice is a no-op
    s->t = at::Tensor();
    s->alive = false;
    s->gen++;
    g_free.push_back(static_cast<uint32_t>(s - g_slots.data()));
    g_live.fetch_sub(1);
  }
  return env.Undefined();
END_ENTRY

ENTRY(LiveTensors)
  return Napi::Number::New(env, static_cast<double>(g_live.load()));
END_ENTRY

// ---- autograd ------------------------------------------------------------------------------------

ENTRY(RequiresGrad)
  return Napi::Boolean::New(env, tensorOf(info[0], "requiresGrad").requires_grad());
END_ENTRY

ENTRY(SetRequiresGrad)
  auto& t = tensorRef(info[0], "setRequiresGrad");
  t.set_requires_grad(info[1].ToBoolean().Value());
  return env.Undefined();
END_ENTRY

ENTRY(Grad)
  return wrapTensor(env, tensorOf(info[0], "grad").grad());
END_ENTRY

// setGrad(tensor, grad | null)
ENTRY(SetGrad)
  auto& t = tensorRef(info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad() = at::Tensor();
  else t.mutable_grad() = tensorOf(info[1], "setGrad grad");
  return env.Undefined();
END_ENTRY

// grads(tensors[]) -> (grad handle | null)[]: one call for a whole parameter list
ENTRY(Grads)
  auto arr = info[0].As<Napi::Array>();
  auto out = Napi::Array::New(env, arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) out.Set(i, wrapTensor(env, tensorOf(arr.Get(i), "grads").grad()));
  return out;
END_ENTRY

// clearGrads(tensors[]): sets every .grad to undefined (zero_grad(set_to_none=True))
ENTRY(ClearGrads)
  auto arr = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) tensorRef(arr.Get(i), "clearGrads").mutable_grad() = at::Tensor();
  return env.Undefined();
END_ENTRY

// backward(tensors[], grads[] | null, retainGraph, createGraph)
ENTRY(Backward)
  auto arr = info[0].As<Napi::Array>();
  std::vector<at::Tensor> outs;
  for (uint32_t i = 0; i < arr.Length(); i++) outs.push_back(tensorOf(arr.Get(i), "backward"));
  std::vector<at::Tensor> grads;
  if (info[1].IsArray()) {
    auto g = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < g.Length(); i++) grads.push_back(tensorOf(g.Get(i), "backward grad"));
  }
  bool retain = info.Length() > 2 && info[2].ToBoolean().Value();
  bool create = info.Length() > 3 && info[3].ToBoolean().Value();
  torch::autograd::backward(outs, grads, retain, create);
  return env.Undefined();
END_ENTRY

// gradEnabled() -> bool; gradEnabled(bool) sets it and returns the previous value
ENTRY(GradEnabled)
  bool prev = c10::GradMode::is_enabled();
  if (info.Length() > 0 && info[0].IsBoolean()) c10::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(env, prev);
END_ENTRY

// ---- random generators -----------------------------------------------------------------------------

// manualSeed(seed): seeds the default generator of the CPU and of every CUDA device
ENTRY(ManualSeed)
  auto seed = static_cast<uint64_t>(toInt(info[0], "manualSeed"));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  int n = static_cast<int>(torch::cuda::device_count());
  for (int i = 0; i < n; i++) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  return env.Undefined();
END_ENTRY

// defaultGenerator(device) -> generator handle
ENTRY(DefaultGenerator)
  auto dev = c10::Device(info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string("cpu"));
  if (dev.is_cuda() && !dev.has_index()) dev = c10::Device(c10::kCUDA, 0);
  return wrapGen(env, at::globalContext().defaultGenerator(dev));
END_ENTRY

// newGenerator(seed) -> CPU generator handle
ENTRY(NewGenerator)
  auto seed = static_cast<uint64_t>(toInt(info[0], "newGenerator"));
  return wrapGen(env, at::make_generator<at::CPUGeneratorImpl>(seed));
END_ENTRY

ENTRY(GeneratorGetState)
  auto g = genOf(info[0], "generatorGetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  return wrapTensor(env, g.get_state());
END_ENTRY

ENTRY(GeneratorSetState)
  auto g = genOf(info[0], "generatorSetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(tensorOf(info[1], "generatorSetState state"));
  return env.Undefined();
END_ENTRY

ENTRY(GeneratorSeed)
  auto g = genOf(info[0], "generatorSeed");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(static_cast<uint64_t>(toInt(info[1], "generatorSeed")));
  return env.Undefined();
END_ENTRY

// ---- devices and threads ---------------------------------------------------------------------------

ENTRY(CudaDeviceCount)
  return Napi::Number::New(env, static_cast<double>(torch::cuda::device_count()));
END_ENTRY

ENTRY(Synchronize)
  if (torch::cuda::device_count() > 0) torch::cuda::synchronize();
  return env.Undefined();
END_ENTRY

ENTRY(SetNumThreads)
  at::set_num_threads(static_cast<int>(toInt(info[0], "setNumThreads")));
  return env.Undefined();
END_ENTRY

ENTRY(GetNumThreads)
  return Napi::Number::New(env, at::get_num_threads());
END_ENTRY

ENTRY(BuildInfo)
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
#ifdef OODGEN_CUDA
  o.Set("cudaBuild", Napi::Boolean::New(env, true));
#else
  o.Set("cudaBuild", Napi::Boolean::New(env, false));
#endif
  o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
  return o;
END_ENTRY

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("op", Napi::Function::New(env, Op));
  exports.Set("schema", Napi::Function::New(env, Schema));
  exports.Set("call", Napi::Function::New(env, Call));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("dtype", Napi::Function::New(env, Dtype));
  exports.Set("device", Napi::Function::New(env, DeviceOf));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grads", Napi::Function::New(env, Grads));
  exports.Set("clearGrads", Napi::Function::New(env, ClearGrads));
  exports.Set("gradEnabled", Napi::Function::New(env, GradEnabled));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("defaultGenerator", Napi::Function::New(env, DefaultGenerator));
  exports.Set("newGenerator", Napi::Function::New(env, NewGenerator));
  exports.Set("generatorGetState", Napi::Function::New(env, GeneratorGetState));
  exports.Set("generatorSetState", Napi::Function::New(env, GeneratorSetState));
  exports.Set("generatorSeed", Napi::Function::New(env, GeneratorSeed));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  oodgen::RegisterC10d(env, exports, tensorRef);
  return exports;
}

}  // namespace

NODE_API_MODULE(oodgen_native, Init)
