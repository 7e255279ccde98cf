#include "algorithms/maddpg.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "algorithms/state_archive.h"
#include "core/errors.h"
#include "envs/adapter/signaling_adapter.h"
#include "envs/particle/particle.h"
#include "metrics/metrics.h"

namespace emcomm {
namespace {

constexpr int64_t kCicFigureRows = 2000;

}  // namespace

MaddpgMlpImpl::MaddpgMlpImpl(int64_t in, int64_t hidden, int64_t out) {
  l1_ = register_module("l1", torch::nn::Linear(in, hidden));
  l2_ = register_module("l2", torch::nn::Linear(hidden, hidden));
  l3_ = register_module("l3", torch::nn::Linear(hidden, out));
}

torch::Tensor MaddpgMlpImpl::forward(const torch::Tensor& x) { return l3_(torch::relu(l2_(torch::relu(l1_(x))))); }

void glorot_init(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m.get())) {
      const double bound = std::sqrt(6.0 / double(lin->weight.size(0) + lin->weight.size(1)));
      lin->weight.uniform_(-bound, bound, gen);
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
}

torch::Tensor gumbel_soft(const torch::Tensor& logits, int64_t seg_a, int64_t n_a, int64_t seg_m, int64_t n_m,
                          double tau, bool noise, at::Generator& gen) {
  const int64_t B = logits.size(0);
  auto z = logits;
  if (noise) {
    auto u = torch::empty_like(logits).uniform_(1e-10, 1.0, gen);
    z = logits - torch::log(-torch::log(u));
  }
  std::vector<torch::Tensor> parts;
  if (n_a > 0) parts.push_back(torch::softmax(z.narrow(1, 0, n_a * seg_a).view({B, n_a, seg_a}) / tau, -1).view({B, -1}));
  if (n_m > 0)
    parts.push_back(torch::softmax(z.narrow(1, n_a * seg_a, n_m * seg_m).view({B, n_m, seg_m}) / tau, -1).view({B, -1}));
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

void clip_each_grad(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const double n = p.grad().norm().item<double>();
    if (n > max_norm) p.grad().mul_(max_norm / n);
  }
}

void polyak_update(torch::nn::Module& target, torch::nn::Module& source, double tau) {
  torch::NoGradGuard no_grad;
  auto t = target.parameters(), s = source.parameters();
  for (size_t i = 0; i < t.size(); ++i) t[i].mul_(1.0 - tau).add_(s[i], tau);
}

float* JointReplay::add() {
  if (size_ < cap_) {
    data_.resize((size_ + 1) * width_);
    ++size_;
    next_ = size_ % cap_;
    return &data_[(size_ - 1) * width_];
  }
  float* r = &data_[next_ * width_];
  next_ = (next_ + 1) % cap_;
  return r;
}

OptionSet Maddpg::option_set() {
  OptionSet s;
  s.add_int("maddpg.envs", 64, "worlds stepped together; a train step plays one episode in each", 1, 1 << 20)
      .add_int("maddpg.hidden", 64, "units of each of the two ReLU layers of actors and critics", 1, 100000)
      .add_int("maddpg.batch", 1024, "transitions per update", 1, 1 << 24)
      .add_int("maddpg.replay", 1000000, "replay capacity in transitions (per agent and sub-policy)", 1, int64_t(1) << 32)
      .add_int("maddpg.learning_starts", 25600, "updates start once the replay holds this many transitions", 1,
               int64_t(1) << 40)
      .add_int("maddpg.update_every", 100, "one update per agent every this many env transitions", 1, int64_t(1) << 30)
      .add_int("maddpg.ensemble", 1, "policy ensemble: sub-policies per agent (K)", 1, 64)
      .add_float("maddpg.lr", 1e-2, "Adam learning rate of actors and critics", 1e-8, 10.0)
      .add_float("maddpg.gamma", 0.95, "discount", 0.0, 1.0)
      .add_float("maddpg.tau", 0.01, "Polyak rate of the target networks", 0.0, 1.0)
      .add_float("maddpg.grad_clip", 0.5, "gradient norm clip per parameter tensor", 1e-8, 1e9)
      .add_float("maddpg.temperature", 1.0, "Gumbel-softmax temperature", 1e-4, 1e4)
      .add_float("maddpg.logit_reg", 1e-3, "actor loss weight of mean(logits^2)", 0.0, 1e3)
      .add_bool("maddpg.local_critic", false, "each critic sees only its agent's observation and action (DDPG)")
      .add_bool("eval.sample", true, "evaluation acts with soft Gumbel samples as in training (false: softmax of the logits)")
      .merge(adapter_options())
      .merge(cic_probe_options());
  return s;
}

