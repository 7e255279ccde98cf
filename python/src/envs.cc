// emcomm.make_env and the env classes: every env of the registry (envs/env.h), built from a
// config resolved by the CLI's own code (core/config.h, algorithms/runtime.h).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "common.h"
#include "core/errors.h"
#include "envs/markov_game.h"
#include "envs/matrix/matrix.h"
#include "envs/particle/particle.h"
#include "experiments/commands.h"

namespace emcomm::py {

namespace {

const char* type_name(OptType t) {
  switch (t) {
    case OptType::Int: return "int";
    case OptType::Float: return "float";
    case OptType::Bool: return "bool";
    case OptType::String: return "str";
    case OptType::Choice: return "choice";
  }
  return "?";
}

pyb::list option_list(const OptionSet& set) {
  pyb::list out;
  for (const auto& s : set.specs()) {
    pyb::dict d;
    d["name"] = s.name;
    d["type"] = type_name(s.type);
    d["default"] = s.default_value;
    d["allowed"] = s.allowed();
    d["help"] = s.help;
    if (!s.choices.empty()) d["choices"] = s.choices;
    out.append(d);
  }
  return out;
}

// The value of a resolved option as the Python type of its declaration.
pyb::object option_value(const Config& cfg, const OptionSpec& s) {
  switch (s.type) {
    case OptType::Int: return pyb::int_(cfg.get_int(s.name));
    case OptType::Float: return pyb::float_(cfg.get_float(s.name));
    case OptType::Bool: return pyb::bool_(cfg.get_bool(s.name));
    default: return pyb::str(cfg.get_string(s.name));
  }
}

Split parse_split(const std::string& s) {
  for (Split x : kAllSplits)
    if (s == split_name(x)) return x;
  throw UserError("split '" + s + "' is not one of train|val|test");
}

pyb::dict batch_dict(const SignalBatch& b) {
  pyb::dict d;
  d["sender_input"] = to_numpy(b.sender_input);
  if (b.receiver_input.defined()) d["receiver_input"] = to_numpy(b.receiver_input);
  d["target"] = to_numpy(b.target);
  if (b.concept.defined()) d["concept"] = to_numpy(b.concept);
  if (b.object_ids.defined()) d["object_ids"] = to_numpy(b.object_ids);
  return d;
}

}  // namespace

// What every env object holds: the resolved config and the built env.
struct PyEnv {
  virtual ~PyEnv() = default;  // polymorphic: make_env returns the derived class to Python
  std::string name;
  EnvKind kind = EnvKind::Signaling;
  Config cfg;
  std::shared_ptr<Env> env;
  Rng rng{0};  // draws the seeds of calls made without one

  uint64_t seed_or_next(const std::optional<uint64_t>& seed) { return seed ? *seed : rng.next(); }

  pyb::dict options() const {
    pyb::dict d;
    const ConfigSchema schema = build_schema();
    for (const auto& c : schema.envs)
      if (c.name == name)
        for (const auto& s : c.options.specs()) d[pyb::str(s.key())] = option_value(cfg, s);
    return d;
  }
};

struct PySignaling : PyEnv {
  SignalingGame& game() const { return static_cast<SignalingGame&>(*env); }
};

struct PyMarkov : PyEnv {
  MarkovGame& game() const { return static_cast<MarkovGame&>(*env); }
  Rng episode_rng{0};
  int64_t batch = 0;
  MarkovState last;
  int64_t F = 1, L = 1;  // widths of the action / message arrays

  void widths() {
    F = L = 1;
    for (int64_t i = 0; i < game().num_agents(); ++i) {
      F = std::max(F, game().agent_spec(i).action_factors);
      L = std::max(L, game().agent_spec(i).msg_len);
    }
  }

  pyb::dict state_dict(const MarkovState& s) {
    last = s;
    pyb::dict d;
    pyb::list obs;
    for (const auto& o : s.obs) obs.append(to_numpy(o));
    d["obs"] = obs;
    d["speaks"] = to_numpy(s.speaks);
    d["acts"] = to_numpy(s.acts);
    d["reward"] = to_numpy(s.reward);
    d["done"] = to_numpy(s.done);
    return d;
  }

