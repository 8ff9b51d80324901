// One block of the lesson's network as one CPU operator on oneDNN, forward and backward:
//
//     out = maxpool2x2(relu(conv(x, w) + b))        x [N,C,H,W] -> out [N,OC,H/2,W/2]
//
// Either side may be channels last instead (attributes x_last, out_last: x [N,H,W,C], out
// [N,H/2,W/2,OC]): the network passes the first block's output to the second that way, the
// layout the second convolution runs in, so no copy in Paddle's NCHW is made between them.
//
// the same function as mnist/model.py's Paddle block (there the bias is added after pooling;
// adding the same b to the four values of a window does not change which is largest, so the
// two orders give the same numbers). oneDNN (Intel's deep-learning primitives, which Paddle's
// CPU wheel ships as paddle/libs/libdnnl.so.3) runs the convolution and the pooling in its own
// blocked layout with JIT-compiled kernels for this processor; Paddle's CPU convolution does
// im2col and one matrix product per image. Built and loaded by mnist/conv_block.py.
//
// Forward returns the block's output and the pooling's workspace (where each window's maximum
// was), which the backward pass routes the gradient through, as Paddle's pooling mask does.

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "paddle/extension.h"
// The headers of PyPI's onednn-devel-cpu-iomp turn on an experimental API that the
// oneDNN in Paddle's wheel was built without; this code does not use it.
#include "oneapi/dnnl/dnnl_config.h"
#undef DNNL_EXPERIMENTAL_SPARSE
#include "oneapi/dnnl/dnnl.hpp"

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

dnnl::engine& eng() { static dnnl::engine e(dnnl::engine::kind::cpu, 0); return e; }

// Everything for one input shape: the primitives (oneDNN picks the layouts it runs fastest in,
// "any"), and buffers for the blocked copies, kept between calls. Paddle runs a network's
// operators one at a time, the lock makes a second caller of the same shape wait.
struct Plan {
  memory::desc x, w, b, out;  // the layouts Paddle's tensors have (NCHW, OIHW)
  dnnl::convolution_forward::primitive_desc conv;
  dnnl::pooling_forward::primitive_desc pool;
  dnnl::pooling_backward::primitive_desc pool_bwd;
  dnnl::convolution_backward_weights::primitive_desc conv_bw;
  dnnl::convolution_backward_data::primitive_desc conv_bd;
  dnnl::eltwise_backward::primitive_desc relu_bwd;
  dnnl::primitive conv_p, pool_p, pool_bwd_p, conv_bw_p, conv_bd_p, relu_bwd_p;
  std::map<int, memory> scratch;
  std::mutex lock;

  Plan(int64_t n, int64_t c, int64_t h, int64_t wd, int64_t oc, int64_t k, bool x_last,
       bool out_last) {
    memory::dims st{1, 1}, pad{k / 2, k / 2}, pk{2, 2}, pst{2, 2}, pz{0, 0}, dil{0, 0};
    memory::dims xd{n, c, h, wd}, wdim{oc, c, k, k}, yd{n, oc, h, wd}, pd{n, oc, h / 2, wd / 2};
    x = {xd, dt::f32, x_last ? tag::nhwc : tag::nchw};
    w = {wdim, dt::f32, tag::oihw}; b = {{oc}, dt::f32, tag::x};
    out = {pd, dt::f32, out_last ? tag::nhwc : tag::nchw};
    // The activations' layout: oneDNN's own choice ("any": channels in blocks of 16 on AVX-512,
    // 20 padded to 32) for the first block, channels last (nhwc, 20 dense, its brgemm kernels)
    // for a block with several input channels. Measured on a 2-core AVX-512 machine, batch 128:
    // the second convolution 1.4x faster forward and backward in nhwc (about 200 GFLOP/s, the
    // machine's GEMM rate), the first 1.5x slower, so each block takes its better one.
    tag act = c == 1 ? tag::any : tag::nhwc;
    memory::desc xa(xd, dt::f32, act), wa(wdim, dt::f32, tag::any), ya(yd, dt::f32, act);
    auto alg = dnnl::algorithm::convolution_direct;
    // relu as the convolution's post-op: relu(maxpool(y)) == maxpool(relu(y)), relu being
    // monotonic, and it then runs inside the convolution's kernel, on all threads
    dnnl::post_ops relu_op;
    relu_op.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr with_relu;
    with_relu.set_post_ops(relu_op);
    conv = {eng(), dnnl::prop_kind::forward_training, alg, xa, wa, b, ya, st, pad, pad, with_relu};
    pool = {eng(), dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max,
            conv.dst_desc(), memory::desc(pd, dt::f32, tag::any), pst, pk, dil, pz, pz};
    pool_bwd = {eng(), dnnl::algorithm::pooling_max, conv.dst_desc(), pool.dst_desc(),
                pst, pk, dil, pz, pz, pool};
    conv_bw = {eng(), alg, xa, wa, b, ya, st, pad, pad, conv};
    conv_bd = {eng(), alg, xa, wa, ya, st, pad, pad, conv};
    // relu's gradient from the block's output (0 where it is 0), in Paddle's layout
    // (oneDNN asks for a forward descriptor as a hint; the forward relu is the post-op above)
    auto relu_alg = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    dnnl::eltwise_forward::primitive_desc relu_hint(
        eng(), dnnl::prop_kind::forward_training, relu_alg, out, out, 0.f, 0.f);
    relu_bwd = {eng(), relu_alg, out, out, out, 0.f, 0.f, relu_hint};
    conv_p = dnnl::convolution_forward(conv);
    pool_p = dnnl::pooling_forward(pool);
    pool_bwd_p = dnnl::pooling_backward(pool_bwd);
    conv_bw_p = dnnl::convolution_backward_weights(conv_bw);
    conv_bd_p = dnnl::convolution_backward_data(conv_bd);
    relu_bwd_p = dnnl::eltwise_backward(relu_bwd);
  }

