// The pieces of data-parallel training that one process can check (the runs over several MPI ranks
// are tests/mpi/): batch norm statistics split across batches and combined, the split kernels'
// bits, each rank's share of a batch, the gradient buckets of the device all-reduce, and the
// checks a run over several ranks makes before its first step.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "engine/comm.h"
#include "engine/error.h"
#include "experiments/run/run_ranks.h"
#include "kernels/kernels.h"
#include "optim/data_parallel.h"
#include "optim/grad_buckets.h"
#include "tests/gradcheck.h"

using namespace elr;
using namespace elr::kernels;
using elr::testing::random_vector;

namespace {

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace

TEST_CASE("batchnorm: the split entry points give the fused kernels' bits", "[bn][data-parallel]") {
  const BatchNormShape sh{6, 3, 20};
  const size_t n = size_t(sh.n) * sh.c * sh.hw;
  for (const bool relu : {false, true}) {
    BatchNormParams p;
    p.relu = relu;
    const auto x = cast<float>(random_vector(n, 11, 1.5, 4.5)), dy = cast<float>(random_vector(n, 12));
    const auto gamma = cast<float>(random_vector(sh.c, 13, 0.5, 1.5)), beta = cast<float>(random_vector(sh.c, 14));
    std::vector<float> y(n), mean(sh.c), invstd(sh.c), rm(sh.c, 0.5f), rv(sh.c, 2.0f);
    batchnorm_forward_train_cpu(sh, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                rm.data(), rv.data());
    std::vector<BatchNormMoments> moments(sh.c);
    batchnorm_moments_cpu(sh, x.data(), moments.data());
    std::vector<float> y2(n), mean2(sh.c), invstd2(sh.c), rm2(sh.c, 0.5f), rv2(sh.c, 2.0f);
    batchnorm_forward_apply_cpu(sh, p, x.data(), gamma.data(), beta.data(), moments.data(), y2.data(), mean2.data(),
                                invstd2.data(), rm2.data(), rv2.data());
    CHECK(y2 == y);
    CHECK(mean2 == mean);
    CHECK(invstd2 == invstd);
    CHECK(rm2 == rm);
    CHECK(rv2 == rv);

    std::vector<float> dx(n), dgamma(sh.c), dbeta(sh.c);
    batchnorm_backward_cpu(sh, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                           dgamma.data(), dbeta.data());
    std::vector<float> dx2(n), dgamma2(sh.c), dbeta2(sh.c);
    std::vector<BatchNormGradSums> sums(sh.c);
    batchnorm_backward_sums_cpu(sh, p, x.data(), y.data(), dy.data(), mean.data(), invstd.data(), dx2.data(),
                                sums.data(), dgamma2.data(), dbeta2.data());
    batchnorm_backward_dx_cpu(sh, p, x.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), sums.data(),
                              dx2.data());
    CHECK(dx2 == dx);
    CHECK(dgamma2 == dgamma);
    CHECK(dbeta2 == dbeta);
  }
}