  void need_episode(const char* what) const {
    if (batch == 0) throw UserError(std::string(what) + "() needs an episode in progress: call reset(batch) first");
    if (last.done.defined() && last.done.all().item<bool>())
      throw UserError(std::string(what) + "(): every episode of the batch is over; call reset(batch) to start new ones");
  }

  // Integer actions [B, N, F] (or [B, N] when F = 1) / messages [B, N, L] (or [B, N] when L = 1),
  // checked against each agent's spec where the state's masks say it acts / speaks.
  torch::Tensor int_input(const pyb::handle& obj, bool actions) {
    const char* what = actions ? "actions" : "messages";
    const int64_t N = game().num_agents(), W = actions ? F : L;
    torch::Tensor t = to_tensor(obj, torch::kInt64, what);
    if (t.dim() == 2 && W == 1) t = t.unsqueeze(2);
    if (t.dim() != 3 || t.size(0) != batch || t.size(1) != N || t.size(2) < W)
      throw UserError(std::string(what) + " must be an integer array [" + std::to_string(batch) + ", " +
                      std::to_string(N) + ", " + std::to_string(W) + "]" + (W == 1 ? " (or [B, N])" : "") +
                      ", got shape " + shape_text(t));
    auto mask = (actions ? last.acts : last.speaks).contiguous();
    const auto* m = mask.data_ptr<bool>();
    auto acc = t.accessor<int64_t, 3>();
    for (int64_t i = 0; i < N; ++i) {
      const AgentSpec s = game().agent_spec(i);
      const int64_t width = actions ? s.action_factors : (s.vocab_size > 0 ? s.msg_len : 0);
      const int64_t values = actions ? s.action_values : s.vocab_size;
      for (int64_t b = 0; b < batch; ++b) {
        if (!m[b * N + i]) continue;
        for (int64_t k = 0; k < width; ++k) {
          const int64_t v = acc[b][i][k];
          if (v < 0 || v >= values)
            throw UserError(std::string(what) + "[" + std::to_string(b) + ", " + std::to_string(i) + ", " +
                            std::to_string(k) + "] = " + std::to_string(v) + ": agent " + std::to_string(i) +
                            (actions ? " chooses among " : " speaks symbols 0..") +
                            (actions ? std::to_string(values) + " actions (0.." + std::to_string(values - 1) + ")"
                                     : std::to_string(values - 1)));
        }
      }
    }
    return t;
  }

  torch::Tensor soft_input(const pyb::handle& obj, bool actions) {
    const char* what = actions ? "actions" : "messages";
    const int64_t N = game().num_agents();
    int64_t W = 1;
    for (int64_t i = 0; i < N; ++i) {
      const AgentSpec s = game().agent_spec(i);
      W = std::max(W, actions ? s.action_factors * s.action_values : s.msg_len * s.vocab_size);
    }
    torch::Tensor t = to_tensor(obj, torch::kFloat32, what);
    if (t.dim() != 3 || t.size(0) != batch || t.size(1) != N || t.size(2) < W)
      throw UserError(std::string("soft ") + what + " must be a float array [" + std::to_string(batch) + ", " +
                      std::to_string(N) + ", " + std::to_string(W) + "], got shape " + shape_text(t));
    if (!torch::isfinite(t).all().item<bool>()) throw UserError(std::string("soft ") + what + " hold NaN or infinity");
    return t;
  }

