#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "agents/fused_adam.h"
#include "algorithms/s2p.h"
#include "algorithms/signal_log.h"
#include "core/errors.h"
#include "envs/lewis/lewis.h"
#include "experiments/commands.h"
#include "tests/s2p_test_util.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

ScheduleOptions small(Schedule s) {
  ScheduleOptions o;
  o.schedule = s;
  o.listener_pretrain = 2;
  o.speaker_pretrain = 3;
  o.sp_steps = 2;
  o.sup_steps = 1;
  o.total_steps = 12;
  return o;
}

// One letter per step: S self-play, F self-play with a frozen speaker, B supervised speaker
// and listener, L supervised listener only, P supervised speaker only.
std::string pattern(ScheduleOptions o, int64_t steps = 12, uint64_t seed = 1) {
  S2PSchedule s(o, Rng(seed));
  std::string out;
  for (int64_t t = 1; t <= steps; ++t) {
    StepPlan p = s.plan(t);
    int kinds = p.selfplay + (p.sup_speaker || p.sup_listener);
    REQUIRE(kinds == 1);  // exactly one kind of update per step
    if (p.selfplay) out += p.speaker_frozen ? 'F' : 'S';
    else if (p.sup_speaker && p.sup_listener) out += 'B';
    else out += p.sup_listener ? 'L' : 'P';
  }
  return out;
}

double fraction(const std::string& s, char c) { return std::count(s.begin(), s.end(), c) / double(s.size()); }

Config s2p_config(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--train.algorithm=s2p",   "--env.attributes=3",  "--env.values=4",
                                   "--agents.vocab_size=12", "--agents.max_len=3",  "--agents.hidden=64",
                                   "--s2p.seed_size=20",     "--train.batch_size=32", "--eval.size=64",
                                   "--eval.log_rows=4"};
  args.insert(args.end(), extra.begin(), extra.end());
  return resolve_config(build_schema(), "", args);
}

struct Setup : test::S2PSetup {
  explicit Setup(const std::vector<std::string>& extra) : test::S2PSetup(s2p_config(extra)) {}
};

using test::same;
using test::snapshot;

}  // namespace

TEST_CASE("s2p schedule patterns step by step", "[s2p][schedule]") {
  CHECK(pattern(small(Schedule::SelfPlay)) == "SSSSSSSSSSSS");
  CHECK(pattern(small(Schedule::Supervised)) == "BBBBBBBBBBBB");
  CHECK(pattern(small(Schedule::Sup2Sp)) == "LLPPPSSSSSSS");
  CHECK(pattern(small(Schedule::Sp2Sup)) == "SSSSSSSLLPPP");
  CHECK(pattern(small(Schedule::Sched)) == "LLPPPSSBSSBS");
  CHECK(pattern(small(Schedule::SchedFrz)) == "LLPPPFFLFFLF");
}

TEST_CASE("s2p random schedules follow their probabilities", "[s2p][schedule]") {
  auto rf = small(Schedule::SchedRandFrz);
  rf.total_steps = 4005;
  std::string p = pattern(rf, 4005);
  CHECK(p.substr(0, 5) == "LLPPP");
  std::string sp = p.substr(5);
  double frozen = fraction(sp, 'F') / (fraction(sp, 'F') + fraction(sp, 'S'));
  CHECK(frozen == Approx(0.5).margin(0.04));
  CHECK(fraction(sp, 'B') == Approx(1.0 / 3).margin(1e-3));  // rounds of 2 SP + 1 SUP
  rf.freeze_prob = 0.0;
  CHECK(fraction(pattern(rf, 400), 'F') == 0.0);
  rf.freeze_prob = 1.0;
  CHECK(fraction(pattern(rf, 400), 'S') == 0.0);

  auto r = small(Schedule::Rand);
  r.total_steps = 4000;
  std::string q = pattern(r, 4000);
  CHECK(fraction(q, 'B') == Approx(0.75).margin(0.03));  // no pretraining, 75 % supervised
  CHECK(fraction(q, 'B') + fraction(q, 'S') == 1.0);
  CHECK(pattern(r, 4000, 1) == q);  // seeded
  CHECK(pattern(r, 4000, 2) != q);
}

TEST_CASE("s2p rounds end the schedule early and short runs are refused", "[s2p][schedule]") {
  auto o = small(Schedule::Sched);
  o.total_steps = 100;
  o.rounds = 4;
  CHECK(S2PSchedule(o, Rng(1)).last_step() == 5 + 4 * 3);
  o.rounds = 0;
  CHECK(S2PSchedule(o, Rng(1)).last_step() == 100);
  o.total_steps = 5;  // nothing left after pretraining
  CHECK_THROWS_AS(S2PSchedule(o, Rng(1)), UserError);
  o.schedule = Schedule::Rand;
  CHECK_NOTHROW(S2PSchedule(o, Rng(1)));
}

TEST_CASE("s2p seed set: the first train objects, the last tenth held out", "[s2p]") {
  Setup s({"--env.split=paper"});
  const auto& fit = s.algo->seed_train();
  const auto& val = s.algo->seed_val();
  REQUIRE(fit.size() == 18);
  REQUIRE(val.size() == 2);
  // Paper split: train objects in product order, so the seed objects are ids 0..19.
  for (int64_t i = 0; i < 18; ++i) CHECK(fit.concept[i].equal(s.game->decode({i})[0]));
  CHECK(val.concept[0].equal(s.game->decode({18})[0]));
  CHECK(val.concept[1].equal(s.game->decode({19})[0]));
  // Random split: the first objects of the shuffled train order.
  Setup r({"--env.split=random"});
  CHECK(r.algo->seed_train().concept[0].equal(r.game->decode({r.game->object_at(Split::Train, 0)})[0]));
  CHECK_THROWS_AS(Setup({"--s2p.seed_size=100"}), UserError);  // train split has 51 objects
}

