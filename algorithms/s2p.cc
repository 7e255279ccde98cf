#include "algorithms/s2p.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <tuple>

#include "agents/fused_adam.h"
#include "agents/population.h"
#include "algorithms/runtime.h"
#include "algorithms/selfplay.h"
#include "algorithms/signal_log.h"
#include "algorithms/state_archive.h"
#include "core/errors.h"

namespace emcomm {
namespace {

const std::vector<std::string> kScheduleNames = {"selfplay", "supervised", "sup2sp", "sp2sup",
                                                 "sched",    "sched_frz",  "sched_rand_frz", "rand"};

double uniform01(Rng& rng) { return double(rng.next() >> 11) * 0x1.0p-53; }

bool is_sched(Schedule s) {
  return s == Schedule::Sched || s == Schedule::SchedFrz || s == Schedule::SchedRandFrz;
}

bool has_pretraining(Schedule s) { return is_sched(s) || s == Schedule::Sup2Sp || s == Schedule::Sp2Sup; }


}  // namespace

Schedule parse_schedule(const std::string& name) {
  for (size_t i = 0; i < kScheduleNames.size(); ++i)
    if (kScheduleNames[i] == name) return static_cast<Schedule>(i);
  std::string all;
  for (const auto& n : kScheduleNames) all += (all.empty() ? "" : "|") + n;
  throw UserError("s2p.schedule '" + name + "': expected one of " + all);
}

S2PSchedule::S2PSchedule(const ScheduleOptions& opt, Rng rng)
    : opt_(opt), rng_(rng), pretrain_(opt.joint_pretrain + opt.listener_pretrain + opt.speaker_pretrain) {
  if (has_pretraining(opt.schedule) && opt.total_steps <= pretrain_)
    throw UserError("train.steps=" + std::to_string(opt.total_steps) + " leaves no step after the " +
                    std::to_string(pretrain_) + " supervised pretraining steps (s2p.joint_pretrain + " +
                    "s2p.listener_pretrain + s2p.speaker_pretrain) of schedule " + kScheduleNames[int(opt.schedule)]);
  std::vector<Phase> pre;
  if (opt.joint_pretrain > 0) pre.push_back({PhaseKind::Joint, opt.joint_pretrain});
  if (opt.listener_pretrain > 0) pre.push_back({PhaseKind::ListenerPre, opt.listener_pretrain});
  if (opt.speaker_pretrain > 0) pre.push_back({PhaseKind::SpeakerPre, opt.speaker_pretrain});
  switch (opt.schedule) {
    case Schedule::SelfPlay: head_ = {{PhaseKind::SelfPlay, -1}}; break;
    case Schedule::Supervised: head_ = {{PhaseKind::Joint, -1}}; break;
    case Schedule::Rand: head_ = {{PhaseKind::Rand, -1}}; break;
    case Schedule::Sp2Sup:
      head_ = {{PhaseKind::SelfPlay, opt.total_steps - pretrain_}};
      head_.insert(head_.end(), pre.begin(), pre.end());
      break;
    case Schedule::Sup2Sp:
      head_ = pre;
      head_.push_back({PhaseKind::SelfPlay, -1});
      break;
    default: head_ = pre; break;  // the sched family: the rounds follow
  }
  last_ = head_.empty() ? phase(0) : head_.front();
}

// A round: self-play, then one supervised phase (speaker and listener together, or the
// listener alone for sched_frz), or with split_round_supervision a listener phase then a
// speaker phase (sched_frz: the listener's only).
int64_t S2PSchedule::phases_per_round() const {
  return opt_.split_round_supervision && opt_.schedule != Schedule::SchedFrz ? 3 : 2;
}

Phase S2PSchedule::phase(int64_t index) const {
  if (index < int64_t(head_.size())) return head_[size_t(index)];
  if (!is_sched(opt_.schedule)) return {};
  const int64_t k = index - int64_t(head_.size()), per = phases_per_round();
  const int64_t r = k / per;
  if (opt_.rounds > 0 && r >= opt_.rounds) return {};
  switch (k % per) {
    case 0: return {PhaseKind::SelfPlay, opt_.sp_steps, r};
    case 1:
      return {opt_.split_round_supervision ? PhaseKind::RoundListener : PhaseKind::Supervised, opt_.sup_steps, r};
    default: return {PhaseKind::RoundSpeaker, opt_.sup_steps, r};
  }
}

void S2PSchedule::advance() {
  const Phase p = phase(phase_);
  if (p.kind == PhaseKind::None) return;
  if (p.length >= 0 && ++pos_ >= p.length) end_phase();
}

void S2PSchedule::end_phase() {
  if (phase(phase_).kind == PhaseKind::None) return;
  ++phase_;
  pos_ = 0;
}

void S2PSchedule::set_cursor(const std::vector<int64_t>& c) {
  if (c.size() != 3 || c[0] < 0 || c[1] < 0)
    throw std::runtime_error("checkpoint entry 'schedule_cursor' is not a schedule position");
  phase_ = c[0];
  pos_ = c[1];
  stopped_ = c[2] != 0;
}

void S2PSchedule::seek(int64_t steps) {
  phase_ = pos_ = 0;
  stopped_ = false;
  for (int64_t i = 0; i < steps; ++i) advance();
}

int64_t S2PSchedule::last_step() const {
  if (is_sched(opt_.schedule) && opt_.rounds > 0)
    return std::min(opt_.total_steps, pretrain_ + opt_.rounds * (opt_.sp_steps + (phases_per_round() - 1) * opt_.sup_steps));
  return opt_.total_steps;
}

StepPlan S2PSchedule::plan(int64_t /*step*/) {
  StepPlan p;
  last_ = stopped_ ? Phase{} : phase(phase_);
  last_pos_ = pos_;
  const Schedule s = opt_.schedule;
  switch (last_.kind) {
    case PhaseKind::None: return p;  // past the end: no update
    case PhaseKind::Joint: p.sup_speaker = p.sup_listener = true; break;
    case PhaseKind::ListenerPre: p.sup_listener = true; break;
    case PhaseKind::SpeakerPre: p.sup_speaker = true; break;
    case PhaseKind::Rand:
      if (uniform01(rng_) < opt_.sup_prob) p.sup_speaker = p.sup_listener = true;
      else p.selfplay = true;
      break;
    case PhaseKind::SelfPlay:
      p.selfplay = true;
      if (last_.round >= 0 && s == Schedule::SchedFrz) p.speaker_frozen = true;
      if (last_.round >= 0 && s == Schedule::SchedRandFrz) p.speaker_frozen = uniform01(rng_) < opt_.freeze_prob;
      break;
    case PhaseKind::Supervised:
      p.sup_listener = true;
      p.sup_speaker = s != Schedule::SchedFrz;
      break;
    case PhaseKind::RoundListener: p.sup_listener = true; break;
    case PhaseKind::RoundSpeaker: p.sup_speaker = true; break;
  }
  advance();
  return p;
}

OptionSet S2P::option_set() {
  OptionSet s = signaling_agent_options();
  s.add_int("train.batch_size", 100, "episodes per self-play step", 1, 1 << 24)
      .add_float("train.lr", 3e-3, "Adam learning rate (speaker and listener)", 1e-8, 10.0)
      .add_choice("s2p.schedule", "sched", kScheduleNames, "which update each step makes (docs: S2P schedules)")
      .add_int("s2p.seed_size", 1000, "human-labelled objects: the first ones of the train split", 2, int64_t(1) << 40)
      .add_float("s2p.seed_val_fraction", 0.1, "share of the seed set held out for model selection", 0.0, 0.9)
      .add_int("s2p.joint_pretrain", 0,
               "supervised steps of speaker and listener together before the listener's (the reference Lewis game's "
               "init_supervised_iters)",
               0, int64_t(1) << 40)
      .add_int("s2p.listener_pretrain", 500, "supervised listener steps before self-play", 0, int64_t(1) << 40)
      .add_int("s2p.speaker_pretrain", 500, "supervised speaker steps after the listener's", 0, int64_t(1) << 40)
      .add_int("s2p.sp_steps", 20, "sched*: self-play steps per round (l)", 1, int64_t(1) << 40)
      .add_int("s2p.sup_steps", 5, "sched*: supervised steps per round (m)", 1, int64_t(1) << 40)
      .add_int("s2p.rounds", 0, "sched*: stop after this many rounds (0: rounds until train.steps)", 0, int64_t(1) << 40)
      .add_float("s2p.freeze_prob", 0.5, "sched_rand_frz: probability the speaker is frozen in a self-play step", 0.0, 1.0)
      .add_float("s2p.sup_prob", 0.75, "rand: probability a step is supervised", 0.0, 1.0)
      .add_float("s2p.phase_stop", 0.0,
                 "end a pretraining, self-play or supervised phase early once its accuracy passes this, and the run "
                 "once a round passes it (the reference's max_val_acc; 0: never)",
                 0.0, 1.0)
      .add_choice("s2p.selfplay_data", "train", {"train", "after_seed"},
                  "self-play objects: the whole train split, or only those after the seed set (the reference)")
      .add_choice("s2p.probes", "spread", {"spread", "first"},
                  "evaluation sets: eval.size objects spread over each split, or its first eval.size objects (the "
                  "reference's human probes; the train probe is then the start of the seed set)")
      .add_bool("s2p.eval_each_round", false, "sched*: also evaluate after the last step of every round")
      .add_choice("s2p.select", "seed_val", {"seed_val", "seed_val_listener", "last"},
                  "returned model: best sp_acc + listener_human_acc on seed-validation, best listener_human_acc "
                  "alone (the reference image game), or the last")
      .add_choice("s2p.round_supervision", "joint", {"joint", "split"},
                  "sched*: a round's supervised part: s2p.sup_steps steps of speaker and listener together (the "
                  "reference Lewis game), or s2p.sup_steps listener steps then s2p.sup_steps speaker steps (the "
                  "reference image game)")
      .add_int("s2p.sup_batch", 0,
               "objects per supervised step, drawn without replacement from the seed-train set at every step (0: "
               "the whole seed-train set; the reference image game: 1000)",
               0, int64_t(1) << 40)
      .add_choice("s2p.pretrain_select", "none", {"none", "best"},
                  "after pretraining, put back the best pretrained listener (seed-val accuracy on human messages) and "
                  "speaker (seed-val supervised loss) and start fresh optimisers (the reference image game)")
      .add_int("s2p.pretrain_test_every", 10, "s2p.pretrain_select=best: test every this many pretraining steps", 1,
               int64_t(1) << 40)
      .add_choice("s2p.optimizers", "per_agent", {"per_agent", "per_update"},
                  "Adam states: one per agent for every update, or a third one for self-play beside the supervised "
                  "speaker's and listener's (the reference image game)")
      .add_int("population.size", 1, "speaker-listener pairs (P)", 1, 1024)
      .add_choice("population.pairing", "independent", {"independent", "uniform"},
                  "self-play partners: each speaker with its own listener, or a random permutation each step")
      .add_int("population.imitate_every", 0, "every this many steps the other speakers imitate the best (0: never)",
               0, int64_t(1) << 40)
      .add_int("population.imitate_steps", 10, "imitation steps after each imitate_every", 1, int64_t(1) << 40)
      .add_choice("s2p.speaker_loss", "sum", {"sum", "mean"},
                  "supervised speaker loss per object: sum (the reference) or mean of the per-position cross-entropies")
      .add_int("eval.crossplay_size", 1000,
               "populations: val eval objects (spread evenly over the val eval set) the cross-play matrix is "
               "computed on (0: all of them)",
               0, int64_t(1) << 40)
      .add_int("eval.crossplay_partners", 9,
               "populations: other speakers each listener is evaluated with per evaluation (a seeded sample of "
               "the P - 1 when fewer; the rest of the [P, P] matrix is NaN)",
               1, 1 << 20)
      .merge(cic_probe_options());
  return s;
}

S2P::Options S2P::Options::from(const Config& cfg) {
  Options o;
  o.read(cfg);  // agents.*, train.batch_size/lr, eval.*, metrics.cic_*
  o.schedule.schedule = parse_schedule(cfg.get_string("s2p.schedule"));
  o.schedule.joint_pretrain = cfg.get_int("s2p.joint_pretrain");
  o.schedule.listener_pretrain = cfg.get_int("s2p.listener_pretrain");
  o.schedule.speaker_pretrain = cfg.get_int("s2p.speaker_pretrain");
  o.schedule.sp_steps = cfg.get_int("s2p.sp_steps");
  o.schedule.sup_steps = cfg.get_int("s2p.sup_steps");
  o.schedule.rounds = cfg.get_int("s2p.rounds");
  o.schedule.freeze_prob = cfg.get_float("s2p.freeze_prob");
  o.schedule.sup_prob = cfg.get_float("s2p.sup_prob");
  o.schedule.total_steps = cfg.get_int("train.steps");
  o.seed_size = cfg.get_int("s2p.seed_size");
  o.seed_val_fraction = cfg.get_float("s2p.seed_val_fraction");
  o.select_on_seed_val = cfg.get_string("s2p.select") != "last";
  o.select_listener_only = cfg.get_string("s2p.select") == "seed_val_listener";
  o.schedule.split_round_supervision = cfg.get_string("s2p.round_supervision") == "split";
  o.sup_batch = cfg.get_int("s2p.sup_batch");
  o.pretrain_select = cfg.get_string("s2p.pretrain_select") == "best";
  o.pretrain_test_every = cfg.get_int("s2p.pretrain_test_every");
  o.per_update_optimizers = cfg.get_string("s2p.optimizers") == "per_update";
  o.population = cfg.get_int("population.size");
  o.uniform_pairing = cfg.get_string("population.pairing") == "uniform";
  o.imitate_every = cfg.get_int("population.imitate_every");
  o.imitate_steps = cfg.get_int("population.imitate_steps");
  o.speaker_loss_sum = cfg.get_string("s2p.speaker_loss") == "sum";
  o.crossplay_size = cfg.get_int("eval.crossplay_size");
  o.crossplay_partners = cfg.get_int("eval.crossplay_partners");
  o.phase_stop = cfg.get_float("s2p.phase_stop");
  o.selfplay_after_seed = cfg.get_string("s2p.selfplay_data") == "after_seed";
  o.probes_first = cfg.get_string("s2p.probes") == "first";
  o.eval_each_round = cfg.get_bool("s2p.eval_each_round");
  if (cfg.has("run.threads")) o.threads = cfg.get_int("run.threads");
  if (o.imitate_every > 0 && o.population < 2)
    throw UserError("population.imitate_every=" + std::to_string(o.imitate_every) +
                    " needs population.size of at least 2");
  if (o.select_on_seed_val && o.seed_val_fraction <= 0)
    throw UserError("s2p.select=" + cfg.get_string("s2p.select") +
                    " needs s2p.seed_val_fraction > 0 (or use s2p.select=last)");
  if (o.pretrain_select && o.seed_val_fraction <= 0)
    throw UserError("s2p.pretrain_select=best needs s2p.seed_val_fraction > 0 (it tests on seed-validation)");
  return o;
}

S2P::S2P(const Options& opt, std::shared_ptr<SignalingGame> game, Rng rng)
    : opt_(opt), game_(std::move(game)), schedule_(opt.schedule, rng.derive("schedule")),
      schedule_last_(schedule_.last_step()), data_rng_(rng.derive("data")), pair_rng_(rng.derive("pairing")),
      cic_rng_(rng.derive("cic")),
      gen_(at::make_generator<at::CPUGeneratorImpl>(rng.derive("channel").seed())) {
  if (!game_->has_human_language())
    throw UserError("train.algorithm=s2p needs an env with a human language; env '" + game_->name() + "' has none");
  // The human language must fit the channel.
  const int64_t hl = game_->human_length(), hv = game_->human_vocab_size();
  const ChannelSpec& ch = opt.channel;
  if (!ch.eos && (ch.max_len != hl || ch.vocab_size < hv))
    throw UserError("the human language (" + std::to_string(hl) + " words over " + std::to_string(hv) +
                    ") does not fit the channel: with agents.eos=false it needs agents.max_len=" + std::to_string(hl) +
                    " and agents.vocab_size >= " + std::to_string(hv) + " (have " + std::to_string(ch.max_len) +
                    ", " + std::to_string(ch.vocab_size) + ")");
  if (ch.eos && (ch.max_len < hl + 1 || ch.vocab_size < hv + 1))
    throw UserError("the human language (" + std::to_string(hl) + " words over " + std::to_string(hv) +
                    ") does not fit the channel: with agents.eos=true it needs agents.max_len >= " +
                    std::to_string(hl + 1) + " and agents.vocab_size >= " + std::to_string(hv + 1) + " (have " +
                    std::to_string(ch.max_len) + ", " + std::to_string(ch.vocab_size) + ")");
  human_len_ = ch.eos ? hl + 1 : hl;
  opt_.cic.last_step = schedule_last_;  // the schedule may end before train.steps

  // Seed set: the first seed_size train objects; the last fraction is seed-validation.
  const int64_t n_train_split = game_->split_size(Split::Train);
  if (opt.seed_size > n_train_split)
    throw UserError("s2p.seed_size=" + std::to_string(opt.seed_size) + " is larger than the train split (" +
                    std::to_string(n_train_split) + " objects)");
  int64_t n_val = int64_t(std::llround(opt.seed_size * opt.seed_val_fraction));
  if (opt.seed_val_fraction > 0) n_val = std::max<int64_t>(n_val, 1);
  const int64_t n_fit = opt.seed_size - n_val;
  if (n_fit < 1) throw UserError("s2p.seed_val_fraction leaves no seed object to learn from");
  Rng seed_rng = rng.derive("seed_set");
  seed_train_ = game_->slice(Split::Train, 0, n_fit, seed_rng);
  if (n_val > 0) seed_val_ = game_->slice(Split::Train, n_fit, n_val, seed_rng);
  seed_train_human_ = human_channel_messages(seed_train_);
  if (n_val > 0) seed_val_human_ = human_channel_messages(seed_val_);

  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(rng.derive("init").seed());
  PopulationPair agents = make_population(opt, *game_, opt.population, init_gen);
  speaker_ = agents.speaker;
  listener_ = agents.listener;
  reset_optimizers();
  if (opt.selfplay_after_seed && opt.seed_size >= n_train_split)
    throw UserError("s2p.selfplay_data=after_seed leaves no train object for self-play: s2p.seed_size=" +
                    std::to_string(opt.seed_size) + " and the train split has " + std::to_string(n_train_split));
  Rng eval_rng = rng.derive("eval");
  for (Split s : kAllSplits) {
    const int64_t n = game_->split_size(s);
    const int64_t size = (opt.eval_size == 0 || opt.eval_size > n) ? n : opt.eval_size;
    eval_sets_.push_back(opt.probes_first ? game_->slice(s, 0, size, eval_rng)
                                          : game_->eval_set(s, opt.eval_size, eval_rng));
  }
  crossplay_rng_ = rng.derive("crossplay");
  stop_rng_ = rng.derive("phase_stop");
}

std::vector<torch::Tensor> copy_parameters(std::initializer_list<torch::nn::Module*> modules) {
  std::vector<torch::Tensor> out;
  for (auto* mod : modules)
    for (const auto& p : mod->parameters()) out.push_back(p.detach().clone());
  return out;
}

void restore_parameters(std::initializer_list<torch::nn::Module*> modules, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto* mod : modules)
    for (auto& p : mod->parameters()) p.copy_(saved.at(i++));
}

