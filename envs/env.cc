#include "envs/env.h"

#include "core/errors.h"

namespace emcomm {

const char* split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    case Split::Test: return "test";
  }
  return "?";
}

torch::Tensor SignalingGame::human_messages(const SignalBatch&) const {
  throw UserError("env '" + name() + "' has no human language for supervised learning");
}

}  // namespace emcomm
