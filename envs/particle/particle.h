// Particle worlds (MADDPG, REFERENCE.md "Particle worlds"; openai/multiagent-particle-envs): B
// worlds stepped together in plain C++ over contiguous buffers (positions, velocities, channel
// contents), as a MarkovGame (envs/markov_game.h). Every step every movable agent acts and every
// speaking agent speaks (a message only others hear is masked off at the last step, where nobody
// hears it); an episode is env.episode_length steps (reference 25), done only at the time limit.
//
// Physics (reference core.py): dt 0.1, damping 0.25, mass 1, force = u * accel (5.0 unless the
// scenario sets it), contact force 100 * softplus((d_min - d) / 1e-3) * 1e-3 along the centre
// line between colliding entities (softplus in logaddexp form: finite for any overlap), applied
// to movable entities only; v <- v (1 - damping) + F/m dt, clipped to the entity's max speed,
// then p <- p + v dt. Positions start uniform in [-1, 1]^2 (simple_tag's obstacles [-0.9, 0.9]^2),
// velocities zero, channel contents zero.
//
// Actions: a movement action is 5 values a (soft or one-hot; integer action k = one-hot k):
// u = (a1 - a2, a3 - a4) * accel (a0 = no-op: index 1 pushes +x, 2 -x, 3 +y, 4 -y); a message
// is a vocab-size vector that the channel carries as is (soft in MADDPG, one-hot for integer
// messages).
//
// Scenarios (env.scenario; agents in the reference's order; obs layouts in docs/particle-maddpg.md):
//   speaker_listener (cooperative communication): 0 = immobile speaker (obs goal colour 3, says
//     3 values), 1 = silent listener (radius 0.075, obs 11). Reward to both: 2 * -|listener - goal|^2.
//   reference: 2 agents that move and speak (env.dim_c), obs 11 + dim_c; reward to both: the sum.
//   simple_crypto (covert communication): 0 = Eve (adversary), 1 = Bob, 2 = Alice; all immobile,
//     all say 4 values, only Alice is heard; Alice obs [goal 4, key 4], Bob [key 4, Alice 4],
//     Eve [Alice 4]. Bob's and Eve's messages are their guesses of the goal.
//   simple_adversary (physical deception): 0 = adversary, 1-2 good (size 0.15), 2 landmarks.
//   simple_spread (cooperative navigation): 3 agents (size 0.15, collide), 3 landmarks, obs 18.
//   simple_tag (predator-prey): 0-2 predators (0.075, accel 3, max speed 1), 3 = prey (0.05,
//     accel 4, max speed 1.3), 2 obstacles (0.2, collide).
//   simple_push (keep-away): 0 = adversary, 1 = good agent, 2 landmarks, both collide.
// Mixed scenarios give each agent its own reward; cooperative ones (speaker_listener, reference,
// simple_spread) give every agent the sum over agents, as the reference.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "envs/markov_game.h"

namespace emcomm {

class ParticleWorld : public MarkovGame {
 public:
  enum class Scenario { SpeakerListener, Reference, Crypto, Adversary, Spread, Tag, Push };
  struct Options {
    Scenario scenario = Scenario::SpeakerListener;
    int64_t episode_length = 25, dim_c = 10;
    // simple_spread: an agent's collision count includes itself (the reference: a constant -1
    // per agent and step); false counts only the other agents it overlaps.
    bool self_collision = true;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();
  explicit ParticleWorld(const Options& opt);

  std::string name() const override { return "particle"; }
  int64_t num_agents() const override { return N_; }
  AgentSpec agent_spec(int64_t agent) const override;
  MarkovState reset(int64_t batch, Rng& rng) override;
  MarkovState step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  MarkovState step_soft(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  torch::Tensor impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                               const torch::Tensor& symbols) const override;
  bool hears(int64_t listener, int64_t speaker) const override;
  // simple_crypto: Bob and Eve answer Alice by their guesses; the meaning of an episode is the goal.
  bool answers_by_message(int64_t agent) const override { return opt_.scenario == Scenario::Crypto && agent != 2; }
  int64_t meaning(int64_t b) const override { return opt_.scenario == Scenario::Crypto ? goal_[b * N_] : -1; }
  bool is_adversary(int64_t agent) const override { return adversary_[agent] != 0; }
  bool shared_reward() const override { return shared_; }
  // Per-episode figures (see MarkovGame::episode_figures; definitions in docs/particle-maddpg.md):
  //   speaker_listener: target_reach, target_touch (last step), goal_distance (mean over steps);
  //   reference: goal_distance (mean over steps and agents);
  //   simple_crypto: bob_success, eve_success (fraction of steps whose guess's argmax is the
  //     goal, over the steps from the second on: those where Alice has been heard);
  //   simple_adversary: good_success, adversary_success (last step: within 2 * landmark size of
  //     the goal, the reference's unshaped-reward test), good_distance, adversary_distance;
  //   simple_spread: distance (sum over landmarks of the nearest agent's distance, mean over
  //     steps), collisions (distinct colliding agent pairs, summed over steps), occupied (landmarks
  //     with an agent within 0.1, mean over steps);
  //   simple_tag: collisions (predator-prey pairs in contact, summed over steps);
  //   simple_push: good_distance, adversary_distance (to the goal, mean over steps).
  EpisodeFigures episode_figures() const override;
  std::string headline_figure() const override;
  bool time_limit_only() const override { return true; }

