// oneDNN kernels for tfjs's wasm backend, computing in place on the wasm heap.
//
// Every function takes the heap's ArrayBuffer (re-read by the caller on every call: memory growth
// detaches the old one) and byte offsets of float32 tensors in it; outputs were allocated by the
// backend. Activations are NHWC as tfjs keeps them; convolution weights arrive as tfjs's
// [kh, kw, in, out] (oneDNN's hwio) and are reordered into the layout oneDNN's fastest kernel asks
// for (format_tag::any), cached per weight tensor id so inference and PGD reorder each weight once.
// Primitives and caches are thread_local: each worker thread of the job pool is its own JS
// isolate running its own tfjs, and OpenMP's thread count is a per-thread setting.
#include <node_api.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Ctx {
  engine eng{engine::kind::cpu, 0};
  stream strm{eng};
};

Ctx& ctx() {
  thread_local Ctx c;
  return c;
}

// ---- threads -----------------------------------------------------------------------------------

// The thread count asked for (setThreads); small operations run on one thread, where waking a
// second costs more than it saves (and costs a lot when the machine's other work holds a core).
thread_local int maxThreads = 1;

void threadsFor(double work, double minWork) { omp_set_num_threads(work < minWork ? 1 : maxThreads); }
constexpr double kMinFlops = 2e7;     // convolutions and matrix products
constexpr double kMinElements = 1 << 18;  // memory-bound loops

// ---- argument plumbing -------------------------------------------------------------------------

struct Args {
  napi_env env;
  size_t argc = 16;
  napi_value argv[16];
  uint8_t* heap = nullptr;
  size_t heapLen = 0;

  Args(napi_env e, napi_callback_info info) : env(e) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  }
  void readHeap(size_t i) {
    void* data = nullptr;
    if (napi_get_arraybuffer_info(env, argv[i], &data, &heapLen) != napi_ok) throw std::runtime_error("argument 0 must be the wasm heap's ArrayBuffer");
    heap = static_cast<uint8_t*>(data);
  }
  double num(size_t i) const {
    double v = 0;
    if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok) throw std::runtime_error("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  std::vector<int64_t> ints(size_t i) const {
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    if (i >= argc || napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_int32_array)
      throw std::runtime_error("argument " + std::to_string(i) + " must be an Int32Array");
    const int32_t* p = static_cast<const int32_t*>(data);
    return std::vector<int64_t>(p, p + len);
  }
  // A float32 tensor at a byte offset; a negative offset means "absent".
  float* f32(size_t i, size_t count) const {
    double off = num(i);
    if (off < 0) return nullptr;
    size_t o = static_cast<size_t>(off);
    if (o % 4 != 0 || o + count * 4 > heapLen) throw std::runtime_error("tensor at offset " + std::to_string(o) + " lies outside the wasm heap");
    return reinterpret_cast<float*>(heap + o);
  }
};

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return undefinedValue(env);
}

// Primitives are built for a thread count (their work split), so the count is part of every key.
// A kernel over the wasm heap: argument 0 is the heap, errors become JS exceptions.
template <typename F>
napi_value onHeap(napi_env env, napi_callback_info info, F&& f) {
  return guarded(env, [&] {
    Args a(env, info);
    a.readHeap(0);
    f(a);
  });
}

std::string key(char kind, const std::vector<int64_t>& p, int64_t extra = 0) {
  std::string k = std::string(1, kind) + std::to_string(omp_get_max_threads()) + ':';
  for (int64_t v : p) k += std::to_string(v) + ',';
  return k + std::to_string(extra);
}

memory wrap(const memory::desc& d, float* p) { return memory(d, ctx().eng, p); }

// ---- weights in oneDNN's layout, cached by tensor id (LRU, bounded in bytes) -------------------

struct CachedWeights {
  int64_t id;
  memory::desc desc;
  memory mem;
};

class WeightCache {
  std::list<CachedWeights> items;  // most recent first
  size_t bytes = 0;
  static constexpr size_t kCap = size_t(512) << 20;

