#include "algorithms/reinforce.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "agents/modules.h"
#include "algorithms/signal_log.h"
#include "algorithms/state_archive.h"
#include "core/errors.h"
#include "envs/adapter/signaling_adapter.h"
#include "metrics/metrics.h"

namespace emcomm {
namespace {

// The figure `cic` is the mean over at most this many evaluation rows.
constexpr int64_t kCicFigureRows = 2000;

torch::Tensor masked_float(const torch::Tensor& m) { return m.to(torch::kFloat32); }

// Samples (or takes the argmax of) logits [B, F, K] -> [B, F] int64.
torch::Tensor choose(const torch::Tensor& logits, bool greedy, at::Generator& gen) {
  if (greedy) return logits.argmax(-1);
  const auto B = logits.size(0), F = logits.size(1), K = logits.size(2);
  return torch::multinomial(torch::softmax(logits.detach(), -1).reshape({B * F, K}), 1, false, gen).view({B, F});
}

// Sum over factors of log pi(choice) and of the entropy: [B] each.
std::pair<torch::Tensor, torch::Tensor> logp_entropy(const torch::Tensor& logits, const torch::Tensor& choice) {
  auto lp = torch::log_softmax(logits, -1);
  auto logp = lp.gather(2, choice.unsqueeze(2)).squeeze(2).sum(1);
  auto ent = -(lp.exp() * lp).sum(2).sum(1);
  return {logp, ent};
}

}  // namespace

McgAgentImpl::McgAgentImpl(const AgentSpec& spec, int64_t hidden, bool separate_message_net)
    : spec_(spec), separate_(separate_message_net && spec.vocab_size > 0) {
  l1_ = register_module("l1", torch::nn::Linear(spec.obs_dim, hidden));
  l2_ = register_module("l2", torch::nn::Linear(hidden, hidden));
  if (separate_) {
    m1_ = register_module("m1", torch::nn::Linear(spec.obs_dim, hidden));
    m2_ = register_module("m2", torch::nn::Linear(hidden, hidden));
  }
  if (spec.action_factors > 0)
    action_ = register_module("action", torch::nn::Linear(hidden, spec.action_factors * spec.action_values));
  if (spec.vocab_size > 0)
    message_ = register_module("message", torch::nn::Linear(hidden, spec.msg_len * spec.vocab_size));
  value_ = register_module("value", torch::nn::Linear(hidden, 1));
}

PolicyOutput McgAgentImpl::forward(const torch::Tensor& obs) {
  const int64_t B = obs.size(0);
  auto h = torch::relu(l2_(torch::relu(l1_(obs))));
  PolicyOutput o;
  if (action_) o.action_logits = action_(h).view({B, spec_.action_factors, spec_.action_values});
  if (message_) {
    auto hm = separate_ ? torch::relu(m2_(torch::relu(m1_(obs)))) : h;
    o.message_logits = message_(hm).view({B, spec_.msg_len, spec_.vocab_size});
  }
  o.value = value_(h).squeeze(1);
  return o;
}

ReinforceTerms reinforce_loss(const torch::Tensor& logp_action, const torch::Tensor& entropy_action,
                              const torch::Tensor& act_mask, const torch::Tensor& logp_message,
                              const torch::Tensor& entropy_message, const torch::Tensor& speak_mask,
                              const torch::Tensor& value, const torch::Tensor& ret, const ReinforceCoefs& c) {
  const double B = double(ret.size(1));
  auto adv = (ret - value).detach();
  auto any = torch::clamp(act_mask + speak_mask, 0, 1);
  ReinforceTerms t;
  t.action = -(act_mask * adv * logp_action).sum() / B;
  t.message = -(speak_mask * adv * logp_message).sum() / B;
  t.entropy_action = (act_mask * entropy_action).sum() / B;
  t.entropy_message = (speak_mask * entropy_message).sum() / B;
  t.value = (any * (ret - value).pow(2)).sum() / B;
  t.total = t.action - c.entropy * t.entropy_action + c.value * t.value;
  if (c.train_message) t.total = t.total + c.message * t.message - c.entropy * t.entropy_message;
  return t;
}

OptionSet Reinforce::option_set() {
  OptionSet s;
  s.add_int("agents.hidden", 40, "hidden units of each of the two ReLU layers of every agent", 1, 100000)
      .add_bool("agents.separate_message_net", false, "the message head has its own MLP (not shared with actions)")
      .add_bool("agents.train_message", true, "false: the message head never learns (Pitfalls ablation)")
      .add_float("agents.message_coef", 0.1, "weight of the message policy-gradient loss", 0.0, 1e3)
      .add_float("agents.entropy_coef", 0.01, "entropy bonus of action and message policies", 0.0, 1e3)
      .add_float("agents.value_coef", 0.1, "weight of the value-baseline MSE", 0.0, 1e3)
      .merge(adapter_options())
      .add_int("train.batch_size", 64, "episodes per update", 1, 1 << 24)
      .add_float("train.lr", 5e-3, "Adam learning rate of every agent", 1e-8, 10.0)
      .add_bool("eval.sample", false, "evaluation samples actions and messages (default: greedy)")
      .merge(cic_probe_options());
  return s;
}

Reinforce::Options Reinforce::Options::from(const Config& cfg) {
  Options o;
  o.hidden = cfg.get_int("agents.hidden");
  o.separate_message_net = cfg.get_bool("agents.separate_message_net");
  o.coefs.train_message = cfg.get_bool("agents.train_message");
  o.coefs.message = cfg.get_float("agents.message_coef");
  o.coefs.entropy = cfg.get_float("agents.entropy_coef");
  o.coefs.value = cfg.get_float("agents.value_coef");
  o.batch_size = cfg.get_int("train.batch_size");
  o.lr = cfg.get_float("train.lr");
  o.eval_size = cfg.get_int("eval.size");
  if (o.eval_size == 0) o.eval_size = 1000;
  o.log_rows = cfg.get_int("eval.log_rows");
  o.eval_sample = cfg.get_bool("eval.sample");
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
    opts_.push_back(std::make_unique<torch::optim::Adam>(agents_.back()->parameters(), torch::optim::AdamOptions(opt.lr)));
  }
  F_ = std::max<int64_t>(F_, 1);
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
    for (int64_t i = 0; i < N_; ++i) {
      PolicyOutput o = agents_[i](s.obs[i]);
      if (o.action_logits.defined())
        actions.select(1, i).narrow(1, 0, o.action_logits.size(1)).copy_(choose(o.action_logits, greedy, gen_));
      if (o.message_logits.defined())
        messages.select(1, i).narrow(1, 0, o.message_logits.size(1)).copy_(choose(o.message_logits, greedy, gen_));
      outs.push_back(o);
    }
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
  Rollout r = play(opt_.batch_size, false, false, episode_rng_);
  const int64_t T = r.steps();
  // Return from step t to the end: reverse cumulative sum over t.
  auto ret = r.rewards.flip(0).cumsum(0).flip(0);  // [T, B, N]
  torch::Tensor total = torch::zeros({});
  Metrics m;
  double value_loss = 0;
  for (int64_t i = 0; i < N_; ++i) {
    std::vector<torch::Tensor> lpa, ea, ma, lpm, em, ms, v;
    for (int64_t t = 0; t < T; ++t) {
      const PolicyOutput& o = r.out[t][i];
      auto zeros = torch::zeros({opt_.batch_size});
      if (o.action_logits.defined()) {
        auto [lp, e] = logp_entropy(o.action_logits, r.actions[t].select(1, i).narrow(1, 0, o.action_logits.size(1)));
        lpa.push_back(lp), ea.push_back(e);
      } else {
        lpa.push_back(zeros), ea.push_back(zeros);
      }
      if (o.message_logits.defined()) {
        auto [lp, e] = logp_entropy(o.message_logits, r.messages[t].select(1, i).narrow(1, 0, o.message_logits.size(1)));
        lpm.push_back(lp), em.push_back(e);
      } else {
        lpm.push_back(zeros), em.push_back(zeros);
      }
      ma.push_back(masked_float(r.states[t].acts.select(1, i)));
      ms.push_back(masked_float(r.states[t].speaks.select(1, i)));
      v.push_back(o.value);
    }
    ReinforceTerms terms = reinforce_loss(torch::stack(lpa), torch::stack(ea), torch::stack(ma), torch::stack(lpm),
                                          torch::stack(em), torch::stack(ms), torch::stack(v),
                                          ret.select(2, i), opt_.coefs);
    total = total + terms.total;
    value_loss += terms.value.item<double>();
  }
  for (auto& o : opts_) o->zero_grad();
  total.backward();
  for (auto& o : opts_) o->step();
  m["loss"] = total.item<double>();
  m["value_loss"] = value_loss / double(N_);
  m["reward"] = r.rewards.sum(0).mean().item<double>();
  return m;
}

