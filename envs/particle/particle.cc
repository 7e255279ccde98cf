#include "envs/particle/particle.h"

#include <numeric>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace emcomm {
namespace {

constexpr int64_t kMoveValues = 5;

float uniform_pm1(Rng& rng) { return float(double(rng.next() >> 11) * 0x1.0p-53 * 2.0 - 1.0); }

const std::vector<std::pair<std::string, ParticleWorld::Scenario>>& scenario_names() {
  using S = ParticleWorld::Scenario;
  static const std::vector<std::pair<std::string, S>> names = {
      {"speaker_listener", S::SpeakerListener}, {"reference", S::Reference},   {"simple_crypto", S::Crypto},
      {"simple_adversary", S::Adversary},       {"simple_spread", S::Spread}, {"simple_tag", S::Tag},
      {"simple_push", S::Push}};
  return names;
}

}  // namespace

OptionSet ParticleWorld::option_set() {
  std::vector<std::string> names;
  for (const auto& [n, s] : scenario_names()) names.push_back(n);
  OptionSet s;
  s.add_choice("env.scenario", "speaker_listener", names,
               "particle scenario: speaker_listener (cooperative communication), reference, simple_crypto "
               "(covert communication), simple_adversary (physical deception), simple_spread (cooperative "
               "navigation), simple_tag (predator-prey), simple_push (keep-away)")
      .add_int("env.episode_length", 25, "steps per episode (reference 25)", 1, 100000)
      .add_int("env.dim_c", 10, "scenario=reference: values of each agent's message (reference 10)", 1, 1000)
      .add_bool("env.self_collision", true,
                "scenario=simple_spread: each agent's collision penalty counts the agent itself (the "
                "reference: a constant -1 per agent and step); false: only the other agents it overlaps");
  return s;
}

ParticleWorld::Options ParticleWorld::Options::from(const Config& cfg) {
  Options o;
  const std::string name = cfg.get_string("env.scenario");
  for (const auto& [n, s] : scenario_names())
    if (n == name) o.scenario = s;
  o.episode_length = cfg.get_int("env.episode_length");
  o.dim_c = cfg.get_int("env.dim_c");
  o.self_collision = cfg.get_bool("env.self_collision");
  if (o.scenario != Scenario::Reference && cfg.is_set("env.dim_c"))
    throw UserError("option env.dim_c applies only to env.scenario=reference (speaker_listener's channel has 3 "
                    "values, simple_crypto's 4, the other scenarios are silent)");
  if (o.scenario != Scenario::Spread && cfg.is_set("env.self_collision"))
    throw UserError("option env.self_collision applies only to env.scenario=simple_spread");
  return o;
}

ParticleWorld::ParticleWorld(const Options& opt) : opt_(opt) {
  EMCOMM_CHECK(opt.episode_length >= 1, "particle world needs episode_length >= 1");
  setup_scenario();
  int64_t colliders = 0;
  for (auto c : collide_) colliders += c;
  any_collide_ = colliders >= 2;
}

bool ParticleWorld::hears(int64_t listener, int64_t speaker) const {
  if (listener == speaker || !speaks(speaker)) return false;
  return opt_.scenario != Scenario::Crypto || speaker == 2;  // crypto: only Alice is heard
}

AgentSpec ParticleWorld::agent_spec(int64_t agent) const {
  AgentSpec s;
  s.obs_dim = obs_dim(agent);
  s.action_factors = moves(agent) ? 1 : 0;
  s.action_values = kMoveValues;
  s.vocab_size = speaks(agent) ? C_ : 0;
  s.msg_len = 1;
  return s;
}

MarkovState ParticleWorld::reset(int64_t batch, Rng& rng) {
  reset_raw(batch, rng);
  return state();
}

void ParticleWorld::reset_raw(int64_t batch, Rng& rng) {
  EMCOMM_CHECK(batch >= 1, "reset needs at least one world");
  B_ = batch;
  t_ = 0;
  const int64_t E = entities();
  pos_.assign(B_ * E * 2, 0.0f);
  vel_.assign(B_ * E * 2, 0.0f);
  force_.assign(B_ * E * 2, 0.0f);
  comm_.assign(B_ * N_ * C_, 0.0f);
  goal_.assign(B_ * N_, 0);
  key_.assign(B_, 0);
  reward_.assign(B_ * N_, 0.0f);
  fig_.assign(B_ * kFigureSlots, 0.0);
  for (int64_t b = 0; b < B_; ++b) {
    // Reference order: goals first, then agent positions, then landmark positions.
    draw_goals(b, rng);
    for (int64_t e = 0; e < E; ++e) {
      const float scale = e < N_ ? 1.0f : landmark_range_;  // x 1 is exact
      pos_[(b * E + e) * 2] = uniform_pm1(rng) * scale;
      pos_[(b * E + e) * 2 + 1] = uniform_pm1(rng) * scale;
    }
  }
}

