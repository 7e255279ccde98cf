#include "algorithms/trainer.h"

#include <fcntl.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "algorithms/interrupt.h"
#include "algorithms/state_archive.h"
#include "core/errors.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

constexpr const char* kCheckpointFormat = "emcomm.checkpoint";
constexpr int64_t kCheckpointVersion = 1;

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) { g_stop_signal = sig; }

// When interrupt_point() first saw the pending signal (only the training thread calls it).
bool g_signal_seen = false;
std::chrono::steady_clock::time_point g_signal_seen_at;

std::string checkpoint_name(int64_t step) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "step-%012lld.pt", static_cast<long long>(step));
  return buf;
}

// fsync a file or directory; a checkpoint must survive a power loss once renamed.
void sync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void interrupt_point() {
  if (g_stop_signal == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!g_signal_seen) {
    g_signal_seen = true;
    g_signal_seen_at = now;
    return;
  }
  if (std::chrono::duration<double>(now - g_signal_seen_at).count() >= kInterruptGraceSeconds) throw StepInterrupted();
}

OptionSet trainer_options() {
  OptionSet s;
  s.add_int("run.seed", 1, "seed of every random generator in the run", 0, std::numeric_limits<int32_t>::max())
      .add_string("run.out", "", "run directory (empty: runs/<config-name>-seed<seed>)")
      .add_int("run.threads", 1, "threads of the matmuls (OpenBLAS's pool; LibTorch's intra-op pool stays at 1; an S2P population splits its members over them instead)", 1, 256)
      .add_int("run.checkpoint_every", 1000,
               "write a resumable checkpoint every this many steps (0: only at the end)", 0, int64_t(1) << 40)
      .add_int("run.checkpoint_keep", 2, "checkpoints kept in RUN_DIR/checkpoints (the newest)", 1, 1000)
      .add_int("run.stop_after", 0,
               "stop after this step as SIGTERM would: checkpoint, exit 0; continue with --resume (0: never)", 0,
               int64_t(1) << 40)
      .add_int("train.steps", 10000, "training steps", 1, int64_t(1) << 40)
      .add_int("train.eval_every", 500, "evaluate (and flush the run file) every this many steps", 1, int64_t(1) << 40)
      .add_int("eval.size", 10000, "objects evaluated per split, spread evenly over it (0 or more than the split = the whole split); Markov games (matrix, particle): episodes per evaluation (0 = 1000)", 0, int64_t(1) << 40)
      .add_int("eval.log_rows", 100, "interaction rows logged per split at each evaluation", 0, 1000000);
  return s;
}

Trainer::Options Trainer::Options::from(const Config& cfg) {
  Options o;
  o.steps = cfg.get_int("train.steps");
  o.eval_every = cfg.get_int("train.eval_every");
  o.checkpoint_every = cfg.get_int("run.checkpoint_every");
  o.checkpoint_keep = cfg.get_int("run.checkpoint_keep");
  o.stop_after = cfg.get_int("run.stop_after");
  return o;
}

void Trainer::install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;  // a second signal terminates at once; no EINTR in I/O
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

double Trainer::elapsed() const {
  return resumed_seconds_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

Metrics Trainer::evaluate(Algorithm& algo, int64_t step) {
  Metrics m = algo.evaluate(step, *log_);
  m["time/wall_seconds"] = elapsed();
  for (const auto& kv : train_sum_) m["train/" + kv.first] = kv.second / train_count_[kv.first];
  train_sum_.clear();
  train_count_.clear();
  for (const auto& kv : m) log_->append_scalar(kv.first, step, kv.second);
  log_->flush();
  for (auto& h : hooks_)
    if (h.on_evaluate) h.on_evaluate(step, m);
  return m;
}

void Trainer::check_parameters(Algorithm& algo, int64_t step) {
  const std::string bad = algo.nonfinite_parameter();
  if (bad.empty()) return;
  log_->flush();
  throw std::runtime_error("non-finite parameter " + bad + " after step " + std::to_string(step) +
                           "; the run file holds everything before it" +
                           (last_checkpoint.empty() ? std::string() : ", the last good checkpoint is " + last_checkpoint));
}

std::vector<std::string> Trainer::checkpoints(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == checkpoint_name(0).size() && name.rfind("step-", 0) == 0 &&
        name.compare(name.size() - 3, 3, ".pt") == 0)
      found.push_back(e.path().string());
  }
  std::sort(found.rbegin(), found.rend());  // zero-padded step: name order is step order
  return found;
}

int64_t Trainer::checkpoint_step(const std::string& path) {
  const std::string name = fs::path(path).filename().string();  // step-000000000123.pt
  return std::stoll(name.substr(5, name.size() - 8));
}

