#include "algorithms/selfplay.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/errors.h"
#include "algorithms/signal_log.h"
#include "algorithms/state_archive.h"
#include "metrics/basic.h"

namespace emcomm {

OptionSet signaling_agent_options() {
  OptionSet s;
  s.add_int("agents.vocab_size", 60, "symbols in the vocabulary (counting EOS when agents.eos=true)", 1, 100000)
      .add_int("agents.max_len", 6, "symbols per message (counting EOS when agents.eos=true)", 1, 1000)
      .add_bool("agents.eos", false, "symbol 0 ends the message (variable length); otherwise fixed length")
      .add_int("agents.hidden", 500, "hidden units of speaker and listener", 1, 100000)
      .add_choice("agents.activation", "none", {"none", "relu", "tanh"},
                  "hidden activation (the reference architecture is linear: none)")
      .add_choice("agents.relaxation", "gumbel", {"gumbel", "st_gumbel", "reinforce"},
                  "how the speaker's discrete message is trained")
      .add_float("agents.temperature", 1.0, "Gumbel-softmax temperature tau", 1e-3, 1e3)
      .add_float("agents.entropy_coef", 0.01, "REINFORCE entropy bonus coefficient", 0.0, 1e3)
      .add_choice("agents.arch", "linear", {"linear", "gru"},
                  "linear: the reference Lewis agents (vectors); gru: GRU speaker and listener with an object "
                  "encoder (Linear for vectors, CNN for images)")
      .add_int("agents.embed", 16, "gru: symbol embedding size", 1, 100000)
      .add_choice("agents.score", "dot", {"dot", "inv_mse"},
                  "discrimination: candidate score, dot product or 1 / mean squared distance (gru only)")
      .add_bool("agents.shared_encoder", false,
                "gru: one object encoder, trained by the listener and read detached by the speaker")
      .add_int("agents.cnn_channels", 16, "gru on images: channels of the first conv layer", 1, 4096);
  return s;
}

OptionSet SelfPlay::option_set() {
  OptionSet s = signaling_agent_options();
  s.add_int("train.batch_size", 100, "episodes per self-play step", 1, 1 << 24)
      .add_float("train.lr", 3e-3, "Adam learning rate (speaker and listener)", 1e-8, 10.0)
      .merge(cic_probe_options());
  return s;
}

void SignalTrainOptions::read(const Config& cfg) {
  SignalTrainOptions& o = *this;
  o.channel.vocab_size = cfg.get_int("agents.vocab_size");
  o.channel.max_len = cfg.get_int("agents.max_len");
  o.channel.eos = cfg.get_bool("agents.eos");
  if (o.channel.eos && o.channel.vocab_size < 2)
    throw UserError("agents.vocab_size=" + std::to_string(o.channel.vocab_size) +
                    " with agents.eos=true leaves no symbol besides EOS; use at least 2");
  o.hidden = cfg.get_int("agents.hidden");
  // The speaker's output layer alone has hidden x max_len x vocab_size weights.
  const double weights = double(o.hidden) * double(o.channel.max_len) * double(o.channel.vocab_size);
  if (weights > 5e8)
    throw UserError("agents.hidden x agents.max_len x agents.vocab_size = " + std::to_string(int64_t(weights)) +
                    " speaker weights, more than the limit of 5e8; lower one of them");
  o.activation = parse_activation(cfg.get_string("agents.activation"));
  o.arch = parse_arch(cfg.get_string("agents.arch"));
  o.embed = cfg.get_int("agents.embed");
  o.score = parse_score(cfg.get_string("agents.score"));
  o.shared_encoder = cfg.get_bool("agents.shared_encoder");
  o.cnn_channels = cfg.get_int("agents.cnn_channels");
  o.relaxation = parse_relaxation(cfg.get_string("agents.relaxation"));
  o.temperature = cfg.get_float("agents.temperature");
  o.entropy_coef = cfg.get_float("agents.entropy_coef");
  o.lr = cfg.get_float("train.lr");
  o.batch_size = cfg.get_int("train.batch_size");
  o.eval_size = cfg.get_int("eval.size");
  o.log_rows = cfg.get_int("eval.log_rows");
  o.cic = CicProbeOptions::from(cfg);
  if (o.arch == AgentArch::Gru) {
    // The CIC probe reads a per-position policy; a GRU speaker's depends on its earlier symbols.
    if (o.cic.every > 0)
      throw UserError("metrics.cic_every=" + std::to_string(o.cic.every) +
                      " needs a non-autoregressive speaker; with agents.arch=gru use metrics.cic_every=-1");
    o.cic.every = -1;
  }
}

SelfPlay::SelfPlay(const Options& opt, std::shared_ptr<SignalingGame> game, Rng rng)
    : opt_(opt), game_(std::move(game)), data_rng_(rng.derive("data")), cic_rng_(rng.derive("cic")),
      gen_(at::make_generator<at::CPUGeneratorImpl>(rng.derive("channel").seed())) {
  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("init").seed());
  AgentPair agents = make_agents(opt, *game_, init_gen);
  speaker_ = agents.speaker;
  listener_ = agents.listener;
  speaker_opt_ = std::make_unique<torch::optim::Adam>(speaker_->parameters(), torch::optim::AdamOptions(opt.lr));
  listener_opt_ = std::make_unique<torch::optim::Adam>(listener_->parameters(), torch::optim::AdamOptions(opt.lr));
  Rng eval_rng = rng.derive("eval");
  for (Split s : kAllSplits) eval_sets_.push_back(game_->eval_set(s, opt.eval_size, eval_rng));
}

