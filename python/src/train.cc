// emcomm.train (the `emcomm train` command in-process) and emcomm.load_agents (a finished run's
// trained agents, rebuilt from its config.ini exactly as `emcomm train` built them: selfplay with
// the parameters of checkpoints/final.pt; maddpg, s2p and reinforce restored from the newest
// checkpoint by restore_run, as `emcomm eval --step final` restores them, S2P with its selected
// model put back by final_metrics).
#include <torch/torch.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "algorithms/algorithm.h"
#include "algorithms/maddpg.h"
#include "algorithms/reinforce.h"
#include "algorithms/s2p.h"
#include "algorithms/selfplay.h"
#include "algorithms/trainer.h"
#include "common.h"
#include "core/errors.h"
#include "envs/adapter/signaling_adapter.h"
#include "experiments/commands.h"
#include "experiments/run_loader.h"

namespace fs = std::filesystem;

namespace emcomm::py {

namespace {

// train_command installs its own SIGINT/SIGTERM handlers (a stop flag the trainer polls); the
// interpreter's are put back when it returns.
struct SavedSignals {
  struct sigaction sigint {}, sigterm {};
  SavedSignals() {
    sigaction(SIGINT, nullptr, &sigint);
    sigaction(SIGTERM, nullptr, &sigterm);
  }
  ~SavedSignals() {
    sigaction(SIGINT, &sigint, nullptr);
    sigaction(SIGTERM, &sigterm, nullptr);
  }
};

int run_train(const std::vector<std::string>& args) {
  int code = 0;
  {
    pyb::gil_scoped_release release;
    SavedSignals saved;
    code = train_command(args);
    std::fflush(stdout);
    std::fflush(stderr);
  }
  return code;
}

// The run directory `emcomm train` writes for these arguments (train_command's rule: run.out,
// else runs/<config stem>-seed<seed>).
std::string run_dir_of(const std::string& config, const std::vector<std::string>& overrides) {
  if (!fs::is_regular_file(config)) throw UserError("config file '" + config + "' does not exist");
  const Config cfg = resolve_config(build_schema(), config, overrides);
  const std::string out = cfg.get_string("run.out");
  if (!out.empty()) return out;
  return (fs::path("runs") / (fs::path(config).stem().string() + "-seed" + std::to_string(cfg.get_int("run.seed"))))
      .string();
}

// A finished run's agents.
struct PyAgents {
  std::string run_dir, algorithm;
  Config cfg;
  std::shared_ptr<Env> env;  // the run's env, built as emcomm train built it (shapes, receiver actions)
  std::unique_ptr<Algorithm> algo;
  SelfPlay* selfplay = nullptr;
  Maddpg* maddpg = nullptr;
  S2P* s2p = nullptr;
  Reinforce* reinforce = nullptr;
  int64_t step = 0;        // the step of the checkpoint the agents come from
  int64_t model_step = 0;  // the step whose parameters they hold (S2P's selected model)
  int64_t members = 1;     // S2P's population size
  ChannelSpec channel;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
};

std::shared_ptr<PyAgents> load_agents(const pyb::object& dir) {
  auto a = std::make_shared<PyAgents>();
  a->run_dir = pyb::str(pyb::module_::import("os").attr("fspath")(dir));
  const fs::path run_dir = a->run_dir, ini = run_dir / "config.ini", final_pt = run_dir / "checkpoints" / "final.pt";
  if (!fs::is_regular_file(ini)) throw UserError("load_agents: '" + a->run_dir + "' holds no run (no config.ini)");
  a->cfg = resolve_config(build_schema(), ini.string(), {});
  a->algorithm = a->cfg.get_string("train.algorithm");
  Rng root(static_cast<uint64_t>(a->cfg.get_int("run.seed")));  // as train_command builds the run
  a->env = EnvRegistry::get(a->cfg.get_string("env.name"), "env").make(a->cfg, root.derive("env"));
  if (a->algorithm != "selfplay") {
    // The run's final model, restored as `emcomm eval --step final` restores it: the newest
    // checkpoint (written at the end of every finished run), then final_metrics, which puts back
    // the model an algorithm selects (S2P's s2p.select) and changes nothing for the others.
    if (a->algorithm != "maddpg" && a->algorithm != "s2p" && a->algorithm != "reinforce")
      throw UserError("load_agents: train.algorithm=" + a->algorithm +
                      " is not supported (selfplay and s2p: speakers and listeners; maddpg and reinforce: one "
                      "policy per agent)");
    if (!fs::is_regular_file(run_dir / "summary.json"))
      throw UserError("load_agents: the run in '" + a->run_dir + "' has not finished (no summary.json); finish it with "
                      "emcomm train --resume " + a->run_dir);
    Trainer::Options topt = Trainer::Options::from(a->cfg);
    topt.checkpoint_dir = (run_dir / "checkpoints").string();
    RestoredRun run = restore_run(a->cfg, topt, 0, "load_agents '" + a->run_dir + "'");
    a->algo = std::move(run.algo);
    a->step = a->model_step = run.step;
    a->maddpg = dynamic_cast<Maddpg*>(a->algo.get());
    a->s2p = dynamic_cast<S2P*>(a->algo.get());
    a->reinforce = dynamic_cast<Reinforce*>(a->algo.get());
    if (a->s2p) {
      for (const auto& [name, v] : a->s2p->final_metrics(Metrics{}))
        if (name == "selected_step") a->model_step = int64_t(v);
      const S2P::Options o = S2P::Options::from(a->cfg);
      a->channel = o.channel;
      a->members = o.population;
    }
    return a;
  }
  if (!fs::is_regular_file(final_pt))
    throw UserError("load_agents: '" + a->run_dir + "' has no checkpoints/final.pt (the run has not finished)");
  a->algo = AlgorithmRegistry::get(a->algorithm, "algorithm").make(a->cfg, a->env, root.derive("algorithm"));
  a->selfplay = dynamic_cast<SelfPlay*>(a->algo.get());
  torch::serialize::InputArchive archive, sp, li;
  try {
    archive.load_from(final_pt.string());
    archive.read("speaker", sp);
    archive.read("listener", li);
    a->selfplay->speaker()->load(sp);
    a->selfplay->listener()->load(li);
  } catch (const c10::Error& e) {
    throw UserError("load_agents: cannot read " + final_pt.string() + ": " + e.what_without_backtrace());
  }
  a->channel = SelfPlay::Options::from(a->cfg).channel;
  if (auto t = Trainer::checkpoints((run_dir / "checkpoints").string()); !t.empty())
    a->step = a->model_step = Trainer::checkpoint_step(t.front());
  return a;
}

bool signaling_agents(const PyAgents& a) { return a.selfplay || a.s2p; }

void check_member(const PyAgents& a, int64_t member) {
  if (member < 0 || member >= a.members)
    throw UserError("member " + std::to_string(member) + " does not exist: this run's population has members 0.." +
                    std::to_string(a.members - 1));
}

// The Markov game a reinforce / maddpg run's agents play: the env itself, or the signaling game
// through the adapter (a reinforce run on a signaling game).
MarkovGame& markov_of(const PyAgents& a) {
  if (a.reinforce) return a.reinforce->game();
  return static_cast<MarkovGame&>(*a.env);
}

void check_agent(const PyAgents& a, int64_t i) {
  const MarkovGame& game = markov_of(a);
  if (i < 0 || i >= game.num_agents())
    throw UserError("agent " + std::to_string(i) + " does not exist: the game has agents 0.." +
                    std::to_string(game.num_agents() - 1));
}

torch::Tensor obs_tensor(const PyAgents& a, int64_t i, const pyb::object& obs) {
  torch::Tensor o = to_tensor(obs, torch::kFloat32, "obs");
  const int64_t D = markov_of(a).agent_spec(i).obs_dim;
  if (o.dim() != 2 || o.size(1) != D)
    throw UserError("obs of agent " + std::to_string(i) + " must be [B, " + std::to_string(D) + "]");
  return o;
}

SignalingGame& game_of(const PyAgents& a) { return static_cast<SignalingGame&>(*a.env); }

torch::Tensor objects_tensor(const PyAgents& a, const pyb::object& objects, const char* what) {
  torch::Tensor x = to_tensor(objects, torch::kFloat32, what);
  const std::vector<int64_t> shape = game_of(a).object_shape();
  bool ok = x.dim() == int64_t(shape.size()) + 1;
  for (size_t k = 0; ok && k < shape.size(); ++k) ok = x.size(int64_t(k) + 1) == shape[k];
  if (!ok) {
    std::string want = "[B";
    for (auto s : shape) want += ", " + std::to_string(s);
    throw UserError(std::string(what) + " must have shape " + want + "], got " + std::to_string(x.dim()) +
                    " dimensions");
  }
  return x;
}

}  // namespace

void bind_train(pyb::module_& m) {
  m.def("_train", [](const std::vector<std::string>& args) { return run_train(args); }, pyb::arg("args"),
        "Runs `emcomm train ARGS...` in this process; returns its exit code.");
  m.def("_run_dir", &run_dir_of, pyb::arg("config"), pyb::arg("overrides"));

  pyb::class_<PyAgents, std::shared_ptr<PyAgents>>(m, "Agents")
      .def_property_readonly("run_dir", [](const PyAgents& a) { return a.run_dir; })
      .def_property_readonly("algorithm", [](const PyAgents& a) { return a.algorithm; })
      .def_property_readonly("config", [](const PyAgents& a) { return a.cfg.values(); })
      .def_property_readonly("step", [](const PyAgents& a) { return a.step; })
      .def_property_readonly("model_step", [](const PyAgents& a) { return a.model_step; })
      .def_property_readonly("members", [](const PyAgents& a) { return a.members; })
      .def_property_readonly("signaling", &signaling_agents)
      .def_property_readonly("channel", [](const PyAgents& a) {
        pyb::dict d;
        d["vocab_size"] = a.channel.vocab_size;
        d["max_len"] = a.channel.max_len;
        d["eos"] = a.channel.eos;
        return d;
      })
      .def("_speak", [](PyAgents& a, const pyb::object& objects, int64_t member) {
        if (!signaling_agents(a)) throw UserError("speaker: this run's agents are Markov-game policies (use act/policy)");
        check_member(a, member);
        torch::Tensor x = objects_tensor(a, objects, "objects");
        pyb::dict d;
        {
          torch::NoGradGuard no_grad;
          torch::Tensor symbols;
          if (a.selfplay) {
            auto& sp = a.selfplay->speaker();
            sp->eval();
            symbols = sp->speak(x, Relaxation::Greedy, 1.0, a.gen).symbols;
          } else {  // every member speaks (S2P's evaluation pass); member p's rows are the p-th block
            auto& sp = a.s2p->speaker();
            sp->eval();
            symbols = sp->speak(x, Relaxation::Greedy, 1.0, a.gen).symbols.view({a.members, x.size(0), -1})[member];
          }
          d["symbols"] = to_numpy(symbols);
          d["length"] = to_numpy(message_lengths(symbols, a.channel));
          d["message"] = to_numpy(symbols_for_log(symbols, a.channel).to(torch::kInt32));
        }
        return d;
      }, pyb::arg("objects"), pyb::arg("member") = 0)
      .def("_listen", [](PyAgents& a, const pyb::object& symbols, const pyb::object& candidates, int64_t member) {
        if (!signaling_agents(a)) throw UserError("listener: this run's agents are Markov-game policies (use act/policy)");
        check_member(a, member);
        torch::Tensor s = to_tensor(symbols, torch::kInt64, "messages");
        if (s.dim() != 2 || s.size(1) != a.channel.max_len)
          throw UserError("messages must be [B, " + std::to_string(a.channel.max_len) + "] symbols");
        // The logged form's -1 after the end reads as EOS (0) when the channel has one.
        if (a.channel.eos) s = s.clamp_min(0);
        if ((s < 0).any().item<bool>() || (s >= a.channel.vocab_size).any().item<bool>())
          throw UserError("message symbols must be in 0.." + std::to_string(a.channel.vocab_size - 1));
        torch::Tensor c;
        const ReceiverSpec spec = game_of(a).receiver_spec();
        if (spec.kind == ReceiverSpec::Kind::Discriminate) {
          if (candidates.is_none()) throw UserError("this listener discriminates: pass candidates [B, C, ...]");
          c = to_tensor(candidates, torch::kFloat32, "candidates");
          if (c.dim() < 2 || c.size(0) != s.size(0) || c.size(1) != spec.candidates)
            throw UserError("candidates must be [" + std::to_string(s.size(0)) + ", " + std::to_string(spec.candidates) +
                            ", ...] (one row of candidates per message)");
        }
        torch::NoGradGuard no_grad;
        torch::Tensor out;
        if (a.selfplay) {
          auto& li = a.selfplay->listener();
          li->eval();
          out = li->forward(onehots_of(s, a.channel), c);
        } else {
          auto& li = a.s2p->listener();
          li->eval();
          out = li->forward_member(member, onehots_of(s, a.channel), c);
        }
        pyb::dict d;
        d["output"] = to_numpy(out);
        d["action"] = to_numpy(game_of(a).receiver_action(out));
        return d;
      }, pyb::arg("messages"), pyb::arg("candidates") = pyb::none(), pyb::arg("member") = 0)
      .def("_game", [](PyAgents& a) -> pyb::object {
        // The Markov game the policies play, as a MarkovEnv of its own (the adapter for a
        // signaling game, built as the algorithm built it).
        if (signaling_agents(a)) return pyb::none();
        std::shared_ptr<MarkovGame> game = markov_game_for(a.env, a.cfg, a.algorithm);
        Rng root(static_cast<uint64_t>(a.cfg.get_int("run.seed")));
        return markov_env(a.cfg, game, root.derive("python"));
      });

  m.def("load_agents", &load_agents, pyb::arg("run_dir"));
  m.def("_agents_act", [](PyAgents& a, int64_t i, const pyb::object& obs, bool sample) {
    if (!a.maddpg) throw UserError("act(): this run's agents are a speaker and a listener (use speaker/listener)");
    check_agent(a, i);
    torch::Tensor o = obs_tensor(a, i, obs);
    torch::NoGradGuard no_grad;
    std::vector<int64_t> subs(size_t(o.size(0) * markov_of(a).num_agents()), 0);
    return to_numpy(a.maddpg->act(i, o, subs, sample, false));
  }, pyb::arg("agents"), pyb::arg("agent"), pyb::arg("obs"), pyb::arg("sample") = false,
     "MADDPG agent i's soft action [B, F*K + L*V] (action values, then message values) at obs [B, D_i].");
  m.def("_reinforce_act", [](PyAgents& a, int64_t i, const pyb::object& obs, bool sample) {
    if (!a.reinforce) throw UserError("_reinforce_act: not a reinforce run");
    check_agent(a, i);
    torch::Tensor o = obs_tensor(a, i, obs);
    torch::NoGradGuard no_grad;
    McgAgent& agent = a.reinforce->agent(i);
    agent->eval();
    PolicyOutput out = agent->forward(o);
    // Greedy: the argmax of each factor / position, as evaluation with eval.sample=false plays;
    // sampled: one draw per factor / position from the softmax (this object's own generator).
    auto choose = [&](const torch::Tensor& logits) {
      if (!sample) return logits.argmax(-1);
      const int64_t B = logits.size(0), F = logits.size(1), K = logits.size(2);
      return torch::multinomial(torch::softmax(logits, -1).reshape({B * F, K}), 1, false, a.gen).view({B, F});
    };
    pyb::dict d;
    d["action"] = out.action_logits.defined() ? pyb::object(to_numpy(choose(out.action_logits))) : pyb::none();
    d["message"] = out.message_logits.defined() ? pyb::object(to_numpy(choose(out.message_logits))) : pyb::none();
    d["action_logits"] = out.action_logits.defined() ? pyb::object(to_numpy(out.action_logits)) : pyb::none();
    d["message_logits"] = out.message_logits.defined() ? pyb::object(to_numpy(out.message_logits)) : pyb::none();
    d["value"] = to_numpy(out.value);
    return d;
  }, pyb::arg("agents"), pyb::arg("agent"), pyb::arg("obs"), pyb::arg("sample") = false,
     "Reinforce agent i at obs [B, D_i]: its action [B, F_i] and message [B, L_i] (greedy or sampled), logits, value.");
}

}  // namespace emcomm::py
