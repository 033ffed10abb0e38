// oodgen native shim: Node-API <-> libtorch marshalling, nothing else.
//
// Design (see docs/architecture.md):
//  - Tensors, generators and operators cross into JS as opaque Externals.
//  - Every ATen operator is reached through one entry point, `call`, which boxes the JS arguments
//    according to the operator's schema and runs it through the c10 dispatcher (autograd included).
//    TypeScript decides which operator to call; this file only converts values.
//  - Every entry point reads its arguments only through the validating helpers below (type, range, handle
//    liveness checked before any value is used), catches c10::Error / std::exception and throws a JS Error with
//    libtorch's message (without the C++ backtrace). The build has no C++ exceptions in node-addon-api
//    (NAPI_DISABLE_CPP_EXCEPTIONS): a failed N-API call leaves a JS exception pending instead, so the helpers
//    check for one and unwind (JsPending), and nothing throws a second exception on top of a pending one
//    (that aborts Node).
//  - Tensor handles created by a call that then fails are released before it returns (no leak on error paths).
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
#include <ATen/autocast_mode.h>
#include <sstream>
#include "c10d.h"

// CUDA graphs exist only in a CUDA build; OODGEN_CUDA_GRAPHS=0 leaves them out of one (scripts/gpu/issue15.sh
// falls back to that if this part does not compile against the machine's libtorch).
#if defined(OODGEN_CUDA) && (!defined(OODGEN_CUDA_GRAPHS) || OODGEN_CUDA_GRAPHS)
#define OODGEN_HAVE_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <cmath>
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

const napi_type_tag kOpTag = {0x6f6f6467656e0002ULL, 0x6f70657261746f72ULL};
const napi_type_tag kGenTag = {0x6f6f6467656e0003ULL, 0x67656e6572617472ULL};
const napi_type_tag kGraphTag = {0x6f6f6467656e0005ULL, 0x6375646167726170ULL};

// Tensors live in a slot table; a JS handle is an External whose data word encodes (slot, generation), not a
// pointer. So a handle used after dispose() is detected (generation mismatch) instead of touching freed memory,
// and handles need no N-API finalizer: Node defers those to the event loop, so a long synchronous training loop
// would pile them up. The TypeScript FinalizationRegistry is the backstop for handles never disposed.
//
// One table per Node environment (N-API instance data), so the main thread and each worker_thread have their own:
// no table is ever touched by two threads, and a worker's tensors are freed when it exits. liveTensors() counts
// the calling thread's handles.
struct Slot {
  at::Tensor t;
  uint32_t gen = 0;
  bool alive = false;
};
struct State {
  std::vector<Slot> slots;
  std::vector<uint32_t> free;
  // Slots filled by the calls now on the stack; a call that fails releases those it added (see ENTRY).
  std::vector<uint32_t> fresh;
  int64_t live = 0;
};

struct OpBox {
  c10::OperatorHandle op;
};
struct GenBox {
  at::Generator g;
};

// A CUDA graph and the side stream it is warmed up and captured on (PyTorch's torch.cuda.graph: capture needs a
// non-default stream). `prev` is the stream that was current before streamOn, restored by streamOff.
struct GraphBox {
#ifdef OODGEN_HAVE_CUDA_GRAPHS
  std::unique_ptr<at::cuda::CUDAGraph> graph = std::make_unique<at::cuda::CUDAGraph>();
  Opt<c10::cuda::CUDAStream> side;
  Opt<c10::cuda::CUDAStream> prev;
  bool capturing = false;
  bool captured = false;
#endif
};

// Thrown when an N-API call failed and left a JS exception pending: unwinds to the entry point, which returns
// without throwing another one.
struct JsPending {};

void ok(Napi::Env env) {
  if (env.IsExceptionPending()) throw JsPending{};
}

void releaseSlot(State& st, uint32_t idx) {
  Slot& s = st.slots[idx];
  if (!s.alive) return;
  s.t = at::Tensor();
  s.alive = false;
  s.gen++;
  st.free.push_back(idx);
  st.live--;
}

void rollback(State& st, size_t mark) {
  for (size_t i = mark; i < st.fresh.size(); i++) releaseSlot(st, st.fresh[i]);
  st.fresh.resize(mark);
}

Napi::Value throwJs(Napi::Env env, const std::string& msg) {
  if (!env.IsExceptionPending()) Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return Napi::Value();
}