  // A buffer of this plan's in layout `d`, kept between calls (slot numbers are fixed below;
  // a slot asked for in another layout gets a new buffer).
  memory& buffer(int slot, const memory::desc& d) {
    auto it = scratch.find(slot);
    if (it == scratch.end()) it = scratch.emplace(slot, memory(d, eng())).first;
    else if (it->second.get_desc() != d) it->second = memory(d, eng());
    return it->second;
  }

  // `user` itself if the primitive takes that layout, else a reordered copy in buffer `slot`.
  memory as(memory user, const memory::desc& want, int slot, dnnl::stream& s) {
    if (user.get_desc() == want) return user;
    memory m = buffer(slot, want);
    dnnl::reorder(user, m).execute(s, user, m);
    return m;
  }
};

// x's dims as N, C, H, W whichever its layout
std::vector<int64_t> nchw(const std::vector<int64_t>& x, bool last) {
  PD_CHECK(x.size() == 4, "mnist_conv_block: the input must have 4 dimensions");
  return last ? std::vector<int64_t>{x[0], x[3], x[1], x[2]} : x;
}

Plan& plan_for(const std::vector<int64_t>& shape, const std::vector<int64_t>& w, bool x_last,
               bool out_last) {
  static std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans;
  static std::mutex lock;
  auto x = nchw(shape, x_last);
  std::vector<int64_t> key{x[0], x[1], x[2], x[3], w[0], w[2], x_last, out_last};
  std::lock_guard<std::mutex> g(lock);
  auto& p = plans[key];
  if (!p) p.reset(new Plan(x[0], x[1], x[2], x[3], w[0], w[2], x_last, out_last));
  return *p;
}

float* f32(const paddle::Tensor& t) { return const_cast<float*>(t.data<float>()); }

// the output tensor's shape: N, OC, H/2, W/2 in that order or channels last
std::vector<int64_t> out_shape(const Plan& p, bool out_last) {
  auto d = p.out.get_dims();
  return out_last ? std::vector<int64_t>{d[0], d[2], d[3], d[1]} : d;
}

}  // namespace

std::vector<paddle::Tensor> BlockForward(const paddle::Tensor& x, const paddle::Tensor& w,
                                         const paddle::Tensor& b, bool, bool x_last,
                                         bool out_last) {
  Plan& p = plan_for(x.shape(), w.shape(), x_last, out_last);
  std::lock_guard<std::mutex> g(p.lock);
  dnnl::stream s(eng());
  auto out = paddle::empty(out_shape(p, out_last), paddle::DataType::FLOAT32, x.place());
  auto ws = paddle::empty({static_cast<int64_t>(p.pool.workspace_desc().get_size())},
                          paddle::DataType::UINT8, x.place());
  memory xm = p.as(memory(p.x, eng(), f32(x)), p.conv.src_desc(), 1, s);
  memory wm = p.as(memory(p.w, eng(), f32(w)), p.conv.weights_desc(), 2, s);
  memory ym = p.buffer(3, p.conv.dst_desc());
  p.conv_p.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm},
                       {DNNL_ARG_BIAS, memory(p.b, eng(), f32(b))}, {DNNL_ARG_DST, ym}});
  memory outm(p.out, eng(), out.data<float>());
  memory pm = p.pool.dst_desc() == p.out ? outm : p.buffer(4, p.pool.dst_desc());
  p.pool_p.execute(s, {{DNNL_ARG_SRC, ym}, {DNNL_ARG_DST, pm},
                       {DNNL_ARG_WORKSPACE, memory(p.pool.workspace_desc(), eng(), ws.data<uint8_t>())}});
  if (pm != outm) dnnl::reorder(pm, outm).execute(s, pm, outm);
  s.wait();
  return {out, ws};
}

