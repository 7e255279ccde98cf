// emcomm export: the messages of a run file in another tool's layout. One format: the Emergent
// Language Corpus Collection's (elcc): OUT_DIR/corpus.jsonl and OUT_DIR/metadata.json
// (docs/python.md "Export"). emcomm.export_elcc in Python calls export_elcc below.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/run_file.h"
#include "envs/env.h"
#include "envs/markov_game.h"
#include "experiments/arg_reader.h"
#include "experiments/commands.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kExportUsage =
    "usage: emcomm export RUN.h5|RUN_DIR --format elcc OUT_DIR [--split S] [--step latest|all|N] [--overwrite]\n"
    "Writes the messages of one split of a run file in the Emergent Language Corpus Collection layout:\n"
    "  OUT_DIR/corpus.jsonl  one message per line, a JSON array of its integer tokens (the EOS that ended\n"
    "                        a message is its last token; the run file's -1 padding is never written; a\n"
    "                        message heard by several agents is written once)\n"
    "  OUT_DIR/metadata.json origin (the run), system (game type and subtype, observation type, seeding,\n"
    "                        multi-step, multi-utterance, more than 2 agents, variants) and corpus fields\n"
    "  --split S     the split (default val, or the run's only split: eval for the Markov games)\n"
    "  --step W      latest (default): the rows of the last logged step; all: every row; N: step N\n"
    "  --overwrite   replace corpus.jsonl and metadata.json of an existing OUT_DIR\n"
    "Exit codes: 0 done, 2 bad input (file, format, split, step, OUT_DIR), 1 internal error.\n";

std::string get(const std::map<std::string, std::string>& cfg, const std::string& key,
                const std::string& fallback = "") {
  auto it = cfg.find(key);
  return it == cfg.end() ? fallback : it->second;
}

// (game_type, game_subtype) of the particle scenarios.
std::pair<std::string, std::string> particle_type(const std::string& scenario) {
  static const std::map<std::string, std::pair<std::string, std::string>> kTypes = {
      {"speaker_listener", {"navigation", "cooperative communication"}},
      {"reference", {"navigation", "cooperative reference"}},
      {"simple_crypto", {"signalling", "covert communication"}},
      {"simple_adversary", {"navigation", "physical deception"}},
      {"simple_spread", {"navigation", "cooperative navigation"}},
      {"simple_tag", {"navigation", "predator-prey"}},
      {"simple_push", {"navigation", "keep-away"}},
  };
  auto it = kTypes.find(scenario);
  return it == kTypes.end() ? std::make_pair(std::string("navigation"), scenario) : it->second;
}

// What a Markov game's agents are (built from the run's config: cheap for every Markov env).
struct MarkovFacts {
  int64_t agents = 0, vocab_size = 0;
};

MarkovFacts markov_facts(const std::map<std::string, std::string>& values) {
  std::vector<std::string> overrides;
  for (const auto& [k, v] : values)
    if (k.rfind("env.", 0) == 0 && !v.empty()) overrides.push_back("--" + k + "=" + v);  // empty: the default
  const Config cfg = resolve_config(build_schema(), "", overrides);
  Rng root(static_cast<uint64_t>(cfg.get_int("run.seed")));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  const auto& game = dynamic_cast<const MarkovGame&>(*env);
  MarkovFacts f;
  f.agents = game.num_agents();
  for (int64_t i = 0; i < f.agents; ++i) f.vocab_size = std::max(f.vocab_size, game.agent_spec(i).vocab_size);
  return f;
}

