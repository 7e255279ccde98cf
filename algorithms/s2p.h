// Supervised self-play (S2P, REFERENCE.md section S2P schedules) with populations.
//
// Two kinds of update on a population of P speaker-listener pairs (P = 1 by default):
// * self-play: a batch of train objects; speakers talk (soft/ST Gumbel or REINFORCE), each
//   listener hears its partner (population.pairing: independent = its own speaker, uniform =
//   a random permutation of the speakers at every step) and both learn from the game loss;
//   a frozen speaker's messages are detached and it is not updated;
// * supervised: one full-batch step on the seed-train set: speakers imitate the human message
//   (cross-entropy per position), listeners learn to act on human messages.
// s2p.schedule decides which update each step makes (S2PSchedule, tested step by step).
// The seed set is the first s2p.seed_size objects of the train split (product order for the
// paper split, the seeded shuffle for the random split); its last s2p.seed_val_fraction is
// seed-validation, the only data used to select the returned model (never val or test).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

#include "agents/agent.h"
#include "agents/channel.h"
#include "agents/population.h"
#include "algorithms/cic_probe.h"
#include "algorithms/selfplay.h"
#include "algorithms/algorithm.h"

namespace emcomm {
namespace state {
struct SignalPairState;
}

enum class Schedule { SelfPlay, Supervised, Sup2Sp, Sp2Sup, Sched, SchedFrz, SchedRandFrz, Rand };
Schedule parse_schedule(const std::string& name);

// What one training step does.
struct StepPlan {
  bool selfplay = false;        // a self-play update
  bool speaker_frozen = false;  // in that self-play update, the speaker is not trained
  bool sup_speaker = false;     // a supervised speaker update
  bool sup_listener = false;    // a supervised listener update
  bool operator==(const StepPlan& o) const {
    return selfplay == o.selfplay && speaker_frozen == o.speaker_frozen && sup_speaker == o.sup_speaker &&
           sup_listener == o.sup_listener;
  }
};

struct ScheduleOptions {
  Schedule schedule = Schedule::Sched;
  int64_t joint_pretrain = 0;       // supervised speaker-and-listener steps first (the reference Lewis game)
  int64_t listener_pretrain = 500;  // then supervised listener steps before self-play
  int64_t speaker_pretrain = 500;   // then supervised speaker steps
  int64_t sp_steps = 20;            // l: self-play steps per round
  int64_t sup_steps = 5;            // m: supervised steps per round
  int64_t rounds = 0;               // 0: rounds until train.steps; else stop after this many
  bool split_round_supervision = false;  // s2p.round_supervision=split: m listener then m speaker steps
  double freeze_prob = 0.5;         // sched_rand_frz: P(speaker frozen in a self-play step)
  double sup_prob = 0.75;           // rand: P(a step is supervised)
  int64_t total_steps = 10000;      // train.steps
};

// The step pattern of every schedule: a timeline of phases, walked one step at a time.
//   selfplay: SP always.            supervised: SUP (speaker and listener) always.
//   sup2sp: pretraining, then SP.   sp2sup: SP for total - pretraining steps, then pretraining.
//   sched: pretraining, then rounds of sp_steps SP and sup_steps SUP (with
//          split_round_supervision: sup_steps SUP-listener, then sup_steps SUP-speaker steps, as
//          the reference image game's rounds).
//   sched_frz: as sched, but after pretraining the speaker is frozen: SP steps train the
//              listener only and SUP steps are listener-only.
//   sched_rand_frz: as sched, each SP step freezes the speaker with probability freeze_prob.
//   rand: no pretraining; each step is SUP with probability sup_prob, otherwise SP.
// Pretraining = joint_pretrain SUP (speaker and listener) steps, then listener_pretrain
// SUP-listener steps, then speaker_pretrain SUP-speaker steps.
// A phase may end before its length (end_phase(): the reference's early stop once accuracy
// passes s2p.phase_stop), and the whole schedule may end (stop()). plan() must be called for
// steps 1, 2, 3, ... in order (the random schedules draw from their own generator).
enum class PhaseKind { None, Joint, ListenerPre, SpeakerPre, SelfPlay, Supervised, RoundListener, RoundSpeaker, Rand };
struct Phase {
  PhaseKind kind = PhaseKind::None;  // None: past the end of the timeline
  int64_t length = -1;               // steps; -1: until train.steps
  int64_t round = -1;                // sched family: the round the phase belongs to, else -1
};

class S2PSchedule {
 public:
  S2PSchedule(const ScheduleOptions& opt, Rng rng);
  StepPlan plan(int64_t step);
  // The last step of the schedule when no phase ends early: total_steps, or the end of the
  // last round.
  int64_t last_step() const;
  Rng& rng() { return rng_; }  // the random schedules' generator (checkpoints)