Maddpg::Options Maddpg::Options::from(const Config& cfg) {
  Options o;
  o.envs = cfg.get_int("maddpg.envs");
  o.hidden = cfg.get_int("maddpg.hidden");
  o.batch = cfg.get_int("maddpg.batch");
  o.replay = cfg.get_int("maddpg.replay");
  o.learning_starts = cfg.get_int("maddpg.learning_starts");
  o.update_every = cfg.get_int("maddpg.update_every");
  o.ensemble = cfg.get_int("maddpg.ensemble");
  o.lr = cfg.get_float("maddpg.lr");
  o.gamma = cfg.get_float("maddpg.gamma");
  o.tau = cfg.get_float("maddpg.tau");
  o.grad_clip = cfg.get_float("maddpg.grad_clip");
  o.temperature = cfg.get_float("maddpg.temperature");
  o.logit_reg = cfg.get_float("maddpg.logit_reg");
  o.local_critic = cfg.get_bool("maddpg.local_critic");
  o.eval_sample = cfg.get_bool("eval.sample");
  o.eval_size = cfg.get_int("eval.size");
  if (o.eval_size == 0) o.eval_size = 1000;
  o.log_rows = cfg.get_int("eval.log_rows");
  o.cic = CicProbeOptions::from(cfg);
  return o;
}

Maddpg::Maddpg(const Options& opt, std::shared_ptr<MarkovGame> game, Rng rng)
    : opt_(opt), game_(std::move(game)), N_(game_->num_agents()),
      time_limit_only_(dynamic_cast<ParticleWorld*>(game_.get()) != nullptr),
      episode_rng_(rng.derive("episodes")), eval_rng_(rng.derive("eval")), sample_rng_(rng.derive("replay")),
      cic_rng_(rng.derive("cic")), gen_(at::make_generator<at::CPUGeneratorImpl>(rng.derive("policy").seed())) {
  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("init").seed());
  const int64_t K = opt_.ensemble;
  int64_t sumD = 0, sumd = 0;
  for (int64_t i = 0; i < N_; ++i) {
    AgentSpec s = game_->agent_spec(i);
    spec_.push_back(s);
    D_.push_back(s.obs_dim);
    da_.push_back(s.action_factors * s.action_values);
    dm_.push_back(s.vocab_size > 0 ? s.msg_len * s.vocab_size : 0);
    FK_ = std::max(FK_, da_[i]);
    LV_ = std::max(LV_, dm_[i]);
    EMCOMM_CHECK(da_[i] + dm_[i] > 0, "an agent that neither acts nor speaks");
    sumD += D_[i], sumd += da_[i] + dm_[i];
  }
  for (int64_t i = 0; i < N_; ++i) {
    const int64_t d = da_[i] + dm_[i];
    actors_.emplace_back(), target_actors_.emplace_back(), actor_opts_.emplace_back();
    for (int64_t k = 0; k < K; ++k) {
      MaddpgMlp a(D_[i], opt_.hidden, d), t(D_[i], opt_.hidden, d);
      glorot_init(*a, init_gen);
      polyak_update(*t, *a, 1.0);
      actors_[i].push_back(a), target_actors_[i].push_back(t);
      actor_opts_[i].push_back(std::make_unique<torch::optim::Adam>(a->parameters(), torch::optim::AdamOptions(opt_.lr)));
    }
    const int64_t in = opt_.local_critic ? D_[i] + d : sumD + sumd;
    MaddpgMlp c(in, opt_.hidden, 1), tc(in, opt_.hidden, 1);
    glorot_init(*c, init_gen);
    polyak_update(*tc, *c, 1.0);
    critics_.push_back(c), target_critics_.push_back(tc);
    critic_opts_.push_back(std::make_unique<torch::optim::Adam>(c->parameters(), torch::optim::AdamOptions(opt_.lr)));
  }
  int64_t off = 0;
  for (int64_t i = 0; i < N_; ++i) lay_.obs.push_back(off), off += D_[i];
  for (int64_t i = 0; i < N_; ++i) lay_.act.push_back(off), off += da_[i] + dm_[i];
  for (int64_t i = 0; i < N_; ++i) lay_.next_obs.push_back(off), off += D_[i];
  lay_.reward = off, off += N_;
  lay_.done = off, off += 1;
  lay_.sub = off, off += N_;
  lay_.width = off;
  const int64_t buffers = K == 1 ? 1 : N_ * K;
  for (int64_t b = 0; b < buffers; ++b) replays_.emplace_back(opt_.replay, lay_.width);
}

