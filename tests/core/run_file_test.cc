// The HDF5 run file: round trip of every field, partial row reads, the on-disk layout
// (flat scalar links, chunked + compressed extendable datasets), the writer's invariant
// checks, the reader's user errors, validate(), and the flush guarantee after a kill.
#include "core/run_file.h"
#include "tests/test_util.h"

#include <H5Cpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using emcomm::InteractionBatch;
using emcomm::MatrixSeries;
using emcomm::RunReader;
using emcomm::RunWriter;
using emcomm::UserError;

namespace {

using emcomm::test::TempPath;
using emcomm::test::thrown_message;

// Deterministic rows that follow the message convention. An action width of -1 leaves the
// field absent; 0 gives [N]; D > 0 gives [N, D]. `seed` makes batches differ.
InteractionBatch make_batch(int64_t rows, int msg_len, int concept_width, int sender_action_width,
                            int receiver_action_width, int target_width, int seed) {
  InteractionBatch b;
  b.rows = rows;
  b.msg_len = msg_len;
  b.concept_width = concept_width;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t k = r + 1000 * seed;
    b.step.push_back(100 * seed + r / 7);
    b.episode.push_back(k * 3 + 1);
    b.t.push_back(static_cast<int32_t>(r % 4));
    b.sender.push_back(static_cast<int32_t>(r % 2));
    b.receiver.push_back(static_cast<int32_t>(1 - r % 2));
    const int32_t len = static_cast<int32_t>((k * 5 + 3) % (msg_len + 1));
    b.length.push_back(len);
    for (int j = 0; j < msg_len; ++j)
      b.message.push_back(j < len ? static_cast<int32_t>((k * 7 + j * 3) % 11) : -1);
    for (int a = 0; a < concept_width; ++a) b.concept.push_back(static_cast<int32_t>((k + a) % 9));
    b.reward.push_back(static_cast<float>((k % 3) * 0.5) + 1.0f / 3.0f);
  }
  auto fill = [&](std::vector<int32_t>& v, int& width_field, int width, int salt) {
    if (width < 0) return;
    width_field = width;
    for (int64_t i = 0; i < rows * std::max(width, 1); ++i)
      v.push_back(width == 0 && salt == 0 ? -1 : static_cast<int32_t>((i * salt + seed) % 13));
  };
  fill(b.sender_action, b.sender_action_width, sender_action_width, 0);
  fill(b.receiver_action, b.receiver_action_width, receiver_action_width, 5);
  fill(b.target, b.target_width, target_width, 3);
  return b;
}

template <class T>
void append_slice(std::vector<T>& out, const std::vector<T>& in, int64_t first, int64_t count,
                  int width) {
  const int64_t w = std::max(width, 1);
  if (in.empty()) return;
  out.insert(out.end(), in.begin() + first * w, in.begin() + (first + count) * w);
}

// Rows [first, first + count) of `b`, appended to `out` (whose widths must already match).
void append_rows(InteractionBatch& out, const InteractionBatch& b, int64_t first, int64_t count) {
  out.rows += count;
  append_slice(out.step, b.step, first, count, 0);
  append_slice(out.episode, b.episode, first, count, 0);
  append_slice(out.t, b.t, first, count, 0);
  append_slice(out.sender, b.sender, first, count, 0);
  append_slice(out.receiver, b.receiver, first, count, 0);
  append_slice(out.message, b.message, first, count, b.msg_len);
  append_slice(out.length, b.length, first, count, 0);
  if (b.concept_width > 0) append_slice(out.concept, b.concept, first, count, b.concept_width);
  append_slice(out.sender_action, b.sender_action, first, count, b.sender_action_width);
  append_slice(out.receiver_action, b.receiver_action, first, count, b.receiver_action_width);
  append_slice(out.target, b.target, first, count, b.target_width);
  append_slice(out.reward, b.reward, first, count, 0);
}

InteractionBatch empty_like(const InteractionBatch& b) {
  InteractionBatch e;
  e.msg_len = b.msg_len;
  e.concept_width = b.concept_width;
  e.sender_action_width = b.sender_action.empty() ? 0 : b.sender_action_width;
  e.receiver_action_width = b.receiver_action.empty() ? 0 : b.receiver_action_width;
  e.target_width = b.target.empty() ? 0 : b.target_width;
  return e;
}