  const Phase& last_phase() const { return last_; }  // the phase of the last planned step
  int64_t last_pos() const { return last_pos_; }      // that step's index within its phase (0 = first)
  Phase next_phase() const { return phase(phase_); }  // the phase of the next step
  void end_phase();                                   // the next step starts the next phase
  void stop() { stopped_ = true; }                    // no further step
  bool done() const { return stopped_ || next_phase().kind == PhaseKind::None; }
  // The position in the timeline (checkpoints): phase index, step within it, stopped.
  std::vector<int64_t> cursor() const { return {phase_, pos_, stopped_ ? 1 : 0}; }
  void set_cursor(const std::vector<int64_t>& c);
  // The cursor after `steps` steps without early ends (checkpoints written before the cursor
  // was saved).
  void seek(int64_t steps);

 private:
  Phase phase(int64_t index) const;
  void advance();
  int64_t phases_per_round() const;

  ScheduleOptions opt_;
  Rng rng_;
  int64_t pretrain_;
  std::vector<Phase> head_;  // the phases before the rounds (or the whole bounded timeline)
  int64_t phase_ = 0, pos_ = 0;
  bool stopped_ = false;
  Phase last_;
  int64_t last_pos_ = 0;
};

// Detached copies of the parameters of `modules`, in order (model and pretraining selection),
// and copying such a list back into the same modules.
std::vector<torch::Tensor> copy_parameters(std::initializer_list<torch::nn::Module*> modules);
void restore_parameters(std::initializer_list<torch::nn::Module*> modules, const std::vector<torch::Tensor>& saved);

class S2P : public Algorithm {
 public:
  struct Options : SignalTrainOptions {
    ScheduleOptions schedule;
    int64_t seed_size = 1000;
    double seed_val_fraction = 0.1;
    bool select_on_seed_val = true;
    bool select_listener_only = false;  // s2p.select=seed_val_listener: listener_human_acc/seed_val alone
    int64_t sup_batch = 0;              // s2p.sup_batch: seed-train objects per supervised step (0: all)
    bool pretrain_select = false;       // s2p.pretrain_select=best: keep the best pretrained listener and speaker
    int64_t pretrain_test_every = 10;   // s2p.pretrain_test_every
    bool per_update_optimizers = false; // s2p.optimizers=per_update: a third Adam for self-play
    int64_t population = 1;
    bool uniform_pairing = false;
    int64_t imitate_every = 0, imitate_steps = 10;
    bool speaker_loss_sum = true;      // s2p.speaker_loss: sum (reference) or mean over positions
    int64_t crossplay_size = 1000;     // eval.crossplay_size: val eval objects cross-play is computed on
    int64_t crossplay_partners = 9;    // eval.crossplay_partners: other speakers per listener
    double phase_stop = 0;             // s2p.phase_stop: end a phase once its accuracy passes this (0: never)
    bool selfplay_after_seed = false;  // s2p.selfplay_data=after_seed: self-play never sees a seed object
    bool probes_first = false;         // s2p.probes=first: eval sets are the first eval.size objects
    bool eval_each_round = false;      // s2p.eval_each_round: also evaluate at the end of every round
    int64_t threads = 1;               // run.threads: a linear population's members split over them
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();

  S2P(const Options& opt, std::shared_ptr<SignalingGame> game, Rng rng);
  Metrics train_step(int64_t step) override;
  Metrics evaluate(int64_t step, RunWriter& log) override;
  void save(const std::string& path) override;
  std::string headline() const override { return "sp_acc/val"; }
  bool finished(int64_t step) const override { return step >= schedule_last_ || schedule_.done(); }
  bool wants_evaluation(int64_t step) const override { return opt_.eval_each_round && round_ended_; }
  Metrics final_metrics(const Metrics& last_eval) override;
  // With s2p.select=seed_val: the selected model's evaluation again, as interaction rows of the
  // splits selected_train, selected_val, selected_test and scalars selected/<figure>, all at
  // the selected step (docs/s2p.md).
  void log_final(int64_t last_step, RunWriter& log) override;
  std::vector<std::string> final_log_prefixes() const override { return {"selected/", "selected_"}; }
  bool resumable() const override { return true; }
  void save_state(torch::serialize::OutputArchive& ar) override;
  void load_state(torch::serialize::InputArchive& ar) override;
  std::string nonfinite_parameter() override;

