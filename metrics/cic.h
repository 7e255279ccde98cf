// Causal influence of communication (Jaques et al. 2019; Lowe et al. 2019, "On the pitfalls
// of measuring emergent communication"), one-step and interventional, from the run file's
// counterfactual tables `cic/p_message` and `cic/p_action`.
#pragma once

#include <cstdint>

namespace emcomm::metrics {

// p_message [n, m]: the SENDER's probability p(c|s) of counterfactual message c at the state
// s of each row; p_action [n, m, k]: the receiver's action distribution p(a|do(c), s) when c
// is imposed. Per row:
//   p(a|s)  = sum_c p(c|s) p(a|do(c), s)
//   CIC(s)  = sum_c p(c|s) sum_a p(a|do(c), s) log2[p(a|do(c), s) / p(a|s)]
// (terms with p(a|do(c), s) = 0 contribute 0); returns the mean of CIC(s) over the rows, in
// bits. Each row of p_message is renormalised to sum 1 over the m messages given (they may be
// a sample of all messages), and each p(.|do(c), s) over its k actions (float32 rounding).
// A row whose receiver gives the same distribution for every message with p(c|s) > 0 has
// CIC(s) = 0 exactly. NaN when n = 0. Throws std::invalid_argument on a negative or
// non-finite probability, or a distribution summing to 0.
double cic(const float* p_message, const float* p_action, int64_t n, int64_t m, int64_t k);

// Factorised receivers (one softmax per attribute, e.g. Lewis reconstruction):
// p_action [n, m, a, v] holds one distribution over v values per factor. CIC is computed as
// above for each factor separately and the result is the mean over the a factors (not the CIC
// of the joint action, whose distribution over v^a values is never tabulated).
double cic_factorised(const float* p_message, const float* p_action, int64_t n, int64_t m, int64_t a, int64_t v);

}  // namespace emcomm::metrics