  const Options& options() const { return opt_; }
  int64_t num_landmarks() const { return L_; }
  // Entities: agents 0..N-1, then landmarks N..N+L-1.
  int64_t entities() const { return N_ + L_; }
  int64_t landmark(int64_t l) const { return N_ + l; }
  const float* position(int64_t b, int64_t e) const { return &pos_[(b * entities() + e) * 2]; }
  const float* velocity(int64_t b, int64_t e) const { return &vel_[(b * entities() + e) * 2]; }
  // What agent i's channel carries in world b (comm_dim() values; silent agents: zeros).
  const float* channel(int64_t b, int64_t agent) const { return &comm_[(b * N_ + agent) * comm_dim()]; }
  float size(int64_t e) const { return size_[e]; }
  float accel(int64_t e) const { return accel_[e]; }
  float max_speed(int64_t e) const { return max_speed_[e]; }  // 0: unbounded
  bool collides(int64_t e) const { return collide_[e] != 0; }
  bool moves(int64_t agent) const { return movable_[agent] != 0; }
  bool speaks(int64_t agent) const { return !silent_[agent]; }
  int64_t comm_dim() const { return C_; }
  // The goal landmark of agent i in world b (speaker_listener: both hold the listener's target;
  // reference: the landmark agent 1-i must reach; crypto, adversary, push: the shared goal).
  int64_t goal(int64_t b, int64_t agent) const { return goal_[b * N_ + agent]; }
  int64_t key(int64_t b) const { return key_[b]; }  // simple_crypto: the key landmark
  const float* colour(int64_t landmark) const { return &colour_[landmark * 3]; }
  bool has_colours() const { return !colour_.empty(); }  // colour() exists (python/: state())
  int64_t steps_done() const { return t_; }
  // Whether entities x and y overlap (distance < sum of sizes), the reference's is_collision.
  bool in_collision(int64_t b, int64_t x, int64_t y) const;
  // The contact force's magnitude between entities of overlap-free distance d_min at distance d:
  // 100 * 1e-3 * softplus((d_min - d) / 1e-3), in logaddexp form.
  static float contact_force(float dist, float dmin);
  // Test hooks: set an entity's position / velocity in world b.
  void set_position(int64_t b, int64_t e, float x, float y) { pos_[(b * entities() + e) * 2] = x, pos_[(b * entities() + e) * 2 + 1] = y; }
  void set_velocity(int64_t b, int64_t e, float x, float y) { vel_[(b * entities() + e) * 2] = x, vel_[(b * entities() + e) * 2 + 1] = y; }
  // Test hooks: set agent i's goal landmark / simple_crypto's key in world b.
  void set_goal(int64_t b, int64_t agent, int64_t l) { goal_[b * N_ + agent] = l; }
  void set_key(int64_t b, int64_t l) { key_[b] = l; }
  // Test/replay hook (python/: set_state): set what agent i's channel carries in world b (comm_dim() values).
  void set_channel(int64_t b, int64_t agent, const float* v) { for (int64_t k = 0; k < C_; ++k) comm_[(b * N_ + agent) * C_ + k] = v[k]; }
  // speaker_listener figures at the current state, per world: the landmark nearest to the
  // listener is the goal (reach); the listener overlaps the goal (distance < 0.115) (touch).
  std::vector<uint8_t> target_reach() const;
  std::vector<uint8_t> target_touch() const;

  // The allocation-free core that reset()/step_soft() wrap with tensors (and `emcomm bench`
  // drives directly): once a batch size has been reset, these touch only buffers the world
  // already holds. reset_raw starts `batch` episodes; step_raw takes soft actions [B, N, fa]
  // and messages [B, N, fm] as contiguous floats (same rules as step_soft) and updates the
  // worlds and rewards in place; write_obs writes agent i's observations [B, obs_dim] to `out`.
  void reset_raw(int64_t batch, Rng& rng);
  void step_raw(const float* actions, int64_t fa, const float* messages, int64_t fm);
  void write_obs(int64_t agent, float* out) const;
  // The reward of the last step to agent i in world b (0 after reset).
  float reward(int64_t b, int64_t agent) const { return reward_[b * N_ + agent]; }

  static constexpr float kDt = 0.1f, kDamping = 0.25f, kSensitivity = 5.0f, kContactForce = 100.0f,
                         kContactMargin = 1e-3f;

 private:
  MarkovState state() const;
  void setup_scenario();          // scenarios.cc: counts, sizes, flags, colours
  void draw_goals(int64_t b, Rng& rng);  // scenarios.cc: goals/keys of world b, reference order
  void compute_rewards(int64_t b);       // scenarios.cc: reward_ of world b after a step
  void add_figures(int64_t b);           // scenarios.cc: per-step figure sums of world b
  int64_t obs_dim(int64_t agent) const;
  float dist(int64_t b, int64_t x, int64_t y) const;
  float dist2(int64_t b, int64_t x, int64_t y) const;
  Options opt_;
  int64_t N_ = 2, L_ = 3, C_ = 0;
  bool shared_ = false;
  std::vector<float> size_, accel_, max_speed_;              // [E]
  std::vector<uint8_t> collide_, movable_, silent_, adversary_;  // [E] / [N]
  bool any_collide_ = false;  // at least two entities collide (else no contact forces)
  float landmark_range_ = 1.0f;  // landmarks start uniform in [-range, range]^2
  std::vector<float> colour_;    // [L, 3] (speaker_listener, reference)
  // Episode state.
  int64_t B_ = 0, t_ = 0;
  std::vector<float> pos_, vel_;  // [B, E, 2]
  std::vector<float> comm_;       // [B, N, C]: what each agent's channel carries
  std::vector<int64_t> goal_;     // [B, N]
  std::vector<int64_t> key_;      // [B]
  std::vector<float> force_;      // [B, E, 2] scratch
  std::vector<float> reward_;     // [B, N]: the last step's rewards
  std::vector<double> fig_;       // [B, kFigureSlots]: per-episode sums of the scenario's figures
  static constexpr int64_t kFigureSlots = 4;
};

}  // namespace emcomm