  // Exposed for tests.
  std::shared_ptr<SpeakerPopulationImpl>& speaker() { return speaker_; }
  std::shared_ptr<ListenerPopulationImpl>& listener() { return listener_; }
  torch::optim::Adam& speaker_optimizer() { return *speaker_opt_; }
  const StepPlan& last_plan() const { return last_plan_; }
  const S2PSchedule& schedule() const { return schedule_; }
  const SignalBatch& eval_set(Split s) const { return eval_sets_[static_cast<int>(s)]; }
  const SignalBatch& seed_train() const { return seed_train_; }
  const SignalBatch& seed_val() const { return seed_val_; }
  // The batch of the last supervised listener step (fresh distractors and target slots each step).
  const SignalBatch& last_sup_listener_batch() const { return last_sup_listener_batch_; }
  // Human messages in channel form (EOS-shifted when agents.eos: word w -> w + 1, and the -1
  // padding of variable-length messages -> 0 = EOS): [B, max_len] int64.
  torch::Tensor human_channel_messages(const SignalBatch& batch) const;
  // Episodes played at evaluations so far (one per member and object: self-play, cross-play and
  // listener-on-human-message episodes each count one): evaluation work, for tests.
  int64_t eval_episodes() const { return eval_episodes_; }
  // How many threads the last self-play step ran its members on (1: the batched step), for tests.
  int64_t selfplay_parts() const { return selfplay_parts_; }
  // The cross-play sample: eval.crossplay_size objects spread evenly over the val eval set.
  SignalBatch crossplay_sample() const;

 private:
  state::SignalPairState pair_state();  // the checkpointed state shared with selfplay/s2p
  double selfplay_update(bool speaker_frozen);
  // The self-play step of independent linear pairs with Gumbel messages, its members split over
  // opt_.threads threads (each slice's graph on its own thread, one BLAS thread each); the
  // same arithmetic per member as selfplay_update, so the same parameters up to float rounding.
  bool can_split_selfplay(bool speaker_frozen) const;
  // run.threads > 1 with a population: the run's threads go to members (self-play slices, Adam).
  bool member_threads() const { return opt_.threads > 1 && opt_.population > 1; }
  double selfplay_update_split(const SignalBatch& batch);
  // Linear populations with member_threads(): the updates and evaluation run by member slices,
  // and OpenBLAS stays at one thread inside train_step/evaluate/log_final (its spinning pool
  // would compete with them); other populations keep OpenBLAS's run.threads.
  bool split_members() const;
  // How many slices member_slices() makes: min(run.threads, P).
  int64_t slice_count() const { return std::min<int64_t>(opt_.threads, opt_.population); }
  // The members split into slice_count() consecutive slices (PopSpeakerImpl::slice), linear
  // populations only.
  using MemberSlices = std::vector<std::pair<std::shared_ptr<PopSpeakerImpl>, std::shared_ptr<PopListenerImpl>>>;
  MemberSlices member_slices() const;
  // One update's forward and backward by member slices, each on a thread of its own: defines and
  // zeroes the gradients of `trained` (and `also`), then loss(slice speaker, slice listener, first
  // member) back-propagates its slice's loss and returns it per member; the slices' losses,
  // detached and in member order. The caller steps the optimisers.
  using SliceLoss = std::function<torch::Tensor(PopSpeakerImpl&, PopListenerImpl&, int64_t)>;
  torch::Tensor train_by_slices(torch::nn::Module& trained, torch::nn::Module* also, const SliceLoss& loss);
  double supervised_speaker_update(const SignalBatch& batch, const torch::Tensor& target_msgs,
                                   const torch::Tensor& member_mask);
  double supervised_listener_update();
  // s2p.sup_batch > 0: that many distinct seed-train objects, drawn afresh from the trainer's
  // generator, and their human messages (both supervised updates draw their batch this way).
  std::pair<SignalBatch, torch::Tensor> draw_sup_batch();
  // Per member [P]: the supervised speaker loss of `target_msgs` ([B, L] shared or [P, B, L]).
  torch::Tensor speaker_sup_loss(SpeakerPopulationImpl& spk, int64_t P, const SignalBatch& batch,
                                 const torch::Tensor& target_msgs);
  // s2p.pretrain_select=best: test the pretraining phase's agent on seed-validation every
  // s2p.pretrain_test_every steps of the phase, and after the last pretraining step put the
  // best listener and speaker back and start fresh optimisers (ibr_game/train.py).
  void pretrain_select(Metrics& m);
  void reset_optimizers();
  // s2p.phase_stop: after the step's update, the accuracies that end its phase (and the run).
  void check_phase_stop(Metrics& m);
  void imitation_update();
  int64_t best_member_on_seed_val();
  // Greedy self-play of every member with its own partner over `set`, in chunks of objects
  // (never more than one chunk's [P, chunk, ...] tensors at once). The first `keep` rows'
  // symbols [P, keep, L], listener outputs [P, keep, ...] and correct [P, keep] are kept for
  // logging; `human` adds the listener-on-human-message and speaker-match figures.
  struct SetPlay {
    torch::Tensor member_acc;  // [P] float64
    double listener_human = 0, speaker_match = 0, token_acc = 0;
    torch::Tensor symbols, out, correct;
  };
  // Members on threads of their own when member_threads(); the same figures either way.
  SetPlay play_set(const SignalBatch& set, int64_t keep, bool human);
  struct PlayTotals;
  PlayTotals play_members(SpeakerPopulationImpl& spk, ListenerPopulationImpl& lis, int64_t count,
                          const SignalBatch& set, int64_t keep, bool human);
  Metrics evaluate_set(const SignalBatch& set, const std::string& split, int64_t keep, SetPlay* play);
  // The [P, P] cross-play accuracies (speaker row, listener column) on `sample`: the diagonal
  // and, for each of `shifts` (in 1..P-1), listener l with speaker (l + shift) % P; NaN elsewhere.
  std::vector<float> crossplay_matrix(const SignalBatch& sample, const std::vector<int64_t>& shifts);
  // The shifts evaluated at `step`: every one when P - 1 <= eval.crossplay_partners, else that
  // many distinct ones drawn from a generator of (run seed, step) alone.
  std::vector<int64_t> crossplay_shifts(int64_t step) const;
  void log_rows_and_cic(const SignalBatch& set, const std::string& split, const SetPlay& play, int64_t rows,
                        int64_t step, RunWriter& log);
  SignalBatch repeat_for_members(const SignalBatch& b, int64_t members = 0) const;  // 0: the population
  // Every listener p on its message symbols[p] ([P, B, L] int64) -> [P, B, ...]: gathered first
  // layer for linear listeners on fixed-length messages (PopListener::forward_symbols), one-hots
  // otherwise.
  torch::Tensor listen(const torch::Tensor& symbols, const torch::Tensor& candidates) {
    return listen(*listener_, symbols, candidates);
  }
  torch::Tensor listen(ListenerPopulationImpl& lis, const torch::Tensor& symbols, const torch::Tensor& candidates);
  static torch::Tensor flat(const torch::Tensor& t);  // [P, B, ...] -> [P*B, ...]

