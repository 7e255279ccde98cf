#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "algorithms/algorithm.h"
#include "algorithms/interrupt.h"
#include "algorithms/trainer.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/progress.h"
#include "experiments/commands.h"
#include "experiments/run_loader.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

constexpr const char* kVersion = kEmcommVersion;

constexpr const char* kTrainUsage =
    "usage: emcomm train [CONFIG.ini] [--section.key=value ...] [--overwrite]\n"
    "       emcomm train --resume RUN_DIR [--train.steps=N] [--run.stop_after=N] [--run.checkpoint_every=N]\n"
    "                    [--run.checkpoint_keep=N]\n"
    "Trains one run into run.out (default runs/<config name>-seed<seed>/): run.h5, config.ini, summary.json,\n"
    "checkpoints/. Without CONFIG.ini every option not given takes its default (e.g. emcomm train\n"
    "--env.name=matrix --train.algorithm=reinforce; the run directory is then runs/<env>_<algorithm>-seed<seed>/).\n"
    "Options are --section.key=value ('emcomm list' shows every option, its range and default).\n"
    "--overwrite replaces an earlier run in run.out; --resume continues a stopped run from its newest checkpoint;\n"
    "--resume with a larger --train.steps continues a run (finished or not) up to the new step count\n"
    "(config.ini and the run file's /config then record the new value and the step it was raised at).\n"
    "SIGINT/SIGTERM stop after the current step with a checkpoint (exit 130/143).\n"
    "Exit codes: 0 done, 2 bad input (option, value, file), 1 internal error.\n";
// Below this, matmul is in reference-BLAS territory (OpenBLAS on 2 cores gives tens).
constexpr double kSlowBlasGflops = 4.0;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string summary_json(const Metrics& final_eval, int64_t steps, double wall, const std::string& source,
                         const Config& cfg, const fs::path& run_dir) {
  std::string s = "{\n  \"final\": {";
  bool first = true;
  for (const auto& kv : final_eval) {
    s += std::string(first ? "\n" : ",\n") + "    " + json_string(kv.first) + ": " + json_number(kv.second);
    first = false;
  }
  s += "\n  },\n";
  s += "  \"steps\": " + std::to_string(steps) + ",\n";
  s += "  \"wall_seconds\": " + json_number(wall) + ",\n";
  s += "  \"config\": " + json_string(source) + ",\n";
  s += "  \"run_dir\": " + json_string(run_dir.string()) + ",\n";
  s += "  \"seed\": " + std::to_string(cfg.get_int("run.seed")) + ",\n";
  s += "  \"env\": " + json_string(cfg.get_string("env.name")) + ",\n";
  s += "  \"algorithm\": " + json_string(cfg.get_string("train.algorithm")) + "\n}\n";
  return s;
}

// The run directory: refuse to mix a new run into an old one unless asked to replace it.
void prepare_run_dir(const fs::path& dir, bool overwrite) {
  const char* ours[] = {"run.h5", "config.ini", "summary.json", "checkpoints"};
  bool used = false;
  for (const char* f : ours) used = used || fs::exists(dir / f);
  if (used && !overwrite)
    throw UserError("run directory '" + dir.string() +
                    "' already holds a run; pass --overwrite to replace it, --resume '" + dir.string() +
                    "' to continue it, or choose another --run.out");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw UserError("run.out '" + dir.string() + "' exists and is not a directory");
  // --overwrite replaces an earlier run; it never writes into a directory of something else
  // ('/', '.', a home directory): a run directory is new, empty, or an earlier run's.
  if (!used && fs::is_directory(dir, ec) && !fs::is_empty(dir, ec))
    throw UserError("run.out '" + dir.string() +
                    "' is a directory that is not empty and holds no earlier run; choose a new or empty directory");
  try {
    for (const char* f : ours) fs::remove_all(dir / f);
    fs::create_directories(dir / "checkpoints");
  } catch (const fs::filesystem_error& e) {
    throw UserError("run.out '" + dir.string() + "': cannot create the run directory: " + e.code().message());
  }
}

