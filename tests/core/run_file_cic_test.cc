// The run file's CIC tables (cic/p_message, cic/p_action, cic/messages), the step index of a
// split, metric series reading, and MetricsAppender (what `emcomm analyze` writes back).
#include <H5Cpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/run_file.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using emcomm::CicBlock;
using emcomm::InteractionBatch;
using emcomm::MetricsAppender;
using emcomm::RunReader;
using emcomm::RunWriter;
using emcomm::UserError;

namespace {

using emcomm::test::TempPath;
using emcomm::test::thrown_message;

const std::map<std::string, std::string> kConfig = {{"env.name", "lewis"}};

// `rows` rows at `step`, fixed-length messages of 2 symbols, concept [N, 2].
InteractionBatch rows_at(int64_t step, int64_t rows, int salt = 0) {
  InteractionBatch b;
  b.rows = rows;
  b.msg_len = 2;
  b.concept_width = 2;
  for (int64_t r = 0; r < rows; ++r) {
    b.step.push_back(step);
    b.episode.push_back(r);
    b.t.push_back(0);
    b.sender.push_back(0);
    b.receiver.push_back(1);
    b.message.push_back(int32_t((r + salt) % 3));
    b.message.push_back(int32_t(r % 2));
    b.length.push_back(2);
    b.concept.push_back(int32_t(r % 4));
    b.concept.push_back(int32_t((r + salt) % 5));
    b.reward.push_back(float(r % 2));
  }
  return b;
}

// A probe of M messages with action shape `shape`; values depend on `salt`.
CicBlock probe(int64_t rows, int64_t M, std::vector<int64_t> shape, int salt, bool with_set) {
  CicBlock c;
  c.messages = M;
  c.action_shape = shape;
  for (int64_t i = 0; i < rows * M; ++i) c.p_message.push_back(float(1 + (i + salt) % 3) / 8.0f);
  for (int64_t i = 0; i < rows * M * c.action_size(); ++i) c.p_action.push_back(float((i * 7 + salt) % 11) / 10.0f);
  if (with_set)
    for (int64_t k = 0; k < M; ++k) {
      c.message_set.push_back(int32_t(k));
      c.message_set.push_back(k % 2 ? -1 : 0);
    }
  return c;
}

std::vector<hsize_t> dims(const std::string& file, const std::string& ds) {
  H5::H5File f(file, H5F_ACC_RDONLY);
  H5::DataSpace space = f.openDataSet(ds).getSpace();
  std::vector<hsize_t> d(space.getSimpleExtentNdims());
  space.getSimpleExtentDims(d.data());
  return d;
}

bool all_nan(const std::vector<float>& v, size_t first, size_t count) {
  for (size_t i = first; i < first + count; ++i)
    if (!std::isnan(v[i])) return false;
  return true;
}


}  // namespace

