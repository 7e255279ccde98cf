// emcomm analyze: the metrics of docs/metrics.md from a run file alone, for the rows of the
// chosen step(s) of each split; printed as a table or JSON and written back to /metrics.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "envs/env.h"
#include "core/json.h"
#include "core/run_file.h"
#include "experiments/arg_reader.h"
#include "experiments/commands.h"
#include "metrics/metrics.h"

namespace emcomm {
namespace {

const char* kUsage =
    "usage: emcomm analyze RUN.h5 [--split S] [--step latest|all|N] [--json] [--no-write]\n"
    "  --split S     only this split (default: every split under /interactions)\n"
    "  --step W      latest (default): the last logged step of each split; all: every step;\n"
    "                N: exactly step N\n"
    "  --json        print one JSON object instead of the table\n"
    "  --no-write    do not write the values back to /metrics/<split>/<name>\n";

// topsim over at most this many rows, sampled with this seed (docs/metrics.md).
constexpr int64_t kTopsimMaxRows = 1000;
constexpr uint64_t kTopsimSeed = 1;

// Reported in this order; every one of them is written back to /metrics when computed.
const std::vector<std::string> kMetricNames = {
    "entropy", "sc",     "ic",     "mi_concept", "ci_action",   "ci_concept",  "cic",
    "topsim",  "posdis", "bosdis", "accuracy",   "mean_length", "symbols_used"};

struct Args {
  std::string path;
  std::optional<std::string> split;
  std::string step = "latest";  // latest | all | a step number
  bool json = false, write = true, help = false;
};

std::optional<int64_t> parse_step(const std::string& text) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) return std::nullopt;
  size_t used = 0;
  try {
    const int64_t v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

Args parse_args(const std::vector<std::string>& args) {
  Args a;
  ArgReader r(args, "'emcomm analyze'", kUsage);
  std::string value;
  while (r.next()) {
    const std::string& arg = r.arg();
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--no-write") {
      a.write = false;
    } else if (arg == "--help" || arg == "-h") {
      a.help = true;
    } else if (r.value("--split", value)) {
      if (value.empty()) throw UserError("'emcomm analyze' --split needs a split name (e.g. --split val); got an empty one");
      a.split = value;
    } else if (r.value("--step", value)) {
      a.step = value;
      if (a.step != "latest" && a.step != "all" && !parse_step(a.step))
        throw UserError("'emcomm analyze' --step must be latest, all or a step number; got '" + a.step + "'");
    } else if (arg.rfind("-", 0) == 0) {
      throw UserError("unknown option '" + arg + "' for 'emcomm analyze'\n" + kUsage);
    } else if (a.path.empty()) {
      a.path = arg;
    } else {
      throw UserError("'emcomm analyze' takes one run file; got a second one: '" + arg + "'");
    }
  }
  if (a.help) return a;
  if (a.path.empty()) throw UserError(std::string("'emcomm analyze' needs a run file\n") + kUsage);
  return a;
}

// The metrics of one block of rows: a split at one step. An empty optional: inputs absent.
struct Result {
  std::string split;
  std::optional<int64_t> step;  // none for a split without rows
  int64_t rows = 0;
  std::vector<std::optional<double>> values;  // in kMetricNames order
  // Markov games: entropy, sc, ic, ci_action of each speaking agent's own rows, named
  // "<figure>/agent<j>" (j = the sender), in agent order.
  std::vector<std::pair<std::string, std::optional<double>>> per_agent;
};

constexpr const char* kPerAgentNames[] = {"entropy", "sc", "ic", "ci_action"};

// The rows of `b` whose sender is `sender` (without CIC tables).
InteractionBatch rows_of_sender(const InteractionBatch& b, int32_t sender) {
  InteractionBatch o;
  o.msg_len = b.msg_len;
  o.sender_action_width = b.sender_action_width;
  o.receiver_action_width = b.receiver_action_width;
  const int64_t L = b.msg_len, SW = std::max(b.sender_action_width, 1), RW = std::max(b.receiver_action_width, 1);
  for (int64_t r = 0; r < b.rows; ++r) {
    if (b.sender[r] != sender) continue;
    ++o.rows;
    o.message.insert(o.message.end(), b.message.begin() + r * L, b.message.begin() + (r + 1) * L);
    o.length.push_back(b.length[r]);
    if (!b.sender_action.empty())
      o.sender_action.insert(o.sender_action.end(), b.sender_action.begin() + r * SW, b.sender_action.begin() + (r + 1) * SW);
    if (!b.receiver_action.empty())
      o.receiver_action.insert(o.receiver_action.end(), b.receiver_action.begin() + r * RW,
                               b.receiver_action.begin() + (r + 1) * RW);
  }
  return o;
}

bool all_no_action(const std::vector<int32_t>& action) {
  return std::all_of(action.begin(), action.end(), [](int32_t a) { return a == -1; });
}

// Mean CIC over the rows that have a probe (p_message without NaN); none when no row has one.
std::optional<double> mean_cic(const CicBlock& c, int64_t rows) {
  const int64_t M = c.messages, K = c.action_size();
  std::vector<float> pm, pa;
  int64_t probed = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row_pm = c.p_message.data() + r * M;
    if (std::any_of(row_pm, row_pm + M, [](float p) { return std::isnan(p); })) continue;
    const float* row_pa = c.p_action.data() + r * M * K;
    pm.insert(pm.end(), row_pm, row_pm + M);
    pa.insert(pa.end(), row_pa, row_pa + M * K);
    ++probed;
  }
  if (probed == 0) return std::nullopt;
  if (c.action_shape.size() == 2)
    return metrics::cic_factorised(pm.data(), pa.data(), probed, M, c.action_shape[0], c.action_shape[1]);
  return metrics::cic(pm.data(), pa.data(), probed, M, K);
}

