#include "algorithms/reinforce.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "agents/fused_adam.h"
#include "agents/modules.h"
#include "algorithms/markov_eval.h"
#include "algorithms/state_archive.h"
#include "core/errors.h"
#include "envs/adapter/signaling_adapter.h"
#include "envs/matrix/matrix.h"
#include "metrics/metrics.h"

namespace emcomm {

void choose_heads(const std::vector<PolicyHead>& heads, bool greedy, at::Generator& gen) {
  std::vector<torch::Tensor> logits;
  int64_t total = 0;
  for (const auto& h : heads) {
    logits.push_back(h.logits.detach().to(torch::kFloat32).contiguous());
    total += h.logits.numel();
  }
  torch::Tensor q;
  if (!greedy) q = torch::empty({total}, torch::kFloat32).exponential_(1, gen);
  const float* qp = greedy ? nullptr : q.data_ptr<float>();
  std::vector<float> p;
  for (size_t h = 0; h < heads.size(); ++h) {
    const int64_t B = logits[h].size(0), F = logits[h].size(1), K = logits[h].size(2);
    p.resize(K);
    const float* z = logits[h].data_ptr<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t f = 0; f < F; ++f, z += K) {
        int64_t best = 0;
        if (greedy) {
          for (int64_t k = 1; k < K; ++k)
            if (z[k] > z[best]) best = k;
        } else {
          // softmax as LibTorch's last-dimension kernel computes it: exp(z - max) times 1 / sum.
          float top = z[0], sum = 0;
          for (int64_t k = 1; k < K; ++k) top = std::max(top, z[k]);
          for (int64_t k = 0; k < K; ++k) sum += p[k] = std::exp(z[k] - top);
          const float inv = 1.0f / sum;
          float most = -1;
          for (int64_t k = 0; k < K; ++k) {
            p[k] *= inv;
            EMCOMM_CHECK(p[k] >= 0 && p[k] < INFINITY, "probability tensor contains either `inf`, `nan` or element < 0");
            const float x = p[k] / qp[k];
            if (x > most) most = x, best = k;
          }
          qp += K;
        }
        heads[h].out[b * heads[h].stride + f] = best;
      }
  }
}

ReinforceTerms reinforce_loss(const torch::Tensor& logp_action, const torch::Tensor& entropy_action,
                              const torch::Tensor& act_mask, const torch::Tensor& logp_message,
                              const torch::Tensor& entropy_message, const torch::Tensor& speak_mask,
                              const torch::Tensor& value, const torch::Tensor& ret, const ReinforceCoefs& c) {
  const double B = double(ret.size(1));
  ReinforceTerms t;
  t.entropy_action = (act_mask * entropy_action).sum() / B;
  t.entropy_message = (speak_mask * entropy_message).sum() / B;
  if (c.baseline == Baseline::BatchMean) {
    // One kind of step (mask M): the policy term against the batch-mean value, and the value
    // term of the [B, B] table of (G_j - V_i)^2, summed in closed form:
    // sum_j M_j (G_j - V_i)^2 / n = (V_i - Gbar)^2 + var(G).
    auto kind = [&](const torch::Tensor& mask, const torch::Tensor& logp) {
      auto n = mask.sum().clamp_min(1.0);
      auto vbar = (mask * value).sum() / n;  // not detached, as in the released code
      auto policy = -(mask * (ret - vbar) * logp).sum() / B;
      auto gbar = (mask * ret).sum() / n;
      auto var = (mask * (ret - gbar).pow(2)).sum() / n;
      auto v = (mask * ((value - gbar).pow(2) + var)).sum() / B;
      return std::make_pair(policy, v);
    };
    auto [pa, va] = kind(act_mask, logp_action);
    auto [pm, vm] = kind(speak_mask, logp_message);
    t.action = pa;
    t.message = pm;
    // train_message=false masks the value loss of the speaking steps too (--mask-c-learning).
    t.value = c.train_message ? va + vm : va;
  } else {
    auto adv = (ret - value).detach();
    // train_message=false: the value learns only at acting steps (the released --mask-c-learning).
    auto fit = c.train_message ? torch::clamp(act_mask + speak_mask, 0, 1) : act_mask;
    t.action = -(act_mask * adv * logp_action).sum() / B;
    t.message = -(speak_mask * adv * logp_message).sum() / B;
    t.value = (fit * (ret - value).pow(2)).sum() / B;
  }
  t.total = t.action - c.entropy * t.entropy_action + c.value * t.value;
  if (c.train_message) t.total = t.total + c.message * t.message - c.entropy * t.entropy_message;
  return t;
}

