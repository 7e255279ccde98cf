// End-to-end tests of `emcomm analyze`: on runs from `emcomm train` (values equal to the C++
// metric functions on the rows RunReader reads), on a file written by h5py alone (values
// computed by hand), writing back to /metrics, and the errors that must exit 2.
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/run_file.h"
#include "metrics/metrics.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const std::string kConfig = test::source_path("experiments/configs/lewis_selfplay.ini");
const std::string kPython = "/usr/bin/python3";  // python3-h5py (scripts/setup-deps)
const std::string kWriteRun = test::source_path("tests/data/write_run.py");

// The subset of JSON that analyze prints: objects, arrays, numbers, null.
struct Json {
  enum class Kind { Null, Number, Array, Object } kind = Kind::Null;
  double number = 0;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  const Json& operator[](const std::string& key) const {
    INFO("JSON key " << key);
    REQUIRE(fields.count(key));
    return fields.at(key);
  }
  const Json& operator[](size_t i) const { return items.at(i); }
  bool is_null() const { return kind == Kind::Null; }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  Json parse() {
    Json j = value();
    skip();
    if (i_ != s_.size()) fail("trailing text");
    return j;
  }

 private:
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("bad JSON (" + what + ") at " + std::to_string(i_) + ": " + s_);
  }
  void expect(char c) {
    skip();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected ") + c);
    ++i_;
  }
  std::string key() {
    expect('"');
    const size_t end = s_.find('"', i_);
    if (end == std::string::npos) fail("unterminated string");
    std::string k = s_.substr(i_, end - i_);
    i_ = end + 1;
    return k;
  }
  Json value() {
    skip();
    Json j;
    if (s_.compare(i_, 4, "null") == 0) {
      i_ += 4;
    } else if (s_[i_] == '{') {
      j.kind = Json::Kind::Object;
      ++i_;
      skip();
      if (s_[i_] == '}') return ++i_, j;
      do {
        std::string k = key();
        expect(':');
        j.fields[k] = value();
        skip();
      } while (s_[i_++] == ',');
      if (s_[i_ - 1] != '}') fail("expected }");
    } else if (s_[i_] == '[') {
      j.kind = Json::Kind::Array;
      ++i_;
      skip();
      if (s_[i_] == ']') return ++i_, j;
      do {
        j.items.push_back(value());
        skip();
      } while (s_[i_++] == ',');
      if (s_[i_ - 1] != ']') fail("expected ]");
    } else {
      char* end = nullptr;
      j.kind = Json::Kind::Number;
      j.number = std::strtod(s_.c_str() + i_, &end);
      if (end == s_.c_str() + i_) fail("expected a value");
      i_ = static_cast<size_t>(end - s_.c_str());
    }
    return j;
  }
  std::string s_;
  size_t i_ = 0;
};

