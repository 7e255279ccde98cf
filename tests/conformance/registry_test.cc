// The conformance suite: every registered env keeps the contract of its kind (envs/env.h,
// envs/markov_game.h), and every env x algorithm pair either trains (a few steps, an analysable
// run file, a checkpoint round trip that continues identically) or is refused before anything
// is built (exit 2, naming both). It loops over the registries: a newly registered env or
// algorithm is covered without a test of its own (docs/adding-an-env.md).
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <set>

#include "algorithms/algorithm.h"
#include "algorithms/pairs.h"
#include "algorithms/trainer.h"
#include "envs/markov_game.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

namespace emcomm {
namespace {

namespace fs = std::filesystem;

bool known_option(const std::string& key, const EnvEntry& env, const AlgorithmEntry& algo) {
  return env.options.find(key) || algo.options.find(key) || trainer_options().find(key);
}

// The algorithm's small-run overrides that apply to this env, plus `extra`.
std::vector<std::string> small_overrides(const EnvEntry& env, const AlgorithmEntry& algo,
                                         const std::vector<std::string>& extra = {}) {
  std::map<std::string, std::string> by_key;  // later lists win: the algorithm's, the env's, extra
  for (const auto* list : {&algo.small_run, &env.small_run, &extra})
    for (const auto& s : *list) {
      const std::string key = s.substr(2, s.find('=') - 2);
      if (known_option(key, env, algo)) by_key[key] = s;
    }
  std::vector<std::string> o{"--env.name=" + env.name, "--train.algorithm=" + algo.name};
  for (const auto& kv : by_key) o.push_back(kv.second);
  return o;
}

// An algorithm that trains `env` (for building the env with a valid config).
const AlgorithmEntry* trainer_of(const EnvEntry& env) {
  for (const AlgorithmEntry* a : AlgorithmRegistry::entries())
    if (pair_refusal(env, *a).empty()) return a;
  return nullptr;
}

std::shared_ptr<Env> build_env(const EnvEntry& env, const std::vector<std::string>& variant = {}, uint64_t seed = 7) {
  const AlgorithmEntry* algo = trainer_of(env);
  REQUIRE(algo != nullptr);
  Config cfg = resolve_config(build_schema(), "", small_overrides(env, *algo, variant));
  return env.make(cfg, Rng(seed));
}

// A variant that needs more options than the one it sets (e.g. env.payoffs=fixed needs the
// payoff matrices) is refused with a UserError: reported, not tested. The defaults never are.
bool buildable(const EnvEntry& env, const std::vector<std::string>& variant) {
  try {
    build_env(env, variant);
    return true;
  } catch (const UserError& e) {
    REQUIRE_FALSE(variant.empty());
    (void)e;  // e.g. env.payoffs=fixed without env.payoff0/1
    return false;
  }
}

// The env's defaults, then every other value of each of its choice options (scenarios, modes,
// channel types, splits, ...) with the rest at their defaults: the contracts hold for all.
std::vector<std::vector<std::string>> variants_of(const EnvEntry& env) {
  std::vector<std::vector<std::string>> out{{}};
  for (const OptionSpec& o : env.options.specs())
    if (o.type == OptType::Choice)
      for (const std::string& c : o.choices)
        if (c != o.default_value) out.push_back({"--" + o.name + "=" + c});
  return out;
}

std::string label(const EnvEntry& e, const std::vector<std::string>& variant) {
  return e.name + (variant.empty() ? "" : " " + variant.front());
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  return !a.defined() || (a.sizes() == b.sizes() && a.dtype() == b.dtype() && a.equal(b));
}

void check_batch(const SignalingGame& g, const SignalBatch& b, int64_t B) {
  std::vector<int64_t> shape{B};
  for (int64_t d : g.object_shape()) shape.push_back(d);
  CHECK(b.sender_input.sizes().vec() == shape);
  CHECK(b.sender_input.dtype() == torch::kFloat32);
  int64_t numel = 1;
  for (int64_t d : g.object_shape()) numel *= d;
  CHECK(numel == g.sender_input_dim());
  const ReceiverSpec r = g.receiver_spec();
  if (r.kind == ReceiverSpec::Kind::Discriminate) {
    REQUIRE(b.receiver_input.defined());
    CHECK(b.receiver_input.size(0) == B);
    CHECK(b.receiver_input.size(1) == r.candidates);
    CHECK(b.receiver_input[0][0].numel() == r.candidate_dim);
    REQUIRE(b.target.sizes().vec() == std::vector<int64_t>{B});
    CHECK(b.target.dtype() == torch::kInt64);
    CHECK(b.target.min().item<int64_t>() >= 0);
    CHECK(b.target.max().item<int64_t>() < r.candidates);
    // The target candidate is the sender's object.
    for (int64_t i = 0; i < B; ++i)
      CHECK(b.receiver_input[i][b.target[i].item<int64_t>()].reshape({-1}).equal(b.sender_input[i].reshape({-1})));
  } else {
    REQUIRE(b.target.sizes().vec() == std::vector<int64_t>{B, r.attributes});
    CHECK(b.target.dtype() == torch::kInt64);
    CHECK(b.target.min().item<int64_t>() >= 0);
    CHECK(b.target.max().item<int64_t>() < r.values);
  }
  if (b.concept.defined() && b.concept.numel() > 0) {
    CHECK(b.concept.size(0) == B);
    CHECK(b.concept.dtype() == torch::kInt64);
  }
}

}  // namespace

TEST_CASE("conformance: every env entry declares a kind that its envs have", "[conformance]") {
  REQUIRE(EnvRegistry::entries().size() >= 4);
  for (const EnvEntry* e : EnvRegistry::entries()) {
    DYNAMIC_SECTION(e->name) {
      auto env = build_env(*e);
      CHECK(env->name() == e->name);
      const bool signaling = dynamic_cast<SignalingGame*>(env.get()) != nullptr;
      const bool markov = dynamic_cast<MarkovGame*>(env.get()) != nullptr;
      CHECK(signaling == (e->kind == EnvKind::Signaling));
      CHECK(markov == (e->kind == EnvKind::Markov));
      if (auto* g = dynamic_cast<SignalingGame*>(env.get())) {
        const bool image = g->object_shape().size() > 1;
        if (e->observations == Observations::Vector) CHECK_FALSE(image);
        if (e->observations == Observations::Image) CHECK(image);
        if (!e->human_language) CHECK_FALSE(g->has_human_language());
      }
      CHECK(trainer_of(*e) != nullptr);  // every env is trained by some algorithm
    }
  }
}

TEST_CASE("conformance: signaling games keep the SignalingGame contract", "[conformance]") {
  for (const EnvEntry* e : EnvRegistry::entries()) {
    if (e->kind != EnvKind::Signaling) continue;
    for (const auto& variant : variants_of(*e)) if (buildable(*e, variant)) DYNAMIC_SECTION(label(*e, variant)) {
      auto env = build_env(*e, variant);
      auto& g = dynamic_cast<SignalingGame&>(*env);
      const int64_t B = 8;
      for (Split s : kAllSplits) {
        INFO("split " << split_name(s));
        REQUIRE(g.split_size(s) > 0);
        Rng rng(3);
        check_batch(g, g.sample(s, B, rng), B);
        // The same seed gives the same batch; another seed another one.
        Rng r1(11), r2(11), r3(12);
        auto a = g.sample(s, B, r1), b = g.sample(s, B, r2), c = g.sample(s, B, r3);
        CHECK(same(a.sender_input, b.sender_input));
        CHECK(same(a.receiver_input, b.receiver_input));
        CHECK(same(a.target, b.target));
        CHECK_FALSE((same(a.sender_input, c.sender_input) && same(a.target, c.target)));
        // eval_set(size) holds the objects at eval_positions(n, size), in that order; slice the
        // first ones in split order.
        const int64_t n = g.split_size(s), k = std::min<int64_t>(n, 16);
        auto set = g.eval_set(s, k, rng);
        check_batch(g, set, k);
        const auto pos = eval_positions(n, k);
        for (int64_t q = 0; q < k; ++q) {
          auto one = g.slice(s, pos[q], 1, rng);
          CHECK(one.sender_input[0].equal(set.sender_input[q]));
        }
        auto first = g.slice(s, 0, k, rng);
        check_batch(g, first, k);
        CHECK(first.sender_input[0].equal(set.sender_input[0]));
        CHECK_THROWS_AS(g.slice(s, n - 1, 2, rng), UserError);
        // Losses, actions and scores of any receiver output.
        auto batch = g.sample(s, B, rng);
        const ReceiverSpec r = g.receiver_spec();
        torch::Tensor out = r.kind == ReceiverSpec::Kind::Discriminate ? torch::randn({B, r.candidates})
                                                                       : torch::randn({B, r.attributes, r.values});
        auto loss = g.loss(out, batch);
        CHECK(loss.sizes().vec() == std::vector<int64_t>{B});
        CHECK(torch::isfinite(loss).all().item<bool>());
        auto correct = g.correct(out, batch);
        CHECK(correct.sizes().vec() == std::vector<int64_t>{B});
        CHECK(((correct == 0) | (correct == 1)).all().item<bool>());
        CHECK(g.receiver_action(out).size(0) == B);
        // An output that puts all its mass on the target scores 1 everywhere, with a lower loss.
        torch::Tensor perfect = torch::zeros_like(out);
        if (r.kind == ReceiverSpec::Kind::Discriminate)
          perfect.scatter_(1, batch.target.unsqueeze(1), 50.0);
        else
          perfect.scatter_(2, batch.target.unsqueeze(2), 50.0);
        CHECK(g.correct(perfect, batch).eq(1).all().item<bool>());
        CHECK(g.loss(perfect, batch).max().item<float>() < 1e-3);
        if (g.has_human_language()) {
          auto h = g.human_messages(batch);
          CHECK(h.sizes().vec() == std::vector<int64_t>{B, g.human_length()});
          CHECK(h.min().item<int64_t>() >= -1);
          CHECK(h.max().item<int64_t>() < g.human_vocab_size());
          // -1 is padding after the last word only.
          auto pad = h.eq(-1).to(torch::kInt64);
          CHECK(std::get<0>(pad.cummax(1)).equal(pad));
          CHECK(h.select(1, 0).ge(0).all().item<bool>());
        }
      }
      // Splits are disjoint: no val or test object equals a train object (inputs compared).
      Rng rng(5);
      auto train = g.eval_set(Split::Train, 256, rng).sender_input.reshape({-1, g.sender_input_dim()});
      for (Split s : {Split::Val, Split::Test}) {
        auto other = g.eval_set(s, 64, rng).sender_input.reshape({-1, g.sender_input_dim()});
        auto d = torch::cdist(other, train);
        CHECK(d.min().item<float>() > 0);
      }
    }
  }
}

namespace {

// Random valid integer actions [B, N, F] and messages [B, N, L] for `g`.
std::pair<torch::Tensor, torch::Tensor> random_moves(const MarkovGame& g, int64_t B, torch::Generator& gen) {
  const int64_t N = g.num_agents();
  int64_t F = 1, L = 1;
  for (int64_t i = 0; i < N; ++i) F = std::max(F, g.agent_spec(i).action_factors), L = std::max(L, g.agent_spec(i).msg_len);
  auto a = torch::zeros({B, N, F}, torch::kInt64), m = torch::zeros({B, N, L}, torch::kInt64);
  for (int64_t i = 0; i < N; ++i) {
    const AgentSpec s = g.agent_spec(i);
    if (s.action_factors > 0)
      a.select(1, i).narrow(1, 0, s.action_factors).copy_(torch::randint(s.action_values, {B, s.action_factors}, gen));
    if (s.vocab_size > 0)
      m.select(1, i).narrow(1, 0, s.msg_len).copy_(torch::randint(s.vocab_size, {B, s.msg_len}, gen));
  }
  return {a, m};
}

// The one-hot form of integer moves, as step_soft takes them.
std::pair<torch::Tensor, torch::Tensor> one_hot_moves(const MarkovGame& g, const torch::Tensor& a, const torch::Tensor& m) {
  const int64_t N = g.num_agents(), B = a.size(0);
  int64_t FK = 1, LV = 1;
  for (int64_t i = 0; i < N; ++i) {
    const AgentSpec s = g.agent_spec(i);
    FK = std::max(FK, s.action_factors * s.action_values);
    if (s.vocab_size > 0) LV = std::max(LV, s.msg_len * s.vocab_size);
  }
  auto sa = torch::zeros({B, N, FK}), sm = torch::zeros({B, N, LV});
  for (int64_t i = 0; i < N; ++i) {
    const AgentSpec s = g.agent_spec(i);
    if (s.action_factors > 0)
      sa.select(1, i).narrow(1, 0, s.action_factors * s.action_values)
          .copy_(torch::one_hot(a.select(1, i).narrow(1, 0, s.action_factors), s.action_values).reshape({B, -1}));
    if (s.vocab_size > 0)
      sm.select(1, i).narrow(1, 0, s.msg_len * s.vocab_size)
          .copy_(torch::one_hot(m.select(1, i).narrow(1, 0, s.msg_len), s.vocab_size).reshape({B, -1}));
  }
  return {sa, sm};
}

void check_state(const MarkovGame& g, const MarkovState& s, int64_t B) {
  const int64_t N = g.num_agents();
  REQUIRE(int64_t(s.obs.size()) == N);
  for (int64_t i = 0; i < N; ++i) {
    CHECK(s.obs[i].sizes().vec() == std::vector<int64_t>{B, g.agent_spec(i).obs_dim});
    CHECK(s.obs[i].dtype() == torch::kFloat32);
    CHECK(torch::isfinite(s.obs[i]).all().item<bool>());
  }
  CHECK(s.speaks.sizes().vec() == std::vector<int64_t>{B, N});
  CHECK(s.acts.sizes().vec() == std::vector<int64_t>{B, N});
  CHECK(s.speaks.dtype() == torch::kBool);
  CHECK(s.acts.dtype() == torch::kBool);
  CHECK(s.reward.sizes().vec() == std::vector<int64_t>{B, N});
  CHECK(torch::isfinite(s.reward).all().item<bool>());
  CHECK(s.done.sizes().vec() == std::vector<int64_t>{B});
  for (int64_t i = 0; i < N; ++i) {  // only speakers speak, only actors act
    if (g.agent_spec(i).vocab_size == 0) CHECK_FALSE(s.speaks.select(1, i).any().item<bool>());
    if (g.agent_spec(i).action_factors == 0) CHECK_FALSE(s.acts.select(1, i).any().item<bool>());
  }
}

bool same_state(const MarkovState& a, const MarkovState& b) {
  bool ok = a.obs.size() == b.obs.size() && same(a.speaks, b.speaks) && same(a.acts, b.acts) &&
            a.reward.allclose(b.reward, 1e-5, 1e-6) && same(a.done, b.done);
  for (size_t i = 0; ok && i < a.obs.size(); ++i) ok = a.obs[i].allclose(b.obs[i], 1e-5, 1e-6);
  return ok;
}

}  // namespace

TEST_CASE("conformance: Markov games keep the MarkovGame contract", "[conformance]") {
  for (const EnvEntry* e : EnvRegistry::entries()) {
    if (e->kind != EnvKind::Markov) continue;
    for (const auto& variant : variants_of(*e)) if (buildable(*e, variant)) DYNAMIC_SECTION(label(*e, variant)) {
      auto env1 = build_env(*e, variant), env2 = build_env(*e, variant), env3 = build_env(*e, variant);
      auto& g1 = dynamic_cast<MarkovGame&>(*env1);
      auto& g2 = dynamic_cast<MarkovGame&>(*env2);
      auto& g3 = dynamic_cast<MarkovGame&>(*env3);
      const int64_t B = 6, N = g1.num_agents();
      REQUIRE(N >= 2);
      Rng r1(21), r2(21), r3(22);
      MarkovState s1 = g1.reset(B, r1), s2 = g2.reset(B, r2), s3 = g3.reset(B, r3);
      check_state(g1, s1, B);
      CHECK_FALSE(s1.done.any().item<bool>());
      CHECK(s1.reward.abs().sum().item<float>() == 0);
      CHECK(same_state(s1, s2));  // the same seed, the same episodes
      auto gen = at::make_generator<at::CPUGeneratorImpl>(99);
      int64_t steps = 0;
      bool differs = false;
      while (!s1.all_done()) {
        REQUIRE(steps < 10000);
        CHECK_FALSE(s1.done.any().item<bool>());  // done comes to every episode at once, at the end
        auto [a, m] = random_moves(g1, B, gen);
        // An imposed message changes only the slot where the listener hears the speaker.
        for (int64_t i = 0; i < N; ++i)
          for (int64_t j = 0; j < N; ++j) {
            const AgentSpec sj = g1.agent_spec(j);
            if (!g1.hears(i, j) || sj.vocab_size == 0) continue;
            std::vector<torch::Tensor> imposed;
            const int64_t tried = std::min<int64_t>(sj.vocab_size, 64);  // every symbol (up to 64)
            for (int64_t v = 0; v < tried; ++v)
              imposed.push_back(g1.impose_message(i, j, s1.obs[i], torch::full({B, sj.msg_len}, v, torch::kInt64)));
            auto varying = torch::zeros({g1.agent_spec(i).obs_dim}, torch::kBool);
            for (const auto& x : imposed) varying |= (x != imposed[0]).any(0);
            const int64_t slot = varying.sum().item<int64_t>();
            CHECK(slot > 0);                                  // the message reaches the observation
            CHECK(slot <= sj.msg_len * sj.vocab_size);        // and nothing else moves with it
            if (tried == sj.vocab_size)  // then `varying` is the whole slot: outside it, obs is unchanged
              for (const auto& x : imposed)
                CHECK(x.index({torch::indexing::Slice(), ~varying})
                          .equal(s1.obs[i].index({torch::indexing::Slice(), ~varying})));
          }
        auto [sa, sm] = one_hot_moves(g1, a, m);
        s1 = g1.step(a, m, r1);
        s2 = g2.step_soft(sa, sm, r2);
        s3 = g3.step(a, m, r3);
        check_state(g1, s1, B);
        CHECK(same_state(s1, s2));  // one-hot soft moves are the integer moves
        differs = differs || !same_state(s1, s3);
        ++steps;
      }
      CHECK(steps >= 1);
      CHECK(s1.done.all().item<bool>());
      CHECK(differs);  // another seed, other episodes
    }
  }
}

namespace {

// Trains `cfg` with a Trainer writing run file `h5`; returns the last evaluation's figures.
struct TrainedRun {
  Metrics last;
  int64_t last_step = 0;
  std::string checkpoint;
};

TrainedRun train(const Config& cfg, const std::string& h5, const std::string& ckpt_dir) {
  Rng root(uint64_t(cfg.get_int("run.seed")));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  check_instance(*env, cfg);
  auto algo = AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm").make(cfg, env, root.derive("algorithm"));
  RunWriter log(h5, cfg.values(), cfg.to_ini(), "conformance");
  Trainer::Options o = Trainer::Options::from(cfg);
  o.checkpoint_dir = ckpt_dir;
  Trainer t(o, log);
  TrainedRun r;
  r.last = t.run(*algo);
  r.last_step = t.last_step;
  r.checkpoint = t.last_checkpoint;
  return r;
}

TrainedRun resume(const Config& cfg, const std::string& h5, const std::string& checkpoint, const std::string& ckpt_dir) {
  Rng root(uint64_t(cfg.get_int("run.seed")));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  auto algo = AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm").make(cfg, env, root.derive("algorithm"));
  Trainer::Options o = Trainer::Options::from(cfg);
  o.checkpoint_dir = ckpt_dir;
  o.stop_after = 0;
  Trainer t(o);
  const int64_t step = t.resume(*algo, checkpoint);
  RunWriter log(h5, step);
  t.set_log(log);
  TrainedRun r;
  r.last = t.run(*algo);
  r.last_step = t.last_step;
  return r;
}

Metrics without_time(Metrics m) {
  m.erase("time/wall_seconds");
  return m;
}

}  // namespace

TEST_CASE("conformance: every env x algorithm pair trains and logs, or is refused before anything is built",
          "[conformance][pairs]") {
  test::TempDir dir;
  const std::string empty_ini = dir / "empty.ini";
  { std::ofstream(empty_ini) << ""; }
  int trained = 0, refused = 0;
  for (const PairInfo& p : pairs_table()) {
    DYNAMIC_SECTION(p.env << " x " << p.algorithm) {
      const EnvEntry& env = EnvRegistry::get(p.env, "env");
      const AlgorithmEntry& algo = AlgorithmRegistry::get(p.algorithm, "algorithm");
      const fs::path out = dir.path / (p.env + "-" + p.algorithm);
      std::string why = p.trains ? "" : p.how;
      if (why.empty()) {  // declared compatible: this config's built env may still not fit
        Config cfg = resolve_config(build_schema(), "", small_overrides(env, algo));
        why = instance_refusal(*env.make(cfg, Rng(1)), algo);
      }
      if (!why.empty()) {
        // Refused by `emcomm train` with exit 2, naming both, before any run directory exists.
        std::string args = "train '" + empty_ini + "' --run.out='" + out.string() + "'";
        for (const auto& o : small_overrides(env, algo)) args += " '" + o + "'";
        auto r = test::run_emcomm(args);
        INFO(r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains("env '" + p.env + "'") &&
                                 Catch::Contains("train.algorithm=" + p.algorithm) && Catch::Contains("needs"));
        CHECK(r.output.find("\n", r.output.find("emcomm: error:")) == r.output.size() - 1);  // one line
        CHECK_FALSE(fs::exists(out));
        ++refused;
      } else {
        fs::create_directories(out / "a"), fs::create_directories(out / "b");
        Config cfg = resolve_config(build_schema(), "", small_overrides(env, algo, {"--run.checkpoint_every=0"}));
        const int64_t steps = cfg.get_int("train.steps");
        REQUIRE(steps >= 2);
        // Uninterrupted run.
        TrainedRun a = train(cfg, (out / "a" / "run.h5").string(), (out / "a").string());
        CHECK(a.last_step == steps);
        for (const auto& kv : a.last) {
          INFO(kv.first);
          CHECK(std::isfinite(kv.second));
        }
        // The run file conforms, holds interaction rows, and `emcomm analyze` reads it.
        {
          RunReader reader((out / "a" / "run.h5").string());
          CHECK(reader.validate().empty());
          int64_t rows = 0;
          for (const auto& s : reader.splits()) rows += reader.interaction_rows(s);
          CHECK(rows > 0);
        }
        auto an = test::run_emcomm("analyze '" + (out / "a" / "run.h5").string() + "' --json --no-write");
        INFO(an.output);
        CHECK(an.exit_code == 0);
        // Stopped half way, resumed from its checkpoint: the same last evaluation.
        Config half = resolve_config(build_schema(), "",
                                     small_overrides(env, algo, {"--run.checkpoint_every=0",
                                                                 "--run.stop_after=" + std::to_string(steps / 2)}));
        TrainedRun b1 = train(half, (out / "b" / "run.h5").string(), (out / "b").string());
        REQUIRE_FALSE(b1.checkpoint.empty());
        TrainedRun b2 = resume(half, (out / "b" / "run.h5").string(), b1.checkpoint, (out / "b").string());
        CHECK(b2.last_step == steps);
        CHECK(without_time(b2.last) == without_time(a.last));
        ++trained;
      }
    }
  }
  CHECK(trained + refused <= int(pairs_table().size()));
}

TEST_CASE("internal errors: a LibTorch error is one line without its backtrace unless EMCOMM_DEBUG", "[conformance]") {
  std::string full;
  ErrorReport plain, debug;
  try {
    torch::mm(torch::ones({2, 3}), torch::ones({4, 5}));  // the kind of error the crashing pairs raised
  } catch (const std::exception& e) {
    full = e.what();
    plain = report_exception(e, false);
    debug = report_exception(e, true);
  }
  REQUIRE(full.find('\n') != std::string::npos);  // LibTorch's own text has more lines
  CHECK(plain.exit_code == 1);
  CHECK_THAT(plain.text, Catch::StartsWith("emcomm: internal error: ") && Catch::Contains("mat1 and mat2") &&
                             Catch::Contains("EMCOMM_DEBUG=1"));
  CHECK(plain.text.find('\n') == plain.text.size() - 1);
  CHECK(debug.text.size() > plain.text.size());
  CHECK(debug.text.find(full) != std::string::npos);
  CHECK(report_exception(UserError("bad"), false).exit_code == 2);
  CHECK(report_exception(UserError("bad"), false).text == "emcomm: error: bad\n");
  CHECK(report_exception(std::runtime_error("non-finite loss\nmore"), false).text == "emcomm: fatal: non-finite loss\n");
  CHECK(report_exception(std::logic_error("check failed"), false).text == "emcomm: internal error: check failed\n");
}

}  // namespace emcomm