TEST_CASE("batchnorm: two halves with combined statistics compute the whole batch's batch norm",
          "[bn][data-parallel]") {
  // What two ranks with --sync-bn compute, in double so that only rounding separates the two ways.
  const BatchNormShape whole{8, 3, 10}, half{4, 3, 10};
  const size_t n = size_t(whole.n) * whole.c * whole.hw, h = n / 2;
  BatchNormParams p;
  p.relu = true;
  // Shifted halves: the second half's mean is far from the first half's shift.
  std::vector<double> x = random_vector(n, 21, 0.0, 3.0);
  for (size_t i = h; i < n; ++i) x[i] += 5.0;
  const auto dy = random_vector(n, 22), gamma = random_vector(whole.c, 23, 0.7, 1.3), beta = random_vector(whole.c, 24);

  std::vector<double> y(n), mean(whole.c), invstd(whole.c), rm(whole.c, 0.5), rv(whole.c, 2.0);
  batchnorm_forward_train_cpu(whole, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                              rm.data(), rv.data());
  std::vector<double> dx(n), dgamma(whole.c), dbeta(whole.c);
  batchnorm_backward_cpu(whole, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                         dgamma.data(), dbeta.data());

  std::vector<BatchNormMoments> m0(whole.c), m1(whole.c), combined(whole.c);
  batchnorm_moments_cpu(half, x.data(), m0.data());
  batchnorm_moments_cpu(half, x.data() + h, m1.data());
  for (int ch = 0; ch < whole.c; ++ch) combined[ch] = combine_batchnorm_moments(m0[ch], m1[ch]);
  std::vector<double> y2(n), dx2(n);
  std::vector<BatchNormGradSums> s0(whole.c), s1(whole.c);
  double dgamma2[2][3], dbeta2[2][3];
  for (int r = 0; r < 2; ++r) {
    std::vector<double> mean_r(whole.c), invstd_r(whole.c), rm_r(whole.c, 0.5), rv_r(whole.c, 2.0);
    batchnorm_forward_apply_cpu(half, p, x.data() + r * h, gamma.data(), beta.data(), combined.data(), y2.data() + r * h,
                                mean_r.data(), invstd_r.data(), rm_r.data(), rv_r.data());
    for (int ch = 0; ch < whole.c; ++ch) {
      CHECK(mean_r[ch] == Approx(mean[ch]).epsilon(1e-12));
      CHECK(invstd_r[ch] == Approx(invstd[ch]).epsilon(1e-12));
      CHECK(rm_r[ch] == Approx(rm[ch]).epsilon(1e-12));
      CHECK(rv_r[ch] == Approx(rv[ch]).epsilon(1e-12));  // unbiased over all 80 values
    }
    batchnorm_backward_sums_cpu(half, p, x.data() + r * h, y2.data() + r * h, dy.data() + r * h, mean.data(),
                                invstd.data(), dx2.data() + r * h, (r ? s1 : s0).data(), dgamma2[r], dbeta2[r]);
  }
  for (size_t i = 0; i < n; ++i) REQUIRE(y2[i] == Approx(y[i]).margin(1e-12));
  std::vector<BatchNormGradSums> total(whole.c);
  for (int ch = 0; ch < whole.c; ++ch) {
    total[ch] = {s0[ch].count + s1[ch].count, s0[ch].g + s1[ch].g, s0[ch].g_xc + s1[ch].g_xc};
    CHECK(dgamma2[0][ch] + dgamma2[1][ch] == Approx(dgamma[ch]).epsilon(1e-12));
    CHECK(dbeta2[0][ch] + dbeta2[1][ch] == Approx(dbeta[ch]).epsilon(1e-12));
  }
  for (int r = 0; r < 2; ++r)
    batchnorm_backward_dx_cpu(half, p, x.data() + r * h, dy.data() + r * h, gamma.data(), mean.data(), invstd.data(),
                              total.data(), dx2.data() + r * h);
  for (size_t i = 0; i < n; ++i) REQUIRE(dx2[i] == Approx(dx[i]).margin(1e-12));
}

TEST_CASE("data parallel: each rank's share of a batch is its slice, in order", "[data-parallel]") {
  Batch global;
  global.images = Tensor::empty({4, 1, 2, 2});
  global.labels = Tensor::empty({4}, elr::DType::I32);
  for (int i = 0; i < 16; ++i) global.images.data()[i] = float(i);
  for (int i = 0; i < 4; ++i) static_cast<int32_t*>(global.labels.raw())[i] = 10 + i;
  global.epoch = 3;
  const Batch second = rank_share(global, 1, 2);
  CHECK(second.images.shape() == Shape{2, 1, 2, 2});
  CHECK(second.images.to_vector() == std::vector<float>{8, 9, 10, 11, 12, 13, 14, 15});
  CHECK(static_cast<int32_t*>(second.labels.raw())[0] == 12);
  CHECK(static_cast<int32_t*>(second.labels.raw())[1] == 13);
  CHECK(second.epoch == 3);
  CHECK_THROWS_WITH(rank_share(global, 0, 3), Catch::Contains("no equal share"));
}