// Runs analyze and parses its JSON (stdout only: stderr is discarded).
Json analyze_json(const std::string& args) {
  auto r = test::run_emcomm("analyze " + args + " --json 2>/dev/null");
  INFO("analyze " << args << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
  return JsonParser(r.output).parse();
}

// What analyze must report for rows [first, first + count) of a split, from the C++ metric
// functions (absent inputs and NaN results: nullopt, i.e. JSON null).
std::map<std::string, std::optional<double>> expected(const RunReader& reader, const std::string& split,
                                                      int64_t first, int64_t count) {
  using namespace metrics;
  const InteractionBatch b = reader.interactions(split, first, count);
  const auto cic_tables = reader.cic(split, first, count);
  std::map<std::string, std::optional<double>> e;
  auto put = [&](const std::string& k, double v) { e[k] = std::isnan(v) ? std::nullopt : std::optional<double>(v); };
  const IntTable msg = int_table(b.message, b.msg_len);
  const auto m = messages_as_symbols(msg, b.length);
  put("entropy", entropy(m));
  for (const auto* k : {"sc", "ci_action", "ic", "mi_concept", "ci_concept", "topsim", "posdis", "bosdis", "cic"})
    e[k] = std::nullopt;
  auto acts = [](const std::vector<int32_t>& a) {
    return !a.empty() && std::any_of(a.begin(), a.end(), [](int32_t x) { return x != -1; });
  };
  if (acts(b.sender_action)) {
    const auto a = rows_as_symbols(int_table(b.sender_action, std::max(b.sender_action_width, 1)));
    put("sc", mutual_information(m, a));
    put("ci_action", context_independence(a, m));
  }
  if (acts(b.receiver_action))
    put("ic", mutual_information(m, rows_as_symbols(int_table(b.receiver_action, std::max(b.receiver_action_width, 1)))));
  if (b.concept_width > 0) {
    const IntTable c = int_table(b.concept, b.concept_width);
    put("mi_concept", mutual_information(m, rows_as_symbols(c)));
    put("ci_concept", context_independence(rows_as_symbols(c), m));
    put("topsim", topographic_similarity(c, msg, b.length, 1000, 1));
    put("posdis", posdis(msg, c));
    put("bosdis", bosdis(msg, c));
  }
  if (cic_tables) {
    const int64_t M = cic_tables->messages, K = cic_tables->action_size();
    std::vector<float> pm, pa;
    int64_t n = 0;
    for (int64_t r = 0; r < count; ++r) {
      if (std::isnan(cic_tables->p_message[r * M])) continue;
      pm.insert(pm.end(), cic_tables->p_message.begin() + r * M, cic_tables->p_message.begin() + (r + 1) * M);
      pa.insert(pa.end(), cic_tables->p_action.begin() + r * M * K, cic_tables->p_action.begin() + (r + 1) * M * K);
      ++n;
    }
    if (n > 0)
      put("cic", cic_tables->action_shape.size() == 2
                     ? cic_factorised(pm.data(), pa.data(), n, M, cic_tables->action_shape[0], cic_tables->action_shape[1])
                     : cic(pm.data(), pa.data(), n, M, K));
  }
  if (b.target_width == b.receiver_action_width && target_accuracy(b.receiver_action, b.target, b.target_width) >= 0)
    put("accuracy", target_accuracy(b.receiver_action, b.target, b.target_width));
  else
    put("accuracy", accuracy(b.reward));
  put("mean_length", mean_length(b.length));
  put("symbols_used", double(symbols_used(b.message)));
  return e;
}

void check_result(const Json& got, const std::map<std::string, std::optional<double>>& want, int64_t step,
                  int64_t rows) {
  CHECK(got["step"].number == step);
  CHECK(got["rows"].number == rows);
  CHECK(got.fields.size() == want.size() + 2);
  for (const auto& [key, value] : want) {
    INFO("metric " << key);
    if (!value) {
      CHECK(got[key].is_null());
    } else {
      REQUIRE_FALSE(got[key].is_null());
      CHECK(got[key].number == *value);  // %.17g round-trips: the very same double
    }
  }
}

test::CommandResult train(const test::TempDir& dir, const std::string& name, const std::string& extra) {
  return test::run_emcomm("train '" + kConfig + "' --run.out='" + (dir / name) + "' " + extra);
}

// The h5py-written file of tests/data/write_run.py.
std::string python_run(const test::TempDir& dir, const std::string& name, const std::string& extra = "") {
  const std::string path = dir / name;
  const std::string cmd = kPython + " '" + kWriteRun + "' '" + path + "' " + extra + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(cmd);
  REQUIRE(rc == 0);
  REQUIRE(fs::exists(path));
  return path;
}

}  // namespace

