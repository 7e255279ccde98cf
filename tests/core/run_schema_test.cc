// The interaction field table (core/run_schema.h): docs/hdf5-format.md states the same
// fields, and the writer, the batch checks, the reader and validate() all follow it, field
// by field.
#include "core/run_schema.h"
#include "tests/test_util.h"

#include <H5Cpp.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/errors.h"
#include "core/run_file.h"

using Catch::Matchers::Contains;
using emcomm::InteractionBatch;
using emcomm::InteractionField;
using emcomm::interaction_fields;
using emcomm::Presence;
using emcomm::Rank;
using emcomm::RunReader;
using emcomm::RunWriter;

namespace {

using emcomm::test::TempPath;
using emcomm::test::thrown_message;

const std::map<std::string, std::string> kConfig = {{"env.name", "lewis"}};

// Three rows with every field; the action fields take both ranks: sender_action [N],
// receiver_action [N, 2], target [N].
InteractionBatch full_batch() {
  InteractionBatch b;
  b.rows = 3;
  b.msg_len = 2;
  b.step = {10, 10, 20};
  b.episode = {0, 1, 0};
  b.t = {0, 0, 1};
  b.sender = {0, 1, 0};
  b.receiver = {1, 0, 1};
  b.message = {4, -1, 3, 2, -1, -1};
  b.length = {1, 2, 0};
  b.concept_width = 2;
  b.concept = {1, 2, 3, 4, 5, 6};
  b.sender_action = {-1, -1, -1};
  b.receiver_action_width = 2;
  b.receiver_action = {1, 2, 3, 4, 5, 6};
  b.target = {0, 2, -1};
  b.reward = {1.0f, 0.0f, 0.5f};
  return b;
}

}  // namespace

TEST_CASE("run schema: docs/hdf5-format.md lists the interaction fields of the table", "[run_file][schema]") {
  std::ifstream in(emcomm::test::source_path("docs/hdf5-format.md"));
  REQUIRE(in);
  // The rows of the table under "## `/interactions/<split>`", up to the next paragraph.
  const std::regex row(R"(^\| `([a-z_]+)` +\| (\w+) +\| ([^|]+?) +\| (.*) \|$)");
  std::vector<std::string> lines;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## `/interactions/<split>`", 0) == 0) in_section = true;
    else if (in_section && line.rfind("**Message padding.**", 0) == 0) break;
    else if (in_section) lines.push_back(line);
  }
  std::vector<std::string> names;
  for (const auto& line : lines) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    names.push_back(m[1]);
    INFO(line);
    const InteractionField& f = emcomm::interaction_field(m[1]);
    CHECK(m[2] == emcomm::dtype_name(f.dtype()));
    CHECK(m[3] == f.shape_text());
    const std::string meaning = m[4];
    CHECK((meaning.rfind("*optional*", 0) == 0) == !f.required());
    CHECK((meaning.find("`-1`") != std::string::npos) == (f.minus_one != emcomm::MinusOne::kNever));
  }
  std::vector<std::string> want;
  for (const auto& f : interaction_fields()) want.push_back(f.name);
  CHECK(names == want);
}

TEST_CASE("run schema: every field has the width member its rank needs", "[run_file][schema]") {
  std::set<std::string> names;
  for (const auto& f : interaction_fields()) {
    INFO(f.name);
    CHECK(names.insert(f.name).second);
    CHECK((f.width != nullptr) == (f.rank != Rank::kN));
    CHECK((f.width_name != nullptr) == (f.width != nullptr));
    CHECK((f.dim != nullptr) == (f.width != nullptr));
    // A field present "when its width is > 0" must have a width; one present "when given"
    // may be [N] (width 0), so it must allow rank 1.
    if (f.presence == Presence::kWhenWidth) CHECK(f.rank == Rank::kNW);
    if (f.presence == Presence::kWhenNonEmpty) CHECK(f.rank == Rank::kNOrNW);
  }
  CHECK(interaction_fields().front().name == std::string("step"));  // the row count's field
}

