// The synthetic scene renderer and the caption grammar of the referential game.
#include <catch2/catch.hpp>

#include <set>

#include "core/errors.h"
#include "envs/referential/caption.h"
#include "envs/referential/scene.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;

namespace {

std::vector<uint8_t> render(const Scene& scene, const SceneOptions& opt, uint64_t seed = 1) {
  std::vector<uint8_t> img(opt.image_size * opt.image_size * 3);
  Rng rng(seed);
  render_scene(scene, opt, rng, img.data());
  return img;
}

// Pixels that are not black, and the mean x / y of them.
struct Mass {
  int64_t count = 0;
  double x = 0, y = 0;
};
Mass mass(const std::vector<uint8_t>& img, int64_t S) {
  Mass m;
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      const uint8_t* p = &img[(y * S + x) * 3];
      if (p[0] || p[1] || p[2]) ++m.count, m.x += x, m.y += y;
    }
  if (m.count) m.x /= m.count, m.y /= m.count;
  return m;
}

}  // namespace

TEST_CASE("referential scene rendering is deterministic per seed") {
  SceneOptions opt;
  opt.objects = 2;
  opt.noise = 0.1;
  opt.jitter = 1.0;
  Rng a(7), b(7), c(8);
  const Scene sa = random_scene(opt, a), sb = random_scene(opt, b);
  CHECK((sa == sb));
  CHECK(render(sa, opt, 3) == render(sb, opt, 3));
  CHECK(render(sa, opt, 3) != render(sa, opt, 4));  // noise and jitter follow the seed
  // Positions are distinct and sorted; attribute values are in range.
  for (int i = 0; i < 200; ++i) {
    const Scene s = random_scene(opt, c);
    REQUIRE(s.size() == 2);
    CHECK(s[0].position < s[1].position);
    for (const auto& o : s) {
      CHECK((o.shape >= 0 && o.shape < kShapes && o.colour >= 0 && o.colour < kColours && o.size >= 0 &&
             o.size < kSizes && o.position >= 0 && o.position < 4));
    }
  }
}

TEST_CASE("referential scene pixels follow the attributes") {
  SceneOptions opt;  // 32x32, grid 2, no noise, no jitter
  const int64_t S = opt.image_size;
  SECTION("a red shape's pixels are exactly red, the rest black") {
    const auto img = render({{0, 0, 2, 0}}, opt);
    uint8_t red[3];
    colour_rgb(0, red);
    CHECK(red[0] > 200);
    CHECK(red[1] < 60);
    int64_t lit = 0;
    for (int64_t i = 0; i < S * S; ++i) {
      const uint8_t* p = &img[i * 3];
      if (p[0] || p[1] || p[2]) {
        ++lit;
        CHECK((p[0] == red[0] && p[1] == red[1] && p[2] == red[2]));
      }
    }
    CHECK(lit > 0);
  }
  SECTION("position moves the mass: left vs right, top vs bottom") {
    const Mass tl = mass(render({{1, 2, 2, 0}}, opt), S), tr = mass(render({{1, 2, 2, 1}}, opt), S),
               bl = mass(render({{1, 2, 2, 2}}, opt), S);
    // A square at the centre of its 16x16 cell: centre of mass (7.5, 7.5) or (23.5, ...).
    CHECK(tl.x == Approx(7.5).margin(0.01));
    CHECK(tl.y == Approx(7.5).margin(0.01));
    CHECK(tr.x == Approx(23.5).margin(0.01));
    CHECK(tr.y == Approx(7.5).margin(0.01));
    CHECK(bl.y == Approx(23.5).margin(0.01));
    CHECK(tl.count == tr.count);
  }
  SECTION("size changes the pixel count, for every shape") {
    for (int shape = 0; shape < kShapes; ++shape) {
      int64_t prev = 0;
      for (int size = 0; size < kSizes; ++size) {
        const int64_t n = mass(render({{shape, 1, size, 3}}, opt), S).count;
        CHECK(n > prev);
        prev = n;
      }
    }
    // A circle of radius 0.9 * 8 = 7.2 px covers about pi r^2 = 163 pixels.
    CHECK(mass(render({{0, 1, 3, 3}}, opt), S).count == Approx(3.14159 * 7.2 * 7.2).epsilon(0.06));
  }
  SECTION("shapes of the same size differ in their pixels") {
    std::set<std::vector<uint8_t>> images;
    for (int shape = 0; shape < kShapes; ++shape) images.insert(render({{shape, 3, 3, 0}}, opt));
    CHECK(images.size() == size_t(kShapes));
  }
  SECTION("jitter keeps the shape inside its cell") {
    opt.jitter = 1.0;
    Rng rng(5);
    for (int i = 0; i < 50; ++i) {
      const Mass m = mass(render({{0, 0, 3, 3}}, opt, rng.next()), S);
      CHECK(m.x > 16);
      CHECK(m.y > 16);
    }
  }
}

