#include "agents/factory.h"

#include <torch/torch.h>

#include <vector>

#include "agents/population.h"
#include "core/errors.h"

namespace emcomm {

AgentArch parse_arch(const std::string& name) {
  if (name == "linear") return AgentArch::Linear;
  if (name == "gru") return AgentArch::Gru;
  throw UserError("agents.arch '" + name + "': expected one of linear|gru");
}

ListenerScore parse_score(const std::string& name) {
  if (name == "dot") return ListenerScore::Dot;
  if (name == "inv_mse") return ListenerScore::InvMse;
  throw UserError("agents.score '" + name + "': expected one of dot|inv_mse");
}

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

// What the listener's encoder reads: the candidates' shape.
std::vector<int64_t> candidate_shape(const SignalingGame& game) {
  auto shape = game.object_shape();
  if (is_image(shape)) return shape;
  return {game.receiver_spec().candidate_dim};
}

// P agents of one kind behind the population interfaces: every call loops over the members.
class MemberSpeakersImpl : public SpeakerPopulationImpl {
 public:
  explicit MemberSpeakersImpl(std::vector<std::shared_ptr<SpeakerAgentImpl>> members) : members_(std::move(members)) {
    for (size_t p = 0; p < members_.size(); ++p) register_module(std::to_string(p), members_[p]);
  }
  int64_t members() const override { return int64_t(members_.size()); }
  bool autoregressive() const override { return members_[0]->autoregressive(); }
  ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) override {
    std::vector<ChannelOutput> outs;
    for (auto& m : members_) outs.push_back(m->speak(input, relax, tau, gen));
    auto cat = [&](torch::Tensor ChannelOutput::*field) {
      if (!(outs[0].*field).defined()) return torch::Tensor();
      std::vector<torch::Tensor> parts;
      for (auto& o : outs) parts.push_back(o.*field);
      return torch::cat(parts, 0);
    };
    ChannelOutput r;
    r.symbols = cat(&ChannelOutput::symbols);
    r.onehots = cat(&ChannelOutput::onehots);
    r.length = cat(&ChannelOutput::length);
    r.log_prob = cat(&ChannelOutput::log_prob);
    r.entropy = cat(&ChannelOutput::entropy);
    return r;
  }
  torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor& symbols) override {
    std::vector<torch::Tensor> parts;
    for (size_t p = 0; p < members_.size(); ++p) parts.push_back(members_[p]->teacher_logits(input, symbols[p]));
    return torch::stack(parts, 0);
  }
  torch::Tensor member_logits(int64_t p, const torch::Tensor& input) override {
    return members_[p]->policy_logits(input);
  }
  std::vector<std::pair<torch::Tensor, int64_t>> member_parameters(int64_t p) override {
    std::vector<std::pair<torch::Tensor, int64_t>> out;
    for (auto& t : members_[p]->parameters()) out.emplace_back(t, -1);
    return out;
  }

 private:
  std::vector<std::shared_ptr<SpeakerAgentImpl>> members_;
};

class MemberListenersImpl : public ListenerPopulationImpl {
 public:
  explicit MemberListenersImpl(std::vector<std::shared_ptr<ListenerAgentImpl>> members) : members_(std::move(members)) {
    for (size_t p = 0; p < members_.size(); ++p) register_module(std::to_string(p), members_[p]);
  }
  torch::Tensor forward(const torch::Tensor& onehots, const torch::Tensor& candidates) override {
    std::vector<torch::Tensor> parts;
    for (size_t p = 0; p < members_.size(); ++p) parts.push_back(members_[p]->forward(onehots[p], candidates));
    return torch::stack(parts, 0);
  }
  torch::Tensor forward_member(int64_t p, const torch::Tensor& onehots, const torch::Tensor& candidates) override {
    return members_[p]->forward(onehots, candidates);
  }

 private:
  std::vector<std::shared_ptr<ListenerAgentImpl>> members_;
};