namespace {

// One head's log-softmax over T B rows of F factors (positions): log pi of the choice and the
// entropy, each summed over factors, per row ([T B] doubles), and the log-probabilities,
// probabilities and each factor's entropy kept for the gradient.
struct HeadStats {
  std::vector<double> logp, entropy, lp, p, h;  // lp, p: [T B, F, K]; h: [T B, F]
  torch::Tensor logits, chosen;                 // contiguous float32 / int64
  int64_t F = 0, K = 0;
};

HeadStats head_stats(const torch::Tensor& logits, const torch::Tensor& chosen, int64_t rows) {
  HeadStats s;
  s.logp.assign(rows, 0.0);
  s.entropy.assign(rows, 0.0);
  if (!logits.defined()) return s;
  s.logits = logits.detach().to(torch::kFloat32).contiguous();
  s.chosen = chosen.to(torch::kInt64).contiguous();
  s.F = logits.size(-2), s.K = logits.size(-1);
  EMCOMM_CHECK(s.logits.numel() == rows * s.F * s.K && s.chosen.numel() == rows * s.F, "reinforce_loss_grad: shapes");
  s.lp.resize(rows * s.F * s.K);
  s.p.resize(rows * s.F * s.K);
  s.h.resize(rows * s.F);
  const float* z = s.logits.data_ptr<float>();
  const int64_t* c = s.chosen.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < s.F; ++f) {
      const int64_t row = r * s.F + f;
      const float* zr = z + row * s.K;
      double* lp = &s.lp[row * s.K];
      double top = zr[0], sum = 0;
      for (int64_t k = 1; k < s.K; ++k) top = std::max(top, double(zr[k]));
      for (int64_t k = 0; k < s.K; ++k) sum += std::exp(double(zr[k]) - top);
      const double lse = top + std::log(sum);
      double h = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        lp[k] = double(zr[k]) - lse;
        s.p[row * s.K + k] = std::exp(lp[k]);
        h -= s.p[row * s.K + k] * lp[k];
      }
      s.h[row] = h;
      s.logp[r] += lp[c[row]];
      s.entropy[r] += h;
    }
  return s;
}

// d/dz of w_pg log pi(choice) + w_ent H, per row: w_pg (1[k = c] - p_k) - w_ent p_k (log p_k + H_f).
torch::Tensor head_grad(const HeadStats& s, const std::vector<double>& w_pg, const std::vector<double>& w_ent) {
  if (!s.logits.defined()) return {};
  auto g = torch::empty_like(s.logits);
  float* out = g.data_ptr<float>();
  const int64_t* c = s.chosen.data_ptr<int64_t>();
  for (size_t r = 0; r < w_pg.size(); ++r)
    for (int64_t f = 0; f < s.F; ++f) {
      const int64_t row = int64_t(r) * s.F + f;
      const double *lp = &s.lp[row * s.K], *p = &s.p[row * s.K];
      for (int64_t k = 0; k < s.K; ++k)
        out[row * s.K + k] = float(w_pg[r] * ((k == c[row] ? 1.0 : 0.0) - p[k]) - w_ent[r] * p[k] * (lp[k] + s.h[row]));
    }
  return g;
}