Metrics SelfPlay::train_step(int64_t) {
  speaker_->train();
  listener_->train();
  SignalBatch batch = game_->sample(Split::Train, opt_.batch_size, data_rng_);
  ChannelOutput msg = speaker_->speak(batch.sender_input, opt_.relaxation, opt_.temperature, gen_);
  auto out = listener_->forward(msg.onehots, batch.receiver_input);
  auto per_episode = game_->loss(out, batch);
  auto loss = per_episode.mean();
  if (opt_.relaxation == Relaxation::Reinforce) {
    // The listener learns from its loss; the speaker from reward = -loss, minus a baseline.
    auto reward = -per_episode.detach();
    double mean_reward = reward.mean().item<double>();
    auto advantage = reward - baseline_;
    loss = loss - (advantage * msg.log_prob).mean() - opt_.entropy_coef * msg.entropy.mean();
    baseline_ += (mean_reward - baseline_) / double(++baseline_n_);
  }
  speaker_opt_->zero_grad();
  listener_opt_->zero_grad();
  loss.backward();
  speaker_opt_->step();
  listener_opt_->step();
  return {{"loss", per_episode.mean().item<double>()}};
}

std::pair<torch::Tensor, torch::Tensor> SelfPlay::play_greedy(const SignalBatch& batch) {
  torch::NoGradGuard no_grad;
  speaker_->eval();
  listener_->eval();
  ChannelOutput msg = speaker_->speak(batch.sender_input, Relaxation::Greedy, 1.0, gen_);
  return {msg.symbols, listener_->forward(msg.onehots, batch.receiver_input)};
}

CicTables SelfPlay::probe_cic(const SignalBatch& set, int64_t rows, const std::string& split, int64_t step) {
  torch::NoGradGuard no_grad;
  speaker_->eval();
  listener_->eval();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(cic_rng_.derive(split + "@" + std::to_string(step)).seed());
  return probe_signal_pair(
      speaker_->policy_logits(set.sender_input.narrow(0, 0, rows)),
      [&](const torch::Tensor& onehots, const torch::Tensor& c) { return listener_->forward(onehots, c); }, set, rows,
      opt_.channel, opt_.cic.max_messages, gen);
}

Metrics SelfPlay::evaluate(int64_t step, RunWriter& log) {
  Metrics m;
  for (Split s : kAllSplits) {
    const SignalBatch& set = eval_sets_[static_cast<int>(s)];
    auto [symbols, out] = play_greedy(set);
    auto correct = game_->correct(out, set);
    const std::string split = split_name(s);
    m["sp_acc/" + split] = correct.mean().item<double>();
    m["msg_length/" + split] = metrics::mean_length(to_int32(message_lengths(symbols, opt_.channel)));
    m["symbols_used/" + split] = double(metrics::symbols_used(to_int32(symbols_for_log(symbols, opt_.channel))));
    const int64_t rows = std::min<int64_t>(opt_.log_rows, set.size());
    if (rows == 0) continue;
    InteractionBatch b = signal_rows(*game_, set, symbols, out, correct, opt_.channel, step, rows, 0, 1);
    if (opt_.cic.due(step)) b.cic = cic_block(probe_cic(set, opt_.cic.probed_rows(rows), split, step), rows);
    log.append_interactions(split, b);
  }
  return m;
}

void SelfPlay::save(const std::string& path) { save_pair(*speaker_, *listener_, path); }

state::SignalPairState SelfPlay::pair_state() {
  return {*speaker_, *listener_, *speaker_opt_, *listener_opt_, data_rng_, gen_, baseline_, baseline_n_};
}
void SelfPlay::save_state(state::Out& ar) { pair_state().save(ar); }
void SelfPlay::load_state(state::In& ar) { pair_state().load(ar); }
std::string SelfPlay::nonfinite_parameter() { return pair_state().nonfinite(); }

static const bool kRegistered = AlgorithmRegistry::add(
    {"selfplay", "self-play: speaker and listener trained together on the game's loss",
     SelfPlay::option_set(),
     [](const Config& cfg, std::shared_ptr<Env> env, Rng rng) -> std::unique_ptr<Algorithm> {
       auto game = std::dynamic_pointer_cast<SignalingGame>(env);
       if (!game)
         throw UserError("train.algorithm=selfplay needs a signaling game; env '" + env->name() + "' is not one");
       return std::make_unique<SelfPlay>(SelfPlay::Options::from(cfg), game, rng);
     },
     Accepts{/*signaling=*/true, /*markov=*/false, /*images=*/true, /*needs_human_language=*/false,
             "a signaling game (one-shot: a speaker's input, a listener's output the game scores)"},
     {"--train.steps=4", "--train.eval_every=2", "--train.batch_size=16", "--eval.size=32", "--eval.log_rows=16",
      "--agents.hidden=16"}});

}  // namespace emcomm