TEST_CASE("s2p human language in channel form, and channels it does not fit", "[s2p]") {
  Setup fixed({});
  auto human = fixed.game->human_messages(fixed.algo->seed_train());
  CHECK(fixed.algo->human_channel_messages(fixed.algo->seed_train()).equal(human));
  Setup eos({"--agents.eos=true", "--agents.vocab_size=13", "--agents.max_len=5"});
  auto m = eos.algo->human_channel_messages(eos.algo->seed_train());
  CHECK(m.narrow(1, 0, 3).equal(human + 1));  // words shift past EOS = 0
  CHECK(m.narrow(1, 3, 2).eq(0).all().item<bool>());
  CHECK_THROWS_WITH(Setup({"--agents.max_len=2"}), Catch::Contains("does not fit the channel"));
  CHECK_THROWS_WITH(Setup({"--agents.eos=true", "--agents.vocab_size=12", "--agents.max_len=4"}),
                    Catch::Contains("agents.vocab_size >= 13"));
}

TEST_CASE("s2p frozen speaker: parameters do not change while the listener learns", "[s2p]") {
  Setup s({"--s2p.schedule=sched_frz", "--s2p.listener_pretrain=3", "--s2p.speaker_pretrain=3",
           "--s2p.sp_steps=4", "--s2p.sup_steps=2", "--train.steps=30"});
  for (int64_t t = 1; t <= 6; ++t) s.algo->train_step(t);
  auto speaker = snapshot(*s.algo->speaker());
  auto listener = snapshot(*s.algo->listener());
  for (int64_t t = 7; t <= 18; ++t) {
    s.algo->train_step(t);
    CHECK((s.algo->last_plan().speaker_frozen || !s.algo->last_plan().sup_speaker));
  }
  CHECK(same(speaker, snapshot(*s.algo->speaker())));
  CHECK_FALSE(same(listener, snapshot(*s.algo->listener())));

  // Without freezing, self-play moves the speaker.
  Setup t({"--s2p.schedule=selfplay"});
  auto before = snapshot(*t.algo->speaker());
  t.algo->train_step(1);
  CHECK_FALSE(same(before, snapshot(*t.algo->speaker())));
}

TEST_CASE("s2p supervised learning masters the seed set", "[s2p]") {
  test::TempDir dir;
  Setup s({"--s2p.schedule=supervised", "--train.lr=0.01"});
  for (int64_t t = 1; t <= 150; ++t) s.algo->train_step(t);
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = s.algo->evaluate(150, log);
  CHECK(m.at("listener_human_acc/seed_val") > 0.99);  // unseen seed objects: the language is compositional
  CHECK(m.at("speaker_human_match/seed_val") > 0.99);
  CHECK(m.at("sp_acc/val") > 0.9);  // a speaker and listener that share the human language
}

TEST_CASE("s2p population: uniform pairing trains every member and logs a cross-play matrix", "[s2p][population]") {
  test::TempDir dir;
  Setup s({"--population.size=3", "--population.pairing=uniform", "--s2p.schedule=selfplay",
           "--population.imitate_every=5", "--population.imitate_steps=2", "--eval.crossplay_size=0"});
  auto before = snapshot(*s.algo->speaker());
  for (int64_t t = 1; t <= 20; ++t) s.algo->train_step(t);
  auto after = snapshot(*s.algo->speaker());
  for (size_t i = 0; i < before.size(); ++i)
    for (int64_t p = 0; p < 3; ++p) CHECK_FALSE(torch::equal(before[i][p], after[i][p]));  // every member moved
  Metrics m;
  {
    RunWriter log(dir / "run.h5", {}, "", "test");
    m = s.algo->evaluate(20, log);
  }
  RunReader r(dir / "run.h5");
  CHECK(r.validate().empty());
  CHECK(r.matrix_names() == std::vector<std::string>{"crossplay/val"});
  const MatrixSeries cross = r.matrix("crossplay/val");
  REQUIRE(cross.step == std::vector<int64_t>{20});
  REQUIRE((cross.rows == 3 && cross.cols == 3));
  double diag = 0, off = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const float v = cross.at(0)[i * 3 + j];
      REQUIRE_FALSE(std::isnan(v));  // P - 1 = 2 <= eval.crossplay_partners: the whole matrix
      if (i == j) {
        // crossplay_size=0: the whole val eval set, so the diagonal is the member accuracies.
        CHECK(v == Approx(m.at("sp_acc_member/val/" + std::to_string(i))).margin(1e-6));
        diag += v;
      } else {
        off += v;
      }
    }
  CHECK(m.at("sp_acc/val") == Approx(diag / 3).margin(1e-6));
  CHECK(m.at("crossplay_mean/val") == Approx(off / 6).margin(1e-6));
  for (const auto& name : r.scalar_names()) CHECK(name.rfind("crossplay/", 0) != 0);  // no P^2 scalar series
  CHECK(r.interaction_rows("val") == 3 * 4);  // eval.log_rows per member
  auto rows = r.interactions("val");
  CHECK(rows.sender == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
}

TEST_CASE("population modules: one member's forward equals its slice of the stacked forward", "[s2p][population]") {
  ChannelSpec ch{12, 3, false};
  ReceiverSpec rec;
  rec.attributes = 3;
  rec.values = 4;
  ReceiverSpec disc;
  disc.kind = ReceiverSpec::Kind::Discriminate;
  disc.candidates = 5;
  disc.candidate_dim = 12;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  PopSpeaker s(3, 12, 16, ch, Activation::Relu);
  PopListener l(3, ch, 16, rec, Activation::Tanh), d(3, ch, 16, disc, Activation::None);
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(s.get()), static_cast<torch::nn::Module*>(l.get()),
                               static_cast<torch::nn::Module*>(d.get())})
    init_stacked_layers(*m, gen);
  auto x = torch::rand({7, 12}, gen);
  auto oh = torch::rand({7, 3, 12}, gen);
  auto cand = torch::rand({7, 5, 12}, gen);
  auto all_s = s(x.unsqueeze(0).expand({3, 7, 12}));
  auto all_l = l(oh.unsqueeze(0).expand({3, 7, 3, 12}));
  auto all_d = d(oh.unsqueeze(0).expand({3, 7, 3, 12}), cand);
  for (int64_t p = 0; p < 3; ++p) {
    CHECK(s->forward_member(p, x).allclose(all_s[p], 1e-5, 1e-6));
    CHECK(l->forward_member(p, oh).allclose(all_l[p], 1e-5, 1e-6));
    CHECK(d->forward_member(p, oh, cand).allclose(all_d[p], 1e-5, 1e-6));
  }
  CHECK_FALSE(all_s[0].allclose(all_s[1]));  // members differ
  // The gathered first layer on symbols equals the stacked forward on their one-hots, for
  // values and for gradients.
  auto sym = torch::randint(0, 12, {3, 7, 3}, gen);
  auto oh_sym = onehots_of(sym.reshape({21, 3}), ch).view({3, 7, 3, 12});
  for (PopListener* m : {&l, &d}) {
    auto& net = *m;
    auto a = net->forward(oh_sym, cand), b = net->forward_symbols(sym, cand);
    CHECK(b.allclose(a, 1e-5, 1e-6));
    net->zero_grad();
    a.pow(2).sum().backward();
    std::vector<torch::Tensor> ga;
    for (auto& p : net->parameters()) ga.push_back(p.grad().clone());
    net->zero_grad();
    b.pow(2).sum().backward();
    size_t i = 0;
    for (auto& p : net->parameters()) CHECK(p.grad().allclose(ga[i++], 1e-4, 1e-5));
  }
}

