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

}  // namespace

OptionSet ParticleWorld::option_set() {
  OptionSet s;
  s.add_choice("env.scenario", "speaker_listener", {"speaker_listener", "reference"},
               "particle scenario: speaker_listener (cooperative communication) or reference")
      .add_int("env.episode_length", 25, "steps per episode (reference 25)", 1, 100000)
      .add_int("env.dim_c", 10, "scenario=reference: values of each agent's message (reference 10)", 1, 1000);
  return s;
}

ParticleWorld::Options ParticleWorld::Options::from(const Config& cfg) {
  Options o;
  o.scenario = cfg.get_string("env.scenario") == "reference" ? Scenario::Reference : Scenario::SpeakerListener;
  o.episode_length = cfg.get_int("env.episode_length");
  o.dim_c = cfg.get_int("env.dim_c");
  if (o.scenario == Scenario::SpeakerListener && cfg.is_set("env.dim_c"))
    throw UserError("option env.dim_c applies only to env.scenario=reference (speaker_listener's channel has 3 values)");
  return o;
}

ParticleWorld::ParticleWorld(const Options& opt) : opt_(opt) {
  EMCOMM_CHECK(opt.episode_length >= 1, "particle world needs episode_length >= 1");
  const bool sl = opt.scenario == Scenario::SpeakerListener;
  // Agents: default size 0.05 (reference), the listener 0.075; landmarks 0.04 (speaker_listener)
  // or 0.05 (reference). No entity collides in these scenarios (reference), the contact force
  // code runs for entities with collide set.
  size_ = {0.05f, sl ? 0.075f : 0.05f, sl ? 0.04f : 0.05f, sl ? 0.04f : 0.05f, sl ? 0.04f : 0.05f};
  collide_.assign(entities(), 0);
  any_collide_ = std::count(collide_.begin(), collide_.end(), 1) >= 2;
  const float hi = sl ? 0.65f : 0.75f, lo = sl ? 0.15f : 0.25f;
  colour_ = {hi, lo, lo, lo, hi, lo, lo, lo, hi};
}

bool ParticleWorld::hears(int64_t listener, int64_t speaker) const {
  if (listener == speaker) return false;
  return speaks(speaker);
}

AgentSpec ParticleWorld::agent_spec(int64_t agent) const {
  AgentSpec s;
  const bool sl = opt_.scenario == Scenario::SpeakerListener;
  s.obs_dim = sl ? (agent == 0 ? 3 : 11) : 11 + opt_.dim_c;
  s.action_factors = moves(agent) ? 1 : 0;
  s.action_values = kMoveValues;
  s.vocab_size = speaks(agent) ? comm_dim() : 0;
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
  comm_.assign(B_ * 2 * comm_dim(), 0.0f);
  goal_.assign(B_ * 2, 0);
  reward_.assign(B_ * 2, 0.0f);
  for (int64_t b = 0; b < B_; ++b) {
    // Reference order: goals first, then agent positions, then landmark positions.
    if (opt_.scenario == Scenario::SpeakerListener) {
      goal_[b * 2] = goal_[b * 2 + 1] = int64_t(rng.below(kLandmarks));
    } else {
      goal_[b * 2] = int64_t(rng.below(kLandmarks));
      goal_[b * 2 + 1] = int64_t(rng.below(kLandmarks));
    }
    for (int64_t e = 0; e < E; ++e) {
      pos_[(b * E + e) * 2] = uniform_pm1(rng);
      pos_[(b * E + e) * 2 + 1] = uniform_pm1(rng);
    }
  }
}

void ParticleWorld::write_obs(int64_t i, float* o) const {
  const int64_t C = comm_dim(), D = agent_spec(i).obs_dim;
  const bool sl = opt_.scenario == Scenario::SpeakerListener;
  for (int64_t b = 0; b < B_; ++b) {
    float* row = o + b * D;
    if (sl && i == 0) {
      const float* c = colour(goal_[b * 2]);
      row[0] = c[0], row[1] = c[1], row[2] = c[2];
      continue;
    }
    const float* p = position(b, i);
    const float* v = velocity(b, i);
    int64_t k = 0;
    row[k++] = v[0], row[k++] = v[1];
    for (int64_t l = 0; l < kLandmarks; ++l) {
      const float* q = position(b, 2 + l);
      row[k++] = q[0] - p[0], row[k++] = q[1] - p[1];
    }
    if (!sl) {
      const float* c = colour(goal_[b * 2 + i]);
      row[k++] = c[0], row[k++] = c[1], row[k++] = c[2];
    }
    const float* heard = &comm_[(b * 2 + (1 - i)) * C];
    for (int64_t c = 0; c < C; ++c) row[k++] = heard[c];
  }
}

