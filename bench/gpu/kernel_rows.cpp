#include "bench/gpu/kernel_rows.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/op_cases.h"

namespace elr::bench::gpu {

namespace {

int64_t numel(const Conv2dShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t out_numel(const Conv2dShape& s) { return int64_t(s.n) * s.k * s.p() * s.q(); }
int64_t weight_numel(const Conv2dShape& s) { return int64_t(s.k) * s.c * s.r * s.s; }
double conv_flop(const Conv2dShape& s) { return 2.0 * s.n * s.k * double(s.c) * s.r * s.s * s.p() * s.q(); }
double conv_bytes(const Conv2dShape& s) { return 4.0 * (numel(s) + weight_numel(s) + out_numel(s)); }
int64_t pool_in(const PoolShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t maxpool_out(const PoolShape& s) { return int64_t(s.n) * s.c * (s.h / 2) * (s.w / 2); }
int64_t bn_count(const BatchNormShape& s) { return int64_t(s.n) * s.c * s.hw; }

// The images the conv validation checks: the first and the last.
std::vector<int> checked_images(int n) { return n == 1 ? std::vector<int>{0} : std::vector<int>{0, n - 1}; }

template <class T>
std::vector<T> gather_images(const std::vector<float>& t, int64_t per_image, const std::vector<int>& images) {
  std::vector<T> out;
  out.reserve(images.size() * per_image);
  for (int i : images) out.insert(out.end(), t.begin() + i * per_image, t.begin() + (i + 1) * per_image);
  return out;
}

Conv2dShape with_batch(Conv2dShape s, int n) {
  s.n = n;
  return s;
}

// Wraps an optional peer into a call bound to this row's buffers.
template <class F, class Bind>
std::function<void()> bind_if(const F& f, Bind bind) {
  return f ? std::function<void()>(bind) : std::function<void()>();
}

class TensorList {
 public:
  explicit TensorList(const std::vector<kernels::MultiTensorDesc>& descs)
      : list_(kernels::make_multi_tensor_list(descs.data(), static_cast<int>(descs.size()))) {}
  ~TensorList() { kernels::free_multi_tensor_list(list_); }
  TensorList(const TensorList&) = delete;
  TensorList& operator=(const TensorList&) = delete;
  const kernels::MultiTensorList& get() const { return list_; }

 private:
  kernels::MultiTensorList list_;
};

// Parameters, gradients and momentum buffers of a list of tensors, on the host and the device.
struct ParamBuffers {
  std::vector<std::vector<float>> w, g, v;
  std::vector<DeviceBuffer<float>> dw, dg, dv;
  int64_t total = 0;
  explicit ParamBuffers(const std::vector<int64_t>& sizes) {
    uint32_t seed = 100;
    for (int64_t n : sizes) {
      w.push_back(random_floats(n, seed++));
      g.push_back(random_floats(n, seed++, -0.1f, 0.1f));
      v.push_back(random_floats(n, seed++, -0.2f, 0.2f));
      dw.emplace_back(w.back());
      dg.emplace_back(g.back());
      dv.emplace_back(v.back());
      total += n;
    }
  }
  std::vector<kernels::MultiTensorDesc> descs() const {
    std::vector<kernels::MultiTensorDesc> d;
    for (size_t t = 0; t < w.size(); ++t) d.push_back({dw[t].get(), dg[t].get(), dv[t].get(), int64_t(w[t].size())});
    return d;
  }
  void restore() {
    for (size_t t = 0; t < w.size(); ++t) {
      dw[t].upload(w[t]);
      dv[t].upload(v[t]);
    }
  }
};

std::string list_case(const ParamListUse& u, int64_t total) {
  return fmt::format("{} ({} tensors, {} values)", u.label, u.sizes.size(), total);
}

}  // namespace

// ---- conv -------------------------------------------------------------------------------------------
GpuKernelRow conv_forward_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u, const ConvForwardCuda& ours,
                              const ConvForwardCuda& vendor, const std::string& vendor_name) {
  const Conv2dShape s = u.shape;
  const Stream st = rr.stream();
  const auto x = random_floats(numel(s), 1), w = random_floats(weight_numel(s), 2);
  DeviceBuffer<float> dx(x), dw(w), dy(out_numel(s));
  const auto images = checked_images(s.n);
  const Conv2dShape small = with_batch(s, int(images.size()));
  const auto xs = gather_images<double>(x, numel(s) / s.n, images), wd = to_double(w);
  std::vector<double> ref(out_numel(small));
  kernels::conv2d_forward_naive<double>(small, xs.data(), wd.data(), ref.data());

  RowSpec spec;
  spec.kernel = "conv2d forward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.flop = conv_flop(s);
  spec.bytes = conv_bytes(s);
  spec.ours = [&] { ours(s, dx.get(), dw.get(), dy.get(), st); };
  spec.vendor = bind_if(vendor, [&] { vendor(s, dx.get(), dw.get(), dy.get(), st); });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] { dy.poison(st); };
  spec.check = [&] {
    Checker ck("conv2d forward", 1e-4);
    ck.check("y", gather_images<float>(dy.download(), out_numel(s) / s.n, images), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow conv_backward_data_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u, const ConvBackwardDataCuda& ours,
                                    const ConvBackwardDataCuda& vendor, const std::string& vendor_name) {
  const Conv2dShape s = u.shape;
  const Stream st = rr.stream();
  const auto dy = random_floats(out_numel(s), 3), w = random_floats(weight_numel(s), 2);
  DeviceBuffer<float> ddy(dy), dw(w), ddx(numel(s));
  const auto images = checked_images(s.n);
  const Conv2dShape small = with_batch(s, int(images.size()));
  const auto dys = gather_images<double>(dy, out_numel(s) / s.n, images), wd = to_double(w);
  std::vector<double> ref(numel(small));
  kernels::conv2d_backward_data_naive<double>(small, dys.data(), wd.data(), ref.data());

  RowSpec spec;
  spec.kernel = "conv2d backward-data";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.flop = conv_flop(s);
  spec.bytes = conv_bytes(s);
  spec.ours = [&] { ours(s, ddy.get(), dw.get(), ddx.get(), st); };
  spec.vendor = bind_if(vendor, [&] { vendor(s, ddy.get(), dw.get(), ddx.get(), st); });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] { ddx.poison(st); };
  spec.check = [&] {
    Checker ck("conv2d backward-data", 1e-4);
    ck.check("dx", gather_images<float>(ddx.download(), numel(s) / s.n, images), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow conv_backward_weight_row(RowRunner& rr, const ShapeUse<Conv2dShape>& u,
                                      const ConvBackwardWeightCuda& ours, const ConvBackwardWeightCuda& vendor,
                                      const std::string& vendor_name) {
  const Conv2dShape s = u.shape;
  const Stream st = rr.stream();
  const auto x = random_floats(numel(s), 1), dy = random_floats(out_numel(s), 3);
  const auto images = checked_images(s.n);
  const int64_t per_out = out_numel(s) / s.n;
  // dy is zero outside the checked images during validation, so the oracle on those images is exact.
  std::vector<float> dy_sparse(dy.size(), 0.0f);
  for (int i : images) std::copy(dy.begin() + i * per_out, dy.begin() + (i + 1) * per_out, dy_sparse.begin() + i * per_out);
  DeviceBuffer<float> dx(x), ddy(dy_sparse), ddw(weight_numel(s));
  DeviceBuffer<char> workspace(kernels::conv2d_backward_weight_workspace_bytes(s));
  const kernels::Workspace ws{workspace.get(), workspace.bytes()};
  const Conv2dShape small = with_batch(s, int(images.size()));
  const auto xs = gather_images<double>(x, numel(s) / s.n, images), dys = gather_images<double>(dy, per_out, images);
  std::vector<double> ref(weight_numel(s));
  kernels::conv2d_backward_weight_naive<double>(small, xs.data(), dys.data(), ref.data());

  RowSpec spec;
  spec.kernel = "conv2d backward-weight";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.flop = conv_flop(s);
  spec.bytes = conv_bytes(s);
  spec.ours = [&] { ours(s, dx.get(), ddy.get(), ddw.get(), ws, st); };
  spec.vendor = bind_if(vendor, [&] { vendor(s, dx.get(), ddy.get(), ddw.get(), ws, st); });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] { ddw.poison(st); };
  spec.check = [&] {
    Checker ck("conv2d backward-weight", 1e-4);
    ck.check("dw", ddw.download(), ref);
    return ck.worst();
  };
  spec.before_timing = [&] { ddy.upload(dy); };
  return rr.run(spec);
}

// ---- batch norm ----------------------------------------------------------------------------------
namespace {
std::string bn_case(const BnUse& u) { return testing::case_name(u.shape) + (u.relu ? "+relu" : ""); }

struct BnForwardReference {
  std::vector<double> y, mean, invstd, running_mean, running_var;
};
BnForwardReference bn_forward_reference(const BatchNormShape& s, const BatchNormParams& p, const std::vector<float>& x,
                                        const std::vector<float>& gamma, const std::vector<float>& beta,
                                        const std::vector<float>& rm, const std::vector<float>& rv) {
  BnForwardReference r;
  r.y.resize(x.size());
  r.mean.resize(s.c);
  r.invstd.resize(s.c);
  r.running_mean = to_double(rm);
  r.running_var = to_double(rv);
  const auto xd = to_double(x), gd = to_double(gamma), bd = to_double(beta);
  kernels::batchnorm_forward_train_cpu<double>(s, p, xd.data(), gd.data(), bd.data(), r.y.data(), r.mean.data(),
                                               r.invstd.data(), r.running_mean.data(), r.running_var.data());
  return r;
}
}  // namespace

GpuKernelRow bn_forward_row(RowRunner& rr, const BnUse& u, const BnForwardCuda& ours, const BnForwardCuda& vendor,
                            const std::string& vendor_name) {
  const BatchNormShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t count = bn_count(s);
  BatchNormParams p;
  p.relu = u.relu;
  // A per-channel offset, so a kernel that forgets the mean is caught.
  const auto x = random_floats(count, 4, 0.5f, 2.5f);
  const auto gamma = random_floats(s.c, 5, 0.5f, 1.5f), beta = random_floats(s.c, 6, -0.5f, 0.5f);
  const auto rm = random_floats(s.c, 7), rv = random_floats(s.c, 8, 0.5f, 1.5f);
  DeviceBuffer<float> dx(x), dgamma(gamma), dbeta(beta), dy(count), dmean(s.c), dinvstd(s.c), drm(rm), drv(rv);
  const BnForwardReference ref = bn_forward_reference(s, p, x, gamma, beta, rm, rv);

  RowSpec spec;
  spec.kernel = u.relu ? "batchnorm+relu forward" : "batchnorm forward";
  spec.shape = bn_case(u);
  spec.nets = u.nets;
  spec.bytes = 8.0 * count;
  spec.ours = [&] {
    ours(s, p, dx.get(), dgamma.get(), dbeta.get(), dy.get(), dmean.get(), dinvstd.get(), drm.get(), drv.get(), st);
  };
  spec.vendor = bind_if(vendor, [&] {
    vendor(s, p, dx.get(), dgamma.get(), dbeta.get(), dy.get(), dmean.get(), dinvstd.get(), drm.get(), drv.get(), st);
  });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] {
    dy.poison(st);
    dmean.poison(st);
    dinvstd.poison(st);
    ELR_CUDA_CHECK(cudaStreamSynchronize(st));
    drm.upload(rm);
    drv.upload(rv);
  };
  spec.check = [&] {
    Checker ck("batchnorm forward", 1e-4);
    ck.check("y", dy.download(), ref.y);
    ck.check("save_mean", dmean.download(), ref.mean);
    ck.check("save_invstd", dinvstd.download(), ref.invstd);
    ck.check("running_mean", drm.download(), ref.running_mean);
    ck.check("running_var", drv.download(), ref.running_var);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow bn_backward_row(RowRunner& rr, const BnUse& u, const BnBackwardCuda& ours, const BnBackwardCuda& vendor,
                             const std::string& vendor_name) {
  const BatchNormShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t count = bn_count(s);
  BatchNormParams p;
  p.relu = u.relu;
  const auto x = random_floats(count, 4, 0.5f, 2.5f), dy = random_floats(count, 9);
  const auto gamma = random_floats(s.c, 5, 0.5f, 1.5f), beta = random_floats(s.c, 6, -0.5f, 0.5f);
  const auto rm = random_floats(s.c, 7), rv = random_floats(s.c, 8, 0.5f, 1.5f);
  // The backward's inputs come from the reference forward, so this row does not depend on the forward kernel.
  const BnForwardReference fwd = bn_forward_reference(s, p, x, gamma, beta, rm, rv);
  const auto y = to_float(fwd.y), mean = to_float(fwd.mean), invstd = to_float(fwd.invstd);
  std::vector<double> ref_dx(count), ref_dg(s.c), ref_db(s.c);
  {
    const auto xd = to_double(x), yd = to_double(y), dyd = to_double(dy), gd = to_double(gamma),
               md = to_double(mean), id = to_double(invstd);
    kernels::batchnorm_backward_cpu<double>(s, p, xd.data(), yd.data(), dyd.data(), gd.data(), md.data(), id.data(),
                                            ref_dx.data(), ref_dg.data(), ref_db.data());
  }
  DeviceBuffer<float> dx(x), ddy(dy), dgamma(gamma), dmean(mean), dinvstd(invstd), dout_y(y), ddx(count), ddg(s.c),
      ddb(s.c);

  RowSpec spec;
  spec.kernel = u.relu ? "batchnorm+relu backward" : "batchnorm backward";
  spec.shape = bn_case(u);
  spec.nets = u.nets;
  spec.bytes = 16.0 * count;
  spec.ours = [&] {
    ours(s, p, dx.get(), dout_y.get(), ddy.get(), dgamma.get(), dmean.get(), dinvstd.get(), ddx.get(), ddg.get(),
         ddb.get(), st);
  };
  spec.vendor = bind_if(vendor, [&] {
    vendor(s, p, dx.get(), dout_y.get(), ddy.get(), dgamma.get(), dmean.get(), dinvstd.get(), ddx.get(), ddg.get(),
           ddb.get(), st);
  });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] {
    ddx.poison(st);
    ddg.poison(st);
    ddb.poison(st);
  };
  spec.check = [&] {
    Checker ck("batchnorm backward", 1e-4);
    ck.check("dx", ddx.download(), ref_dx);
    ck.check("dgamma", ddg.download(), ref_dg);
    ck.check("dbeta", ddb.download(), ref_db);
    return ck.worst();
  };
  return rr.run(spec);
}

// ---- pooling --------------------------------------------------------------------------------------
GpuKernelRow maxpool_forward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const MaxPoolForwardCuda& ours) {
  const PoolShape s = u.shape;
  const Stream st = rr.stream();
  const auto x = random_floats(pool_in(s), 10);
  std::vector<double> ref_y(maxpool_out(s));
  std::vector<int32_t> ref_arg(maxpool_out(s));
  {
    const auto xd = to_double(x);
    kernels::maxpool2x2_forward_cpu<double>(s, xd.data(), ref_y.data(), ref_arg.data());
  }
  DeviceBuffer<float> dx(x), dy(maxpool_out(s));
  DeviceBuffer<int32_t> darg(maxpool_out(s));
  RowSpec spec;
  spec.kernel = "maxpool 2x2 forward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 4.0 * pool_in(s) + 8.0 * maxpool_out(s);
  spec.ours = [&] { ours(s, dx.get(), dy.get(), darg.get(), st); };
  spec.before_validation = [&] {
    dy.poison(st);
    darg.poison(st);
  };
  spec.check = [&] {
    Checker ck("maxpool forward", 1e-6);
    ck.check("y", dy.download(), ref_y);
    const auto arg = darg.download();
    for (size_t i = 0; i < arg.size(); ++i)
      if (arg[i] != ref_arg[i])
        throw ValidationError(fmt::format("validation failed: maxpool forward output 'argmax' is {} at {}, the CPU "
                                          "reference has {}", arg[i], i, ref_arg[i]));
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow maxpool_backward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const MaxPoolBackwardCuda& ours) {
  const PoolShape s = u.shape;
  const Stream st = rr.stream();
  const auto x = random_floats(pool_in(s), 10), dy = random_floats(maxpool_out(s), 11);
  std::vector<double> y(maxpool_out(s)), ref_dx(pool_in(s));
  std::vector<int32_t> arg(maxpool_out(s));
  {
    const auto xd = to_double(x), dyd = to_double(dy);
    kernels::maxpool2x2_forward_cpu<double>(s, xd.data(), y.data(), arg.data());
    kernels::maxpool2x2_backward_cpu<double>(s, arg.data(), dyd.data(), ref_dx.data());
  }
  DeviceBuffer<int32_t> darg(arg);
  DeviceBuffer<float> ddy(dy), ddx(pool_in(s));
  RowSpec spec;
  spec.kernel = "maxpool 2x2 backward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 8.0 * maxpool_out(s) + 4.0 * pool_in(s);
  spec.ours = [&] { ours(s, darg.get(), ddy.get(), ddx.get(), st); };
  spec.before_validation = [&] { ddx.poison(st); };
  spec.check = [&] {
    Checker ck("maxpool backward", 1e-6);
    ck.check("dx", ddx.download(), ref_dx);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow avgpool_forward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const AvgPoolForwardCuda& ours) {
  const PoolShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t out = int64_t(s.n) * s.c;
  const auto x = random_floats(pool_in(s), 12);
  std::vector<double> ref(out);
  {
    const auto xd = to_double(x);
    kernels::global_avgpool_forward_cpu<double>(s, xd.data(), ref.data());
  }
  DeviceBuffer<float> dx(x), dy(out);
  RowSpec spec;
  spec.kernel = "global avgpool forward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 4.0 * (pool_in(s) + out);
  spec.ours = [&] { ours(s, dx.get(), dy.get(), st); };
  spec.before_validation = [&] { dy.poison(st); };
  spec.check = [&] {
    Checker ck("global avgpool forward", 1e-5);
    ck.check("y", dy.download(), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow avgpool_backward_row(RowRunner& rr, const ShapeUse<PoolShape>& u, const AvgPoolBackwardCuda& ours) {
  const PoolShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t out = int64_t(s.n) * s.c;
  const auto dy = random_floats(out, 13);
  std::vector<double> ref(pool_in(s));
  {
    const auto dyd = to_double(dy);
    kernels::global_avgpool_backward_cpu<double>(s, dyd.data(), ref.data());
  }
  DeviceBuffer<float> ddy(dy), ddx(pool_in(s));
  RowSpec spec;
  spec.kernel = "global avgpool backward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 4.0 * (pool_in(s) + out);
  spec.ours = [&] { ours(s, ddy.get(), ddx.get(), st); };
  spec.before_validation = [&] { ddx.poison(st); };
  spec.check = [&] {
    Checker ck("global avgpool backward", 1e-6);
    ck.check("dx", ddx.download(), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

// ---- softmax cross-entropy --------------------------------------------------------------------------

GpuKernelRow cross_entropy_forward_row(RowRunner& rr, const ShapeUse<CrossEntropyShape>& u,
                                       const CrossEntropyForwardCuda& ours) {
  const CrossEntropyShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t count = int64_t(s.n) * s.classes;
  const auto logits = random_floats(count, 14, -3.0f, 3.0f);
  const auto labels = random_labels(s.n, s.classes, 15);
  std::vector<double> ref_probs(count);
  double ref_loss = 0;
  int64_t ref_correct = 0;
  {
    const auto ld = to_double(logits);
    kernels::cross_entropy_forward_cpu<double>(s, ld.data(), labels.data(), &ref_loss, ref_probs.data(), &ref_correct);
  }
  DeviceBuffer<float> dlogits(logits), dprobs(count), dloss(1);
  DeviceBuffer<int32_t> dlabels(labels);
  DeviceBuffer<int64_t> dcorrect(1);
  RowSpec spec;
  spec.kernel = "softmax cross-entropy forward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 8.0 * count + 4.0 * s.n;
  spec.ours = [&] { ours(s, dlogits.get(), dlabels.get(), dloss.get(), dprobs.get(), dcorrect.get(), st); };
  spec.before_validation = [&] {
    dprobs.poison(st);
    dloss.poison(st);
    dcorrect.poison(st);
  };
  spec.check = [&] {
    Checker ck("cross-entropy forward", 1e-5);
    ck.check("probs", dprobs.download(), ref_probs);
    ck.check("loss", dloss.download(), std::vector<double>{ref_loss});
    const int64_t correct = dcorrect.download()[0];
    if (correct != ref_correct)
      throw ValidationError(fmt::format("validation failed: cross-entropy forward output 'correct' is {}, the CPU "
                                        "reference has {}", correct, ref_correct));
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow cross_entropy_backward_row(RowRunner& rr, const ShapeUse<CrossEntropyShape>& u,
                                        const CrossEntropyBackwardCuda& ours) {
  const CrossEntropyShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t count = int64_t(s.n) * s.classes;
  const auto logits = random_floats(count, 14, -3.0f, 3.0f);
  const auto labels = random_labels(s.n, s.classes, 15);
  std::vector<double> probs_d(count);
  double loss = 0;
  int64_t correct = 0;
  {
    const auto ld = to_double(logits);
    kernels::cross_entropy_forward_cpu<double>(s, ld.data(), labels.data(), &loss, probs_d.data(), &correct);
  }
  const auto probs = to_float(probs_d);
  const float dloss_value = 0.75f;
  std::vector<double> ref(count);
  {
    const auto pd = to_double(probs);
    kernels::cross_entropy_backward_cpu<double>(s, pd.data(), labels.data(), double(dloss_value), ref.data());
  }
  DeviceBuffer<float> dprobs(probs), ddlogits(count);
  DeviceBuffer<int32_t> dlabels(labels);
  RowSpec spec;
  spec.kernel = "softmax cross-entropy backward";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.bytes = 8.0 * count + 4.0 * s.n;
  spec.ours = [&] { ours(s, dprobs.get(), dlabels.get(), dloss_value, ddlogits.get(), st); };
  spec.before_validation = [&] { ddlogits.poison(st); };
  spec.check = [&] {
    Checker ck("cross-entropy backward", 1e-5);
    ck.check("dlogits", ddlogits.download(), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

// ---- linear (SGEMM) ---------------------------------------------------------------------------------
GpuKernelRow linear_forward_row(RowRunner& rr, const ShapeUse<LinearShape>& u, const LinearForwardCuda& ours,
                                const LinearForwardCuda& vendor, const std::string& vendor_name) {
  const LinearShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t nx = int64_t(s.n) * s.in, nw = int64_t(s.out) * s.in, ny = int64_t(s.n) * s.out;
  const auto x = random_floats(nx, 16), w = random_floats(nw, 17), b = random_floats(s.out, 18);
  std::vector<double> ref(ny);
  {
    const auto xd = to_double(x), wd = to_double(w), bd = to_double(b);
    kernels::linear_forward_cpu<double>(s, xd.data(), wd.data(), bd.data(), ref.data());
  }
  DeviceBuffer<float> dx(x), dw(w), db(b), dy(ny);
  RowSpec spec;
  spec.kernel = "linear forward (SGEMM + bias)";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.flop = 2.0 * double(s.n) * s.in * s.out;
  spec.bytes = 4.0 * (nx + nw + s.out + ny);
  spec.ours = [&] { ours(s, dx.get(), dw.get(), db.get(), dy.get(), st); };
  spec.vendor = bind_if(vendor, [&] { vendor(s, dx.get(), dw.get(), db.get(), dy.get(), st); });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] { dy.poison(st); };
  spec.check = [&] {
    Checker ck("linear forward", 1e-4);
    ck.check("y", dy.download(), ref);
    return ck.worst();
  };
  return rr.run(spec);
}

GpuKernelRow linear_backward_row(RowRunner& rr, const ShapeUse<LinearShape>& u, const LinearBackwardCuda& ours,
                                 const LinearBackwardCuda& vendor, const std::string& vendor_name) {
  const LinearShape s = u.shape;
  const Stream st = rr.stream();
  const int64_t nx = int64_t(s.n) * s.in, nw = int64_t(s.out) * s.in, ny = int64_t(s.n) * s.out;
  const auto x = random_floats(nx, 16), w = random_floats(nw, 17), dy = random_floats(ny, 19);
  std::vector<double> ref_dx(nx), ref_dw(nw), ref_db(s.out);
  {
    const auto xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
    kernels::linear_backward_cpu<double>(s, xd.data(), wd.data(), dyd.data(), ref_dx.data(), ref_dw.data(),
                                         ref_db.data());
  }
  DeviceBuffer<float> dx(x), dw(w), ddy(dy), ddx(nx), ddw(nw), ddb(s.out);
  DeviceBuffer<char> workspace(kernels::linear_backward_workspace_bytes(s));
  const kernels::Workspace ws{workspace.get(), workspace.bytes()};
  RowSpec spec;
  spec.kernel = "linear backward (dx, dW, db)";
  spec.shape = testing::case_name(s);
  spec.nets = u.nets;
  spec.flop = 4.0 * double(s.n) * s.in * s.out;
  spec.bytes = 4.0 * (2 * nx + 2 * nw + ny + s.out);
  spec.ours = [&] { ours(s, dx.get(), dw.get(), ddy.get(), ddx.get(), ddw.get(), ddb.get(), ws, st); };
  spec.vendor = bind_if(vendor, [&] { vendor(s, dx.get(), dw.get(), ddy.get(), ddx.get(), ddw.get(), ddb.get(), ws, st); });
  spec.vendor_name = vendor_name;
  spec.before_validation = [&] {
    ddx.poison(st);
    ddw.poison(st);
    ddb.poison(st);
  };
  spec.check = [&] {
    Checker ck("linear backward", 1e-4);
    ck.check("dx", ddx.download(), ref_dx);
    ck.check("dw", ddw.download(), ref_dw);
    ck.check("db", ddb.download(), ref_db);
    return ck.worst();
  };
  return rr.run(spec);
}

// ---- multi-tensor statistics and SGD ----------------------------------------------------------------
GpuKernelRow tensor_stats_row(RowRunner& rr, const ParamListUse& u, const TensorStatsCuda& ours) {
  const Stream st = rr.stream();
  ParamBuffers p(u.sizes);
  TensorList list(p.descs());
  DeviceBuffer<kernels::TensorStats> dstats(u.sizes.size());
  RowSpec spec;
  spec.kernel = "layer statistics (multi-tensor)";
  spec.shape = list_case(u, p.total);
  spec.nets = u.label;
  spec.bytes = 12.0 * p.total;
  spec.ours = [&] { ours(list.get(), dstats.get(), st); };
  spec.before_validation = [&] { dstats.poison(st); };
  spec.check = [&] {
    const auto got = dstats.download();
    double worst = 0;
    for (size_t t = 0; t < u.sizes.size(); ++t) {
      double ref[4] = {0, 0, 0, 0};
      for (int64_t i = 0; i < u.sizes[t]; ++i) {
        const double w = p.w[t][i], g = p.g[t][i], v = p.v[t][i];
        ref[0] += w * w;
        ref[1] += g * g;
        ref[2] += g * w;
        ref[3] += v * v;
      }
      // Each statistic relative to its own magnitude (|<g, W>| can be far below |g||W|).
      const double got_v[4] = {got[t].w2, got[t].g2, got[t].gw, got[t].v2};
      const char* names[4] = {"w2", "g2", "gw", "v2"};
      for (int k = 0; k < 4; ++k) {
        const double scale = k == 2 ? std::sqrt(ref[0] * ref[1]) : std::abs(ref[k]);
        const double e = std::abs(got_v[k] - ref[k]) / std::max(scale, 1e-300);
        if (!(e <= 1e-6))
          throw ValidationError(fmt::format("validation failed: layer statistics output '{}' of tensor {} ({} values) "
                                            "is {}, the CPU reference has {}", names[k], t, u.sizes[t], got_v[k], ref[k]));
        worst = std::max(worst, e);
      }
    }
    return worst;
  };
  return rr.run(spec);
}

GpuKernelRow sgd_update_row(RowRunner& rr, const ParamListUse& u, const SgdUpdateCuda& ours) {
  const Stream st = rr.stream();
  ParamBuffers p(u.sizes);
  TensorList list(p.descs());
  DeviceBuffer<double> ddw2(u.sizes.size());
  kernels::SgdParams sp;
  sp.lr = 0.1f;
  sp.momentum = 0.9f;
  sp.weight_decay = 5e-4f;
  sp.first_step = false;
  RowSpec spec;
  spec.kernel = "sgd update (multi-tensor, momentum 0.9, wd)";
  spec.shape = list_case(u, p.total);
  spec.nets = u.label;
  spec.bytes = 20.0 * p.total;
  spec.ours = [&] { ours(list.get(), sp, nullptr, ddw2.get(), st); };
  spec.before_validation = [&] {
    ddw2.poison(st);
    ELR_CUDA_CHECK(cudaStreamSynchronize(st));
    p.restore();
  };
  spec.check = [&] {
    Checker ck("sgd update", 1e-6);
    const auto dw2 = ddw2.download();
    for (size_t t = 0; t < u.sizes.size(); ++t) {
      const int64_t n = u.sizes[t];
      std::vector<double> ref_w(n), ref_v(n);
      double ref_dw2 = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double d = double(p.g[t][i]) + double(sp.weight_decay) * p.w[t][i];
        ref_v[i] = double(sp.momentum) * p.v[t][i] + d;
        const double step = double(sp.lr) * ref_v[i];
        ref_w[i] = p.w[t][i] - step;
        ref_dw2 += step * step;
      }
      ck.check("w", p.dw[t].download(), ref_w);
      ck.check("v", p.dv[t].download(), ref_v);
      const float got_dw2 = static_cast<float>(dw2[t]);
      ck.check("|dW|^2", &got_dw2, &ref_dw2, 1);
    }
    return ck.worst();
  };
  return rr.run(spec);
}

}  // namespace elr::bench::gpu