Json system_fields(const std::map<std::string, std::string>& cfg, int64_t* vocab_size, bool* eos) {
  const std::string env = get(cfg, "env.name"), alg = get(cfg, "train.algorithm");
  const bool markov = EnvRegistry::get(env, "env").kind == EnvKind::Markov;
  Json variants = Json::object();
  for (const auto& [k, v] : cfg)
    if (k.rfind("env.", 0) == 0 || k.rfind("agents.", 0) == 0 || (k.rfind("adapter.", 0) == 0 && !markov) ||
        (k.rfind("population.", 0) == 0 && alg == "s2p"))
      variants[k] = v;
  variants["train.algorithm"] = alg;
  Json s;
  s["game_type"] = "signalling";
  s["game_subtype"] = "";
  s["observation_type"] = "vector";
  s["observation_continuous"] = false;
  s["data_source"] = "synthetic";
  s["seeding_available"] = true;
  s["multi_step"] = false;
  s["multi_utterance"] = false;
  s["more_than_2_agents"] = alg == "s2p" && std::stoll(get(cfg, "population.size", "1")) > 1;
  s["symmetric_agents"] = false;
  *eos = false;
  if (!markov) {  // speaker and listener(s); reinforce plays them through the adapter
    const bool adapter = alg == "reinforce";
    *vocab_size = std::stoll(get(cfg, adapter ? "adapter.vocab_size" : "agents.vocab_size", "0"));
    *eos = !adapter && get(cfg, "agents.eos") == "true";
  }
  if (env == "lewis") {
    s["game_subtype"] = get(cfg, "env.mode", "reconstruction");
  } else if (env == "referential") {
    s["game_subtype"] = "discrimination";
    s["observation_type"] = "image";
    s["observation_continuous"] = true;
    if (!get(cfg, "env.dataset").empty()) s["data_source"] = "dataset file " + get(cfg, "env.dataset");
  } else if (env == "matrix") {
    const std::string comm = get(cfg, "env.comm");
    s["game_type"] = "matrix game";
    s["game_subtype"] = "cheap talk, comm=" + comm + ", payoffs=" + get(cfg, "env.payoffs");
    s["observation_continuous"] = true;
    s["multi_step"] = comm != "none";
    s["multi_utterance"] = comm == "turns" || comm == "simul" || comm == "random" || comm == "garble";
    s["symmetric_agents"] = comm != "oneag";
  } else if (env == "particle") {
    const std::string scenario = get(cfg, "env.scenario");
    const auto [type, subtype] = particle_type(scenario);
    s["game_type"] = type;
    s["game_subtype"] = subtype;
    s["observation_continuous"] = true;
    s["multi_step"] = true;
    s["multi_utterance"] = true;
    s["symmetric_agents"] = scenario == "reference" || scenario == "simple_spread";
  }
  if (markov) {
    const MarkovFacts f = markov_facts(cfg);
    s["more_than_2_agents"] = f.agents > 2;
    *vocab_size = f.vocab_size;
  }
  s["variants"] = variants;
  return s;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) throw UserError("cannot write '" + path.string() + "'");
}

}  // namespace