std::vector<double> doubles(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

ReinforceGrad reinforce_loss_grad(const torch::Tensor& action_logits, const torch::Tensor& actions,
                                  const torch::Tensor& act_mask, const torch::Tensor& message_logits,
                                  const torch::Tensor& messages, const torch::Tensor& speak_mask,
                                  const torch::Tensor& value, const torch::Tensor& ret, const ReinforceCoefs& c) {
  const int64_t T = ret.size(0), B = ret.size(1), R = T * B;
  const double inv_b = 1.0 / double(B);
  const HeadStats act = head_stats(action_logits, actions, R), msg = head_stats(message_logits, messages, R);
  const std::vector<double> ma = doubles(act_mask), ms = doubles(speak_mask), v = doubles(value), g = doubles(ret);
  const bool tm = c.train_message;
  std::vector<double> pg_a(R), pg_m(R), ent_a(R), ent_m(R), dv(R, 0.0);
  double action = 0, message = 0, h_action = 0, h_message = 0, value_term = 0;
  for (int64_t r = 0; r < R; ++r) {
    h_action += ma[r] * act.entropy[r] * inv_b;
    h_message += ms[r] * msg.entropy[r] * inv_b;
    ent_a[r] = -c.entropy * ma[r] * inv_b;
    ent_m[r] = tm ? -c.entropy * ms[r] * inv_b : 0.0;
  }
  if (c.baseline == Baseline::BatchMean) {
    // Per kind of step (mask M): the policy term against Vbar = sum M V / n (undetached: it moves
    // V by M_i / n times sum M log pi / B) and the value term sum M ((V - Gbar)^2 + var(G)) / B.
    auto kind = [&](const std::vector<double>& m, const HeadStats& s, double coef, bool fit, std::vector<double>& pg,
                    double& policy, double& vterm) {
      double n = 0, mv = 0, mg = 0, slogp = 0;
      for (int64_t r = 0; r < R; ++r) n += m[r], mv += m[r] * v[r], mg += m[r] * g[r], slogp += m[r] * s.logp[r];
      n = std::max(n, 1.0);
      const double vbar = mv / n, gbar = mg / n;
      double var = 0;
      for (int64_t r = 0; r < R; ++r) var += m[r] * (g[r] - gbar) * (g[r] - gbar);
      var /= n;
      for (int64_t r = 0; r < R; ++r) {
        policy -= m[r] * (g[r] - vbar) * s.logp[r] * inv_b;
        vterm += m[r] * ((v[r] - gbar) * (v[r] - gbar) + var) * inv_b;
        pg[r] = -coef * m[r] * (g[r] - vbar) * inv_b;
        dv[r] += coef * m[r] * slogp / (n * double(B)) + (fit ? c.value * 2 * m[r] * (v[r] - gbar) * inv_b : 0.0);
      }
    };
    double va = 0, vm = 0;
    kind(ma, act, 1.0, true, pg_a, action, va);
    kind(ms, msg, tm ? c.message : 0.0, tm, pg_m, message, vm);
    value_term = tm ? va + vm : va;
  } else {
    for (int64_t r = 0; r < R; ++r) {
      const double adv = g[r] - v[r], fit = tm ? std::min(ma[r] + ms[r], 1.0) : ma[r];
      action -= ma[r] * adv * act.logp[r] * inv_b;
      message -= ms[r] * adv * msg.logp[r] * inv_b;
      value_term += fit * adv * adv * inv_b;
      pg_a[r] = -ma[r] * adv * inv_b;
      pg_m[r] = tm ? -c.message * ms[r] * adv * inv_b : 0.0;
      dv[r] = -2 * c.value * fit * adv * inv_b;
    }
  }
  ReinforceGrad out;
  out.total = action - c.entropy * h_action + c.value * value_term;
  if (tm) out.total += c.message * message - c.entropy * h_message;
  out.value_loss = value_term;
  out.action_logits = head_grad(act, pg_a, ent_a);
  out.message_logits = head_grad(msg, pg_m, ent_m);
  out.value = torch::tensor(std::vector<float>(dv.begin(), dv.end())).view(value.sizes());
  return out;
}

OptionSet Reinforce::option_set() {
  OptionSet s;
  s.add_int("agents.hidden", 40, "hidden units of each of the two ReLU layers of every agent", 1, 100000)
      .add_bool("agents.separate_message_net", false, "the message head has its own MLP (not shared with actions)")
      .add_bool("agents.train_message", true, "false: the message head never learns (Pitfalls ablation)")
      .add_choice("agents.baseline", "state", {"state", "batch_mean"},
                  "state: detached per-state value V(s); batch_mean: the released Pitfalls code's batch-constant "
                  "baseline (undetached mean of V over the batch, V regresses to the batch-mean return)")
      .add_bool("agents.action_probe", false,
                "matrix games: train heads that predict the other agent's action from each agent's hidden layer, "
                "with and without the communication input (Pitfalls probes; probe_acc*/agent<i>)")
      .add_float("agents.probe_lr_scale", 5.0,
                 "agents.action_probe: the probes' own Adam runs at train.lr times this (5 in the released code)", 1e-6,
                 1e6)
      .add_float("agents.message_coef", 0.1, "weight of the message policy-gradient loss", 0.0, 1e3)
      .add_float("agents.entropy_coef", 0.01, "entropy bonus of action and message policies", 0.0, 1e3)
      .add_float("agents.value_coef", 0.1, "weight of the value-baseline MSE", 0.0, 1e3)
      .merge(adapter_options())
      .add_int("train.batch_size", 64, "episodes per update", 1, 1 << 24)
      .add_float("train.lr", 5e-3, "Adam learning rate of every agent", 1e-8, 10.0)
      .add_choice("eval.sample", "auto", {"auto", "true", "false"},
                  "evaluation samples actions and messages (true) or takes the argmax (false); auto: sampled for "
                  "matrix games (the Pitfalls protocol), greedy otherwise")
      .add_int("eval.mi_batch", -1,
               "episodes per estimate of sc, ic, entropy, ci_action (their mean over estimates); 0: one estimate "
               "over the whole evaluation; -1 auto: train.batch_size for matrix games (the Pitfalls protocol), else 0",
               -1, int64_t(1) << 40)
      .merge(cic_probe_options());
  return s;
}

Reinforce::Options Reinforce::Options::from(const Config& cfg) {
  Options o;
  o.hidden = cfg.get_int("agents.hidden");
  o.separate_message_net = cfg.get_bool("agents.separate_message_net");
  o.coefs.train_message = cfg.get_bool("agents.train_message");
  o.coefs.baseline = cfg.get_string("agents.baseline") == "batch_mean" ? Baseline::BatchMean : Baseline::State;
  o.action_probe = cfg.get_bool("agents.action_probe");
  o.probe_lr_scale = cfg.get_float("agents.probe_lr_scale");
  o.coefs.message = cfg.get_float("agents.message_coef");
  o.coefs.entropy = cfg.get_float("agents.entropy_coef");
  o.coefs.value = cfg.get_float("agents.value_coef");
  o.batch_size = cfg.get_int("train.batch_size");
  o.lr = cfg.get_float("train.lr");
  o.eval_size = markov_eval_size(cfg);
  o.log_rows = cfg.get_int("eval.log_rows");
  // The Pitfalls protocol is the default of matrix games: sampled, one estimate per training batch.
  const bool matrix = cfg.has("env.name") && cfg.get_string("env.name") == "matrix";
  const std::string sample = cfg.get_string("eval.sample");
  o.eval_sample = sample == "auto" ? matrix : sample == "true";
  o.mi_batch = cfg.get_int("eval.mi_batch");
  if (o.mi_batch < 0) o.mi_batch = matrix ? o.batch_size : 0;
  o.cic = CicProbeOptions::from(cfg);
  return o;
}

Reinforce::Reinforce(const Options& opt, std::shared_ptr<MarkovGame> game, Rng rng)
    : opt_(opt), game_(std::move(game)), N_(game_->num_agents()), F_(0), L_(1),
      episode_rng_(rng.derive("episodes")), eval_rng_(rng.derive("eval")), cic_rng_(rng.derive("cic")),
      gen_(at::make_generator<at::CPUGeneratorImpl>(rng.derive("policy").seed())) {
  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("init").seed());
  int64_t V = 0;
  for (int64_t i = 0; i < N_; ++i) {
    AgentSpec s = game_->agent_spec(i);
    F_ = std::max(F_, s.action_factors);
    if (s.vocab_size > 0) {
      EMCOMM_CHECK(V == 0 || (V == s.vocab_size && L_ == s.msg_len), "speaking agents must share one channel");
      V = s.vocab_size, L_ = s.msg_len;
    }
    agents_.push_back(McgAgent(s, opt.hidden, opt.separate_message_net));
    init_linear_layers(*agents_.back(), init_gen);
    opts_.push_back(std::make_unique<FusedAdam>(agents_.back()->parameters(), torch::optim::AdamOptions(opt.lr)));
  }
  F_ = std::max<int64_t>(F_, 1);
  matrix_ = dynamic_cast<MatrixGame*>(game_.get());
  if (opt.action_probe) {
    if (!matrix_)
      throw UserError(
          "option agents.action_probe=true needs env.name=matrix (it predicts the other agent's action "
          "in a two-agent matrix game)");
    // The probes' own generator: the policy's initial weights and streams stay as without them.
    auto probe_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("probe").seed());
    for (int64_t i = 0; i < N_; ++i) {
      probes_.push_back(ActionProbe(opt.hidden, matrix_->options().n_acts, matrix_->obs_dim()));
      init_linear_layers(*probes_.back(), probe_gen);
      probe_opts_.push_back(std::make_unique<FusedAdam>(
          probes_.back()->parameters(), torch::optim::AdamOptions(opt.lr * opt.probe_lr_scale)));
    }
  }
}