TEST_CASE("analyze: a trained Lewis run prints the C++ metric values and logs CIC tables", "[e2e][analyze]") {
  test::TempDir dir;
  // 2 x 8 objects, 8 symbols x 2 positions: 64 messages, so the probe enumerates them all.
  auto r = train(dir, "run",
                 "--train.steps=300 --train.eval_every=100 --eval.size=500 --eval.log_rows=50 "
                 "--env.attributes=2 --env.values=8 --agents.vocab_size=8 --agents.max_len=2 "
                 "--metrics.cic_every=200 --metrics.cic_rows=40");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string run = dir / "run/run.h5";
  {
    RunReader reader(run);
    CHECK(reader.validate().empty());
    for (const std::string split : {"train", "val", "test"}) {
      INFO("split " << split);
      auto steps = reader.step_rows(split);
      REQUIRE(steps.size() == 3);
      auto cic = reader.cic(split);
      REQUIRE(cic);
      CHECK(cic->messages == 64);
      CHECK(cic->action_shape == std::vector<int64_t>{2, 8});  // reconstruction: one softmax per attribute
      REQUIRE(cic->message_set.size() == 64 * 2);
      CHECK(cic->message_set[2 * 9] == 1);  // message 9 = (1, 1)
      CHECK(cic->message_set[2 * 9 + 1] == 1);
      // Probed at step 200 (a multiple of cic_every) and 300 (the last), not at 100; the
      // first 40 of the 50 logged rows (metrics.cic_rows) only.
      for (const auto& s : steps)
        for (int64_t row = s.first; row < s.first + s.count; ++row) {
          double sum = 0;
          for (int64_t k = 0; k < 64; ++k) sum += cic->p_message[row * 64 + k];
          if (s.step == 100 || row - s.first >= 40)
            CHECK(std::isnan(sum));
          else
            CHECK(sum == Approx(1.0).margin(1e-4));
        }
    }
  }

  // Default: the latest step of every split; --no-write leaves the file alone.
  const Json latest = analyze_json("'" + run + "' --no-write");
  {
    // A reader holds a lock that keeps writers (analyze without --no-write) out until it closes.
    RunReader reader(run);
    CHECK(latest.fields.size() == 3);
    for (const std::string split : {"train", "val", "test"}) {
      INFO("split " << split);
      const StepRows last = reader.step_rows(split).back();
      CHECK(last.step == 300);
      const auto want = expected(reader, split, last.first, last.count);
      CHECK(want.at("cic").has_value());
      CHECK_FALSE(want.at("sc").has_value());  // the Lewis speaker takes no action
      check_result(latest[split], want, 300, last.count);
    }
    CHECK(reader.metric_splits().empty());

    // --step all and --step N.
    const Json all = analyze_json("'" + run + "' --no-write --step all --split val");
    REQUIRE(all.fields.size() == 1);
    REQUIRE(all["val"].items.size() == 3);
    const auto val_steps = reader.step_rows("val");
    for (size_t i = 0; i < 3; ++i)
      check_result(all["val"][i], expected(reader, "val", val_steps[i].first, val_steps[i].count), val_steps[i].step,
                   val_steps[i].count);
    CHECK(all["val"][0]["cic"].is_null());  // step 100: no probe
    const Json at200 = analyze_json("'" + run + "' --no-write --step=200");
    const StepRows s200 = reader.step_rows("test")[1];
    check_result(at200["test"], expected(reader, "test", s200.first, s200.count), 200, s200.count);
  }

  // Writing back: /metrics/<split>/<name>, once per step however often analyze runs.
  auto table = test::run_emcomm("analyze '" + run + "'");
  INFO(table.output);
  REQUIRE(table.exit_code == 0);
  for (auto s : {"split", "entropy", "cic", "topsim", "symbols_used", "train", "val", "test"})
    CHECK_THAT(table.output, Contains(s));
  REQUIRE(test::run_emcomm("analyze '" + run + "' --json").exit_code == 0);
  REQUIRE(test::run_emcomm("analyze '" + run + "' --step all").exit_code == 0);
  RunReader after(run);
  CHECK(after.validate().empty());
  CHECK(after.metric_splits() == std::vector<std::string>{"test", "train", "val"});
  auto cic = after.metric("val", "cic");
  CHECK(cic.step == std::vector<int64_t>{200, 300});  // 100 has no probe: not written
  CHECK(cic.value[1] == latest["val"]["cic"].number);
  auto entropy = after.metric("train", "entropy");
  CHECK(entropy.step == std::vector<int64_t>{100, 200, 300});  // kept in step order
  CHECK(entropy.value[2] == latest["train"]["entropy"].number);
  auto names = after.metric_names("test");
  CHECK(std::find(names.begin(), names.end(), "sc") == names.end());  // absent inputs: not written
  CHECK(std::find(names.begin(), names.end(), "topsim") != names.end());
}

TEST_CASE("analyze: discrimination with EOS and a sampled CIC probe", "[e2e][analyze]") {
  test::TempDir dir;
  // 5^3 = 125 messages > 16: each row gets 16 messages sampled from the speaker.
  auto r = train(dir, "run",
                 "--train.steps=100 --train.eval_every=100 --eval.size=500 --eval.log_rows=40 "
                 "--env.attributes=2 --env.values=8 --env.mode=discrimination --env.distractors=3 "
                 "--agents.vocab_size=5 --agents.max_len=3 --agents.eos=true --metrics.cic_max_messages=16 "
                 "--metrics.cic_rows=0");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string run = dir / "run/run.h5";
  RunReader reader(run);
  CHECK(reader.validate().empty());
  auto cic = reader.cic("val");
  REQUIRE(cic);
  CHECK(cic->messages == 16);
  CHECK(cic->action_shape == std::vector<int64_t>{4});  // one distribution over the 4 candidates
  CHECK(cic->message_set.empty());
  for (float p : cic->p_message) CHECK(p == 1.0f / 16);
  const Json j = analyze_json("'" + run + "' --no-write");
  for (const std::string split : {"train", "val", "test"}) {
    INFO("split " << split);
    const StepRows last = reader.step_rows(split).back();
    check_result(j[split], expected(reader, split, last.first, last.count), 100, last.count);
  }
}