std::string Maddpg::headline() const {
  auto* p = dynamic_cast<ParticleWorld*>(game_.get());
  return p && p->options().scenario == ParticleWorld::Scenario::SpeakerListener ? "target_reach" : "reward";
}

std::vector<int64_t> Maddpg::draw_subs(int64_t worlds, Rng& rng) const {
  std::vector<int64_t> s(worlds * N_, 0);
  if (opt_.ensemble > 1)
    for (auto& x : s) x = int64_t(rng.below(uint64_t(opt_.ensemble)));
  return s;
}

torch::Tensor Maddpg::act(int64_t i, const torch::Tensor& obs, const std::vector<int64_t>& sub, bool noise, bool target,
                          torch::Tensor* logits_out) {
  auto& nets = target ? target_actors_[i] : actors_[i];
  torch::Tensor logits;
  if (opt_.ensemble == 1) {
    logits = nets[0](obs);
  } else {
    // sub holds one index per row (stride N_, offset i).
    const int64_t B = obs.size(0);
    std::vector<int64_t> k(B);
    for (int64_t b = 0; b < B; ++b) k[b] = sub[b * N_ + i];
    auto kt = torch::tensor(k, torch::kInt64);
    for (int64_t q = 0; q < opt_.ensemble; ++q) {
      auto l = nets[q](obs);
      auto mask = (kt == q).unsqueeze(1).to(l.dtype());
      logits = logits.defined() ? logits + mask * l : mask * l;
    }
  }
  if (logits_out) *logits_out = logits;
  const AgentSpec& s = spec_[i];
  return gumbel_soft(logits, s.action_values, s.action_factors, s.vocab_size, s.vocab_size > 0 ? s.msg_len : 0,
                     opt_.temperature, noise, gen_);
}

torch::Tensor Maddpg::critic_input(int64_t i, const std::vector<torch::Tensor>& obs,
                                   const std::vector<torch::Tensor>& act) const {
  if (opt_.local_critic) return torch::cat({obs[i], act[i]}, 1);
  std::vector<torch::Tensor> parts(obs.begin(), obs.end());
  parts.insert(parts.end(), act.begin(), act.end());
  return torch::cat(parts, 1);
}