  Options opt_;
  std::shared_ptr<SignalingGame> game_;
  S2PSchedule schedule_;
  int64_t schedule_last_;
  Rng data_rng_, pair_rng_, cic_rng_;
  at::Generator gen_;
  std::shared_ptr<SpeakerPopulationImpl> speaker_;
  std::shared_ptr<ListenerPopulationImpl> listener_;
  std::unique_ptr<torch::optim::Adam> speaker_opt_, listener_opt_;
  std::unique_ptr<torch::optim::Adam> selfplay_opt_;  // s2p.optimizers=per_update only
  double baseline_ = 0.0;
  int64_t baseline_n_ = 0;
  int64_t human_len_ = 0;  // positions of a human message in channel form (incl. EOS)
  SignalBatch seed_train_, seed_val_, last_sup_listener_batch_;
  torch::Tensor seed_train_human_, seed_val_human_;
  std::vector<SignalBatch> eval_sets_;
  StepPlan last_plan_;
  int64_t imitate_left_ = 0, imitate_best_ = 0;
  int64_t eval_episodes_ = 0;
  int64_t selfplay_parts_ = 1;
  Rng stop_rng_{0};               // s2p.phase_stop: the val batches of the stop checks
  bool cursor_synced_ = true;     // false after loading a checkpoint without the schedule cursor
  bool round_ended_ = false;      // the last step ended a round (s2p.eval_each_round)
  double after_sp_speaker_ = 0, after_sp_listener_ = 0;  // seed-train accuracies after a round's self-play
  Rng crossplay_rng_{0};
  // Model selection on seed-validation.
  double best_score_ = -1.0;
  Metrics best_metrics_;
  std::vector<torch::Tensor> best_params_;
  // s2p.pretrain_select=best: the best pretrained listener (seed-val accuracy on human messages,
  // higher is better) and speaker (seed-val supervised loss, lower is better) so far.
  double pre_listener_score_ = -1.0, pre_speaker_loss_ = INFINITY;
  std::vector<torch::Tensor> pre_listener_params_, pre_speaker_params_;
};

}  // namespace emcomm