void S2P::reset_optimizers() {
  const auto adam = torch::optim::AdamOptions(opt_.lr);
  auto fused = [&](const std::vector<torch::Tensor>& params) {
    auto o = std::make_unique<FusedAdam>(params, adam);
    o->set_threads(int(opt_.threads));
    return o;
  };
  speaker_opt_ = fused(speaker_->parameters());
  listener_opt_ = fused(listener_->parameters());
  if (opt_.per_update_optimizers) {  // the speaker's and listener's parameters are disjoint (a shared
    auto all = speaker_->parameters();  // encoder belongs to the listener alone)
    for (auto& p : listener_->parameters()) all.push_back(p);
    selfplay_opt_ = fused(all);
  }
}

torch::Tensor S2P::human_channel_messages(const SignalBatch& batch) const {
  auto words = game_->human_messages(batch);
  if (!opt_.channel.eos) {
    if (words.lt(0).any().item<bool>())
      throw UserError("env '" + game_->name() + "' has variable-length human messages; they need agents.eos=true");
    return words;
  }
  auto out = torch::zeros({words.size(0), opt_.channel.max_len}, torch::kInt64);  // 0 = EOS
  out.narrow(1, 0, words.size(1)).copy_(words + 1);
  return out;
}

SignalBatch S2P::repeat_for_members(const SignalBatch& b, int64_t members) const {
  const int64_t P = members > 0 ? members : opt_.population;
  auto rep = [P](const torch::Tensor& t) {
    if (!t.defined()) return t;
    std::vector<int64_t> times(t.dim(), 1);
    times[0] = P;
    return t.repeat(times);
  };
  SignalBatch r;
  r.sender_input = rep(b.sender_input);
  r.target = rep(b.target);
  r.concept = rep(b.concept);
  return r;
}