TEST_CASE("analyze: a run file written by h5py alone gives the hand-computed values", "[e2e][analyze]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempDir dir;
  const std::string run = python_run(dir, "h5py.h5");
  const Json j = analyze_json("'" + run + "' --no-write");
  REQUIRE(j.fields.size() == 2);

  // val, step 20 (tests/data/write_run.py explains each value).
  const Json& v = j["val"];
  CHECK(v["step"].number == 20);
  CHECK(v["rows"].number == 4);
  CHECK(v["entropy"].number == Approx(1.5).margin(1e-12));
  CHECK(v["sc"].number == Approx(1.5).margin(1e-12));
  CHECK(v["ic"].number == Approx(1.0).margin(1e-12));
  CHECK(v["mi_concept"].number == Approx(1.5).margin(1e-12));
  CHECK(v["ci_action"].number == 1.0);
  CHECK(v["ci_concept"].number == 1.0);
  CHECK(v["cic"].number == Approx(1.0 / 3.0).margin(1e-7));
  CHECK(v["topsim"].number == Approx(5.0 / std::sqrt(187.5)).margin(1e-12));
  CHECK(v["accuracy"].number == 0.75);  // target matches, not the rewards' 0.5
  CHECK(v["mean_length"].number == 1.5);
  CHECK(v["symbols_used"].number == 2);
  // posdis and bosdis by hand (docs/metrics.md), with h = H(1/4, 3/4) = 0.8113 bits. Messages
  // (0,-1), (1,-1), (1,0), (1,0); attributes a0 = 0,1,1,1 and a1 = 0,0,1,1.
  // posdis: position 0 = 0,1,1,1 is a0 (I = h) and tells h - 1/2 about a1: gap (1/2) / h;
  // position 1 = -1,-1,0,0 (the padding is a value) is a1 (I = 1) and tells h - 1/2 about a0:
  // gap 1 - (h - 1/2). posdis = (1/(2h) + 3/2 - h) / 2 = 0.6525.
  // bosdis: count of symbol 0 = 1,0,1,1 tells 2h - 3/2 about a0 and h - 1/2 about a1: gap
  // (1 - h) / h; count of symbol 1 = 0,1,1,1 is a0: gap (1/2) / h. bosdis = (3/2 - h) / (2h) = 0.4245.
  const double h14 = 2.0 - 0.75 * std::log2(3.0);
  CHECK(v["posdis"].number == Approx((0.5 / h14 + 1.5 - h14) / 2).margin(1e-12));
  CHECK(v["bosdis"].number == Approx((1.5 - h14) / (2 * h14)).margin(1e-12));
  // And every value equals the C++ functions on the rows RunReader reads.
  RunReader reader(run);
  check_result(v, expected(reader, "val", 2, 4), 20, 4);

  // train: no sender_action, [N, 2] actions, a factorised probe.
  const Json& t = j["train"];
  const double h = -(2.0 / 3 * std::log2(2.0 / 3) + 1.0 / 3 * std::log2(1.0 / 3));
  CHECK(t["entropy"].number == Approx(h).margin(1e-12));
  CHECK(t["ic"].number == Approx(h).margin(1e-12));
  CHECK(t["sc"].is_null());
  CHECK(t["ci_action"].is_null());
  CHECK(t["cic"].number == Approx(0.5).margin(1e-7));
  CHECK(t["topsim"].number == Approx(1.0).margin(1e-12));
  CHECK(t["posdis"].number == 0.0);
  CHECK(t["bosdis"].number == 0.0);
  check_result(t, expected(reader, "train", 0, 3), 20, 3);

  // Every step of val: step 10 has no probe, and topsim is undefined with one pair of rows.
  const Json all = analyze_json("'" + run + "' --no-write --step all --split val");
  REQUIRE(all["val"].items.size() == 2);
  CHECK(all["val"][0]["step"].number == 10);
  CHECK(all["val"][0]["entropy"].number == 1.0);
  CHECK(all["val"][0]["cic"].is_null());
  CHECK(all["val"][0]["topsim"].is_null());
  CHECK(all["val"][1]["step"].number == 20);
}