TEST_CASE("referential scene options are validated naming the option") {
  SceneOptions opt;
  opt.image_size = 12;
  CHECK_THAT(test::thrown_message([&] { opt.validate(); }), Contains("env.image_size=12") && Contains("at least 16"));
  opt = SceneOptions();
  opt.objects = 5;
  CHECK_THAT(test::thrown_message([&] { opt.validate(); }), Contains("env.objects=5") && Contains("[1, 4]"));
  opt.grid = 3;  // 9 positions: 5 objects fit, and 32 >= 3 * 8 pixels
  CHECK_NOTHROW(opt.validate());
  opt.image_size = 20;
  CHECK_THAT(test::thrown_message([&] { opt.validate(); }), Contains("env.image_size=20") && Contains("at least 24"));
}

TEST_CASE("referential captions parse back to their concept") {
  for (int64_t grid : {2, 3})
    for (int64_t objects : {1, 2, 3}) {
      SceneOptions opt;
      opt.grid = grid;
      opt.objects = objects;
      opt.image_size = 48;
      CaptionGrammar plain(grid, objects, {});
      Rng rng(11);
      std::set<std::vector<int32_t>> concepts;
      for (int i = 0; i < 300; ++i) {
        const Scene s = random_scene(opt, rng);
        const auto ids = plain.caption(s, rng);
        CHECK(int64_t(ids.size()) <= plain.max_length());
        std::vector<std::string> words;
        for (int32_t id : ids) {
          REQUIRE(id >= kFirstWord);  // no special tokens, no UNK
          words.push_back(plain.vocab()[id]);
        }
        const auto parsed = plain.parse(words);
        REQUIRE(parsed.has_value());
        CHECK(scene_concept(*parsed) == scene_concept(s));
        // Without variations a concept has exactly one caption.
        Rng other(i);
        CHECK(plain.caption(s, other) == ids);
      }
    }
}

TEST_CASE("referential caption grammar: exact text, variations, vocabulary, bad captions") {
  Rng rng(1);
  CaptionGrammar plain(2, 1, {});
  CHECK(plain.vocab()[kPad] == "<pad>");
  CHECK(plain.vocab()[kUnk] == "<unk>");
  CHECK(plain.vocab()[kBos] == "<bos>");
  CHECK(plain.vocab()[kEos] == "<eos>");
  const auto ids = plain.caption({{0, 0, 0, 0}}, rng);
  CHECK(caption_text(plain.vocab(), ids.data(), int64_t(ids.size())) == "a small red circle at the top left");
  CaptionGrammar two(3, 2, {});
  const auto two_ids = two.caption({{1, 2, 3, 4}, {4, 5, 1, 7}}, rng);
  CHECK(caption_text(two.vocab(), two_ids.data(), int64_t(two_ids.size())) ==
        "a huge blue square at the center and a medium cyan cross at the bottom");
  CHECK(int64_t(two_ids.size()) == two.max_length() - 2);  // "center" and "bottom" are one word each

  CaptionGrammar varied(3, 2, {true, true, true});
  CHECK(varied.vocab().size() > two.vocab().size());  // the synonyms
  SceneOptions opt;
  opt.grid = 3;
  opt.objects = 2;
  std::set<std::vector<int32_t>> captions;
  const Scene s = {{2, 3, 0, 0}, {3, 4, 2, 8}};
  for (int i = 0; i < 100; ++i) {
    const auto words = varied.words(s, rng);
    captions.insert(varied.caption(s, rng));
    const auto parsed = varied.parse(words);  // every variation still parses
    REQUIRE(parsed.has_value());
    CHECK((*parsed == s));
  }
  CHECK(captions.size() > 20);  // many different captions for one concept

  CHECK_FALSE(plain.parse({"a", "small", "red", "circle", "at", "the", "top"}).has_value());  // grid 2 needs left/right
  CHECK_FALSE(plain.parse({"a", "small", "red", "circle", "square", "at", "the", "top", "left"}).has_value());
  CHECK_FALSE(plain.parse({"a", "red", "circle", "at", "the", "top", "left"}).has_value());  // no size
  CHECK_FALSE(plain.parse({"a", "small", "red", "dog", "at", "the", "top", "left"}).has_value());
  CHECK(plain.id_of("dog") == kUnk);
}