std::vector<std::optional<double>> compute(const InteractionBatch& b, const std::optional<CicBlock>& cic);

// The padding rule of docs/hdf5-format.md: a row of length n holds n symbols >= 0, then -1 up
// to the width L. Returns the first violation, "" when every row keeps it.
std::string padding_problem(const InteractionBatch& b) {
  const int64_t L = b.msg_len;
  for (int64_t r = 0; r < b.rows; ++r) {
    const int64_t n = b.length[r];
    if (n < 0 || n > L)
      return "row " + std::to_string(r) + " has length " + std::to_string(n) + ", outside 0.." + std::to_string(L);
    for (int64_t p = 0; p < L; ++p) {
      const int32_t sym = b.message[r * L + p];
      if (p < n && sym < 0)
        return "row " + std::to_string(r) + " (length " + std::to_string(n) + ") has symbol " + std::to_string(sym) +
               " at position " + std::to_string(p) + ", inside the message (symbols are >= 0)";
      if (p >= n && sym != -1)
        return "row " + std::to_string(r) + " (length " + std::to_string(n) + ") has symbol " + std::to_string(sym) +
               " at position " + std::to_string(p) + ", after the message's end (padding must be -1)";
    }
  }
  return "";
}

// Per speaking agent of a Markov game: its own rows' entropy, sc, ic, ci_action.
std::vector<std::pair<std::string, std::optional<double>>> compute_per_agent(const InteractionBatch& b) {
  std::vector<int32_t> senders(b.sender.begin(), b.sender.end());
  std::sort(senders.begin(), senders.end());
  senders.erase(std::unique(senders.begin(), senders.end()), senders.end());
  std::vector<std::pair<std::string, std::optional<double>>> out;
  for (int32_t j : senders) {
    const auto v = compute(rows_of_sender(b, j), std::nullopt);
    for (const char* name : kPerAgentNames)
      out.push_back({std::string(name) + "/agent" + std::to_string(j),
                     v[std::find(kMetricNames.begin(), kMetricNames.end(), name) - kMetricNames.begin()]});
  }
  return out;
}

