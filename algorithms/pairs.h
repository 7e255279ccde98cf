// Env x algorithm compatibility, declared by the registry entries (EnvEntry kind, observations
// and human language; AlgorithmEntry::accepts) and checked in one place: `emcomm train` refuses
// an incompatible pair before it builds anything, `emcomm list` prints the table, and the
// conformance suite (tests/conformance/) drives every pair.
#pragma once

#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "envs/env.h"

namespace emcomm {

// "" when `algo` can train envs of `env`'s declared kind; else the refusal, naming both and
// what the algorithm needs.
std::string pair_refusal(const EnvEntry& env, const AlgorithmEntry& algo);
// "" when the built env (this config's data) fits `algo`; else the refusal (e.g. image
// observations for an algorithm that takes vectors, a dataset without captions for s2p).
std::string instance_refusal(const Env& env, const AlgorithmEntry& algo);
// Throw UserError with the refusals above for the config's env.name and train.algorithm.
void check_pair(const Config& cfg);
void check_instance(const Env& env, const Config& cfg);

struct PairInfo {
  std::string env, algorithm;
  bool trains = false;
  std::string how;  // "direct", "through the signaling adapter", or the refusal
};
// Every registered env x algorithm, envs in name order, then algorithms.
std::vector<PairInfo> pairs_table();

}  // namespace emcomm