namespace {

// One interaction row: episode b, sender j speaking at step t, receiver i acting at step t_recv.
struct RowRef {
  int64_t b, t, sender, receiver, t_recv;
};

}  // namespace

Metrics Reinforce::evaluate(int64_t step, RunWriter& log) {
  torch::NoGradGuard no_grad;
  for (auto& a : agents_) a->eval();
  Rng rng = eval_rng_.derive("step" + std::to_string(step));
  const int64_t E = opt_.eval_size;
  Rollout r = play(E, true, !opt_.eval_sample, rng);
  const int64_t T = r.steps();
  Metrics m;
  auto returns = r.rewards.sum(0);  // [E, N]
  for (int64_t i = 0; i < N_; ++i) m["reward/agent" + std::to_string(i)] = returns.select(1, i).mean().item<double>();
  m["reward/mean"] = returns.mean().item<double>();

  // Rows, episode-major. Masks to plain arrays first (per-element tensor access is slow).
  std::vector<std::vector<uint8_t>> speaks(T), acts(T);
  for (int64_t t = 0; t < T; ++t) {
    auto sp = r.states[t].speaks.contiguous(), ac = r.states[t].acts.contiguous();
    speaks[t].assign(sp.data_ptr<bool>(), sp.data_ptr<bool>() + E * N_);
    acts[t].assign(ac.data_ptr<bool>(), ac.data_ptr<bool>() + E * N_);
  }
  auto act_step = [&](int64_t b, int64_t i, int64_t from) -> int64_t {
    for (int64_t u = from; u < T; ++u)
      if (acts[u][b * N_ + i]) return u;
    return -1;
  };
  std::vector<RowRef> rows;
  for (int64_t b = 0; b < E; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < N_; ++j) {
        if (!speaks[t][b * N_ + j]) continue;
        for (int64_t i = 0; i < N_; ++i)
          if (game_->hears(i, j)) rows.push_back({b, t, j, i, act_step(b, i, t + 1)});
      }
  const int64_t R = int64_t(rows.size());
  m["messages_per_episode"] = double(R) / double(E);
  if (R == 0) return m;

  // Columns.
  auto acc = [&](const torch::Tensor& x) { return x.contiguous(); };
  std::vector<torch::Tensor> act_t(T), msg_t(T);
  for (int64_t t = 0; t < T; ++t) act_t[t] = acc(r.actions[t]), msg_t[t] = acc(r.messages[t]);
  const int64_t W = F_;
  auto action_of = [&](int64_t b, int64_t i, int64_t u, std::vector<int32_t>& out) {
    const int64_t Fi = game_->agent_spec(i).action_factors;
    const int64_t* p = act_t[std::max<int64_t>(u, 0)].data_ptr<int64_t>() + (b * N_ + i) * F_;
    for (int64_t f = 0; f < W; ++f) out.push_back(u >= 0 && f < Fi ? int32_t(p[f]) : -1);
  };
  InteractionBatch all;
  all.rows = R;
  all.msg_len = int(L_);
  all.sender_action_width = all.receiver_action_width = W == 1 ? 0 : int(W);
  auto ret_acc = returns.contiguous();
  const float* ret_p = ret_acc.data_ptr<float>();
  for (const RowRef& row : rows) {
    all.step.push_back(step);
    all.episode.push_back(row.b);
    all.t.push_back(int32_t(row.t));
    all.sender.push_back(int32_t(row.sender));
    all.receiver.push_back(int32_t(row.receiver));
    const int64_t* mp = msg_t[row.t].data_ptr<int64_t>() + (row.b * N_ + row.sender) * L_;
    for (int64_t l = 0; l < L_; ++l) all.message.push_back(int32_t(mp[l]));
    all.length.push_back(int32_t(L_));
    action_of(row.b, row.sender, act_step(row.b, row.sender, row.t), all.sender_action);
    action_of(row.b, row.receiver, row.t_recv, all.receiver_action);
    all.reward.push_back(ret_p[row.b * N_ + row.sender]);
  }

  // Figures over every row.
  {
    using namespace metrics;
    const auto msg = messages_as_symbols(int_table(all.message, L_), all.length);
    const auto sa = rows_as_symbols(int_table(all.sender_action, W));
    const auto ra = rows_as_symbols(int_table(all.receiver_action, W));
    m["entropy"] = entropy(msg);
    m["sc"] = mutual_information(msg, sa);
    m["ic"] = mutual_information(msg, ra);
    m["ci_action"] = context_independence(sa, msg);
  }

  // CIC probe of the first P rows: the sender's message policy at its speaking state, the
  // receiver's action distribution at its acting state with the heard message imposed.
  const int64_t logged = std::min<int64_t>(opt_.log_rows, R);
  const bool due = opt_.cic.due(step) && logged > 0;
  const int64_t block_rows = due ? opt_.cic.probed_rows(logged) : 0;
  const int64_t P = std::min<int64_t>(R, std::max(kCicFigureRows, block_rows));
  for (int64_t k = 0; k < P; ++k) EMCOMM_CHECK(rows[k].t_recv >= 0, "a message whose receiver never acts afterwards");
  // Sender logits [P, L, V] and receiver states, gathered by (step, agent) groups.
  std::vector<torch::Tensor> logit_rows(P), obs_rows(P);
  {
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> by_sender, by_receiver;  // (t, agent) -> row ids
    for (int64_t k = 0; k < P; ++k) {
      by_sender[{rows[k].t, rows[k].sender}].push_back(k);
      by_receiver[{rows[k].t_recv, rows[k].receiver}].push_back(k);
    }
    auto b_index = [&](const std::vector<int64_t>& ks) {
      std::vector<int64_t> bs;
      for (int64_t k : ks) bs.push_back(rows[k].b);
      return torch::tensor(bs, torch::kInt64);
    };
    for (const auto& [key, ks] : by_sender) {
      auto lg = r.out[key.first][key.second].message_logits.index_select(0, b_index(ks));
      for (size_t n = 0; n < ks.size(); ++n) logit_rows[ks[n]] = lg[n];
    }
    for (const auto& [key, ks] : by_receiver) {
      auto ob = r.states[key.first].obs[key.second].index_select(0, b_index(ks));
      for (size_t n = 0; n < ks.size(); ++n) obs_rows[ks[n]] = ob[n];
    }
  }
  const int64_t V = logit_rows[0].size(1);
  ChannelSpec channel{V, L_, false};
  auto sender_logits = torch::stack(logit_rows);  // [P, L, V]
  std::vector<int64_t> receiver_of(P), sender_of(P);
  for (int64_t k = 0; k < P; ++k) receiver_of[k] = rows[k].receiver, sender_of[k] = rows[k].sender;
  auto receiver_probs = [&](const torch::Tensor& symbols, const torch::Tensor& row_ids) {
    const int64_t n = row_ids.size(0);
    const int64_t* ids = row_ids.data_ptr<int64_t>();
    torch::Tensor out;
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> groups;  // (receiver, sender) -> positions
    for (int64_t q = 0; q < n; ++q) groups[{receiver_of[ids[q]], sender_of[ids[q]]}].push_back(q);
    for (const auto& [key, qs] : groups) {
      auto pos = torch::tensor(qs, torch::kInt64);
      std::vector<torch::Tensor> ob;
      for (int64_t q : qs) ob.push_back(obs_rows[ids[q]]);
      auto obs = game_->impose_message(key.first, key.second, torch::stack(ob), symbols.index_select(0, pos));
      auto p = torch::softmax(agents_[key.first](obs).action_logits, -1);  // [n_g, F, K]
      if (p.size(1) == 1) p = p.squeeze(1);
      if (!out.defined()) {
        auto shape = p.sizes().vec();
        shape[0] = n;
        out = torch::zeros(shape, torch::kFloat32);
      }
      out.index_copy_(0, pos, p);
    }
    return out;
  };
  auto gen = at::make_generator<at::CPUGeneratorImpl>(cic_rng_.derive("step" + std::to_string(step)).seed());
  CicTables tables = cic_probe(sender_logits, receiver_probs, opt_.cic.max_messages, channel, gen);
  {
    const int64_t M = tables.p_message.size(1);
    auto pm = tables.p_message.contiguous(), pa = tables.p_action.contiguous();
    const int64_t K = pa.numel() / std::max<int64_t>(1, P * M);
    auto cic_of = [&](const std::vector<int64_t>& ks) {
      std::vector<float> a, b;
      for (int64_t k : ks) {
        a.insert(a.end(), pm.data_ptr<float>() + k * M, pm.data_ptr<float>() + (k + 1) * M);
        b.insert(b.end(), pa.data_ptr<float>() + k * M * K, pa.data_ptr<float>() + (k + 1) * M * K);
      }
      if (pa.dim() == 4)
        return metrics::cic_factorised(a.data(), b.data(), int64_t(ks.size()), M, pa.size(2), pa.size(3));
      return metrics::cic(a.data(), b.data(), int64_t(ks.size()), M, K);
    };
    std::vector<int64_t> every(P);
    for (int64_t k = 0; k < P; ++k) every[k] = k;
    m["cic"] = cic_of(every);
    if (tables.messages.defined()) {  // CIC(s) <= H(c|s): the sender's own uncertainty at s bounds it
      auto p = pm.clamp_min(1e-30);
      m["sender_msg_entropy"] = (-(pm * p.log2()).sum(1)).mean().item<double>();
    }
    for (int64_t j = 0; j < N_; ++j) {
      std::vector<int64_t> ks;
      for (int64_t k = 0; k < P; ++k)
        if (sender_of[k] == j) ks.push_back(k);
      if (!ks.empty()) m["cic/sender" + std::to_string(j)] = cic_of(ks);
    }
  }

  if (logged > 0) {
    InteractionBatch b;
    b.rows = logged;
    b.msg_len = all.msg_len;
    b.sender_action_width = all.sender_action_width;
    b.receiver_action_width = all.receiver_action_width;
    auto head = [logged](const auto& v, int64_t width) { return std::decay_t<decltype(v)>(v.begin(), v.begin() + logged * width); };
    b.step = head(all.step, 1);
    b.episode = head(all.episode, 1);
    b.t = head(all.t, 1);
    b.sender = head(all.sender, 1);
    b.receiver = head(all.receiver, 1);
    b.message = head(all.message, L_);
    b.length = head(all.length, 1);
    b.sender_action = head(all.sender_action, W);
    b.receiver_action = head(all.receiver_action, W);
    b.target.assign(logged, -1);
    b.reward = head(all.reward, 1);
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

void Reinforce::save_state(state::Out& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    state::put(ar, "agent" + std::to_string(i), *agents_[i]);
    state::put(ar, "opt" + std::to_string(i), *opts_[i]);
  }
  state::put(ar, "episode_rng", episode_rng_);
  state::put(ar, "policy_gen", gen_);
}

void Reinforce::load_state(state::In& ar) {
  for (int64_t i = 0; i < N_; ++i) {
    state::get(ar, "agent" + std::to_string(i), *agents_[i]);
    state::get(ar, "opt" + std::to_string(i), *opts_[i]);
  }
  state::get(ar, "episode_rng", episode_rng_);
  state::get(ar, "policy_gen", gen_);
}

std::string Reinforce::nonfinite_parameter() {
  for (int64_t i = 0; i < N_; ++i) {
    std::string bad = state::first_nonfinite(*agents_[i], "agent" + std::to_string(i));
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
     }});

}  // namespace emcomm