AgentPair make_gru_agents(const AgentOptions& opt, const SignalingGame& game, at::Generator& gen) {
  const ReceiverSpec task = game.receiver_spec();
  std::shared_ptr<EncoderImpl> listener_encoder;
  if (task.kind == ReceiverSpec::Kind::Discriminate)
    listener_encoder = make_encoder(candidate_shape(game), opt.hidden, opt.cnn_channels);
  auto speaker_encoder =
      opt.shared_encoder ? listener_encoder : make_encoder(game.object_shape(), opt.hidden, opt.cnn_channels);
  AgentPair pair;
  pair.speaker = std::make_shared<GruSpeakerImpl>(speaker_encoder, !opt.shared_encoder, opt.hidden, opt.embed,
                                                  opt.channel);
  pair.listener =
      std::make_shared<GruListenerImpl>(listener_encoder, opt.channel, opt.hidden, opt.embed, task, opt.score);
  init_layers(*pair.speaker, gen);
  init_layers(*pair.listener, gen);
  return pair;
}

}  // namespace

void check_agents(const AgentOptions& opt, const SignalingGame& game) {
  const auto shape = game.object_shape();
  const ReceiverSpec task = game.receiver_spec();
  if (opt.arch == AgentArch::Linear) {
    if (is_image(shape))
      throw UserError("agents.arch=linear reads vectors, but env '" + game.name() +
                      "' has image objects; use agents.arch=gru (CNN encoder)");
    if (opt.score != ListenerScore::Dot)
      throw UserError("agents.score=inv_mse needs agents.arch=gru (the linear listener scores by dot product)");
    if (opt.shared_encoder)
      throw UserError("agents.shared_encoder=true needs agents.arch=gru (the linear agents have no object encoder)");
    return;
  }
  if (opt.shared_encoder) {
    if (task.kind != ReceiverSpec::Kind::Discriminate)
      throw UserError("agents.shared_encoder=true needs a discrimination game (the listener encodes candidates); env '" +
                      game.name() + "' asks for reconstruction");
    if (candidate_shape(game) != shape)
      throw UserError("agents.shared_encoder=true needs candidates shaped like the sender's object in env '" +
                      game.name() + "'");
  }
  if (task.kind == ReceiverSpec::Kind::Reconstruct && opt.score != ListenerScore::Dot)
    throw UserError("agents.score=inv_mse needs a discrimination game; env '" + game.name() +
                    "' asks for reconstruction");
}

AgentPair make_agents(const AgentOptions& opt, const SignalingGame& game, at::Generator& gen) {
  check_agents(opt, game);
  if (opt.arch == AgentArch::Gru) return make_gru_agents(opt, game, gen);
  AgentPair pair;
  pair.speaker = Speaker(game.sender_input_dim(), opt.hidden, opt.channel, opt.activation).ptr();
  pair.listener = Listener(opt.channel, opt.hidden, game.receiver_spec(), opt.activation).ptr();
  init_linear_layers(*pair.speaker, gen);
  init_linear_layers(*pair.listener, gen);
  return pair;
}

PopulationPair make_population(const AgentOptions& opt, const SignalingGame& game, int64_t members,
                               at::Generator& gen) {
  check_agents(opt, game);
  PopulationPair pop;
  if (opt.arch == AgentArch::Linear) {
    pop.speaker = PopSpeaker(members, game.sender_input_dim(), opt.hidden, opt.channel, opt.activation).ptr();
    pop.listener = PopListener(members, opt.channel, opt.hidden, game.receiver_spec(), opt.activation).ptr();
    init_stacked_layers(*pop.speaker, gen);
    init_stacked_layers(*pop.listener, gen);
    return pop;
  }
  std::vector<std::shared_ptr<SpeakerAgentImpl>> speakers;
  std::vector<std::shared_ptr<ListenerAgentImpl>> listeners;
  for (int64_t p = 0; p < members; ++p) {
    AgentPair pair = make_gru_agents(opt, game, gen);
    speakers.push_back(pair.speaker);
    listeners.push_back(pair.listener);
  }
  pop.speaker = std::make_shared<MemberSpeakersImpl>(std::move(speakers));
  pop.listener = std::make_shared<MemberListenersImpl>(std::move(listeners));
  return pop;
}

}  // namespace emcomm
