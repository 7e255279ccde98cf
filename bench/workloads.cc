#include "bench/bench.h"

#include <dlfcn.h>
#include <unistd.h>
#include <time.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "algorithms/algorithm.h"
#include "algorithms/maddpg.h"
#include "algorithms/s2p.h"
#include "core/errors.h"
#include "envs/particle/particle.h"
#include "algorithms/runtime.h"

namespace emcomm::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// A built workload: one call does some work and returns how many units (episodes, env steps,
// updates) it did.
struct Job {
  std::function<int64_t()> run;
  double flops_per_unit = 0;
  std::shared_ptr<void> keep;  // whatever `run` needs alive
};

struct Built {
  std::shared_ptr<Env> env;
  std::unique_ptr<Algorithm> algo;
};

// The env and algorithm of `emcomm train` with these overrides (defaults otherwise).
// run.threads of the components built: the bench's --threads (an S2P population gives them to its
// members rather than to OpenBLAS, docs/s2p.md).
int g_threads = 1;

std::shared_ptr<Built> build(std::vector<std::string> overrides) {
  overrides.push_back("--run.threads=" + std::to_string(g_threads));
  Config cfg = resolve_config(build_schema(), "", overrides);
  Rng root(static_cast<uint64_t>(cfg.get_int("run.seed")));
  auto b = std::make_shared<Built>();
  b->env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  b->algo = AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm").make(cfg, b->env, root.derive("algorithm"));
  return b;
}

// Matmul flops per episode of a stack of linear layers (in, out) trained by backprop: forward
// 2*in*out, weight gradient 2*in*out, input gradient 2*in*out except for the first layer, whose
// input (the data) needs none.
double backprop_flops(const std::vector<std::pair<double, double>>& layers) {
  double f = 0;
  for (size_t i = 0; i < layers.size(); ++i) f += (i == 0 ? 4.0 : 6.0) * layers[i].first * layers[i].second;
  return f;
}

// The reference S2P Lewis game (REFERENCE.md; experiments/configs/lewis_selfplay.ini): 6 x 10
// objects, 6 symbols over 60 words, linear agents with 500 hidden units, batch 100, soft Gumbel.
const std::vector<std::string> kLewis = {
    "--env.name=lewis",        "--env.attributes=6",   "--env.values=10",      "--env.mode=reconstruction",
    "--agents.vocab_size=60",  "--agents.max_len=6",   "--agents.hidden=500",  "--agents.activation=none",
    "--agents.relaxation=gumbel", "--train.batch_size=100", "--train.lr=0.003", "--eval.size=100"};
constexpr int64_t kLewisBatch = 100;
// Speaker 60 -> 500 -> 360; listener 360 -> 500 -> 60 (the listener's input gradient is needed:
// it flows back into the speaker through the soft message).
double lewis_episode_flops() {
  return backprop_flops({{60, 500}, {500, 360}}) + 6.0 * 360 * 500 + 6.0 * 500 * 60;
}

// The peer workload (issue 8): GRU agents with hidden 128, symbol embedding 16, vocabulary 100,
// 5 positions (4 symbols + EOS), 4 x 10 one-hot objects, 5 candidates. Matmul flops of one
// episode, forward: the speaker's h0 = Linear(40 -> 128); per position its GRU cell
// (3 gates over [embedding, state]), its output head (128 -> 100) and the embedding of the
// (soft) symbol it feeds back (100 -> 16); the listener's embedding and GRU cell per position
// and its score against each candidate (128 per candidate); the candidates' tanh(Linear(40 ->
// 128)). Backward: twice the forward, less the input gradients of the two data layers.
// Approximate (it assumes every position is computed for every episode, as a batched GRU does).
double gru_episode_flops() {
  const double H = 128, E = 16, V = 100, L = 5, C = 5, D = 40;
  const double cell = 2 * 3 * (E + H) * H;
  const double data_layers = 2 * D * H + C * 2 * D * H;
  const double forward = data_layers + L * (cell + 2 * H * V + 2 * V * E) + L * (2 * V * E + cell + C * 2 * H);
  return 3 * forward - data_layers;
}

std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

Job algorithm_job(const std::vector<std::string>& overrides, std::function<int64_t(Built&)> units,
                  double flops_per_unit) {
  auto b = build(overrides);
  int64_t step = 0;
  Job j;
  j.run = [b, step, units]() mutable {
    b->algo->train_step(++step);
    return units(*b);
  };
  j.flops_per_unit = flops_per_unit;
  j.keep = b;
  return j;
}