TEST_CASE("analyze: writes metrics back into an h5py file once per step", "[e2e][analyze]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempDir dir;
  const std::string run = python_run(dir, "h5py.h5");
  for (int i = 0; i < 2; ++i) {
    auto r = test::run_emcomm("analyze '" + run + "'");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("written to /metrics"));
    // The cross-play matrix of the last step, speakers down, listeners across.
    CHECK_THAT(r.output, Contains("crossplay/val at step 20: [2, 2]"));
    CHECK_THAT(r.output, Contains("diagonal mean 0.9375 (2), off-diagonal mean 0.3750 (2 evaluated)"));
    CHECK_THAT(r.output, Contains("  s0     1.000  0.500\n  s1     0.250  0.875\n"));
  }
  RunReader reader(run);
  CHECK(reader.validate().empty());
  // The file's own contiguous series (step 5) is kept and extended.
  auto entropy = reader.metric("val", "entropy");
  CHECK(entropy.step == std::vector<int64_t>{5, 20});
  CHECK(entropy.value == std::vector<double>{9.0, 1.5});
  auto cic = reader.metric("val", "cic");
  CHECK(cic.step == std::vector<int64_t>{20});
  CHECK(cic.value[0] == Approx(1.0 / 3).margin(1e-7));
  CHECK(reader.metric("train", "cic").value == std::vector<double>{0.5});
  auto names = reader.metric_names("train");
  CHECK(std::find(names.begin(), names.end(), "sc") == names.end());
  CHECK(names.size() == 11);  // 13 metrics minus sc and ci_action
}

TEST_CASE("analyze: bad files and arguments exit 2 naming the problem", "[e2e][analyze][errors]") {
  test::TempDir dir;
  const std::string good = python_run(dir, "good.h5");
  const std::string text = dir / "text.h5";
  std::ofstream(text) << "not an HDF5 file\n";
  const std::string truncated = dir / "truncated.h5";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  const std::string not_run = python_run(dir, "notrun.h5", "--no-format");
  const std::string schema1 = python_run(dir, "schema1.h5", "--schema-version 1");
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"'" + dir / "missing.h5" + "'", "does not exist"},
      {"'" + text + "'", "is not an HDF5 file"},
      {"'" + truncated + "'", "cannot be opened (truncated or corrupt?)"},
      {"'" + not_run + "'", "has no format attribute 'emcomm.run'"},
      {"'" + schema1 + "'", "has schema_version 1, this emcomm reads 2"},
      {"'" + good + "' --split nope", "has no interaction split 'nope'; its splits are: train, val"},
      {"'" + good + "' --frobnicate", "unknown option '--frobnicate'"},
      {"'" + good + "' --split val --step 999999", "no rows at step 999999 in split 'val'; its steps there are: 10, 20"},
      {"'" + good + "' --step 10", "no rows at step 10 in split 'train'"},
      {"'" + good + "' --step soon", "--step must be latest, all or a step number; got 'soon'"},
      {"'" + good + "' --split", "--split needs a value"},
      {"'" + good + "' '" + good + "'", "takes one run file"},
      {"", "needs a run file"},
  };
  for (const auto& c : cases) {
    auto r = test::run_emcomm("analyze " + c.args);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(c.expect));
    CHECK_THAT(r.output, Catch::StartsWith("emcomm: error:"));
  }
  // Nothing was written by the failed runs.
  CHECK(RunReader(good).metric_names("train").empty());
  if (const std::string why = test::python_missing({"h5py"}); !why.empty()) {
    WARN("analyze on a file another process holds open not checked: " << why);
  } else {
    // While another process has the file open, analyze can read it but not write to it. HDF5's
    // file locking is on for both processes whatever the caller's environment says (HDF5 reads
    // the variable once per process, so the holder is a fresh process: h5py).
    const test::ScopedEnv locking("HDF5_USE_FILE_LOCKING", "TRUE");
    // The holder keeps the file open until its stdin closes (when this process kills it or
    // ends), not for a fixed time: no wall-clock bound (the wait for it to open the file gives
    // up only on a hang, test::kHangSeconds).
    const std::string ready = good + ".open";
    int hold[2];
    REQUIRE(::pipe(hold) == 0);
    const pid_t holder = ::fork();
    REQUIRE(holder >= 0);
    if (holder == 0) {
      ::dup2(hold[0], 0);
      ::close(hold[0]);
      ::close(hold[1]);
      const std::string code = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); open(sys.argv[2], 'w').close(); "
                               "sys.stdin.read()";
      ::execl(kPython.c_str(), kPython.c_str(), "-c", code.c_str(), good.c_str(), ready.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(hold[0]);
    const bool holding = test::wait_until([&] { return fs::exists(ready); }, holder);
    auto locked = test::run_emcomm("analyze '" + good + "'");
    const auto reading = test::run_emcomm("analyze '" + good + "' --no-write");
    ::close(hold[1]);
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
    REQUIRE(holding);
    INFO(locked.output);
    CHECK(locked.exit_code == 2);
    CHECK_THAT(locked.output, Contains("is locked") && Contains("pass --no-write"));
    CHECK(reading.exit_code == 0);
  }
  auto help = test::run_emcomm("analyze --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Contains("--no-write"));
}
