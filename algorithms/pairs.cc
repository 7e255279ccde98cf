#include "algorithms/pairs.h"

#include "core/errors.h"

namespace emcomm {
namespace {

// The declared rules, without the message (pair_refusal's message lists the algorithms that pass).
bool compatible(const EnvEntry& env, const Accepts& a) {
  if (env.kind == EnvKind::Markov && !a.markov) return false;
  if (env.kind == EnvKind::Signaling && !a.signaling) return false;
  if (env.observations == Observations::Image && !a.images) return false;
  return !(a.needs_human_language && !env.human_language);
}

std::string algorithms_for(const EnvEntry& env) {
  std::string s;
  for (const AlgorithmEntry* a : AlgorithmRegistry::entries())
    if (compatible(env, a->accepts)) s += (s.empty() ? "" : "|") + a->name;
  return s.empty() ? "none" : s;
}

std::string refusal(const std::string& env, const AlgorithmEntry& algo, const std::string& why) {
  return "env '" + env + "' cannot be trained by train.algorithm=" + algo.name + ": " + algo.name + " needs " +
         algo.accepts.needs + "; " + why;
}

}  // namespace

std::string pair_refusal(const EnvEntry& env, const AlgorithmEntry& algo) {
  const Accepts& a = algo.accepts;
  if (compatible(env, a)) return "";
  if (env.kind == EnvKind::Markov && !a.markov)
    return refusal(env.name, algo, "'" + env.name + "' is a Markov game (algorithms that train it: " +
                                       algorithms_for(env) + ")");
  if (env.kind == EnvKind::Signaling && !a.signaling)
    return refusal(env.name, algo, "'" + env.name + "' is a signaling game (algorithms that train it: " +
                                       algorithms_for(env) + ")");
  if (env.observations == Observations::Image && !a.images)
    return refusal(env.name, algo, "'" + env.name + "' observes images");
  if (a.needs_human_language && !env.human_language)
    return refusal(env.name, algo, "'" + env.name + "' has no human language");
  return "";
}

std::string instance_refusal(const Env& env, const AlgorithmEntry& algo) {
  const Accepts& a = algo.accepts;
  if (const auto* sg = dynamic_cast<const SignalingGame*>(&env)) {
    if (!a.images && sg->object_shape().size() > 1)
      return refusal(env.name(), algo,
                     "this config's '" + env.name() +
                         "' observes images (give it a features dataset, env.dataset=FILE with features, or "
                         "train it with an algorithm that reads images)");
    if (a.needs_human_language && !sg->has_human_language())
      return refusal(env.name(), algo, "this config's '" + env.name() + "' has no human language (captions)");
  }
  return "";
}

void check_pair(const Config& cfg) {
  const auto& env = EnvRegistry::get(cfg.get_string("env.name"), "env");
  const auto& algo = AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm");
  const std::string why = pair_refusal(env, algo);
  if (!why.empty()) throw UserError(why);
}

void check_instance(const Env& env, const Config& cfg) {
  const std::string why = instance_refusal(env, AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm"));
  if (!why.empty()) throw UserError(why);
}

std::vector<PairInfo> pairs_table() {
  std::vector<PairInfo> out;
  for (const EnvEntry* e : EnvRegistry::entries())
    for (const AlgorithmEntry* a : AlgorithmRegistry::entries()) {
      PairInfo p{e->name, a->name, false, pair_refusal(*e, *a)};
      p.trains = p.how.empty();
      if (p.trains) {
        const bool adapted = e->kind == EnvKind::Signaling && a->accepts.markov;
        p.how = adapted ? "through the signaling adapter" : "direct";
        if (e->observations == Observations::ImageOrVector && !a->accepts.images) p.how += ", vector data only";
        if (e->observations != Observations::Vector && a->accepts.images && adapted) p.how += ", images flattened";
      }
      out.push_back(p);
    }
  return out;
}

}  // namespace emcomm