 public:
  // Weights `user` (layout `userDesc`) in layout `want`; id 0 disables caching.
  memory get(int64_t id, const memory::desc& userDesc, float* user, const memory::desc& want) {
    if (id != 0) {
      for (auto it = items.begin(); it != items.end(); ++it) {
        if (it->id == id && it->desc == want) {
          items.splice(items.begin(), items, it);
          return items.front().mem;
        }
      }
    }
    memory src = wrap(userDesc, user);
    memory dst(want, ctx().eng);
    reorder(src, dst).execute(ctx().strm, src, dst);
    if (id != 0) {
      items.push_front({id, want, dst});
      bytes += want.get_size();
      while (bytes > kCap && items.size() > 1) {
        bytes -= items.back().desc.get_size();
        items.pop_back();
      }
    }
    return dst;
  }
  void clear() {
    items.clear();
    bytes = 0;
  }
};

WeightCache& weightCache() {
  thread_local WeightCache c;
  return c;
}

// ---- convolutions ------------------------------------------------------------------------------

// p = [n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight]
struct ConvShape {
  memory::dims src, wei, dst, strides, dil, padL, padR;
  memory::desc srcMd, weiUserMd, dstMd, biasMd;
  size_t srcN, weiN, dstN;
  explicit ConvShape(const std::vector<int64_t>& p) {
    if (p.size() != 17) throw std::runtime_error("conv: expected 17 shape parameters");
    src = {p[0], p[3], p[1], p[2]};
    wei = {p[6], p[3], p[4], p[5]};
    dst = {p[0], p[6], p[7], p[8]};
    strides = {p[9], p[10]};
    dil = {p[11] - 1, p[12] - 1};
    padL = {p[13], p[14]};
    padR = {p[15], p[16]};
    srcMd = memory::desc(src, dt::f32, tag::nhwc);
    weiUserMd = memory::desc(wei, dt::f32, tag::hwio);
    dstMd = memory::desc(dst, dt::f32, tag::nhwc);
    biasMd = memory::desc({p[6]}, dt::f32, tag::a);
    srcN = p[0] * p[1] * p[2] * p[3];
    weiN = p[4] * p[5] * p[3] * p[6];
    dstN = p[0] * p[7] * p[8] * p[6];
  }
  memory::desc anyWei() const { return memory::desc(wei, dt::f32, tag::any); }
  convolution_forward::primitive_desc forwardPd(bool bias, bool relu, prop_kind pk) const {
    convolution_forward::desc d = bias ? convolution_forward::desc(pk, algorithm::convolution_direct, srcMd, anyWei(), biasMd, dstMd, strides, dil, padL, padR)
                                       : convolution_forward::desc(pk, algorithm::convolution_direct, srcMd, anyWei(), dstMd, strides, dil, padL, padR);
    primitive_attr attr;
    if (relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return convolution_forward::primitive_desc(d, attr, ctx().eng);
  }
};

struct ConvFwd {
  ConvShape s;
  convolution_forward::primitive_desc pd;
  convolution_forward prim;
  ConvFwd(const std::vector<int64_t>& p, bool bias, bool relu) : s(p), pd(s.forwardPd(bias, relu, prop_kind::forward_inference)), prim(pd) {}
};

struct ConvBwdData {
  ConvShape s;
  convolution_backward_data::primitive_desc pd;
  convolution_backward_data prim;
  explicit ConvBwdData(const std::vector<int64_t>& p)
      : s(p),
        pd(convolution_backward_data::desc(algorithm::convolution_direct, s.srcMd, s.anyWei(), s.dstMd, s.strides, s.dil, s.padL, s.padR), ctx().eng,
           s.forwardPd(false, false, prop_kind::forward_training)),
        prim(pd) {}
};

struct ConvBwdWeights {
  ConvShape s;
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  memory::desc userMd;
  std::unique_ptr<reorder> toUser;
  explicit ConvBwdWeights(const std::vector<int64_t>& p)
      : s(p),
        pd(convolution_backward_weights::desc(algorithm::convolution_direct, s.srcMd, s.anyWei(), s.dstMd, s.strides, s.dil, s.padL, s.padR), ctx().eng,
           s.forwardPd(false, false, prop_kind::forward_training)),
        prim(pd),
        userMd(s.weiUserMd) {
    if (pd.diff_weights_desc() != userMd) toUser = std::make_unique<reorder>(reorder::primitive_desc(ctx().eng, pd.diff_weights_desc(), ctx().eng, userMd));
  }
};

double convFlops(const std::vector<int64_t>& p) {
  return p.size() == 17 ? 2.0 * p[0] * p[7] * p[8] * p[6] * p[3] * p[4] * p[5] : 0;
}

template <typename T>
T& cached(const std::string& k, const std::vector<int64_t>& p, bool a = false, bool b = false) {
  thread_local std::unordered_map<std::string, std::unique_ptr<T>> m;
  auto it = m.find(k);
  if (it != m.end()) return *it->second;
  std::unique_ptr<T> made;
  if constexpr (std::is_constructible_v<T, const std::vector<int64_t>&, bool, bool>)
    made = std::make_unique<T>(p, a, b);
  else
    made = std::make_unique<T>(p);
  T& ref = *made;
  m.emplace(k, std::move(made));
  return ref;
}

// The convolution primitive for the shape in argument 1, on the threads its size deserves.
template <typename T, typename... Extra>
T& convPrimitive(Args& a, char kind, int64_t variant, Extra... extra) {
  auto p = a.ints(1);
  threadsFor(convFlops(p), kMinFlops);
  return cached<T>(key(kind, p, variant), p, extra...);
}

// tfjs's hwio weights, or their cached copy in the layout the primitive wants.
memory weightsIn(const memory::desc& want, const ConvShape& s, float* w, double id) {
  return want == s.weiUserMd ? wrap(s.weiUserMd, w) : weightCache().get(static_cast<int64_t>(id), s.weiUserMd, w, want);
}

// convForward(heap, p, x, w, bias, y, weightId, relu)
napi_value ConvForward(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    bool relu = a.num(7) != 0;
    bool hasBias = a.num(4) >= 0;
    auto& c = convPrimitive<ConvFwd>(a, 'F', hasBias * 2 + relu, hasBias, relu);
    memory wm = weightsIn(c.pd.weights_desc(), c.s, a.f32(3, c.s.weiN), a.num(6));
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(c.s.srcMd, a.f32(2, c.s.srcN))}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, wrap(c.s.dstMd, a.f32(5, c.s.dstN))}};
    if (hasBias) args.insert({DNNL_ARG_BIAS, wrap(c.s.biasMd, a.f32(4, c.s.dst[1]))});
    c.prim.execute(ctx().strm, args);
    ctx().strm.wait();
  });
}

