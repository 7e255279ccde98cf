// emcomm make-dataset OUT.h5 [--size=N --image_size=S ... | --env.size=N ...] [--seed=S] [--overwrite]
// Renders the synthetic scenes of the referential game and writes them in the dataset format
// (docs/dataset-format.md). The options are the game's own synthetic-scene options (env.size,
// env.image_size, ...; the "env." may be left out, --seed is env.data_seed), so a file made with
// some options holds exactly the scenes the game renders in memory with the same options.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "core/config.h"
#include "core/errors.h"
#include "envs/referential/referential.h"
#include "experiments/commands.h"

namespace emcomm {

int make_dataset_command(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: emcomm make-dataset OUT.h5 [--size=N] [--image_size=S] [--objects=K] [--grid=2|3] [--noise=X] "
      "[--jitter=X] [--synonyms=B] [--word_order=B] [--optional_words=B] [--val_fraction=X] [--test_fraction=X] "
      "[--seed=S] [--features=D] [--overwrite]";
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::printf("%s\nRenders the referential game's synthetic scenes into a dataset file (docs/dataset-format.md);\n"
                  "each option is the game's env.<name> option, with its default. --features=D (default 0: images)\n"
                  "stores D-d feature vectors of the scenes from a fixed random network instead of the pixels.\n", usage.c_str());
      return 0;
    }
  const OptionSet all = ReferentialGame::option_set();
  std::vector<std::string> names;  // the synthetic-scene options, without "env."
  for (const auto& s : all.specs())
    if (s.name != "env.dataset" && s.name != "env.distractors") names.push_back(s.key());
  std::map<std::string, std::string> values;
  for (const auto& s : all.specs()) values[s.name] = s.default_value;
  Config cfg(all.specs(), values, "emcomm make-dataset");
  std::string out;
  bool overwrite = false;
  int64_t features = 0;
  for (const auto& a : args) {
    if (a == "--overwrite") {
      overwrite = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      if (!out.empty()) throw UserError("make-dataset writes one file; got a second one: '" + a + "'\n" + usage);
      out = a;
      continue;
    }
    const auto eq = a.find('=');
    if (eq == std::string::npos) throw UserError("option '" + a + "' needs a value (--key=value)\n" + usage);
    std::string key = a.substr(2, eq - 2);
    if (key.rfind("env.", 0) == 0) key = key.substr(4);
    if (key == "seed") key = "data_seed";
    if (key == "features") {
      const std::string v = a.substr(eq + 1);
      char* end = nullptr;
      const long long d = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || d < 0 || d > 65536)
        throw UserError("--features='" + v + "': expected an integer in [0, 65536] (0: images)\n" + usage);
      features = d;
      continue;
    }
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      const std::string near = nearest_name(key, names);
      throw UserError("unknown make-dataset option '" + a.substr(0, eq) + "'" +
                      (near.empty() ? "" : "; did you mean '--" + near + "'?") + "\n" + usage);
    }
    cfg.set("env." + key, a.substr(eq + 1));
  }
  if (out.empty()) throw UserError("make-dataset needs an output file\n" + usage);
  if (std::filesystem::exists(out) && !overwrite)
    throw UserError("'" + out + "' already exists; pass --overwrite to replace it");
  const auto opt = ReferentialGame::Options::from(cfg);
  Dataset ds = synthesize(opt.synth, opt.data_seed);
  const int64_t h = ds.height, w = ds.width;
  if (features > 0) scene_features(ds, features, opt.data_seed);
  write_dataset(out, ds);
  int64_t n[3];
  opt.synth.split_sizes(n);
  const std::string what = features > 0 ? std::to_string(features) + "-d random-network features of " +
                                               std::to_string(h) + "x" + std::to_string(w) + " scenes"
                                         : std::to_string(h) + "x" + std::to_string(w) + " pixels";
  std::printf("wrote %lld scenes (%lld train, %lld val, %lld test) as %s, %lld-word vocabulary, to %s\n",
              (long long)ds.rows, (long long)n[0], (long long)n[1], (long long)n[2], what.c_str(),
              (long long)ds.vocab.size(), out.c_str());
  return 0;
}

}  // namespace emcomm