void require_same(const InteractionBatch& got, const InteractionBatch& want) {
  REQUIRE(got.rows == want.rows);
  REQUIRE(got.msg_len == want.msg_len);
  REQUIRE(got.concept_width == want.concept_width);
  REQUIRE(got.sender_action_width == want.sender_action_width);
  REQUIRE(got.receiver_action_width == want.receiver_action_width);
  REQUIRE(got.target_width == want.target_width);
  REQUIRE(got.step == want.step);
  REQUIRE(got.episode == want.episode);
  REQUIRE(got.t == want.t);
  REQUIRE(got.sender == want.sender);
  REQUIRE(got.receiver == want.receiver);
  REQUIRE(got.message == want.message);
  REQUIRE(got.length == want.length);
  REQUIRE(got.concept == want.concept);
  REQUIRE(got.sender_action == want.sender_action);
  REQUIRE(got.receiver_action == want.receiver_action);
  REQUIRE(got.target == want.target);
  REQUIRE(got.reward == want.reward);  // exact: float32 stored as float32
}


const std::map<std::string, std::string> kConfig = {{"env.name", "lewis"},
                                                    {"run.seed", "1"},
                                                    {"agents.hidden", "64"},
                                                    {"run.note", "caf\xc3\xa9 \xe2\x9c\x93"}};
const std::string kIni =
    "[env]\nname = lewis\n\n[run]\nseed = 1\nnote = caf\xc3\xa9 \xe2\x9c\x93\n";

}  // namespace

TEST_CASE("scalar link names map '/' to ':' and back", "[run_file]") {
  CHECK(emcomm::scalar_link_name("sp_acc/train") == "sp_acc:train");
  CHECK(emcomm::scalar_logical_name("sp_acc:train") == "sp_acc/train");
  CHECK(emcomm::scalar_link_name("a/b/c") == "a:b:c");
  CHECK(emcomm::scalar_link_name("loss") == "loss");
  for (const std::string name : {"sp_acc/val", "loss", "x/y/z", "/lead", "trail/"})
    CHECK(emcomm::scalar_logical_name(emcomm::scalar_link_name(name)) == name);
}