torch::Tensor Reinforce::without_comm(const torch::Tensor& obs) const {
  const auto comm = matrix_->obs_layout().comm;
  if (comm.size() == 0) return obs;
  auto x = obs.clone();
  x.narrow(1, comm.begin, comm.size()).zero_();
  return x;
}

Metrics Reinforce::probe_accuracy(const Rollout& r) {
  torch::NoGradGuard no_grad;
  const int64_t t = r.steps() - 1;  // a matrix game's acting step: the last
  Metrics m;
  for (int64_t i = 0; i < N_; ++i) {
    EMCOMM_CHECK(r.states[t].acts.select(1, i).all().item<bool>(), "the probe needs every agent to act at the last step");
    const torch::Tensor& obs = r.states[t].obs[i];
    const torch::Tensor obs_nocomm = without_comm(obs);
    ProbeLogits p = probes_[i](r.out[t][i].hidden.detach(), agents_[i]->trunk(obs_nocomm), obs, obs_nocomm);
    const auto other = r.actions[t].select(1, 1 - i).select(1, 0);
    auto acc = [&](const torch::Tensor& logits) {
      return logits.argmax(1).eq(other).to(torch::kFloat64).mean().item<double>();
    };
    const std::string a = "/agent" + std::to_string(i);
    m["probe_acc" + a] = acc(p.full);
    m["probe_acc_nocomm" + a] = acc(p.nocomm);
    m["probe_acc_noinput" + a] = acc(p.noinput);
    m["probe_acc_sep" + a] = acc(p.sep);
    m["probe_acc_sep_nocomm" + a] = acc(p.sep_nocomm);
  }
  return m;
}