TEST_CASE("run file cic round trip: probed rows - NaN rows without a probe - row count kept", "[run_file][cic]") {
  TempPath file("cic.h5");
  const int64_t M = 3;
  InteractionBatch b1 = rows_at(100, 5), b2 = rows_at(200, 4, 1), b3 = rows_at(300, 2, 2), b4 = rows_at(400, 3, 3);
  b2.cic = probe(4, M, {2}, 1, true);
  b4.cic = probe(3, M, {2}, 2, true);
  InteractionBatch f1 = rows_at(100, 2), f2 = rows_at(200, 2, 1);  // split "fact": [N, M, A, V]
  f2.cic = probe(2, M, {2, 4}, 5, false);
  {
    RunWriter w(file.str(), kConfig, "", "test");
    w.append_interactions("val", b1);
    w.flush();
    CHECK_FALSE(RunReader(file.str()).cic("val"));  // no cic group yet
    w.append_interactions("val", b2);
    w.flush();
    // Created with the earlier rows unwritten: first dimension = the split's row count.
    CHECK(dims(file.str(), "/interactions/val/cic/p_message") == std::vector<hsize_t>{9, 3});
    CHECK(dims(file.str(), "/interactions/val/cic/p_action") == std::vector<hsize_t>{9, 3, 2});
    w.append_interactions("val", b3);
    w.flush();
    CHECK(dims(file.str(), "/interactions/val/cic/p_message") == std::vector<hsize_t>{11, 3});
    w.append_interactions("val", b4);
    w.append_interactions("fact", f1);
    w.append_interactions("fact", f2);
    w.append_interactions("plain", rows_at(100, 3));
  }
  RunReader r(file.str());
  CHECK(r.validate().empty());
  CHECK(dims(file.str(), "/interactions/val/cic/p_action") == std::vector<hsize_t>{14, 3, 2});
  CHECK(dims(file.str(), "/interactions/val/cic/messages") == std::vector<hsize_t>{3, 2});

  auto all = r.cic("val");
  REQUIRE(all);
  CHECK(all->messages == M);
  CHECK(all->action_shape == std::vector<int64_t>{2});
  CHECK(all->message_set == b2.cic->message_set);
  REQUIRE(all->p_message.size() == 14 * M);
  REQUIRE(all->p_action.size() == 14 * M * 2);
  CHECK(all_nan(all->p_message, 0, 5 * M));        // b1: before the first probe
  CHECK(all_nan(all->p_action, 0, 5 * M * 2));
  CHECK(std::vector<float>(all->p_message.begin() + 5 * M, all->p_message.begin() + 9 * M) == b2.cic->p_message);
  CHECK(std::vector<float>(all->p_action.begin() + 10 * M, all->p_action.begin() + 18 * M) == b2.cic->p_action);
  CHECK(all_nan(all->p_message, 9 * M, 2 * M));    // b3: no probe
  CHECK(all_nan(all->p_action, 18 * M, 4 * M));
  CHECK(std::vector<float>(all->p_message.begin() + 11 * M, all->p_message.end()) == b4.cic->p_message);
  CHECK(std::vector<float>(all->p_action.begin() + 22 * M, all->p_action.end()) == b4.cic->p_action);

  // A row range reads only those rows.
  auto part = r.cic("val", 11, 3);
  REQUIRE(part);
  CHECK(part->p_message == b4.cic->p_message);
  CHECK(part->p_action == b4.cic->p_action);

  auto fact = r.cic("fact");
  REQUIRE(fact);
  CHECK(fact->action_shape == std::vector<int64_t>{2, 4});
  CHECK(fact->message_set.empty());  // sampled probes have no shared message set
  CHECK(all_nan(fact->p_message, 0, 2 * M));
  CHECK(std::vector<float>(fact->p_action.begin() + 2 * M * 8, fact->p_action.end()) == f2.cic->p_action);
  CHECK_FALSE(r.cic("plain"));
  CHECK_THROWS_AS(r.cic("val", 10, 5), UserError);  // beyond the split's rows
}

TEST_CASE("run writer refuses cic probes that change the split's tables", "[run_file][cic]") {
  TempPath file("cic_mismatch.h5");
  RunWriter w(file.str(), kConfig, "", "test");
  InteractionBatch a = rows_at(1, 2), b = rows_at(2, 2), c = rows_at(3, 2), d = rows_at(4, 2);
  a.cic = probe(2, 3, {2}, 0, true);
  b.cic = probe(2, 4, {2}, 0, true);  // another M
  c.cic = probe(2, 3, {3}, 0, true);  // another action shape
  d.cic = probe(2, 3, {2}, 0, false);  // no message set where the split has one
  w.append_interactions("val", a);
  for (auto* bad : {&b, &c, &d}) CHECK_THROWS_AS(w.append_interactions("val", *bad), std::logic_error);
  InteractionBatch sizes = rows_at(5, 2);
  sizes.cic = probe(2, 3, {2}, 0, true);
  sizes.cic->p_action.pop_back();
  CHECK_THROWS_AS(w.append_interactions("val", sizes), std::logic_error);
  w.flush();
  RunReader r(file.str());
  CHECK(r.interaction_rows("val") == 2);  // nothing of the refused batches was written
  CHECK(r.validate().empty());
}

