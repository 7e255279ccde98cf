#include "algorithms/markov_eval.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "core/errors.h"
#include "envs/matrix/matrix.h"
#include "metrics/metrics.h"

namespace emcomm {
namespace {

// The figure `cic` is the mean over at most this many evaluation rows.
constexpr int64_t kCicFigureRows = 2000;

// One interaction row: episode b, sender j speaking at step t, receiver i acting at step t_recv.
struct RowRef {
  int64_t b, t, sender, receiver, t_recv;
};

std::vector<uint8_t> mask_of(const torch::Tensor& m) {
  auto c = m.contiguous();
  return std::vector<uint8_t>(c.data_ptr<bool>(), c.data_ptr<bool>() + c.numel());
}

template <class V>
V head(const V& v, int64_t n) {
  return V(v.begin(), v.begin() + n);
}

}  // namespace

double independent_mi_floor(int64_t n, int64_t M, int64_t A) {
  if (n < 1 || M < 1 || A < 1 || M * A > (int64_t(1) << 20)) return std::nan("");
  static std::mutex mu;
  static std::map<std::tuple<int64_t, int64_t, int64_t>, double> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find({n, M, A});
  if (it != cache.end()) return it->second;
  Rng rng(derive_seed(0x6d69666c6f6f72ULL, std::to_string(n) + "/" + std::to_string(M) + "/" + std::to_string(A)));
  const int64_t draws = std::max<int64_t>(500, 1000000 / n);
  std::vector<int64_t> x(n), y(n);
  double sum = 0;
  for (int64_t d = 0; d < draws; ++d) {
    for (int64_t i = 0; i < n; ++i) x[i] = int64_t(rng.below(uint64_t(M))), y[i] = int64_t(rng.below(uint64_t(A)));
    sum += metrics::mutual_information(x, y);
  }
  return cache[{n, M, A}] = sum / double(draws);
}

int64_t markov_eval_size(const Config& cfg) {
  const int64_t n = cfg.get_int("eval.size");
  return n == 0 ? 1000 : n;
}

Metrics log_markov_evaluation(const MarkovGame& game, const MarkovRollout& r, const ActionProbs& probs,
                              const MarkovLogOptions& opt, int64_t step, Rng cic_rng, RunWriter& log) {
  const int64_t T = r.steps(), N = game.num_agents();
  const int64_t E = r.returns.size(0);
  Metrics m;
  for (const auto& [name, per_episode] : game.episode_figures()) {  // the mean over finite values
    double sum = 0;
    int64_t n = 0;
    for (double v : per_episode)
      if (std::isfinite(v)) sum += v, ++n;
    m[name] = n > 0 ? sum / double(n) : std::nan("");
  }
  std::vector<AgentSpec> spec(N);
  int64_t W = 1, L = 1;
  for (int64_t i = 0; i < N; ++i) {
    spec[i] = game.agent_spec(i);
    W = std::max(W, spec[i].action_factors);
    L = std::max(L, spec[i].msg_len);
  }

  // Rows, episode-major. Masks to plain arrays first (per-element tensor access is slow).
  std::vector<std::vector<uint8_t>> speaks(T), acts(T);
  for (int64_t t = 0; t < T; ++t) speaks[t] = mask_of(r.states[t].speaks), acts[t] = mask_of(r.states[t].acts);
  auto act_step = [&](int64_t b, int64_t i, int64_t from) -> int64_t {
    for (int64_t u = from; u < T; ++u)
      if (acts[u][b * N + i]) return u;
    return -1;
  };
  // A receiver that answers by message (MarkovGame::answers_by_message) "acts" when it speaks.
  std::vector<uint8_t> answers(N);
  bool any_answers = false;
  for (int64_t i = 0; i < N; ++i) answers[i] = spec[i].vocab_size > 0 && game.answers_by_message(i), any_answers |= answers[i];
  auto answer_step = [&](int64_t b, int64_t i, int64_t from) -> int64_t {
    for (int64_t u = from; u < T; ++u)
      if (speaks[u][b * N + i]) return u;
    return -1;
  };
  std::vector<RowRef> rows;
  for (int64_t b = 0; b < E; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < N; ++j) {
        if (!speaks[t][b * N + j] || spec[j].vocab_size == 0) continue;
        for (int64_t i = 0; i < N; ++i) {
          if (!game.hears(i, j)) continue;
          const int64_t u = answers[i] ? answer_step(b, i, t + 1) : act_step(b, i, t + 1);
          if (u >= 0) rows.push_back({b, t, j, i, u});
        }
      }
  const int64_t R = int64_t(rows.size());
  m["messages_per_episode"] = double(R) / double(std::max<int64_t>(E, 1));
  if (R == 0) return m;

  // Columns.
  std::vector<torch::Tensor> act_t(T), msg_t(T);
  for (int64_t t = 0; t < T; ++t) act_t[t] = r.actions[t].contiguous(), msg_t[t] = r.messages[t].contiguous();
  const int64_t F = r.actions[0].size(2), LM = r.messages[0].size(2);
  EMCOMM_CHECK(F >= W && LM >= L, "rollout actions/messages narrower than the agents' specs");
  auto answer_of = [&](int64_t b, int64_t i, int64_t u, std::vector<int32_t>& out) {  // its first W symbols
    const int64_t* p = msg_t[u].data_ptr<int64_t>() + (b * N + i) * LM;
    for (int64_t f = 0; f < W; ++f) out.push_back(f < spec[i].msg_len ? int32_t(p[f]) : -1);
  };
  auto action_of = [&](int64_t b, int64_t i, int64_t u, std::vector<int32_t>& out) {
    const int64_t Fi = spec[i].action_factors;
    const int64_t* p = act_t[std::max<int64_t>(u, 0)].data_ptr<int64_t>() + (b * N + i) * F;
    for (int64_t f = 0; f < W; ++f) out.push_back(u >= 0 && f < Fi ? int32_t(p[f]) : -1);
  };
  InteractionBatch all;
  all.rows = R;
  all.msg_len = int(L);
  all.sender_action_width = all.receiver_action_width = W == 1 ? 0 : int(W);
  auto ret = r.returns.contiguous();
  const float* ret_p = ret.data_ptr<float>();
  bool sender_acts = false;
  // Target and concept per episode, of one width each across the episodes (checked).
  const int64_t TW = int64_t(game.target_of(rows[0].b).size()), CW = int64_t(game.concept_of(rows[0].b).size());
  all.target_width = TW == 1 ? 0 : int(TW);
  all.concept_width = int(CW);
  std::vector<int32_t> ep_target, ep_concept;
  int64_t ep_b = -1;
  for (const RowRef& row : rows) {
    if (row.b != ep_b) {
      ep_b = row.b;
      ep_target = game.target_of(row.b);
      ep_concept = game.concept_of(row.b);
      EMCOMM_CHECK(int64_t(ep_target.size()) == TW && int64_t(ep_concept.size()) == CW,
                   "MarkovGame::target_of/concept_of: episodes of different widths");
    }
    all.step.push_back(step);
    all.episode.push_back(row.b);
    all.t.push_back(int32_t(row.t));
    all.sender.push_back(int32_t(row.sender));
    all.receiver.push_back(int32_t(row.receiver));
    const int64_t Lj = spec[row.sender].msg_len;
    const int64_t* mp = msg_t[row.t].data_ptr<int64_t>() + (row.b * N + row.sender) * LM;
    for (int64_t l = 0; l < L; ++l) all.message.push_back(l < Lj ? int32_t(mp[l]) : -1);
    all.length.push_back(int32_t(Lj));
    const int64_t su = act_step(row.b, row.sender, row.t);
    sender_acts = sender_acts || (su >= 0 && spec[row.sender].action_factors > 0);
    action_of(row.b, row.sender, su, all.sender_action);
    if (answers[row.receiver]) answer_of(row.b, row.receiver, row.t_recv, all.receiver_action);
    else action_of(row.b, row.receiver, row.t_recv, all.receiver_action);
    all.reward.push_back(ret_p[row.b * N + row.sender]);
    all.target.insert(all.target.end(), ep_target.begin(), ep_target.end());
    all.concept.insert(all.concept.end(), ep_concept.begin(), ep_concept.end());
  }

  // Figures over every row (pooled over the speakers), then per speaking agent j (its own rows:
  // the speakers' codes are independent, so pooling can cancel or create information). Each is
  // the mean over the estimates of opt.mi_batch episodes.
  {
    using namespace metrics;
    const int64_t per = opt.mi_batch > 0 && opt.mi_batch < E ? opt.mi_batch : E;
    const int64_t chunks = E / per;
    auto space = [](const AgentSpec& s, bool message) {
      double n = 1;
      for (int64_t l = 0; l < (message ? s.msg_len : s.action_factors); ++l) n *= double(message ? s.vocab_size : s.action_values);
      return n > double(int64_t(1) << 40) ? int64_t(1) << 40 : int64_t(n);
    };
    auto figures = [&](const std::vector<int64_t>& ids, const std::string& suffix, bool acts) {
      std::vector<std::vector<int64_t>> groups(chunks);
      for (int64_t k : ids)
        if (rows[k].b / per < chunks) groups[rows[k].b / per].push_back(k);
      const AgentSpec& sender = spec[rows[ids.front()].sender];
      const int64_t M = space(sender, true);
      const int64_t A = space(acts ? sender : spec[rows[ids.front()].receiver], false);
      std::map<std::string, double> sum;
      int64_t n = 0;
      for (const auto& g : groups) {
        if (g.empty()) continue;
        std::vector<int32_t> msg, len, sa, ra;
        for (int64_t k : g) {
          msg.insert(msg.end(), all.message.begin() + k * L, all.message.begin() + (k + 1) * L);
          len.push_back(all.length[k]);
          sa.insert(sa.end(), all.sender_action.begin() + k * W, all.sender_action.begin() + (k + 1) * W);
          ra.insert(ra.end(), all.receiver_action.begin() + k * W, all.receiver_action.begin() + (k + 1) * W);
        }
        const auto ms = messages_as_symbols(int_table(msg, L), len);
        sum["entropy"] += entropy(ms);
        sum["ic"] += mutual_information(ms, rows_as_symbols(int_table(ra, W)));
        sum["mi_floor"] += independent_mi_floor(int64_t(g.size()), M, A);  // NaN (left out) when too large
        if (acts) {
          const auto a = rows_as_symbols(int_table(sa, W));
          sum["sc"] += mutual_information(ms, a);
          sum["ci_action"] += context_independence(a, ms);
        }
        ++n;
      }
      for (const auto& [name, v] : sum)
        if (std::isfinite(v)) m[name + suffix] = v / double(n);
    };
    std::vector<int64_t> every(R);
    for (int64_t k = 0; k < R; ++k) every[k] = k;
    figures(every, "", sender_acts);
    for (int64_t j = 0; j < N; ++j) {
      std::vector<int64_t> ids;
      bool acts = false;
      for (int64_t k = 0; k < R; ++k)
        if (rows[k].sender == j) {
          ids.push_back(k);
          acts = acts || all.sender_action[k * W] >= 0;
        }
      if (!ids.empty()) figures(ids, "/agent" + std::to_string(j), acts);
    }
    // Receivers that answer by message (several may hear one speaker: crypto's Bob and Eve): the
    // information each one's answers carry about what it heard, ic/receiver<i>.
    for (int64_t i = 0; i < N; ++i) {
      if (!answers[i]) continue;
      std::vector<int32_t> msg, len, ra;
      for (int64_t k = 0; k < R; ++k)
        if (rows[k].receiver == i) {
          msg.insert(msg.end(), all.message.begin() + k * L, all.message.begin() + (k + 1) * L);
          len.push_back(all.length[k]);
          ra.insert(ra.end(), all.receiver_action.begin() + k * W, all.receiver_action.begin() + (k + 1) * W);
        }
      if (!len.empty())
        m["ic/receiver" + std::to_string(i)] =
            mutual_information(messages_as_symbols(int_table(msg, L), len), rows_as_symbols(int_table(ra, W)));
    }
  }

  // CIC probe of the first P rows: the sender's message policy at its speaking state, the
  // receiver's action distribution at its acting state with the heard message imposed. One
  // channel (vocabulary and length) across the probed senders, else no probe.
  const int64_t logged = std::min<int64_t>(opt.log_rows, R);
  int64_t P = std::min<int64_t>(R, std::max(kCicFigureRows, opt.cic.due(step) ? opt.cic.probed_rows(logged) : 0));
  const int64_t V = spec[rows[0].sender].vocab_size, Lc = spec[rows[0].sender].msg_len;
  for (int64_t k = 0; k < P; ++k)
    if (spec[rows[k].sender].vocab_size != V || spec[rows[k].sender].msg_len != Lc) P = 0;
  for (int64_t k = 0; k < P; ++k)
    if (!r.message_logits[rows[k].t][rows[k].sender].defined()) P = 0;
  // Receivers that answer by message need the learner's answer_probs, all of one vocabulary (one
  // table shape); a mix of acting and answering receivers gets no probe.
  if (P > 0 && any_answers) {
    const bool first = answers[rows[0].receiver];
    for (int64_t k = 0; k < P; ++k)
      if (answers[rows[k].receiver] != first || (first && spec[rows[k].receiver].vocab_size != spec[rows[0].receiver].vocab_size))
        P = 0;
    if (first && !opt.answer_probs) P = 0;
  }
  const bool due = opt.cic.due(step) && logged > 0 && P > 0;
  const int64_t block_rows = due ? opt.cic.probed_rows(logged) : 0;
  CicTables tables;
  if (P > 0) {
    // Sender logits [P, Lc, V] and receiver states, gathered by (step, agent) groups.
    std::vector<torch::Tensor> logit_rows(P), obs_rows(P);
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
      auto lg = r.message_logits[key.first][key.second].index_select(0, b_index(ks)).reshape({int64_t(ks.size()), Lc, V});
      for (size_t n = 0; n < ks.size(); ++n) logit_rows[ks[n]] = lg[n];
    }
    for (const auto& [key, ks] : by_receiver) {
      auto ob = r.states[key.first].obs[key.second].index_select(0, b_index(ks));
      for (size_t n = 0; n < ks.size(); ++n) obs_rows[ks[n]] = ob[n];
    }
    const auto* matrix = dynamic_cast<const MatrixGame*>(&game);
    auto receiver_probs = [&](const torch::Tensor& symbols, const torch::Tensor& row_ids) {
      const int64_t n = row_ids.size(0);
      const int64_t* ids = row_ids.data_ptr<int64_t>();
      torch::Tensor out;
      std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> groups;  // (receiver, sender) -> positions
      for (int64_t q = 0; q < n; ++q) groups[{rows[ids[q]].receiver, rows[ids[q]].sender}].push_back(q);
      for (const auto& [key, qs] : groups) {
        auto pos = torch::tensor(qs, torch::kInt64);
        std::vector<torch::Tensor> ob;
        std::vector<int64_t> episodes;
        for (int64_t q : qs) ob.push_back(obs_rows[ids[q]]), episodes.push_back(rows[ids[q]].b);
        auto obs = game.impose_message(key.first, key.second, torch::stack(ob), symbols.index_select(0, pos));
        if (matrix) obs = matrix->probe_observation(obs);  // env.cic_reply: the reference's empty reply slot
        auto p = answers[key.first] ? opt.answer_probs(key.first, obs, episodes) : probs(key.first, obs, episodes);  // [n_g, F, K]
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
    auto gen = at::make_generator<at::CPUGeneratorImpl>(cic_rng.derive("step" + std::to_string(step)).seed());
    tables = cic_probe(torch::stack(logit_rows), receiver_probs, opt.cic.max_messages, ChannelSpec{V, Lc, false}, gen);
    const int64_t M = tables.p_message.size(1);
    auto pm = tables.p_message.contiguous(), pa = tables.p_action.contiguous();
    const int64_t K = pa.numel() / std::max<int64_t>(1, P * M);
    auto cic_of = [&](const std::vector<int64_t>& ks, const float* weights) {
      std::vector<float> a, b;
      for (int64_t k : ks) {
        a.insert(a.end(), weights + k * M, weights + (k + 1) * M);
        b.insert(b.end(), pa.data_ptr<float>() + k * M * K, pa.data_ptr<float>() + (k + 1) * M * K);
      }
      if (pa.dim() == 4)
        return metrics::cic_factorised(a.data(), b.data(), int64_t(ks.size()), M, pa.size(2), pa.size(3));
      return metrics::cic(a.data(), b.data(), int64_t(ks.size()), M, K);
    };
    std::vector<int64_t> every(P);
    for (int64_t k = 0; k < P; ++k) every[k] = k;
    m["cic"] = cic_of(every, pm.data_ptr<float>());
    if (tables.messages.defined()) {
      auto p = pm.clamp_min(1e-30);
      m["sender_msg_entropy"] = (-(pm * p.log2()).sum(1)).mean().item<double>();
      auto uni = torch::full({P, M}, 1.0f / float(M));
      m["cic_uniform"] = cic_of(every, uni.data_ptr<float>());
    }
    for (int64_t j = 0; j < N; ++j) {
      std::vector<int64_t> ks;
      for (int64_t k = 0; k < P; ++k)
        if (rows[k].sender == j) ks.push_back(k);
      if (!ks.empty()) m["cic/sender" + std::to_string(j)] = cic_of(ks, pm.data_ptr<float>());
    }
    for (int64_t i = 0; i < N; ++i) {
      if (!answers[i]) continue;
      std::vector<int64_t> ks;
      for (int64_t k = 0; k < P; ++k)
        if (rows[k].receiver == i) ks.push_back(k);
      if (!ks.empty()) m["cic/receiver" + std::to_string(i)] = cic_of(ks, pm.data_ptr<float>());
    }
  }

  if (logged > 0) {
    InteractionBatch b;
    b.rows = logged;
    b.msg_len = all.msg_len;
    b.sender_action_width = all.sender_action_width;
    b.receiver_action_width = all.receiver_action_width;
    b.step = head(all.step, logged);
    b.episode = head(all.episode, logged);
    b.t = head(all.t, logged);
    b.sender = head(all.sender, logged);
    b.receiver = head(all.receiver, logged);
    b.message = head(all.message, logged * L);
    b.length = head(all.length, logged);
    b.sender_action = head(all.sender_action, logged * W);
    b.receiver_action = head(all.receiver_action, logged * W);
    b.target_width = all.target_width;
    b.target = head(all.target, logged * TW);
    b.concept_width = all.concept_width;
    b.concept = head(all.concept, logged * CW);
    b.reward = head(all.reward, logged);
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

}  // namespace emcomm
