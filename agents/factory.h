// Builds a game's speaker and listener (or a population of them) from the agents.* options, so
// trainers never know the architecture or the game:
// * agents.arch=linear (default): the reference Lewis agents of agents/modules.h (one agent) and
//   agents/population.h (P members, weights stacked); vector objects only.
// * agents.arch=gru: agents/gru.h with an encoder chosen from the game's object_shape()
//   (agents/encoders.h: Linear "beholder" for vectors, CNN for images). A population of GRU
//   agents is P independent modules the population loops over (member by member: GRU steps are
//   small sequential ops, and stacking them would need a hand-written batched GRU).
// Impossible combinations throw UserError naming the option.
#pragma once

#include <ATen/core/Generator.h>

#include <memory>

#include "agents/agent.h"
#include "agents/gru.h"
#include "agents/modules.h"
#include "envs/env.h"

namespace emcomm {

enum class AgentArch { Linear, Gru };
AgentArch parse_arch(const std::string& name);       // linear|gru
ListenerScore parse_score(const std::string& name);  // dot|inv_mse

// The agents.* options that shape the networks (declared in signaling_agent_options()).
struct AgentOptions {
  ChannelSpec channel;
  int64_t hidden = 500;
  Activation activation = Activation::None;  // linear only
  AgentArch arch = AgentArch::Linear;
  int64_t embed = 16;                         // gru: symbol embedding size
  ListenerScore score = ListenerScore::Dot;   // discrimination scores
  bool shared_encoder = false;                // gru: the listener's encoder, read detached by the speaker
  int64_t cnn_channels = 16;                  // gru on images: first conv layer's channels
};

// UserError when the options cannot build agents for this game.
void check_agents(const AgentOptions& opt, const SignalingGame& game);

struct AgentPair {
  std::shared_ptr<SpeakerAgentImpl> speaker;
  std::shared_ptr<ListenerAgentImpl> listener;
};
// One speaker and one listener, initialised from gen (speaker first, then listener).
AgentPair make_agents(const AgentOptions& opt, const SignalingGame& game, at::Generator& gen);

struct PopulationPair {
  std::shared_ptr<SpeakerPopulationImpl> speaker;
  std::shared_ptr<ListenerPopulationImpl> listener;
};
// P speakers and P listeners, initialised from gen.
PopulationPair make_population(const AgentOptions& opt, const SignalingGame& game, int64_t members,
                               at::Generator& gen);

}  // namespace emcomm
