#include "envs/adapter/signaling_adapter.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace emcomm {

SignalingAdapter::SignalingAdapter(std::shared_ptr<SignalingGame> game, int64_t vocab_size, int64_t msg_len)
    : game_(std::move(game)), V_(vocab_size), L_(msg_len) {
  EMCOMM_CHECK(V_ >= 1 && L_ >= 1, "adapter channel needs vocab_size >= 1 and msg_len >= 1");
  const ReceiverSpec r = game_->receiver_spec();
  if (r.kind == ReceiverSpec::Kind::Discriminate) {
    cand_dim_ = r.candidates * r.candidate_dim;
    factors_ = 1, values_ = r.candidates;
  } else {
    factors_ = r.attributes, values_ = r.values;
  }
}

AgentSpec SignalingAdapter::agent_spec(int64_t agent) const {
  AgentSpec s;
  if (agent == 0) {
    s.obs_dim = game_->sender_input_dim();
    s.action_factors = 0, s.action_values = 0;
    s.vocab_size = V_, s.msg_len = L_;
  } else {
    s.obs_dim = cand_dim_ + L_ * V_;
    s.action_factors = factors_, s.action_values = values_;
    s.vocab_size = 0, s.msg_len = 1;
  }
  return s;
}

MarkovState SignalingAdapter::start(SignalBatch batch) {
  batch_ = std::move(batch);
  phase_ = 0;
  const int64_t B = batch_.size();
  return state(torch::zeros({B, L_ * V_}), torch::zeros({B, 2}), 0);
}

MarkovState SignalingAdapter::state(const torch::Tensor& message_onehots, const torch::Tensor& reward,
                                    int64_t phase) const {
  const int64_t B = batch_.size();
  MarkovState s;
  // Images ([B, 3, H, W]) reach the learners as flat vectors of sender_input_dim() values.
  s.obs.push_back(batch_.sender_input.reshape({B, -1}).to(torch::kFloat32));
  if (cand_dim_ > 0)
    s.obs.push_back(torch::cat({batch_.receiver_input.reshape({B, cand_dim_}).to(torch::kFloat32), message_onehots}, 1));
  else
    s.obs.push_back(message_onehots.clone());
  s.speaks = torch::zeros({B, 2}, torch::kBool);
  s.acts = torch::zeros({B, 2}, torch::kBool);
  if (phase == 0) s.speaks.select(1, 0).fill_(true);
  if (phase == 1) s.acts.select(1, 1).fill_(true);
  s.reward = reward;
  s.done = torch::full({B}, phase >= 2, torch::kBool);
  return s;
}

MarkovState SignalingAdapter::step(const torch::Tensor& actions, const torch::Tensor& messages, Rng&) {
  EMCOMM_CHECK(phase_ < 2, "step() needs an episode in progress (call reset())");
  const int64_t B = batch_.size();
  if (phase_ == 0) {
    EMCOMM_CHECK(messages.dim() == 3 && messages.size(0) == B && messages.size(2) >= L_,
                 "adapter messages must be [B, 2, L]");
    last_onehots_ = torch::one_hot(messages.select(1, 0).narrow(1, 0, L_).to(torch::kInt64), V_)
                        .to(torch::kFloat32)
                        .reshape({B, L_ * V_});
    phase_ = 1;
    return state(last_onehots_, torch::zeros({B, 2}), 1);
  }
  EMCOMM_CHECK(actions.dim() == 3 && actions.size(0) == B && actions.size(2) >= factors_,
               "adapter actions must be [B, 2, F]");
  auto a = actions.select(1, 1).narrow(1, 0, factors_).to(torch::kInt64);  // [B, F]
  auto target = batch_.target.dim() == 1 ? batch_.target.unsqueeze(1) : batch_.target;
  auto r = a.eq(target).to(torch::kFloat32).mean(1);  // fraction of factors right
  auto solved = r.eq(1.0f).to(torch::kFloat64).contiguous();
  solved_.assign(solved.data_ptr<double>(), solved.data_ptr<double>() + B);
  phase_ = 2;
  return state(last_onehots_, torch::stack({r, r}, 1), 2);
}

torch::Tensor SignalingAdapter::impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                                               const torch::Tensor& symbols) const {
  EMCOMM_CHECK(hears(listener, speaker), "impose_message: only the listener hears the speaker");
  auto out = obs.clone();
  const int64_t R = obs.size(0);
  out.narrow(1, cand_dim_, L_ * V_)
      .copy_(torch::one_hot(symbols.narrow(1, 0, L_).to(torch::kInt64), V_).to(out.dtype()).reshape({R, L_ * V_}));
  return out;
}

MarkovGame::EpisodeFigures SignalingAdapter::episode_figures() const {
  if (phase_ < 2) return {};
  return {{"acc", solved_}};
}

OptionSet adapter_options() {
  OptionSet s;
  s.add_int("adapter.vocab_size", 10, "signaling games only: symbols of the speaker's messages", 1, 100000)
      .add_int("adapter.max_len", 1, "signaling games only: symbols per message", 1, 100);
  return s;
}

std::shared_ptr<MarkovGame> markov_game_for(std::shared_ptr<Env> env, const Config& cfg, const std::string& algorithm) {
  if (auto game = std::dynamic_pointer_cast<MarkovGame>(env)) {
    for (const char* o : {"adapter.vocab_size", "adapter.max_len"})
      if (cfg.is_set(o))
        throw UserError(std::string("option ") + o + " applies only to signaling games; env '" + env->name() +
                        "' is a Markov game with its own channel");
    return game;
  }
  if (auto sg = std::dynamic_pointer_cast<SignalingGame>(env))
    return std::make_shared<SignalingAdapter>(sg, cfg.get_int("adapter.vocab_size"), cfg.get_int("adapter.max_len"));
  throw UserError("train.algorithm=" + algorithm + " needs a Markov game or a signaling game; env '" + env->name() +
                  "' is neither");
}

namespace {

std::vector<int32_t> row_of(const torch::Tensor& t, int64_t b) {
  if (!t.defined() || t.dim() == 0 || t.size(0) <= b || (t.dim() == 2 && t.size(1) == 0)) return {};
  const torch::Tensor row = t[b].reshape({-1}).to(torch::kInt32).contiguous();
  return std::vector<int32_t>(row.data_ptr<int32_t>(), row.data_ptr<int32_t>() + row.numel());
}

}  // namespace

std::vector<int32_t> SignalingAdapter::target_of(int64_t episode) const {
  std::vector<int32_t> t = row_of(batch_.target, episode);
  return t.empty() ? std::vector<int32_t>{-1} : t;
}

std::vector<int32_t> SignalingAdapter::concept_of(int64_t episode) const {
  return batch_.concept.defined() && batch_.concept.dim() == 2 ? row_of(batch_.concept, episode) : std::vector<int32_t>{};
}

}  // namespace emcomm