std::vector<std::optional<double>> compute(const InteractionBatch& b, const std::optional<CicBlock>& cic) {
  using namespace metrics;
  std::vector<std::optional<double>> v(kMetricNames.size());
  if (b.rows == 0) return v;
  auto set = [&](const std::string& name, std::optional<double> value) {
    v[std::find(kMetricNames.begin(), kMetricNames.end(), name) - kMetricNames.begin()] = value;
  };
  const IntTable message = int_table(b.message, b.msg_len);
  const std::vector<int64_t> m = messages_as_symbols(message, b.length);
  set("entropy", entropy(m));
  // An action that is -1 in every row is no action at all (the Lewis speaker): inputs absent.
  if (!b.sender_action.empty() && !all_no_action(b.sender_action)) {
    const auto a = rows_as_symbols(int_table(b.sender_action, std::max(b.sender_action_width, 1)));
    set("sc", mutual_information(m, a));
    set("ci_action", context_independence(a, m));
  }
  if (!b.receiver_action.empty() && !all_no_action(b.receiver_action))
    set("ic", mutual_information(m, rows_as_symbols(int_table(b.receiver_action, std::max(b.receiver_action_width, 1)))));
  if (b.concept_width > 0) {
    const IntTable concept = int_table(b.concept, b.concept_width);
    const auto c = rows_as_symbols(concept);
    set("mi_concept", mutual_information(m, c));
    set("ci_concept", context_independence(c, m));
    set("topsim", topographic_similarity(concept, message, b.length, kTopsimMaxRows, kTopsimSeed));
    set("posdis", posdis(message, concept));
    set("bosdis", bosdis(message, concept));
  }
  if (cic) set("cic", mean_cic(*cic, b.rows));
  // Accuracy needs a notion of success: a target in the rows, or rewards that are all 0 or 1.
  // Graded rewards without a target (particle distances, matrix payoffs) have none: null.
  const bool has_target = std::any_of(b.target.begin(), b.target.end(), [](int32_t t) { return t >= 0; });
  const bool binary = std::all_of(b.reward.begin(), b.reward.end(), [](float r) { return r == 0.0f || r == 1.0f; });
  // With a target the receiver's action can be checked against: exact matches (graded rewards,
  // e.g. reconstruction through the Markov adapter, do not say whether the episode was solved).
  const double matched = b.target_width == b.receiver_action_width && !b.receiver_action.empty()
                             ? target_accuracy(b.receiver_action, b.target, b.target_width)
                             : -1;
  if (matched >= 0) set("accuracy", matched);
  else if (has_target || binary) set("accuracy", accuracy(b.reward));
  set("mean_length", mean_length(b.length));
  set("symbols_used", double(symbols_used(b.message)));
  return v;
}

std::string steps_text(const std::vector<StepRows>& steps) {
  std::string out;
  const size_t n = steps.size();
  for (size_t i = 0; i < n; ++i) {
    if (n > 10 && i == 5) {
      out += ", ...";
      i = n - 5;
    }
    out += (out.empty() ? "" : ", ") + std::to_string(steps[i].step);
  }
  if (out.empty()) return "(none: the split has no rows)";
  return n > 10 ? out + " (" + std::to_string(n) + " steps)" : out;
}

// The row blocks of `split` that --step selects.
std::vector<StepRows> select_steps(const RunReader& reader, const Args& args, const std::string& split) {
  const std::vector<StepRows> steps = reader.step_rows(split);
  if (args.step == "all") return steps;
  if (args.step == "latest") return steps.empty() ? steps : std::vector<StepRows>{steps.back()};
  const int64_t want = *parse_step(args.step);
  for (const auto& s : steps)
    if (s.step == want) return {s};
  throw UserError("run file '" + args.path + "' has no rows at step " + args.step + " in split '" + split +
                  "'; its steps there are: " + steps_text(steps) +
                  (args.split ? "" : " (use --split to analyze one split)"));
}

// The results of one split: one per selected step (a single all-null one for a split without
// rows, unless --step all).
struct SplitResults {
  std::string split;
  std::vector<Result> results;
};

std::vector<SplitResults> analyze(const Args& args) {
  RunReader reader(args.path);
  std::vector<std::string> splits = reader.splits();
  if (args.split) {
    reader.interaction_rows(*args.split);  // a missing split: UserError listing the splits
    splits = {*args.split};
  }
  if (splits.empty()) throw UserError("run file '" + args.path + "' has no interaction rows (nothing under /interactions)");
  // Markov games have several speaking agents with independent codes: figures per agent too.
  bool markov = false;
  const auto config = reader.config();
  if (auto it = config.find("env.name"); it != config.end())
    for (const EnvEntry* e : EnvRegistry::entries()) markov = markov || (e->name == it->second && e->kind == EnvKind::Markov);
  std::vector<SplitResults> out;
  for (const auto& split : splits) {
    SplitResults& sr = out.emplace_back(SplitResults{split, {}});
    const std::vector<StepRows> blocks = select_steps(reader, args, split);
    if (blocks.empty() && args.step == "latest")
      sr.results.push_back({split, std::nullopt, 0, std::vector<std::optional<double>>(kMetricNames.size()), {}});
    for (const auto& blk : blocks) {
      const InteractionBatch rows = reader.interactions(split, blk.first, blk.count);
      if (const std::string bad = padding_problem(rows); !bad.empty())
        throw UserError("run file '" + args.path + "' has malformed rows in split '" + split + "' at step " +
                        std::to_string(blk.step) + ": " + bad);
      const std::optional<CicBlock> cic = reader.cic(split, blk.first, blk.count);
      try {
        sr.results.push_back({split, blk.step, blk.count, compute(rows, cic), {}});
        if (markov) sr.results.back().per_agent = compute_per_agent(rows);
      } catch (const std::invalid_argument& e) {  // the metrics refuse inconsistent data
        if (dynamic_cast<const UserError*>(&e)) throw;
        throw UserError("run file '" + args.path + "' has malformed rows in split '" + split + "' at step " +
                        std::to_string(blk.step) + ": " + e.what());
      }
    }
  }
  return out;
}