torch::Tensor S2P::listen(ListenerPopulationImpl& lis, const torch::Tensor& symbols, const torch::Tensor& candidates) {
  if (!opt_.channel.eos)
    if (auto* linear = dynamic_cast<PopListenerImpl*>(&lis)) return linear->forward_symbols(symbols, candidates);
  const int64_t P = symbols.size(0), B = symbols.size(1);
  auto oh = onehots_of(symbols.reshape({P * B, -1}), opt_.channel);
  return lis.forward(oh.view({P, B, oh.size(1), oh.size(2)}), candidates);
}

torch::Tensor S2P::flat(const torch::Tensor& t) {  // [P, B, ...] -> [P*B, ...]
  std::vector<int64_t> shape = t.sizes().vec();
  shape[1] *= shape[0];
  shape.erase(shape.begin());
  return t.reshape(shape);
}

double S2P::selfplay_update(bool speaker_frozen) {
  speaker_->train();
  listener_->train();
  const int64_t P = opt_.population, B = opt_.batch_size;
  SignalBatch batch = opt_.selfplay_after_seed ? game_->sample_from(Split::Train, opt_.seed_size, B, data_rng_)
                                               : game_->sample(Split::Train, B, data_rng_);
  selfplay_parts_ = 1;
  if (can_split_selfplay(speaker_frozen)) return selfplay_update_split(batch);
  ChannelOutput msg;
  {
    std::optional<torch::NoGradGuard> frozen;  // a frozen speaker's messages carry no gradient
    if (speaker_frozen) frozen.emplace();
    msg = speaker_->speak(batch.sender_input, opt_.relaxation, opt_.temperature, gen_);
  }
  auto onehots = msg.onehots.view({P, B, opt_.channel.max_len, opt_.channel.vocab_size});
  torch::Tensor perm;  // listener p hears speaker perm[p]
  if (opt_.uniform_pairing && P > 1) {
    std::vector<int64_t> order(P);
    for (int64_t i = 0; i < P; ++i) order[i] = i;
    for (int64_t i = P - 1; i > 0; --i) std::swap(order[i], order[pair_rng_.below(uint64_t(i) + 1)]);
    perm = torch::tensor(order, torch::kInt64);
    onehots = onehots.index_select(0, perm);
  }
  auto out = listener_->forward(onehots, batch.receiver_input);
  auto per = game_->loss(flat(out), repeat_for_members(batch)).view({P, B});  // by listener
  auto loss = per.mean(1).sum();
  if (opt_.relaxation == Relaxation::Reinforce && !speaker_frozen) {
    auto reward = -per.detach();
    if (perm.defined()) reward = torch::empty_like(reward).index_copy_(0, perm, reward);  // by speaker
    double mean_reward = reward.mean().item<double>();
    auto advantage = (reward - baseline_).reshape({P * B});
    loss = loss - (advantage * msg.log_prob).view({P, B}).mean(1).sum() -
           opt_.entropy_coef * msg.entropy.view({P, B}).mean(1).sum();
    baseline_ += (mean_reward - baseline_) / double(++baseline_n_);
  }
  if (selfplay_opt_) {
    selfplay_opt_->zero_grad();
    loss.backward();
    // A frozen speaker's parameters get no gradient at all, so the shared Adam skips them
    // (not even its momentum moves them).
    if (speaker_frozen)
      for (auto& p : speaker_->parameters()) p.mutable_grad() = torch::Tensor();
    selfplay_opt_->step();
    return per.mean().item<double>();
  }
  speaker_opt_->zero_grad();
  listener_opt_->zero_grad();
  loss.backward();
  listener_opt_->step();
  if (!speaker_frozen) speaker_opt_->step();
  return per.mean().item<double>();
}