TEST_CASE("run file round trip: config, scalars, metrics, interactions", "[run_file]") {
  TempPath file("roundtrip.h5");
  // train: concept [N,3], sender_action [N] (all -1), receiver_action and target [N,3];
  // 3000 rows cross a chunk boundary. val: no concept and no sender_action, [N] actions.
  const InteractionBatch train1 = make_batch(3000, 6, 3, 0, 3, 3, 1);
  const InteractionBatch train2 = make_batch(17, 6, 3, 0, 3, 3, 2);
  const InteractionBatch val1 = make_batch(5, 4, 0, -1, 0, 0, 3);
  const InteractionBatch val2 = make_batch(9, 4, 0, -1, 0, 0, 4);
  {
    RunWriter w(file.str(), kConfig, kIni, "0.1.0-test");
    CHECK(w.path() == file.str());
    for (int i = 0; i < 5; ++i) {
      w.append_scalar("sp_acc/train", 10 * i, 0.1 * i + 1.0 / 3.0);
      if (i % 2 == 0) w.append_scalar("loss", i, -1.5 * i);
    }
    w.append_interactions("train", train1);
    w.append_interactions("val", val1);
    w.flush();
    w.append_interactions("train", train2);
    w.append_interactions("val", val2);
    w.append_metric("val", "topsim", 40, 0.25);
    w.append_metric("val", "topsim", 80, 0.5);
    w.append_metric("train", "entropy/msg", 80, 2.0);
    w.flush();
  }

  RunReader r(file.str());
  CHECK(r.schema_version() == 2);
  CHECK(r.attribute("format") == "emcomm.run");
  CHECK(r.attribute("schema_version") == "2");
  CHECK(r.attribute("emcomm_version") == "0.1.0-test");
  CHECK(std::regex_match(r.attribute("created_utc"),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK_THROWS_AS(r.attribute("no_such_attr"), UserError);
  CHECK(r.config() == kConfig);
  CHECK(r.config_ini() == kIni);

  CHECK(r.scalar_names() == std::vector<std::string>{"loss", "sp_acc/train"});
  const emcomm::ScalarSeries acc = r.scalar("sp_acc/train");
  REQUIRE(acc.step.size() == 5);
  REQUIRE(acc.value.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(acc.step[i] == 10 * i);
    CHECK(acc.value[i] == 0.1 * i + 1.0 / 3.0);  // exact: float64 on disk
  }
  const emcomm::ScalarSeries loss = r.scalar("loss");
  CHECK(loss.step == std::vector<int64_t>{0, 2, 4});
  CHECK(loss.value == std::vector<double>{0.0, -3.0, -6.0});

  CHECK(r.splits() == std::vector<std::string>{"train", "val"});
  CHECK(r.interaction_rows("train") == 3017);
  CHECK(r.interaction_rows("val") == 14);

  InteractionBatch train_all = empty_like(train1);
  append_rows(train_all, train1, 0, train1.rows);
  append_rows(train_all, train2, 0, train2.rows);
  InteractionBatch val_all = empty_like(val1);
  append_rows(val_all, val1, 0, val1.rows);
  append_rows(val_all, val2, 0, val2.rows);

  SECTION("whole splits") {
    require_same(r.interactions("train"), train_all);
    require_same(r.interactions("val"), val_all);
    const InteractionBatch val = r.interactions("val");
    CHECK(val.concept.empty());
    CHECK(val.sender_action.empty());
    CHECK(val.receiver_action.size() == 14);
  }
  SECTION("partial row reads") {
    InteractionBatch want = empty_like(train1);
    append_rows(want, train_all, 2990, 20);  // spans both appends and a chunk boundary
    require_same(r.interactions("train", 2990, 20), want);

    InteractionBatch tail = empty_like(val1);
    append_rows(tail, val_all, 3, 11);
    require_same(r.interactions("val", 3), tail);

    InteractionBatch none = empty_like(val1);
    require_same(r.interactions("val", 14, 0), none);

    CHECK_THROWS_AS(r.interactions("val", 10, 5), UserError);
    CHECK_THROWS_AS(r.interactions("val", -1, 2), UserError);
  }
  SECTION("unknown names are user errors listing the valid ones") {
    const std::string split_err = thrown_message([&] { r.interactions("tset"); });
    CHECK_THROWS_AS(r.interactions("tset"), UserError);
    CHECK_THAT(split_err, Contains("tset") && Contains("train, val"));
    CHECK_THROWS_AS(r.interaction_rows("tset"), UserError);
    const std::string scalar_err = thrown_message([&] { r.scalar("sp_acc/tset"); });
    CHECK_THROWS_AS(r.scalar("sp_acc/tset"), UserError);
    CHECK_THAT(scalar_err, Contains("sp_acc/tset") && Contains("loss, sp_acc/train"));
  }
  SECTION("the file conforms to the schema") { CHECK(r.validate().empty()); }
}

TEST_CASE("run file on-disk layout: flat scalar links, chunked compressed datasets", "[run_file]") {
  TempPath file("layout.h5");
  {
    RunWriter w(file.str(), kConfig, kIni, "0.1.0-test");
    w.append_scalar("sp_acc/train", 1, 0.5);
    w.append_interactions("train", make_batch(10, 5, 2, 0, 2, 0, 1));
    w.append_metric("val", "topsim", 1, 0.5);
  }
  H5::Exception::dontPrint();
  H5::H5File f(file.str(), H5F_ACC_RDONLY);
  H5::Group scalars = f.openGroup("/scalars");
  REQUIRE(scalars.getNumObjs() == 1);
  CHECK(scalars.getObjnameByIdx(0) == "sp_acc:train");
  H5::Group series = f.openGroup("/scalars/sp_acc:train");
  REQUIRE(series.getNumObjs() == 2);
  CHECK(f.openDataSet("/scalars/sp_acc:train/step").getIntType().getSize() == 8);
  CHECK(f.openDataSet("/scalars/sp_acc:train/value").getTypeClass() == H5T_FLOAT);
  CHECK(f.openDataSet("/scalars/sp_acc:train/value").getFloatType().getSize() == 8);
  CHECK(f.nameExists("/metrics/val/topsim/value"));

  auto check_dataset = [&](const std::string& path, int rank, hsize_t rows, hsize_t width) {
    INFO(path);
    H5::DataSet ds = f.openDataSet(path);
    H5::DataSpace space = ds.getSpace();
    REQUIRE(space.getSimpleExtentNdims() == rank);
    hsize_t dims[2] = {0, 0}, max_dims[2] = {0, 0};
    space.getSimpleExtentDims(dims, max_dims);
    CHECK(dims[0] == rows);
    CHECK(max_dims[0] == H5S_UNLIMITED);
    if (rank == 2) CHECK(dims[1] == width);
    H5::DSetCreatPropList plist = ds.getCreatePlist();
    CHECK(plist.getLayout() == H5D_CHUNKED);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) CHECK(plist.allFiltersAvail());
    bool deflate = false;
    for (int i = 0; i < plist.getNfilters(); ++i) {
      unsigned flags = 0, values[8];
      size_t n_values = 8;
      char name[64];
      unsigned config = 0;
      if (plist.getFilter(i, flags, n_values, values, sizeof name, name, config) ==
          H5Z_FILTER_DEFLATE) {
        deflate = true;
        CHECK(values[0] == 4);
      }
    }
    CHECK(deflate == (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0));
  };
  check_dataset("/scalars/sp_acc:train/step", 1, 1, 0);
  check_dataset("/interactions/train/step", 1, 10, 0);
  check_dataset("/interactions/train/message", 2, 10, 5);
  check_dataset("/interactions/train/concept", 2, 10, 2);
  check_dataset("/interactions/train/sender_action", 1, 10, 0);
  check_dataset("/interactions/train/receiver_action", 2, 10, 2);
  check_dataset("/interactions/train/target", 1, 10, 0);
  check_dataset("/interactions/train/reward", 1, 10, 0);
  CHECK(f.openDataSet("/interactions/train/reward").getFloatType().getSize() == 4);
  CHECK(f.openDataSet("/interactions/train/t").getIntType().getSize() == 4);
  CHECK(f.openDataSet("/interactions/train/episode").getIntType().getSize() == 8);

  // Strings are variable-length UTF-8 (h5py reads them as str).
  H5::DataSet ini = f.openDataSet("/config/ini");
  CHECK(ini.getStrType().isVariableStr());
  CHECK(ini.getStrType().getCset() == H5T_CSET_UTF8);
  H5::Attribute format = f.openGroup("/").openAttribute("format");
  CHECK(format.getStrType().isVariableStr());
  CHECK(format.getStrType().getCset() == H5T_CSET_UTF8);
  CHECK(f.openGroup("/").openAttribute("schema_version").getTypeClass() == H5T_INTEGER);
  CHECK(f.openGroup("/config").openAttribute("env.name").getStrType().isVariableStr());
}

TEST_CASE("run writer rejects batches that break the split's layout", "[run_file]") {
  TempPath file("widths.h5");
  const InteractionBatch first = make_batch(4, 5, 3, 0, 3, 3, 1);
  {
    RunWriter w(file.str(), kConfig, kIni, "test");
    w.append_interactions("train", first);

    const std::string err =
        thrown_message([&] { w.append_interactions("train", make_batch(4, 5, 3, 0, 2, 3, 2)); });
    CHECK_THAT(err, Contains("train") && Contains("receiver_action=[N,3]") &&
                        Contains("receiver_action=[N,2]"));
    CHECK_THROWS_AS(w.append_interactions("train", make_batch(4, 5, 3, 0, 2, 3, 2)),
                    std::logic_error);
    CHECK_THROWS_AS(w.append_interactions("train", make_batch(4, 6, 3, 0, 3, 3, 2)),
                    std::logic_error);  // msg_len
    CHECK_THROWS_AS(w.append_interactions("train", make_batch(4, 5, 0, 0, 3, 3, 2)),
                    std::logic_error);  // concept dropped
    CHECK_THROWS_AS(w.append_interactions("train", make_batch(4, 5, 3, -1, 3, 3, 2)),
                    std::logic_error);  // sender_action dropped
    CHECK_THROWS_AS(w.append_interactions("train", make_batch(4, 5, 3, 0, 3, 0, 2)),
                    std::logic_error);  // target [N,3] -> [N]

    // A second split has its own layout.
    w.append_interactions("val", make_batch(2, 2, 0, -1, 0, 0, 3));

    InteractionBatch short_reward = make_batch(4, 5, 3, 0, 3, 3, 2);
    short_reward.reward.pop_back();
    CHECK_THAT(thrown_message([&] { w.append_interactions("train", short_reward); }),
               Contains("reward"));
    InteractionBatch short_message = make_batch(4, 5, 3, 0, 3, 3, 2);
    short_message.message.pop_back();
    CHECK_THROWS_AS(w.append_interactions("train", short_message), std::logic_error);
    InteractionBatch short_target = make_batch(4, 5, 3, 0, 3, 3, 2);
    short_target.target.resize(4);  // [N] worth of values for a width-3 field
    CHECK_THROWS_AS(w.append_interactions("train", short_target), std::logic_error);

    InteractionBatch bad_padding = make_batch(4, 5, 3, 0, 3, 3, 2);
    bad_padding.length[0] = 1;
    bad_padding.message[0] = 2;
    bad_padding.message[4] = 7;  // after the end, must be -1
    CHECK_THROWS_AS(w.append_interactions("train", bad_padding), std::logic_error);
    InteractionBatch bad_length = make_batch(4, 5, 3, 0, 3, 3, 2);
    bad_length.length[1] = 6;
    CHECK_THROWS_AS(w.append_interactions("train", bad_length), std::logic_error);
    InteractionBatch negative_symbol = make_batch(4, 5, 3, 0, 3, 3, 2);
    negative_symbol.length[2] = 5;
    std::fill_n(negative_symbol.message.begin() + 10, 5, 1);
    negative_symbol.message[12] = -1;  // a -1 before the end
    CHECK_THROWS_AS(w.append_interactions("train", negative_symbol), std::logic_error);

    CHECK_THROWS_AS(w.append_interactions("a/b", first), std::logic_error);
    CHECK_THROWS_AS(w.append_scalar("acc:train", 0, 1.0), std::logic_error);

    // A conforming batch still appends after the rejected ones.
    w.append_interactions("train", make_batch(3, 5, 3, 0, 3, 3, 9));
  }
  RunReader r(file.str());
  CHECK(r.interaction_rows("train") == 7);
  CHECK(r.interaction_rows("val") == 2);
  CHECK(r.validate().empty());
}

TEST_CASE("run writer reports HDF5 failures as runtime errors naming the file", "[run_file]") {
  const std::string path =
      (fs::temp_directory_path() / "emcomm_no_such_dir_for_test" / "run.h5").string();
  CHECK_THROWS_AS(RunWriter(path, kConfig, kIni, "test"), std::runtime_error);
  CHECK_THAT(thrown_message([&] { RunWriter w(path, kConfig, kIni, "test"); }), Contains(path));
}

TEST_CASE("run reader rejects files that are not emcomm runs of schema 2", "[run_file]") {
  SECTION("missing file") {
    TempPath file("missing.h5");
    CHECK_THROWS_AS(RunReader(file.str()), UserError);
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains(file.str()) && Contains("does not exist"));
  }
  SECTION("a text file") {
    TempPath file("text.h5");
    std::ofstream(file.str()) << "step,value\n1,0.5\n";
    CHECK_THROWS_AS(RunReader(file.str()), UserError);
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains(file.str()) && Contains("is not an HDF5 file"));
  }
  SECTION("an HDF5 file that is not an emcomm run") {
    TempPath file("other.h5");
    {
      H5::H5File f(file.str(), H5F_ACC_TRUNC);
      const hsize_t dims[1] = {3};
      H5::DataSet ds = f.createDataSet("data", H5::PredType::STD_I32LE, H5::DataSpace(1, dims));
      const int32_t v[3] = {1, 2, 3};
      ds.write(v, H5::PredType::NATIVE_INT32);
    }
    CHECK_THROWS_AS(RunReader(file.str()), UserError);
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains(file.str()) && Contains("has no format attribute 'emcomm.run'"));
  }
  SECTION("an HDF5 file with another format") {
    TempPath file("otherformat.h5");
    {
      H5::H5File f(file.str(), H5F_ACC_TRUNC);
      H5::StrType str(H5::PredType::C_S1, H5T_VARIABLE);
      f.openGroup("/")
          .createAttribute("format", str, H5::DataSpace(H5S_SCALAR))
          .write(str, std::string("someone.else"));
    }
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains("has no format attribute 'emcomm.run'") && Contains("someone.else"));
  }
  SECTION("a newer schema_version") {
    TempPath file("schema3.h5");
    { RunWriter w(file.str(), kConfig, kIni, "test"); }
    {
      H5::H5File f(file.str(), H5F_ACC_RDWR);
      const int64_t three = 3;
      f.openGroup("/").openAttribute("schema_version").write(H5::PredType::NATIVE_INT64, &three);
    }
    CHECK_THROWS_AS(RunReader(file.str()), UserError);
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains(file.str()) && Contains("has schema_version 3, this emcomm reads 2"));
  }
  SECTION("a truncated run file") {
    TempPath file("truncated.h5");
    {
      RunWriter w(file.str(), kConfig, kIni, "test");
      w.append_interactions("train", make_batch(2000, 8, 4, 0, 4, 4, 1));
    }
    fs::resize_file(file.str(), fs::file_size(file.str()) / 2);
    CHECK_THROWS_AS(RunReader(file.str()), UserError);
    CHECK_THAT(thrown_message([&] { RunReader r(file.str()); }),
               Contains(file.str()) && Contains("cannot be opened"));
  }
}

