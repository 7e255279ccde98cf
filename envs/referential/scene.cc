#include "envs/referential/scene.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace emcomm {

const char* const kShapeNames[kShapes] = {"circle", "square", "triangle", "diamond", "cross"};
const char* const kColourNames[kColours] = {"red", "green", "blue", "yellow", "magenta", "cyan"};
const char* const kSizeNames[kSizes] = {"small", "medium", "large", "huge"};

namespace {

constexpr int64_t kMinCellPixels = 8;  // below this the small shapes are a pixel or two
// Radius of each size value as a fraction of half a cell.
constexpr double kSizeRadius[kSizes] = {0.35, 0.5, 0.68, 0.9};
constexpr uint8_t kRgb[kColours][3] = {{220, 40, 40},  {40, 200, 60},  {50, 90, 235},
                                       {230, 220, 40}, {210, 50, 210}, {40, 210, 215}};

double uniform01(Rng& rng) { return double(rng.next() >> 11) * 0x1.0p-53; }

// Is the point (dx, dy), relative to the shape's centre, inside a shape of radius r?
bool inside(int shape, double dx, double dy, double r) {
  const double ax = std::abs(dx), ay = std::abs(dy);
  switch (shape) {
    case 0: return dx * dx + dy * dy <= r * r;                        // circle
    case 1: return ax <= 0.85 * r && ay <= 0.85 * r;                  // square
    case 2: return dy >= -r && dy <= r && ax <= 0.5 * (dy + r);       // triangle, apex up
    case 3: return ax + ay <= r;                                      // diamond
    default: return (ax <= r / 3 && ay <= r) || (ay <= r / 3 && ax <= r);  // cross
  }
}

}  // namespace

void SceneOptions::validate(const std::string& prefix) const {
  if (grid < 2 || grid > 3)
    throw UserError(prefix + "grid=" + std::to_string(grid) + " is not allowed: 2 (4 positions) or 3 (9 positions)");
  if (objects < 1 || objects > positions())
    throw UserError(prefix + "objects=" + std::to_string(objects) + " does not fit: objects sit in distinct cells, so " +
                    "it must be in [1, " + std::to_string(positions()) + "] with " + prefix + "grid=" + std::to_string(grid));
  if (image_size < kMinCellPixels * grid)
    throw UserError(prefix + "image_size=" + std::to_string(image_size) + " is too small for the shapes: with " + prefix +
                    "grid=" + std::to_string(grid) + " it must be at least " + std::to_string(kMinCellPixels * grid) +
                    " pixels (" + std::to_string(kMinCellPixels) + " per cell)");
  if (!(noise >= 0 && noise <= 1)) throw UserError(prefix + "noise must be in [0, 1]");
  if (!(jitter >= 0 && jitter <= 1)) throw UserError(prefix + "jitter must be in [0, 1]");
}

Scene random_scene(const SceneOptions& opt, Rng& rng) {
  // Distinct positions: a partial Fisher-Yates over the cells, then sorted.
  std::vector<int> cells(opt.positions());
  for (size_t i = 0; i < cells.size(); ++i) cells[i] = int(i);
  Scene scene(opt.objects);
  for (int64_t k = 0; k < opt.objects; ++k) {
    std::swap(cells[k], cells[k + rng.below(cells.size() - k)]);
    scene[k].position = cells[k];
  }
  std::sort(scene.begin(), scene.end(), [](const SceneObject& a, const SceneObject& b) { return a.position < b.position; });
  for (auto& o : scene) {
    o.shape = int(rng.below(kShapes));
    o.colour = int(rng.below(kColours));
    o.size = int(rng.below(kSizes));
  }
  return scene;
}

std::vector<int32_t> scene_concept(const Scene& scene) {
  std::vector<int32_t> c;
  c.reserve(scene.size() * kSceneAttributes);
  for (const auto& o : scene) c.insert(c.end(), {o.shape, o.colour, o.size, o.position});
  return c;
}

std::vector<std::string> concept_names(int64_t objects) {
  std::vector<std::string> names;
  for (int64_t k = 0; k < objects; ++k)
    for (const char* a : {"shape", "colour", "size", "position"})
      names.push_back(objects == 1 ? std::string(a) : a + std::to_string(k));
  return names;
}

void colour_rgb(int colour, uint8_t rgb[3]) { std::copy(kRgb[colour], kRgb[colour] + 3, rgb); }

void render_scene(const Scene& scene, const SceneOptions& opt, Rng& rng, uint8_t* out) {
  const int64_t S = opt.image_size;
  std::fill(out, out + S * S * 3, uint8_t(0));
  const double cell = double(S) / opt.grid, half = cell / 2;
  for (const auto& o : scene) {
    const double r = kSizeRadius[o.size] * half, room = std::max(0.0, half - r);
    const double cx = (o.position % opt.grid + 0.5) * cell + opt.jitter * room * (2 * uniform01(rng) - 1);
    const double cy = (o.position / opt.grid + 0.5) * cell + opt.jitter * room * (2 * uniform01(rng) - 1);
    const int64_t x0 = std::max<int64_t>(0, int64_t(std::floor(cx - r))), x1 = std::min<int64_t>(S - 1, int64_t(std::ceil(cx + r)));
    const int64_t y0 = std::max<int64_t>(0, int64_t(std::floor(cy - r))), y1 = std::min<int64_t>(S - 1, int64_t(std::ceil(cy + r)));
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x)
        if (inside(o.shape, x + 0.5 - cx, y + 0.5 - cy, r)) std::copy(kRgb[o.colour], kRgb[o.colour] + 3, out + (y * S + x) * 3);
  }
  if (opt.noise > 0) {
    const double amp = opt.noise * 255;
    for (int64_t i = 0; i < S * S * 3; ++i) {
      const double v = out[i] + amp * (2 * uniform01(rng) - 1);
      out[i] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
  }
}

}  // namespace emcomm
