// emcomm.train (the `emcomm train` command in-process) and emcomm.load_agents (a finished run's
// trained agents, rebuilt from its config.ini exactly as `emcomm train` built them, with the
// parameters of checkpoints/final.pt).
#include <torch/torch.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "algorithms/algorithm.h"
#include "algorithms/maddpg.h"
#include "algorithms/selfplay.h"
#include "algorithms/trainer.h"
#include "common.h"
#include "core/errors.h"
#include "experiments/commands.h"

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
  std::shared_ptr<Env> env;
  std::unique_ptr<Algorithm> algo;
  SelfPlay* selfplay = nullptr;
  Maddpg* maddpg = nullptr;
  ChannelSpec channel;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
};

std::shared_ptr<PyAgents> load_agents(const pyb::object& dir) {
  auto a = std::make_shared<PyAgents>();
  a->run_dir = pyb::str(pyb::module_::import("os").attr("fspath")(dir));
  const fs::path ini = fs::path(a->run_dir) / "config.ini", final_pt = fs::path(a->run_dir) / "checkpoints" / "final.pt";
  if (!fs::is_regular_file(ini)) throw UserError("load_agents: '" + a->run_dir + "' holds no run (no config.ini)");
  if (!fs::is_regular_file(final_pt))
    throw UserError("load_agents: '" + a->run_dir + "' has no checkpoints/final.pt (the run has not finished)");
  a->cfg = resolve_config(build_schema(), ini.string(), {});
  a->algorithm = a->cfg.get_string("train.algorithm");
  Rng root(static_cast<uint64_t>(a->cfg.get_int("run.seed")));  // as train_command builds the run
  a->env = EnvRegistry::get(a->cfg.get_string("env.name"), "env").make(a->cfg, root.derive("env"));
  a->algo = AlgorithmRegistry::get(a->algorithm, "algorithm").make(a->cfg, a->env, root.derive("algorithm"));
  a->selfplay = dynamic_cast<SelfPlay*>(a->algo.get());
  a->maddpg = dynamic_cast<Maddpg*>(a->algo.get());
  if (a->maddpg) {
    // MADDPG's actors come back from the newest resumable checkpoint (written at the end of
    // every finished run), through the same restore as `emcomm train --resume`.
    const auto found = Trainer::checkpoints((fs::path(a->run_dir) / "checkpoints").string());
    if (found.empty()) throw UserError("load_agents: '" + a->run_dir + "' has no checkpoints/step-*.pt");
    Trainer t(Trainer::Options::from(a->cfg));
    t.resume(*a->algo, found.front());
    return a;
  }
  if (!a->selfplay)
    throw UserError("load_agents: train.algorithm=" + a->algorithm +
                    " is not supported yet (selfplay: a speaker and a listener; maddpg: one actor per agent)");
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
  return a;
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
      .def_property_readonly("channel", [](const PyAgents& a) {
        pyb::dict d;
        d["vocab_size"] = a.channel.vocab_size;
        d["max_len"] = a.channel.max_len;
        d["eos"] = a.channel.eos;
        return d;
      })
      .def("_speak", [](PyAgents& a, const pyb::object& objects) {
        torch::Tensor x = objects_tensor(a, objects, "objects");
        pyb::dict d;
        {
          torch::NoGradGuard no_grad;
          auto& sp = a.selfplay->speaker();
          sp->eval();
          ChannelOutput msg = sp->speak(x, Relaxation::Greedy, 1.0, a.gen);
          d["symbols"] = to_numpy(msg.symbols);
          d["length"] = to_numpy(message_lengths(msg.symbols, a.channel));
          d["message"] = to_numpy(symbols_for_log(msg.symbols, a.channel).to(torch::kInt32));
        }
        return d;
      }, pyb::arg("objects"))
      .def("_listen", [](PyAgents& a, const pyb::object& symbols, const pyb::object& candidates) {
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
        }
        torch::NoGradGuard no_grad;
        auto& li = a.selfplay->listener();
        li->eval();
        torch::Tensor out = li->forward(onehots_of(s, a.channel), c);
        pyb::dict d;
        d["output"] = to_numpy(out);
        d["action"] = to_numpy(game_of(a).receiver_action(out));
        return d;
      }, pyb::arg("messages"), pyb::arg("candidates") = pyb::none());

  m.def("load_agents", &load_agents, pyb::arg("run_dir"));
  m.def("_agents_act", [](PyAgents& a, int64_t i, const pyb::object& obs, bool sample) {
    if (!a.maddpg) throw UserError("act(): this run's agents are a speaker and a listener (use speaker/listener)");
    auto& game = static_cast<MarkovGame&>(*a.env);
    if (i < 0 || i >= game.num_agents())
      throw UserError("agent " + std::to_string(i) + " does not exist: the game has agents 0.." +
                      std::to_string(game.num_agents() - 1));
    torch::Tensor o = to_tensor(obs, torch::kFloat32, "obs");
    const int64_t D = game.agent_spec(i).obs_dim;
    if (o.dim() != 2 || o.size(1) != D)
      throw UserError("obs of agent " + std::to_string(i) + " must be [B, " + std::to_string(D) + "]");
    torch::NoGradGuard no_grad;
    std::vector<int64_t> subs(size_t(o.size(0) * game.num_agents()), 0);
    return to_numpy(a.maddpg->act(i, o, subs, sample, false));
  }, pyb::arg("agents"), pyb::arg("agent"), pyb::arg("obs"), pyb::arg("sample") = false,
     "MADDPG agent i's soft action [B, F*K + L*V] (action values, then message values) at obs [B, D_i].");
}

}  // namespace emcomm::py
