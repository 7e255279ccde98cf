// The dataset file (docs/dataset-format.md): write -> read round trip, files written by h5py,
// malformed files -> UserError naming the file, the dataset and the problem.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "envs/referential/dataset.h"
#include "envs/referential/referential.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;

namespace {

const std::string kPython = "/usr/bin/python3";  // python3-h5py (scripts/setup-deps)
const std::string kWriteDataset = test::source_path("tests/data/write_dataset.py");

void write_with_h5py(const std::string& path, const std::string& extra = "") {
  const std::string cmd = kPython + " '" + kWriteDataset + "' '" + path + "' " + extra + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

SynthOptions tiny_synth() {
  SynthOptions o;
  o.size = 40;
  o.scene.objects = 2;
  o.scene.noise = 0.1;
  o.caption = {true, true, true};
  return o;
}

}  // namespace

TEST_CASE("referential dataset: write then read gives the same dataset") {
  test::TempPath file("data.h5");
  const Dataset a = synthesize(tiny_synth(), 3);
  write_dataset(file.str(), a);
  const Dataset b = read_dataset(file.str());
  CHECK(b.rows == 40);
  CHECK(b.height == 32);
  CHECK(b.width == 32);
  CHECK(b.images == a.images);
  CHECK(b.captions == a.captions);
  CHECK(b.caption_length == a.caption_length);
  CHECK(b.vocab == a.vocab);
  CHECK(b.split == a.split);
  CHECK(b.concepts == a.concepts);
  CHECK(b.attributes == 8);
  CHECK(b.attribute_names == std::vector<std::string>{"shape0", "colour0", "size0", "position0", "shape1", "colour1",
                                                      "size1", "position1"});
  // Features round trip too.
  Dataset f;
  f.rows = 3;
  f.feature_dim = 2;
  f.features = {0.5f, -1.0f, 2.0f, 3.0f, 1e-8f, 7.0f};
  f.split = {0, 1, 2};
  write_dataset(file.str(), f);
  const Dataset g = read_dataset(file.str());
  CHECK(g.features == f.features);
  CHECK_FALSE(g.pixels());
  CHECK_FALSE(g.has_captions());
  CHECK_FALSE(g.has_concepts());
}

TEST_CASE("referential dataset: synthetic data is deterministic, splits as documented") {
  const Dataset a = synthesize(tiny_synth(), 3), b = synthesize(tiny_synth(), 3), c = synthesize(tiny_synth(), 4);
  CHECK(a.images == b.images);
  CHECK(a.captions == b.captions);
  CHECK(a.images != c.images);
  // 40 rows, 10 % val and test: 32 train, then 4 val, then 4 test.
  for (int64_t i = 0; i < 40; ++i) CHECK(a.split[i] == (i < 32 ? 0 : i < 36 ? 1 : 2));
  // A smaller dataset with the same seed is a prefix.
  auto o = tiny_synth();
  o.size = 20;
  const Dataset p = synthesize(o, 3);
  CHECK(std::equal(p.images.begin(), p.images.end(), a.images.begin()));
}

TEST_CASE("referential dataset written by h5py loads") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempPath file("py.h5");
  write_with_h5py(file.str());
  const Dataset d = read_dataset(file.str());
  CHECK(d.rows == 24);
  CHECK(d.height == 16);
  CHECK(d.vocab.size() == 12);
  CHECK(d.vocab[4] == "red");
  CHECK(d.attribute_names == std::vector<std::string>{"colour", "corner"});
  // Row 5: colour 1 (green), corner 1 (top-right), block at x 12..15, y 0..3, brightness 130.
  CHECK(int(d.images[5 * 16 * 16 * 3 + (0 * 16 + 12) * 3 + 1]) == 130);
  CHECK(d.captions[5 * 3 + 0] == 5);
  CHECK(d.captions[5 * 3 + 1] == 9);
  CHECK(d.captions[5 * 3 + 2] == -1);
  ReferentialGame game(d, 3, "python data");
  CHECK(game.object_shape() == std::vector<int64_t>{3, 16, 16});
  CHECK(game.split_size(Split::Train) == 16);
  CHECK(game.human_vocab_size() == 9);
  Rng rng(1);
  const SignalBatch b = game.slice(Split::Train, 5, 1, rng);
  CHECK(game.human_text(game.human_messages(b)[0]) == "green top-right");
  // The sender sees the image channels first, scaled to [0, 1].
  CHECK(b.sender_input[0][1][0][12].item<float>() == Approx(130.0 / 255.0));
  CHECK(b.sender_input[0][0][0][12].item<float>() == 0.0f);

  test::TempPath feats("pyf.h5");
  write_with_h5py(feats.str(), "--features");
  ReferentialGame fgame(read_dataset(feats.str()), 3, "python features");
  CHECK(fgame.object_shape() == std::vector<int64_t>{8});
}