TEST_CASE("validate reports files that break the schema", "[run_file]") {
  TempPath file("broken.h5");
  {
    RunWriter w(file.str(), kConfig, kIni, "test");
    w.append_scalar("acc", 1, 0.5);
    w.append_interactions("train", make_batch(6, 4, 0, -1, 0, 0, 1));
    w.append_interactions("val", make_batch(6, 4, 0, -1, 0, 0, 2));
  }
  {
    RunReader r(file.str());
    REQUIRE(r.validate().empty());
  }
  {  // Break it the way a buggy writer or a hand edit would.
    H5::Exception::dontPrint();
    H5::H5File f(file.str(), H5F_ACC_RDWR);
    f.unlink("/config/ini");
    f.openGroup("/").removeAttr("created_utc");
    f.unlink("/scalars/acc/value");
    f.unlink("/interactions/train/reward");
    H5::DataSet length = f.openDataSet("/interactions/train/length");
    const int32_t too_long = 5;  // msg_len is 4
    H5::DataSpace one_row = length.getSpace();
    const hsize_t start[1] = {0}, count[1] = {1};
    one_row.selectHyperslab(H5S_SELECT_SET, count, start);
    length.write(&too_long, H5::PredType::NATIVE_INT32, H5::DataSpace(1, count), one_row);
    // val: every row gets length 0, so every stored symbol is now "after the end".
    const std::vector<int32_t> zeros(6, 0);
    f.openDataSet("/interactions/val/length").write(zeros.data(), H5::PredType::NATIVE_INT32);
    const hsize_t dims[1] = {6};
    f.createDataSet("/interactions/val/target2", H5::PredType::STD_I32LE, H5::DataSpace(1, dims));
    const hsize_t four[1] = {4};
    f.unlink("/interactions/val/episode");
    f.createDataSet("/interactions/val/episode", H5::PredType::IEEE_F32LE, H5::DataSpace(1, four));
  }
  RunReader r(file.str());
  const std::vector<std::string> problems = r.validate();
  const std::set<std::string> got(problems.begin(), problems.end());
  INFO(Catch::Detail::stringify(problems));
  CHECK(got.count("root attribute created_utc missing") == 1);
  CHECK(got.count("/config/ini missing") == 1);
  CHECK(got.count("/scalars/acc must hold exactly step and value") == 1);
  CHECK(got.count("/interactions/train/reward missing") == 1);
  CHECK(got.count("/interactions/train/length outside 0..4") == 1);
  CHECK(got.count("/interactions/val/message has symbols other than -1 after length") == 1);
  CHECK(got.count("/interactions/val/episode has dtype float32") == 1);
  CHECK(got.count("/interactions/val/episode has 4 rows, others 6") == 1);
  CHECK(problems.size() == 8);
}