MarkovState ParticleWorld::state() const {
  MarkovState s;
  for (int64_t i = 0; i < 2; ++i) {
    auto obs = torch::empty({B_, agent_spec(i).obs_dim}, torch::kFloat32);
    write_obs(i, obs.data_ptr<float>());
    s.obs.push_back(obs);
  }
  const bool done = t_ >= opt_.episode_length;
  s.speaks = torch::zeros({B_, 2}, torch::kBool);
  s.acts = torch::zeros({B_, 2}, torch::kBool);
  if (!done)
    for (int64_t i = 0; i < 2; ++i) {
      // A message sent at the last step is never heard: the speaker's mask is off there.
      if (speaks(i) && t_ + 1 < opt_.episode_length) s.speaks.select(1, i).fill_(true);
      if (moves(i)) s.acts.select(1, i).fill_(true);
    }
  s.reward = torch::from_blob(const_cast<float*>(reward_.data()), {B_, 2}, torch::kFloat32).clone();
  s.done = torch::full({B_}, done, torch::kBool);
  return s;
}

MarkovState ParticleWorld::step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) {
  EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B_ && actions.size(1) == 2, "particle actions must be [B, 2, F]");
  EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B_ && messages.size(1) == 2,
               "particle messages must be [B, 2, L]");
  const int64_t C = comm_dim();
  auto a = torch::zeros({B_, 2, kMoveValues}, torch::kFloat32), m = torch::zeros({B_, 2, C}, torch::kFloat32);
  for (int64_t i = 0; i < 2; ++i) {
    if (moves(i)) {
      auto k = actions.select(1, i).select(1, 0).to(torch::kInt64);
      EMCOMM_CHECK((k >= 0).all().item<bool>() && (k < kMoveValues).all().item<bool>(), "movement action out of range");
      a.select(1, i).copy_(torch::one_hot(k, kMoveValues));
    }
    if (speaks(i)) {
      auto k = messages.select(1, i).select(1, 0).to(torch::kInt64);
      EMCOMM_CHECK((k >= 0).all().item<bool>() && (k < C).all().item<bool>(), "message symbol out of range");
      m.select(1, i).copy_(torch::one_hot(k, C));
    }
  }
  return step_soft(a, m, rng);
}

MarkovState ParticleWorld::step_soft(const torch::Tensor& actions, const torch::Tensor& messages, Rng&) {
  EMCOMM_CHECK(B_ > 0 && t_ < opt_.episode_length, "step() needs an episode in progress (call reset())");
  const int64_t C = comm_dim();
  EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B_ && actions.size(1) == 2 &&
                   (actions.size(2) >= kMoveValues || (!moves(0) && !moves(1))),
               "particle soft actions must be [B, 2, >=5]");
  EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B_ && messages.size(1) == 2 && messages.size(2) >= C,
               "particle soft messages must be [B, 2, >=" + std::to_string(C) + "]");
  auto act = actions.to(torch::kFloat32).contiguous();
  auto msg = messages.to(torch::kFloat32).contiguous();
  step_raw(act.data_ptr<float>(), act.size(2), msg.data_ptr<float>(), msg.size(2));
  return state();
}

