// emcomm bench: argument errors, the JSON report's fields (never its speed), and the Python
// baseline computing the same Lewis loss as the C++ agents on the same weights.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "agents/modules.h"
#include "algorithms/selfplay.h"
#include "core/config.h"
#include "envs/lewis/lewis.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

const std::string kBaseline = test::source_path("bench/python/lewis_bench.py");

}  // namespace

TEST_CASE("bench: bad arguments exit 2 naming what is wrong", "[bench]") {
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {Case{"--seconds 0", "--seconds"}, Case{"--seconds abc", "--seconds"},
                        Case{"--seconds", "needs a value"}, Case{"--threads 0", "--threads"},
                        Case{"--threads 1.5", "--threads"}, Case{"--only nope", "unknown workload 'nope'"},
                        Case{"--only particle_env_step,", "unknown workload ''"}, Case{"--frobnicate", "--frobnicate"}}) {
    auto r = test::run_emcomm("bench " + c.args);
    INFO(c.args << " -> " << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.expect) != std::string::npos);
  }
  auto r = test::run_emcomm("bench --only nope");
  CHECK(r.output.find("particle_env_step") != std::string::npos);  // lists the valid names
}

TEST_CASE("bench: --json on the particle step is one JSON object with the fields", "[bench]") {
  EMCOMM_NEEDS_PYTHON();
  // Parsed by Python's json module: valid JSON, the workload's rate, unit and a null flops
  // fraction, the peak and the machine. Speeds are not asserted.
  const std::string check =
      "import json, sys; d = json.load(sys.stdin); w = d['workloads']; assert list(w) == ['particle_env_step'], w; "
      "p = w['particle_env_step']; assert p['rate'] > 0 and p['unit'] == 'env steps/s', p; "
      "assert p['flops_fraction'] is None and p['units'] % 1024 == 0, p; "
      "assert d['peak']['gflops'] > 0 and d['peak']['gflops_1_thread'] > 0, d; "
      "m = d['machine']; assert m['cores'] >= 1 and m['threads'] == 1 and m['blas'] and m['torch'], m; print('valid')";
  auto r = test::run_shell(std::string("'") + EMCOMM_BIN + "' bench --only particle_env_step --seconds 0.2 --json | /usr/bin/python3 -c \"" +
                 check + "\"");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "valid\n");
}

TEST_CASE("bench: the Python baseline computes the C++ agents' Lewis loss and runs", "[bench]") {
  EMCOMM_NEEDS_PYTHON("torch");
  // The same fixed weights on both sides (w[k] = 0.05 sin(0.37 k + 0.11 layer), k the flat
  // index in PyTorch's [out, in] layout), the same 8 objects, the noise-free message
  // (softmax of the speaker's logits): the reconstruction loss must agree.
  auto py = test::run_shell("/usr/bin/python3 '" + kBaseline + "' --check");
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  REQUIRE(py.output.rfind("loss ", 0) == 0);
  const double py_loss = std::stod(py.output.substr(5));

  Config cfg = resolve_config(build_schema(), "", {"--env.name=lewis", "--train.algorithm=selfplay", "--eval.size=10"});
  Rng root(1);
  auto game = std::make_shared<LewisGame>(LewisGame::Options::from(cfg), root.derive("env"));
  SelfPlay sp(SelfPlay::Options::from(cfg), game, root.derive("algorithm"));
  {
    torch::NoGradGuard no_grad;
    int layer = 0;
    for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(sp.speaker().get()),
                                 static_cast<torch::nn::Module*>(sp.listener().get())})
      for (const char* name : {"l1", "l2"}) {
        for (const char* part : {"weight", "bias"}) {
          auto t = m->named_parameters()[std::string(name) + "." + part];
          auto k = torch::arange(t.numel(), torch::kFloat64);
          t.copy_((0.05 * torch::sin(0.37 * k + 0.11 * layer)).view_as(t).to(torch::kFloat32));
        }
        ++layer;
      }
  }
  SignalBatch b;
  b.concept = torch::empty({8, 6}, torch::kInt64);
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t a = 0; a < 6; ++a) b.concept[r][a] = (3 * r + 7 * a) % 10;
  b.target = b.concept;
  b.sender_input = torch::one_hot(b.concept, 10).view({8, 60}).to(torch::kFloat32);
  auto message = torch::softmax(sp.speaker()->policy_logits(b.sender_input), -1);
  const double cpp_loss = game->loss(sp.listener()->forward(message), b).mean().item<double>();
  CHECK(cpp_loss == Approx(py_loss).epsilon(1e-5));

  // And the timed baseline runs and prints a positive rate for both of its workloads.
  auto run = test::run_shell("/usr/bin/python3 '" + kBaseline + "' --seconds 0.02");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("lewis_selfplay_step ") != std::string::npos);
  CHECK(run.output.find("lewis_population_step ") != std::string::npos);
}
