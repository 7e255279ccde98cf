// Self-play on a SignalingGame: speaker and listener optimise the game's loss together,
// through soft Gumbel-softmax, straight-through Gumbel-softmax, or REINFORCE (speaker) with
// a running-mean baseline and an entropy bonus. Separate Adam optimisers for the two agents.
// Evaluation: greedy messages on each split's evaluation set -> sp_acc/<split>; the logged
// rows carry CIC probe tables at the evaluations metrics.cic_every selects (cic_probe.h).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include "agents/channel.h"
#include "agents/factory.h"
#include "agents/modules.h"
#include "algorithms/algorithm.h"
#include "algorithms/cic_probe.h"

namespace emcomm {
namespace state {
struct SignalPairState;
}

// agents.* options of speaker/listener games, shared by every algorithm that trains them.
OptionSet signaling_agent_options();

// What every trainer of a speaker and a listener reads: the agents.* options, the self-play
// batch and learning rate, the evaluation sizes and the CIC probe.
struct SignalTrainOptions : AgentOptions {
  Relaxation relaxation = Relaxation::Gumbel;
  double temperature = 1.0, entropy_coef = 0.01, lr = 3e-3;
  int64_t batch_size = 100, eval_size = 10000, log_rows = 100;
  CicProbeOptions cic;
  void read(const Config& cfg);
};

class SelfPlay : public Algorithm {
 public:
  struct Options : SignalTrainOptions {
    static Options from(const Config& cfg) {
      Options o;
      o.read(cfg);
      return o;
    }
  };
  static OptionSet option_set();

  SelfPlay(const Options& opt, std::shared_ptr<SignalingGame> game, Rng rng);
  Metrics train_step(int64_t step) override;
  Metrics evaluate(int64_t step, RunWriter& log) override;
  void save(const std::string& path) override;
  std::string headline() const override { return "sp_acc/val"; }
  bool resumable() const override { return true; }
  void save_state(torch::serialize::OutputArchive& ar) override;
  void load_state(torch::serialize::InputArchive& ar) override;
  std::string nonfinite_parameter() override;

  // Greedy play on a batch (no gradients): the message symbols and the listener's output.
  std::pair<torch::Tensor, torch::Tensor> play_greedy(const SignalBatch& batch);
  std::shared_ptr<SpeakerAgentImpl>& speaker() { return speaker_; }
  std::shared_ptr<ListenerAgentImpl>& listener() { return listener_; }
  // The CIC probe of the first `rows` states of `set`: the speaker's policy, the listener's
  // softmax under each imposed message. Its samples depend only on the run seed, the split
  // and the step, so probing never shifts the training's random streams.
  CicTables probe_cic(const SignalBatch& set, int64_t rows, const std::string& split, int64_t step);

 private:
  state::SignalPairState pair_state();  // the checkpointed state shared with selfplay/s2p
  Options opt_;
  std::shared_ptr<SignalingGame> game_;
  Rng data_rng_, cic_rng_;
  at::Generator gen_;
  std::shared_ptr<SpeakerAgentImpl> speaker_;
  std::shared_ptr<ListenerAgentImpl> listener_;
  std::unique_ptr<torch::optim::Adam> speaker_opt_, listener_opt_;
  double baseline_ = 0.0;
  int64_t baseline_n_ = 0;
  std::vector<SignalBatch> eval_sets_;  // one per split, fixed for the run
};

}  // namespace emcomm