void Reinforce::train_probes(const Rollout& r) {
  const int64_t t = r.steps() - 1;
  for (int64_t i = 0; i < N_; ++i) {
    const torch::Tensor& obs = r.states[t].obs[i];
    const torch::Tensor obs_nocomm = without_comm(obs);
    torch::Tensor h, h_nocomm;
    {
      // The trunk as the policy update left it, without gradient: nothing flows into the policy.
      torch::NoGradGuard no_grad;
      h = agents_[i]->trunk(obs);
      h_nocomm = agents_[i]->trunk(obs_nocomm);
    }
    ProbeLogits p = probes_[i](h, h_nocomm, obs, obs_nocomm);
    const auto other = r.actions[t].select(1, 1 - i).select(1, 0);
    auto loss = torch::cross_entropy_loss(p.full, other) + torch::cross_entropy_loss(p.nocomm, other) +
                torch::cross_entropy_loss(p.noinput, other) + torch::cross_entropy_loss(p.sep, other) +
                torch::cross_entropy_loss(p.sep_nocomm, other);
    probe_opts_[i]->zero_grad();
    loss.backward();
    probe_opts_[i]->step();
  }
}

Metrics Reinforce::first_layer_norms() {
  Metrics m;
  if (!matrix_) return m;
  const auto layout = matrix_->obs_layout();
  for (int64_t i = 0; i < N_; ++i) {
    const torch::Tensor& w = agents_[i]->first_layer()->weight;
    const std::string a = "/agent" + std::to_string(i);
    m["w_norm/payoff" + a] = column_block_norm(w, layout.payoff.begin, layout.payoff.end);
    if (layout.comm.size() > 0) m["w_norm/comm" + a] = column_block_norm(w, layout.comm.begin, layout.comm.end);
    if (layout.memory.size() > 0)
      m["w_norm/memory" + a] = column_block_norm(w, layout.memory.begin, layout.memory.end);
  }
  return m;
}

