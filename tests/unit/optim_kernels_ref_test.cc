// The optimizer kernels' scalar oracle (tidal/optim/kernels.h, ref::) against hand-derived values:
// constant gradients and powers of two, so that every intermediate is exact and a wrong formula
// (a misplaced bias correction, momentum applied twice, Nesterov's look-ahead missing, the wrong
// sign of the slow momentum) fails with exact equality; Adam's later steps against the formula in
// double. Also the contract checks: a missing required array aborts.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tidal/optim/kernels.h"

namespace tidal::optim {
namespace {

TEST(OptimKernelsRef, SgdMomentumClosedForm) {
  const SgdConfig c{.lr = 0.5f, .momentum = 0.5f};
  float x = 1.0f, buf = 0.0f;
  const float g = 0.5f;
  const float want_x[] = {0.75f, 0.375f, -0.0625f};  // buf = 0.5, 0.75, 0.875
  const float want_buf[] = {0.5f, 0.75f, 0.875f};
  for (int s = 0; s < 3; ++s) {
    ref::SgdStep(c, &x, &g, &buf, 1);
    EXPECT_EQ(x, want_x[s]) << "step " << s + 1;
    EXPECT_EQ(buf, want_buf[s]) << "step " << s + 1;
  }
}

TEST(OptimKernelsRef, SgdNesterovClosedForm) {
  const SgdConfig c{.lr = 0.5f, .momentum = 0.5f, .nesterov = true};
  float x = 1.0f, buf = 0.0f;
  const float g = 0.5f;
  ref::SgdStep(c, &x, &g, &buf, 1);  // buf 0.5, d = 0.5 + 0.25
  EXPECT_EQ(x, 0.625f);
  ref::SgdStep(c, &x, &g, &buf, 1);  // buf 0.75, d = 0.5 + 0.375
  EXPECT_EQ(x, 0.1875f);
  EXPECT_EQ(buf, 0.75f);
}

TEST(OptimKernelsRef, SgdWeightDecayWithoutMomentumNeedsNoBuffer) {
  const SgdConfig c{.lr = 0.5f, .weight_decay = 0.5f};
  float x = 1.0f;
  const float g = 0.5f;
  ref::SgdStep(c, &x, &g, nullptr, 1);  // g' = 1
  EXPECT_EQ(x, 0.5f);
  ref::SgdStep(c, &x, &g, nullptr, 1);  // g' = 0.75
  EXPECT_EQ(x, 0.125f);
  // wd == 0 skips the decay term as PyTorch does: an infinite x does not poison the gradient.
  float inf_x = INFINITY;
  ref::SgdStep(SgdConfig{.lr = 0.5f}, &inf_x, &g, nullptr, 1);
  EXPECT_EQ(inf_x, INFINITY);
}

// Adam in double, straight from the formulas (kernels.h), for the non-exact steps.
struct AdamDouble {
  double x, m = 0, v = 0, vmax = 0;
  void Step(double lr, double b1, double b2, double eps, bool ams, int t, double g) {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    vmax = std::max(vmax, v);
    const double vhat = ams ? vmax : v;
    const double denom = std::sqrt(vhat) / std::sqrt(1 - std::pow(b2, t)) + eps;
    x -= lr / (1 - std::pow(b1, t)) * m / denom;
  }
};

TEST(OptimKernelsRef, AdamClosedForm) {
  // beta1 0.5, beta2 0.75, g 2: m = 1, v = 1, step_size = 0.5 / 0.5, bc2_sqrt = 0.5, so the first
  // step moves x by exactly lr * 1 / (1 / 0.5) = 0.5 (eps 0).
  for (bool ams : {false, true}) {
    const AdamConfig c{.lr = 0.5f, .beta1 = 0.5f, .beta2 = 0.75f, .eps = 0.0f, .amsgrad = ams};
    float x = 1.0f, m = 0.0f, v = 0.0f, vmax = 0.0f;
    const float g1 = 2.0f;
    ref::AdamStep(c, 1, &x, &g1, &m, &v, &vmax, 1);
    EXPECT_EQ(x, 0.5f);
    EXPECT_EQ(m, 1.0f);
    EXPECT_EQ(v, 1.0f);
    // Weight decay joins the gradient: g 1.5 + 0.5 * x(1) = 2 is the same step.
    AdamConfig cw = c;
    cw.weight_decay = 0.5f;
    float xw = 1.0f, mw = 0.0f, vw = 0.0f, vmaxw = 0.0f;
    const float g1w = 1.5f;
    ref::AdamStep(cw, 1, &xw, &g1w, &mw, &vw, &vmaxw, 1);
    EXPECT_EQ(xw, 0.5f);
    // Then g 0 and g 1: v falls below its maximum, which amsgrad keeps.
    AdamDouble d{.x = 1.0};
    d.Step(0.5, 0.5, 0.75, 0.0, ams, 1, 2.0);
    const float gs[] = {0.0f, 1.0f};
    for (int t = 2; t <= 3; ++t) {
      ref::AdamStep(c, t, &x, &gs[t - 2], &m, &v, &vmax, 1);
      d.Step(0.5, 0.5, 0.75, 0.0, ams, t, static_cast<double>(gs[t - 2]));
      EXPECT_NEAR(x, d.x, 1e-6 * std::fabs(d.x)) << "step " << t << " amsgrad " << ams;
      EXPECT_EQ(v, static_cast<float>(d.v));
      if (ams) {
        EXPECT_EQ(vmax, 1.0f);
      }
    }
  }
}

TEST(OptimKernelsRef, SlowMoClosedForm) {
  // alpha 1, beta 0.5, gamma 0.5: u = 0 + (1 - 0.5)/0.5 = 1; x0 = 1 - 0.5 = 0.5 = shard.
  float shard = 0.5f, x0 = 1.0f, u = 0.0f;
  ref::SlowMoShardUpdate(1.0f, 0.5f, 0.5f, &shard, &x0, &u, 1);
  EXPECT_EQ(u, 1.0f);
  EXPECT_EQ(x0, 0.5f);
  EXPECT_EQ(shard, 0.5f);
  shard = 0.25f;  // u = 0.5 * 1 + (0.5 - 0.25)/0.5 = 1; x0 = 0.5 - 0.5 = 0
  ref::SlowMoShardUpdate(1.0f, 0.5f, 0.5f, &shard, &x0, &u, 1);
  EXPECT_EQ(u, 1.0f);
  EXPECT_EQ(x0, 0.0f);
  EXPECT_EQ(shard, 0.0f);
  // beta 0, alpha 0.5 is Lookahead: x0 + 0.5 * (xbar - x0).
  shard = 0.5f, x0 = 1.0f, u = 3.0f;
  ref::SlowMoShardUpdate(0.5f, 0.0f, 0.5f, &shard, &x0, &u, 1);
  EXPECT_EQ(x0, 0.75f);
  EXPECT_EQ(shard, 0.75f);
}

TEST(OptimKernelsRef, OverlapLocalSgdClosedForm) {
  float x = 1.0f;
  const float z = 3.0f;
  ref::PullBack(0.75f, &x, &z, 1);  // 0.25 * 1 + 0.75 * 3
  EXPECT_EQ(x, 2.5f);
  float zr = 0.0f;
  ref::AnchorReset(0.25f, &x, &zr, 1);
  EXPECT_EQ(zr, 0.625f);
  const float xm = 1.0f;
  float zm = 2.0f, b = 1.0f;  // b = 0.5 * 1 + (2 - 1)/0.5 = 2.5; z = (2 - 1.25) * 0.25
  ref::AnchorMomentum(0.5f, 0.5f, 0.25f, &xm, &zm, &b, 1);
  EXPECT_EQ(b, 2.5f);
  EXPECT_EQ(zm, 0.1875f);
}

TEST(OptimKernelsRef, MissingRequiredArraysAbort) {
  std::vector<float> a(4, 1.0f), g(4, 1.0f);
  EXPECT_DEATH(SgdStep(SgdConfig{.momentum = 0.9f}, a.data(), g.data(), nullptr, 4), "null");
  EXPECT_DEATH(ref::SgdStep(SgdConfig{}, nullptr, g.data(), nullptr, 4), "null");
  EXPECT_DEATH(
      AdamStep(AdamConfig{.amsgrad = true}, 1, a.data(), g.data(), a.data(), a.data(), nullptr, 4),
      "amsgrad");
  EXPECT_DEATH(AdamStep(AdamConfig{}, 0, a.data(), g.data(), a.data(), a.data(), nullptr, 4),
               "1-based");
  EXPECT_DEATH(PullBack(0.5f, a.data(), nullptr, 4), "null");
  // n == 0 accepts null everywhere.
  SgdStep(SgdConfig{.momentum = 0.9f}, nullptr, nullptr, nullptr, 0);
  AdamStep(AdamConfig{.amsgrad = true}, 1, nullptr, nullptr, nullptr, nullptr, nullptr, 0);
  AnchorMomentum(0.5f, 0.5f, 0.25f, nullptr, nullptr, nullptr, 0);
}

}  // namespace
}  // namespace tidal::optim