// One S2P evaluation (every split, seed-validation, cross-play) of a P = 50 population per call,
// into a run file in a temporary directory; the units are the episodes it played
// (S2P::eval_episodes: self-play, listener-on-human-message and cross-play episodes).
Job population_eval_job() {
  struct State {
    std::shared_ptr<Built> built;
    std::filesystem::path dir;
    std::unique_ptr<RunWriter> log;
    ~State() {
      log.reset();
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  auto s = std::make_shared<State>();
  s->built = build(with(kLewis, {"--train.algorithm=s2p", "--population.size=50", "--eval.size=1000",
                                 "--eval.log_rows=0", "--metrics.cic_every=-1"}));
  s->dir = std::filesystem::temp_directory_path() / ("emcomm-bench-eval-" + std::to_string(::getpid()));
  std::filesystem::create_directories(s->dir);
  s->log = std::make_unique<RunWriter>((s->dir / "run.h5").string(), std::map<std::string, std::string>{}, "", "bench");
  auto* algo = dynamic_cast<S2P*>(s->built->algo.get());
  EMCOMM_CHECK(algo, "lewis_population_eval: the algorithm is not s2p");
  int64_t step = 0;
  Job j;
  j.run = [s, algo, step]() mutable {
    const int64_t before = algo->eval_episodes();
    algo->evaluate(++step, *s->log);
    return algo->eval_episodes() - before;
  };
  // Matmul flops per unit at these settings, per member: 4100 speaker passes (3 x 1000 + 100
  // seed-val + 1000 cross-play objects) of 2 x (60 x 500 + 500 x 360) and 16 200 listener passes
  // (3100 self-play, 3100 human-message, 1000 x 10 cross-play) of 2 x 500 x 60 + 6 x 500 (the
  // gathered first layer), over the 16 200 units.
  j.flops_per_unit = (4100.0 * 2 * (60 * 500 + 500 * 360) + 16200.0 * (2 * 500 * 60 + 6 * 500)) / 16200.0;
  j.keep = s;
  return j;
}

// speaker_listener, 1024 worlds, uniformly random one-hot movements and messages, through the
// env's allocation-free stepping core; each call is one step of every world (and a reset of
// all of them after the episode's last step).
Job particle_job() {
  constexpr int64_t B = 1024;
  struct State {
    ParticleWorld world{ParticleWorld::Options{}};
    Rng rng{1};
    uint64_t draws = 0;  // the random actions: splitmix64 of a counter (cheaper than the env's Rng)
    std::vector<float> act = std::vector<float>(B * 2 * 5), msg = std::vector<float>(B * 2 * 3);
    std::vector<float> obs0 = std::vector<float>(B * 3), obs1 = std::vector<float>(B * 11);
  };
  auto s = std::make_shared<State>();
  s->world.reset_raw(B, s->rng);
  Job j;
  j.run = [s]() {
    std::fill(s->act.begin(), s->act.end(), 0.0f);
    std::fill(s->msg.begin(), s->msg.end(), 0.0f);
    for (int64_t b = 0; b < B; ++b) {
      const uint64_t r = splitmix64(++s->draws);  // one draw: movement and message
      s->act[(b * 2 + 1) * 5 + (r & 0xffffffff) % 5] = 1.0f;
      s->msg[(b * 2) * 3 + (r >> 32) % 3] = 1.0f;
    }
    s->world.step_raw(s->act.data(), 5, s->msg.data(), 3);
    s->world.write_obs(0, s->obs0.data());
    s->world.write_obs(1, s->obs1.data());
    if (s->world.steps_done() == s->world.options().episode_length) s->world.reset_raw(B, s->rng);
    return B;
  };
  j.keep = s;
  return j;
}

Job make_job(const std::string& name) {
  if (name == "lewis_selfplay_step")
    return algorithm_job(with(kLewis, {"--train.algorithm=selfplay"}), [](Built&) { return kLewisBatch; },
                         lewis_episode_flops());
  if (name == "lewis_population_step")
    return algorithm_job(with(kLewis, {"--train.algorithm=s2p", "--s2p.schedule=selfplay", "--population.size=50"}),
                         [](Built&) { return 50 * kLewisBatch; }, lewis_episode_flops());
  if (name == "lewis_population_eval") return population_eval_job();
  if (name == "lewis_discri_gru_step" || name == "lewis_discri_gru_reinforce_step")
    return algorithm_job({"--env.name=lewis", "--env.attributes=4", "--env.values=10", "--env.mode=discrimination",
                          "--env.distractors=4", "--agents.arch=gru", "--agents.hidden=128", "--agents.embed=16",
                          "--agents.vocab_size=100", "--agents.max_len=5", "--agents.eos=true",
                          name == "lewis_discri_gru_step" ? "--agents.relaxation=gumbel" : "--agents.relaxation=reinforce",
                          "--agents.score=dot", "--train.algorithm=selfplay", "--train.batch_size=512",
                          "--train.lr=0.01", "--eval.size=100"},
                         [](Built&) { return int64_t(512); }, gru_episode_flops());
  if (name == "referential_selfplay_step")
    // Synthetic 32 x 32 scenes rendered in memory (issue 7), target + 9 distractors; GRU agents
    // with CNN encoders and the peer's channel (vocab 100 with EOS, 4 symbols + EOS), Gumbel.
    return algorithm_job({"--env.name=referential", "--env.size=1000", "--env.image_size=32", "--agents.arch=gru",
                          "--agents.hidden=128", "--agents.embed=16", "--agents.cnn_channels=16",
                          "--agents.vocab_size=100", "--agents.max_len=5", "--agents.eos=true",
                          "--agents.relaxation=gumbel", "--train.algorithm=selfplay", "--train.batch_size=64",
                          "--train.lr=0.001", "--eval.size=10"},
                         [](Built&) { return int64_t(64); }, 0);
  if (name == "mcg_reinforce")
    // experiments/configs/mcg_reinforce.ini: 64 episodes per update.
    return algorithm_job({"--env.name=matrix", "--env.n_acts=2", "--env.n_comm=4", "--env.payoffs=random",
                          "--env.payoff_std=3.0", "--env.comm=turns", "--env.visibility=both",
                          "--train.algorithm=reinforce", "--agents.hidden=40", "--train.batch_size=64",
                          "--train.lr=0.005", "--eval.size=100"},
                         [](Built&) { return int64_t(64); }, 0);
  if (name == "particle_env_step") return particle_job();
  if (name == "maddpg_update") {
    // The reference MADDPG (configs/particle_speaker_listener_maddpg.ini) with updates from the
    // first transition on and one update round per transition: 4 worlds x 25 steps = 100 rounds
    // of both agents' updates per train step, so the env's share of the time is small.
    auto overrides = std::vector<std::string>{
        "--env.name=particle", "--env.scenario=speaker_listener", "--train.algorithm=maddpg", "--maddpg.envs=4",
        "--maddpg.hidden=64",  "--maddpg.batch=1024", "--maddpg.learning_starts=1", "--maddpg.update_every=1",
        "--eval.size=10"};
    return algorithm_job(overrides, [last = int64_t(0)](Built& b) mutable {
      auto& m = dynamic_cast<Maddpg&>(*b.algo);
      const int64_t rounds = m.updates() - last;
      last = m.updates();
      return rounds * 2;  // both agents update each round
    }, 0);
  }
  std::string names;
  for (const auto& w : workloads()) names += (names.empty() ? "" : ", ") + w.name;
  throw UserError("unknown bench workload '" + name + "'; workloads: " + names);
}

}  // namespace

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w = {
      {"lewis_selfplay_step", "episodes/s", "reference S2P Lewis self-play step, batch 100 (selfplay train_step)"},
      {"lewis_population_step", "episodes/s", "population of P = 50 pairs, self-play, batch 100 each (s2p train_step)"},
      {"lewis_population_eval", "episodes/s",
       "one s2p evaluation of P = 50 pairs: 3 splits x 1000 objects + seed-val, cross-play 1000 x (1 + 9)"},
      {"lewis_discri_gru_step", "episodes/s",
       "peer workload: discrimination 4 x 10, 5 candidates, GRU agents (128, embed 16), vocab 100 with EOS, "
       "4 symbols + EOS, batch 512, Gumbel (experiments/configs/lewis_gru_discrimination.ini)"},
      {"lewis_discri_gru_reinforce_step", "episodes/s", "the same with REINFORCE (agents.relaxation=reinforce)"},
      {"referential_selfplay_step", "episodes/s",
       "referential game on synthetic 32x32 scenes, 10 candidates, GRU agents with CNN encoders, batch 64, Gumbel"},
      {"mcg_reinforce", "episodes/s", "matrix communication game, REINFORCE, 64 episodes per update"},
      {"particle_env_step", "env steps/s", "particle speaker_listener, random actions, 1024 worlds (each world counts)"},
      {"maddpg_update", "agent updates/s", "MADDPG speaker_listener, one agent's critic+actor update at batch 1024"},
  };
  return w;
}

Result run_workload(const std::string& name, double seconds, int threads) {
  g_threads = threads;
  Job job = make_job(name);
  // Warm-up: at least one call and about a fifth of the measuring time (allocator caches,
  // Adam state, OpenBLAS buffers).
  auto t0 = Clock::now();
  do job.run();
  while (since(t0) < 0.2 * seconds);
  Result r;
  r.name = name;
  for (const auto& w : workloads())
    if (w.name == name) r.unit = w.unit;
  r.flops_per_unit = job.flops_per_unit;
  t0 = Clock::now();
  const double c0 = cpu_now();
  do r.units += job.run();
  while (since(t0) < seconds);
  r.seconds = since(t0);
  r.cpu_seconds = cpu_now() - c0;
  r.rate = double(r.units) / r.seconds;
  return r;
}

}  // namespace emcomm::bench