Reinforce::Rollout Reinforce::play(int64_t batch, bool eval, bool greedy, Rng& rng) {
  Rollout r;
  r.states.push_back(eval ? game_->reset_eval(batch, rng) : game_->reset(batch, rng));
  std::vector<torch::Tensor> rewards;
  while (!r.states.back().all_done()) {
    EMCOMM_CHECK(r.steps() < 10000, "episode does not end");
    const MarkovState& s = r.states.back();
    auto actions = torch::zeros({batch, N_, F_}, torch::kInt64);
    auto messages = torch::zeros({batch, N_, L_}, torch::kInt64);
    std::vector<PolicyOutput> outs;
    std::vector<PolicyHead> heads;  // in the order of the draws: agent 0's action, its message, agent 1's ...
    for (int64_t i = 0; i < N_; ++i) {
      PolicyOutput o = agents_[i](s.obs[i]);
      if (o.action_logits.defined()) heads.push_back({o.action_logits, actions.data_ptr<int64_t>() + i * F_, N_ * F_});
      if (o.message_logits.defined())
        heads.push_back({o.message_logits, messages.data_ptr<int64_t>() + i * L_, N_ * L_});
      outs.push_back(o);
    }
    choose_heads(heads, greedy, gen_);
    r.out.push_back(outs);
    r.actions.push_back(actions);
    r.messages.push_back(messages);
    r.states.push_back(game_->step(actions, messages, rng));
    rewards.push_back(r.states.back().reward);
  }
  r.rewards = torch::stack(rewards, 0);
  return r;
}

Metrics Reinforce::train_step(int64_t) {
  for (auto& a : agents_) a->train();
  Rollout r;
  {
    // Played without the graph: the update recomputes each agent's outputs of all T steps in one
    // forward pass below (the same numbers: same weights, same observations).
    torch::NoGradGuard no_grad;
    r = play(opt_.batch_size, false, false, episode_rng_);
  }
  const int64_t T = r.steps(), B = opt_.batch_size;
  // Return from step t to the end: reverse cumulative sum over t.
  auto ret = r.rewards.flip(0).cumsum(0).flip(0);  // [T, B, N]
  // Every step's choices and masks, stacked once for all agents: [T, B, N, F], [T, B, N, L], [T, B, N].
  auto actions = torch::stack(r.actions), messages = torch::stack(r.messages);
  std::vector<torch::Tensor> acts, speaks;
  for (int64_t t = 0; t < T; ++t) acts.push_back(r.states[t].acts), speaks.push_back(r.states[t].speaks);
  auto act_mask = torch::stack(acts).to(torch::kFloat32), speak_mask = torch::stack(speaks).to(torch::kFloat32);
  Metrics m;
  if (!probes_.empty()) m = probe_accuracy(r);  // before any update, as the agents acted
  // Each agent's outputs of all T steps in one forward pass; the loss's gradient with respect to
  // them in one pass (reinforce_loss_grad), then one backward pass through both agents' networks.
  std::vector<torch::Tensor> outputs, grads;
  double total = 0, value_loss = 0;
  for (int64_t i = 0; i < N_; ++i) {
    std::vector<torch::Tensor> obs;
    for (int64_t t = 0; t < T; ++t) obs.push_back(r.states[t].obs[i]);
    const PolicyOutput o = agents_[i](torch::cat(obs));  // [T B, ...], step-major
    auto chosen = [&](const torch::Tensor& logits, const torch::Tensor& all) {
      return logits.defined() ? all.select(2, i).narrow(2, 0, logits.size(1)) : torch::Tensor();
    };
    ReinforceGrad g = reinforce_loss_grad(o.action_logits, chosen(o.action_logits, actions), act_mask.select(2, i),
                                          o.message_logits, chosen(o.message_logits, messages),
                                          speak_mask.select(2, i), o.value.view({T, B}), ret.select(2, i), opt_.coefs);
    total += g.total;
    value_loss += g.value_loss;
    // train_message=false: nothing reaches the message head (its gradient stays undefined).
    const auto message = opt_.coefs.train_message ? o.message_logits : torch::Tensor();
    for (auto [out, grad] : {std::make_pair(o.action_logits, g.action_logits), std::make_pair(message, g.message_logits),
                             std::make_pair(o.value, g.value)})
      if (out.defined()) outputs.push_back(out), grads.push_back(grad.view(out.sizes()));
  }
  for (auto& o : opts_) o->zero_grad();
  torch::autograd::backward(outputs, grads);
  for (auto& o : opts_) o->step();
  if (!probes_.empty()) train_probes(r);
  m["loss"] = total;
  m["value_loss"] = value_loss / double(N_);
  m["reward"] = r.rewards.sum(0).mean().item<double>();
  return m;
}