namespace {

// Accuracy of speaker i with listener j on `set`, one member at a time (no population code path).
double pair_accuracy(S2P& algo, const SignalingGame& game, const SignalBatch& set, int64_t i, int64_t j,
                     const ChannelSpec& ch) {
  torch::NoGradGuard no_grad;
  auto symbols = algo.speaker()->member_logits(i, set.sender_input).argmax(-1);
  auto out = algo.listener()->forward_member(j, onehots_of(symbols, ch), set.receiver_input);
  return game.correct(out, set).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

TEST_CASE("s2p cross-play: the [P, P] array holds the documented sample of objects and pairs", "[s2p][population]") {
  test::TempDir dir;
  // 3 x 6 objects: the val split has 21 of them, all in its eval set (eval.size = 64).
  Setup s({"--population.size=6", "--s2p.schedule=selfplay", "--eval.crossplay_size=10",
           "--eval.crossplay_partners=2", "--env.values=6", "--agents.vocab_size=18",
           "--s2p.schedule=supervised", "--train.lr=0.01"});
  for (int64_t t = 1; t <= 60; ++t) s.algo->train_step(t);
  {
    // Every member speaks the human language, except speaker 1, silenced: its row is ~0 while
    // its listener's column stays high, so a transposed matrix cannot pass.
    torch::NoGradGuard no_grad;
    for (auto& p : s.algo->speaker()->parameters()) p[1].zero_();
  }
  // The sample: objects i * 21 / 10 of the val eval set.
  Rng eval_rng = Rng(1).derive("algorithm").derive("eval");
  SignalBatch val;
  for (Split sp : kAllSplits) {
    SignalBatch b = s.game->eval_set(sp, 64, eval_rng);
    if (sp == Split::Val) val = b;
  }
  REQUIRE(val.size() == 21);
  const SignalBatch sample = s.algo->crossplay_sample();
  REQUIRE(sample.size() == 10);
  for (int64_t i = 0; i < 10; ++i) CHECK(sample.concept[i].equal(val.concept[i * 21 / 10]));
  Metrics m;
  {
    RunWriter log(dir / "run.h5", {}, "", "test");
    m = s.algo->evaluate(30, log);
  }
  const MatrixSeries cross = RunReader(dir / "run.h5").matrix("crossplay/val");
  REQUIRE((cross.rows == 6 && cross.cols == 6 && cross.step.size() == 1));
  const ChannelSpec ch{18, 3, false};
  int64_t evaluated = 0;
  std::vector<int> per_row(6), per_col(6);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j) {
      const float v = cross.at(0)[i * 6 + j];
      if (i == j) REQUIRE_FALSE(std::isnan(v));  // the diagonal is always evaluated
      if (std::isnan(v)) continue;
      ++evaluated, ++per_row[i], ++per_col[j];
      INFO("speaker " << i << " listener " << j);
      CHECK(v == Approx(pair_accuracy(*s.algo, *s.game, sample, i, j, ch)).margin(1e-6));
    }
  CHECK(evaluated == 6 * 3);  // the diagonal and 2 other speakers per listener
  double row1 = 0, col1 = 0;
  for (int64_t k = 0; k < 6; ++k) {
    if (!std::isnan(cross.at(0)[6 + k]) && k != 1) row1 = std::max<double>(row1, cross.at(0)[6 + k]);
    if (!std::isnan(cross.at(0)[k * 6 + 1]) && k != 1) col1 = std::max<double>(col1, cross.at(0)[k * 6 + 1]);
  }
  CHECK(row1 < 0.2);  // the silenced speaker with any listener
  CHECK(col1 > 0.4);  // listener 1 with the others' speakers (0.5 here)
  for (int64_t p = 0; p < 6; ++p) CHECK((per_row[p] == 3 && per_col[p] == 3));
  // The diagonal is each member's own accuracy on the sample; sp_acc_member is on the whole set.
  for (int64_t p = 0; p < 6; ++p)
    CHECK(m.at("sp_acc_member/val/" + std::to_string(p)) ==
          Approx(pair_accuracy(*s.algo, *s.game, val, p, p, ch)).margin(1e-6));
}

TEST_CASE("s2p evaluation work grows linearly with the population", "[s2p][population]") {
  // Per member: the eval sets (3 x 6 objects: 172 + 21 + 23, eval.size = 512 takes them all)
  // x (self-play + human message), 2 seed-val objects x 2, and 10 cross-play objects x (own
  // partner + eval.crossplay_partners others).
  auto episodes = [](int64_t P, int64_t partners) {
    test::TempDir dir;
    Setup s({"--env.values=6", "--agents.vocab_size=18", "--eval.size=512",
             "--population.size=" + std::to_string(P), "--eval.crossplay_size=10",
             "--eval.crossplay_partners=" + std::to_string(partners)});
    RunWriter log(dir / "run.h5", {}, "", "test");
    const int64_t before = s.algo->eval_episodes();
    s.algo->evaluate(1, log);
    return s.algo->eval_episodes() - before;
  };
  const int64_t per_member = 216 * 2 + 2 * 2;
  CHECK(episodes(1, 1) == per_member);  // no cross-play for a single pair
  for (int64_t P : {2, 4, 8, 16}) {
    INFO("P = " << P);
    CHECK(episodes(P, 1) == P * (per_member + 10 * 2));
  }
  CHECK(episodes(16, 3) == 16 * (per_member + 10 * 4));
  CHECK(episodes(3, 9) == 3 * (per_member + 10 * 3));  // fewer than 9 others: all of them
}

TEST_CASE("s2p CIC probe batched over members equals the probe of each member alone", "[s2p][population][cic]") {
  test::TempDir dir;
  Setup s({"--population.size=3", "--s2p.schedule=selfplay", "--metrics.cic_every=5",
           "--metrics.cic_max_messages=2000", "--metrics.cic_rows=3"});
  for (int64_t t = 1; t <= 5; ++t) s.algo->train_step(t);
  {
    RunWriter log(dir / "run.h5", {}, "", "test");
    s.algo->evaluate(5, log);
  }
  RunReader r(dir / "run.h5");
  Rng eval_rng = Rng(1).derive("algorithm").derive("eval");
  SignalBatch val;
  for (Split sp : kAllSplits) {
    SignalBatch b = s.game->eval_set(sp, 64, eval_rng);
    if (sp == Split::Val) val = b;
  }
  const ChannelSpec ch{12, 3, false};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);  // enumerated (12^3 <= 2000): unused
  for (int64_t p = 0; p < 3; ++p) {
    torch::NoGradGuard no_grad;
    CicTables alone = probe_signal_pair(
        s.algo->speaker()->member_logits(p, val.sender_input.narrow(0, 0, 3)),
        [&](const torch::Tensor& oh, const torch::Tensor& c) { return s.algo->listener()->forward_member(p, oh, c); },
        val, 3, ch, 2000, gen);
    auto block = r.cic("val", p * 4, 4);  // eval.log_rows = 4 rows per member, the first 3 probed
    REQUIRE(block);
    REQUIRE(block->messages == 1728);
    auto pm = torch::from_blob(block->p_message.data(), {4, 1728}, torch::kFloat32);
    auto pa = torch::from_blob(block->p_action.data(), {4, 1728, 3, 4}, torch::kFloat32);
    INFO("member " << p);
    CHECK(pm.narrow(0, 0, 3).allclose(alone.p_message, 1e-4, 1e-6));
    CHECK(pa.narrow(0, 0, 3).allclose(alone.p_action, 1e-4, 1e-6));
    CHECK(pm[3].isnan().all().item<bool>());  // the fourth row has no probe
  }
}

