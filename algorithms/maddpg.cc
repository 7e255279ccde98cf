#include "algorithms/maddpg.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "algorithms/interrupt.h"
#include "algorithms/state_archive.h"
#include "core/errors.h"
#include "envs/adapter/signaling_adapter.h"
#include "algorithms/markov_eval.h"
#include "metrics/metrics.h"

namespace emcomm {
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
      .add_bool("maddpg.infer_policies", false,
                "policy inference (paper section 4.2): each global critic's target uses the agent's own fitted "
                "approximations of the other agents' policies instead of their target actors")
      .add_float("maddpg.infer_entropy", 1e-3, "maddpg.infer_policies: entropy weight lambda of the approximations' loss",
                 0.0, 1e3)
      .add_choice("maddpg.good", "maddpg", {"maddpg", "ddpg"},
                  "the good agents' (non-adversaries') critics: maddpg = global (every observation and action), "
                  "ddpg = local (the agent's own)")
      .add_choice("maddpg.adversary", "maddpg", {"maddpg", "ddpg"},
                  "the adversaries' critics (scenarios with adversaries only): maddpg = global, ddpg = local")
      .add_bool("eval.sample", true, "evaluation acts with soft Gumbel samples as in training (false: softmax of the logits)")
      .add_int("eval.final_episodes", 1000,
               "after training, episodes of the paper's final evaluation without learning (summary.json final/*: "
               "returns and the env's own figures; 0 = none)",
               0, int64_t(1) << 30)
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
  if (o.local_critic && (cfg.is_set("maddpg.good") || cfg.is_set("maddpg.adversary")))
    throw UserError("maddpg.local_critic=true makes every critic local (DDPG on both sides); give each side's "
                    "algorithm with maddpg.good=maddpg|ddpg and maddpg.adversary=maddpg|ddpg instead, not both");
  o.infer_policies = cfg.get_bool("maddpg.infer_policies");
  o.infer_entropy = cfg.get_float("maddpg.infer_entropy");
  if (!o.infer_policies && cfg.is_set("maddpg.infer_entropy"))
    throw UserError("option maddpg.infer_entropy applies only with maddpg.infer_policies=true");
  o.good_local = cfg.get_string("maddpg.good") == "ddpg";
  o.adversary_local = cfg.get_string("maddpg.adversary") == "ddpg";
  o.adversary_given = cfg.is_set("maddpg.adversary");
  o.eval_sample = cfg.get_bool("eval.sample");
  o.eval_size = markov_eval_size(cfg);
  o.final_episodes = cfg.get_int("eval.final_episodes");
  o.log_rows = cfg.get_int("eval.log_rows");
  o.cic = CicProbeOptions::from(cfg);
  return o;
}

Maddpg::Maddpg(const Options& opt, std::shared_ptr<MarkovGame> game, Rng rng)
    : opt_(opt), game_(std::move(game)), N_(game_->num_agents()),
      time_limit_only_(game_->time_limit_only()),
      episode_rng_(rng.derive("episodes")), eval_rng_(rng.derive("eval")), sample_rng_(rng.derive("replay")),
      cic_rng_(rng.derive("cic")), gen_(at::make_generator<at::CPUGeneratorImpl>(rng.derive("policy").seed())) {
  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("init").seed());
  const int64_t K = opt_.ensemble;
  int64_t sumD = 0, sumd = 0;
  bool any_adversary = false;
  for (int64_t i = 0; i < N_; ++i) any_adversary = any_adversary || game_->is_adversary(i);
  if (opt_.adversary_given && !any_adversary)
    throw UserError("option maddpg.adversary applies only to games with adversaries (particle env.scenario="
                    "simple_crypto, simple_adversary, simple_tag or simple_push); this game has none: use "
                    "maddpg.good (or maddpg.local_critic) for its agents");
  for (int64_t i = 0; i < N_; ++i) {
    local_.push_back(opt_.local_critic || (game_->is_adversary(i) ? opt_.adversary_local : opt_.good_local));
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
    const int64_t in = local_[i] ? D_[i] + d : sumD + sumd;
    MaddpgMlp c(in, opt_.hidden, 1), tc(in, opt_.hidden, 1);
    glorot_init(*c, init_gen);
    polyak_update(*tc, *c, 1.0);
    critics_.push_back(c), target_critics_.push_back(tc);
    critic_opts_.push_back(std::make_unique<torch::optim::Adam>(c->parameters(), torch::optim::AdamOptions(opt_.lr)));
  }
  if (opt_.infer_policies) {
    bool any_global = false;
    for (int64_t i = 0; i < N_; ++i) any_global = any_global || !local_[i];
    if (!any_global)
      throw UserError("maddpg.infer_policies=true needs at least one global (maddpg) critic: a local (ddpg) critic "
                      "never sees the other agents' actions");
    // Own generator for the approximations' weights: the other networks' draws stay as without inference.
    auto infer_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("infer").seed());
    approx_.resize(N_), target_approx_.resize(N_), approx_opts_.resize(N_);
    for (int64_t i = 0; i < N_; ++i)
      for (int64_t j = 0; j < N_; ++j) {
        const bool fitted = !local_[i] && j != i;
        const int64_t d = da_[j] + dm_[j];
        approx_[i].push_back(fitted ? MaddpgMlp(D_[j], opt_.hidden, d) : MaddpgMlp(nullptr));
        target_approx_[i].push_back(fitted ? MaddpgMlp(D_[j], opt_.hidden, d) : MaddpgMlp(nullptr));
        approx_opts_[i].emplace_back();
        if (!fitted) continue;
        glorot_init(*approx_[i][j], infer_gen);
        polyak_update(*target_approx_[i][j], *approx_[i][j], 1.0);
        approx_opts_[i][j] = std::make_unique<torch::optim::Adam>(approx_[i][j]->parameters(),
                                                                 torch::optim::AdamOptions(opt_.lr));
      }
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
  const std::string h = game_->headline_figure();
  return h.empty() ? "reward" : h;
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

