// Recurrent agents of the referential game (REFERENCE.md, S2P image game), usable on every
// signaling game (agents.arch=gru).
//
// GruSpeaker: h0 = encoder(object) (read detached when the encoder is the listener's: the
// reference's shared "beholder"); then for t = 0..max_len-1: h = GRUCell(x_t, h), logits_t =
// Linear(h), a symbol is drawn (agents/channel.h relaxations), x_{t+1} = embedding of that symbol
// (Linear(V -> E) on the one-hot or relaxed one-hot; x_0 is a learned start vector). EOS rules
// are the channel's (finish_message): the speaker always emits max_len positions and those after
// the first EOS are ignored.
//
// GruListener: embeds the message's (relaxed) one-hots with Linear(V -> E), runs a GRU over the
// positions and reads its state at the message's end. For a message with an EOS the end is
// the EOS position; relaxed messages end at position t with weight alive_t - alive_{t+1}, where
// alive_t = sum_v onehots[t, v] (the channel zeroes positions after EOS, softly for soft
// Gumbel), so positions after EOS never count. Outputs:
// * reconstruction: Linear(H -> A*V) of the state;
// * discrimination, agents.score=dot: candidate c scores tanh(encoder(c)) . state;
// * discrimination, agents.score=inv_mse (reference): z = Linear(H -> H)(state), candidate c
//   scores 1 / mean_k (z_k - encoder(c)_k)^2.
#pragma once

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <memory>

#include "agents/agent.h"
#include "agents/encoders.h"
#include "envs/env.h"

namespace emcomm {

enum class ListenerScore { Dot, InvMse };  // agents.score

class GruSpeakerImpl : public SpeakerAgentImpl {
 public:
  // owns_encoder=false: `encoder` belongs to a listener; it is read detached and not registered.
  GruSpeakerImpl(std::shared_ptr<EncoderImpl> encoder, bool owns_encoder, int64_t hidden, int64_t embed,
                 ChannelSpec channel);
  ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) override;
  torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor& symbols) override;
  bool autoregressive() const override { return true; }

 private:
  torch::Tensor initial_state(const torch::Tensor& input);

  std::shared_ptr<EncoderImpl> encoder_;
  bool owns_encoder_;
  ChannelSpec channel_;
  torch::nn::GRUCell cell_{nullptr};
  torch::nn::Linear embed_{nullptr}, out_{nullptr};
  torch::Tensor start_;  // [E]
};

class GruListenerImpl : public ListenerAgentImpl {
 public:
  // encoder: candidates' encoder (discrimination); may be null for reconstruction.
  GruListenerImpl(std::shared_ptr<EncoderImpl> encoder, ChannelSpec channel, int64_t hidden, int64_t embed,
                  ReceiverSpec task, ListenerScore score);
  torch::Tensor forward(const torch::Tensor& onehots, const torch::Tensor& candidates = {}) override;
  // The GRU state at each message's end [B, H].
  torch::Tensor message_state(const torch::Tensor& onehots);
  std::shared_ptr<EncoderImpl> encoder() const { return encoder_; }

 private:
  std::shared_ptr<EncoderImpl> encoder_;
  ReceiverSpec task_;
  ListenerScore score_;
  torch::nn::Linear embed_{nullptr}, out_{nullptr};
  torch::nn::GRU gru_{nullptr};
};

// Scores of candidates [B, C, H] against message vectors [B, H] -> [B, C].
torch::Tensor dot_scores(const torch::Tensor& candidates, const torch::Tensor& message);
torch::Tensor inv_mse_scores(const torch::Tensor& candidates, const torch::Tensor& message);

}  // namespace emcomm