TEST_CASE("s2p supervised listener batches: the seed objects with fresh distractors and target slots every step",
          "[s2p][issue19]") {
  Setup s({"--env.mode=discrimination", "--env.distractors=3", "--s2p.schedule=supervised"});
  s.algo->train_step(1);
  const SignalBatch first = s.algo->last_sup_listener_batch();
  s.algo->train_step(2);
  const SignalBatch second = s.algo->last_sup_listener_batch();
  REQUIRE(first.size() == s.algo->seed_train().size());
  CHECK(first.concept.equal(s.algo->seed_train().concept));  // the same seed objects, in order
  CHECK(second.concept.equal(first.concept));
  CHECK_FALSE(second.target.equal(first.target));  // target slots drawn afresh
  CHECK_FALSE(second.receiver_input.equal(first.receiver_input));
  // The target candidate is the seed object itself in both.
  auto at_target = [](const SignalBatch& b) {
    return b.receiver_input.gather(1, b.target.view({-1, 1, 1}).expand({b.size(), 1, b.receiver_input.size(2)}));
  };
  CHECK(at_target(first).equal(at_target(second)));
}

TEST_CASE("s2p supervised speaker loss: the sum over positions (reference) or their mean", "[s2p][issue19]") {
  // All speaker weights and biases zero: every position is uniform over the 12 words, so each
  // position's cross-entropy is ln 12; 3 positions -> 3 ln 12 per object with sum, ln 12 with mean.
  for (const char* mode : {"sum", "mean"}) {
    Setup s({"--s2p.schedule=supervised", std::string("--s2p.speaker_loss=") + mode});
    {
      torch::NoGradGuard no_grad;
      for (auto& p : s.algo->speaker()->parameters()) p.zero_();
    }
    Metrics m = s.algo->train_step(1);
    const double expect = (std::string(mode) == "sum" ? 3.0 : 1.0) * std::log(12.0);
    INFO(mode);
    CHECK(m.at("loss/sup_speaker") == Approx(expect).epsilon(1e-6));
  }
  // Default: sum.
  Setup d({"--s2p.schedule=supervised"});
  {
    torch::NoGradGuard no_grad;
    for (auto& p : d.algo->speaker()->parameters()) p.zero_();
  }
  CHECK(d.algo->train_step(1).at("loss/sup_speaker") == Approx(3.0 * std::log(12.0)).epsilon(1e-6));
}

TEST_CASE("s2p selected model: its evaluation is logged as the selected_* splits at the selected step",
          "[s2p][issue19]") {
  test::TempDir dir;
  Setup s({"--s2p.schedule=supervised", "--train.lr=0.01", "--eval.log_rows=8"});
  const std::string path = dir / "run.h5";
  Metrics final_m;
  {
    RunWriter log(path, {}, "", "test");
    for (int64_t t = 1; t <= 60; ++t) s.algo->train_step(t);
    const Metrics good = s.algo->evaluate(60, log);
    REQUIRE(good.at("sp_acc/seed_val") + good.at("listener_human_acc/seed_val") > 1.0);
    {
      torch::NoGradGuard no_grad;  // a worse model afterwards: the step-60 one stays selected
      for (auto& p : s.algo->speaker()->parameters()) p.zero_();
    }
    const Metrics last = s.algo->evaluate(61, log);
    final_m = s.algo->final_metrics(last);
    s.algo->log_final(61, log);
  }
  REQUIRE(final_m.at("selected_step") == 60);
  RunReader r(path);
  CHECK(r.validate().empty());
  for (const std::string split : {"train", "val", "test"}) {
    INFO(split);
    const auto steps = r.step_rows(split);
    REQUIRE(steps.size() == 2);
    const InteractionBatch at60 = r.interactions(split, steps[0].first, steps[0].count);
    const InteractionBatch at61 = r.interactions(split, steps[1].first, steps[1].count);
    const InteractionBatch sel = r.interactions("selected_" + split);
    CHECK(sel.step == std::vector<int64_t>(size_t(at60.rows), 60));
    CHECK(sel.message == at60.message);  // the selected model's messages ...
    CHECK(sel.receiver_action == at60.receiver_action);
    CHECK(sel.message != at61.message);  // ... not the last model's
    // The figures summary.json reports, logged at the selected step.
    const ScalarSeries acc = r.scalar("selected/sp_acc/" + split);
    CHECK(acc.step == std::vector<int64_t>{60});
    CHECK(acc.value[0] == Approx(final_m.at("sp_acc/" + split)).margin(1e-12));
  }
}