bool Maddpg::infers(int64_t i, int64_t j) const {
  return opt_.infer_policies && !local_[i] && j != i;
}

torch::Tensor Maddpg::approx_act(int64_t i, int64_t j, const torch::Tensor& obs, bool noise, bool target) {
  EMCOMM_CHECK(infers(i, j), "agent has no approximation of that agent's policy");
  auto logits = (target ? target_approx_ : approx_)[i][j](obs);
  const AgentSpec& s = spec_[j];
  return gumbel_soft(logits, s.action_values, s.action_factors, s.vocab_size, s.vocab_size > 0 ? s.msg_len : 0,
                     noise ? opt_.temperature : 1.0, noise, gen_);
}

double Maddpg::fit_approx(int64_t i, int64_t j, const torch::Tensor& obs, const torch::Tensor& actions) {
  EMCOMM_CHECK(infers(i, j), "agent has no approximation of that agent's policy");
  const AgentSpec& s = spec_[j];
  auto loss = policy_approx_loss(approx_[i][j](obs), actions, s.action_values, s.action_factors, s.vocab_size,
                                 s.vocab_size > 0 ? s.msg_len : 0, opt_.infer_entropy);
  approx_opts_[i][j]->zero_grad();
  loss.backward();
  clip_each_grad(approx_[i][j]->parameters(), opt_.grad_clip);
  approx_opts_[i][j]->step();
  return loss.item<double>();
}

torch::Tensor Maddpg::critic_input(int64_t i, const std::vector<torch::Tensor>& obs,
                                   const std::vector<torch::Tensor>& act) const {
  if (local_[i]) return torch::cat({obs[i], act[i]}, 1);
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
    interrupt_point();
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
        interrupt_point();
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
  // Policy inference: one step on this batch for each approximation (the paper: before updating
  // Q_i, a gradient step on the latest samples of each agent j), then the critic's target uses
  // the target approximations in place of the other agents' target actors.
  if (opt_.infer_policies && !local_[i]) {
    double loss = 0;
    for (int64_t j = 0; j < N_; ++j)
      if (j != i) loss += fit_approx(i, j, obs[j], acts[j]);
    m["approx_loss"] = loss / double(N_ - 1);
  }
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> na(N_);
    for (int64_t j = 0; j < N_; ++j)
      na[j] = infers(i, j) ? approx_act(i, j, nobs[j], true, true) : act(j, nobs[j], subs, true, true);
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
  for (int64_t j = 0; j < N_; ++j)
    if (infers(i, j)) polyak_update(*target_approx_[i][j], *approx_[i][j], opt_.tau);
  m["critic_loss"] = critic_loss.item<double>();
  m["actor_loss"] = actor_loss.item<double>();
}