void Trainer::write_checkpoint(Algorithm& algo, int64_t step) {
  if (opt_.checkpoint_dir.empty() || !algo.resumable()) return;
  check_parameters(algo, step);
  state::Out ar;
  ar.write("format", c10::IValue(std::string(kCheckpointFormat)));
  state::put(ar, "version", kCheckpointVersion);
  state::put(ar, "step", step);
  state::put(ar, "wall_seconds", elapsed());
  state::put(ar, "train_sum", train_sum_);
  state::put(ar, "train_count", train_count_);
  state::put(ar, "last_eval", last_);
  state::Out algo_ar;
  algo.save_state(algo_ar);
  ar.write("algorithm", algo_ar);
  // Atomic: a crash leaves either the old set of checkpoints or the new file, never half of it.
  const fs::path dir = opt_.checkpoint_dir, final_path = dir / checkpoint_name(step);
  const fs::path tmp = final_path.string() + ".tmp";
  ar.save_to(tmp.string());
  sync_path(tmp);
  fs::rename(tmp, final_path);
  sync_path(dir);
  last_checkpoint = final_path.string();
  checkpoint_step_ = step;
  const auto all = checkpoints(dir.string());
  for (size_t i = static_cast<size_t>(opt_.checkpoint_keep); i < all.size(); ++i) fs::remove(all[i]);
}

int64_t Trainer::resume(Algorithm& algo, const std::string& path) {
  if (!algo.resumable()) throw UserError("this run's train.algorithm cannot resume from checkpoints");
  int64_t step = 0;
  try {
    state::In ar;
    ar.load_from(path);
    c10::IValue format;
    if (!ar.try_read("format", format) || !format.isString() || format.toStringRef() != kCheckpointFormat)
      throw std::runtime_error("it is not an emcomm checkpoint");
    const int64_t version = state::get_int(ar, "version");
    if (version != kCheckpointVersion)
      throw std::runtime_error("checkpoint version " + std::to_string(version) + ", this emcomm reads " +
                               std::to_string(kCheckpointVersion));
    step = state::get_int(ar, "step");
    resumed_seconds_ = state::get_double(ar, "wall_seconds");
    train_sum_ = state::get_metrics(ar, "train_sum");
    train_count_ = state::get_metrics(ar, "train_count");
    last_ = state::get_metrics(ar, "last_eval");
    state::In algo_ar;
    if (!ar.try_read("algorithm", algo_ar)) throw std::runtime_error("checkpoint has no entry 'algorithm'");
    algo.load_state(algo_ar);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));  // LibTorch appends a C++ stack trace
    throw UserError("checkpoint '" + path + "' cannot be resumed from (corrupt, truncated or from another config): " + what);
  }
  if (step < 1 || step > opt_.steps)
    throw UserError("checkpoint '" + path + "' is at step " + std::to_string(step) + ", outside 1.." +
                    std::to_string(opt_.steps) + " (train.steps)");
  first_step_ = step + 1;
  last_step = step;
  last_checkpoint = path;
  return step;
}

Metrics Trainer::abandon(int64_t step) {
  stop_signal = g_stop_signal;
  stopped = true;
  abandoned_step = step;
  last_step = checkpoint_step_ >= 0 ? checkpoint_step_ : first_step_ - 1;
  log_->flush();
  return last_;
}

Metrics Trainer::run(Algorithm& algo) {
  start_ = std::chrono::steady_clock::now();
  stopped = false;
  stop_signal = 0;
  bool done = first_step_ > 1 && (last_step >= opt_.steps || algo.finished(last_step));
  for (int64_t step = first_step_; step <= opt_.steps && !done; ++step) {
    Metrics m;
    try {
      m = algo.train_step(step);
    } catch (const StepInterrupted&) {
      return abandon(step);
    }
    for (const auto& kv : m) {
      if (!std::isfinite(kv.second)) {
        log_->flush();
        throw std::runtime_error("non-finite training " + kv.first + " (" + std::to_string(kv.second) +
                                 ") at step " + std::to_string(step) + "; the run file holds everything before it" +
                                 (last_checkpoint.empty() ? std::string()
                                                          : ", the last good checkpoint is " + last_checkpoint));
      }
      train_sum_[kv.first] += kv.second;
      train_count_[kv.first] += 1;
    }
    for (auto& h : hooks_)
      if (h.on_step) h.on_step(step, m);
    done = algo.finished(step) || step == opt_.steps;
    last_step = step;
    if (step % opt_.eval_every == 0 || done || algo.wants_evaluation(step)) {
      check_parameters(algo, step);
      try {
        last_ = evaluate(algo, step);
      } catch (const StepInterrupted&) {
        return abandon(step);
      }
    }
    if (done || (opt_.checkpoint_every > 0 && step % opt_.checkpoint_every == 0)) write_checkpoint(algo, step);
    if (!done && (g_stop_signal != 0 || step == opt_.stop_after)) {
      stop_signal = g_stop_signal;
      stopped = true;
      log_->flush();
      if (checkpoint_step_ != step) write_checkpoint(algo, step);
      return last_;
    }
  }
  last_ = algo.final_metrics(last_);
  algo.log_final(last_step, *log_);
  log_->flush();
  if (!opt_.checkpoint_path.empty()) algo.save(opt_.checkpoint_path);
  for (auto& h : hooks_)
    if (h.on_end) h.on_end(last_step, last_);
  return last_;
}

}  // namespace emcomm
