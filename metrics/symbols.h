// Turning rows of the run file into symbols: every measure works on 1-D vectors of ids.
#pragma once

#include <cstdint>
#include <vector>

#include "metrics/table.h"

namespace emcomm::metrics {

// One id per row of `message` [N, L]: the message is the tuple of the row's first
// length[i] symbols (the -1 padding after them, or anything else there, is not part of it),
// so [3,-1] with length 1 and [3,0] with length 2 are different messages. Ids are
// 0 .. U-1 in lexicographic order of the U distinct tuples (a prefix sorts first:
// () < (2) < (2,0) < (3)). Throws std::invalid_argument unless length has N entries in 0..L.
std::vector<int64_t> messages_as_symbols(IntTable message, const std::vector<int32_t>& length);

// One id per row of a [N] or [N, D] field (an action, target or concept): the row's D values
// as one tuple. Ids are 0 .. U-1 in lexicographic order of the tuples, so for a [N] field the
// order of the values is kept (-1, "no action", is the smallest when present).
std::vector<int64_t> rows_as_symbols(IntTable table);

}  // namespace emcomm::metrics