TEST_CASE("run schema: writer and reader follow the table field by field", "[run_file][schema]") {
  TempPath file("schema.h5");
  const InteractionBatch b = full_batch();
  {
    RunWriter w(file.str(), kConfig, "", "test");
    w.append_interactions("val", b);
  }
  H5::Exception::dontPrint();
  {  // Every field was written with the table's dtype and rank, in the table's creation order.
    H5::H5File f(file.str(), H5F_ACC_RDONLY);
    const H5::Group g = f.openGroup("/interactions/val");
    REQUIRE(g.getNumObjs() == interaction_fields().size());
    for (const auto& field : interaction_fields()) {
      INFO(field.name);
      const H5::DataSet ds = g.openDataSet(field.name);
      CHECK(ds.getDataType() == emcomm::file_type(field.dtype()));
      const int want_rank = field.rank == Rank::kN ? 1 : field.rank == Rank::kNW ? 2 : b.*field.width > 0 ? 2 : 1;
      CHECK(ds.getSpace().getSimpleExtentNdims() == want_rank);
    }
  }
  RunReader r(file.str());
  const InteractionBatch got = r.interactions("val");
  for (const auto& field : interaction_fields()) {
    INFO(field.name);
    CHECK(emcomm::field_size(got, field) == emcomm::field_size(b, field));
    if (field.width) CHECK(got.*field.width == b.*field.width);
  }
  CHECK(got.message == b.message);
  CHECK(got.reward == b.reward);
  CHECK(got.receiver_action == b.receiver_action);
  CHECK(r.validate().empty());
}

TEST_CASE("run schema: a missing field is refused when required and left empty when optional",
          "[run_file][schema]") {
  for (const auto& field : interaction_fields()) {
    DYNAMIC_SECTION(field.name) {
      TempPath file("missing.h5");
      {
        RunWriter w(file.str(), kConfig, "", "test");
        w.append_interactions("val", full_batch());
      }
      {
        H5::Exception::dontPrint();
        H5::H5File f(file.str(), H5F_ACC_RDWR);
        f.unlink(std::string("/interactions/val/") + field.name);
      }
      RunReader r(file.str());
      const auto problems = r.validate();
      const std::string path = std::string("/interactions/val/") + field.name;
      if (field.required()) {
        CHECK(problems == std::vector<std::string>{path + " missing"});
        CHECK_THAT(thrown_message([&] { r.interactions("val"); }), Contains("has no " + path + " dataset"));
      } else {
        CHECK(problems.empty());
        const InteractionBatch got = r.interactions("val");
        CHECK(emcomm::field_size(got, field) == 0);
        CHECK(got.*field.width == 0);
      }
    }
  }
}

TEST_CASE("run schema: batch checks name the field whose size is wrong", "[run_file][schema]") {
  for (const auto& field : interaction_fields()) {
    DYNAMIC_SECTION(field.name) {
      InteractionBatch b = full_batch();
      std::visit([&](auto member) { (b.*member).emplace_back(); }, field.column);  // one value too many
      const std::string err = thrown_message([&] { emcomm::check_batch("val", b); });
      CHECK_THAT(err, Contains("interactions 'val': field '" + std::string(field.name) + "' has"));
    }
  }
  InteractionBatch b = full_batch();
  b.target_width = -1;
  CHECK_THAT(thrown_message([&] { emcomm::check_batch("val", b); }), Contains("target width is negative"));
  b = full_batch();
  b.msg_len = 0;
  CHECK_THAT(thrown_message([&] { emcomm::check_batch("val", b); }), Contains("msg_len must be positive, got 0"));
}

TEST_CASE("run schema: a split's layout is described from the table", "[run_file][schema]") {
  CHECK(emcomm::describe(emcomm::layout_of(full_batch())) ==
        "msg_len=2, concept=[N,2], sender_action=[N], receiver_action=[N,2], target=[N]");
  InteractionBatch b = full_batch();
  b.concept_width = 0;
  b.concept.clear();
  b.sender_action.clear();
  CHECK(emcomm::describe(emcomm::layout_of(b)) ==
        "msg_len=2, concept=absent, sender_action=absent, receiver_action=[N,2], target=[N]");
}