MarkovState ParticleWorld::state() const {
  MarkovState s;
  for (int64_t i = 0; i < N_; ++i) {
    auto obs = torch::empty({B_, obs_dim(i)}, torch::kFloat32);
    write_obs(i, obs.data_ptr<float>());
    s.obs.push_back(obs);
  }
  const bool done = t_ >= opt_.episode_length;
  s.speaks = torch::zeros({B_, N_}, torch::kBool);
  s.acts = torch::zeros({B_, N_}, torch::kBool);
  if (!done)
    for (int64_t i = 0; i < N_; ++i) {
      // A message that is only heard is never heard at the last step: its mask is off there.
      // simple_crypto's Bob and Eve are not heard: their messages are guesses that the reward
      // scores at every step.
      bool heard = false;
      for (int64_t j = 0; j < N_; ++j) heard = heard || hears(j, i);
      if (speaks(i) && (!heard || t_ + 1 < opt_.episode_length)) s.speaks.select(1, i).fill_(true);
      if (moves(i)) s.acts.select(1, i).fill_(true);
    }
  s.reward = torch::from_blob(const_cast<float*>(reward_.data()), {B_, N_}, torch::kFloat32).clone();
  s.done = torch::full({B_}, done, torch::kBool);
  return s;
}

MarkovState ParticleWorld::step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) {
  EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B_ && actions.size(1) == N_,
               "particle actions must be [B, " + std::to_string(N_) + ", F]");
  EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B_ && messages.size(1) == N_,
               "particle messages must be [B, " + std::to_string(N_) + ", L]");
  auto a = torch::zeros({B_, N_, kMoveValues}, torch::kFloat32), m = torch::zeros({B_, N_, C_}, torch::kFloat32);
  for (int64_t i = 0; i < N_; ++i) {
    if (moves(i)) {
      auto k = actions.select(1, i).select(1, 0).to(torch::kInt64);
      EMCOMM_CHECK((k >= 0).all().item<bool>() && (k < kMoveValues).all().item<bool>(), "movement action out of range");
      a.select(1, i).copy_(torch::one_hot(k, kMoveValues));
    }
    if (speaks(i)) {
      auto k = messages.select(1, i).select(1, 0).to(torch::kInt64);
      EMCOMM_CHECK((k >= 0).all().item<bool>() && (k < C_).all().item<bool>(), "message symbol out of range");
      m.select(1, i).copy_(torch::one_hot(k, C_));
    }
  }
  return step_soft(a, m, rng);
}

MarkovState ParticleWorld::step_soft(const torch::Tensor& actions, const torch::Tensor& messages, Rng&) {
  EMCOMM_CHECK(B_ > 0 && t_ < opt_.episode_length, "step() needs an episode in progress (call reset())");
  bool any_moves = false;
  for (int64_t i = 0; i < N_; ++i) any_moves = any_moves || moves(i);
  EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B_ && actions.size(1) == N_ &&
                   (actions.size(2) >= kMoveValues || !any_moves),
               "particle soft actions must be [B, " + std::to_string(N_) + ", >=5]");
  EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B_ && messages.size(1) == N_ && messages.size(2) >= C_,
               "particle soft messages must be [B, " + std::to_string(N_) + ", >=" + std::to_string(C_) + "]");
  auto act = actions.to(torch::kFloat32).contiguous();
  auto msg = messages.to(torch::kFloat32).contiguous();
  step_raw(act.data_ptr<float>(), act.size(2), msg.data_ptr<float>(), msg.size(2));
  return state();
}

float ParticleWorld::contact_force(float dist, float dmin) {
  // softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for a deep overlap.
  const float x = -(dist - dmin) / kContactMargin;
  const float softplus = std::max(x, 0.0f) + std::log1p(std::exp(-std::abs(x)));
  return kContactForce * softplus * kContactMargin;
}

