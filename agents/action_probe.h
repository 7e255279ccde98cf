// The probes of the Pitfalls paper's explanation of positive signaling without positive
// listening (agents.action_probe, train.algorithm=reinforce on matrix games; docs/matrix-games.md):
// heads that predict the *other* agent's action from an agent's own policy trunk, trained on the
// side (their own optimiser; their gradient never reaches the policy), and the L2 norms of the
// first layer's weights on the observation's column blocks.
//
// ActionProbe, for one agent whose action trunk has `hidden` units, predicting among the other
// agent's K actions:
//   full    - a linear head on the trunk's last hidden layer at the acting observation
//   nocomm  - a second linear head on the trunk's last hidden layer at the acting observation
//             with this round's communication columns set to 0 (the released code's "nocomm")
//   noinput - K learned logits that see nothing (the best constant predictor: the floor)
//   sep, sep_nocomm - a separate 2-layer ReLU MLP (`hidden` units) on the acting observation
//             itself, and another on it with the communication columns set to 0 (the released
//             code's "sep" and "nocommsep"): what the observation holds about the other agent's
//             action, whatever the policy makes of it
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace emcomm {

struct ProbeLogits {
  torch::Tensor full, nocomm, noinput, sep, sep_nocomm;  // [B, K] each
};

class ActionProbeImpl : public torch::nn::Module {
 public:
  ActionProbeImpl(int64_t hidden, int64_t n_actions, int64_t obs_dim);
  // h: the trunk's hidden layer [B, hidden] at the observation obs [B, obs_dim]; h_nocomm and
  // obs_nocomm: the same with the communication columns zeroed. h and h_nocomm are used as given
  // (pass them detached).
  ProbeLogits forward(const torch::Tensor& h, const torch::Tensor& h_nocomm, const torch::Tensor& obs,
                      const torch::Tensor& obs_nocomm);

 private:
  torch::nn::Linear full_{nullptr}, nocomm_{nullptr};
  torch::Tensor prior_;
  torch::nn::Linear sep1_{nullptr}, sep2_{nullptr}, sep_out_{nullptr};
  torch::nn::Linear nsep1_{nullptr}, nsep2_{nullptr}, nsep_out_{nullptr};
};
TORCH_MODULE(ActionProbe);

// The Frobenius (L2) norm of the columns [begin, end) of a weight matrix [out, in]: the size of
// a first layer's weights on one block of its inputs. 0 for an empty block.
double column_block_norm(const torch::Tensor& weight, int64_t begin, int64_t end);

}  // namespace emcomm