// convBackpropInput(heap, p, dy, w, dx, weightId)
napi_value ConvBackpropInput(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    auto& c = convPrimitive<ConvBwdData>(a, 'D', 0);
    memory wm = weightsIn(c.pd.weights_desc(), c.s, a.f32(3, c.s.weiN), a.num(5));
    c.prim.execute(ctx().strm, {{DNNL_ARG_DIFF_DST, wrap(c.s.dstMd, a.f32(2, c.s.dstN))},
                                {DNNL_ARG_WEIGHTS, wm},
                                {DNNL_ARG_DIFF_SRC, wrap(c.s.srcMd, a.f32(4, c.s.srcN))}});
    ctx().strm.wait();
  });
}

// convBackpropFilter(heap, p, x, dy, dw)
napi_value ConvBackpropFilter(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    auto& c = convPrimitive<ConvBwdWeights>(a, 'W', 0);
    float* x = a.f32(2, c.s.srcN);
    float* dy = a.f32(3, c.s.dstN);
    float* dw = a.f32(4, c.s.weiN);
    memory user = wrap(c.userMd, dw);
    memory out = c.toUser ? memory(c.pd.diff_weights_desc(), ctx().eng) : user;
    c.prim.execute(ctx().strm, {{DNNL_ARG_SRC, wrap(c.s.srcMd, x)}, {DNNL_ARG_DIFF_DST, wrap(c.s.dstMd, dy)}, {DNNL_ARG_DIFF_WEIGHTS, out}});
    if (c.toUser) c.toUser->execute(ctx().strm, out, user);
    ctx().strm.wait();
  });
}