bool S2P::can_split_selfplay(bool speaker_frozen) const {
  return split_members() && !opt_.uniform_pairing && !speaker_frozen &&
         (opt_.relaxation == Relaxation::Gumbel || opt_.relaxation == Relaxation::StGumbel);
}

bool S2P::split_members() const {
  return member_threads() && dynamic_cast<const PopSpeakerImpl*>(speaker_.get()) &&
         dynamic_cast<const PopListenerImpl*>(listener_.get());
}

torch::Tensor S2P::train_by_slices(torch::nn::Module& trained, torch::nn::Module* also, const SliceLoss& loss) {
  for (auto* m : {&trained, also}) {
    if (!m) continue;
    for (auto& p : m->parameters()) {  // zero_grad, with the gradients defined: the slices write into them
      if (p.grad().defined()) p.mutable_grad().zero_();
      else p.mutable_grad() = torch::zeros_like(p);
    }
  }
  const auto slices = member_slices();
  const int64_t parts = int64_t(slices.size()), P = opt_.population;
  std::vector<torch::Tensor> each(static_cast<size_t>(parts));
  run_parts(parts, [&](int64_t k) {
    auto& [spk, lis] = slices[size_t(k)];
    each[size_t(k)] = loss(*spk, *lis, P * k / parts).detach();
  });
  return torch::cat(each);
}

