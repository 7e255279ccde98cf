// The scenarios of the particle world (particle.h): who is who, what each agent observes, the
// rewards and the per-episode figures. Sizes, observation layouts and rewards follow
// openai/multiagent-particle-envs (multiagent/scenarios/*.py); docs/particle-maddpg.md lists them.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"
#include "envs/particle/particle.h"

namespace emcomm {
namespace {

constexpr int64_t kMaxAgents = 8;

// simple_tag's penalty for a prey coordinate at |x| (reference: 0 inside 0.9, linear to 1 at 1,
// then exp(2x - 2) capped at 10).
float boundary_penalty(float x) {
  if (x < 0.9f) return 0.0f;
  if (x < 1.0f) return (x - 0.9f) * 10.0f;
  return std::min(std::exp(2.0f * x - 2.0f), 10.0f);
}

int64_t argmax(const float* c, int64_t n) { return int64_t(std::max_element(c, c + n) - c); }

}  // namespace

void ParticleWorld::setup_scenario() {
  using S = Scenario;
  const S s = opt_.scenario;
  const float agent_size[] = {0.075f, 0.05f, 0.05f, 0.15f, 0.15f, 0.05f, 0.05f};
  const float landmark_size[] = {0.04f, 0.05f, 0.05f, 0.08f, 0.05f, 0.2f, 0.05f};
  const int64_t agents[] = {2, 2, 3, 3, 3, 4, 2}, landmarks[] = {3, 3, 2, 2, 3, 2, 2};
  const int k = int(s);
  N_ = agents[k], L_ = landmarks[k];
  EMCOMM_CHECK(N_ <= kMaxAgents, "particle scenario with too many agents");
  C_ = s == S::SpeakerListener ? 3 : s == S::Reference ? opt_.dim_c : s == S::Crypto ? 4 : 0;
  shared_ = s == S::SpeakerListener || s == S::Reference || s == S::Spread;
  const int64_t E = N_ + L_;
  size_.assign(E, landmark_size[k]);
  std::fill(size_.begin(), size_.begin() + N_, agent_size[k]);
  accel_.assign(E, 0.0f);
  std::fill(accel_.begin(), accel_.begin() + N_, kSensitivity);
  max_speed_.assign(E, 0.0f);
  movable_.assign(E, 0);
  std::fill(movable_.begin(), movable_.begin() + N_, s == S::Crypto ? 0 : 1);
  collide_.assign(E, 0);
  silent_.assign(N_, s == S::Reference || s == S::Crypto ? 0 : 1);
  adversary_.assign(N_, 0);
  switch (s) {
    case S::SpeakerListener:
      movable_[0] = 0, silent_[0] = 0;  // the speaker; the listener moves and is silent
      colour_ = {0.65f, 0.15f, 0.15f, 0.15f, 0.65f, 0.15f, 0.15f, 0.15f, 0.65f};
      break;
    case S::Reference: colour_ = {0.75f, 0.25f, 0.25f, 0.25f, 0.75f, 0.25f, 0.25f, 0.25f, 0.75f}; break;
    case S::Crypto: adversary_[0] = 1; break;  // 0 Eve, 1 Bob, 2 Alice (the speaker)
    case S::Adversary: adversary_[0] = 1; break;
    case S::Spread: std::fill(collide_.begin(), collide_.begin() + N_, 1); break;
    case S::Tag:
      std::fill(collide_.begin(), collide_.end(), 1);  // agents and obstacles
      for (int64_t i = 0; i < N_; ++i) {
        const bool predator = i < 3;
        adversary_[i] = predator;
        size_[i] = predator ? 0.075f : 0.05f;
        accel_[i] = predator ? 3.0f : 4.0f;
        max_speed_[i] = predator ? 1.0f : 1.3f;
      }
      landmark_range_ = 0.9f;
      break;
    case S::Push:
      adversary_[0] = 1;
      collide_[0] = collide_[1] = 1;
      colour_ = {0.1f, 0.9f, 0.1f, 0.1f, 0.1f, 0.9f};  // landmark l: 0.1, plus 0.8 at index l + 1
      break;
  }
}

void ParticleWorld::draw_goals(int64_t b, Rng& rng) {
  int64_t* g = &goal_[b * N_];
  switch (opt_.scenario) {
    case Scenario::Reference:
      g[0] = int64_t(rng.below(L_));
      g[1] = int64_t(rng.below(L_));
      break;
    case Scenario::Crypto:
      std::fill(g, g + N_, int64_t(rng.below(L_)));
      key_[b] = int64_t(rng.below(L_));
      break;
    case Scenario::SpeakerListener:
    case Scenario::Adversary:
    case Scenario::Push: std::fill(g, g + N_, int64_t(rng.below(L_))); break;
    case Scenario::Spread:
    case Scenario::Tag: break;  // no goals
  }
}

int64_t ParticleWorld::obs_dim(int64_t i) const {
  const int64_t others = 2 * (N_ - 1), lms = 2 * L_;
  switch (opt_.scenario) {
    case Scenario::SpeakerListener: return i == 0 ? 3 : 2 + lms + C_;
    case Scenario::Reference: return 2 + lms + 3 + C_;
    case Scenario::Crypto: return i == 0 ? C_ : 2 * C_;
    case Scenario::Adversary: return (adversary_[i] ? 0 : 2) + lms + others;
    case Scenario::Spread: return 4 + lms + others + others;  // + the others' (silent) 2-d channels
    case Scenario::Tag: {
      int64_t good_others = 0;
      for (int64_t j = 0; j < N_; ++j) good_others += j != i && !adversary_[j];
      return 4 + lms + others + 2 * good_others;
    }
    case Scenario::Push: return adversary_[i] ? 2 + lms + others : 2 + 2 + 3 + lms + 3 * L_ + others;
  }
  return 0;
}

void ParticleWorld::write_obs(int64_t i, float* o) const {
  const int64_t D = obs_dim(i), C = C_;
  const Scenario s = opt_.scenario;
  for (int64_t b = 0; b < B_; ++b) {
    float* row = o + b * D;
    int64_t k = 0;
    const float* p = position(b, i);
    const float* v = velocity(b, i);
    auto rel = [&](int64_t e) {
      const float* q = position(b, e);
      row[k++] = q[0] - p[0], row[k++] = q[1] - p[1];
    };
    auto vec = [&](const float* x, int64_t n) {
      for (int64_t c = 0; c < n; ++c) row[k++] = x[c];
    };
    auto one_hot = [&](int64_t hot, int64_t n) {
      for (int64_t c = 0; c < n; ++c) row[k++] = c == hot ? 1.0f : 0.0f;
    };
    auto landmarks = [&] {
      for (int64_t l = 0; l < L_; ++l) rel(landmark(l));
    };
    auto others = [&] {
      for (int64_t j = 0; j < N_; ++j)
        if (j != i) rel(j);
    };
    switch (s) {
      case Scenario::SpeakerListener:
        if (i == 0) {
          vec(colour(goal_[b * N_]), 3);
          break;
        }
        vec(v, 2), landmarks(), vec(channel(b, 0), C);
        break;
      case Scenario::Reference:
        vec(v, 2), landmarks(), vec(colour(goal_[b * N_ + i]), 3), vec(channel(b, 1 - i), C);
        break;
      case Scenario::Crypto:  // Alice [goal, key], Bob [key, Alice's message], Eve [Alice's message]
        if (i == 2) one_hot(goal_[b * N_], C), one_hot(key_[b], C);
        if (i == 1) one_hot(key_[b], C), vec(channel(b, 2), C);
        if (i == 0) vec(channel(b, 2), C);
        break;
      case Scenario::Adversary:
        if (!adversary_[i]) rel(landmark(goal_[b * N_]));
        landmarks(), others();
        break;
      case Scenario::Spread:
        vec(v, 2), vec(p, 2), landmarks(), others();
        for (int64_t c = 0; c < 2 * (N_ - 1); ++c) row[k++] = 0.0f;  // the others' silent channels
        break;
      case Scenario::Tag:
        vec(v, 2), vec(p, 2), landmarks(), others();
        for (int64_t j = 0; j < N_; ++j)
          if (j != i && !adversary_[j]) vec(velocity(b, j), 2);
        break;
      case Scenario::Push:
        vec(v, 2);
        if (adversary_[i]) {
          landmarks(), others();
          break;
        }
        rel(landmark(goal_[b * N_]));
        for (int64_t c = 0; c < 3; ++c) row[k++] = c == goal_[b * N_] + 1 ? 0.75f : 0.25f;  // own colour
        landmarks();
        vec(colour_.data(), 3 * L_);
        others();
        break;
    }
    EMCOMM_CHECK(k == D, "particle observation layout mismatch");
  }
}

void ParticleWorld::compute_rewards(int64_t b) {
  float* r = &reward_[b * N_];
  const int64_t g = goal_[b * N_];
  switch (opt_.scenario) {
    case Scenario::SpeakerListener: r[0] = r[1] = -2.0f * dist2(b, 1, landmark(g)); break;  // summed over both
    case Scenario::Reference:
      r[0] = r[1] = -dist2(b, 1, landmark(goal_[b * N_])) - dist2(b, 0, landmark(goal_[b * N_ + 1]));
      break;
    case Scenario::Crypto: {
      // A guess that is all zeros is not scored (the reference skips it).
      auto scored = [&](int64_t j, float& err) {
        const float* c = channel(b, j);
        bool zero = true;
        err = 0.0f;
        for (int64_t x = 0; x < C_; ++x) {
          zero = zero && c[x] == 0.0f;
          err += (c[x] - (x == g ? 1.0f : 0.0f)) * (c[x] - (x == g ? 1.0f : 0.0f));
        }
        return !zero;
      };
      float bob = 0, eve = 0;
      const bool bob_scored = scored(1, bob), eve_scored = scored(0, eve);
      r[1] = r[2] = (bob_scored ? -bob : 0.0f) + (eve_scored ? eve : 0.0f);
      r[0] = eve_scored ? -eve : 0.0f;
      break;
    }
    case Scenario::Adversary: {
      float adv = 0, good = std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < N_; ++j)
        if (adversary_[j]) adv += dist(b, j, landmark(g));
        else good = std::min(good, dist(b, j, landmark(g)));
      for (int64_t j = 0; j < N_; ++j) r[j] = adversary_[j] ? -dist2(b, j, landmark(g)) : -good + adv;
      break;
    }
    case Scenario::Spread: {
      float cover = 0;
      for (int64_t l = 0; l < L_; ++l) {
        float m = std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < N_; ++j) m = std::min(m, dist(b, j, landmark(l)));
        cover -= m;
      }
      float total = 0;
      for (int64_t j = 0; j < N_; ++j) {
        float rj = cover;
        for (int64_t x = 0; x < N_; ++x)
          if ((x != j || opt_.self_collision) && in_collision(b, x, j)) rj -= 1.0f;
        total += rj;
      }
      std::fill(r, r + N_, total);  // cooperative: every agent gets the sum
      break;
    }
    case Scenario::Tag: {
      int64_t caught[kMaxAgents] = {}, pairs = 0;  // predators touching each prey; all pairs
      for (int64_t x = 0; x < N_; ++x)
        for (int64_t y = 0; y < N_; ++y)
          if (adversary_[x] && !adversary_[y] && in_collision(b, y, x)) ++caught[y], ++pairs;
      for (int64_t j = 0; j < N_; ++j) {
        if (adversary_[j]) {
          r[j] = 10.0f * float(pairs);
          continue;
        }
        r[j] = -10.0f * float(caught[j]);
        for (int d = 0; d < 2; ++d) r[j] -= boundary_penalty(std::abs(position(b, j)[d]));
      }
      break;
    }
    case Scenario::Push: {
      float good = std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < N_; ++j)
        if (!adversary_[j]) good = std::min(good, dist(b, j, landmark(g)));
      for (int64_t j = 0; j < N_; ++j) r[j] = adversary_[j] ? good - dist(b, j, landmark(g)) : -dist(b, j, landmark(g));
      break;
    }
  }
}