// The first line of RUN_DIR/config.ini names the config file the run was resolved from, so a
// resumed run writes the same summary.json.
constexpr const char* kSourcePrefix = "# emcomm run config resolved from: ";

// The lines after it record each raise of train.steps by a resumed run, oldest first.
constexpr const char* kRaisePrefix = "# train.steps raised from ";

// What RUN_DIR/config.ini records above the resolved options.
struct RecordedHeader {
  std::string source;  // the config file the run was resolved from
  std::string raises;  // the kRaisePrefix lines, each ending in '\n'
};

RecordedHeader recorded_header(const fs::path& ini) {
  std::ifstream in(ini);
  std::string line;
  std::getline(in, line);
  RecordedHeader h;
  h.source = line.rfind(kSourcePrefix, 0) == 0 ? line.substr(std::string(kSourcePrefix).size()) : ini.string();
  while (std::getline(in, line) && line.rfind(kRaisePrefix, 0) == 0) h.raises += line + "\n";
  return h;
}

// The options a resumed run may change: those that do not change its results, and
// train.steps (raised only: the run goes on longer).
bool resume_may_override(const std::string& arg) {
  return arg.rfind("--run.stop_after=", 0) == 0 || arg.rfind("--run.checkpoint_every=", 0) == 0 ||
         arg.rfind("--run.checkpoint_keep=", 0) == 0 || arg.rfind("--train.steps=", 0) == 0;
}