S2P::MemberSlices S2P::member_slices() const {
  auto& speaker = dynamic_cast<PopSpeakerImpl&>(*speaker_);
  auto& listener = dynamic_cast<PopListenerImpl&>(*listener_);
  const int64_t P = opt_.population, parts = slice_count();
  MemberSlices out;
  for (int64_t k = 0; k < parts; ++k) {
    const int64_t first = P * k / parts, count = P * (k + 1) / parts - first;
    out.emplace_back(speaker.slice(first, count), listener.slice(first, count));
  }
  return out;
}

double S2P::selfplay_update_split(const SignalBatch& batch) {
  const int64_t P = opt_.population, B = opt_.batch_size, L = opt_.channel.max_len, V = opt_.channel.vocab_size;
  // The noise selfplay_update's speak() draws, in the same order from the same generator.
  const auto uniform = torch::empty({P * B, L, V}).uniform_(0.0, 1.0, gen_);
  selfplay_parts_ = slice_count();
  const auto per = train_by_slices(*speaker_, listener_.get(), [&](PopSpeakerImpl& spk, PopListenerImpl& lis, int64_t f) {
    const int64_t n = spk.members();
    auto logits = spk.teacher_logits(batch.sender_input, {});  // [n, B, L, V]
    auto flat_logits = logits.view({n * B, L, V});
    auto msg = finish_message(flat_logits, gumbel_symbols(flat_logits, opt_.relaxation, opt_.temperature,
                                                          uniform.narrow(0, f * B, n * B)),
                              opt_.relaxation, opt_.channel);
    auto out = lis.forward(msg.onehots.view({n, B, L, V}), batch.receiver_input);
    auto loss = game_->loss(flat(out), repeat_for_members(batch, n)).view({n, B});
    loss.mean(1).sum().backward();
    return loss;
  });
  if (selfplay_opt_) {
    selfplay_opt_->step();
  } else {
    listener_opt_->step();
    speaker_opt_->step();
  }
  return per.mean().item<double>();
}

double S2P::supervised_listener_update() {
  listener_->train();
  const int64_t P = opt_.population, n = seed_train_.size();
  // The seed-train objects again (all of them, or s2p.sup_batch drawn without replacement),
  // with distractors and target slots drawn afresh from the trainer's generator (the
  // reference's get_s2p_batch); reconstruction games draw no distractors.
  torch::Tensor human = seed_train_human_;
  if (opt_.sup_batch > 0)
    std::tie(last_sup_listener_batch_, human) = draw_sup_batch();
  else
    last_sup_listener_batch_ = game_->slice(Split::Train, 0, n, data_rng_);
  const SignalBatch& batch = last_sup_listener_batch_;
  const int64_t B = batch.size();
  auto loss = [&](ListenerPopulationImpl& lis, int64_t count) {  // [count, B]
    auto out = listen(lis, human.unsqueeze(0).expand({count, B, human.size(1)}), batch.receiver_input);
    return game_->loss(flat(out), repeat_for_members(batch, count)).view({count, B});
  };
  torch::Tensor per;
  if (split_members()) {  // member slices on threads of their own, as in self-play
    per = train_by_slices(*listener_, nullptr, [&](PopSpeakerImpl&, PopListenerImpl& lis, int64_t) {
      auto l = loss(lis, lis.members());
      l.mean(1).sum().backward();
      return l;
    });
  } else {
    per = loss(*listener_, P);
    listener_opt_->zero_grad();
    per.mean(1).sum().backward();
  }
  listener_opt_->step();
  return per.mean().item<double>();
}