void ParticleWorld::add_figures(int64_t b) {
  double* f = &fig_[b * kFigureSlots];
  const int64_t g = goal_[b * N_];
  switch (opt_.scenario) {
    case Scenario::SpeakerListener: f[0] += dist(b, 1, landmark(g)); break;
    case Scenario::Reference:
      f[0] += 0.5 * (dist(b, 1, landmark(goal_[b * N_])) + dist(b, 0, landmark(goal_[b * N_ + 1])));
      break;
    case Scenario::Crypto:
      if (t_ < 2) break;  // at the first step nobody has heard Alice yet
      f[0] += argmax(channel(b, 1), C_) == g;
      f[1] += argmax(channel(b, 0), C_) == g;
      f[2] += 1;
      break;
    case Scenario::Adversary:
    case Scenario::Push: {
      double good = std::numeric_limits<double>::infinity(), adv = 0;
      int64_t n_adv = 0;
      for (int64_t j = 0; j < N_; ++j)
        if (adversary_[j]) adv += dist(b, j, landmark(g)), ++n_adv;
        else good = std::min(good, double(dist(b, j, landmark(g))));
      f[0] += good, f[1] += adv / double(n_adv);
      break;
    }
    case Scenario::Spread:
      for (int64_t l = 0; l < L_; ++l) {
        float m = std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < N_; ++j) m = std::min(m, dist(b, j, landmark(l)));
        f[0] += m, f[2] += m < 0.1f;
      }
      for (int64_t x = 0; x < N_; ++x)
        for (int64_t y = x + 1; y < N_; ++y) f[1] += in_collision(b, x, y);
      break;
    case Scenario::Tag:
      for (int64_t x = 0; x < N_; ++x)
        for (int64_t y = 0; y < N_; ++y) f[0] += adversary_[x] && !adversary_[y] && in_collision(b, y, x);
      break;
  }
}