// The comment config.ini and /config/ini carry for each raise of train.steps.
std::string extension_note(int64_t from, int64_t to, int64_t at_step) {
  return kRaisePrefix + std::to_string(from) + " to " + std::to_string(to) + " at step " + std::to_string(at_step) +
         " (emcomm train --resume)\n";
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  std::string config_path, resume_dir;
  bool overwrite = false;
  std::vector<std::string> overrides;
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(kTrainUsage, stdout);
      return 0;
    }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--overwrite") overwrite = true;
    else if (a == "--resume" || a.rfind("--resume=", 0) == 0) {
      if (a == "--resume" && i + 1 == args.size()) throw UserError("--resume needs a run directory: --resume RUN_DIR");
      resume_dir = a == "--resume" ? args[++i] : a.substr(9);
    } else if (a.rfind("--", 0) == 0) overrides.push_back(a);
    else if (i > 0 && !overrides.empty() && args[i - 1] == overrides.back() && a.find('=') == std::string::npos &&
             overrides.back().find('=') == std::string::npos)
      throw UserError("options take their value after '=': write " + overrides.back() + "=" + a + " (got '" +
                      overrides.back() + " " + a + "')");
    else if (config_path.empty()) config_path = a;
    else throw UserError("'emcomm train' takes one config file; got a second one: '" + a + "'");
  }
  const bool resuming = !resume_dir.empty();
  if (resuming) {
    if (overwrite) throw UserError("--resume and --overwrite exclude each other: --resume continues the run in RUN_DIR");
    if (!config_path.empty())
      throw UserError("--resume RUN_DIR takes no config file (the run's own RUN_DIR/config.ini is used); got '" +
                      config_path + "'");
    for (const auto& o : overrides)
      if (!resume_may_override(o))
        throw UserError("a resumed run keeps its config; only --train.steps (to raise it), --run.stop_after, "
                        "--run.checkpoint_every and --run.checkpoint_keep may be given with --resume, got '" + o + "'");
    if (!fs::is_regular_file(fs::path(resume_dir) / "config.ini"))
      throw UserError("--resume '" + resume_dir + "': no run there (no config.ini)");
    config_path = (fs::path(resume_dir) / "config.ini").string();
  }
  // Without a config file the options are the defaults plus the command line.
  if (config_path.empty() && overrides.empty())
    throw UserError("usage: emcomm train [CONFIG.ini] [--section.key=value ...] [--overwrite] | emcomm train --resume RUN_DIR");
  if (!config_path.empty() && !resuming && fs::is_directory(config_path))
    throw UserError("config file '" + config_path + "' is a directory; to continue the run in it use: emcomm train --resume " +
                    config_path);
  if (!config_path.empty() && !fs::is_regular_file(config_path))
    throw UserError("config file '" + config_path + "' does not exist");

  Config cfg = resolve_config(build_schema(), config_path, overrides);
  const RecordedHeader recorded = resuming ? recorded_header(config_path) : RecordedHeader{};
  const std::string source =
      resuming ? recorded.source : config_path.empty() ? std::string("(defaults and the command line)") : cfg.source();
  const int64_t seed = cfg.get_int("run.seed");
  fs::path run_dir = cfg.get_string("run.out");
  if (resuming) run_dir = resume_dir;
  if (run_dir.empty())
    run_dir = fs::path("runs") / ((config_path.empty() ? cfg.get_string("env.name") + "_" + cfg.get_string("train.algorithm")
                                                       : fs::path(config_path).stem().string()) +
                                  "-seed" + std::to_string(seed));
  cfg.set("run.out", run_dir.string());

  const int threads = int(cfg.get_int("run.threads"));
  set_threads(threads);
  // Only a BLAS other than OpenBLAS is timed: a loaded machine must not pass for the reference BLAS.
  const bool openblas = blas_library().find("openblas") != std::string::npos;
  const double gflops = openblas ? 0.0 : matmul_gflops(256, 0.0, 8);
  if (!openblas && gflops < kSlowBlasGflops)
    std::fprintf(stderr,
                 "emcomm: warning: matmul runs at %.1f GFLOP/s, which looks like the reference BLAS "
                 "(about 14x slower than OpenBLAS); install libopenblas0-pthread (scripts/setup-deps)\n",
                 gflops);

  // Build everything before touching the run directory, so a bad config leaves nothing behind.
  // An incompatible env x algorithm pair is refused before anything is built (algorithms/pairs.h).
  Trainer::Options topt = Trainer::Options::from(cfg);
  topt.checkpoint_path = (run_dir / "checkpoints" / "final.pt").string();
  topt.checkpoint_dir = (run_dir / "checkpoints").string();
  std::unique_ptr<Algorithm> algo;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<RunWriter> log;
  int64_t resumed_step = -1;
  if (resuming) {
    // --train.steps may only raise the run's own value.
    const int64_t old_steps = resolve_config(build_schema(), config_path, {}).get_int("train.steps");
    const bool extending = topt.steps != old_steps;
    if (topt.steps < old_steps)
      throw UserError("--train.steps=" + std::to_string(topt.steps) + " with --resume: the run's train.steps is " +
                      std::to_string(old_steps) + "; a resumed run may only raise it");
    RestoredRun restored = restore_run(cfg, topt, 0, "--resume '" + resume_dir + "'");
    algo = std::move(restored.algo);
    trainer = std::move(restored.trainer);
    const int64_t step = resumed_step = restored.step;
    if (extending && algo->finished(step))
      throw UserError("--train.steps=" + std::to_string(topt.steps) + ": the run ended at step " + std::to_string(step) +
                      " because its algorithm's schedule ended (e.g. s2p.rounds or s2p.phase_stop), not at train.steps=" +
                      std::to_string(old_steps) + "; raising train.steps does not continue it (start a new run)");
    // What the algorithm logs once at the end of a run is logged again when this run ends.
    log = std::make_unique<RunWriter>((run_dir / "run.h5").string(), step, algo->final_log_prefixes());
    if (extending) {
      const std::string notes = recorded.raises + extension_note(old_steps, topt.steps, step);
      log->update_config(cfg.values(), notes + cfg.to_ini());
      log->flush();
      write_file(run_dir / "config.ini", kSourcePrefix + source + "\n" + notes + cfg.to_ini());
    }
    trainer->set_log(*log);
    std::fprintf(stderr, "emcomm: resuming %s from %s (step %lld%s)\n", run_dir.string().c_str(),
                 trainer->last_checkpoint.c_str(), (long long)step,
                 extending ? (", train.steps raised to " + std::to_string(topt.steps)).c_str() : "");
  } else {
    algo = build_algorithm(cfg);
    prepare_run_dir(run_dir, overwrite);
    write_file(run_dir / "config.ini", kSourcePrefix + source + "\n" + cfg.to_ini());
    log = std::make_unique<RunWriter>((run_dir / "run.h5").string(), cfg.values(), cfg.to_ini(), kVersion);
    trainer = std::make_unique<Trainer>(topt, *log);
  }

  Progress progress(topt.steps, Progress::stderr_is_terminal());
  std::string latest;
  const std::string headline = algo->headline();
  trainer->add_hooks({[&](int64_t step, const Metrics&) { progress.update(step, latest); },
                      [&](int64_t step, const Metrics& m) {
                        auto it = m.find(headline);
                        if (it != m.end()) latest = headline + " " + std::to_string(it->second).substr(0, 6);
                        progress.update(step, latest);
                      },
                      nullptr});
  Trainer::install_signal_handlers();
  auto t0 = std::chrono::steady_clock::now();
  Metrics final_eval = trainer->run(*algo);
  progress.finish();
  if (trainer->stopped && trainer->abandoned_step > 0) {
    // A long step (or its evaluation) interrupted: it is not checkpointed (algorithms/interrupt.h).
    const int sig = trainer->stop_signal;
    const std::string how =
        trainer->last_checkpoint.empty()
            ? std::string("no checkpoint was written before it, so the run cannot be resumed (start it again with "
                          "--overwrite, or set run.checkpoint_every)")
            : "continue from its last checkpoint " + trainer->last_checkpoint + " with: emcomm train --resume " +
                  run_dir.string();
    std::fprintf(stderr, "emcomm: stopped by %s during step %lld, which was abandoned (not finished after %.0f s); "
                 "the run file is flushed; %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                 (long long)trainer->abandoned_step, kInterruptGraceSeconds, how.c_str());
    return 128 + sig;
  }
  if (trainer->stopped) {
    const std::string how = trainer->last_checkpoint.empty()
                                ? std::string("train.algorithm=") + cfg.get_string("train.algorithm") +
                                      " writes no checkpoints, so this run cannot be resumed"
                                : "checkpoint " + trainer->last_checkpoint + "; continue with: emcomm train --resume " +
                                      run_dir.string();
    const int sig = trainer->stop_signal;
    std::fprintf(sig ? stderr : stdout, "%s after step %lld; the run file is flushed; %s\n",
                 sig ? (sig == SIGINT ? "emcomm: stopped by SIGINT" : "emcomm: stopped by SIGTERM")
                     : "stopped (run.stop_after)",
                 (long long)trainer->last_step, how.c_str());
    return sig ? 128 + sig : 0;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool already_finished = resuming && trainer->last_step == resumed_step && fs::exists(run_dir / "summary.json");
  if (resuming) {
    // The run's whole training time: the last evaluation's (it counts the time before the
    // checkpoint), not only this process's.
    auto it = final_eval.find("time/wall_seconds");
    if (it != final_eval.end() && std::isfinite(it->second)) wall = std::max(wall, it->second);
  }
  if (already_finished) {
    std::printf("the run had already finished at step %lld; its summary.json is kept\n", (long long)trainer->last_step);
  } else {
    write_file(run_dir / "summary.json", summary_json(final_eval, trainer->last_step, wall, source, cfg, run_dir));
    std::printf("finished %lld steps in %.1f s\n", (long long)trainer->last_step, wall);
  }
  // The headline figure first, then accuracies and the mean reward (every env has one of them).
  std::vector<std::string> shown;
  if (final_eval.count(headline)) shown.push_back(headline);
  for (const auto& kv : final_eval)
    if ((kv.first.rfind("sp_acc/", 0) == 0 || kv.first.find("acc") != std::string::npos || kv.first == "reward/mean") &&
        kv.first != headline)
      shown.push_back(kv.first);
  for (const auto& name : shown) std::printf("  %-22s %.4f\n", name.c_str(), final_eval.at(name));
  std::printf("run directory: %s\n", run_dir.string().c_str());
  return 0;
}

}  // namespace emcomm
