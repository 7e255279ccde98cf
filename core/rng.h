// Seeding. Every component owns its own generator, derived from the run seed and the
// component's name, so adding a component never shifts another one's random stream.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace emcomm {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(uint64_t seed, std::string_view component) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (unsigned char c : component) h = (h ^ c) * 0x100000001B3ull;
  return splitmix64(seed ^ splitmix64(h));
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed), engine_(seed) {}
  Rng derive(std::string_view component) const { return Rng(derive_seed(seed_, component)); }
  uint64_t seed() const { return seed_; }
  std::mt19937_64& engine() { return engine_; }
  // Uniform integer in [0, n), independent of the standard library's distributions.
  uint64_t below(uint64_t n) {
    // Lemire's nearly divisionless method with rejection: exact and portable.
    uint64_t x = engine_();
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    uint64_t l = static_cast<uint64_t>(m);
    if (l < n) {
      uint64_t t = -n % n;
      while (l < t) {
        x = engine_();
        m = static_cast<__uint128_t>(x) * n;
        l = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Next 64 random bits (for seeding other generators).
  uint64_t next() { return engine_(); }

 private:
  uint64_t seed_;
  std::mt19937_64 engine_;
};

}  // namespace emcomm