MarkovRollout Maddpg::rollout(int64_t E, Rng& rng, std::vector<int64_t>& subs) {
  torch::NoGradGuard no_grad;
  MarkovRollout rec;
  rec.states.push_back(game_->reset_eval(E, rng));
  subs = draw_subs(E, rng);
  rec.returns = torch::zeros({E, N_});
  int64_t F = 1, L = 1;
  for (int64_t i = 0; i < N_; ++i) F = std::max(F, spec_[i].action_factors), L = std::max(L, spec_[i].msg_len);
  while (!rec.states.back().all_done()) {
    EMCOMM_CHECK(rec.states.size() < 100000, "episode does not end");
    interrupt_point();
    auto actions = torch::zeros({E, N_, FK_}), messages = torch::zeros({E, N_, LV_});
    auto choices = torch::zeros({E, N_, F}, torch::kInt64), symbols = torch::zeros({E, N_, L}, torch::kInt64);
    std::vector<torch::Tensor> msg_logits(N_);
    for (int64_t i = 0; i < N_; ++i) {
      torch::Tensor l;
      auto a = act(i, rec.states.back().obs[i], subs, opt_.eval_sample, false, &l);
      const AgentSpec& s = spec_[i];
      if (da_[i] > 0) {
        actions.select(1, i).narrow(1, 0, da_[i]).copy_(a.narrow(1, 0, da_[i]));
        choices.select(1, i).narrow(1, 0, s.action_factors)
            .copy_(a.narrow(1, 0, da_[i]).view({E, s.action_factors, s.action_values}).argmax(-1));
      }
      if (dm_[i] > 0) {
        messages.select(1, i).narrow(1, 0, dm_[i]).copy_(a.narrow(1, da_[i], dm_[i]));
        symbols.select(1, i).narrow(1, 0, s.msg_len)
            .copy_(a.narrow(1, da_[i], dm_[i]).view({E, s.msg_len, s.vocab_size}).argmax(-1));
        msg_logits[i] = l.narrow(1, da_[i], dm_[i]).reshape({E, s.msg_len, s.vocab_size});
      }
    }
    rec.actions.push_back(choices), rec.messages.push_back(symbols), rec.message_logits.push_back(msg_logits);
    rec.states.push_back(game_->step_soft(actions, messages, rng));
    rec.returns += rec.states.back().reward;
  }
  return rec;
}

Metrics Maddpg::return_figures(const MarkovRollout& rec) const {
  Metrics m;
  for (int64_t i = 0; i < N_; ++i) m["reward/agent" + std::to_string(i)] = rec.returns.select(1, i).mean().item<double>();
  m["reward"] = rec.returns.select(1, 0).mean().item<double>();
  m["reward/sum"] = rec.returns.sum(1).mean().item<double>();
  return m;
}

Metrics Maddpg::evaluate(int64_t step, RunWriter& log) {
  torch::NoGradGuard no_grad;
  Rng rng = eval_rng_.derive("step" + std::to_string(step));
  std::vector<int64_t> subs;
  const MarkovRollout rec = rollout(opt_.eval_size, rng, subs);
  Metrics m = return_figures(rec);
  // Counters at this step (training figures are averaged between evaluations; counters are not).
  m["transitions"] = double(transitions_);
  m["updates"] = double(updates_);
  // The agent's logits at `obs`, with the ensemble sub-policies of the episodes they came from.
  auto logits = [&](int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>& episodes) {
    const int64_t n = obs.size(0);
    std::vector<int64_t> sub(n * N_, 0);
    for (int64_t q = 0; q < n; ++q)
      for (int64_t j = 0; j < N_; ++j) sub[q * N_ + j] = subs[episodes[q] * N_ + j];
    torch::Tensor lg;
    act(agent, obs, sub, false, false, &lg);
    return lg;
  };
  auto probs = [&](int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>& episodes) {
    const AgentSpec& s = spec_[agent];
    return torch::softmax(
        logits(agent, obs, episodes).narrow(1, 0, da_[agent]).view({obs.size(0), s.action_factors, s.action_values}), -1);
  };
  // simple_crypto's Bob and Eve answer by message: the probe's receiver distribution is their message policy.
  auto answers = [&](int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>& episodes) {
    const AgentSpec& s = spec_[agent];
    return torch::softmax(
        logits(agent, obs, episodes).narrow(1, da_[agent], dm_[agent]).view({obs.size(0), s.msg_len, s.vocab_size}), -1);
  };
  MarkovLogOptions log_opt{opt_.log_rows, opt_.cic};
  log_opt.answer_probs = answers;
  for (const auto& kv : log_markov_evaluation(*game_, rec, probs, log_opt, step, cic_rng_, log))
    m[kv.first] = kv.second;
  return m;
}