  static std::string shape_text(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
  }
};

namespace {

std::shared_ptr<PyEnv> build_env(const std::string& name, uint64_t seed, std::vector<std::string> extra);

std::shared_ptr<PyEnv> make_env(const std::string& name, uint64_t seed, const pyb::kwargs& options) {
  std::vector<std::string> overrides;
  for (auto kv : options) overrides.push_back(override_arg(pyb::str(kv.first), kv.second, "env"));
  return build_env(name, seed, overrides);
}

// The env a resolved config describes, built as emcomm train builds it.
std::shared_ptr<PyEnv> env_of(const Config& cfg) {
  const std::string name = cfg.get_string("env.name");
  const uint64_t seed = uint64_t(cfg.get_int("run.seed"));
  const EnvEntry& entry = EnvRegistry::get(name, "env");
  std::shared_ptr<PyEnv> out;
  if (entry.kind == EnvKind::Markov) out = std::make_shared<PyMarkov>();
  else out = std::make_shared<PySignaling>();
  out->name = name;
  out->kind = entry.kind;
  out->cfg = cfg;
  Rng root(seed);  // as emcomm train: the env's generator is derived from run.seed
  out->env = entry.make(cfg, root.derive("env"));
  out->rng = root.derive("python");
  if (entry.kind == EnvKind::Markov) {
    auto* m = static_cast<PyMarkov*>(out.get());
    if (!dynamic_cast<MarkovGame*>(out->env.get())) throw std::logic_error("env " + name + " is not a MarkovGame");
    m->widths();
  } else if (!dynamic_cast<SignalingGame*>(out->env.get())) {
    throw std::logic_error("env " + name + " is not a SignalingGame");
  }
  return out;
}

std::shared_ptr<PyEnv> build_env(const std::string& name, uint64_t seed, std::vector<std::string> extra) {
  std::vector<std::string> overrides = {"--env.name=" + name, "--run.seed=" + std::to_string(seed)};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return env_of(resolve_config(build_schema(), "", overrides));
}

// state() / set_state() of the games that have them.
pyb::dict particle_state(const ParticleWorld& w, int64_t B) {
  const int64_t E = w.entities(), N = w.num_agents(), C = w.comm_dim(), Lm = w.num_landmarks();
  pyb::array_t<float> pos({B, E, int64_t(2)}), vel({B, E, int64_t(2)}), chan({B, N, C});
  pyb::array_t<int64_t> goal({B, N}), key({B});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t e = 0; e < E; ++e)
      for (int k = 0; k < 2; ++k) {
        pos.mutable_at(b, e, k) = w.position(b, e)[k];
        vel.mutable_at(b, e, k) = w.velocity(b, e)[k];
      }
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t c = 0; c < C; ++c) chan.mutable_at(b, i, c) = w.channel(b, i)[c];
      goal.mutable_at(b, i) = w.goal(b, i);
    }
    key.mutable_at(b) = w.key(b);
  }
  const int64_t coloured = w.has_colours() ? Lm : 0;  // landmark colours: some scenarios only
  pyb::array_t<float> size({E}), colour({coloured, int64_t(3)});
  pyb::array_t<bool> moves({N}), speaks({N}), collides({E}), adversary({N});
  for (int64_t e = 0; e < E; ++e) size.mutable_at(e) = w.size(e), collides.mutable_at(e) = w.collides(e);
  for (int64_t i = 0; i < N; ++i)
    moves.mutable_at(i) = w.moves(i), speaks.mutable_at(i) = w.speaks(i), adversary.mutable_at(i) = w.is_adversary(i);
  for (int64_t l = 0; l < coloured; ++l)
    for (int k = 0; k < 3; ++k) colour.mutable_at(l, k) = w.colour(l)[k];
  pyb::dict d;
  d["positions"] = pos;
  d["velocities"] = vel;
  d["messages"] = chan;
  d["goals"] = goal;
  d["key"] = key;
  d["t"] = w.steps_done();
  d["sizes"] = size;
  d["colours"] = colour;
  d["moves"] = moves;
  d["speaks"] = speaks;
  d["collides"] = collides;
  d["adversary"] = adversary;
  d["agents"] = N;
  d["landmarks"] = Lm;
  return d;
}

template <class T>
pyb::array_t<T, pyb::array::c_style | pyb::array::forcecast> shaped(const pyb::dict& d, const char* key,
                                                                 std::vector<int64_t> shape) {
  auto a = pyb::array_t<T, pyb::array::c_style | pyb::array::forcecast>::ensure(d[key]);
  if (!a) throw UserError(std::string("set_state: '") + key + "' must be a numeric array");
  bool ok = a.ndim() == pyb::ssize_t(shape.size());
  for (size_t k = 0; ok && k < shape.size(); ++k) ok = a.shape(k) == shape[k];
  if (!ok) {
    std::string want = "[";
    for (size_t k = 0; k < shape.size(); ++k) want += (k ? ", " : "") + std::to_string(shape[k]);
    throw UserError(std::string("set_state: '") + key + "' must have shape " + want + "]");
  }
  return a;
}

}  // namespace