// Every entry point: `st` is this environment's slot table; handles wrapped during the call are released again if
// it fails, whether by a C++ exception or by a pending JS exception.
#define ENTRY(name)                                                   \
  Napi::Value name(const Napi::CallbackInfo& info) {                  \
    Napi::Env env = info.Env();                                       \
    State* stp = env.GetInstanceData<State>();                        \
    if (!stp) return throwJs(env, "oodgen native: addon state missing"); \
    State& st = *stp;                                                 \
    (void)st;                                                         \
    const size_t mark = st.fresh.size();                              \
    try {                                                             \
      Napi::Value result = [&]() -> Napi::Value {
#define END_ENTRY                                                      \
      }();                                                             \
      if (env.IsExceptionPending()) {                                  \
        rollback(st, mark);                                            \
        return Napi::Value();                                          \
      }                                                                \
      st.fresh.resize(mark);                                           \
      return result;                                                   \
    } catch (const JsPending&) {                                       \
      rollback(st, mark);                                              \
      return Napi::Value();                                            \
    } catch (const c10::Error& e) {                                    \
      rollback(st, mark);                                              \
      return throwJs(env, e.what_without_backtrace());                 \
    } catch (const std::exception& e) {                                \
      rollback(st, mark);                                              \
      return throwJs(env, e.what());                                   \
    } catch (...) {                                                    \
      rollback(st, mark);                                              \
      return throwJs(env, "oodgen native: unknown C++ exception");     \
    }                                                                  \
  }

// ---- argument names for error messages --------------------------------------------------------------

// Names an argument in error messages. The schema form is formatted only when an error is thrown: formatting it
// for every argument of every call was a measurable share of the per-op overhead.
struct What {
  const c10::FunctionSchema* schema = nullptr;
  size_t idx = 0;
  const char* plain = "";
  std::string owned;  // a name built at run time is copied, never borrowed (a temporary's c_str() dangles)
  What(const char* p) : plain(p) {}
  What(std::string p) : owned(std::move(p)) {}
  What(const c10::FunctionSchema* s, size_t i) : schema(s), idx(i) {}
  std::string str() const {
    if (schema) return schema->name() + " argument '" + schema->arguments()[idx].name() + "'";
    return owned.empty() ? std::string(plain) : owned;
  }
};
std::string operator+(const What& w, const char* s) { return w.str() + s; }

[[noreturn]] void bad(const What& what, const std::string& msg) { throw std::invalid_argument(what + ": " + msg); }

std::string jsTypeName(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return v.IsArray() ? "an array" : "an object";
    case napi_function: return "a function";
    case napi_external: return "a handle";
    case napi_bigint: return "a bigint";
  }
  return "an unknown value";
}

// ---- validating argument readers: every entry point reads its arguments only through these ---------------

Napi::Array arrayArg(const Napi::Value& v, const What& what) {
  if (!v.IsArray()) bad(what, "expected an array, got " + jsTypeName(v));
  return v.As<Napi::Array>();
}

// An element read can run a getter; a getter that throws leaves the exception pending.
Napi::Value elemOf(Napi::Env env, const Napi::Array& arr, uint32_t i) {
  Napi::Value e = arr.Get(i);
  ok(env);
  return e;
}

std::string stringArg(const Napi::Value& v, const What& what) {
  if (!v.IsString()) bad(what, "expected a string, got " + jsTypeName(v));
  return v.As<Napi::String>().Utf8Value();
}

bool boolArg(const Napi::Value& v, const What& what) {
  if (!v.IsBoolean()) bad(what, "expected a boolean, got " + jsTypeName(v));
  return v.As<Napi::Boolean>().Value();
}

double numberArg(const Napi::Value& v, const What& what) {
  if (!v.IsNumber()) bad(what, "expected a number, got " + jsTypeName(v));
  return v.As<Napi::Number>().DoubleValue();
}

// An integer within int64 (booleans count as 0/1, as in PyTorch). NaN, infinities, fractions and values outside
// int64 are refused before any cast (casting those is undefined behaviour).
int64_t intArg(const Napi::Value& v, const What& what) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) bad(what, "expected an integer, got " + jsTypeName(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d)) bad(what, "expected an integer, got " + std::to_string(d));
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) bad(what, "integer " + std::to_string(d) + " is outside int64");
  return static_cast<int64_t>(d);
}

