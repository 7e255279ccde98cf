// S2P evaluation (docs/s2p.md "Evaluation figures", "Populations"): every member plays each
// evaluation set in one batched pass per chunk of objects, so the work is P x eval.size
// episodes per split and memory holds one chunk's [P, chunk, ...] tensors at a time; cross-play
// is a [P, P] matrix on a bounded sample of val objects and speaker-listener pairs; the CIC
// probe runs on groups of members at once.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "agents/population.h"
#include "algorithms/interrupt.h"
#include "algorithms/runtime.h"
#include "algorithms/s2p.h"
#include "algorithms/signal_log.h"
#include "core/errors.h"

namespace emcomm {
namespace {

// Members x objects x (message positions x symbols) per chunk of an evaluation pass: about
// 32 MB per float tensor of that shape.
constexpr int64_t kEvalChunkElements = int64_t(1) << 23;
// CIC probe: members probed at once are bounded by their tables' size (floats, ~128 MB).
constexpr int64_t kCicGroupElements = int64_t(1) << 25;

torch::Tensor rows_of(const torch::Tensor& t, int64_t first, int64_t n) {
  return t.defined() ? t.narrow(0, first, n) : t;
}

SignalBatch slice_batch(const SignalBatch& b, int64_t first, int64_t n) {
  SignalBatch s;
  s.sender_input = rows_of(b.sender_input, first, n);
  s.receiver_input = rows_of(b.receiver_input, first, n);
  s.target = rows_of(b.target, first, n);
  s.concept = rows_of(b.concept, first, n);
  s.object_ids = rows_of(b.object_ids, first, n);
  return s;
}

torch::Tensor pick(const torch::Tensor& t, const torch::Tensor& idx) { return t.defined() ? t.index_select(0, idx) : t; }

}  // namespace

SignalBatch S2P::crossplay_sample() const {
  const SignalBatch& val = eval_sets_[static_cast<int>(Split::Val)];
  const int64_t B = val.size();
  const int64_t n = (opt_.crossplay_size == 0 || opt_.crossplay_size >= B) ? B : opt_.crossplay_size;
  if (n == B) return val;
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i * B / n;  // evenly spread over the val eval set
  auto t = torch::tensor(idx, torch::kInt64);
  SignalBatch s;
  s.sender_input = pick(val.sender_input, t);
  s.receiver_input = pick(val.receiver_input, t);
  s.target = pick(val.target, t);
  s.concept = pick(val.concept, t);
  s.object_ids = pick(val.object_ids, t);
  return s;
}

// What members [first, first + count) of `spk` and `lis` do on a set: play_set's sums before
// they are divided, so that member slices played on their own threads add up.
struct S2P::PlayTotals {
  torch::Tensor correct_sum;  // [count] float64
  double human_correct = 0, match = 0, token_same = 0, token_alive = 0;
  int64_t episodes = 0;
  std::vector<torch::Tensor> symbols, out, correct;  // the kept rows, chunk by chunk
};

S2P::PlayTotals S2P::play_members(SpeakerPopulationImpl& spk, ListenerPopulationImpl& lis, int64_t count,
                                  const SignalBatch& set, int64_t keep, bool human) {
  torch::NoGradGuard no_grad;  // per thread
  const int64_t P = opt_.population, B = set.size(), L = opt_.channel.max_len, V = opt_.channel.vocab_size;
  const int64_t chunk = std::max<int64_t>(1, kEvalChunkElements / (P * L * V));  // bounds all threads together
  PlayTotals t;
  t.correct_sum = torch::zeros({count}, torch::kFloat64);
  for (int64_t first = 0; first < B; first += chunk) {
    interrupt_point();
    const int64_t n = std::min(chunk, B - first);
    const SignalBatch c = slice_batch(set, first, n);
    const SignalBatch rep = repeat_for_members(c, count);
    auto symbols = spk.speak(c.sender_input, Relaxation::Greedy, 1.0, gen_).symbols.view({count, n, -1});
    auto out = listen(lis, symbols, c.receiver_input);
    auto correct = game_->correct(flat(out), rep).view({count, n});
    t.correct_sum += correct.to(torch::kFloat64).sum(1);
    t.episodes += count * n;
    if (first < keep) {
      const int64_t k = std::min(n, keep - first);
      t.symbols.push_back(symbols.narrow(1, 0, k));
      t.out.push_back(out.narrow(1, 0, k));
      t.correct.push_back(correct.narrow(1, 0, k));
    }
    if (!human) continue;
    auto words = human_channel_messages(c);
    auto hout = listen(lis, words.unsqueeze(0).expand({count, n, words.size(1)}), c.receiver_input);
    t.human_correct += game_->correct(flat(hout), rep).to(torch::kFloat64).sum().item<double>();
    t.episodes += count * n;
    // Caption exact match and token accuracy, both ignoring what follows an EOS: compare the
    // logging forms (-1 after the end) at the human message's positions (its EOS included).
    auto said = symbols_for_log(flat(symbols), opt_.channel).view({count, n, -1});
    auto truth = symbols_for_log(words, opt_.channel).unsqueeze(0);
    auto same = said == truth;
    t.match += same.all(2).to(torch::kFloat64).sum().item<double>();
    auto alive = alive_mask(words, opt_.channel).unsqueeze(0).to(torch::kFloat64);
    t.token_same += (same.to(torch::kFloat64) * alive).sum().item<double>();
    t.token_alive += alive.sum().item<double>() * double(count);
  }
  return t;
}

S2P::SetPlay S2P::play_set(const SignalBatch& set, int64_t keep, bool human) {
  speaker_->eval();
  listener_->eval();
  const int64_t P = opt_.population, B = set.size();
  keep = std::min(keep, B);
  std::vector<PlayTotals> parts;
  if (split_members()) {  // member slices on threads of their own
    const auto slices = member_slices();
    parts.resize(slices.size());
    run_parts(int64_t(slices.size()), [&](int64_t k) {
      auto& [spk, lis] = slices[size_t(k)];
      parts[size_t(k)] = play_members(*spk, *lis, spk->members(), set, keep, human);
    });
  } else {
    parts.push_back(play_members(*speaker_, *listener_, P, set, keep, human));
  }
  SetPlay r;
  std::vector<torch::Tensor> sums, symbols, out, correct;
  double human_correct = 0, match = 0, token_same = 0, token_alive = 0;
  for (auto& t : parts) {
    sums.push_back(t.correct_sum);
    human_correct += t.human_correct;
    match += t.match;
    token_same += t.token_same;
    token_alive += t.token_alive;
    eval_episodes_ += t.episodes;
    if (!t.symbols.empty()) {  // members along dim 0, the kept rows along dim 1
      symbols.push_back(torch::cat(t.symbols, 1));
      out.push_back(torch::cat(t.out, 1));
      correct.push_back(torch::cat(t.correct, 1));
    }
  }
  r.member_acc = torch::cat(sums) / double(std::max<int64_t>(B, 1));
  if (human) {
    r.listener_human = human_correct / double(std::max<int64_t>(P * B, 1));
    r.speaker_match = match / double(std::max<int64_t>(P * B, 1));
    r.token_acc = token_alive > 0 ? token_same / token_alive : 0.0;
  }
  if (!symbols.empty()) {
    r.symbols = torch::cat(symbols, 0);
    r.out = torch::cat(out, 0);
    r.correct = torch::cat(correct, 0);
  }
  return r;
}

Metrics S2P::evaluate_set(const SignalBatch& set, const std::string& split, int64_t keep, SetPlay* play) {
  const int64_t P = opt_.population;
  SetPlay r = play_set(set, keep, /*human=*/true);
  Metrics m;
  m["sp_acc/" + split] = r.member_acc.mean().item<double>();
  m["listener_human_acc/" + split] = r.listener_human;
  m["speaker_human_match/" + split] = r.speaker_match;
  m["speaker_token_acc/" + split] = r.token_acc;
  if (P > 1)
    for (int64_t p = 0; p < P; ++p) m["sp_acc_member/" + split + "/" + std::to_string(p)] = r.member_acc[p].item<double>();
  if (play) *play = std::move(r);
  return m;
}

std::vector<int64_t> S2P::crossplay_shifts(int64_t step) const {
  const int64_t P = opt_.population;
  std::vector<int64_t> all;
  for (int64_t s = 1; s < P; ++s) all.push_back(s);
  if (int64_t(all.size()) <= opt_.crossplay_partners) return all;
  Rng rng = crossplay_rng_.derive("step" + std::to_string(step));
  const int64_t k = opt_.crossplay_partners;
  for (int64_t i = 0; i < k; ++i) std::swap(all[i], all[i + rng.below(uint64_t(all.size() - i))]);
  all.resize(k);
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<float> S2P::crossplay_matrix(const SignalBatch& sample, const std::vector<int64_t>& shifts) {
  torch::NoGradGuard no_grad;
  speaker_->eval();
  listener_->eval();
  const int64_t P = opt_.population, B = sample.size(), L = opt_.channel.max_len, V = opt_.channel.vocab_size;
  const int64_t chunk = std::max<int64_t>(1, kEvalChunkElements / (P * L * V));
  std::vector<int64_t> all_shifts{0};
  all_shifts.insert(all_shifts.end(), shifts.begin(), shifts.end());
  auto counts = torch::zeros({int64_t(all_shifts.size()), P}, torch::kFloat64);
  for (int64_t first = 0; first < B; first += chunk) {
    interrupt_point();
    const int64_t n = std::min(chunk, B - first);
    const SignalBatch c = slice_batch(sample, first, n);
    const SignalBatch rep = repeat_for_members(c);
    auto symbols = speaker_->speak(c.sender_input, Relaxation::Greedy, 1.0, gen_).symbols.view({P, n, -1});
    for (size_t i = 0; i < all_shifts.size(); ++i) {
      // Listener l hears speaker (l + shift) % P.
      auto heard = all_shifts[i] == 0 ? symbols : torch::roll(symbols, {-all_shifts[i]}, {0});
      auto out = listen(heard, c.receiver_input);
      counts[int64_t(i)] += game_->correct(flat(out), rep).view({P, n}).to(torch::kFloat64).sum(1);
      eval_episodes_ += P * n;
    }
  }
  std::vector<float> matrix(P * P, std::numeric_limits<float>::quiet_NaN());
  auto acc = (counts / double(std::max<int64_t>(B, 1))).contiguous();
  const double* a = acc.data_ptr<double>();
  for (size_t i = 0; i < all_shifts.size(); ++i)
    for (int64_t l = 0; l < P; ++l) matrix[((l + all_shifts[i]) % P) * P + l] = float(a[i * P + l]);
  return matrix;
}

void S2P::log_rows_and_cic(const SignalBatch& set, const std::string& split, const SetPlay& play, int64_t rows,
                           int64_t step, RunWriter& log) {
  const int64_t P = opt_.population;
  std::vector<CicTables> tables;
  if (opt_.cic.due(step) || (opt_.cic.every >= 0 && finished(step))) {  // also the final evaluation of a run a phase stop ended
    torch::NoGradGuard no_grad;
    const int64_t probed = opt_.cic.probed_rows(rows);
    const SignalBatch states = slice_batch(set, 0, probed);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(cic_rng_.derive(split + "@" + std::to_string(step)).seed());
    // Groups of members whose tables fit the bound, each probed in one batched pass.
    const ReceiverSpec spec = game_->receiver_spec();
    const int64_t actions = spec.kind == ReceiverSpec::Kind::Reconstruct ? spec.attributes * spec.values : spec.candidates;
    const int64_t per_member = std::max<int64_t>(1, probed * opt_.cic.max_messages * std::max<int64_t>(1, actions));
    const int64_t group = std::clamp<int64_t>(kCicGroupElements / per_member, 1, P);
    auto logits = speaker_->teacher_logits(states.sender_input, torch::Tensor());  // [P, probed, L, V]
    for (int64_t g0 = 0; g0 < P; g0 += group) {
      const int64_t g = std::min(group, P - g0);
      // Probed messages are one-hot: a linear reconstruction listener on fixed-length messages
      // gathers its rows for them (PopListener::forward_symbols_range) instead of multiplying.
      auto* linear = opt_.channel.eos || spec.kind != ReceiverSpec::Kind::Reconstruct
                         ? nullptr
                         : dynamic_cast<PopListenerImpl*>(listener_.get());
      auto listener = [&](const torch::Tensor& onehots, const torch::Tensor& c) {
        if (linear) return linear->forward_symbols_range(g0, g, onehots.argmax(-1));
        return listener_->forward_range(g0, g, onehots, c);
      };
      auto t = probe_signal_members(logits.narrow(0, g0, g), listener, states, probed, opt_.channel,
                                    opt_.cic.max_messages, gen);
      for (auto& x : t) tables.push_back(std::move(x));
    }
  }
  for (int64_t p = 0; p < P; ++p) {
    InteractionBatch b = signal_rows(*game_, set, play.symbols[p], play.out[p], play.correct[p], opt_.channel, step,
                                     rows, int32_t(p), int32_t(p));
    if (!tables.empty()) {
      b.cic = cic_block(tables[p], rows);
      tables[p] = CicTables();  // free each member's tables once written
    }
    log.append_interactions(split, b);
  }
}

Metrics S2P::evaluate(int64_t step, RunWriter& log) {
  std::optional<ScopedBlasThreads> blas;
  if (split_members()) blas.emplace(1);
  Metrics m;
  const int64_t P = opt_.population;
  for (Split s : kAllSplits) {
    const SignalBatch& set = eval_sets_[static_cast<int>(s)];
    const std::string split = split_name(s);
    const int64_t rows = std::min<int64_t>(opt_.log_rows, set.size());
    SetPlay play;
    Metrics sm = evaluate_set(set, split, rows, &play);
    m.insert(sm.begin(), sm.end());
    if (s == Split::Val && P > 1) {
      const std::vector<float> cross = crossplay_matrix(crossplay_sample(), crossplay_shifts(step));
      log.append_matrix("crossplay/val", step, P, P, cross);
      double off = 0;
      int64_t n = 0;
      for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j)
          if (i != j && !std::isnan(cross[i * P + j])) off += cross[i * P + j], ++n;
      m["crossplay_mean/val"] = n ? off / double(n) : std::nan("");
    }
    if (rows > 0) log_rows_and_cic(set, split, play, rows, step, log);
  }
  if (seed_val_.sender_input.defined()) {
    Metrics sv = evaluate_set(seed_val_, "seed_val", 0, nullptr);
    m.insert(sv.begin(), sv.end());
    const double score = opt_.select_listener_only ? m["listener_human_acc/seed_val"]
                                                   : m["sp_acc/seed_val"] + m["listener_human_acc/seed_val"];
    if (opt_.select_on_seed_val && score > best_score_) {
      torch::NoGradGuard no_grad;
      best_score_ = score;
      best_metrics_ = m;
      best_metrics_["selected_step"] = double(step);
      best_params_ = copy_parameters({speaker_.get(), listener_.get()});
    }
  }
  return m;
}

void S2P::log_final(int64_t, RunWriter& log) {
  if (!opt_.select_on_seed_val || best_params_.empty()) return;  // the last model is the one returned
  std::optional<ScopedBlasThreads> blas;
  if (split_members()) blas.emplace(1);
  const int64_t step = int64_t(best_metrics_.at("selected_step"));
  // final_metrics has put the selected parameters back; greedy evaluation is deterministic, so
  // these figures are those summary.json reports.
  for (Split s : kAllSplits) {
    const SignalBatch& set = eval_sets_[static_cast<int>(s)];
    const int64_t rows = std::min<int64_t>(opt_.log_rows, set.size());
    SetPlay play;
    for (const auto& kv : evaluate_set(set, split_name(s), rows, &play)) log.append_scalar("selected/" + kv.first, step, kv.second);
    if (rows == 0) continue;
    for (int64_t p = 0; p < opt_.population; ++p)
      log.append_interactions(std::string("selected_") + split_name(s),
                              signal_rows(*game_, set, play.symbols[p], play.out[p], play.correct[p], opt_.channel, step,
                                          rows, int32_t(p), int32_t(p)));
  }
}

}  // namespace emcomm
