// Synthetic scenes for the referential image game (REFERENCE.md, offline substitute for COCO).
// A scene holds 1..grid*grid objects on a black background, each with four attributes:
//   shape    circle, square, triangle, diamond, cross          (5 values)
//   colour   red, green, blue, yellow, magenta, cyan           (6 values)
//   size     small, medium, large, huge                        (4 values)
//   position a cell of a grid x grid layout, row-major         (grid = 2: 4 values, 3: 9 values)
// Objects of one scene sit in distinct cells and are kept sorted by position, so a scene's
// concept vector (shape, colour, size, position of object 0, then of object 1, ...) is
// canonical. Rendering writes RGB uint8 [H, W, 3] into a caller's buffer; position jitter and
// pixel noise come from the rng passed in, so a scene is deterministic per seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace emcomm {

inline constexpr int kShapes = 5, kColours = 6, kSizes = 4;
inline constexpr int kSceneAttributes = 4;  // shape, colour, size, position
extern const char* const kShapeNames[kShapes];
extern const char* const kColourNames[kColours];
extern const char* const kSizeNames[kSizes];

struct SceneObject {
  int shape = 0, colour = 0, size = 0, position = 0;
  bool operator==(const SceneObject& o) const {
    return shape == o.shape && colour == o.colour && size == o.size && position == o.position;
  }
};

struct SceneOptions {
  int64_t image_size = 32;  // H = W
  int64_t objects = 1;      // objects per scene
  int64_t grid = 2;         // positions = grid * grid cells
  double noise = 0.0;       // uniform pixel noise, amplitude as a fraction of 255
  double jitter = 0.0;      // centre offset, as a fraction of the free room inside the cell
  // Throws UserError naming the option (env.* spelling) when the options cannot work.
  void validate(const std::string& prefix = "env.") const;
  int64_t positions() const { return grid * grid; }
  int64_t attributes() const { return objects * kSceneAttributes; }
};

using Scene = std::vector<SceneObject>;  // sorted by position, positions distinct

// A uniformly random scene (distinct positions, every attribute uniform).
Scene random_scene(const SceneOptions& opt, Rng& rng);
// The concept vector: A = 4 * objects values.
std::vector<int32_t> scene_concept(const Scene& scene);
// Names of the concept columns: "shape", "colour", "size", "position" (one object) or
// "shape0", ..., "position1", ... (several).
std::vector<std::string> concept_names(int64_t objects);
// RGB of a colour value.
void colour_rgb(int colour, uint8_t rgb[3]);
// Renders into out[H * W * 3] (row-major, channels last). rng draws jitter and noise only.
void render_scene(const Scene& scene, const SceneOptions& opt, Rng& rng, uint8_t* out);

}  // namespace emcomm