std::pair<SignalBatch, torch::Tensor> S2P::draw_sup_batch() {
  SignalBatch b = game_->sample_within(Split::Train, 0, seed_train_.size(), opt_.sup_batch, data_rng_);
  torch::Tensor human = human_channel_messages(b);
  return {std::move(b), std::move(human)};
}

torch::Tensor S2P::speaker_sup_loss(SpeakerPopulationImpl& spk, int64_t P, const SignalBatch& batch,
                                    const torch::Tensor& target_msgs) {
  const int64_t B = batch.size();
  const int64_t positions = target_msgs.dim() == 2 ? human_len_ : opt_.channel.max_len;
  auto targets = target_msgs.dim() == 2 ? target_msgs.unsqueeze(0).expand({P, B, target_msgs.size(1)}) : target_msgs;
  auto logits = spk.teacher_logits(batch.sender_input, targets);
  auto logp = torch::log_softmax(logits.narrow(2, 0, positions), -1);
  targets = targets.narrow(2, 0, positions);
  auto ce = -logp.gather(3, targets.unsqueeze(3)).squeeze(3);  // [P, B, positions]
  // Positions after a target's EOS do not count (the ratio is exactly 1 without EOS).
  auto alive = alive_mask(targets.reshape({P * B, positions}), opt_.channel).view({P, B, positions});
  // s2p.speaker_loss=sum (the reference): per object, the sum over its positions, as self-play
  // sums over attributes; mean: the mean over the positions that count.
  return opt_.speaker_loss_sum ? (ce * alive).sum({1, 2}) / double(B) : (ce * alive).sum({1, 2}) / alive.sum({1, 2});
}

double S2P::supervised_speaker_update(const SignalBatch& batch, const torch::Tensor& target_msgs,
                                      const torch::Tensor& member_mask) {
  speaker_->train();
  const int64_t P = opt_.population;
  torch::Tensor per_member;
  if (split_members()) {  // member slices on threads of their own, as in self-play
    per_member = train_by_slices(*speaker_, nullptr, [&](PopSpeakerImpl& spk, PopListenerImpl&, int64_t first) {
      const int64_t n = spk.members();
      auto l = speaker_sup_loss(spk, n, batch, target_msgs.dim() == 2 ? target_msgs : target_msgs.narrow(0, first, n));
      (l * member_mask.narrow(0, first, n)).sum().backward();
      return l;
    });
  } else {
    per_member = speaker_sup_loss(*speaker_, P, batch, target_msgs);
    speaker_opt_->zero_grad();
    (per_member * member_mask).sum().backward();
  }
  speaker_opt_->step();
  return (per_member * member_mask).sum().item<double>() / std::max(1.0, member_mask.sum().item<double>());
}

namespace {

// Member p's slice of a population's parameters and of their Adam moments, saved at construction
// and put back by restore(): an update that must leave member p as it was. A tensor that is
// member p's alone (row -1) gets its whole Adam state back (step count included, or no state if
// it had none); a stacked tensor's step count is shared by all members and advances.
class KeepMember {
 public:
  KeepMember(SpeakerPopulationImpl& pop, torch::optim::Adam& opt, int64_t p) : opt_(opt) {
    torch::NoGradGuard no_grad;
    for (auto& [t, row] : pop.member_parameters(p)) {
      Slot s{t, row, part(t, row).clone(), {}, {}, 0};
      if (auto* st = adam_state(opt_, t)) {
        s.avg = part(st->exp_avg(), row).clone();
        s.avg_sq = part(st->exp_avg_sq(), row).clone();
        s.step = st->step();
      }
      slots_.push_back(std::move(s));
    }
  }
  void restore() {
    torch::NoGradGuard no_grad;
    for (auto& s : slots_) {
      part(s.param, s.row).copy_(s.value);
      auto* st = adam_state(opt_, s.param);
      if (!st) continue;
      if (s.avg.defined()) {  // it had Adam state before the update
        part(st->exp_avg(), s.row).copy_(s.avg);
        part(st->exp_avg_sq(), s.row).copy_(s.avg_sq);
        if (s.row < 0) st->step(s.step);
      } else if (s.row < 0) {
        opt_.state().erase(adam_state_key(s.param));
      } else {  // Adam made the state at this step; zero gradients leave zero moments
        part(st->exp_avg(), s.row).zero_();
        part(st->exp_avg_sq(), s.row).zero_();
      }
    }
  }

 private:
  struct Slot {
    torch::Tensor param;
    int64_t row;
    torch::Tensor value, avg, avg_sq;  // avg undefined: no Adam state before the update
    int64_t step = 0;
  };
  static torch::Tensor part(const torch::Tensor& t, int64_t row) { return row < 0 ? t : t[row]; }
  torch::optim::Adam& opt_;
  std::vector<Slot> slots_;
};

}  // namespace

int64_t S2P::best_member_on_seed_val() {
  const SignalBatch& set = seed_val_.sender_input.defined() ? seed_val_ : seed_train_;
  return play_set(set, 0, /*human=*/false).member_acc.argmax().item<int64_t>();
}

void S2P::imitation_update() {
  const int64_t P = opt_.population, B = opt_.batch_size;
  SignalBatch batch = game_->sample(Split::Train, B, data_rng_);
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    auto symbols = speaker_->speak(batch.sender_input, Relaxation::Greedy, 1.0, gen_).symbols.view({P, B, -1});
    target = symbols[imitate_best_].unsqueeze(0).expand({P, B, opt_.channel.max_len});
  }
  auto mask = torch::ones({P});
  mask[imitate_best_] = 0.0;
  // The best member gets no gradient, but Adam's momentum would still move it: keep its
  // parameters and Adam state as they were (KeepMember).
  KeepMember keep(*speaker_, *speaker_opt_, imitate_best_);
  supervised_speaker_update(batch, target, mask);
  keep.restore();
}