float ParticleWorld::dist2(int64_t b, int64_t x, int64_t y) const {
  const float* p = position(b, x);
  const float* q = position(b, y);
  return (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
}

float ParticleWorld::dist(int64_t b, int64_t x, int64_t y) const { return std::sqrt(dist2(b, x, y)); }

bool ParticleWorld::in_collision(int64_t b, int64_t x, int64_t y) const { return dist(b, x, y) < size_[x] + size_[y]; }

void ParticleWorld::step_raw(const float* ap, int64_t FA, const float* mp, int64_t FM) {
  EMCOMM_CHECK(B_ > 0 && t_ < opt_.episode_length, "step() needs an episode in progress (call reset())");
  bool any_moves = false;
  for (int64_t i = 0; i < N_; ++i) any_moves = any_moves || moves(i);
  EMCOMM_CHECK((FA >= kMoveValues || !any_moves) && FM >= C_,
               "particle step_raw: actions need >= 5 values, messages >= the channel's");
  const int64_t E = entities(), C = C_;
  std::fill(force_.begin(), force_.end(), 0.0f);
  for (int64_t b = 0; b < B_; ++b) {
    float* f = &force_[b * E * 2];
    // Action forces.
    for (int64_t i = 0; i < N_; ++i) {
      if (!moves(i)) continue;
      const float* u = ap + (b * N_ + i) * FA;
      f[i * 2] += (u[1] - u[2]) * accel_[i];
      f[i * 2 + 1] += (u[3] - u[4]) * accel_[i];
    }
    // Contact forces between colliding entities (reference order: pairs x < y), on movable ones.
    for (int64_t x = 0; x < (any_collide_ ? E : 0); ++x)
      for (int64_t y = x + 1; y < E; ++y) {
        if (!collide_[x] || !collide_[y]) continue;
        const float* px = position(b, x);
        const float* py = position(b, y);
        const float dx = px[0] - py[0], dy = px[1] - py[1];
        const float d = std::sqrt(dx * dx + dy * dy), pen = contact_force(d, size_[x] + size_[y]);
        // Coincident centres: no direction, no force (the reference divides by zero there).
        const float fx = d > 0 ? dx / d * pen : 0.0f, fy = d > 0 ? dy / d * pen : 0.0f;
        if (movable_[x]) f[x * 2] += fx, f[x * 2 + 1] += fy;
        if (movable_[y]) f[y * 2] -= fx, f[y * 2 + 1] -= fy;
      }
    // Integration (movable entities only).
    for (int64_t e = 0; e < E; ++e) {
      if (!movable_[e]) continue;
      float* v = &vel_[(b * E + e) * 2];
      float* p = &pos_[(b * E + e) * 2];
      v[0] = v[0] * (1.0f - kDamping) + f[e * 2] * kDt;  // mass 1
      v[1] = v[1] * (1.0f - kDamping) + f[e * 2 + 1] * kDt;
      if (max_speed_[e] > 0) {
        const float speed = std::sqrt(v[0] * v[0] + v[1] * v[1]);
        if (speed > max_speed_[e]) v[0] = v[0] / speed * max_speed_[e], v[1] = v[1] / speed * max_speed_[e];
      }
      p[0] += v[0] * kDt;
      p[1] += v[1] * kDt;
    }
    // Channel contents.
    for (int64_t i = 0; i < N_; ++i) {
      float* c = &comm_[(b * N_ + i) * C];
      for (int64_t k = 0; k < C; ++k) c[k] = speaks(i) ? mp[(b * N_ + i) * FM + k] : 0.0f;
    }
  }
  ++t_;
  for (int64_t b = 0; b < B_; ++b) {
    compute_rewards(b);
    add_figures(b);
  }
}

torch::Tensor ParticleWorld::impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                                            const torch::Tensor& symbols) const {
  EMCOMM_CHECK(hears(listener, speaker), "impose_message: the listener does not hear this speaker");
  // In every scenario the one message a listener hears closes its observation.
  auto out = obs.clone();
  out.narrow(1, out.size(1) - C_, C_).copy_(torch::one_hot(symbols.select(1, 0).to(torch::kInt64), C_).to(out.dtype()));
  return out;
}

std::vector<uint8_t> ParticleWorld::target_reach() const {
  std::vector<uint8_t> r(B_, 0);
  for (int64_t b = 0; b < B_; ++b) {
    int64_t best = 0;
    float bd = 1e30f;
    for (int64_t l = 0; l < L_; ++l) {
      const float d = dist2(b, 1, landmark(l));
      if (d < bd) bd = d, best = l;
    }
    r[b] = best == goal_[b * N_];
  }
  return r;
}

std::vector<uint8_t> ParticleWorld::target_touch() const {
  std::vector<uint8_t> r(B_, 0);
  for (int64_t b = 0; b < B_; ++b) r[b] = dist(b, 1, landmark(goal_[b * N_])) < size_[1] + size_[landmark(0)];
  return r;
}

std::string ParticleWorld::headline_figure() const {
  switch (opt_.scenario) {
    case Scenario::SpeakerListener: return "target_reach";
    case Scenario::Crypto: return "bob_success";
    case Scenario::Adversary: return "good_success";
    case Scenario::Spread: return "distance";
    case Scenario::Tag: return "collisions";
    default: return "";
  }
}

static const bool kRegistered = EnvRegistry::add(
    {"particle",
     "particle worlds (MADDPG): speaker_listener (cooperative communication), reference, simple_crypto, "
     "simple_adversary, simple_spread, simple_tag, simple_push",
     ParticleWorld::option_set(), [](const Config& cfg, Rng) -> std::shared_ptr<Env> {
       return std::make_shared<ParticleWorld>(ParticleWorld::Options::from(cfg));
     },
     EnvKind::Markov, Observations::Vector, /*human_language=*/false, {"--env.episode_length=4"}});

}  // namespace emcomm