TEST_CASE("validate checks cic shapes against the row count", "[run_file][cic]") {
  TempPath file("cic_bad.h5");
  {
    RunWriter w(file.str(), kConfig, "", "test");
    w.append_interactions("val", rows_at(1, 4));
  }
  auto write_table = [&](const std::string& name, std::vector<hsize_t> shape) {
    H5::H5File f(file.str(), H5F_ACC_RDWR);
    if (!f.nameExists("/interactions/val/cic")) f.createGroup("/interactions/val/cic");
    f.createDataSet("/interactions/val/cic/" + name, H5::PredType::IEEE_F32LE,
                    H5::DataSpace(int(shape.size()), shape.data()));
  };
  write_table("p_message", {3, 5});  // 3 rows, the split has 4
  {
    auto problems = RunReader(file.str()).validate();
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Contains("both p_message and p_action"));
  }
  write_table("p_action", {3, 5, 2});
  auto problems = RunReader(file.str()).validate();
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Contains("cic/p_message [3, 5]") && Contains("do not fit 4 rows"));
  CHECK_THROWS_AS(RunReader(file.str()).cic("val"), UserError);
}

TEST_CASE("step_rows groups a split's rows by step and refuses out-of-order steps", "[run_file]") {
  TempPath file("steps.h5");
  {
    RunWriter w(file.str(), kConfig, "", "test");
    w.append_interactions("val", rows_at(100, 3));
    w.append_interactions("val", rows_at(100, 2));  // two batches of one step (a population)
    w.append_interactions("val", rows_at(200, 4));
    w.append_interactions("bad", rows_at(200, 1));
    w.append_interactions("bad", rows_at(100, 1));
  }
  RunReader r(file.str());
  auto steps = r.step_rows("val");
  REQUIRE(steps.size() == 2);
  CHECK((steps[0].step == 100 && steps[0].first == 0 && steps[0].count == 5));
  CHECK((steps[1].step == 200 && steps[1].first == 5 && steps[1].count == 4));
  CHECK_THAT(thrown_message([&] { r.step_rows("bad"); }),
             Contains("out of step order") && Contains("row 1 has step 100 after step 200"));
  CHECK_THROWS_AS(r.step_rows("nope"), UserError);
}

TEST_CASE("metrics appender replaces a step's value and appends new steps", "[run_file][metrics]") {
  TempPath file("append.h5");
  {
    RunWriter w(file.str(), kConfig, "", "test");
    w.append_metric("val", "topsim", 10, 0.5);
    w.append_interactions("val", rows_at(10, 2));
  }
  {
    MetricsAppender a(file.str());
    a.set_metric("val", "topsim", 10, 0.75);  // replaces
    a.set_metric("val", "topsim", 20, 0.25);  // appends
    a.set_metric("val", "topsim", 15, 0.5);   // inserted in step order
    a.set_metric("test", "entropy/msg", 20, 1.5);  // new split and series, '/' in the name
    a.set_metric("test", "entropy/msg", 20, 2.5);
    a.set_metric("val", "ic", emcomm::ScalarSeries{{30, 10, 20, 10}, {3.0, 1.0, 2.0, 1.5}});  // many points
    a.flush();
  }
  RunReader r(file.str());
  CHECK(r.validate().empty());
  CHECK(r.metric_splits() == std::vector<std::string>{"test", "val"});
  CHECK(r.metric_names("test") == std::vector<std::string>{"entropy/msg"});
  CHECK(r.metric_names("none").empty());
  auto topsim = r.metric("val", "topsim");
  CHECK(topsim.step == std::vector<int64_t>{10, 15, 20});
  CHECK(topsim.value == std::vector<double>{0.75, 0.5, 0.25});
  auto ent = r.metric("test", "entropy/msg");
  CHECK(ent.step == std::vector<int64_t>{20});
  CHECK(ent.value == std::vector<double>{2.5});
  auto ic = r.metric("val", "ic");
  CHECK(ic.step == std::vector<int64_t>{10, 20, 30});
  CHECK(ic.value == std::vector<double>{1.5, 2.0, 3.0});
  CHECK_THAT(thrown_message([&] { r.metric("val", "nope"); }), Contains("no metric 'nope'") && Contains("topsim"));
}