Metrics S2P::train_step(int64_t step) {
  std::optional<ScopedBlasThreads> blas;
  if (split_members()) blas.emplace(1);
  if (!cursor_synced_) {  // resumed from a checkpoint written before the cursor was saved
    schedule_.seek(step - 1);
    cursor_synced_ = true;
  }
  StepPlan plan = schedule_.plan(step);
  last_plan_ = plan;
  Metrics m;
  if (plan.selfplay) m["loss/selfplay"] = selfplay_update(plan.speaker_frozen);
  if (plan.sup_listener) m["loss/sup_listener"] = supervised_listener_update();
  if (plan.sup_speaker) {
    const torch::Tensor all = torch::ones({opt_.population});
    if (opt_.sup_batch > 0) {
      const auto [b, human] = draw_sup_batch();
      m["loss/sup_speaker"] = supervised_speaker_update(b, human, all);
    } else {
      m["loss/sup_speaker"] = supervised_speaker_update(seed_train_, seed_train_human_, all);
    }
  }
  if (opt_.imitate_every > 0) {
    if (step % opt_.imitate_every == 0) {
      imitate_best_ = best_member_on_seed_val();
      imitate_left_ = opt_.imitate_steps;
    }
    if (imitate_left_ > 0) {
      imitation_update();
      --imitate_left_;
    }
  }
  if (opt_.pretrain_select) pretrain_select(m);
  check_phase_stop(m);
  if (opt_.pretrain_select) {  // after the last pretraining step (early phase ends included)
    auto pre = [](PhaseKind k) { return k == PhaseKind::ListenerPre || k == PhaseKind::SpeakerPre; };
    const PhaseKind next = schedule_.next_phase().kind;
    if (pre(schedule_.last_phase().kind) && !pre(next) && next != PhaseKind::Joint) {
      // An agent without a pretraining phase has nothing saved and keeps its parameters.
      if (!pre_speaker_params_.empty()) restore_parameters({speaker_.get()}, pre_speaker_params_);
      if (!pre_listener_params_.empty()) restore_parameters({listener_.get()}, pre_listener_params_);
      reset_optimizers();
      if (!pre_listener_params_.empty()) m["pretrain/selected_listener_acc"] = pre_listener_score_;
      if (!pre_speaker_params_.empty()) m["pretrain/selected_speaker_loss"] = pre_speaker_loss_;
    }
  }
  return m;
}

void S2P::pretrain_select(Metrics& m) {
  const Phase& done = schedule_.last_phase();
  if (schedule_.last_pos() % opt_.pretrain_test_every != 0) return;
  if (done.kind == PhaseKind::ListenerPre) {
    const double acc = play_set(seed_val_, 0, /*human=*/true).listener_human;
    m["pretrain/seed_val_listener_acc"] = acc;
    if (acc > pre_listener_score_) {
      pre_listener_score_ = acc;
      pre_listener_params_ = copy_parameters({listener_.get()});
    }
  } else if (done.kind == PhaseKind::SpeakerPre) {
    torch::NoGradGuard no_grad;
    speaker_->eval();
    const double loss = speaker_sup_loss(*speaker_, opt_.population, seed_val_, seed_val_human_).mean().item<double>();
    m["pretrain/seed_val_speaker_loss"] = loss;
    if (loss < pre_speaker_loss_) {
      pre_speaker_loss_ = loss;
      pre_speaker_params_ = copy_parameters({speaker_.get()});
    }
  }
}

// The reference loop's early ends (or_game/train.py, docs/s2p.md "Reference Lewis setting"),
// on population means after the step's update: a supervised phase (pretraining or a round's)
// ends once the speaker's exact match and the listener's accuracy on the human messages of
// the seed-train set pass s2p.phase_stop (a listener- or speaker-only pretraining phase: its
// own figure); a round's self-play phase ends once self-play accuracy on a fresh val batch of
// train.batch_size objects passes it; the run ends after a round whose self-play phase left
// both seed-train figures above it and whose supervised phase left the val batch above it.
void S2P::check_phase_stop(Metrics& m) {
  const Phase done = schedule_.last_phase();
  auto in_phase = [&](const Phase& p) { return p.kind == done.kind && p.round == done.round; };
  auto ends_round = [&] {
    return done.round >= 0 && done.kind != PhaseKind::SelfPlay && schedule_.next_phase().round != done.round;
  };
  round_ended_ = ends_round();
  if (opt_.phase_stop <= 0 || done.kind == PhaseKind::None || done.length < 0) return;
  const double thr = opt_.phase_stop;
  auto seed_accs = [&] {
    SetPlay r = play_set(seed_train_, 0, /*human=*/true);
    m["stop/seed_speaker_acc"] = r.speaker_match;
    m["stop/seed_listener_acc"] = r.listener_human;
    return std::make_pair(r.speaker_match, r.listener_human);
  };
  auto val_acc = [&] {
    const int64_t n = game_->split_size(Split::Val);
    const int64_t first = opt_.probes_first ? eval_sets_[static_cast<int>(Split::Val)].size() : 0;
    SignalBatch b = game_->sample_from(Split::Val, first < n ? first : 0, opt_.batch_size, stop_rng_);
    const double acc = play_set(b, 0, /*human=*/false).member_acc.mean().item<double>();
    m["stop/val_sp_acc"] = acc;
    return acc;
  };
  const bool more = in_phase(schedule_.next_phase());  // the phase has steps left
  switch (done.kind) {
    case PhaseKind::Joint:
    case PhaseKind::Supervised: {
      auto [spk, lis] = seed_accs();
      if (more && spk > thr && lis > thr) schedule_.end_phase();
      round_ended_ = ends_round();
      if (round_ended_ && after_sp_speaker_ > thr && after_sp_listener_ > thr && val_acc() > thr) schedule_.stop();
      return;
    }
    case PhaseKind::ListenerPre:
    case PhaseKind::SpeakerPre:
    case PhaseKind::RoundListener:
    case PhaseKind::RoundSpeaker: {
      auto [spk, lis] = seed_accs();
      const bool listener = done.kind == PhaseKind::ListenerPre || done.kind == PhaseKind::RoundListener;
      if (more && (listener ? lis : spk) > thr) schedule_.end_phase();
      round_ended_ = ends_round();
      if (round_ended_ && after_sp_speaker_ > thr && after_sp_listener_ > thr && val_acc() > thr) schedule_.stop();
      return;
    }
    case PhaseKind::SelfPlay: {
      if (done.round < 0) return;  // sup2sp / sp2sup: no round
      if (more && val_acc() > thr) schedule_.end_phase();
      if (!in_phase(schedule_.next_phase())) std::tie(after_sp_speaker_, after_sp_listener_) = seed_accs();
      return;
    }
    default: return;
  }
}

