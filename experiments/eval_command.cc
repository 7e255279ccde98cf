// emcomm eval: evaluates a trained run from one of its checkpoints, without training. The
// evaluation is the one training runs (every split, interaction rows, CIC probe tables, the
// algorithm's own figures); it is logged to a run file of its own (RUN_DIR/eval/...), so the
// run's run.h5 is never changed, and `emcomm analyze` reads it like any run file.
#include <cstdio>
#include <filesystem>
#include <set>

#include "algorithms/runtime.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/run_file.h"
#include "experiments/arg_reader.h"
#include "experiments/commands.h"
#include "experiments/run_loader.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

constexpr const char* kEvalUsage =
    "usage: emcomm eval RUN_DIR [--step final|K] [--split S] [--out FILE.h5] [--overwrite] [--json]\n"
    "                   [--eval.KEY=V ...] [--metrics.KEY=V ...] [--run.threads=N]\n"
    "Evaluates the trained run in RUN_DIR from a checkpoint, without training, as training evaluates it\n"
    "(every split; the figures, interaction rows and CIC tables of an evaluation).\n"
    "  --step final  (default) the model the finished run reports in summary.json: its last checkpoint,\n"
    "                with the model an algorithm selects put back (S2P's s2p.select) and its final\n"
    "                protocol run (MADDPG's eval.final_episodes, figures final/*)\n"
    "  --step K      the checkpoint of step K (checkpoints/step-K.pt; run.checkpoint_keep keeps the newest)\n"
    "  --split S     print only the figures of split S (and those of no split); every split is evaluated\n"
    "  --out FILE    the run file the evaluation is logged to (default RUN_DIR/eval/final.h5 or\n"
    "                RUN_DIR/eval/step-K.h5); --overwrite replaces it\n"
    "  --json        print one JSON object: run_dir, checkpoint, step, model_step, file, figures\n"
    "  --eval.size=N, --eval.log_rows=N, other eval.* and metrics.* options, --run.threads=N: as in training\n"
    "The evaluation file holds the scalars at the checkpoint's step, plus eval/checkpoint_step and\n"
    "eval/model_step (the step whose parameters were evaluated: the selected one for S2P's final model).\n"
    "Exit codes: 0 done, 2 bad input (run directory, option, step, file), 1 internal error.\n";

bool eval_may_override(const std::string& arg) {
  return (arg.rfind("--eval.", 0) == 0 || arg.rfind("--metrics.", 0) == 0 || arg.rfind("--run.threads=", 0) == 0) &&
         arg.find('=') != std::string::npos;
}