TEST_CASE("referential dataset: the types the format accepts besides the writer's read as the same dataset") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  // docs/dataset-format.md: features of any floating-point type (read as float32), split,
  // captions and concepts of any integer type, vocab as fixed- or variable-length strings.
  test::TempPath base("base.h5"), feats("feats.h5");
  write_with_h5py(base.str());
  write_with_h5py(feats.str(), "--features");
  const Dataset b = read_dataset(base.str()), f = read_dataset(feats.str());
  SECTION("float64 features") {
    test::TempPath file("f64.h5");
    write_with_h5py(file.str(), "--features --variant float64");
    const Dataset d = read_dataset(file.str());
    CHECK(d.features == f.features);
    CHECK(d.features[9 * 8 + 4 + 2] == float(1.0 + 9 / 10.0));  // row 9: corner 2, 1 + 9/10 as float32
    CHECK(d.split == f.split);
  }
  SECTION("int64 split, captions, concepts") {
    test::TempPath file("wide.h5");
    write_with_h5py(file.str(), "--variant wide_ints");
    const Dataset d = read_dataset(file.str());
    CHECK(d.images == b.images);
    CHECK(d.split == b.split);
    CHECK(d.captions == b.captions);
    CHECK(d.concepts == b.concepts);
  }
  SECTION("variable-length UTF-8 vocab") {
    test::TempPath file("vlen.h5");
    write_with_h5py(file.str(), "--variant vlen_vocab");
    const Dataset d = read_dataset(file.str());
    CHECK(d.vocab == b.vocab);
    CHECK(d.vocab[11] == "bottom-right");
  }
}

TEST_CASE("referential dataset: malformed files are UserErrors naming file, dataset and problem") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  struct Case {
    std::string kind;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"no_images", {"neither an 'images' dataset"}},
      {"images_rank", {"dataset 'images'", "rank 4"}},
      {"images_float", {"dataset 'images'", "uint8"}},
      {"captions_rows", {"dataset 'captions'", "23 rows", "'images' has 24"}},
      {"caption_id", {"captions row 5 position 1", "id 12", "outside the vocabulary"}},
      {"caption_hole", {"captions row 7 position 2", "after the -1 padding"}},
      {"empty_split", {"split has no test rows"}},
      {"split_value", {"dataset 'split'", "row 3 is 3"}},
      {"no_split", {"no 'split' dataset"}},
      {"bad_special", {"vocab entry 0 is 'PAD'", "<pad>"}},
      {"format", {"format 'emcomm.run'", "emcomm.dataset"}},
      {"version", {"format_version 2"}},
      {"concepts_rows", {"dataset 'concepts'", "25 rows"}},
      {"both_objects", {"has both 'images' and 'features'"}},
      {"images_channels", {"dataset 'images'", "must be [N,H,W,3]"}},
      {"images_empty", {"dataset 'images'", "is empty"}},
      {"features_nan", {"features row 6 holds a non-finite value"}},
      {"features_inf", {"features row 7 holds a non-finite value"}},
      {"features_range", {"dataset 'features'", "row 8 holds 1e+300", "beyond float32's range"}},
      {"features_int", {"dataset 'features'", "must hold floating-point values"}},
      {"empty_caption", {"captions row 6 is empty"}},
      {"caption_pad", {"captions row 2 position 1 holds <pad> (id 0)", "never appear inside a caption"}},
      {"caption_bos", {"captions row 3 position 0 holds <bos> (id 2)", "never appear inside a caption"}},
      {"caption_eos", {"captions row 4 position 2 holds <eos> (id 3)", "never appear inside a caption"}},
      {"caption_negative", {"dataset 'captions'", "row 9 position 1 holds id -2", "outside the vocabulary"}},
      {"captions_float", {"dataset 'captions'", "must hold integers"}},
      {"captions_no_vocab", {"has 'captions' but no 'vocab'"}},
      {"vocab_no_captions", {"has 'vocab' but no 'captions'"}},
      {"vocab_ints", {"dataset 'vocab'", "must hold strings"}},
      {"concepts_negative", {"dataset 'concepts'", "row 10 holds -1", "values must be in [0, 2^31)"}},
      {"concepts_float", {"dataset 'concepts'", "must hold integers"}},
      {"names_count", {"dataset 'concepts'", "'names' attribute that is not 2 strings"}},
      {"no_format", {"has no root attribute format='emcomm.dataset'"}},
      {"no_version", {"has no root attribute format_version"}},
      {"version_float", {"format_version attribute that is not an integer"}},
      {"version_string", {"format_version attribute that is not an integer"}},
      {"split_float", {"dataset 'split'", "must hold integers"}},
      {"split_negative", {"dataset 'split'", "row 11 is -1"}},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.kind) {
      test::TempPath file(c.kind + ".h5");
      write_with_h5py(file.str(), "--malformed " + c.kind);
      bool user_error = false;
      std::string msg;
      try {
        read_dataset(file.str());
      } catch (const UserError& e) {
        user_error = true;
        msg = e.what();
      }
      CHECK(user_error);
      CHECK_THAT(msg, Contains("dataset file '" + file.str() + "'"));
      for (const auto& e : c.expected) CHECK_THAT(msg, Contains(e));
    }
  }
  SECTION("every malformed kind the writer knows is a case here") {
    auto r = test::run_shell(kPython + " -c \"import sys; sys.path.insert(0, sys.argv[1]); import write_dataset as w; "
                             "print(' '.join(w.MALFORMED))\" '" + test::source_path("tests/data") + "'");
    REQUIRE(r.exit_code == 0);
    std::istringstream kinds(r.output);
    std::string kind;
    int n = 0;
    while (kinds >> kind) {
      INFO(kind);
      CHECK(std::any_of(cases.begin(), cases.end(), [&](const Case& c) { return c.kind == kind; }));
      ++n;
    }
    CHECK(n == int(cases.size()));
  }
  SECTION("not HDF5, missing") {
    test::TempPath file("text.h5");
    std::ofstream(file.str()) << "hello\n";
    CHECK_THAT(test::thrown_message([&] { read_dataset(file.str()); }), Contains("is not an HDF5 file"));
    CHECK_THAT(test::thrown_message([&] { read_dataset("/nonexistent/x.h5"); }),
               Contains("dataset file '/nonexistent/x.h5' does not exist"));
  }
}