Metrics Maddpg::train_step(int64_t) {
  const int64_t E = opt_.envs;
  Metrics m;
  MarkovState s = game_->reset(E, episode_rng_);
  const std::vector<int64_t> subs = draw_subs(E, episode_rng_);
  double ret = 0;
  while (!s.all_done()) {
    std::vector<torch::Tensor> acts(N_);
    auto actions = torch::zeros({E, N_, FK_}), messages = torch::zeros({E, N_, LV_});
    {
      torch::NoGradGuard no_grad;
      for (int64_t i = 0; i < N_; ++i) {
        acts[i] = act(i, s.obs[i], subs, true, false).contiguous();
        if (da_[i] > 0) actions.select(1, i).narrow(1, 0, da_[i]).copy_(acts[i].narrow(1, 0, da_[i]));
        if (dm_[i] > 0) messages.select(1, i).narrow(1, 0, dm_[i]).copy_(acts[i].narrow(1, da_[i], dm_[i]));
      }
    }
    MarkovState next = game_->step_soft(actions, messages, episode_rng_);
    // Store one joint transition per world.
    std::vector<torch::Tensor> o(N_), no(N_);
    for (int64_t i = 0; i < N_; ++i) o[i] = s.obs[i].contiguous(), no[i] = next.obs[i].contiguous();
    auto rew = next.reward.contiguous();
    auto done = next.done.contiguous();
    const float* rp = rew.data_ptr<float>();
    const bool* dp = done.data_ptr<bool>();
    ret += rew.select(1, 0).sum().item<double>();
    for (int64_t b = 0; b < E; ++b) {
      auto fill = [&](float* row) {
        for (int64_t i = 0; i < N_; ++i) {
          std::copy_n(o[i].data_ptr<float>() + b * D_[i], D_[i], row + lay_.obs[i]);
          std::copy_n(acts[i].data_ptr<float>() + b * (da_[i] + dm_[i]), da_[i] + dm_[i], row + lay_.act[i]);
          std::copy_n(no[i].data_ptr<float>() + b * D_[i], D_[i], row + lay_.next_obs[i]);
          row[lay_.reward + i] = rp[b * N_ + i];
          row[lay_.sub + i] = float(subs[b * N_ + i]);
        }
        row[lay_.done] = (dp[b] && !time_limit_only_) ? 1.0f : 0.0f;
      };
      if (opt_.ensemble == 1) fill(replay(0, 0).add());
      else
        for (int64_t i = 0; i < N_; ++i) fill(replay(i, subs[b * N_ + i]).add());
    }
    transitions_ += E;
    if (replay(0, 0).size() < opt_.learning_starts && opt_.ensemble == 1) {
      due_ = 0;
    } else {
      due_ += E;
      while (due_ >= opt_.update_every) {
        due_ -= opt_.update_every;
        for (int64_t i = 0; i < N_; ++i)
          for (int64_t k = 0; k < opt_.ensemble; ++k)
            if (replay(i, k).size() >= opt_.learning_starts) update(i, k, m);
        ++updates_;
      }
    }
    s = std::move(next);
  }
  m["reward"] = ret / double(E);
  m["transitions"] = double(transitions_);
  return m;
}

void Maddpg::update(int64_t i, int64_t k, Metrics& m) {
  JointReplay& rb = replay(i, k);
  const int64_t Bt = opt_.batch, W = lay_.width;
  auto rows = torch::empty({Bt, W}, torch::kFloat32);
  float* rp = rows.data_ptr<float>();
  for (int64_t b = 0; b < Bt; ++b) std::copy_n(rb.row(int64_t(sample_rng_.below(uint64_t(rb.size())))), W, rp + b * W);
  std::vector<torch::Tensor> obs(N_), acts(N_), nobs(N_);
  for (int64_t j = 0; j < N_; ++j) {
    obs[j] = rows.narrow(1, lay_.obs[j], D_[j]);
    acts[j] = rows.narrow(1, lay_.act[j], da_[j] + dm_[j]);
    nobs[j] = rows.narrow(1, lay_.next_obs[j], D_[j]);
  }
  auto r = rows.narrow(1, lay_.reward + i, 1);
  auto done = rows.narrow(1, lay_.done, 1);
  std::vector<int64_t> subs(Bt * N_, 0);
  if (opt_.ensemble > 1) {
    auto sp = rows.narrow(1, lay_.sub, N_).contiguous();
    const float* p = sp.data_ptr<float>();
    for (int64_t q = 0; q < Bt * N_; ++q) subs[q] = int64_t(p[q]);
  }
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> na(N_);
    for (int64_t j = 0; j < N_; ++j) na[j] = act(j, nobs[j], subs, true, true);
    y = r + opt_.gamma * (1.0 - done) * target_critics_[i](critic_input(i, nobs, na));
  }
  auto q = critics_[i](critic_input(i, obs, acts));
  auto critic_loss = torch::mse_loss(q, y);
  critic_opts_[i]->zero_grad();
  critic_loss.backward();
  clip_each_grad(critics_[i]->parameters(), opt_.grad_clip);
  critic_opts_[i]->step();

  torch::Tensor logits;
  std::vector<int64_t> mine(Bt * N_, k);
  auto fresh = act(i, obs[i], mine, true, false, &logits);
  auto a2 = acts;
  a2[i] = fresh;
  auto actor_loss = -critics_[i](critic_input(i, obs, a2)).mean() + opt_.logit_reg * logits.pow(2).mean();
  actor_opts_[i][k]->zero_grad();
  actor_loss.backward();
  clip_each_grad(actors_[i][k]->parameters(), opt_.grad_clip);
  actor_opts_[i][k]->step();
  polyak_update(*target_actors_[i][k], *actors_[i][k], opt_.tau);
  polyak_update(*target_critics_[i], *critics_[i], opt_.tau);
  m["critic_loss"] = critic_loss.item<double>();
  m["actor_loss"] = actor_loss.item<double>();
}