// ---- matmul ------------------------------------------------------------------------------------

// p = [batchA, batchB, m, k, n, transposeA, transposeB]; a is [batchA, m, k] (or [.., k, m]
// transposed), b [batchB, k, n] (or [.., n, k]); the batch of size 1 broadcasts.
struct MatMul {
  memory::desc aMd, bMd, cMd, biasMd;
  size_t aN, bN, cN, nOut;
  matmul::primitive_desc pd;
  matmul prim;
  static memory::desc operand(int64_t batch, int64_t rows, int64_t cols, bool transposed) {
    memory::dims strides = transposed ? memory::dims{rows * cols, 1, rows} : memory::dims{rows * cols, cols, 1};
    return memory::desc({batch, rows, cols}, dt::f32, strides);
  }
  static matmul::primitive_desc makePd(const std::vector<int64_t>& p, bool bias, bool relu) {
    int64_t batch = std::max(p[0], p[1]);
    primitive_attr attr;
    if (relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    memory::desc a = operand(p[0], p[2], p[3], p[5]), b = operand(p[1], p[3], p[4], p[6]);
    memory::desc c({batch, p[2], p[4]}, dt::f32, tag::abc);
    matmul::desc d = bias ? matmul::desc(a, b, memory::desc({1, 1, p[4]}, dt::f32, tag::abc), c) : matmul::desc(a, b, c);
    return matmul::primitive_desc(d, attr, ctx().eng);
  }
  MatMul(const std::vector<int64_t>& p, bool bias, bool relu)
      : aMd(operand(p[0], p[2], p[3], p[5])),
        bMd(operand(p[1], p[3], p[4], p[6])),
        cMd({std::max(p[0], p[1]), p[2], p[4]}, dt::f32, tag::abc),
        biasMd({1, 1, p[4]}, dt::f32, tag::abc),
        aN(p[0] * p[2] * p[3]),
        bN(p[1] * p[3] * p[4]),
        cN(std::max(p[0], p[1]) * p[2] * p[4]),
        nOut(p[4]),
        pd(makePd(p, bias, relu)),
        prim(pd) {}
};

// matMul(heap, p, a, b, bias, c, relu)
napi_value MatMulFn(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    auto p = a.ints(1);
    if (p.size() != 7) throw std::runtime_error("matMul: expected 7 shape parameters");
    threadsFor(2.0 * std::max(p[0], p[1]) * p[2] * p[3] * p[4], kMinFlops);
    bool relu = a.num(6) != 0;
    bool hasBias = a.num(4) >= 0;
    auto& m = cached<MatMul>(key('M', p, hasBias * 2 + relu), p, hasBias, relu);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(m.aMd, a.f32(2, m.aN))}, {DNNL_ARG_WEIGHTS, wrap(m.bMd, a.f32(3, m.bN))}, {DNNL_ARG_DST, wrap(m.cMd, a.f32(5, m.cN))}};
    if (hasBias) args.insert({DNNL_ARG_BIAS, wrap(m.biasMd, a.f32(4, m.nOut))});
    m.prim.execute(ctx().strm, args);
    ctx().strm.wait();
  });
}

// ---- batch normalisation (training mode, statistics over N·H·W) -------------------------------

// p = [rows, channels] with the data [rows, channels] (any NHWC tensor flattened), described as one
// image of rows × 1 pixels in nhwc: that layout gets the jit kernel, a 2-D 'nc' one a reference loop.
struct BatchNorm {
  memory::desc dataMd, statMd;
  size_t n, c;
  batch_normalization_forward::primitive_desc fwdPd;
  batch_normalization_forward fwd;
  batch_normalization_backward::primitive_desc bwdPd;
  batch_normalization_backward bwd;
  static normalization_flags flags() { return normalization_flags::use_scale | normalization_flags::use_shift; }
  BatchNorm(const std::vector<int64_t>& p, float eps)
      : dataMd({1, p[1], p[0], 1}, dt::f32, tag::nhwc),
        statMd({p[1]}, dt::f32, tag::a),
        n(p[0] * p[1]),
        c(p[1]),
        fwdPd(batch_normalization_forward::desc(prop_kind::forward_training, dataMd, eps, flags()), ctx().eng),
        fwd(fwdPd),
        bwdPd(batch_normalization_backward::desc(prop_kind::backward, dataMd, dataMd, eps, flags()), ctx().eng, fwdPd),
        bwd(bwdPd) {}
};