// A figure belongs to split S when one of its '/'-separated parts is S.
bool names_split(const std::string& figure, const std::string& split) {
  size_t start = 0;
  while (start <= figure.size()) {
    const size_t end = std::min(figure.find('/', start), figure.size());
    if (figure.compare(start, end - start, split) == 0 && end - start == split.size()) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

int eval_command(const std::vector<std::string>& args) {
  std::string run_arg, step_arg = "final", split, out;
  bool overwrite = false, json = false;
  std::vector<std::string> overrides;
  ArgReader r(args, "'emcomm eval'", kEvalUsage);
  while (r.next()) {
    const std::string& a = r.arg();
    if (a == "--help" || a == "-h") {
      std::fputs(kEvalUsage, stdout);
      return 0;
    } else if (a == "--overwrite") {
      overwrite = true;
    } else if (a == "--json") {
      json = true;
    } else if (r.value("--step", step_arg) || r.value("--split", split) || r.value("--out", out)) {
    } else if (a.rfind("--", 0) == 0) {
      if (!eval_may_override(a))
        throw UserError("'emcomm eval' takes --step, --split, --out, --overwrite, --json and, as --key=value, eval.*, "
                        "metrics.* and run.threads (the run's other options are its own); got '" + a + "'\n" + kEvalUsage);
      overrides.push_back(a);
    } else if (run_arg.empty()) {
      run_arg = a;
    } else {
      throw UserError("'emcomm eval' takes one run directory; got a second one: '" + a + "'");
    }
  }
  if (run_arg.empty()) throw UserError(std::string("'emcomm eval' needs a run directory\n") + kEvalUsage);
  if (r.given("--split") && split.empty()) throw UserError("--split needs a split name (e.g. val)");
  if (r.given("--out") && out.empty()) throw UserError("--out needs a file name");
  const fs::path run_dir = run_arg;
  if (!fs::is_directory(run_dir)) throw UserError("run directory '" + run_arg + "' does not exist or is not a directory");
  if (!fs::is_regular_file(run_dir / "config.ini"))
    throw UserError("'" + run_arg + "' holds no run (no config.ini); emcomm eval takes a directory written by emcomm train");
  int64_t want_step = 0;  // 0: final
  if (step_arg != "final") {
    size_t used = 0;
    try {
      want_step = std::stoll(step_arg, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != step_arg.size() || want_step < 1)
      throw UserError("--step '" + step_arg + "': expected final or a step number (a positive integer)");
  }
  const bool finished = fs::is_regular_file(run_dir / "summary.json");
  if (want_step == 0 && !finished)
    throw UserError("--step final: the run in '" + run_arg + "' has not finished (no summary.json); pass --step K for "
                    "one of its checkpoints, or finish it with emcomm train --resume " + run_arg);

  Config cfg = resolve_config(build_schema(), (run_dir / "config.ini").string(), overrides);
  set_threads(int(cfg.get_int("run.threads")));
  Trainer::Options topt = Trainer::Options::from(cfg);
  topt.checkpoint_dir = (run_dir / "checkpoints").string();
  RestoredRun run = restore_run(cfg, topt, want_step, "emcomm eval '" + run_arg + "'");
  const int64_t step = run.step;

  const fs::path file = !out.empty() ? fs::path(out)
                                     : run_dir / "eval" / (want_step == 0 ? std::string("final.h5")
                                                                          : "step-" + std::to_string(step) + ".h5");
  std::error_code ec;
  if (fs::exists(file, ec) && !overwrite)
    throw UserError("evaluation file '" + file.string() + "' exists; pass --overwrite to replace it or --out another file");
  if (fs::is_directory(file, ec)) throw UserError("--out '" + file.string() + "' is a directory; give a file name");
  try {
    if (file.has_parent_path()) fs::create_directories(file.parent_path());
  } catch (const fs::filesystem_error& e) {
    throw UserError("cannot create the directory of '" + file.string() + "': " + e.code().message());
  }

  // The final model: what final_metrics puts in place (S2P's selected parameters) and the
  // figures only a final protocol computes (MADDPG's final/*).
  Metrics figures;
  double model_step = double(step);
  if (want_step == 0) {
    for (const auto& [name, v] : run.algo->final_metrics(Metrics{})) {
      if (name == "selected_step") model_step = v;
      if (name.rfind("final/", 0) == 0) figures[name] = v;
    }
  }
  {
    RunWriter log(file.string(), cfg.values(), cfg.to_ini(), kEmcommVersion);  // closed before --split reads it
    for (const auto& [name, v] : run.algo->evaluate(step, log)) figures[name] = v;
    figures["eval/checkpoint_step"] = double(step);
    figures["eval/model_step"] = model_step;
    for (const auto& [name, v] : figures) log.append_scalar(name, step, v);
    log.flush();
  }

  std::vector<std::string> shown;
  if (r.given("--split")) {
    const auto splits = RunReader(file.string()).splits();
    std::set<std::string> all(splits.begin(), splits.end());
    if (!all.count(split)) {
      std::string list;
      for (const auto& s : splits) list += (list.empty() ? "" : ", ") + s;
      throw UserError("--split '" + split + "': this run's evaluation has splits " + (list.empty() ? "(none)" : list) +
                      " (the evaluation is logged to " + file.string() + ")");
    }
    for (const auto& [name, v] : figures) {
      bool other = false;
      for (const auto& s : splits) other = other || (s != split && names_split(name, s));
      if (names_split(name, split) || !other) shown.push_back(name);
    }
  } else {
    for (const auto& kv : figures) shown.push_back(kv.first);
  }
  if (json) {
    std::string s = "{\n  \"run_dir\": " + json_string(run_dir.string()) + ",\n  \"checkpoint\": " +
                    json_string(run.trainer->last_checkpoint) + ",\n  \"step\": " + std::to_string(step) +
                    ",\n  \"model_step\": " + json_number(model_step) + ",\n  \"file\": " + json_string(file.string()) +
                    ",\n  \"figures\": {";
    for (size_t i = 0; i < shown.size(); ++i)
      s += std::string(i ? ",\n" : "\n") + "    " + json_string(shown[i]) + ": " + json_number(figures.at(shown[i]));
    std::printf("%s\n  }\n}\n", s.c_str());
    return 0;
  }
  const std::string headline = run.algo->headline();
  std::printf("evaluated %s at step %lld (%s%s)\n", run_dir.string().c_str(), (long long)step,
              run.trainer->last_checkpoint.c_str(),
              model_step != double(step) ? (", the selected model of step " + std::to_string(int64_t(model_step))).c_str() : "");
  if (figures.count(headline)) std::printf("  %-28s %.4f\n", headline.c_str(), figures.at(headline));
  for (const auto& name : shown)
    if (name != headline) std::printf("  %-28s %.4f\n", name.c_str(), figures.at(name));
  std::printf("logged to %s\n", file.string().c_str());
  return 0;
}

}  // namespace emcomm