int64_t intInRange(const Napi::Value& v, const What& what, int64_t lo, int64_t hi) {
  int64_t x = intArg(v, what);
  if (x < lo || x > hi) bad(what, std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

// Lists are reserved only up to a small bound: the length of a sparse JS array says nothing about its content.
size_t reserveFor(uint32_t n) { return std::min<size_t>(n, 64); }

std::vector<int64_t> intListArg(Napi::Env env, const Napi::Value& v, const What& what) {
  std::vector<int64_t> out;
  if (v.IsNumber() || v.IsBoolean()) {
    out.push_back(intArg(v, what));
    return out;
  }
  auto arr = arrayArg(v, what);
  uint32_t n = arr.Length();
  out.reserve(reserveFor(n));
  for (uint32_t i = 0; i < n; i++) out.push_back(intArg(elemOf(env, arr, i), what));
  return out;
}

// Enum codes (c10::ScalarType, Layout, MemoryFormat) are range-checked: libtorch indexes tables with them.
// ScalarType::Undefined (just below NumOptions) is refused too: some factories accept it and make a tensor that
// later operations assert on.
int64_t scalarTypeArg(const Napi::Value& v, const What& what) {
  return intInRange(v, what, 0, static_cast<int64_t>(at::ScalarType::Undefined) - 1);
}

// The dtypes oodgen moves in and out of typed arrays (src/engine/dtype.ts).
bool plainDtype(at::ScalarType s) {
  switch (s) {
    case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong:
    case at::kHalf: case at::kFloat: case at::kDouble: case at::kBool: case at::kBFloat16:
      return true;
    default:
      return false;
  }
}

// The live slot a tensor handle refers to, or nullptr if it was disposed. Tensor handle words have their low bit
// set; generator and operator handles are (aligned) pointers, so one is never taken for the other.
Slot* slotOf(State& st, const Napi::Value& v, const What& what) {
  if (!v.IsExternal()) bad(what, "expected a tensor handle, got " + jsTypeName(v));
  auto word = reinterpret_cast<uintptr_t>(v.As<Napi::External<void>>().Data());
  if ((word & 1u) == 0) bad(what, "expected a tensor handle, got another kind of handle");
  uint32_t idx = static_cast<uint32_t>((word & 0xffffffffu) >> 1);
  uint32_t gen = static_cast<uint32_t>(word >> 32);
  if (idx >= st.slots.size()) bad(what, "invalid tensor handle");
  Slot& s = st.slots[idx];
  if (!s.alive || s.gen != gen) return nullptr;
  return &s;
}

// A reference-counted copy, so nothing here holds a pointer into the slot table while JS (a getter) might run.
at::Tensor tensorArg(State& st, const Napi::Value& v, const What& what) {
  Slot* s = slotOf(st, v, what);
  if (!s) bad(what, "tensor was already disposed");
  return s->t;
}

// c10d.cc's view of the handle table (see c10d.h): the same validation, through the value's environment.
at::Tensor tensorForC10d(const Napi::Value& v, const char* what) {
  State* st = v.Env().GetInstanceData<State>();
  if (!st) throw std::invalid_argument(std::string(what) + ": oodgen native: addon state missing");
  return tensorArg(*st, v, what);
}

std::vector<at::Tensor> tensorListArg(State& st, Napi::Env env, const Napi::Value& v, const What& what) {
  auto arr = arrayArg(v, what);
  uint32_t n = arr.Length();
  std::vector<at::Tensor> out;
  out.reserve(reserveFor(n));
  for (uint32_t i = 0; i < n; i++) out.push_back(tensorArg(st, elemOf(env, arr, i), what));
  return out;
}

at::Generator genArg(const Napi::Value& v, const What& what) {
  if (!v.IsExternal() || !v.As<Napi::External<GenBox>>().CheckTypeTag(&kGenTag))
    bad(what, "expected a generator handle, got " + jsTypeName(v));
  return v.As<Napi::External<GenBox>>().Data()->g;
}

const c10::OperatorHandle& opArg(const Napi::Value& v, const What& what) {
  if (!v.IsExternal() || !v.As<Napi::External<OpBox>>().CheckTypeTag(&kOpTag))
    bad(what, "expected an operator handle, got " + jsTypeName(v));
  return v.As<Napi::External<OpBox>>().Data()->op;
}

// Seeds: any safe JS integer; negative ones wrap to uint64 as torch.manual_seed does.
uint64_t seedArg(const Napi::Value& v, const What& what) {
  return static_cast<uint64_t>(intInRange(v, what, -9007199254740991LL, 9007199254740991LL));
}

// ---- handles ---------------------------------------------------------------------------------

Napi::Value wrapTensor(State& st, Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  uint32_t idx;
  if (!st.free.empty()) {
    idx = st.free.back();
    st.free.pop_back();
  } else {
    if (st.slots.size() >= 0x7fffffffu) throw std::runtime_error("oodgen native: too many live tensors");
    idx = static_cast<uint32_t>(st.slots.size());
    st.slots.emplace_back();
  }
  Slot& s = st.slots[idx];
  s.t = std::move(t);
  s.alive = true;
  st.live++;
  st.fresh.push_back(idx);
  uintptr_t word = (static_cast<uintptr_t>(s.gen) << 32) | (static_cast<uintptr_t>(idx) << 1) | 1u;
  // No type tag: tagging costs a property write per handle, and slotOf() validates any External against the
  // slot table (tag bit, index range, liveness, generation) without dereferencing it.
  auto ext = Napi::External<void>::New(env, reinterpret_cast<void*>(word));
  ok(env);
  return ext;
}

Napi::Value wrapGen(Napi::Env env, at::Generator g) {
  auto ext = Napi::External<GenBox>::New(env, new GenBox{std::move(g)}, [](Napi::Env, GenBox* b) { delete b; });
  ok(env);
  ext.TypeTag(&kGenTag);
  ok(env);
  return ext;
}

Napi::Array newArray(Napi::Env env, size_t n) {
  auto arr = Napi::Array::New(env, n);
  ok(env);
  return arr;
}

void setElem(Napi::Env env, Napi::Array& arr, size_t i, const Napi::Value& v) {
  arr.Set(static_cast<uint32_t>(i), v);
  ok(env);
}

// ---- schema-driven boxing ------------------------------------------------------------------------

c10::IValue toIValue(State& st, Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const What& what) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return c10::IValue(tensorArg(st, v, what));
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(st, env, v, type->castRaw<c10::OptionalType>()->getElementType(), what);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return c10::IValue(intArg(v, what));
    case c10::TypeKind::ScalarTypeType:
      return c10::IValue(scalarTypeArg(v, what));
    case c10::TypeKind::LayoutType:
      return c10::IValue(intInRange(v, what, 0, static_cast<int64_t>(at::Layout::NumOptions) - 1));
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(intInRange(v, what, 0, static_cast<int64_t>(at::MemoryFormat::NumOptions) - 1));
    case c10::TypeKind::FloatType:
      return c10::IValue(numberArg(v, what));
    case c10::TypeKind::BoolType:
      if (v.IsNumber()) return c10::IValue(v.As<Napi::Number>().DoubleValue() != 0);
      return c10::IValue(boolArg(v, what));
    case c10::TypeKind::NumberType: {  // Scalar
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      double d = numberArg(v, what);
      // Integral JS numbers become integer Scalars so integer tensors keep their dtype (x + 1).
      if (std::abs(d) < 9007199254740992.0 && d == std::trunc(d)) return c10::IValue(static_cast<int64_t>(d));
      return c10::IValue(d);
    }
    case c10::TypeKind::StringType:
      return c10::IValue(stringArg(v, what));
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) bad(what, "expected a device string such as 'cpu' or 'cuda:0', got " + jsTypeName(v));
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::GeneratorType:
      return c10::IValue(genArg(v, what));
    case c10::TypeKind::ListType: {
      auto elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType:
          return c10::IValue(intListArg(env, v, what));
        case c10::TypeKind::FloatType: {
          std::vector<double> out;
          if (v.IsNumber()) {
            out.push_back(v.As<Napi::Number>().DoubleValue());
          } else {
            auto arr = arrayArg(v, what);
            uint32_t n = arr.Length();
            out.reserve(reserveFor(n));
            for (uint32_t i = 0; i < n; i++) out.push_back(numberArg(elemOf(env, arr, i), what));
          }
          return c10::IValue(out);
        }
        case c10::TypeKind::BoolType: {
          auto arr = arrayArg(v, what);
          c10::List<bool> out;
          for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(boolArg(elemOf(env, arr, i), what));
          return c10::IValue(out);
        }
        case c10::TypeKind::TensorType: {
          auto ts = tensorListArg(st, env, v, what);
          c10::List<at::Tensor> out;
          out.reserve(ts.size());
          for (auto& t : ts) out.push_back(std::move(t));
          return c10::IValue(out);
        }
        case c10::TypeKind::OptionalType: {
          auto arr = arrayArg(v, what);
          c10::List<Opt<at::Tensor>> out;
          for (uint32_t i = 0; i < arr.Length(); i++) {
            auto e = elemOf(env, arr, i);
            if (e.IsNull() || e.IsUndefined()) out.push_back(OPT_NONE);
            else out.push_back(tensorArg(st, e, what));
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

Napi::Value fromIValue(State& st, Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(st, env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = newArray(env, list.size());
    for (size_t i = 0; i < list.size(); i++) setElem(env, arr, i, wrapTensor(st, env, list.get(i)));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto arr = newArray(env, list.size());
    for (size_t i = 0; i < list.size(); i++) setElem(env, arr, i, Napi::Number::New(env, static_cast<double>(list[i])));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = newArray(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) setElem(env, arr, i, fromIValue(st, env, elems[i]));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto arr = newArray(env, list.size());
    for (size_t i = 0; i < list.size(); i++) setElem(env, arr, i, fromIValue(st, env, list[i]));
    return arr;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  throw std::runtime_error("oodgen native: cannot return a value of type " + v.tagKind());
}

// ---- operators --------------------------------------------------------------------------------

// op(name, overload?) -> operator handle
ENTRY(Op)
  auto name = stringArg(info[0], "op name");
  std::string overload = info[1].IsUndefined() ? std::string() : stringArg(info[1], "op overload");
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw std::invalid_argument("unknown operator " + name + (overload.empty() ? "" : "." + overload) + " in this libtorch");
  auto ext = Napi::External<OpBox>::New(env, new OpBox{*handle}, [](Napi::Env, OpBox* b) { delete b; });
  ok(env);
  ext.TypeTag(&kOpTag);
  ok(env);
  return ext;
END_ENTRY

// schema(op) -> string
ENTRY(Schema)
  std::ostringstream os;
  os << opArg(info[0], "schema").schema();
  return Napi::String::New(env, os.str());
END_ENTRY

// call(op, args[]) -> result (tensor handle, number, boolean, null, or an array of those)
ENTRY(Call)
  const auto& op = opArg(info[0], "call");
  const auto& schema = op.schema();
  auto jsArgs = arrayArg(info[1], schema.name() + " arguments");
  const auto& args = schema.arguments();
  uint32_t given = jsArgs.Length();
  if (given > args.size())
    throw std::invalid_argument(schema.name() + ": takes " + std::to_string(args.size()) + " arguments, got " + std::to_string(given));
  std::vector<c10::IValue> stack;
  stack.reserve(args.size());
  for (size_t i = 0; i < args.size(); i++) {
    Napi::Value v = i < given ? elemOf(env, jsArgs, static_cast<uint32_t>(i)) : env.Undefined();
    if (v.IsUndefined()) {
      if (args[i].default_value()) {
        stack.push_back(*args[i].default_value());
        continue;
      }
      if (args[i].real_type()->kind() != c10::TypeKind::OptionalType)
        throw std::invalid_argument(schema.name() + ": missing argument '" + args[i].name() + "'");
    }
    // real_type(): the schema's own type (ScalarType, Layout, MemoryFormat), which type() reports as int.
    stack.push_back(toIValue(st, env, v, args[i].real_type(), What(&schema, i)));
  }
  op.callBoxed(&stack);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(st, env, stack[0]);
  auto arr = newArray(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) setElem(env, arr, i, fromIValue(st, env, stack[i]));
  return arr;
END_ENTRY

// ---- tensor data and metadata ---------------------------------------------------------------------

size_t typedElementSize(napi_typedarray_type k) {
  switch (k) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    default: return 8;  // float64, bigint64, biguint64
  }
}

// fromBuffer(typedArray, shape[], scalarType) -> tensor (a copy)
ENTRY(FromBuffer)
  if (!info[0].IsTypedArray()) bad("fromBuffer data", "expected a typed array, got " + jsTypeName(info[0]));
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = intListArg(env, info[1], "fromBuffer shape");
  auto st_ = static_cast<at::ScalarType>(scalarTypeArg(info[2], "fromBuffer dtype"));
  if (!plainDtype(st_)) bad("fromBuffer dtype", std::string("scalar type ") + c10::toString(st_) + " cannot be read from a typed array");
  // The byte count is computed with overflow checks: a wrapped product could match a small buffer.
  uint64_t bytes = c10::elementSize(st_);
  for (auto d : shape) {
    if (d < 0) bad("fromBuffer shape", "negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) bad("fromBuffer shape", "size overflows");
  }
  // The element pointer straight from the typed array: also right for a SharedArrayBuffer or a resizable buffer,
  // where going through ArrayBuffer() fails and yields no data pointer.
  napi_typedarray_type kind;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env, ta, &kind, &length, &data, &buffer, &offset) != napi_ok) {
    ok(env);
    bad("fromBuffer data", "cannot read the typed array");
  }
  uint64_t have = static_cast<uint64_t>(length) * typedElementSize(kind);
  if (have != bytes)
    throw std::invalid_argument("fromBuffer: " + std::to_string(have) + " bytes given, shape needs " + std::to_string(bytes));
  auto t = at::empty(shape, at::TensorOptions().dtype(st_));
  if (bytes) {
    if (!data) bad("fromBuffer data", "the typed array has no data (detached buffer?)");
    std::memcpy(t.data_ptr(), data, bytes);
  }
  return wrapTensor(st, env, t);
END_ENTRY

// toBuffer(tensor) -> ArrayBuffer (a contiguous CPU copy)
ENTRY(ToBuffer)
  at::Tensor t;
  {
    c10::AutoGradMode noGrad(false);
    t = tensorArg(st, info[0], "toBuffer").detach().to(at::kCPU).contiguous();
  }
  size_t bytes = static_cast<size_t>(t.numel()) * c10::elementSize(t.scalar_type());
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  ok(env);  // a refused allocation leaves a RangeError pending and no buffer to write to
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  return buf;
END_ENTRY

ENTRY(Shape)
  auto t = tensorArg(st, info[0], "shape");
  auto sizes = t.sizes();
  auto arr = newArray(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) setElem(env, arr, i, Napi::Number::New(env, static_cast<double>(sizes[i])));
  return arr;
END_ENTRY

ENTRY(Dtype)
  return Napi::Number::New(env, static_cast<int>(tensorArg(st, info[0], "dtype").scalar_type()));
END_ENTRY

ENTRY(DeviceOf)
  return Napi::String::New(env, tensorArg(st, info[0], "device").device().str());
END_ENTRY

ENTRY(Dispose)
  Slot* s = slotOf(st, info[0], "dispose");
  if (s) releaseSlot(st, static_cast<uint32_t>(s - st.slots.data()));  // disposing twice is a no-op
  return env.Undefined();
END_ENTRY

ENTRY(LiveTensors)
  return Napi::Number::New(env, static_cast<double>(st.live));
END_ENTRY

// ---- autograd ------------------------------------------------------------------------------------

ENTRY(RequiresGrad)
  return Napi::Boolean::New(env, tensorArg(st, info[0], "requiresGrad").requires_grad());
END_ENTRY

ENTRY(SetRequiresGrad)
  auto t = tensorArg(st, info[0], "setRequiresGrad");
  bool value = boolArg(info[1], "setRequiresGrad value");
  t.set_requires_grad(value);
  return env.Undefined();
END_ENTRY

ENTRY(Grad)
  return wrapTensor(st, env, tensorArg(st, info[0], "grad").grad());
END_ENTRY

std::string describe(const at::Tensor& t) {
  std::ostringstream os;
  os << "[" << t.sizes() << "] " << t.scalar_type() << " on " << t.device();
  return os.str();
}

// setGrad(tensor, grad | null): the checks of PyTorch's `tensor.grad = g` setter (python_variable.cpp).
ENTRY(SetGrad)
  auto t = tensorArg(st, info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
    return env.Undefined();
  }
  auto g = tensorArg(st, info[1], "setGrad grad");
  if (g.is_same(t)) bad("setGrad", "can't assign a tensor as its own grad");
  if (g.scalar_type() != t.scalar_type())
    bad("setGrad", "assigned grad has data of a different type: grad " + describe(g) + ", tensor " + describe(t));
  if (g.device() != t.device())
    bad("setGrad", "assigned grad has data located on a different device: grad " + describe(g) + ", tensor " + describe(t));
  if (g.layout() != t.layout() && !g.is_sparse())
    bad("setGrad", "assigned grad has a different layout: grad " + describe(g) + ", tensor " + describe(t));
  if (!g.sizes().equals(t.sizes()))
    bad("setGrad", "assigned grad has data of a different size: grad " + describe(g) + ", tensor " + describe(t));
  t.mutable_grad() = g;
  return env.Undefined();
END_ENTRY

// grads(tensors[]) -> (grad handle | null)[]: one call for a whole parameter list. Every handle is checked before
// any gradient is wrapped.
ENTRY(Grads)
  auto ts = tensorListArg(st, env, info[0], "grads");
  auto out = newArray(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) setElem(env, out, i, wrapTensor(st, env, ts[i].grad()));
  return out;
END_ENTRY

// clearGrads(tensors[]): sets every .grad to undefined (zero_grad(set_to_none=True)); all or nothing.
ENTRY(ClearGrads)
  auto ts = tensorListArg(st, env, info[0], "clearGrads");
  for (auto& t : ts) t.mutable_grad() = at::Tensor();
  return env.Undefined();
END_ENTRY

// backward(tensors[], grads[] | null, retainGraph?, createGraph?)
ENTRY(Backward)
  auto outs = tensorListArg(st, env, info[0], "backward");
  std::vector<at::Tensor> grads;
  if (!info[1].IsNull() && !info[1].IsUndefined()) {
    grads = tensorListArg(st, env, info[1], "backward grads");
    if (grads.size() != outs.size())
      bad("backward", std::to_string(outs.size()) + " outputs but " + std::to_string(grads.size()) + " gradients");
  }
  bool retain = info[2].IsUndefined() ? false : boolArg(info[2], "backward retainGraph");
  bool create = info[3].IsUndefined() ? false : boolArg(info[3], "backward createGraph");
  torch::autograd::backward(outs, grads, retain, create);
  return env.Undefined();
END_ENTRY

// gradEnabled() -> bool; gradEnabled(bool) sets it and returns the previous value
ENTRY(GradEnabled)
  bool prev = c10::GradMode::is_enabled();
  if (!info[0].IsUndefined()) c10::GradMode::set_enabled(boolArg(info[0], "gradEnabled"));
  return Napi::Boolean::New(env, prev);
END_ENTRY

// ---- random generators -----------------------------------------------------------------------------

// manualSeed(seed): seeds the default generator of the CPU and of every CUDA device
ENTRY(ManualSeed)
  auto seed = seedArg(info[0], "manualSeed");
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

// defaultGenerator(device?) -> generator handle
ENTRY(DefaultGenerator)
  auto dev = c10::Device(info[0].IsUndefined() ? std::string("cpu") : stringArg(info[0], "defaultGenerator device"));
  if (!dev.is_cpu() && !dev.is_cuda()) bad("defaultGenerator", "device " + dev.str() + " has no default generator (expected cpu or cuda:N)");
  if (dev.is_cuda()) {
    int64_t n = static_cast<int64_t>(torch::cuda::device_count());
    int64_t index = dev.has_index() ? dev.index() : 0;
    if (index >= n) bad("defaultGenerator", "device " + dev.str() + " does not exist here (" + std::to_string(n) + " CUDA devices)");
    dev = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return wrapGen(env, at::globalContext().defaultGenerator(dev));
END_ENTRY

// newGenerator(seed) -> CPU generator handle
ENTRY(NewGenerator)
  return wrapGen(env, at::make_generator<at::CPUGeneratorImpl>(seedArg(info[0], "newGenerator")));
END_ENTRY

ENTRY(GeneratorGetState)
  auto g = genArg(info[0], "generatorGetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  return wrapTensor(st, env, g.get_state());
END_ENTRY

ENTRY(GeneratorSetState)
  auto g = genArg(info[0], "generatorSetState");
  auto state = tensorArg(st, info[1], "generatorSetState state");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
  return env.Undefined();
END_ENTRY

ENTRY(GeneratorSeed)
  auto g = genArg(info[0], "generatorSeed");
  auto seed = seedArg(info[1], "generatorSeed");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
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

// An absurd thread count is refused here: OpenMP would try to start that many threads at the next parallel op.
ENTRY(SetNumThreads)
  at::set_num_threads(static_cast<int>(intInRange(info[0], "setNumThreads", 1, 1024)));
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
#ifdef OODGEN_HAVE_CUDA_GRAPHS
  o.Set("cudaGraphs", Napi::Boolean::New(env, true));
#else
  o.Set("cudaGraphs", Napi::Boolean::New(env, false));
#endif
  o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
  return o;
END_ENTRY

// ---- autocast -------------------------------------------------------------------------------------------

// autocastEnter(device 'cpu' | 'cuda', dtype) -> [previously enabled, previous dtype]: what torch.autocast's
// __enter__ does (set dtype, enable, count the nesting). autocastExit(device, enabled, dtype) is its __exit__:
// restores the state autocastEnter returned, and clears the cast-weight cache when the outermost region ends.
// Which dtypes make sense is libtorch's rule: CPU autocast runs in bfloat16, CUDA in float16 or bfloat16.
enum class AcDev { Cpu, Cuda };

AcDev autocastDeviceArg(const Napi::Value& v, const What& what) {
  auto d = stringArg(v, what);
  if (d == "cpu") return AcDev::Cpu;
  if (d == "cuda") return AcDev::Cuda;
  bad(what, "expected 'cpu' or 'cuda', got '" + d + "'");
}

at::ScalarType autocastDtypeArg(const Napi::Value& v, const What& what, AcDev dev) {
  auto t = static_cast<at::ScalarType>(scalarTypeArg(v, what));
  if (dev == AcDev::Cpu && t != at::kBFloat16) bad(what, std::string("CPU autocast supports bfloat16 only, got ") + c10::toString(t));
  if (dev == AcDev::Cuda && t != at::kBFloat16 && t != at::kHalf) bad(what, std::string("CUDA autocast supports float16 and bfloat16, got ") + c10::toString(t));
  return t;
}

// libtorch 2.4 replaced the per-device functions with ones taking a DeviceType (the old ones are deprecated).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool acEnabled(AcDev d) { return at::autocast::is_autocast_enabled(d == AcDev::Cpu ? at::kCPU : at::kCUDA); }
void acSetEnabled(AcDev d, bool on) { at::autocast::set_autocast_enabled(d == AcDev::Cpu ? at::kCPU : at::kCUDA, on); }
at::ScalarType acDtype(AcDev d) { return at::autocast::get_autocast_dtype(d == AcDev::Cpu ? at::kCPU : at::kCUDA); }
void acSetDtype(AcDev d, at::ScalarType t) { at::autocast::set_autocast_dtype(d == AcDev::Cpu ? at::kCPU : at::kCUDA, t); }
#else
bool acEnabled(AcDev d) { return d == AcDev::Cpu ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled(); }
void acSetEnabled(AcDev d, bool on) { d == AcDev::Cpu ? at::autocast::set_cpu_enabled(on) : at::autocast::set_enabled(on); }
at::ScalarType acDtype(AcDev d) { return d == AcDev::Cpu ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype(); }
void acSetDtype(AcDev d, at::ScalarType t) { d == AcDev::Cpu ? at::autocast::set_autocast_cpu_dtype(t) : at::autocast::set_autocast_gpu_dtype(t); }
#endif

ENTRY(AutocastEnter)
  AcDev dev = autocastDeviceArg(info[0], "autocastEnter device");
  at::ScalarType dtype = autocastDtypeArg(info[1], "autocastEnter dtype", dev);
  auto prev = newArray(env, 2);
  setElem(env, prev, 0, Napi::Boolean::New(env, acEnabled(dev)));
  setElem(env, prev, 1, Napi::Number::New(env, static_cast<int>(acDtype(dev))));
  acSetDtype(dev, dtype);
  acSetEnabled(dev, true);
  at::autocast::increment_nesting();
  return prev;
END_ENTRY

ENTRY(AutocastExit)
  AcDev dev = autocastDeviceArg(info[0], "autocastExit device");
  bool enabled = boolArg(info[1], "autocastExit enabled");
  // The previous dtype is whatever autocastEnter returned: any plain floating type (libtorch's defaults are
  // bfloat16 on CPU and float16 on CUDA).
  auto dtype = static_cast<at::ScalarType>(scalarTypeArg(info[2], "autocastExit dtype"));
  if (!at::isFloatingType(dtype)) bad("autocastExit dtype", std::string("expected a floating dtype, got ") + c10::toString(dtype));
  // An exit without an enter leaves the nesting at 0 instead of making it negative.
  int depth = at::autocast::decrement_nesting();
  if (depth < 0) depth = at::autocast::increment_nesting();
  if (depth == 0) at::autocast::clear_cache();
  acSetEnabled(dev, enabled);
  acSetDtype(dev, dtype);
  return env.Undefined();
END_ENTRY

// ---- CUDA graphs -----------------------------------------------------------------------------------------

const char* kNoGraphs =
#ifdef OODGEN_CUDA
    "CUDA graphs are not compiled into this addon (built with OODGEN_CUDA_GRAPHS=0)";
#else
    "CUDA graphs need the CUDA build of libtorch (this addon is built against a CPU-only libtorch " TORCH_VERSION ")";
#endif

GraphBox* graphArg(const Napi::Value& v, const What& what) {
  if (!v.IsExternal() || !v.As<Napi::External<GraphBox>>().CheckTypeTag(&kGraphTag))
    bad(what, "expected a CUDA graph handle, got " + jsTypeName(v));
  return v.As<Napi::External<GraphBox>>().Data();
}

#ifdef OODGEN_HAVE_CUDA_GRAPHS
// `waiter` runs nothing queued after this call before `on`'s work so far has finished (torch's wait_stream).
void streamWait(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& on) {
  cudaEvent_t ev;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  cudaError_t e = cudaEventRecord(ev, on.stream());
  if (e == cudaSuccess) e = cudaStreamWaitEvent(waiter.stream(), ev, 0);
  cudaEventDestroy(ev);  // safe while the wait is pending: CUDA releases the event when it completes
  C10_CUDA_CHECK(e);
}
#endif

// cudaGraphNew() -> graph handle (at::cuda::CUDAGraph, freed with the handle or by cudaGraph(g, 'reset')).
ENTRY(CudaGraphNew)
#ifdef OODGEN_HAVE_CUDA_GRAPHS
  if (torch::cuda::device_count() == 0) throw std::runtime_error("CUDA graphs: no CUDA device is visible");
  auto ext = Napi::External<GraphBox>::New(env, new GraphBox(), [](Napi::Env, GraphBox* b) { delete b; });
  ok(env);
  ext.TypeTag(&kGraphTag);
  ok(env);
  return ext;
#else
  throw std::runtime_error(kNoGraphs);
#endif
END_ENTRY

// cudaGraph(g, action): 'stream-on' makes the graph's side stream current (after the current stream's work: warm-up
// and capture run there), 'stream-off' restores the previous stream (which then waits for the side stream),
// 'begin' / 'end' capture on the side stream (stream-on first), 'replay' launches the captured graph, 'reset'
// frees it. Every misuse is an Error, never a CUDA abort.
ENTRY(CudaGraph)
  GraphBox* g = graphArg(info[0], "cudaGraph");
  auto action = stringArg(info[1], "cudaGraph action");
  if (action != "stream-on" && action != "stream-off" && action != "begin" && action != "end" && action != "replay" && action != "reset")
    bad("cudaGraph action", "expected stream-on, stream-off, begin, end, replay or reset, got '" + action + "'");
#ifdef OODGEN_HAVE_CUDA_GRAPHS
  if (action == "stream-on") {
    if (g->prev) bad("cudaGraph stream-on", "the side stream is already current");
    auto cur = c10::cuda::getCurrentCUDAStream();
    if (!g->side) g->side = c10::cuda::getStreamFromPool(false, cur.device_index());
    streamWait(*g->side, cur);
    g->prev = cur;
    c10::cuda::setCurrentCUDAStream(*g->side);
  } else if (action == "stream-off") {
    if (!g->prev) bad("cudaGraph stream-off", "the side stream is not current (stream-on first)");
    if (g->capturing) bad("cudaGraph stream-off", "a capture is in progress ('end' first)");
    streamWait(*g->prev, *g->side);
    c10::cuda::setCurrentCUDAStream(*g->prev);
    g->prev.reset();
  } else if (action == "begin") {
    if (!g->prev) bad("cudaGraph begin", "capture must run on the side stream ('stream-on' first)");
    if (g->capturing || g->captured) bad("cudaGraph begin", "this graph was already captured ('reset' first)");
    // As torch.cuda.graph: nothing of earlier work may still be in flight when capture starts.
    C10_CUDA_CHECK(cudaDeviceSynchronize());
    g->graph->capture_begin();
    g->capturing = true;
  } else if (action == "end") {
    if (!g->capturing) bad("cudaGraph end", "no capture in progress");
    g->capturing = false;
    g->graph->capture_end();
    g->captured = true;
  } else if (action == "replay") {
    if (!g->captured) bad("cudaGraph replay", "nothing captured yet");
    g->graph->replay();
  } else {
    if (g->capturing) bad("cudaGraph reset", "a capture is in progress ('end' first)");
    g->graph->reset();
    g->graph = std::make_unique<at::cuda::CUDAGraph>();
    g->captured = false;
  }
  return env.Undefined();
#else
  (void)g;
  throw std::runtime_error(kNoGraphs);
#endif
END_ENTRY

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<State>(new State());
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
  exports.Set("autocastEnter", Napi::Function::New(env, AutocastEnter));
  exports.Set("autocastExit", Napi::Function::New(env, AutocastExit));
  exports.Set("cudaGraphNew", Napi::Function::New(env, CudaGraphNew));
  exports.Set("cudaGraph", Napi::Function::New(env, CudaGraph));
  oodgen::RegisterC10d(env, exports, tensorForC10d);
  return exports;
}

}  // namespace

NODE_API_MODULE(oodgen_native, Init)