pyb::object markov_env(const Config& cfg, std::shared_ptr<MarkovGame> game, const Rng& rng) {
  auto out = std::make_shared<PyMarkov>();
  out->name = cfg.get_string("env.name");
  out->kind = EnvKind::Markov;
  out->cfg = cfg;
  out->env = std::move(game);
  out->rng = rng;
  out->widths();
  return pyb::cast(out);
}

void bind_envs(pyb::module_& m) {
  m.def("envs", [] {
    pyb::list out;
    for (const EnvEntry* e : EnvRegistry::entries()) {
      pyb::dict d;
      d["name"] = e->name;
      d["description"] = e->description;
      d["kind"] = env_kind_name(e->kind);
      d["observations"] = observations_name(e->observations);
      d["human_language"] = e->human_language;
      d["options"] = option_list(e->options);
      out.append(d);
    }
    return out;
  }, "Every registered env: name, description, kind, observations and its options (as `emcomm list`).");
  m.def("algorithms", [] {
    pyb::list out;
    for (const auto& c : build_schema().algorithms) {
      pyb::dict d;
      d["name"] = c.name;
      d["description"] = c.description;
      d["options"] = option_list(c.options);
      out.append(d);
    }
    return out;
  }, "Every registered algorithm and its options.");
  m.def("common_options", [] { return option_list(build_schema().common); }, "The options of every run.");

  pyb::class_<PyEnv, std::shared_ptr<PyEnv>>(m, "Env")
      .def_property_readonly("name", [](const PyEnv& e) { return e.name; })
      .def_property_readonly("kind", [](const PyEnv& e) { return std::string(env_kind_name(e.kind)); })
      .def_property_readonly("options", &PyEnv::options, "The env's resolved env.* options (key -> value).")
      .def_property_readonly("config_ini", [](const PyEnv& e) { return e.cfg.to_ini(); },
                             "The whole resolved config as `emcomm train` would save it.");

  pyb::class_<PySignaling, PyEnv, std::shared_ptr<PySignaling>>(m, "SignalingEnv")
      .def_property_readonly("sender_input_dim", [](const PySignaling& e) { return e.game().sender_input_dim(); })
      .def_property_readonly("object_shape", [](const PySignaling& e) { return e.game().object_shape(); })
      .def_property_readonly("receiver_spec", [](const PySignaling& e) {
        const ReceiverSpec r = e.game().receiver_spec();
        pyb::dict d;
        d["kind"] = r.kind == ReceiverSpec::Kind::Reconstruct ? "reconstruct" : "discriminate";
        d["attributes"] = r.attributes;
        d["values"] = r.values;
        d["candidates"] = r.candidates;
        d["candidate_dim"] = r.candidate_dim;
        return d;
      })
      .def("split_size", [](const PySignaling& e, const std::string& s) { return e.game().split_size(parse_split(s)); },
           pyb::arg("split"))
      .def("sample", [](PySignaling& e, const std::string& split, int64_t batch, std::optional<uint64_t> seed) {
        if (batch < 1) throw UserError("sample(): batch must be at least 1, got " + std::to_string(batch));
        Rng rng(e.seed_or_next(seed));
        return batch_dict(e.game().sample(parse_split(split), batch, rng));
      }, pyb::arg("split"), pyb::arg("batch"), pyb::arg("seed") = pyb::none(),
         "`batch` episodes drawn uniformly from the split: a dict of numpy arrays.")
      .def("eval_set", [](PySignaling& e, const std::string& split, int64_t size, std::optional<uint64_t> seed) {
        if (size < 0) throw UserError("eval_set(): size must be >= 0 (0 = the whole split)");
        Rng rng(e.seed_or_next(seed));
        return batch_dict(e.game().eval_set(parse_split(split), size, rng));
      }, pyb::arg("split"), pyb::arg("size") = 0, pyb::arg("seed") = pyb::none())
      .def("slice", [](PySignaling& e, const std::string& split, int64_t first, int64_t count, std::optional<uint64_t> seed) {
        Rng rng(e.seed_or_next(seed));
        return batch_dict(e.game().slice(parse_split(split), first, count, rng));
      }, pyb::arg("split"), pyb::arg("first"), pyb::arg("count"), pyb::arg("seed") = pyb::none());

  pyb::class_<PyMarkov, PyEnv, std::shared_ptr<PyMarkov>>(m, "MarkovEnv")
      .def_property_readonly("num_agents", [](const PyMarkov& e) { return e.game().num_agents(); })
      .def("agent_spec", [](const PyMarkov& e, int64_t i) {
        if (i < 0 || i >= e.game().num_agents())
          throw UserError("agent " + std::to_string(i) + " does not exist: the game has agents 0.." +
                          std::to_string(e.game().num_agents() - 1));
        const AgentSpec s = e.game().agent_spec(i);
        pyb::dict d;
        d["obs_dim"] = s.obs_dim;
        d["action_factors"] = s.action_factors;
        d["action_values"] = s.action_values;
        d["vocab_size"] = s.vocab_size;
        d["msg_len"] = s.msg_len;
        d["adversary"] = e.game().is_adversary(i);
        return d;
      }, pyb::arg("agent"))
      .def("hears", [](const PyMarkov& e, int64_t l, int64_t s) { return e.game().hears(l, s); },
           pyb::arg("listener"), pyb::arg("speaker"))
      .def_property_readonly("shared_reward", [](const PyMarkov& e) { return e.game().shared_reward(); })
      .def_property_readonly("time_limit_only", [](const PyMarkov& e) { return e.game().time_limit_only(); })
      .def_property_readonly("headline_figure", [](const PyMarkov& e) { return e.game().headline_figure(); })
      .def_property_readonly("batch", [](const PyMarkov& e) { return e.batch; })
      .def("reset", [](PyMarkov& e, int64_t batch, std::optional<uint64_t> seed, bool eval) {
        if (batch < 1) throw UserError("reset(): batch must be at least 1, got " + std::to_string(batch));
        e.episode_rng = Rng(e.seed_or_next(seed));
        MarkovState s = eval ? e.game().reset_eval(batch, e.episode_rng) : e.game().reset(batch, e.episode_rng);
        e.batch = batch;
        return e.state_dict(s);
      }, pyb::arg("batch") = 1, pyb::arg("seed") = pyb::none(), pyb::arg("eval") = false,
         "Starts `batch` episodes; returns {obs: [per agent [B, D_i]], speaks, acts, reward, done}.")
      .def("step", [](PyMarkov& e, const pyb::object& actions, const pyb::object& messages) {
        e.need_episode("step");
        torch::Tensor a = e.int_input(actions, true), msg = e.int_input(messages, false);
        MarkovState s;
        {
          pyb::gil_scoped_release release;
          s = e.game().step(a, msg, e.episode_rng);
        }
        return e.state_dict(s);
      }, pyb::arg("actions"), pyb::arg("messages"),
         "One step with integer actions [B, N, F] and messages [B, N, L]; returns the new state.")
      .def("step_soft", [](PyMarkov& e, const pyb::object& actions, const pyb::object& messages) {
        e.need_episode("step_soft");
        torch::Tensor a = e.soft_input(actions, true), msg = e.soft_input(messages, false);
        MarkovState s;
        {
          pyb::gil_scoped_release release;
          s = e.game().step_soft(a, msg, e.episode_rng);
        }
        return e.state_dict(s);
      }, pyb::arg("actions"), pyb::arg("messages"),
         "One step with soft actions [B, N, F*K] and messages [B, N, L*V] (MADDPG's path).")
      .def("episode_figures", [](const PyMarkov& e) {
        pyb::dict d;
        for (const auto& [name, v] : e.game().episode_figures()) d[pyb::str(name)] = vec_array(v);
        return d;
      }, "The game's per-episode figures for the episodes of the last reset().")
      .def("state", [](PyMarkov& e) -> pyb::dict {
        if (e.batch == 0) throw UserError("state() needs an episode in progress: call reset(batch) first");
        if (auto* w = dynamic_cast<ParticleWorld*>(e.env.get())) return particle_state(*w, e.batch);
        if (auto* g = dynamic_cast<MatrixGame*>(e.env.get())) {
          const int64_t K = g->options().n_acts, B = e.batch;
          pyb::array_t<double> pay({B, int64_t(2), K, K});
          pyb::array_t<int64_t> first({B});
          for (int64_t b = 0; b < B; ++b) {
            first.mutable_at(b) = g->first_speaker(b);
            for (int64_t i = 0; i < 2; ++i)
              for (int64_t x = 0; x < K; ++x)
                for (int64_t y = 0; y < K; ++y) pay.mutable_at(b, i, x, y) = g->payoff(b, i, x, y);
          }
          pyb::array_t<int64_t> heard({B, int64_t(2)}), said({B, int64_t(2)});
          for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < 2; ++i) heard.mutable_at(b, i) = g->heard(b, i), said.mutable_at(b, i) = g->said(b, i);
          pyb::dict d;
          d["payoffs"] = pay;
          d["first_speaker"] = first;
          d["heard"] = heard;
          d["said"] = said;
          d["t"] = g->phase();
          return d;
        }
        throw UserError("state(): env '" + e.name + "' has no state accessor (particle and matrix have)");
      }, "The worlds' state: positions, velocities, messages, goals (particle); payoffs, first_speaker, heard, said, t (matrix).")
      .def("set_state", [](PyMarkov& e, const pyb::dict& st) {
        if (e.batch == 0) throw UserError("set_state() needs an episode in progress: call reset(batch) first");
        if (auto* g = dynamic_cast<MatrixGame*>(e.env.get())) {
          const int64_t B = e.batch, K = g->options().n_acts;
          for (auto kv : st) {
            const std::string k = pyb::str(kv.first);
            if (k != "payoffs" && k != "first_speaker" && k != "heard" && k != "said")
              throw UserError("set_state(): unknown key '" + k + "'; allowed: payoffs, first_speaker, heard, said");
          }
          std::vector<double> pay;
          std::vector<int64_t> first, heard, said;
          if (st.contains("payoffs")) {
            auto p = shaped<double>(st, "payoffs", {B, 2, K, K});
            pay.assign(p.data(), p.data() + p.size());
          }
          auto ints = [&](const char* key, std::vector<int64_t> shape, std::vector<int64_t>& into) {
            if (!st.contains(key)) return;
            const IntArray v = int_array(st[key], std::string("set_state: '") + key + "'");
            if (v.shape != shape) {
              std::string want;
              for (auto x : shape) want += (want.empty() ? "" : ", ") + std::to_string(x);
              throw UserError(std::string("set_state: '") + key + "' must have shape [" + want + "]");
            }
            into.assign(v.data.begin(), v.data.end());
          };
          ints("first_speaker", {B}, first);
          ints("heard", {B, 2}, heard);
          ints("said", {B, 2}, said);
          e.last = g->set_situation(pay, first, heard, said);  // who speaks / acts next may have changed
          pyb::list obs;
          for (const auto& o : e.last.obs) obs.append(to_numpy(o));
          return obs;
        }
        auto* w = dynamic_cast<ParticleWorld*>(e.env.get());
        if (!w) throw UserError("set_state(): env '" + e.name + "' has no state to set (particle and matrix have)");
        const int64_t B = e.batch, E = w->entities(), N = w->num_agents();
        for (auto kv : st) {
          const std::string k = pyb::str(kv.first);
          if (k != "positions" && k != "velocities" && k != "goals" && k != "key" && k != "messages")
            throw UserError("set_state(): unknown key '" + k + "'; allowed: positions, velocities, goals, key, messages");
        }
        if (st.contains("positions")) {
          auto p = shaped<float>(st, "positions", {B, E, 2});
          for (int64_t b = 0; b < B; ++b)
            for (int64_t x = 0; x < E; ++x) w->set_position(b, x, p.at(b, x, 0), p.at(b, x, 1));
        }
        if (st.contains("velocities")) {
          auto v = shaped<float>(st, "velocities", {B, E, 2});
          for (int64_t b = 0; b < B; ++b)
            for (int64_t x = 0; x < E; ++x) w->set_velocity(b, x, v.at(b, x, 0), v.at(b, x, 1));
        }
        if (st.contains("goals")) {
          auto g = shaped<int64_t>(st, "goals", {B, N});
          for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < N; ++i) {
              if (g.at(b, i) < 0 || g.at(b, i) >= w->num_landmarks())
                throw UserError("set_state(): goals must be landmarks 0.." + std::to_string(w->num_landmarks() - 1));
              w->set_goal(b, i, g.at(b, i));
            }
        }
        if (st.contains("key")) {
          auto kk = shaped<int64_t>(st, "key", {B});
          for (int64_t b = 0; b < B; ++b) {
            if (kk.at(b) < 0 || kk.at(b) >= w->num_landmarks())
              throw UserError("set_state(): key must be landmarks 0.." + std::to_string(w->num_landmarks() - 1));
            w->set_key(b, kk.at(b));
          }
        }
        if (st.contains("messages")) {
          auto c = shaped<float>(st, "messages", {B, N, w->comm_dim()});
          for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < N; ++i) w->set_channel(b, i, c.data(b, i, 0));
        }
        // The observations of the state as set.
        pyb::list obs;
        for (int64_t i = 0; i < N; ++i) {
          auto o = torch::empty({B, w->agent_spec(i).obs_dim}, torch::kFloat32);
          w->write_obs(i, o.data_ptr<float>());
          e.last.obs[i] = o;
          obs.append(to_numpy(o));
        }
        return obs;
      }, pyb::arg("state"),
         "Sets positions / velocities [B, E, 2], goals [B, N], key [B], messages [B, N, C] of the particle "
         "worlds; payoffs [B, 2, K, K], first_speaker [B], heard / said [B, 2] of the matrix games; returns every "
         "agent's observation of the state as set.")
      .def("_bench_cpp", [](PyMarkov& e, const pyb::object& actions, const pyb::object& messages, int64_t steps,
                            double seconds) {
        // The C++ loop the bindings are compared with (python -m emcomm.bench): the same step()
        // calls on the same pool of integer actions [P, B, N, F] / messages [P, B, N, L], step t
        // taking pool entry t % P, resetting after each episode's last step. The pool is converted
        // once per call: `steps` steps, or with seconds > 0 as many as fit in that wall time.
        // Returns the number of steps made.
        torch::Tensor a = to_tensor(actions, torch::kInt64, "actions"), msg = to_tensor(messages, torch::kInt64, "messages");
        if (a.dim() != 4 || msg.dim() != 4 || a.size(0) != msg.size(0) || a.size(1) != e.batch || msg.size(1) != e.batch)
          throw UserError("_bench_cpp: pools must be [P, B, N, F] and [P, B, N, L] with B = the batch of reset()");
        pyb::gil_scoped_release release;
        const int64_t P = a.size(0), B = e.batch;
        std::vector<torch::Tensor> pa, pm;  // the pool's entries, sliced once
        for (int64_t p = 0; p < P; ++p) pa.push_back(a[p]), pm.push_back(msg[p]);
        const auto start = std::chrono::steady_clock::now();
        MarkovState s = e.last;
        int64_t t = 0;
        for (;; ++t) {
          if (seconds > 0 ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds
                          : t >= steps)
            break;
          if (s.all_done()) s = e.game().reset(B, e.episode_rng);
          s = e.game().step(pa[size_t(t % P)], pm[size_t(t % P)], e.episode_rng);
        }
        e.last = s;
        return t;
      }, pyb::arg("actions"), pyb::arg("messages"), pyb::arg("steps"), pyb::arg("seconds") = 0.0);

  m.def("_env_from_ini", [](const std::string& ini) {
    // The env of a run directory's config.ini, built as emcomm train built it.
    // The config as the run resolved it (the file itself: an option the run left empty, such as a
    // random matrix game's env.payoff0, is not a command-line override).
    return env_of(resolve_config(build_schema(), ini, {}));
  }, pyb::arg("ini"));
  m.def("make_env", &make_env, pyb::arg("name"), pyb::arg("seed") = 0,
        "Builds env `name` with env.* options given as keywords (validated as the CLI does).");
}

}  // namespace emcomm::py