void ParticleWorld::step_raw(const float* ap, int64_t FA, const float* mp, int64_t FM) {
  EMCOMM_CHECK(B_ > 0 && t_ < opt_.episode_length, "step() needs an episode in progress (call reset())");
  EMCOMM_CHECK((FA >= kMoveValues || (!moves(0) && !moves(1))) && FM >= comm_dim(),
               "particle step_raw: actions need >= 5 values, messages >= the channel's");
  const int64_t E = entities(), C = comm_dim();
  std::fill(force_.begin(), force_.end(), 0.0f);
  for (int64_t b = 0; b < B_; ++b) {
    float* f = &force_[b * E * 2];
    // Action forces.
    for (int64_t i = 0; i < 2; ++i) {
      if (!moves(i)) continue;
      const float* u = ap + (b * 2 + i) * FA;
      f[i * 2] += (u[1] - u[2]) * kSensitivity;
      f[i * 2 + 1] += (u[3] - u[4]) * kSensitivity;
    }
    // Contact forces between colliding entities.
    for (int64_t x = 0; x < (any_collide_ ? E : 0); ++x)
      for (int64_t y = x + 1; y < E; ++y) {
        if (!collide_[x] || !collide_[y]) continue;
        const float* px = position(b, x);
        const float* py = position(b, y);
        const float dx = px[0] - py[0], dy = px[1] - py[1];
        const float dist = std::sqrt(dx * dx + dy * dy), dmin = size_[x] + size_[y];
        const float pen = std::log1p(std::exp(-(dist - dmin) / kContactMargin)) * kContactMargin;
        const float fx = kContactForce * dx / std::max(dist, 1e-12f) * pen,
                    fy = kContactForce * dy / std::max(dist, 1e-12f) * pen;
        f[x * 2] += fx, f[x * 2 + 1] += fy;
        f[y * 2] -= fx, f[y * 2 + 1] -= fy;
      }
    // Integration (movable entities only: the moving agents).
    for (int64_t e = 0; e < 2; ++e) {
      if (!moves(e)) continue;
      float* v = &vel_[(b * E + e) * 2];
      float* p = &pos_[(b * E + e) * 2];
      for (int d = 0; d < 2; ++d) {
        v[d] = v[d] * (1.0f - kDamping) + f[e * 2 + d] * kDt;  // mass 1
        p[d] += v[d] * kDt;
      }
    }
    // Channel contents.
    for (int64_t i = 0; i < 2; ++i) {
      float* c = &comm_[(b * 2 + i) * C];
      for (int64_t k = 0; k < C; ++k) c[k] = speaks(i) ? mp[(b * 2 + i) * FM + k] : 0.0f;
    }
  }
  ++t_;
  for (int64_t b = 0; b < B_; ++b) {
    float r = 0;
    auto d2 = [&](int64_t agent, int64_t landmark) {
      const float* p = position(b, agent);
      const float* q = position(b, 2 + landmark);
      return (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
    };
    if (opt_.scenario == Scenario::SpeakerListener) r = -2.0f * d2(1, goal_[b * 2]);  // both agents' rewards summed
    else r = -d2(1, goal_[b * 2]) - d2(0, goal_[b * 2 + 1]);
    reward_[b * 2] = reward_[b * 2 + 1] = r;
  }
}

torch::Tensor ParticleWorld::impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                                            const torch::Tensor& symbols) const {
  EMCOMM_CHECK(hears(listener, speaker), "impose_message: the listener does not hear this speaker");
  const int64_t C = comm_dim();
  auto out = obs.clone();
  out.narrow(1, out.size(1) - C, C).copy_(torch::one_hot(symbols.select(1, 0).to(torch::kInt64), C).to(out.dtype()));
  return out;
}

std::vector<uint8_t> ParticleWorld::target_reach() const {
  std::vector<uint8_t> r(B_, 0);
  for (int64_t b = 0; b < B_; ++b) {
    const float* p = position(b, 1);
    int64_t best = 0;
    float bd = 1e30f;
    for (int64_t l = 0; l < kLandmarks; ++l) {
      const float* q = position(b, 2 + l);
      const float d = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
      if (d < bd) bd = d, best = l;
    }
    r[b] = best == goal_[b * 2];
  }
  return r;
}

std::vector<uint8_t> ParticleWorld::target_touch() const {
  std::vector<uint8_t> r(B_, 0);
  for (int64_t b = 0; b < B_; ++b) {
    const float* p = position(b, 1);
    const float* q = position(b, 2 + goal_[b * 2]);
    r[b] = std::sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1])) < size_[1] + size_[2];
  }
  return r;
}

std::map<std::string, double> ParticleWorld::episode_figures() const {
  std::map<std::string, double> m;
  if (opt_.scenario != Scenario::SpeakerListener || B_ == 0) return m;
  auto reach = target_reach(), touch = target_touch();
  m["target_reach"] = double(std::accumulate(reach.begin(), reach.end(), 0)) / double(B_);
  m["target_touch"] = double(std::accumulate(touch.begin(), touch.end(), 0)) / double(B_);
  return m;
}

std::string ParticleWorld::headline_figure() const {
  return opt_.scenario == Scenario::SpeakerListener ? "target_reach" : "";
}

static const bool kRegistered = EnvRegistry::add(
    {"particle", "particle worlds (MADDPG): speaker_listener (cooperative communication), reference",
     ParticleWorld::option_set(), [](const Config& cfg, Rng) -> std::shared_ptr<Env> {
       return std::make_shared<ParticleWorld>(ParticleWorld::Options::from(cfg));
     },
     EnvKind::Markov, Observations::Vector, /*human_language=*/false, {"--env.episode_length=4"}});

}  // namespace emcomm