std::string json_result(const Result& r) {
  std::string s = "{\"step\": " + (r.step ? std::to_string(*r.step) : "null") + ", \"rows\": " + std::to_string(r.rows);
  for (size_t i = 0; i < kMetricNames.size(); ++i)
    s += ", " + json_string(kMetricNames[i]) + ": " + (r.values[i] ? json_number(*r.values[i]) : "null");
  for (const auto& [name, v] : r.per_agent) s += ", " + json_string(name) + ": " + (v ? json_number(*v) : "null");
  return s + "}";
}

// {"<split>": {...}, ...}, or {"<split>": [{...}, ...], ...} with --step all.
std::string json_output(const std::vector<SplitResults>& splits, bool all_steps) {
  std::string s = "{";
  for (size_t i = 0; i < splits.size(); ++i) {
    s += (i ? ",\n " : "") + json_string(splits[i].split) + ": ";
    if (!all_steps) {
      s += json_result(splits[i].results.front());
      continue;
    }
    s += "[";
    for (size_t j = 0; j < splits[i].results.size(); ++j) s += (j ? ",\n  " : "") + json_result(splits[i].results[j]);
    s += "]";
  }
  return s + "}\n";
}

std::string cell(const std::optional<double>& v, bool integer) {
  if (!v) return "-";
  if (std::isnan(*v)) return "nan";
  char buf[64];
  if (integer)
    std::snprintf(buf, sizeof buf, "%.0f", *v);
  else
    std::snprintf(buf, sizeof buf, "%.4f", *v);
  return buf;
}

// Metrics down, one column per (split, step).
std::string table(const std::vector<SplitResults>& splits, const std::string& path) {
  std::vector<std::string> labels = {"split", "step", "rows"};
  labels.insert(labels.end(), kMetricNames.begin(), kMetricNames.end());
  std::vector<std::string> agent_names;  // every per-agent figure of any column, first-seen order
  for (const auto& sr : splits)
    for (const auto& r : sr.results)
      for (const auto& kv : r.per_agent)
        if (std::find(agent_names.begin(), agent_names.end(), kv.first) == agent_names.end())
          agent_names.push_back(kv.first);
  labels.insert(labels.end(), agent_names.begin(), agent_names.end());
  std::vector<std::vector<std::string>> cols;
  for (const auto& sr : splits) {
    for (const auto& r : sr.results) {
      std::vector<std::string> c = {r.split, r.step ? std::to_string(*r.step) : "-", std::to_string(r.rows)};
      for (size_t i = 0; i < kMetricNames.size(); ++i)
        c.push_back(cell(r.values[i], kMetricNames[i] == "symbols_used"));
      for (const auto& name : agent_names) {
        std::optional<double> v;
        for (const auto& kv : r.per_agent)
          if (kv.first == name) v = kv.second;
        c.push_back(cell(v, false));
      }
      cols.push_back(c);
    }
  }
  std::string out = "run file " + path + "\n";
  for (size_t row = 0; row < labels.size(); ++row) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%-14s", labels[row].c_str());
    std::string line = buf;
    for (const auto& c : cols) {
      size_t width = 10;
      for (const auto& x : c) width = std::max(width, x.size() + 2);
      line += std::string(width - c[row].size(), ' ') + c[row];
    }
    out += line + "\n";
  }
  return out;
}

// The run's matrices (/matrices, e.g. the population's cross-play "crossplay/val") at the
// analysed step: the last point, or the point of --step N; printed whole up to kMatrixPrintMax
// rows and columns, else summarised.
constexpr int64_t kMatrixPrintMax = 12;