Metrics Reinforce::evaluate(int64_t step, RunWriter& log) {
  torch::NoGradGuard no_grad;
  for (auto& a : agents_) a->eval();
  Rng rng = eval_rng_.derive("step" + std::to_string(step));
  Rollout r = play(opt_.eval_size, true, !opt_.eval_sample, rng);
  Metrics m = first_layer_norms();
  if (!probes_.empty())
    for (const auto& kv : probe_accuracy(r)) m[kv.first] = kv.second;
  MarkovRollout rec;
  rec.states = std::move(r.states);
  rec.messages = std::move(r.messages);
  rec.actions = std::move(r.actions);
  for (const auto& outs : r.out) {
    std::vector<torch::Tensor> lg;
    for (const auto& o : outs) lg.push_back(o.message_logits);
    rec.message_logits.push_back(lg);
  }
  rec.returns = r.rewards.sum(0);  // [E, N]
  for (int64_t i = 0; i < N_; ++i) m["reward/agent" + std::to_string(i)] = rec.returns.select(1, i).mean().item<double>();
  m["reward/mean"] = rec.returns.mean().item<double>();
  auto probs = [&](int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>&) {
    return torch::softmax(agents_[agent](obs).action_logits, -1);
  };
  for (const auto& kv : log_markov_evaluation(*game_, rec, probs, {opt_.log_rows, opt_.cic, opt_.mi_batch}, step, cic_rng_, log))
    m[kv.first] = kv.second;
  return m;
}

void Reinforce::save_state(state::Out& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    state::put(ar, "agent" + std::to_string(i), *agents_[i]);
    state::put(ar, "opt" + std::to_string(i), *opts_[i]);
  }
  for (size_t i = 0; i < probes_.size(); ++i) {
    state::put(ar, "probe" + std::to_string(i), *probes_[i]);
    state::put(ar, "probe_opt" + std::to_string(i), *probe_opts_[i]);
  }
  state::put(ar, "episode_rng", episode_rng_);
  state::put(ar, "policy_gen", gen_);
  // The matrix game's memory streams (env.memory > 0) are part of the training state.
  if (auto* mg = dynamic_cast<MatrixGame*>(game_.get()); mg && mg->options().memory > 0)
    state::put(ar, "matrix_memory", std::vector<torch::Tensor>{mg->memory_state()});
}

void Reinforce::load_state(state::In& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    state::get(ar, "agent" + std::to_string(i), *agents_[i]);
    state::get(ar, "opt" + std::to_string(i), *opts_[i]);
  }
  for (size_t i = 0; i < probes_.size(); ++i) {
    state::get(ar, "probe" + std::to_string(i), *probes_[i]);
    state::get(ar, "probe_opt" + std::to_string(i), *probe_opts_[i]);
  }
  state::get(ar, "episode_rng", episode_rng_);
  state::get(ar, "policy_gen", gen_);
  if (auto* mg = dynamic_cast<MatrixGame*>(game_.get()); mg && mg->options().memory > 0)
    mg->set_memory_state(state::get_tensors(ar, "matrix_memory").at(0));
}

std::string Reinforce::nonfinite_parameter() {
  for (int64_t i = 0; i < N_; ++i) {
    std::string bad = state::first_nonfinite(*agents_[i], "agent" + std::to_string(i));
    if (!bad.empty()) return bad;
  }
  for (size_t i = 0; i < probes_.size(); ++i) {
    std::string bad = state::first_nonfinite(*probes_[i], "probe" + std::to_string(i));
    if (!bad.empty()) return bad;
  }
  return "";
}

void Reinforce::save(const std::string& path) {
  torch::serialize::OutputArchive archive;
  for (int64_t i = 0; i < N_; ++i) {
    torch::serialize::OutputArchive a;
    agents_[i]->save(a);
    archive.write("agent" + std::to_string(i), a);
  }
  archive.save_to(path);
}

static const bool kRegistered = AlgorithmRegistry::add(
    {"reinforce", "REINFORCE/A2C with a learned value baseline for MarkovGames (and signaling games via the adapter)",
     Reinforce::option_set(),
     [](const Config& cfg, std::shared_ptr<Env> env, Rng rng) -> std::unique_ptr<Algorithm> {
       auto game = markov_game_for(env, cfg, "reinforce");
       return std::make_unique<Reinforce>(Reinforce::Options::from(cfg), game, rng);
     },
     Accepts{/*signaling=*/true, /*markov=*/true, /*images=*/true, /*needs_human_language=*/false,
             "a Markov game, or a signaling game played through the adapter (images are flattened)"},
     {"--train.steps=4", "--train.eval_every=2", "--train.batch_size=16", "--eval.size=32", "--eval.log_rows=16",
      "--agents.hidden=16"}});

}  // namespace emcomm