TEST_CASE("s2p joint pretraining, early phase ends and the schedule cursor", "[s2p][schedule][issue19]") {
  auto o = small(Schedule::Sched);
  o.joint_pretrain = 2;
  o.listener_pretrain = o.speaker_pretrain = 0;
  CHECK(pattern(o) == "BBSSBSSBSSBS");
  auto u = small(Schedule::Sup2Sp);
  u.joint_pretrain = 1;
  CHECK(pattern(u) == "BLLPPPSSSSSS");

  S2PSchedule s(o, Rng(1));
  s.plan(1);
  CHECK(s.last_phase().kind == PhaseKind::Joint);
  s.end_phase();  // the second joint step is skipped
  StepPlan p = s.plan(2);
  CHECK((p.selfplay && s.last_phase().round == 0));
  s.end_phase();  // round 0's second self-play step is skipped
  p = s.plan(3);
  CHECK((p.sup_speaker && p.sup_listener && s.last_phase().kind == PhaseKind::Supervised));
  CHECK(s.next_phase().round == 1);
  p = s.plan(4);
  CHECK((p.selfplay && s.last_phase().round == 1));
  CHECK_FALSE(s.done());
  s.stop();
  CHECK(s.done());
  p = s.plan(5);  // nothing after a stop
  CHECK_FALSE((p.selfplay || p.sup_speaker || p.sup_listener));

  // Rounds bound the timeline; seek() reaches the cursor of the same steps walked one by one.
  o.rounds = 2;
  S2PSchedule walked(o, Rng(1)), sought(o, Rng(1));
  for (int64_t t = 1; t <= 8; ++t) walked.plan(t);
  sought.seek(8);
  CHECK(walked.cursor() == sought.cursor());
  CHECK(walked.done());  // 2 joint + 2 rounds of 3 steps
}

TEST_CASE("s2p phase stops: each phase ends on the first step its accuracy passes s2p.phase_stop", "[s2p][issue19]") {
  Setup s({"--s2p.schedule=sched", "--s2p.joint_pretrain=400", "--s2p.listener_pretrain=0",
           "--s2p.speaker_pretrain=0", "--s2p.sp_steps=400", "--s2p.sup_steps=400", "--s2p.phase_stop=0.9",
           "--s2p.seed_val_fraction=0", "--s2p.select=last", "--env.split=random", "--train.steps=4000",
           "--train.lr=0.01"});
  struct Step {
    Phase phase;
    Metrics m;
  };
  std::vector<Step> steps;
  for (int64_t t = 1; t <= 4000 && !s.algo->finished(t - 1); ++t) {
    Metrics m = s.algo->train_step(t);
    steps.push_back({s.algo->schedule().last_phase(), m});
  }
  REQUIRE(s.algo->schedule().done());  // the run ended by the reference's rule, not train.steps
  REQUIRE(steps.size() < 4000);
  // Group the steps into phases (kind, round).
  size_t i = 0;
  int phases = 0, ended_early = 0;
  while (i < steps.size()) {
    size_t j = i;
    while (j < steps.size() && steps[j].phase.kind == steps[i].phase.kind && steps[j].phase.round == steps[i].phase.round) ++j;
    const PhaseKind kind = steps[i].phase.kind;
    auto passed = [&](const Metrics& m) {
      if (kind == PhaseKind::SelfPlay) return m.at("stop/val_sp_acc") > 0.9;
      return m.at("stop/seed_speaker_acc") > 0.9 && m.at("stop/seed_listener_acc") > 0.9;
    };
    INFO("phase " << phases << " kind " << int(kind) << " steps " << (j - i));
    CHECK(j - i <= 400);
    const bool last_phase = j == steps.size();
    if (j - i < 400 && !last_phase) {  // ended early: on the first step that passed
      ++ended_early;
      CHECK(passed(steps[j - 1].m));
      for (size_t k = i; k + 1 < j; ++k) CHECK_FALSE(passed(steps[k].m));
    }
    if (kind == PhaseKind::Supervised && last_phase) {  // the run's end: after a supervised phase that passed
      CHECK(steps[j - 1].m.at("stop/val_sp_acc") > 0.9);
    }
    ++phases;
    i = j;
  }
  CHECK(ended_early >= 2);  // at least pretraining and one round's phase
  CHECK(steps.front().phase.kind == PhaseKind::Joint);
  CHECK(steps.back().phase.kind == PhaseKind::Supervised);
}