// The pair state as in selfplay, plus the schedule, pairing, imitation and model selection.
void S2P::save_state(state::Out& ar) {
  pair_state().save(ar);
  state::put(ar, "schedule_rng", schedule_.rng());
  state::put(ar, "schedule_cursor", std::vector<torch::Tensor>{torch::tensor(schedule_.cursor(), torch::kInt64)});
  state::put(ar, "after_sp_accs", std::vector<torch::Tensor>{torch::tensor({after_sp_speaker_, after_sp_listener_}, torch::kFloat64)});
  state::put(ar, "stop_rng", stop_rng_);
  state::put(ar, "pair_rng", pair_rng_);
  state::put(ar, "imitate_left", imitate_left_);
  state::put(ar, "imitate_best", imitate_best_);
  state::put(ar, "best_score", best_score_);
  state::put(ar, "best_metrics", best_metrics_);
  state::put(ar, "best_params", best_params_);
  if (selfplay_opt_) state::put(ar, "selfplay_opt", *selfplay_opt_);
  if (opt_.pretrain_select) {
    state::put(ar, "pretrain_scores", std::vector<torch::Tensor>{torch::tensor({pre_listener_score_, pre_speaker_loss_}, torch::kFloat64)});
    state::put(ar, "pretrain_listener", pre_listener_params_);
    state::put(ar, "pretrain_speaker", pre_speaker_params_);
  }
}

void S2P::load_state(state::In& ar) {
  pair_state().load(ar);
  state::get(ar, "schedule_rng", schedule_.rng());
  torch::serialize::InputArchive probe;
  if (ar.try_read("schedule_cursor", probe)) {
    auto c = state::get_tensors(ar, "schedule_cursor").at(0);
    schedule_.set_cursor(std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()));
    auto a = state::get_tensors(ar, "after_sp_accs").at(0);
    after_sp_speaker_ = a[0].item<double>();
    after_sp_listener_ = a[1].item<double>();
    state::get(ar, "stop_rng", stop_rng_);
  } else {
    cursor_synced_ = false;  // an older checkpoint: the cursor follows from the step
  }
  state::get(ar, "pair_rng", pair_rng_);
  imitate_left_ = state::get_int(ar, "imitate_left");
  imitate_best_ = state::get_int(ar, "imitate_best");
  best_score_ = state::get_double(ar, "best_score");
  best_metrics_ = state::get_metrics(ar, "best_metrics");
  best_params_ = state::get_tensors(ar, "best_params");
  if (selfplay_opt_) state::get(ar, "selfplay_opt", *selfplay_opt_);
  if (opt_.pretrain_select) {
    auto sc = state::get_tensors(ar, "pretrain_scores").at(0);
    pre_listener_score_ = sc[0].item<double>();
    pre_speaker_loss_ = sc[1].item<double>();
    pre_listener_params_ = state::get_tensors(ar, "pretrain_listener");
    pre_speaker_params_ = state::get_tensors(ar, "pretrain_speaker");
  }
}

std::string S2P::nonfinite_parameter() { return pair_state().nonfinite(); }

state::SignalPairState S2P::pair_state() {
  return {*speaker_, *listener_, *speaker_opt_, *listener_opt_, data_rng_, gen_, baseline_, baseline_n_};
}

Metrics S2P::final_metrics(const Metrics& last_eval) {
  if (!opt_.select_on_seed_val || best_params_.empty()) return last_eval;
  restore_parameters({speaker_.get(), listener_.get()}, best_params_);
  Metrics m = best_metrics_;
  for (const auto& kv : last_eval)
    if (kv.first.rfind("train/", 0) == 0 || kv.first.rfind("time/", 0) == 0) m[kv.first] = kv.second;
  return m;
}

void S2P::save(const std::string& path) { save_pair(*speaker_, *listener_, path); }

static const bool kRegistered = AlgorithmRegistry::add(
    {"s2p", "supervised self-play: S2P schedules over a human language, with populations", S2P::option_set(),
     [](const Config& cfg, std::shared_ptr<Env> env, Rng rng) -> std::unique_ptr<Algorithm> {
       auto game = std::dynamic_pointer_cast<SignalingGame>(env);
       if (!game) throw UserError("train.algorithm=s2p needs a signaling game; env '" + env->name() + "' is not one");
       return std::make_unique<S2P>(S2P::Options::from(cfg), game, rng);
     },
     Accepts{/*signaling=*/true, /*markov=*/false, /*images=*/true, /*needs_human_language=*/true,
             "a signaling game with a human language (messages to imitate)"},
     {"--train.steps=6", "--train.eval_every=3", "--train.batch_size=16", "--eval.size=32", "--eval.log_rows=16",
      "--agents.hidden=16", "--s2p.seed_size=20",
      "--s2p.listener_pretrain=1", "--s2p.speaker_pretrain=1", "--s2p.sp_steps=1", "--s2p.sup_steps=1"}});

}  // namespace emcomm