BatchNorm& batchNorm(const std::vector<int64_t>& p, float eps) {
  if (p.size() != 2) throw std::runtime_error("batchNorm: expected [rows, channels]");
  threadsFor(double(p[0]) * p[1], kMinElements);
  thread_local std::unordered_map<std::string, std::unique_ptr<BatchNorm>> m;
  std::string k = key('B', p) + "/" + std::to_string(eps);
  auto it = m.find(k);
  if (it != m.end()) return *it->second;
  return *m.emplace(k, std::make_unique<BatchNorm>(p, eps)).first->second;
}

// Each oneDNN argument of a batch-norm primitive: its position in the JS call, and whether it is
// the [rows, channels] data or a per-channel vector.
struct BnArg {
  int id;
  size_t pos;
  bool data;
};

void runBatchNorm(Args& a, bool forward) {
  static const std::vector<BnArg> fwdArgs = {{DNNL_ARG_SRC, 3, true},   {DNNL_ARG_SCALE, 4, false}, {DNNL_ARG_SHIFT, 5, false},
                                             {DNNL_ARG_DST, 6, true},   {DNNL_ARG_MEAN, 7, false},  {DNNL_ARG_VARIANCE, 8, false}};
  // SHIFT (beta) is read by the backward primitive's argument check only: dx does not depend on
  // beta, so gamma's buffer stands in for it.
  static const std::vector<BnArg> bwdArgs = {
      {DNNL_ARG_SRC, 3, true},       {DNNL_ARG_MEAN, 4, false},     {DNNL_ARG_VARIANCE, 5, false},
      {DNNL_ARG_SCALE, 6, false},    {DNNL_ARG_SHIFT, 6, false},    {DNNL_ARG_DIFF_DST, 7, true},
      {DNNL_ARG_DIFF_SRC, 8, true},  {DNNL_ARG_DIFF_SCALE, 9, false}, {DNNL_ARG_DIFF_SHIFT, 10, false}};
  auto p = a.ints(1);
  auto& b = batchNorm(p, static_cast<float>(a.num(2)));
  std::unordered_map<int, memory> args;
  for (const auto& x : forward ? fwdArgs : bwdArgs)
    args.insert({x.id, x.data ? wrap(b.dataMd, a.f32(x.pos, b.n)) : wrap(b.statMd, a.f32(x.pos, b.c))});
  if (forward)
    b.fwd.execute(ctx().strm, args);
  else
    b.bwd.execute(ctx().strm, args);
  ctx().strm.wait();
}

// batchNormForward(heap, p, eps, x, gamma, beta, y, mean, variance)
napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) { runBatchNorm(a, true); });
}

// batchNormBackward(heap, p, eps, x, mean, variance, gamma, dy, dx, dgamma, dbeta)
napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) { runBatchNorm(a, false); });
}

// ---- ReLU and max pooling (memory-bound loops; oneDNN's max-pool backward needs a workspace
// ---- from its own forward, which tfjs's MaxPoolGrad(dy, x, y) does not carry) -----------------

// relu(heap, count, x, y)
napi_value Relu(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    int64_t n = static_cast<int64_t>(a.num(1));
    threadsFor(n, kMinElements);
    const float* __restrict x = a.f32(2, n);
    float* __restrict y = a.f32(3, n);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.f ? x[i] : 0.f;
  });
}