MarkovGame::EpisodeFigures ParticleWorld::episode_figures() const {
  EpisodeFigures out;
  auto figure = [&](const std::string& name, auto value) {
    std::vector<double> v(B_);
    for (int64_t b = 0; b < B_; ++b) v[b] = value(b, &fig_[b * kFigureSlots]);
    out.emplace_back(name, std::move(v));
  };
  const double steps = double(t_);  // means over the steps done (NaN before the first)
  auto mean = [&](int slot) {
    return [slot, steps](int64_t, const double* f) { return steps > 0 ? f[slot] / steps : std::nan(""); };
  };
  auto sum = [](int slot) { return [slot](int64_t, const double* f) { return f[slot]; }; };
  // Within 2 * the landmark's size of the goal (the reference's unshaped-reward test).
  auto near_goal = [&](bool adversary) {
    return [this, adversary](int64_t b, const double*) {
      const int64_t g = landmark(goal_[b * N_]);
      bool any = false;
      for (int64_t j = 0; j < N_; ++j) any = any || (bool(adversary_[j]) == adversary && dist(b, j, g) < 2 * size_[g]);
      return double(any);
    };
  };
  switch (opt_.scenario) {
    case Scenario::SpeakerListener: {
      const auto reach = target_reach(), touch = target_touch();
      figure("target_reach", [&](int64_t b, const double*) { return double(reach[b]); });
      figure("target_touch", [&](int64_t b, const double*) { return double(touch[b]); });
      figure("goal_distance", mean(0));
      break;
    }
    case Scenario::Reference: figure("goal_distance", mean(0)); break;
    case Scenario::Crypto: {
      auto rate = [](int slot) {
        return [slot](int64_t, const double* f) { return f[2] > 0 ? f[slot] / f[2] : std::nan(""); };
      };
      figure("bob_success", rate(0));
      figure("eve_success", rate(1));
      break;
    }
    case Scenario::Adversary:
      figure("good_success", near_goal(false));
      figure("adversary_success", near_goal(true));
      figure("good_distance", mean(0));
      figure("adversary_distance", mean(1));
      break;
    case Scenario::Spread:
      figure("distance", mean(0));
      figure("collisions", sum(1));
      figure("occupied", mean(2));
      break;
    case Scenario::Tag: figure("collisions", sum(0)); break;
    case Scenario::Push:
      figure("good_distance", mean(0));
      figure("adversary_distance", mean(1));
      break;
  }
  return out;
}

}  // namespace emcomm