ElccResult export_elcc(const ElccRequest& req) {
  if (req.run.empty()) throw UserError("emcomm export needs a run file (RUN.h5 or a run directory)");
  if (req.out_dir.empty()) throw UserError("emcomm export needs an output directory (OUT_DIR)");
  fs::path path = req.run;
  if (fs::is_directory(path)) path /= "run.h5";
  if (!fs::exists(path)) throw UserError("run file '" + path.string() + "' does not exist");
  const RunReader reader(path.string());
  const std::vector<std::string> splits = reader.splits();
  ElccRequest chosen_req = req;
  if (req.split.empty())  // val, else a run's only split (the Markov games log "eval")
    chosen_req.split =
        std::find(splits.begin(), splits.end(), "val") == splits.end() && splits.size() == 1 ? splits[0] : "val";
  const std::string split = chosen_req.split;
  if (std::find(splits.begin(), splits.end(), split) == splits.end()) {
    std::string list;
    for (const auto& s : splits) list += (list.empty() ? "" : ", ") + s;
    throw UserError("--split '" + split + "': run file '" + path.string() + "' has splits " +
                    (list.empty() ? "(none)" : list));
  }
  const std::vector<StepRows> blocks = reader.step_rows(split);
  std::vector<StepRows> chosen;
  if (req.step == "all") {
    chosen = blocks;
  } else if (req.step == "latest") {
    if (!blocks.empty()) chosen.push_back(blocks.back());
  } else {
    size_t used = 0;
    int64_t want = -1;
    try {
      want = std::stoll(req.step, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != req.step.size() || req.step.empty())
      throw UserError("--step must be latest, all or a step number; got '" + req.step + "'");
    std::string have;
    for (const auto& b : blocks) {
      if (b.step == want) chosen.push_back(b);
      have += (have.empty() ? "" : ", ") + std::to_string(b.step);
    }
    if (chosen.empty())
      throw UserError("run file '" + path.string() + "' has no rows at step " + req.step + " in split '" + split +
                      "'; its steps there are: " + (have.empty() ? "(none)" : have));
  }
  const fs::path out = req.out_dir;
  std::error_code ec;
  if (fs::exists(out, ec) && !req.overwrite)
    throw UserError("output directory '" + out.string() +
                    "' exists; pass --overwrite to replace its corpus.jsonl and metadata.json");
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw UserError("output '" + out.string() + "' exists and is not a directory");
  const std::map<std::string, std::string> cfg = reader.config();
  int64_t vocab_size = 0;
  bool eos = false;
  const Json system = system_fields(cfg, &vocab_size, &eos);

  // One line per utterance: rows sharing (step, episode, t, sender) are one message heard by
  // several agents (the Markov games' rows are one per hearer).
  std::string corpus;
  int64_t lines = 0, rows = 0, max_length = 0;
  std::set<std::tuple<int64_t, int64_t, int64_t, int32_t>> seen;
  std::vector<int64_t> steps;
  for (const auto& block : chosen) {
    const InteractionBatch b = reader.interactions(split, block.first, block.count);
    steps.push_back(block.step);
    for (int64_t r = 0; r < b.rows; ++r) {
      ++rows;
      if (!seen.insert({b.step[r], b.episode[r], b.t[r], b.sender[r]}).second) continue;
      const int64_t n = std::min<int64_t>(b.length[r], b.msg_len);
      corpus += "[";
      for (int64_t k = 0; k < n; ++k) corpus += (k ? "," : "") + std::to_string(b.message[size_t(r * b.msg_len + k)]);
      corpus += "]\n";
      max_length = std::max(max_length, n);
      ++lines;
    }
  }
  auto attribute = [&](const std::string& name) -> Json {
    try {
      return reader.attribute(name);
    } catch (const UserError&) {
      return nullptr;
    }
  };
  Json origin;
  origin["name"] = "emcomm";
  origin["upstream_source"] = "emcomm run file " + fs::absolute(path).lexically_normal().string();
  origin["paper"] = nullptr;
  origin["emcomm_version"] = attribute("emcomm_version");
  origin["created_utc"] = attribute("created_utc");
  origin["split"] = split;
  origin["step"] = req.step == "latest" || req.step == "all" ? Json(req.step) : Json(std::stoll(req.step));
  origin["steps"] = steps;
  origin["env"] = get(cfg, "env.name");
  origin["algorithm"] = get(cfg, "train.algorithm");
  origin["seed"] = std::stoll(get(cfg, "run.seed", "0"));
  Json corpus_meta;
  corpus_meta["lines"] = lines;
  corpus_meta["rows"] = rows;
  corpus_meta["vocab_size"] = vocab_size;
  corpus_meta["max_length"] = max_length;
  corpus_meta["eos"] = eos ? Json(
                                 "token 0 ends a message and is written as its last token; a message that reached "
                                 "agents.max_len has none")
                           : Json(nullptr);
  corpus_meta["padding"] = "none written (the run file's -1 after a message's end is dropped)";
  Json meta;
  meta["origin"] = origin;
  meta["system"] = system;
  meta["corpus"] = corpus_meta;

  try {
    fs::create_directories(out);
  } catch (const fs::filesystem_error& e) {
    throw UserError("cannot create the output directory '" + out.string() + "': " + e.code().message());
  }
  ElccResult res;
  res.lines = lines;
  res.corpus = (out / "corpus.jsonl").string();
  res.metadata = (out / "metadata.json").string();
  write_file(res.corpus, corpus);
  write_file(res.metadata, meta.dump(2) + "\n");
  return res;
}

int export_command(const std::vector<std::string>& args) {
  ElccRequest req;
  std::string format;
  std::vector<std::string> positional;
  ArgReader reader(args, "'emcomm export'", kExportUsage);
  while (reader.next()) {
    const std::string& a = reader.arg();
    if (a == "--help" || a == "-h") {
      std::fputs(kExportUsage, stdout);
      return 0;
    } else if (a == "--overwrite") {
      req.overwrite = true;
    } else if (reader.value("--format", format) || reader.value("--split", req.split) || reader.value("--step", req.step)) {
    } else if (a.rfind("--", 0) == 0) {
      throw UserError("unknown option '" + a + "' for 'emcomm export'\n" + kExportUsage);
    } else {
      positional.push_back(a);
    }
  }
  if (!reader.given("--format")) throw UserError(std::string("'emcomm export' needs --format elcc\n") + kExportUsage);
  if (format != "elcc") throw UserError("--format '" + format + "': emcomm export writes elcc only");
  if (positional.size() != 2)
    throw UserError("'emcomm export' takes a run file and an output directory; got " +
                    std::to_string(positional.size()) + " arguments\n" + kExportUsage);
  if (reader.given("--split") && req.split.empty()) throw UserError("--split needs a split name (e.g. val)");
  if (!reader.given("--split")) req.split.clear();
  req.run = positional[0];
  req.out_dir = positional[1];
  const ElccResult r = export_elcc(req);
  std::printf("wrote %lld messages to %s and %s\n", (long long)r.lines, r.corpus.c_str(), r.metadata.c_str());
  return 0;
}

}  // namespace emcomm