TEST_CASE("a run killed after flush keeps everything up to the flush", "[run_file]") {
  TempPath file("killed.h5");
  const InteractionBatch flushed = make_batch(40, 5, 2, 0, 2, 0, 1);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch and no exit handlers here (HDF5's would close the file cleanly).
    try {
      RunWriter w(file.str(), kConfig, kIni, "test");
      for (int i = 0; i < 3; ++i) w.append_scalar("sp_acc/val", i, 0.25 * i);
      w.append_interactions("val", flushed);
      w.flush();
      w.append_scalar("sp_acc/val", 3, 0.75);
      w.append_interactions("val", make_batch(25, 5, 2, 0, 2, 0, 2));
      w.append_interactions("train", make_batch(25, 5, 2, 0, 2, 0, 3));
      ::kill(::getpid(), SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  RunReader r(file.str());
  CHECK(r.validate().empty());
  const emcomm::ScalarSeries acc = r.scalar("sp_acc/val");
  REQUIRE(acc.step.size() >= 3);
  CHECK(acc.step[2] == 2);
  CHECK(acc.value[2] == 0.5);
  REQUIRE(r.interaction_rows("val") >= 40);
  InteractionBatch want = empty_like(flushed);
  append_rows(want, flushed, 0, 40);
  require_same(r.interactions("val", 0, 40), want);
}

TEST_CASE("run file matrices: one [rows, cols] array per point, validated, cut on resume", "[run_file]") {
  TempPath file("matrices.h5");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  {
    RunWriter w(file.str(), kConfig, kIni, "test");
    w.append_matrix("crossplay/val", 10, 2, 3, {0.5f, nan, 1.0f, 0.0f, 0.25f, nan});
    w.append_matrix("crossplay/val", 20, 2, 3, {1, 2, 3, 4, 5, 6});
    CHECK_THROWS(w.append_matrix("crossplay/val", 30, 3, 2, {1, 2, 3, 4, 5, 6}));  // another shape
    CHECK_THROWS(w.append_matrix("crossplay/val", 30, 2, 3, {1, 2}));             // too few values
    w.flush();
  }
  {
    RunReader r(file.str());
    CHECK(r.validate().empty());
    CHECK(r.matrix_names() == std::vector<std::string>{"crossplay/val"});
    CHECK(r.scalar_names().empty());
    const MatrixSeries m = r.matrix("crossplay/val");
    CHECK(m.step == std::vector<int64_t>{10, 20});
    CHECK((m.rows == 2 && m.cols == 3));
    CHECK(m.at(0)[0] == 0.5f);
    CHECK(std::isnan(m.at(0)[1]));
    CHECK(m.at(1)[5] == 6.0f);
    CHECK_THAT(thrown_message([&] { r.matrix("nope"); }), Contains("has no matrix 'nope'") && Contains("crossplay/val"));
  }
  {
    H5::H5File f(file.str(), H5F_ACC_RDONLY);
    CHECK(f.openDataSet("/matrices/crossplay:val/value").getDataType() == H5::PredType::IEEE_F32LE);
  }
  {
    RunWriter w(file.str(), 15);  // resume from step 15: the step-20 point goes
    w.append_matrix("crossplay/val", 25, 2, 3, {6, 5, 4, 3, 2, 1});
    w.flush();
  }
  const MatrixSeries m = RunReader(file.str()).matrix("crossplay/val");
  CHECK(m.step == std::vector<int64_t>{10, 25});
  CHECK(m.at(1)[0] == 6.0f);
  {
    H5::H5File f(file.str(), H5F_ACC_RDWR);  // a matrix whose value is not [N, rows, cols]
    H5::Group g = f.createGroup("/matrices/bad");
    const hsize_t n[1] = {2};
    g.createDataSet("step", H5::PredType::STD_I64LE, H5::DataSpace(1, n));
    g.createDataSet("value", H5::PredType::IEEE_F32LE, H5::DataSpace(1, n));
  }
  const auto problems = RunReader(file.str()).validate();
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Contains("/matrices/bad/value is not rank 3"));
}
