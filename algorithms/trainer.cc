#include "algorithms/trainer.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace emcomm {

OptionSet trainer_options() {
  OptionSet s;
  s.add_int("run.seed", 1, "seed of every random generator in the run", 0, std::numeric_limits<int32_t>::max())
      .add_string("run.out", "", "run directory (empty: runs/<config-name>-seed<seed>)")
      .add_int("run.threads", 1, "threads of the matmuls (OpenBLAS's pool; LibTorch's intra-op pool stays at 1)", 1, 256)
      .add_int("train.steps", 10000, "training steps", 1, int64_t(1) << 40)
      .add_int("train.eval_every", 500, "evaluate (and flush the run file) every this many steps", 1, int64_t(1) << 40)
      .add_int("eval.size", 10000, "objects evaluated per split, spread evenly over it (0 or more than the split = the whole split)", 0, int64_t(1) << 40)
      .add_int("eval.log_rows", 100, "interaction rows logged per split at each evaluation", 0, 1000000);
  return s;
}

Trainer::Options Trainer::Options::from(const Config& cfg) {
  Options o;
  o.steps = cfg.get_int("train.steps");
  o.eval_every = cfg.get_int("train.eval_every");
  return o;
}

Metrics Trainer::evaluate(Algorithm& algo, int64_t step, Metrics* train_sum, Metrics* train_count) {
  Metrics m = algo.evaluate(step, log_);
  m["time/wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  for (const auto& kv : *train_sum) m["train/" + kv.first] = kv.second / (*train_count)[kv.first];
  train_sum->clear();
  train_count->clear();
  for (const auto& kv : m) log_.append_scalar(kv.first, step, kv.second);
  log_.flush();
  for (auto& h : hooks_)
    if (h.on_evaluate) h.on_evaluate(step, m);
  return m;
}

Metrics Trainer::run(Algorithm& algo) {
  Metrics train_sum, train_count, last;  // per figure: sum and number of steps that reported it
  start_ = std::chrono::steady_clock::now();
  last_step = 0;
  for (int64_t step = 1; step <= opt_.steps; ++step) {
    Metrics m = algo.train_step(step);
    for (const auto& kv : m) {
      if (!std::isfinite(kv.second)) {
        log_.flush();
        throw std::runtime_error("non-finite training " + kv.first + " (" + std::to_string(kv.second) +
                                 ") at step " + std::to_string(step) + "; the run file holds everything before it");
      }
      train_sum[kv.first] += kv.second;
      train_count[kv.first] += 1;
    }
    for (auto& h : hooks_)
      if (h.on_step) h.on_step(step, m);
    const bool stop = algo.finished(step);
    if (step % opt_.eval_every == 0 || step == opt_.steps || stop) last = evaluate(algo, step, &train_sum, &train_count);
    last_step = step;
    if (stop) break;
  }
  last = algo.final_metrics(last);
  if (!opt_.checkpoint_path.empty()) algo.save(opt_.checkpoint_path);
  for (auto& h : hooks_)
    if (h.on_end) h.on_end(last_step, last);
  return last;
}

}  // namespace emcomm