std::vector<paddle::Tensor> BlockBackward(const paddle::Tensor& x, const paddle::Tensor& w,
                                          const paddle::Tensor& b, const paddle::Tensor& out,
                                          const paddle::Tensor& ws, const paddle::Tensor& dout,
                                          bool input_grad, bool x_last, bool out_last) {
  Plan& p = plan_for(x.shape(), w.shape(), x_last, out_last);
  std::lock_guard<std::mutex> g(p.lock);
  dnnl::stream s(eng());
  // relu's gradient (where the output is 0, nothing flows back), into a buffer in out's layout
  memory dpool = p.buffer(5, p.out);
  p.relu_bwd_p.execute(s, {{DNNL_ARG_DST, memory(p.out, eng(), f32(out))},
                           {DNNL_ARG_DIFF_DST, memory(p.out, eng(), f32(dout))},
                           {DNNL_ARG_DIFF_SRC, dpool}});
  memory dpm = p.as(dpool, p.pool_bwd.diff_dst_desc(), 6, s);
  memory dym = p.buffer(7, p.pool_bwd.diff_src_desc());
  p.pool_bwd_p.execute(s, {{DNNL_ARG_DIFF_DST, dpm}, {DNNL_ARG_DIFF_SRC, dym},
                           {DNNL_ARG_WORKSPACE, memory(p.pool.workspace_desc(), eng(),
                                                       const_cast<uint8_t*>(ws.data<uint8_t>()))}});
  auto dw = paddle::empty(w.shape(), paddle::DataType::FLOAT32, w.place());
  auto db = paddle::empty(b.shape(), paddle::DataType::FLOAT32, b.place());
  // the first block's input is the images: no gradient wanted, none computed; a one-element
  // placeholder stands for it (Paddle 3.0.0 refuses a grad op's empty output as uninitialized)
  auto dx = paddle::empty(input_grad ? x.shape() : std::vector<int64_t>{1},
                          paddle::DataType::FLOAT32, x.place());
  memory xm = p.as(memory(p.x, eng(), f32(x)), p.conv_bw.src_desc(), 1, s);
  memory dyw = p.as(dym, p.conv_bw.diff_dst_desc(), 8, s);
  memory dwu(p.w, eng(), dw.data<float>());
  memory dwm = p.conv_bw.diff_weights_desc() == p.w ? dwu : p.buffer(9, p.conv_bw.diff_weights_desc());
  p.conv_bw_p.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dyw}, {DNNL_ARG_DIFF_WEIGHTS, dwm},
                          {DNNL_ARG_DIFF_BIAS, memory(p.b, eng(), db.data<float>())}});
  if (dwm != dwu) dnnl::reorder(dwm, dwu).execute(s, dwm, dwu);
  if (input_grad) {
    memory wm = p.as(memory(p.w, eng(), f32(w)), p.conv_bd.weights_desc(), 10, s);
    memory dyd = p.as(dym, p.conv_bd.diff_dst_desc(), 11, s);
    memory dxu(p.x, eng(), dx.data<float>());
    memory dxm = p.conv_bd.diff_src_desc() == p.x ? dxu : p.buffer(12, p.conv_bd.diff_src_desc());
    p.conv_bd_p.execute(s, {{DNNL_ARG_DIFF_DST, dyd}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}});
    if (dxm != dxu) dnnl::reorder(dxm, dxu).execute(s, dxm, dxu);
  }
  s.wait();
  return {dx, dw, db};
}

std::vector<std::vector<int64_t>> BlockShape(const std::vector<int64_t>& x,
                                             const std::vector<int64_t>& w,
                                             const std::vector<int64_t>& b, bool,
                                             bool x_last, bool out_last) {
  Plan& p = plan_for(x, w, x_last, out_last);
  return {out_shape(p, out_last), {static_cast<int64_t>(p.pool.workspace_desc().get_size())}};
}

std::vector<paddle::DataType> BlockDtype(const paddle::DataType& x, const paddle::DataType&,
                                         const paddle::DataType&) {
  return {x, paddle::DataType::UINT8};
}

PD_BUILD_OP(mnist_conv_block)
    .Inputs({"X", "W", "B"})
    .Outputs({"Out", "Workspace"})
    .Attrs({"input_grad: bool", "x_last: bool", "out_last: bool"})
    .SetKernelFn(PD_KERNEL(BlockForward))
    .SetInferShapeFn(PD_INFER_SHAPE(BlockShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(BlockDtype));

PD_BUILD_GRAD_OP(mnist_conv_block)
    .Inputs({"X", "W", "B", "Out", "Workspace", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W"), paddle::Grad("B")})
    .Attrs({"input_grad: bool", "x_last: bool", "out_last: bool"})
    .SetKernelFn(PD_KERNEL(BlockBackward));