TEST_CASE("s2p reference data: self-play after the seed set, first-object probes", "[s2p][issue19]") {
  Config cfg = s2p_config({"--env.split=paper", "--s2p.selfplay_data=after_seed", "--s2p.probes=first",
                           "--eval.size=10"});
  auto game = std::make_shared<LewisGame>(LewisGame::Options::from(cfg), Rng(1).derive("env"));
  Rng rng(3);
  // Paper split: train positions are the objects in product order (attribute 0 the most
  // significant digit), so an object's position is its attribute values read in base V.
  auto drawn = game->sample_from(Split::Train, 20, 2000, rng);
  auto pos = (drawn.concept * torch::tensor({16, 4, 1}, torch::kInt64)).sum(1);
  CHECK(pos.min().item<int64_t>() == 20);  // every position from the first after the seed set
  CHECK(pos.max().item<int64_t>() == game->split_size(Split::Train) - 1);
  CHECK(std::get<0>(at::_unique(pos)).numel() == game->split_size(Split::Train) - 20);
  S2P algo(S2P::Options::from(cfg), game, Rng(1).derive("algorithm"));
  Rng any(1);
  for (Split sp : kAllSplits) {
    INFO(split_name(sp));
    const int64_t n = std::min<int64_t>(10, game->split_size(sp));  // val and test hold 6 and 7 objects
    CHECK(algo.eval_set(sp).sender_input.equal(game->slice(sp, 0, n, any).sender_input));
  }
  CHECK_FALSE(algo.eval_set(Split::Train).sender_input.equal(game->eval_set(Split::Train, 10, any).sender_input));
  // Nothing left to self-play on: refused.
  Config all = s2p_config({"--s2p.selfplay_data=after_seed",
                           "--s2p.seed_size=" + std::to_string(game->split_size(Split::Train))});
  auto g2 = std::make_shared<LewisGame>(LewisGame::Options::from(all), Rng(1).derive("env"));
  CHECK_THROWS_WITH(S2P(S2P::Options::from(all), g2, Rng(1)), Catch::Contains("s2p.selfplay_data=after_seed"));
}

TEST_CASE("s2p phase stops survive a checkpoint: resumed runs continue step for step", "[s2p][issue19]") {
  const std::vector<std::string> opts = {"--s2p.schedule=sched", "--s2p.joint_pretrain=50", "--s2p.listener_pretrain=0",
                                         "--s2p.speaker_pretrain=0", "--s2p.sp_steps=30", "--s2p.sup_steps=10",
                                         "--s2p.phase_stop=0.6", "--train.steps=400", "--train.lr=0.01"};
  test::TempDir dir;
  Setup whole(opts), first(opts), second(opts);
  const int64_t half = 60, end = 160;
  for (int64_t t = 1; t <= end && !whole.algo->finished(t - 1); ++t) whole.algo->train_step(t);
  for (int64_t t = 1; t <= half; ++t) first.algo->train_step(t);
  {
    torch::serialize::OutputArchive out;
    first.algo->save_state(out);
    out.save_to(dir / "state.pt");
  }
  torch::serialize::InputArchive in;
  in.load_from(dir / "state.pt");
  second.algo->load_state(in);
  CHECK(second.algo->schedule().cursor() == first.algo->schedule().cursor());
  for (int64_t t = half + 1; t <= end && !second.algo->finished(t - 1); ++t) second.algo->train_step(t);
  CHECK(second.algo->schedule().cursor() == whole.algo->schedule().cursor());
  CHECK(same(snapshot(*second.algo->speaker()), snapshot(*whole.algo->speaker())));
  CHECK(same(snapshot(*second.algo->listener()), snapshot(*whole.algo->listener())));
}

namespace {

// Whether member p's slice differs between two stacked-population snapshots.
bool member_differs(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, int64_t p) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i][p], b[i][p])) return true;
  return false;
}

// Runs `steps - 1` identical self-play steps on two copies of a P = 3 population, then moves
// speaker 0 of the second copy and runs step `steps` on both: the listeners whose parameters then
// differ are those that heard speaker 0 at that step.
std::vector<int64_t> heard_speaker0(const std::string& pairing, int64_t steps) {
  const std::vector<std::string> opts = {"--population.size=3", "--population.pairing=" + pairing,
                                         "--s2p.schedule=selfplay", "--population.imitate_every=0"};
  Setup a(opts), b(opts);
  for (int64_t t = 1; t < steps; ++t) a.algo->train_step(t), b.algo->train_step(t);
  REQUIRE(same(snapshot(*a.algo->listener()), snapshot(*b.algo->listener())));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : b.algo->speaker()->parameters()) p[0].add_(0.5);
  }
  a.algo->train_step(steps);
  b.algo->train_step(steps);
  const auto la = snapshot(*a.algo->listener()), lb = snapshot(*b.algo->listener());
  std::vector<int64_t> heard;
  for (int64_t p = 0; p < 3; ++p)
    if (member_differs(la, lb, p)) heard.push_back(p);
  return heard;
}

}  // namespace

TEST_CASE("s2p pairing: independent pairs never cross; uniform pairing gives each speaker one listener per step",
          "[s2p][population]") {
  // Independent: only listener 0 ever hears speaker 0.
  for (int64_t t : {1, 2, 5}) CHECK(heard_speaker0("independent", t) == std::vector<int64_t>{0});
  // Uniform: a permutation each step, so exactly one listener hears speaker 0, and which one
  // changes from step to step (seeded: the same every time).
  std::set<int64_t> listeners;
  for (int64_t t = 1; t <= 6; ++t) {
    const auto heard = heard_speaker0("uniform", t);
    INFO("step " << t);
    REQUIRE(heard.size() == 1);
    listeners.insert(heard[0]);
  }
  CHECK(listeners.size() >= 2);
  CHECK(heard_speaker0("uniform", 3) == heard_speaker0("uniform", 3));
}

TEST_CASE("s2p supervised steps: listener-only steps leave the speaker, speaker-only steps the listener",
          "[s2p][schedule]") {
  // sup2sp with 2 listener then 3 speaker pretraining steps: "LLPPP" then self-play.
  Setup s({"--s2p.schedule=sup2sp", "--s2p.listener_pretrain=2", "--s2p.speaker_pretrain=3", "--train.steps=10"});
  auto sp = snapshot(*s.algo->speaker()), li = snapshot(*s.algo->listener());
  for (int64_t t = 1; t <= 2; ++t) {
    s.algo->train_step(t);
    CHECK(s.algo->last_plan().sup_listener);
    CHECK(same(sp, snapshot(*s.algo->speaker())));  // L: the speaker does not move
    CHECK_FALSE(same(li, snapshot(*s.algo->listener())));
    li = snapshot(*s.algo->listener());
  }
  for (int64_t t = 3; t <= 5; ++t) {
    s.algo->train_step(t);
    CHECK(s.algo->last_plan().sup_speaker);
    CHECK(same(li, snapshot(*s.algo->listener())));  // P: the listener does not move
    CHECK_FALSE(same(sp, snapshot(*s.algo->speaker())));
    sp = snapshot(*s.algo->speaker());
  }
  s.algo->train_step(6);  // S: both move
  CHECK_FALSE(same(sp, snapshot(*s.algo->speaker())));
  CHECK_FALSE(same(li, snapshot(*s.algo->listener())));

  // sched_rand_frz: its frozen self-play steps do not move the speaker.
  Setup r({"--s2p.schedule=sched_rand_frz", "--s2p.listener_pretrain=1", "--s2p.speaker_pretrain=1",
           "--s2p.sp_steps=3", "--s2p.sup_steps=1", "--train.steps=60"});
  int64_t frozen = 0;
  for (int64_t t = 1; t <= 40; ++t) {
    const auto before = snapshot(*r.algo->speaker());
    r.algo->train_step(t);
    if (r.algo->last_plan().selfplay && r.algo->last_plan().speaker_frozen) {
      ++frozen;
      CHECK(same(before, snapshot(*r.algo->speaker())));
    }
  }
  CHECK(frozen > 5);  // about half of the 30 self-play steps
}

