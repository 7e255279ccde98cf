#include "envs/matrix/matrix.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.h"

namespace emcomm {
namespace {

const std::vector<std::string> kPayoffKinds = {"random", "fixed", "prisoners_dilemma", "stag_hunt", "coordination",
                                               "chicken"};

// N(0, 1) by Box-Muller from the Rng's raw bits (portable: no standard-library distribution).
double normal(Rng& rng) {
  double u1 = (double((rng.next() >> 11) + 1)) * 0x1.0p-53;  // (0, 1]
  double u2 = double(rng.next() >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<double> parse_matrix(const std::string& option, const std::string& text, int64_t K) {
  std::string t = text;
  for (char& c : t)
    if (c == ',' || c == ';') c = ' ';
  std::istringstream in(t);
  std::vector<double> v;
  std::string word;
  while (in >> word) {
    try {
      size_t used = 0;
      double x = std::stod(word, &used);
      if (used != word.size() || !std::isfinite(x)) throw std::invalid_argument(word);
      v.push_back(x);
    } catch (const std::exception&) {
      throw UserError("option " + option + ": '" + word + "' is not a finite number");
    }
  }
  if (int64_t(v.size()) != K * K)
    throw UserError("option " + option + " needs env.n_acts^2 = " + std::to_string(K * K) +
                    " numbers (row-major, row = agent 0's action), got " + std::to_string(v.size()));
  return v;
}

MatrixGame::Comm parse_comm(const std::string& s) {
  if (s == "turns") return MatrixGame::Comm::Turns;
  if (s == "simul") return MatrixGame::Comm::Simul;
  if (s == "oneag") return MatrixGame::Comm::OneAgent;
  if (s == "none") return MatrixGame::Comm::None;
  if (s == "random") return MatrixGame::Comm::Random;
  if (s == "garble") return MatrixGame::Comm::Garble;
  throw UserError("option env.comm: unknown value '" + s + "'");
}

}  // namespace

OptionSet MatrixGame::option_set() {
  OptionSet s;
  s.add_int("env.n_acts", 2, "actions per agent (K)", 2, 64)
      .add_int("env.n_comm", 0, "symbols of the cheap-talk channel (0: n_acts + 2, the reference)", 0, 1024)
      .add_choice("env.payoffs", "random", kPayoffKinds,
                  "random: fresh N(0, payoff_std^2) matrices per agent per episode; fixed: env.payoff0/1; "
                  "or a named 2-action game")
      .add_float("env.payoff_std", 3.0, "standard deviation of random payoffs", 0.0, 1e6)
      .add_bool("env.common_payoff", false, "random payoffs: agent 1 gets agent 0's matrix (common interest)")
      .add_string("env.payoff0", "", "fixed payoffs of agent 0: K*K numbers, row-major, row = agent 0's action")
      .add_string("env.payoff1", "", "fixed payoffs of agent 1: K*K numbers, row-major, row = agent 0's action")
      .add_float("env.adversarial", 0.0, "adversarial coefficient c: R_a <- R_a - c R_b, applied once", -1e3, 1e3)
      .add_choice("env.comm", "turns", {"turns", "simul", "oneag", "none", "random", "garble"},
                  "channel protocol (docs/matrix-games.md)")
      .add_float("env.garble_prob", 0.5, "comm=garble: probability that a heard symbol is replaced by a random one",
                 0.0, 1.0)
      .add_choice("env.visibility", "both", {"both", "private", "agent0"},
                  "who sees which payoff matrix: both, each only its own, or only agent 0")
      .add_int("env.memory", 0,
               "past rounds in the observation (reference --mem-size): heard, sent, own and other's action of each",
               0, 1000)
      .add_choice("env.cic_reply", "empty", {"empty", "kept"},
                  "CIC probe: the listener's own sent symbol when a message is imposed (empty: cleared, as the "
                  "reference's probe; kept: as it was)");
  return s;
}

std::pair<std::vector<double>, std::vector<double>> MatrixGame::named_game(const std::string& name) {
  auto transpose = [](std::vector<double> m) { return std::vector<double>{m[0], m[2], m[1], m[3]}; };
  std::vector<double> r0;
  if (name == "prisoners_dilemma") r0 = {3, 0, 5, 1};    // 0 = cooperate, 1 = defect
  else if (name == "stag_hunt") r0 = {4, 0, 3, 3};       // 0 = stag, 1 = hare
  else if (name == "chicken") r0 = {0, -1, 1, -10};      // 0 = swerve, 1 = straight
  else if (name == "coordination") return {{1, 0, 0, 1}, {1, 0, 0, 1}};
  else throw UserError("option env.payoffs: unknown game '" + name + "'");
  return {r0, transpose(r0)};  // symmetric games: agent 1's payoff at (a0, a1) is r0 at (a1, a0)
}

MatrixGame::Options MatrixGame::Options::from(const Config& cfg) {
  Options o;
  o.n_acts = cfg.get_int("env.n_acts");
  o.n_comm = cfg.get_int("env.n_comm");
  if (o.n_comm == 0) o.n_comm = o.n_acts + 2;
  o.payoffs = cfg.get_string("env.payoffs");
  o.payoff_std = cfg.get_float("env.payoff_std");
  o.common_payoff = cfg.get_bool("env.common_payoff");
  o.adversarial = cfg.get_float("env.adversarial");
  o.garble_prob = cfg.get_float("env.garble_prob");
  o.comm = parse_comm(cfg.get_string("env.comm"));
  const std::string vis = cfg.get_string("env.visibility");
  o.visibility = vis == "private" ? Visibility::Private : vis == "agent0" ? Visibility::Agent0 : Visibility::Both;
  o.memory = cfg.get_int("env.memory");
  o.cic_reply_empty = cfg.get_string("env.cic_reply") == "empty";
  const bool given0 = cfg.is_set("env.payoff0"), given1 = cfg.is_set("env.payoff1");
  if (o.payoffs == "fixed") {
    if (!given0 || !given1)
      throw UserError("env.payoffs=fixed needs env.payoff0 and env.payoff1 (" + std::to_string(o.n_acts * o.n_acts) +
                      " numbers each, row-major, row = agent 0's action)");
    o.payoff0 = parse_matrix("env.payoff0", cfg.get_string("env.payoff0"), o.n_acts);
    o.payoff1 = parse_matrix("env.payoff1", cfg.get_string("env.payoff1"), o.n_acts);
  } else if (given0 || given1) {
    throw UserError("env.payoff0 / env.payoff1 apply only with env.payoffs=fixed (env.payoffs is " + o.payoffs + ")");
  }
  if (o.common_payoff && o.payoffs != "random")
    throw UserError("env.common_payoff applies only with env.payoffs=random (env.payoffs is " + o.payoffs + ")");
  if (o.payoffs != "random" && o.payoffs != "fixed" && o.n_acts != 2)
    throw UserError("env.payoffs=" + o.payoffs + " is a 2-action game; it needs env.n_acts=2, not " +
                    std::to_string(o.n_acts));
  return o;
}

MatrixGame::MatrixGame(const Options& opt) : opt_(opt), K_(opt.n_acts), V_(opt.comm == Comm::None ? 0 : opt.n_comm) {
  EMCOMM_CHECK(K_ >= 2 && (opt.comm == Comm::None || V_ >= 1), "matrix game needs n_acts >= 2 and n_comm >= 1");
  act_phase_ = opt.comm == Comm::Turns ? 2 : opt.comm == Comm::None ? 0 : 1;
  if (opt.payoffs == "fixed") {
    EMCOMM_CHECK(int64_t(opt.payoff0.size()) == K_ * K_ && int64_t(opt.payoff1.size()) == K_ * K_,
                 "fixed payoffs must have K*K entries");
    fixed0_ = opt.payoff0, fixed1_ = opt.payoff1;
  } else if (opt.payoffs != "random") {
    std::tie(fixed0_, fixed1_) = named_game(opt.payoffs);
  }
}

bool MatrixGame::hears(int64_t listener, int64_t speaker) const {
  if (V_ == 0 || listener == speaker) return false;
  return opt_.comm != Comm::OneAgent || speaker == 0;
}

AgentSpec MatrixGame::agent_spec(int64_t agent) const {
  AgentSpec s;
  s.obs_dim = obs_dim();
  s.action_factors = 1;
  s.action_values = K_;
  s.vocab_size = (V_ == 0 || (opt_.comm == Comm::OneAgent && agent == 1)) ? 0 : V_;
  s.msg_len = 1;
  return s;
}

MarkovState MatrixGame::reset(int64_t batch, Rng& rng) {
  const int64_t k = opt_.memory, W = k * 6;
  if (k > 0) {
    if (train_lanes_ != batch) train_mem_.assign(batch * W, -1), train_lanes_ = batch;
    mem_ = train_mem_;
  }
  recording_ = true;
  return start(batch, rng);
}

MarkovState MatrixGame::reset_eval(int64_t batch, Rng& rng) {
  const int64_t k = opt_.memory, W = k * 6;
  if (k > 0) {
    mem_.assign(batch * W, -1);
    for (int64_t b = 0; b < batch && train_lanes_ > 0; ++b)
      std::copy_n(train_mem_.begin() + (b % train_lanes_) * W, W, mem_.begin() + b * W);
  }
  recording_ = false;
  return start(batch, rng);
}

torch::Tensor MatrixGame::memory_state() const {
  if (opt_.memory == 0 || train_lanes_ == 0) return torch::zeros({0, opt_.memory, 6}, torch::kInt64);
  return torch::tensor(train_mem_, torch::kInt64).view({train_lanes_, opt_.memory, 6});
}

void MatrixGame::set_memory_state(const torch::Tensor& rounds) {
  EMCOMM_CHECK(rounds.dim() == 3 && rounds.size(1) == opt_.memory && rounds.size(2) == 6,
               "matrix memory state must be [lanes, env.memory, 6]");
  auto c = rounds.to(torch::kInt64).contiguous();
  train_lanes_ = c.size(0);
  train_mem_.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

MarkovState MatrixGame::start(int64_t batch, Rng& rng) {
  EMCOMM_CHECK(batch >= 1, "reset needs at least one episode");
  B_ = batch;
  phase_ = 0;
  const int64_t KK = K_ * K_;
  pay_.assign(B_ * 2 * KK, 0.0);
  first_.assign(B_, 0);
  heard_.assign(B_ * 2, -1);
  said_.assign(B_ * 2, -1);
  std::vector<double> r0(KK), r1(KK);
  const double c = opt_.adversarial;
  for (int64_t b = 0; b < B_; ++b) {
    if (opt_.payoffs == "random") {
      for (auto& x : r0) x = opt_.payoff_std * normal(rng);
      if (opt_.common_payoff) r1 = r0;
      else
        for (auto& x : r1) x = opt_.payoff_std * normal(rng);
    } else {
      r0 = fixed0_, r1 = fixed1_;
    }
    for (int64_t k = 0; k < KK; ++k) {  // applied once, from the original matrices
      pay_[(b * 2 + 0) * KK + k] = r0[k] - c * r1[k];
      pay_[(b * 2 + 1) * KK + k] = r1[k] - c * r0[k];
    }
    if (opt_.comm == Comm::Turns) first_[b] = int64_t(rng.below(2));
  }
  return state(std::vector<float>(B_ * 2, 0.0f), false);
}

MarkovState MatrixGame::state(const std::vector<float>& reward, bool done) const {
  const int64_t D = obs_dim(), KK = K_ * K_;
  MarkovState s;
  for (int64_t i = 0; i < 2; ++i) {
    auto obs = torch::zeros({B_, D}, torch::kFloat32);
    float* o = obs.data_ptr<float>();
    const bool see_own = opt_.visibility != Visibility::Agent0 || i == 0;
    const bool see_other = opt_.visibility == Visibility::Both;
    for (int64_t b = 0; b < B_; ++b) {
      float* row = o + b * D;
      for (int64_t mine = 0; mine < K_; ++mine)
        for (int64_t theirs = 0; theirs < K_; ++theirs) {
          const int64_t a0 = i == 0 ? mine : theirs, a1 = i == 0 ? theirs : mine;
          if (see_own) row[mine * K_ + theirs] = float(payoff(b, i, a0, a1));
          if (see_other) row[KK + mine * K_ + theirs] = float(payoff(b, 1 - i, a0, a1));
        }
      if (heard_[b * 2 + i] >= 0) row[2 * KK + heard_[b * 2 + i]] = 1.0f;
      if (said_[b * 2 + i] >= 0) row[2 * KK + V_ + said_[b * 2 + i]] = 1.0f;
      for (int64_t r = 0; r < opt_.memory; ++r) {  // (heard0, heard1, said0, said1, act0, act1)
        const int64_t* q = &mem_[(b * opt_.memory + r) * 6];
        float* e = row + 2 * KK + 2 * V_ + r * memory_entry();
        if (q[i] >= 0) e[q[i]] = 1.0f;
        if (q[2 + i] >= 0) e[V_ + q[2 + i]] = 1.0f;
        if (q[4 + i] >= 0) e[2 * V_ + q[4 + i]] = 1.0f;
        if (q[5 - i] >= 0) e[2 * V_ + K_ + q[5 - i]] = 1.0f;
      }
    }
    s.obs.push_back(obs);
  }
  s.speaks = torch::zeros({B_, 2}, torch::kBool);
  s.acts = torch::zeros({B_, 2}, torch::kBool);
  if (!done) {
    auto* sp = s.speaks.data_ptr<bool>();
    auto* ac = s.acts.data_ptr<bool>();
    for (int64_t b = 0; b < B_; ++b) {
      if (phase_ == act_phase_) {
        ac[b * 2] = ac[b * 2 + 1] = true;
      } else if (opt_.comm == Comm::Turns) {
        sp[b * 2 + (phase_ == 0 ? first_[b] : 1 - first_[b])] = true;
      } else {
        sp[b * 2] = true;
        sp[b * 2 + 1] = opt_.comm != Comm::OneAgent;
      }
    }
  }
  s.reward = torch::from_blob(const_cast<float*>(reward.data()), {B_, 2}, torch::kFloat32).clone();
  s.done = torch::full({B_}, done, torch::kBool);
  return s;
}

MarkovState MatrixGame::step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) {
  EMCOMM_CHECK(B_ > 0 && phase_ <= act_phase_, "step() needs an episode in progress (call reset())");
  std::vector<float> reward(B_ * 2, 0.0f);
  if (phase_ == act_phase_) {
    EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B_ && actions.size(1) == 2,
                 "matrix game actions must be [B, 2, F]");
    auto a = actions.to(torch::kInt64).contiguous();
    const int64_t F = a.size(2);
    const int64_t* p = a.data_ptr<int64_t>();
    for (int64_t b = 0; b < B_; ++b) {
      const int64_t a0 = p[(b * 2) * F], a1 = p[(b * 2 + 1) * F];
      EMCOMM_CHECK(a0 >= 0 && a0 < K_ && a1 >= 0 && a1 < K_, "action out of range");
      reward[b * 2] = float(payoff(b, 0, a0, a1));
      reward[b * 2 + 1] = float(payoff(b, 1, a0, a1));
      if (opt_.memory > 0) {  // this round becomes the most recent one of stream b
        const int64_t W = opt_.memory * 6;
        int64_t* q = &mem_[b * W];
        std::copy_backward(q, q + W - 6, q + W);
        const int64_t round[6] = {heard_[b * 2], heard_[b * 2 + 1], said_[b * 2], said_[b * 2 + 1], a0, a1};
        std::copy_n(round, 6, q);
      }
    }
    if (opt_.memory > 0 && recording_) train_mem_ = mem_;
    ++phase_;
    return state(reward, true);
  }
  EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B_ && messages.size(1) == 2,
               "matrix game messages must be [B, 2, L]");
  auto m = messages.to(torch::kInt64).contiguous();
  const int64_t L = m.size(2);
  const int64_t* p = m.data_ptr<int64_t>();
  MarkovState now = state(reward, false);  // who speaks at this phase
  const bool* sp = now.speaks.data_ptr<bool>();
  for (int64_t b = 0; b < B_; ++b)
    for (int64_t j = 0; j < 2; ++j) {
      if (!sp[b * 2 + j]) continue;
      const int64_t sym = p[(b * 2 + j) * L];
      EMCOMM_CHECK(sym >= 0 && sym < V_, "message symbol out of range");
      said_[b * 2 + j] = sym;
      int64_t h = sym;
      if (opt_.comm == Comm::Random) h = int64_t(rng.below(uint64_t(V_)));
      else if (opt_.comm == Comm::Garble && double(rng.next() >> 11) * 0x1.0p-53 < opt_.garble_prob)
        h = int64_t(rng.below(uint64_t(V_)));
      heard_[b * 2 + (1 - j)] = h;
    }
  ++phase_;
  return state(reward, false);
}

MarkovState MatrixGame::set_situation(const std::vector<double>& payoffs, const std::vector<int64_t>& first_speakers,
                                      const std::vector<int64_t>& heard, const std::vector<int64_t>& said) {
  if (B_ == 0 || phase_ > act_phase_)
    throw UserError("matrix game: set the state of episodes in progress (reset() first; they are over)");
  const int64_t KK = K_ * K_;
  auto size_check = [&](const char* what, size_t n, size_t want, const std::string& shape) {
    if (n != 0 && n != want)
      throw UserError(std::string("matrix game: ") + what + " must be " + shape + " (" + std::to_string(want) +
                      " values), got " + std::to_string(n));
  };
  const std::string b = std::to_string(B_), k = std::to_string(K_);
  size_check("payoffs", payoffs.size(), size_t(B_ * 2 * KK), "[" + b + ", 2, " + k + ", " + k + "]");
  size_check("first_speaker", first_speakers.size(), size_t(B_), "[" + b + "]");
  size_check("heard", heard.size(), size_t(B_ * 2), "[" + b + ", 2]");
  size_check("said", said.size(), size_t(B_ * 2), "[" + b + ", 2]");
  for (double v : payoffs)
    if (!std::isfinite(v)) throw UserError("matrix game: payoffs must be finite numbers");
  if (!first_speakers.empty()) {
    if (opt_.comm != Comm::Turns)
      throw UserError("matrix game: first_speaker can be set with env.comm=turns only (both speak at once, or agent 0 alone)");
    if (phase_ != 0) throw UserError("matrix game: first_speaker can be set before anyone has spoken only (step 0)");
    for (int64_t f : first_speakers)
      if (f != 0 && f != 1) throw UserError("matrix game: first_speaker must be 0 or 1, got " + std::to_string(f));
  }
  for (const auto* v : {&heard, &said})
    for (int64_t x : *v)
      if (x < -1 || x >= V_)
        throw UserError(std::string("matrix game: ") + (v == &heard ? "heard" : "said") + " symbols must be -1 (none) or 0.." +
                        std::to_string(V_ - 1) + ", got " + std::to_string(x));
  if (!payoffs.empty()) pay_ = payoffs;
  if (!first_speakers.empty()) first_ = first_speakers;
  if (!heard.empty()) heard_ = heard;
  if (!said.empty()) said_ = said;
  return state(std::vector<float>(B_ * 2, 0.0f), false);
}

torch::Tensor MatrixGame::impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                                         const torch::Tensor& symbols) const {
  EMCOMM_CHECK(hears(listener, speaker), "impose_message: the listener does not hear this speaker");
  auto out = obs.clone();
  const int64_t off = 2 * K_ * K_;
  out.narrow(1, off, V_).copy_(torch::one_hot(symbols.select(1, 0).to(torch::kInt64), V_).to(out.dtype()));
  return out;
}

torch::Tensor MatrixGame::probe_observation(const torch::Tensor& obs) const {
  if (!opt_.cic_reply_empty || V_ == 0) return obs;
  auto out = obs.clone();
  out.narrow(1, 2 * K_ * K_ + V_, V_).zero_();
  return out;
}

static const bool kRegistered = EnvRegistry::add(
    {"matrix", "matrix communication games (Pitfalls): cheap talk, then both agents act", MatrixGame::option_set(),
     [](const Config& cfg, Rng) -> std::shared_ptr<Env> {
       return std::make_shared<MatrixGame>(MatrixGame::Options::from(cfg));
     },
     EnvKind::Markov, Observations::Vector, /*human_language=*/false});

}  // namespace emcomm