// reluGrad(heap, count, dy, x, dx): dx = dy where x > 0, else 0 (tfjs: dy · step(x))
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    int64_t n = static_cast<int64_t>(a.num(1));
    threadsFor(n, kMinElements);
    const float* __restrict dy = a.f32(2, n);
    const float* __restrict x = a.f32(3, n);
    float* __restrict dx = a.f32(4, n);
    // Both operands are loaded unconditionally so that the select vectorises (a branch on the
    // sign of the activation mispredicts half the time).
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
      float g = dy[i];
      dx[i] = x[i] > 0.f ? g : 0.f;
    }
  });
}

// binary(heap, op, count, channels, a, b, out, swapped): out = a ∘ b elementwise, where b has
// either `count` values or `channels` values repeated along the last axis (then `swapped` says the
// per-channel operand was tfjs's first one, which matters for subtraction). op: 0 add, 1 sub, 2 mul.
napi_value Binary(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    int op = static_cast<int>(a.num(1));
    int64_t n = static_cast<int64_t>(a.num(2));
    int64_t c = static_cast<int64_t>(a.num(3));
    bool swapped = a.num(7) != 0;
    threadsFor(n, kMinElements);
    const float* __restrict x = a.f32(4, n);
    const float* __restrict y = a.f32(5, c);
    float* __restrict z = a.f32(6, n);
    if (op < 0 || op > 2 || c < 1 || n % c != 0) throw std::runtime_error("binary: bad operation or shapes");
    // c − x = −(x − c): the per-channel operand always comes second below.
    float sign = swapped && op == 1 ? -1.f : 1.f;
    auto apply = [&](auto f) {
      if (c == n) {
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) z[i] = f(x[i], y[i]);
      } else {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < n / c; r++) {
          const float* __restrict xr = x + r * c;
          float* __restrict zr = z + r * c;
#pragma omp simd
          for (int64_t i = 0; i < c; i++) zr[i] = f(xr[i], y[i]);
        }
      }
    };
    if (op == 0) apply([](float u, float v) { return u + v; });
    else if (op == 1) apply([sign](float u, float v) { return sign * (u - v); });
    else apply([](float u, float v) { return u * v; });
  });
}

// p = [n, h, w, c, oh, ow, kh, kw, sh, sw, padTop, padLeft]
struct Pool {
  int64_t n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
  explicit Pool(const std::vector<int64_t>& p) {
    if (p.size() != 12) throw std::runtime_error("maxPool: expected 12 shape parameters");
    n = p[0], h = p[1], w = p[2], c = p[3], oh = p[4], ow = p[5], kh = p[6], kw = p[7], sh = p[8], sw = p[9], pt = p[10], pl = p[11];
  }
  size_t inN() const { return n * h * w * c; }
  // Calls f(offset of the first channel) for each input pixel of output (b, i, j)'s window, in
  // row-major window order, skipping padding.
  template <typename F>
  void window(int64_t b, int64_t i, int64_t j, F&& f) const {
    for (int64_t u = 0; u < kh; u++) {
      int64_t r = i * sh - pt + u;
      if (r < 0 || r >= h) continue;
      for (int64_t v = 0; v < kw; v++) {
        int64_t q = j * sw - pl + v;
        if (q >= 0 && q < w) f(((b * h + r) * w + q) * c);
      }
    }
  }
  size_t outN() const { return n * oh * ow * c; }
};

// maxPool(heap, p, x, y)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    Pool s(a.ints(1));
    threadsFor(s.inN(), kMinElements);
    const float* x = a.f32(2, s.inN());
    float* y = a.f32(3, s.outN());
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < s.n; b++)
      for (int64_t i = 0; i < s.oh; i++)
        for (int64_t j = 0; j < s.ow; j++) {
          float* out = y + ((b * s.oh + i) * s.ow + j) * s.c;
          for (int64_t ch = 0; ch < s.c; ch++) out[ch] = -INFINITY;
          s.window(b, i, j, [&](int64_t base) {
            const float* in = x + base;
#pragma omp simd
            for (int64_t ch = 0; ch < s.c; ch++) out[ch] = in[ch] > out[ch] ? in[ch] : out[ch];
          });
        }
  });
}