TEST_CASE("grad buckets: the backward's order, packed to the cap, out in order", "[data-parallel]") {
  // Five parameters of 1000, 10, 3000, 10 and 500 floats; a 4000-byte cap (1000 floats).
  GradBuckets b({1000, 10, 3000, 10, 500}, 4000);
  // From the last parameter back: {4, 3, 2} reaches the cap with 2, {1, 0} is the rest.
  REQUIRE(b.buckets() == std::vector<std::vector<int>>{{4, 3, 2}, {1, 0}});
  CHECK(b.ready(4).empty());
  CHECK(b.ready(1).empty());  // the second bucket is not complete, and the first has not gone out
  CHECK(b.ready(2).empty());
  CHECK(b.ready(3) == std::vector<int>{0});
  CHECK(b.ready(0) == std::vector<int>{1});
  CHECK(b.rest().empty());
  CHECK_THROWS_WITH(b.ready(0), Catch::Contains("reached twice"));

  b.start();  // the next backward; parameter 0 is never reached
  CHECK(b.ready(4).empty());
  CHECK(b.ready(3).empty());
  CHECK(b.ready(2) == std::vector<int>{0});
  CHECK(b.ready(1).empty());
  CHECK(b.rest() == std::vector<int>{1});
  // A parameter larger than the cap is a bucket alone; the default cap holds a small model in one.
  CHECK(GradBuckets({10, 5000, 10}, 4000).buckets() == std::vector<std::vector<int>>{{2, 1}, {0}});
  CHECK(GradBuckets({10, 20, 30}).buckets().size() == 1);
}

TEST_CASE("data parallel: a run that cannot be spread over the ranks is refused before it starts",
          "[data-parallel][bad-input]") {
  TrainConfig c;
  c.batch = 30;
  CHECK_NOTHROW(check_rank_layout(c, 1));
  CHECK_NOTHROW(check_rank_layout(c, 2));
  CHECK_THROWS_WITH(check_rank_layout(c, 4), Catch::Contains("does not split into 4 equal shares"));
  c.batch = 4;
  CHECK_THROWS_WITH(check_rank_layout(c, 4), Catch::Contains("needs at least 2 (or --sync-bn)"));
  c.sync_bn = true;
  CHECK_NOTHROW(check_rank_layout(c, 4));
  c.sync_bn = false;
  c.batch = 12;
  c.bn_groups = 4;
  CHECK_THROWS_WITH(check_rank_layout(c, 2), Catch::Contains("--bn-groups"));
  c.bn_groups = 1;
  c.device = Device::parse("cuda:1");
  CHECK_THROWS_WITH(check_rank_layout(c, 2), Catch::Contains("--device cuda"));
  c.device = Device::parse("cpu");
  c.bn_recalibrate = 3;
  CHECK_NOTHROW(check_rank_layout(c, 1));
  CHECK_THROWS_WITH(check_rank_layout(c, 2), Catch::Contains("--bn-recalibrate: only in a run of one process"));

  // Settings that differ in anything config.json records hash apart.
  TrainConfig a, b;
  b.lr = 0.2;
  CHECK(settings_hash(a) != settings_hash(b));
  CHECK(settings_hash(a) == settings_hash(TrainConfig{}));

  nlohmann::json two = {{"world_size", 2}}, old = nlohmann::json::object();
  CHECK_NOTHROW(check_resume_world_size(two, "run", 2));
  CHECK_NOTHROW(check_resume_world_size(old, "run", 1));  // before data-parallel runs: one process
  CHECK_THROWS_WITH(check_resume_world_size(two, "run", 1), Catch::Contains("ran on 2 ranks, this resume on one process"));
  CHECK_THROWS_WITH(check_resume_world_size(old, "run", 4), Catch::Contains("resume it on one process"));
}

TEST_CASE("data parallel: the launcher's rank count comes from its environment", "[data-parallel]") {
  CHECK(launched_world_size() == 1);  // ctest starts no launcher
  ::setenv("SLURM_STEP_NUM_TASKS", "4", 1);
  CHECK(launched_world_size() == 4);
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  CHECK(launched_world_size() == 2);  // mpirun's own count first
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("SLURM_STEP_NUM_TASKS");
  CHECK(world().size() == 1);
  CHECK(world().rank() == 0);
  double v[2] = {1.5, 2.5};
  world().sum(v, 2);  // one process: the identity
  CHECK(v[1] == 2.5);
}