Metrics Maddpg::final_metrics(const Metrics& last_eval) {
  Metrics m = last_eval;
  if (opt_.final_episodes == 0) return m;
  // The paper's protocol: further episodes after training, without learning, from their own stream.
  torch::NoGradGuard no_grad;
  Rng rng = eval_rng_.derive("final");
  std::vector<int64_t> subs;
  const MarkovRollout rec = rollout(opt_.final_episodes, rng, subs);
  Metrics f = return_figures(rec);
  for (const auto& [name, per_episode] : game_->episode_figures()) {  // the mean over finite values
    double sum = 0;
    int64_t n = 0;
    for (double v : per_episode)
      if (std::isfinite(v)) sum += v, ++n;
    f[name] = n > 0 ? sum / double(n) : std::nan("");
  }
  for (const auto& [name, v] : f) m["final/" + name] = v;
  m["final/episodes"] = double(opt_.final_episodes);
  return m;
}

namespace {

void save_replay(const JointReplay& rb, state::Out& ar, const std::string& key) {
  state::Out sub;
  state::put(sub, "size", rb.size());
  state::put(sub, "next", rb.next());
  // from_blob does not write through the pointer; the archive copies the rows when it is saved.
  auto* rows = const_cast<float*>(rb.data().data());
  sub.write("rows", torch::from_blob(rows, {int64_t(rb.data().size())}, torch::kFloat32));
  ar.write(key, sub);
}

void load_replay(JointReplay& rb, state::In& ar, const std::string& key) {
  state::In sub;
  if (!ar.try_read(key, sub)) throw std::runtime_error("checkpoint has no entry '" + key + "'");
  torch::Tensor rows;
  if (!sub.try_read("rows", rows)) throw std::runtime_error("checkpoint entry '" + key + "' has no rows");
  rows = rows.contiguous();
  std::vector<float> data(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
  if (!rb.restore(state::get_int(sub, "size"), state::get_int(sub, "next"), std::move(data)))
    throw std::runtime_error("checkpoint entry '" + key + "' does not fit this replay (other config?)");
}

}  // namespace

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
    for (int64_t j = 0; j < N_; ++j)
      if (infers(i, j)) {
        const std::string ij = a + "_" + std::to_string(j);
        state::put(ar, "approx" + ij, *approx_[i][j]);
        state::put(ar, "target_approx" + ij, *target_approx_[i][j]);
        state::put(ar, "approx_opt" + ij, *approx_opts_[i][j]);
      }
  }
  for (size_t r = 0; r < replays_.size(); ++r) save_replay(replays_[r], ar, "replay" + std::to_string(r));
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
    for (int64_t j = 0; j < N_; ++j)
      if (infers(i, j)) {
        const std::string ij = a + "_" + std::to_string(j);
        state::get(ar, "approx" + ij, *approx_[i][j]);
        state::get(ar, "target_approx" + ij, *target_approx_[i][j]);
        state::get(ar, "approx_opt" + ij, *approx_opts_[i][j]);
      }
  }
  for (size_t r = 0; r < replays_.size(); ++r) load_replay(replays_[r], ar, "replay" + std::to_string(r));
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
    for (int64_t j = 0; j < N_; ++j)
      if (infers(i, j)) {
        bad = state::first_nonfinite(*approx_[i][j], "approx" + std::to_string(i) + "_" + std::to_string(j));
        if (!bad.empty()) return bad;
      }
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
    {"maddpg",
     "MADDPG (centralised critics) / DDPG (maddpg.local_critic; per side: maddpg.good, maddpg.adversary) with soft "
     "Gumbel-softmax actions",
     Maddpg::option_set(),
     [](const Config& cfg, std::shared_ptr<Env> env, Rng rng) -> std::unique_ptr<Algorithm> {
       auto game = markov_game_for(env, cfg, "maddpg");
       return std::make_unique<Maddpg>(Maddpg::Options::from(cfg), game, rng);
     },
     Accepts{/*signaling=*/true, /*markov=*/true, /*images=*/false, /*needs_human_language=*/false,
             "a Markov game, or a signaling game of vector observations played through the adapter (its replay "
             "stores every observation)"},
     {"--train.steps=4", "--train.eval_every=2", "--eval.size=32", "--eval.log_rows=16", "--maddpg.envs=4", "--maddpg.hidden=16", "--maddpg.batch=16",
      "--maddpg.learning_starts=16", "--maddpg.update_every=4", "--maddpg.replay=1000", "--eval.final_episodes=16"}});

}  // namespace emcomm