TEST_CASE("s2p selection: the first of equally good models is kept, and its parameters are put back", "[s2p]") {
  Setup s({"--s2p.schedule=supervised", "--train.lr=0.01"});
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  for (int64_t t = 1; t <= 30; ++t) s.algo->train_step(t);
  s.algo->evaluate(30, log);
  const auto at30 = snapshot(*s.algo->speaker());
  const Metrics last = s.algo->evaluate(40, log);  // the same model again: a tie
  for (int64_t t = 41; t <= 45; ++t) s.algo->train_step(t);  // moves on, not evaluated
  REQUIRE_FALSE(same(at30, snapshot(*s.algo->speaker())));
  const Metrics final_m = s.algo->final_metrics(last);
  CHECK(final_m.at("selected_step") == 30);  // the first of the tied evaluations
  CHECK(same(at30, snapshot(*s.algo->speaker())));  // its parameters are put back, not the last ones
}

namespace {

// Adam's first and second moments of every parameter of a stacked population ([P, ...] each),
// in parameter order (zeros where the optimiser has no state yet).
std::vector<torch::Tensor> adam_moments(torch::nn::Module& m, torch::optim::Adam& opt) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) {
    auto* st = adam_state(opt, p);
    out.push_back(st ? st->exp_avg().clone() : torch::zeros_like(p));
    out.push_back(st ? st->exp_avg_sq().clone() : torch::zeros_like(p));
  }
  return out;
}

}  // namespace

