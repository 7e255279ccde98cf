// Positional and bag-of-symbols disentanglement (Chaabouni et al. 2020, "Compositionality and
// generalization in emergent languages"; the EGG definitions). Each information gap is divided
// by an entropy, so both scores lie in [0, 1].
#pragma once

#include "metrics/table.h"

namespace emcomm::metrics {

// posdis over messages [N, L] and concepts [N, A] (one attribute per column). For each
// message position j, with s_j the symbol at j:
//   gap_j = (I(s_j; attr_(1)) - I(s_j; attr_(2))) / H(s_j),
// attr_(1), attr_(2) the attributes with the highest and second-highest information (the
// second is 0 when A = 1); posdis = mean of gap_j over the positions with H(s_j) > 0.
// Positions past a message's length hold -1, which counts as one more symbol value (as EOS
// padding does in EGG). NaN when no position has H > 0 (or N = 0).
double posdis(IntTable messages, IntTable concepts);

// bosdis: as posdis with n_s = "number of occurrences of symbol s in the message" in place of
// s_j, for every symbol s >= 0 seen in `messages` (the -1 padding is not a symbol):
//   bosdis = mean over symbols with H(n_s) > 0 of (I(n_s; attr_(1)) - I(n_s; attr_(2))) / H(n_s).
// NaN when no symbol count varies (or N = 0).
double bosdis(IntTable messages, IntTable concepts);

}  // namespace emcomm::metrics
