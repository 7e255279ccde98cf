#include "algorithms/memory_check.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "envs/markov_game.h"

namespace emcomm {
namespace {

int64_t get(const Config& cfg, const std::string& key, int64_t fallback) {
  return cfg.has(key) ? cfg.get_int(key) : fallback;
}

std::string gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  return buf;
}

}  // namespace

MemoryEstimate estimate_peak_memory(const Env& env, const Config& cfg) {
  MemoryEstimate e;
  const double f32 = 4;
  const int64_t hidden = get(cfg, "agents.hidden", 64);
  if (const auto* game = dynamic_cast<const SignalingGame*>(&env)) {
    // A training step: per object the input, hidden activations and their gradients, the message
    // one-hots through the relaxation, the listener's output; times the batch and the population.
    const int64_t B = get(cfg, "train.batch_size", 1), P = get(cfg, "population.size", 1);
    const int64_t L = get(cfg, "agents.max_len", 1), V = get(cfg, "agents.vocab_size", 1);
    const ReceiverSpec r = game->receiver_spec();
    const double out = r.kind == ReceiverSpec::Kind::Reconstruct ? double(r.attributes * r.values)
                                                                  : double(r.candidates) * double(r.candidate_dim + 1);
    const double per_object = 2.0 * double(game->sender_input_dim()) + 6.0 * double(hidden) + 8.0 * double(L * V) + 6.0 * out;
    const double activations = f32 * double(B) * double(P) * per_object;
    // The speaker's output and the listener's input layers: agents.hidden x (L x V) weights each,
    // with their gradients and two Adam moments.
    const double params = f32 * 4.0 * 2.0 * double(P) * double(hidden) * double(L * V);
    e.bytes = activations + params;
    e.driver = "train.batch_size=" + std::to_string(B) + (P > 1 ? " x population.size=" + std::to_string(P) : "") +
               " objects x " + std::to_string(int64_t(per_object)) + " floats each (input, agents.hidden=" +
               std::to_string(hidden) + " activations, messages of agents.max_len x agents.vocab_size, outputs: " +
               gb(activations) + ") and the message layers of agents.hidden x agents.max_len x agents.vocab_size = " +
               std::to_string(int64_t(double(hidden) * double(L * V))) + " weights each, with gradients and Adam state (" +
               gb(params) + ")";
    return e;
  }
  if (const auto* game = dynamic_cast<const MarkovGame*>(&env)) {
    double obs = 0, act = 0;
    const int64_t N = game->num_agents();
    for (int64_t i = 0; i < N; ++i) {
      const AgentSpec s = game->agent_spec(i);
      obs += double(s.obs_dim);
      act += double(s.action_factors * s.action_values + s.msg_len * s.vocab_size);
    }
    const int64_t T = get(cfg, "env.episode_length", 2);
    if (cfg.get_string("train.algorithm") == "maddpg") {
      // The worlds stepped together (state, next state, actions, activations of every agent), the
      // replay (one joint row per transition, per agent and sub-policy with ensembles) and the
      // evaluation rollout, which keeps every step's states.
      const int64_t envs = get(cfg, "maddpg.envs", 1), K = get(cfg, "maddpg.ensemble", 1);
      const double rows = std::min(double(get(cfg, "maddpg.replay", 1)),
                                   double(get(cfg, "train.steps", 1)) * double(envs) * double(T));
      const double width = 2 * obs + act + 2 * double(N);
      const double step = f32 * double(envs) * (4 * obs + 2 * act + 4 * double(N * hidden));
      const double replay = f32 * rows * width * double(K > 1 ? N * K : 1);
      const double eval = f32 * double(get(cfg, "eval.size", 1000)) * double(T) * (obs + act);
      e.bytes = step + replay + eval;
      e.driver = "maddpg.envs=" + std::to_string(envs) + " worlds (" + gb(step) + "), the replay of " +
                 std::to_string(int64_t(rows)) + " transitions (maddpg.replay, " + gb(replay) +
                 "), the evaluation of eval.size episodes (" + gb(eval) + ")";
      return e;
    }
    const int64_t B = get(cfg, "train.batch_size", 1);
    const double per_episode = double(T) * (3 * obs + 2 * act + 6 * double(N * hidden));
    e.bytes = f32 * double(B) * per_episode;
    e.driver = "train.batch_size=" + std::to_string(B) + " episodes x " + std::to_string(int64_t(per_episode)) +
               " floats each (observations, actions and agents.hidden activations of every step)";
  }
  return e;
}

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream s(line.substr(13));
    int64_t kb = -1;
    s >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

void check_memory(const Env& env, const Config& cfg) {
  const MemoryEstimate e = estimate_peak_memory(env, cfg);
  const int64_t available = available_memory_bytes();
  if (available < 0 || e.bytes <= double(available)) return;
  throw UserError("this run needs at least " + gb(e.bytes) + " of memory, more than the " + gb(double(available)) +
                  " available: " + e.driver + "; lower the sizes named");
}

}  // namespace emcomm
