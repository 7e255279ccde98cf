// The particle worlds' stepping core allocates nothing per step: every operator new in this
// test executable is counted (a tensor's creation allocates its TensorImpl through operator
// new, so tensor work is counted too; the sanity check below shows the counter sees it).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "envs/particle/particle.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};

void* counted_alloc(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace emcomm;

TEST_CASE("particle: stepping 1024 worlds through whole episodes allocates nothing", "[particle]") {
  constexpr int64_t B = 1024;
  ParticleWorld w{ParticleWorld::Options{}};
  Rng rng(5), actions_rng(6);
  std::vector<float> act(B * 2 * 5), msg(B * 2 * 3), obs0(B * 3), obs1(B * 11);
  w.reset_raw(B, rng);
  auto step = [&] {
    std::fill(act.begin(), act.end(), 0.0f);
    std::fill(msg.begin(), msg.end(), 0.0f);
    for (int64_t b = 0; b < B; ++b) {
      act[(b * 2 + 1) * 5 + actions_rng.below(5)] = 1.0f;
      msg[b * 2 * 3 + actions_rng.below(3)] = 1.0f;
    }
    w.step_raw(act.data(), 5, msg.data(), 3);
    w.write_obs(0, obs0.data());
    w.write_obs(1, obs1.data());
    if (w.steps_done() == w.options().episode_length) w.reset_raw(B, rng);
  };
  step();  // the first call may touch lazily initialised state
  counting = true;
  for (int i = 0; i < 100; ++i) step();  // four episodes, with their resets
  counting = false;
  CHECK(allocations.load() == 0);
  // The worlds did move (the listener's velocity is in its observation).
  bool moved = false;
  for (int64_t b = 0; b < B && !moved; ++b) moved = obs1[b * 11] != 0.0f || obs1[b * 11 + 1] != 0.0f;
  CHECK(moved);

  // Sanity: the counter sees the tensor path (step_soft builds a MarkovState of tensors).
  w.reset_raw(B, rng);
  auto a = torch::zeros({B, 2, 5}), m = torch::zeros({B, 2, 3});
  allocations = 0;
  counting = true;
  w.step_soft(a, m, rng);
  counting = false;
  CHECK(allocations.load() > 0);
}

TEST_CASE("particle: the other scenarios' stepping core allocates nothing either", "[particle]") {
  using S = ParticleWorld::Scenario;
  for (S sc : {S::Crypto, S::Adversary, S::Spread, S::Tag, S::Push}) {
    INFO("scenario " << int(sc));
    ParticleWorld::Options o;
    o.scenario = sc;
    ParticleWorld w{o};
    constexpr int64_t B = 256;
    const int64_t N = w.num_agents(), C = std::max<int64_t>(w.comm_dim(), 1);
    Rng rng(5), actions_rng(6);
    std::vector<float> act(B * N * 5), msg(B * N * C);
    std::vector<std::vector<float>> obs;
    for (int64_t i = 0; i < N; ++i) obs.emplace_back(B * w.agent_spec(i).obs_dim);
    w.reset_raw(B, rng);
    auto step = [&] {
      std::fill(act.begin(), act.end(), 0.0f);
      for (int64_t k = 0; k < B * N; ++k) act[k * 5 + actions_rng.below(5)] = 1.0f;
      for (int64_t k = 0; k < B * N * C; ++k) msg[k] = float(actions_rng.below(2));
      w.step_raw(act.data(), 5, msg.data(), C);
      for (int64_t i = 0; i < N; ++i) w.write_obs(i, obs[i].data());
      if (w.steps_done() == w.options().episode_length) w.reset_raw(B, rng);
    };
    step();
    allocations = 0;
    counting = true;
    for (int i = 0; i < 60; ++i) step();  // more than two episodes, with their resets
    counting = false;
    CHECK(allocations.load() == 0);
  }
}
