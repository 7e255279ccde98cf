// `emcomm analyze` on a Markov-game run reports speaker consistency and the other information
// figures per speaking agent (Pitfalls: SC_j = I(m_j; a_j)), beside the pooled ones.
#include <catch2/catch.hpp>
#include <string>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

// Agent 0 says its action (m = a), agent 1 the opposite (m = 1 - a): each code carries 1 bit
// about its speaker's action, and pooled over both agents they cancel to exactly 0.
void write_cancelling_run(const std::string& path, const std::string& env) {
  RunWriter w(path, {{"env.name", env}, {"train.algorithm", "reinforce"}}, "", "test");
  InteractionBatch b;
  b.msg_len = 1;
  const int32_t sender[] = {0, 0, 1, 1}, message[] = {0, 1, 1, 0}, action[] = {0, 1, 0, 1};
  const int32_t heard_by_other[] = {1, 0, 1, 0};  // the receiver's actions: independent of m per agent
  for (int k = 0; k < 4; ++k)
    for (int rep = 0; rep < 3; ++rep) {
      b.step.push_back(10);
      b.episode.push_back(b.rows);
      b.t.push_back(0);
      b.sender.push_back(sender[k]);
      b.receiver.push_back(1 - sender[k]);
      b.message.push_back(message[k]);
      b.length.push_back(1);
      b.sender_action.push_back(action[k]);
      b.receiver_action.push_back(heard_by_other[k]);
      b.target.push_back(-1);
      b.reward.push_back(0.5f);
      ++b.rows;
    }
  w.append_interactions("eval", b);
  w.flush();
}

double field(const std::string& json, const std::string& name) {
  const auto at = json.find("\"" + name + "\": ");
  REQUIRE(at != std::string::npos);
  return std::stod(json.substr(at + name.size() + 4));
}

}  // namespace

TEST_CASE("analyze: per-agent SC of a Markov game where the two codes cancel when pooled", "[analyze][pitfalls]") {
  test::TempPath run("cancel.h5");
  write_cancelling_run(run.str(), "matrix");
  auto r = test::run_emcomm("analyze '" + run.str() + "' --json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(field(r.output, "sc") == Approx(0.0).margin(1e-12));
  CHECK(field(r.output, "sc/agent0") == Approx(1.0));
  CHECK(field(r.output, "sc/agent1") == Approx(1.0));
  CHECK(field(r.output, "entropy/agent0") == Approx(1.0));
  CHECK(field(r.output, "ic/agent0") == Approx(1.0));  // agent 1 acts 1 - m after agent 0's m
  CHECK(field(r.output, "ci_action/agent1") == Approx(1.0));
  // Written back to /metrics under the per-agent names.
  RunReader reader(run.str());
  const auto names = reader.metric_names("eval");
  CHECK(std::find(names.begin(), names.end(), "sc/agent1") != names.end());
  CHECK(reader.metric("eval", "sc/agent0").value.at(0) == Approx(1.0));
  // The table shows them too.
  auto t = test::run_emcomm("analyze '" + run.str() + "' --no-write");
  CHECK_THAT(t.output, Catch::Contains("sc/agent0") && Catch::Contains("ic/agent1"));
}

TEST_CASE("analyze: no per-agent figures for signaling games (one speaker or population members)", "[analyze]") {
  test::TempPath run("signal.h5");
  write_cancelling_run(run.str(), "lewis");
  auto r = test::run_emcomm("analyze '" + run.str() + "' --json --no-write");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("/agent0") == std::string::npos);
}