TEST_CASE("s2p imitation: the best member on seed-validation is imitated and is the only speaker left unmoved",
          "[s2p][population]") {
  // sched_frz: one listener and two speaker pretraining steps (so every speaker has Adam moments),
  // then frozen-speaker self-play and listener-only supervision: after step 3 only imitation
  // (every step, one step each) can move a speaker. After step 3 a trained pair (self-play) is
  // copied into member 2, which is then the best on seed-validation whatever the others' luck.
  const std::vector<std::string> base = {"--population.size=3", "--env.split=random", "--env.values=6",
                                         "--agents.vocab_size=18", "--s2p.seed_size=150"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    return extra;
  };
  Setup trained(with({"--s2p.schedule=selfplay", "--train.lr=0.01"}));
  for (int64_t t = 1; t <= 150; ++t) trained.algo->train_step(t);
  Setup s(with({"--s2p.schedule=sched_frz", "--s2p.listener_pretrain=1", "--s2p.speaker_pretrain=2",
                "--train.steps=200", "--population.imitate_every=1", "--population.imitate_steps=1"}));
  for (int64_t t = 1; t <= 3; ++t) s.algo->train_step(t);
  REQUIRE(s.algo->last_plan().sup_speaker);
  {
    torch::NoGradGuard no_grad;
    auto copy_member = [](torch::nn::Module& to, torch::nn::Module& from, int64_t dst, int64_t src) {
      auto a = to.parameters(), b = from.parameters();
      for (size_t i = 0; i < a.size(); ++i) a[i][dst].copy_(b[i][src]);
    };
    copy_member(*s.algo->speaker(), *trained.algo->speaker(), 2, 0);
    copy_member(*s.algo->listener(), *trained.algo->listener(), 2, 0);
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto objects = s.algo->eval_set(Split::Train).sender_input;
  auto greedy = [&] {  // [P, objects, L]
    torch::NoGradGuard no_grad;
    return s.algo->speaker()->speak(objects, Relaxation::Greedy, 1.0, gen).symbols.view({3, objects.size(0), -1});
  };
  auto agreement = [&](const torch::Tensor& msgs, int64_t p) {  // member p's messages equal member 2's
    return msgs[p].eq(msgs[2]).all(1).to(torch::kFloat64).mean().item<double>();
  };
  const auto first = greedy();
  auto before = snapshot(*s.algo->speaker());
  auto moments_before = adam_moments(*s.algo->speaker(), s.algo->speaker_optimizer());
  for (int64_t t = 4; t <= 103; ++t) {
    s.algo->train_step(t);
    const StepPlan& plan = s.algo->last_plan();
    REQUIRE_FALSE(plan.sup_speaker);
    REQUIRE((!plan.selfplay || plan.speaker_frozen));
    const auto now = snapshot(*s.algo->speaker());
    const auto moments = adam_moments(*s.algo->speaker(), s.algo->speaker_optimizer());
    INFO("step " << t);
    CHECK_FALSE(member_differs(before, now, 2));  // the best speaker stays exactly as it was,
    CHECK_FALSE(member_differs(moments_before, moments, 2));  // its Adam moments too
    if (t <= 6) {                                             // the others move at every imitation step
      CHECK(member_differs(before, now, 0));
      CHECK(member_differs(before, now, 1));
      CHECK(member_differs(moments_before, moments, 0));
    }
    before = now;
    moments_before = moments;
  }
  // ... towards the best speaker's messages.
  const auto last = greedy();
  for (int64_t p : {0, 1}) {
    INFO("member " << p << ": agreement with member 2 " << agreement(first, p) << " -> " << agreement(last, p));
    CHECK(agreement(first, p) < 0.2);
    CHECK(agreement(last, p) > 0.5);
  }
}

TEST_CASE("s2p imitation with GRU members: the imitated member's parameters and whole Adam state are kept",
          "[s2p][population]") {
  // GRU members are modules of their own (member_parameters gives whole tensors): the kept
  // member gets back its parameters, moments and step count, or no state when it had none.
  Setup s({"--population.size=2", "--agents.arch=gru", "--agents.hidden=16", "--agents.embed=8",
           "--s2p.schedule=sched_frz", "--s2p.listener_pretrain=1", "--s2p.speaker_pretrain=1",
           "--train.steps=40", "--population.imitate_every=1", "--population.imitate_steps=1"});
  auto state_of = [&](const torch::Tensor& p) { return adam_state(s.algo->speaker_optimizer(), p); };
  s.algo->train_step(1);  // L: no speaker step, so only imitation made speaker state
  int64_t stateless = 0;  // members whose parameters have no Adam state: the kept one
  for (int64_t p = 0; p < 2; ++p) {
    bool none = true;
    for (auto& [tensor, row] : s.algo->speaker()->member_parameters(p)) none = none && state_of(tensor) == nullptr;
    stateless += none;
  }
  CHECK(stateless == 1);
  s.algo->train_step(2);  // P: both speakers step
  for (int64_t t = 3; t <= 8; ++t) {
    const auto parts = [&] {
      std::vector<std::vector<torch::Tensor>> m(2);
      for (int64_t p = 0; p < 2; ++p)
        for (auto& [tensor, row] : s.algo->speaker()->member_parameters(p)) {
          REQUIRE(row == -1);
          auto* st = state_of(tensor);
          REQUIRE(st != nullptr);
          m[size_t(p)].insert(m[size_t(p)].end(), {tensor.detach().clone(), st->exp_avg().clone(),
                                                   st->exp_avg_sq().clone(), torch::tensor(st->step())});
        }
      return m;
    };
    const auto before = parts();
    s.algo->train_step(t);
    REQUIRE_FALSE(s.algo->last_plan().sup_speaker);
    const auto after = parts();
    INFO("step " << t);
    // Exactly one member is kept whole (the best), the other moves.
    CHECK((test::same(before[0], after[0]) != test::same(before[1], after[1])));
  }
}

TEST_CASE("s2p member threads: run.threads=2 splits self-play by member and trains as one thread does",
          "[s2p][population]") {
  // selfplay; and sched with one-step phases and imitation every other step, so that supervised
  // listener, speaker and imitation updates run by member slices too.
  const std::vector<std::vector<std::string>> schedules = {
      {"--s2p.schedule=selfplay"},
      {"--s2p.schedule=sched", "--s2p.listener_pretrain=1", "--s2p.speaker_pretrain=1", "--s2p.sp_steps=1",
       "--s2p.sup_steps=1", "--population.imitate_every=2", "--population.imitate_steps=1"}};
  for (const auto& schedule : schedules)
  for (std::string act : {"none", "relu"}) {
    // P = 5: slices of 2 and 3 members. Gumbel messages (the default) and straight-through.
    for (std::string relax : {"gumbel", "st_gumbel"}) {
      INFO(schedule[0] << " agents.activation=" << act << " agents.relaxation=" << relax);
      std::vector<std::string> opts = {"--population.size=5", "--agents.activation=" + act,
                                       "--agents.relaxation=" + relax};
      opts.insert(opts.end(), schedule.begin(), schedule.end());
      const bool selfplay_only = schedule.size() == 1;
      auto with = [&](const std::string& threads) {
        auto o = opts;
        o.push_back("--run.threads=" + threads);
        return o;
      };
      Setup one(with("1")), two(with("2"));
      for (int64_t t = 1; t <= (selfplay_only ? 4 : 6); ++t) {
        const auto m1 = one.algo->train_step(t), m2 = two.algo->train_step(t);
        CHECK(m1.size() == m2.size());
        for (const auto& [k, v] : m1)
          if (k.rfind("loss/", 0) == 0) CHECK(v == Approx(m2.at(k)).epsilon(1e-5));
        if (!selfplay_only) continue;
        CHECK(one.algo->selfplay_parts() == 1);
        CHECK(two.algo->selfplay_parts() == 2);
      }
      const auto a = snapshot(*one.algo->speaker()), b = snapshot(*two.algo->speaker());
      const auto c = snapshot(*one.algo->listener()), d = snapshot(*two.algo->listener());
      // Equal up to float rounding (the products' blocking differs with the slice size; Adam's
      // normalised step turns a rounding-sized gradient difference into ~1e-5): four Adam
      // steps at this learning rate move a parameter by ~1e-2, so pairs mixed up would show.
      for (size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-4, 5e-5));
      for (size_t i = 0; i < c.size(); ++i) CHECK(torch::allclose(c[i], d[i], 1e-4, 5e-5));
      CHECK_FALSE(torch::allclose(a.back(), snapshot(*Setup(with("1")).algo->speaker()).back(), 1e-4, 1e-3));
      // Evaluation by member slices: the same figures from the same parameters, and the same
      // count of episodes played.
      {
        torch::NoGradGuard no_grad;
        auto copy = [](torch::nn::Module& from, torch::nn::Module& to) {
          auto src = from.parameters(), dst = to.parameters();
          for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
        };
        copy(*one.algo->speaker(), *two.algo->speaker());
        copy(*one.algo->listener(), *two.algo->listener());
      }
      test::TempDir dir;
      Metrics e1, e2;
      {
        RunWriter log1(dir / "one.h5", {}, "", "test"), log2(dir / "two.h5", {}, "", "test");
        e1 = one.algo->evaluate(4, log1);
        e2 = two.algo->evaluate(4, log2);
      }
      CHECK(e1 == e2);
      CHECK(e1.at("sp_acc/train") > 0.0);
      CHECK(one.algo->eval_episodes() == two.algo->eval_episodes());
    }
  }
  // Uniform pairing and frozen speakers keep the batched step.
  Setup uniform({"--population.size=4", "--s2p.schedule=selfplay", "--population.pairing=uniform", "--run.threads=2"});
  uniform.algo->train_step(1);
  CHECK(uniform.algo->selfplay_parts() == 1);
}