TEST_CASE("metrics appender rewrites a series another tool wrote contiguously", "[run_file][metrics]") {
  TempPath file("foreign.h5");
  { RunWriter w(file.str(), kConfig, "", "test"); }
  {
    H5::H5File f(file.str(), H5F_ACC_RDWR);
    f.createGroup("/metrics/val");
    H5::Group g = f.createGroup("/metrics/val/cic");
    const hsize_t n[1] = {2};
    const int32_t steps[2] = {1, 5};
    const float values[2] = {0.5f, 0.25f};
    g.createDataSet("step", H5::PredType::STD_I32LE, H5::DataSpace(1, n)).write(steps, H5::PredType::NATIVE_INT32);
    g.createDataSet("value", H5::PredType::IEEE_F32LE, H5::DataSpace(1, n)).write(values, H5::PredType::NATIVE_FLOAT);
  }
  {
    MetricsAppender a(file.str());
    a.set_metric("val", "cic", 5, 0.125);  // float32 values: rewritten in float64
    a.set_metric("val", "cic", 9, 1.0);
    a.set_metric("val", "cic", 11, 2.0);
  }
  RunReader r(file.str());
  CHECK(r.validate().empty());
  auto s = r.metric("val", "cic");
  CHECK(s.step == std::vector<int64_t>{1, 5, 9, 11});
  CHECK(s.value == std::vector<double>{0.5, 0.125, 1.0, 2.0});
  H5::H5File f(file.str(), H5F_ACC_RDONLY);
  H5::DataSet value = f.openDataSet("/metrics/val/cic/value");
  CHECK(value.getFloatType().getSize() == 8);
  hsize_t n[1], max_n[1];
  value.getSpace().getSimpleExtentDims(n, max_n);
  CHECK(max_n[0] == H5S_UNLIMITED);
}

TEST_CASE("metrics appender refuses files it cannot or must not write", "[run_file][metrics]") {
  SECTION("missing, not HDF5, not a run") {
    TempPath missing("missing.h5");
    CHECK_THAT(thrown_message([&] { MetricsAppender a(missing.str()); }), Contains("does not exist"));
    TempPath other("other.h5");
    { H5::H5File f(other.str(), H5F_ACC_TRUNC); }
    CHECK_THROWS_AS(MetricsAppender(other.str()), UserError);
    CHECK_THAT(thrown_message([&] { MetricsAppender a(other.str()); }), Contains("has no format attribute"));
  }
  SECTION("read-only") {
    TempPath file("readonly.h5");
    { RunWriter w(file.str(), kConfig, "", "test"); }
    fs::permissions(file.str(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    if (::geteuid() != 0) {  // root writes anyway
      CHECK_THROWS_AS(MetricsAppender(file.str()), UserError);
      CHECK_THAT(thrown_message([&] { MetricsAppender a(file.str()); }), Contains(file.str()));
    }
  }
  SECTION("locked by a writer in another process") {
    const emcomm::test::ScopedEnv locking("HDF5_USE_FILE_LOCKING", "TRUE");  // whatever the caller's environment says
    TempPath file("locked.h5");
    // The child holds the file until this process closes `release` (or ends), not for a fixed
    // time: no wall-clock bound.
    int ready[2], release[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(release) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(release[1]);
      {
        RunWriter w(file.str(), kConfig, "", "test");
        w.flush();
        char c = 1;
        (void)!::write(ready[1], &c, 1);
        while (::read(release[0], &c, 1) > 0) {
        }
      }
      ::_exit(0);
    }
    ::close(release[0]);
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    const std::string err = thrown_message([&] { MetricsAppender a(file.str()); });
    ::close(release[1]);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
    CHECK_THAT(err, Contains(file.str()) && Contains("is locked"));
  }
}
