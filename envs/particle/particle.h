// Particle worlds (MADDPG, REFERENCE.md "Particle worlds"): B worlds stepped together in plain
// C++ over contiguous buffers (positions, velocities, channel contents), as a MarkovGame
// (envs/markov_game.h). Every step every movable agent acts and every speaking agent speaks
// (the `speaks` mask is off at the last step: nobody hears that message); an
// episode is env.episode_length steps (reference 25), done only at the time limit.
//
// Physics (reference): dt 0.1, damping 0.25, mass 1, force = u * sensitivity (5.0), contact
// force 100 * softplus((d_min - d) / 1e-3) * 1e-3 along the centre line between colliding
// entities, v <- v (1 - damping) + F/m dt, p <- p + v dt. Positions start uniform in [-1, 1]^2,
// velocities zero, channel contents zero.
//
// Actions: a movement action is 5 values a (soft or one-hot; integer action k = one-hot k):
// u = (a1 - a2, a3 - a4) * sensitivity (a0 = no-op); a message is a vocab-size vector that the
// channel carries as is (soft in MADDPG, one-hot for integer messages).
//
// Scenarios (env.scenario):
//   speaker_listener (cooperative communication): agent 0 = immobile speaker, obs = goal colour
//     (3), message of 3 values; agent 1 = silent listener (radius 0.075), obs = [own velocity (2),
//     3 landmark positions relative to it (6), the speaker's message (3)] = 11, 5 movement values.
//     Landmarks radius 0.04, colours (0.65,0.15,0.15), (0.15,0.65,0.15), (0.15,0.15,0.65).
//     Reward to both agents: 2 * -|listener - goal|^2 (cooperative: the sum over agents).
//   reference: 2 agents that move (5) and speak (env.dim_c, reference 10); agent i sees [own
//     velocity (2), landmarks relative (6), the partner's goal colour (3), the partner's message
//     (dim_c)] = 11 + dim_c; reward to both: sum over i of -|agent (1-i) - goal of agent i|^2
//     (agent i's goal is a landmark agent 1-i must reach). Landmark colours 0.75/0.25.
#pragma once

#include <vector>

#include "envs/markov_game.h"

namespace emcomm {

class ParticleWorld : public MarkovGame {
 public:
  enum class Scenario { SpeakerListener, Reference };
  struct Options {
    Scenario scenario = Scenario::SpeakerListener;
    int64_t episode_length = 25, dim_c = 10;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();
  explicit ParticleWorld(const Options& opt);

  std::string name() const override { return "particle"; }
  int64_t num_agents() const override { return 2; }
  AgentSpec agent_spec(int64_t agent) const override;
  MarkovState reset(int64_t batch, Rng& rng) override;
  MarkovState step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  MarkovState step_soft(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  torch::Tensor impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                               const torch::Tensor& symbols) const override;
  bool hears(int64_t listener, int64_t speaker) const override;
  // speaker_listener: target_reach and target_touch of the last batch (see target_reach()).
  std::map<std::string, double> episode_figures() const override;
  std::string headline_figure() const override;
  bool time_limit_only() const override { return true; }

  const Options& options() const { return opt_; }
  static constexpr int64_t kLandmarks = 3;
  // Entities: agents 0..N-1, then landmarks. Position of entity e in world b.
  const float* position(int64_t b, int64_t e) const { return &pos_[(b * entities() + e) * 2]; }
  const float* velocity(int64_t b, int64_t e) const { return &vel_[(b * entities() + e) * 2]; }
  float size(int64_t e) const { return size_[e]; }
  // The goal landmark (0..2) of agent i in world b (speaker_listener: agent 0's goal is the
  // listener's target).
  int64_t goal(int64_t b, int64_t agent) const { return goal_[b * 2 + agent]; }
  int64_t steps_done() const { return t_; }
  int64_t entities() const { return 2 + kLandmarks; }
  // Test hooks: set an entity's position / velocity in world b.
  void set_position(int64_t b, int64_t e, float x, float y) { pos_[(b * entities() + e) * 2] = x, pos_[(b * entities() + e) * 2 + 1] = y; }
  void set_velocity(int64_t b, int64_t e, float x, float y) { vel_[(b * entities() + e) * 2] = x, vel_[(b * entities() + e) * 2 + 1] = y; }
  // speaker_listener figures at the current state, per world: the landmark nearest to the
  // listener is the goal (reach); the listener overlaps the goal (distance < 0.115) (touch).
  std::vector<uint8_t> target_reach() const;
  std::vector<uint8_t> target_touch() const;

  // The allocation-free core that reset()/step_soft() wrap with tensors (and `emcomm bench`
  // drives directly): once a batch size has been reset, these touch only buffers the world
  // already holds. reset_raw starts `batch` episodes; step_raw takes soft actions [B, 2, fa]
  // and messages [B, 2, fm] as contiguous floats (same rules as step_soft) and updates the
  // worlds and rewards in place; write_obs writes agent i's observations [B, obs_dim] to `out`.
  void reset_raw(int64_t batch, Rng& rng);
  void step_raw(const float* actions, int64_t fa, const float* messages, int64_t fm);
  void write_obs(int64_t agent, float* out) const;
  // The reward of the last step to agent i in world b (0 after reset).
  float reward(int64_t b, int64_t agent) const { return reward_[b * 2 + agent]; }

  static constexpr float kDt = 0.1f, kDamping = 0.25f, kSensitivity = 5.0f, kContactForce = 100.0f,
                         kContactMargin = 1e-3f;

 private:
  MarkovState state() const;
  int64_t comm_dim() const { return opt_.scenario == Scenario::SpeakerListener ? 3 : opt_.dim_c; }
  bool moves(int64_t agent) const { return opt_.scenario == Scenario::Reference || agent == 1; }
  bool speaks(int64_t agent) const { return opt_.scenario == Scenario::Reference || agent == 0; }
  const float* colour(int64_t landmark) const { return &colour_[landmark * 3]; }
  Options opt_;
  std::vector<float> size_;     // [E]
  std::vector<uint8_t> collide_;  // [E]
  bool any_collide_ = false;      // at least two entities collide (else no contact forces)
  std::vector<float> colour_;   // [3 landmarks, 3]
  // Episode state.
  int64_t B_ = 0, t_ = 0;
  std::vector<float> pos_, vel_;  // [B, E, 2]
  std::vector<float> comm_;       // [B, N, C]: what each agent's channel carries
  std::vector<int64_t> goal_;     // [B, N]
  std::vector<float> force_;      // [B, E, 2] scratch
  std::vector<float> reward_;     // [B, N]: the last step's rewards
};

}  // namespace emcomm