Metrics Maddpg::evaluate(int64_t step, RunWriter& log) {
  torch::NoGradGuard no_grad;
  Rng rng = eval_rng_.derive("step" + std::to_string(step));
  const int64_t E = opt_.eval_size;
  std::vector<MarkovState> states{game_->reset_eval(E, rng)};
  const std::vector<int64_t> subs = draw_subs(E, rng);
  std::vector<std::vector<torch::Tensor>> soft, logits;  // [T][N]
  torch::Tensor returns = torch::zeros({E, N_});
  while (!states.back().all_done()) {
    EMCOMM_CHECK(states.size() < 100000, "episode does not end");
    auto actions = torch::zeros({E, N_, FK_}), messages = torch::zeros({E, N_, LV_});
    std::vector<torch::Tensor> a(N_), l(N_);
    for (int64_t i = 0; i < N_; ++i) {
      a[i] = act(i, states.back().obs[i], subs, opt_.eval_sample, false, &l[i]);
      if (da_[i] > 0) actions.select(1, i).narrow(1, 0, da_[i]).copy_(a[i].narrow(1, 0, da_[i]));
      if (dm_[i] > 0) messages.select(1, i).narrow(1, 0, dm_[i]).copy_(a[i].narrow(1, da_[i], dm_[i]));
    }
    soft.push_back(a), logits.push_back(l);
    states.push_back(game_->step_soft(actions, messages, rng));
    returns += states.back().reward;
  }
  const int64_t T = int64_t(soft.size());
  Metrics m;
  for (int64_t i = 0; i < N_; ++i) m["reward/agent" + std::to_string(i)] = returns.select(1, i).mean().item<double>();
  m["reward"] = returns.select(1, 0).mean().item<double>();
  if (auto* p = dynamic_cast<ParticleWorld*>(game_.get());
      p && p->options().scenario == ParticleWorld::Scenario::SpeakerListener) {
    auto reach = p->target_reach(), touch = p->target_touch();
    m["target_reach"] = double(std::accumulate(reach.begin(), reach.end(), 0)) / double(E);
    m["target_touch"] = double(std::accumulate(touch.begin(), touch.end(), 0)) / double(E);
  }

  // Interaction rows: (episode b, step t, sender j, receiver i acting at the first step u > t).
  // Only one-symbol messages and one-factor actions are logged.
  struct RowRef {
    int64_t b, t, sender, receiver, t_recv;
  };
  std::vector<std::vector<uint8_t>> speaks(T), acts(T);
  for (int64_t t = 0; t < T; ++t) {
    auto sp = states[t].speaks.contiguous(), ac = states[t].acts.contiguous();
    speaks[t].assign(sp.data_ptr<bool>(), sp.data_ptr<bool>() + E * N_);
    acts[t].assign(ac.data_ptr<bool>(), ac.data_ptr<bool>() + E * N_);
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (sender, receiver)
  for (int64_t j = 0; j < N_; ++j)
    for (int64_t i = 0; i < N_; ++i)
      if (game_->hears(i, j) && spec_[j].vocab_size > 0 && spec_[j].msg_len == 1 && spec_[i].action_factors == 1)
        pairs.push_back({j, i});
  std::vector<RowRef> rows;
  for (int64_t b = 0; b < E; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (auto [j, i] : pairs) {
        if (!speaks[t][b * N_ + j]) continue;
        int64_t u = t + 1;
        while (u < T && !acts[u][b * N_ + i]) ++u;
        if (u < T) rows.push_back({b, t, j, i, u});
      }
  const int64_t R = int64_t(rows.size());
  if (R == 0) return m;
  std::vector<std::vector<torch::Tensor>> msg(T), ract(T);  // argmax symbols / actions [E] per agent
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < N_; ++i) {
      msg[t].push_back(dm_[i] > 0 ? soft[t][i].narrow(1, da_[i], spec_[i].vocab_size).argmax(1).contiguous() : torch::Tensor());
      ract[t].push_back(da_[i] > 0 ? soft[t][i].narrow(1, 0, spec_[i].action_values).argmax(1).contiguous() : torch::Tensor());
    }
  InteractionBatch all;
  all.rows = R;
  all.msg_len = 1;
  auto ret = returns.contiguous();
  for (const RowRef& row : rows) {
    all.step.push_back(step);
    all.episode.push_back(row.b);
    all.t.push_back(int32_t(row.t));
    all.sender.push_back(int32_t(row.sender));
    all.receiver.push_back(int32_t(row.receiver));
    all.message.push_back(int32_t(msg[row.t][row.sender].data_ptr<int64_t>()[row.b]));
    all.length.push_back(1);
    all.sender_action.push_back(da_[row.sender] > 0 ? int32_t(ract[row.t][row.sender].data_ptr<int64_t>()[row.b]) : -1);
    all.receiver_action.push_back(int32_t(ract[row.t_recv][row.receiver].data_ptr<int64_t>()[row.b]));
    all.reward.push_back(ret.data_ptr<float>()[row.b * N_ + row.sender]);
  }
  {
    using namespace metrics;
    const auto ms = messages_as_symbols(int_table(all.message, 1), all.length);
    const auto ra = rows_as_symbols(int_table(all.receiver_action, 1));
    m["entropy"] = entropy(ms);
    m["ic"] = mutual_information(ms, ra);
  }

  // CIC probe on the first P rows.
  const int64_t logged = std::min<int64_t>(opt_.log_rows, R);
  const bool due = opt_.cic.due(step) && logged > 0;
  const int64_t block_rows = due ? opt_.cic.probed_rows(logged) : 0;
  const int64_t P = std::min<int64_t>(R, std::max(kCicFigureRows, block_rows));
  // All pairs share one channel size only if the vocabularies agree; probe per sender vocabulary.
  const int64_t V = spec_[rows[0].sender].vocab_size;
  bool one_channel = true;
  for (int64_t k = 0; k < P; ++k) one_channel = one_channel && spec_[rows[k].sender].vocab_size == V;
  if (!one_channel) return m;
  std::vector<torch::Tensor> sl(P), ob(P);
  for (int64_t k = 0; k < P; ++k) {
    const RowRef& rr = rows[k];
    sl[k] = logits[rr.t][rr.sender][rr.b].narrow(0, da_[rr.sender], V);
    ob[k] = states[rr.t_recv].obs[rr.receiver][rr.b];
  }
  auto sender_logits = torch::stack(sl).view({P, 1, V});
  auto receiver_probs = [&](const torch::Tensor& symbols, const torch::Tensor& ids) {
    const int64_t n = ids.size(0);
    const int64_t* idp = ids.data_ptr<int64_t>();
    auto out = torch::zeros({n, spec_[rows[0].receiver].action_values});
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> groups;  // (receiver, sender) -> positions
    for (int64_t q = 0; q < n; ++q) groups[{rows[idp[q]].receiver, rows[idp[q]].sender}].push_back(q);
    for (const auto& [key, qs] : groups) {
      auto pos = torch::tensor(qs, torch::kInt64);
      std::vector<torch::Tensor> o;
      std::vector<int64_t> sub(qs.size() * N_, 0);
      for (size_t q = 0; q < qs.size(); ++q) {
        o.push_back(ob[idp[qs[q]]]);
        for (int64_t j = 0; j < N_; ++j) sub[q * N_ + j] = subs[rows[idp[qs[q]]].b * N_ + j];
      }
      auto obs = game_->impose_message(key.first, key.second, torch::stack(o), symbols.index_select(0, pos));
      torch::Tensor lg;
      act(key.first, obs, sub, false, false, &lg);
      out.index_copy_(0, pos, torch::softmax(lg.narrow(1, 0, spec_[key.first].action_values), -1));
    }
    return out;
  };
  auto gen = at::make_generator<at::CPUGeneratorImpl>(cic_rng_.derive("step" + std::to_string(step)).seed());
  CicTables tables = cic_probe(sender_logits, receiver_probs, opt_.cic.max_messages, ChannelSpec{V, 1, false}, gen);
  {
    const int64_t M = tables.p_message.size(1);
    auto pm = tables.p_message.contiguous(), pa = tables.p_action.contiguous();
    const int64_t K = pa.size(2);
    m["cic"] = metrics::cic(pm.data_ptr<float>(), pa.data_ptr<float>(), P, M, K);
    auto p = pm.clamp_min(1e-30);
    m["sender_msg_entropy"] = (-(pm * p.log2()).sum(1)).mean().item<double>();
    // CIC(s) <= H(c|s): a speaker that is deterministic given its state has CIC ~ 0 however much
    // the listener follows it. cic_uniform imposes the M messages with equal weight: how much the
    // listener's action depends on what it hears (positive listening, independent of the speaker).
    auto uni = torch::full({P, M}, 1.0f / float(M));
    m["cic_uniform"] = metrics::cic(uni.data_ptr<float>(), pa.data_ptr<float>(), P, M, K);
  }
  if (logged > 0) {
    InteractionBatch b;
    b.rows = logged;
    b.msg_len = 1;
    auto head = [logged](const auto& v) { return std::decay_t<decltype(v)>(v.begin(), v.begin() + logged); };
    b.step = head(all.step);
    b.episode = head(all.episode);
    b.t = head(all.t);
    b.sender = head(all.sender);
    b.receiver = head(all.receiver);
    b.message = head(all.message);
    b.length = head(all.length);
    b.sender_action = head(all.sender_action);
    b.receiver_action = head(all.receiver_action);
    b.target.assign(logged, -1);
    b.reward = head(all.reward);
    if (due) {
      CicTables t;
      t.p_message = tables.p_message.narrow(0, 0, block_rows);
      t.p_action = tables.p_action.narrow(0, 0, block_rows);
      t.messages = tables.messages;
      b.cic = cic_block(t, logged);
    }
    log.append_interactions("eval", b);
  }
  return m;
}

void JointReplay::save_state(state::Out& ar, const std::string& key) {
  state::Out sub;
  state::put(sub, "size", size_);
  state::put(sub, "next", next_);
  sub.write("rows", torch::from_blob(data_.data(), {int64_t(data_.size())}, torch::kFloat32));
  ar.write(key, sub);
}

void JointReplay::load_state(state::In& ar, const std::string& key) {
  state::In sub;
  if (!ar.try_read(key, sub)) throw std::runtime_error("checkpoint has no entry '" + key + "'");
  torch::Tensor rows;
  if (!sub.try_read("rows", rows)) throw std::runtime_error("checkpoint entry '" + key + "' has no rows");
  size_ = state::get_int(sub, "size");
  next_ = state::get_int(sub, "next");
  if (size_ < 0 || size_ > cap_ || next_ < 0 || next_ >= cap_ || rows.numel() != size_ * width_)
    throw std::runtime_error("checkpoint entry '" + key + "' does not fit this replay (other config?)");
  rows = rows.contiguous();
  data_.assign(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
}

// Checkpoints keep the replay buffers whole, so a resumed run samples exactly the
// transitions the uninterrupted one would (docs/reliability.md: checkpoint size).
void Maddpg::save_state(state::Out& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    const std::string a = std::to_string(i);
    for (int64_t k = 0; k < opt_.ensemble; ++k) {
      const std::string ak = a + "_" + std::to_string(k);
      state::put(ar, "actor" + ak, *actors_[i][k]);
      state::put(ar, "target_actor" + ak, *target_actors_[i][k]);
      state::put(ar, "actor_opt" + ak, *actor_opts_[i][k]);
    }
    state::put(ar, "critic" + a, *critics_[i]);
    state::put(ar, "target_critic" + a, *target_critics_[i]);
    state::put(ar, "critic_opt" + a, *critic_opts_[i]);
  }
  for (size_t r = 0; r < replays_.size(); ++r) replays_[r].save_state(ar, "replay" + std::to_string(r));
  state::put(ar, "episode_rng", episode_rng_);
  state::put(ar, "sample_rng", sample_rng_);
  state::put(ar, "policy_gen", gen_);
  state::put(ar, "transitions", transitions_);
  state::put(ar, "updates", updates_);
  state::put(ar, "due", due_);
}

void Maddpg::load_state(state::In& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    const std::string a = std::to_string(i);
    for (int64_t k = 0; k < opt_.ensemble; ++k) {
      const std::string ak = a + "_" + std::to_string(k);
      state::get(ar, "actor" + ak, *actors_[i][k]);
      state::get(ar, "target_actor" + ak, *target_actors_[i][k]);
      state::get(ar, "actor_opt" + ak, *actor_opts_[i][k]);
    }
    state::get(ar, "critic" + a, *critics_[i]);
    state::get(ar, "target_critic" + a, *target_critics_[i]);
    state::get(ar, "critic_opt" + a, *critic_opts_[i]);
  }
  for (size_t r = 0; r < replays_.size(); ++r) replays_[r].load_state(ar, "replay" + std::to_string(r));
  state::get(ar, "episode_rng", episode_rng_);
  state::get(ar, "sample_rng", sample_rng_);
  state::get(ar, "policy_gen", gen_);
  transitions_ = state::get_int(ar, "transitions");
  updates_ = state::get_int(ar, "updates");
  due_ = state::get_int(ar, "due");
}