// maxPoolGrad(heap, p, dy, x, dx): each output's gradient goes to the first maximum of its
// window, in row-major window order (tfjs's cpu backend breaks ties the same way).
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return onHeap(env, info, [](Args& a) {
    Pool s(a.ints(1));
    threadsFor(s.inN(), kMinElements);
    const float* dy = a.f32(2, s.outN());
    const float* x = a.f32(3, s.inN());
    float* dx = a.f32(4, s.inN());
    std::memset(dx, 0, s.inN() * sizeof(float));
    // Images are independent; within one, overlapping windows add into the same dx rows.
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) {
      std::vector<float> bestV(s.c);
      std::vector<int64_t> whereV(s.c);
      float* __restrict best = bestV.data();
      int64_t* __restrict where = whereV.data();
      for (int64_t i = 0; i < s.oh; i++)
        for (int64_t j = 0; j < s.ow; j++) {
          for (int64_t ch = 0; ch < s.c; ch++) best[ch] = -INFINITY, where[ch] = -1;
          s.window(b, i, j, [&](int64_t base) {
#pragma omp simd
            for (int64_t ch = 0; ch < s.c; ch++) {
              float v = x[base + ch];
              bool wins = v > best[ch] || where[ch] < 0;
              best[ch] = wins ? v : best[ch];
              where[ch] = wins ? base + ch : where[ch];
            }
          });
          const float* g = dy + ((b * s.oh + i) * s.ow + j) * s.c;
          for (int64_t ch = 0; ch < s.c; ch++)
            if (where[ch] >= 0) dx[where[ch]] += g[ch];
        }
    }
  });
}

// ---- threads and introspection -----------------------------------------------------------------

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    int n = static_cast<int>(a.num(0));
    if (n < 1) throw std::runtime_error("setThreads: expected a positive thread count");
    maxThreads = n;
    omp_set_num_threads(n);
  });
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, maxThreads, &v);
  return v;
}

napi_value ClearCaches(napi_env env, napi_callback_info) {
  weightCache().clear();
  return undefinedValue(env);
}

// The implementation oneDNN chose for a forward convolution of shape p, e.g. "brg:avx512_core".
napi_value ConvImpl(napi_env env, napi_callback_info info) {
  napi_value out = undefinedValue(env);
  guarded(env, [&] {
    Args a(env, info);
    auto p = a.ints(0);
    ConvShape s(p);
    auto fwd = s.forwardPd(false, false, prop_kind::forward_training);
    auto bd = convolution_backward_data::primitive_desc(convolution_backward_data::desc(algorithm::convolution_direct, s.srcMd, s.anyWei(), s.dstMd, s.strides, s.dil, s.padL, s.padR), ctx().eng, fwd);
    auto bw = convolution_backward_weights::primitive_desc(convolution_backward_weights::desc(algorithm::convolution_direct, s.srcMd, s.anyWei(), s.dstMd, s.strides, s.dil, s.padL, s.padR), ctx().eng, fwd);
    std::string text = std::string(fwd.impl_info_str()) + " | " + bd.impl_info_str() + " | " + bw.impl_info_str();
    napi_create_string_utf8(env, text.c_str(), text.size(), &out);
  });
  return out;
}

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  std::string text = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out;
  napi_create_string_utf8(env, text.c_str(), text.size(), &out);
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  const std::pair<const char*, napi_callback> fns[] = {
      {"convForward", ConvForward},
      {"convBackpropInput", ConvBackpropInput},
      {"convBackpropFilter", ConvBackpropFilter},
      {"matMul", MatMulFn},
      {"batchNormForward", BatchNormForward},
      {"batchNormBackward", BatchNormBackward},
      {"relu", Relu},
      {"binary", Binary},
      {"reluGrad", ReluGrad},
      {"maxPool", MaxPool},
      {"maxPoolGrad", MaxPoolGrad},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"clearCaches", ClearCaches},
      {"convImpl", ConvImpl},
      {"version", Version},
  };
  for (const auto& [name, fn] : fns) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
    napi_set_named_property(env, exports, name, f);
  }
  return exports;
}
