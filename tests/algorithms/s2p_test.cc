#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "algorithms/s2p.h"
#include "core/errors.h"
#include "envs/lewis/lewis.h"
#include "experiments/commands.h"
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

struct Setup {
  std::shared_ptr<LewisGame> game;
  std::unique_ptr<S2P> algo;
  explicit Setup(const std::vector<std::string>& extra) {
    Config cfg = s2p_config(extra);
    game = std::make_shared<LewisGame>(LewisGame::Options::from(cfg), Rng(1).derive("env"));
    algo = std::make_unique<S2P>(S2P::Options::from(cfg), game, Rng(1).derive("algorithm"));
  }
};

std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

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
           "--population.imitate_every=5", "--population.imitate_steps=2"});
  auto before = snapshot(*s.algo->speaker());
  for (int64_t t = 1; t <= 20; ++t) s.algo->train_step(t);
  auto after = snapshot(*s.algo->speaker());
  for (size_t i = 0; i < before.size(); ++i)
    for (int64_t p = 0; p < 3; ++p) CHECK_FALSE(torch::equal(before[i][p], after[i][p]));  // every member moved
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = s.algo->evaluate(20, log);
  double diag = 0;
  for (int64_t p = 0; p < 3; ++p) {
    const std::string sp = std::to_string(p);
    REQUIRE(m.count("crossplay/val/s" + sp + "_l" + sp));
    CHECK(m.at("crossplay/val/s" + sp + "_l" + sp) == Approx(m.at("sp_acc_member/val/" + sp)));
    diag += m.at("sp_acc_member/val/" + sp);
    for (int64_t q = 0; q < 3; ++q) CHECK(m.count("crossplay/val/s" + sp + "_l" + std::to_string(q)));
  }
  CHECK(m.at("sp_acc/val") == Approx(diag / 3));
  log.flush();
  RunReader r(dir / "run.h5");
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
}
