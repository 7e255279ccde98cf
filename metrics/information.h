// Plug-in information measures over 1-D symbol ids (one id per row; build them with
// messages_as_symbols / rows_as_symbols). All logarithms are base 2: values are in bits.
//
// What they measure on the run file (docs/metrics.md):
//   entropy of messages      entropy(messages_as_symbols(message, length))
//   speaker consistency SC   mutual_information(messages, rows_as_symbols(sender_action))
//   instantaneous coord. IC  mutual_information(messages, rows_as_symbols(receiver_action))
//   message-meaning info     mutual_information(messages, rows_as_symbols(concept))
//   context independence     context_independence(rows_as_symbols(concept or action), messages)
#pragma once

#include <cstdint>
#include <vector>

namespace emcomm::metrics {

// H(X) = -sum_x p(x) log2 p(x), p from the counts of the ids in x. 0 for an empty x.
double entropy(const std::vector<int64_t>& x);

// I(X;Y) = H(X) + H(Y) - H(X,Y) over the rows (x[i], y[i]), computed as
// sum_xy p(x,y) log2[p(x,y) / (p(x) p(y))] (an exact product table gives exactly 0;
// rounding below 0 is clamped). 0 for empty inputs; throws std::invalid_argument when
// the sizes differ.
double mutual_information(const std::vector<int64_t>& x, const std::vector<int64_t>& y);

// Context independence (Bogin et al. 2018) of messages m with respect to meanings a:
// for each meaning a, m*(a) = argmax_m p(a|m), ties broken by the smallest message id
// (ids from messages_as_symbols order messages lexicographically); then
//   CI = (1/|A|) sum_a p(a | m*(a)) p(m*(a) | a),
// |A| the number of distinct meanings observed. 1 for a one-to-one code; NaN for empty
// inputs. Throws std::invalid_argument when the sizes differ.
double context_independence(const std::vector<int64_t>& meaning, const std::vector<int64_t>& message);

}  // namespace emcomm::metrics