std::string Maddpg::nonfinite_parameter() {
  for (int64_t i = 0; i < N_; ++i) {
    for (int64_t k = 0; k < opt_.ensemble; ++k) {
      std::string bad = state::first_nonfinite(*actors_[i][k], "actor" + std::to_string(i) + "_" + std::to_string(k));
      if (!bad.empty()) return bad;
    }
    std::string bad = state::first_nonfinite(*critics_[i], "critic" + std::to_string(i));
    if (!bad.empty()) return bad;
  }
  return "";
}

void Maddpg::save(const std::string& path) {
  torch::serialize::OutputArchive archive;
  for (int64_t i = 0; i < N_; ++i) {
    for (int64_t k = 0; k < opt_.ensemble; ++k) {
      torch::serialize::OutputArchive a;
      actors_[i][k]->save(a);
      archive.write("actor" + std::to_string(i) + "_" + std::to_string(k), a);
    }
    torch::serialize::OutputArchive c;
    critics_[i]->save(c);
    archive.write("critic" + std::to_string(i), c);
  }
  archive.save_to(path);
}

static const bool kRegistered = AlgorithmRegistry::add(
    {"maddpg", "MADDPG (centralised critics) / DDPG (maddpg.local_critic) with soft Gumbel-softmax actions",
     Maddpg::option_set(),
     [](const Config& cfg, std::shared_ptr<Env> env, Rng rng) -> std::unique_ptr<Algorithm> {
       auto game = markov_game_for(env, cfg, "maddpg");
       return std::make_unique<Maddpg>(Maddpg::Options::from(cfg), game, rng);
     }});

}  // namespace emcomm