std::string matrices_text(const RunReader& reader, const Args& args) {
  std::string out;
  for (const auto& name : reader.matrix_names()) {
    const MatrixSeries m = reader.matrix(name);
    if (m.step.empty()) continue;
    std::vector<size_t> points;
    if (args.step == "all") {
      for (size_t i = 0; i < m.step.size(); ++i) points.push_back(i);
    } else if (args.step == "latest") {
      points.push_back(m.step.size() - 1);
    } else {
      for (size_t i = 0; i < m.step.size(); ++i)
        if (m.step[i] == *parse_step(args.step)) points.push_back(i);
    }
    for (size_t point : points) {
      const float* v = m.at(point);
      double diag = 0, off = 0;
      int64_t nd = 0, no = 0;
      for (int64_t i = 0; i < m.rows; ++i)
        for (int64_t j = 0; j < m.cols; ++j) {
          if (std::isnan(v[i * m.cols + j])) continue;
          if (i == j) diag += v[i * m.cols + j], ++nd;
          else off += v[i * m.cols + j], ++no;
        }
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "\n%s at step %lld: [%lld, %lld], rows = speakers, columns = listeners, - = not evaluated\n"
                    "  diagonal mean %.4f (%lld), off-diagonal mean %.4f (%lld evaluated)\n",
                    name.c_str(), static_cast<long long>(m.step[point]), static_cast<long long>(m.rows),
                    static_cast<long long>(m.cols), nd ? diag / double(nd) : std::nan(""), static_cast<long long>(nd),
                    no ? off / double(no) : std::nan(""), static_cast<long long>(no));
      out += buf;
      if (m.rows > kMatrixPrintMax || m.cols > kMatrixPrintMax) {
        out += "  (larger than " + std::to_string(kMatrixPrintMax) +
               " x " + std::to_string(kMatrixPrintMax) + ": see scripts/plot.py --matrix for a heatmap)\n";
        continue;
      }
      out += "       ";
      for (int64_t j = 0; j < m.cols; ++j) {
        std::snprintf(buf, sizeof buf, "%7s", ("l" + std::to_string(j)).c_str());
        out += buf;
      }
      out += "\n";
      for (int64_t i = 0; i < m.rows; ++i) {
        std::snprintf(buf, sizeof buf, "  %-5s", ("s" + std::to_string(i)).c_str());
        out += buf;
        for (int64_t j = 0; j < m.cols; ++j) {
          const float x = v[i * m.cols + j];
          if (std::isnan(x)) std::snprintf(buf, sizeof buf, "%7s", "-");
          else std::snprintf(buf, sizeof buf, "%7.3f", x);
          out += buf;
        }
        out += "\n";
      }
    }
  }
  return out;
}

void write_back(const std::vector<SplitResults>& splits, const std::string& path) {
  MetricsAppender out(path);
  for (const auto& sr : splits) {
    for (size_t i = 0; i < kMetricNames.size(); ++i) {
      ScalarSeries points;  // this metric at every analysed step of the split
      for (const auto& r : sr.results) {
        if (!r.step || !r.values[i]) continue;
        points.step.push_back(*r.step);
        points.value.push_back(*r.values[i]);
      }
      if (!points.step.empty()) out.set_metric(sr.split, kMetricNames[i], points);
    }
    std::map<std::string, ScalarSeries> agent_points;
    for (const auto& r : sr.results)
      for (const auto& [name, v] : r.per_agent)
        if (r.step && v) agent_points[name].step.push_back(*r.step), agent_points[name].value.push_back(*v);
    for (const auto& [name, points] : agent_points) out.set_metric(sr.split, name, points);
  }
  out.flush();
}

}  // namespace

int analyze_command(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const Args a = parse_args(args);
  if (a.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::vector<SplitResults> results = analyze(a);  // the reader is closed here
  if (a.write) {
    try {
      write_back(results, a.path);
    } catch (const UserError& e) {  // read-only, locked, ...
      throw UserError(std::string(e.what()) + "\n(pass --no-write to analyze the file without writing to it)");
    }
  }
  if (a.json) {
    std::fputs(json_output(results, a.step == "all").c_str(), stdout);
  } else {
    std::fputs(table(results, a.path).c_str(), stdout);
    std::fputs(matrices_text(RunReader(a.path), a).c_str(), stdout);
    if (a.write) std::printf("written to /metrics/<split>/<name> in %s\n", a.path.c_str());
  }
  return 0;
}

}  // namespace emcomm
