#!/usr/bin/env bash
# The MADDPG paper's table (docs/RESULTS.md, "MADDPG's table"): every particle scenario of the
# paper, every MADDPG/DDPG matchup, 3 seeds, the paper's episode budget (the configs' own
# train.steps), then the final evaluation of 1000 episodes without learning (eval.final_episodes).
#   scripts/results/maddpg-table.sh [OUT_DIR] [SCENARIO ...]     (default: runs/maddpg-table, all)
# One `emcomm compare` per scenario (resumable: a rerun keeps finished runs), then
# scripts/results/maddpg-table.py OUT_DIR prints the table. Time: docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
EMCOMM=${EMCOMM:-build/experiments/emcomm}
OUT=${1:-runs/maddpg-table}
shift || true
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(simple_crypto speaker_listener simple_adversary simple_spread simple_push simple_tag)
C=experiments/configs
for s in "${SCENARIOS[@]}"; do
  case "$s" in
    speaker_listener)  # cooperative: MADDPG vs DDPG (local critics), as its two configs
      "$EMCOMM" compare "$C/particle_${s}_maddpg.ini" --vary maddpg.local_critic=false,true --seeds 3 --jobs 2 \
        --out "$OUT/$s" ;;
    simple_spread)  # cooperative: every agent MADDPG or every agent DDPG, as its two configs
      "$EMCOMM" compare "$C/particle_${s}_maddpg.ini" --vary maddpg.good=maddpg,ddpg --seeds 3 --jobs 2 \
        --out "$OUT/$s" ;;
    simple_crypto | simple_adversary | simple_push | simple_tag)  # mixed: each side MADDPG or DDPG
      "$EMCOMM" compare "$C/particle_${s}_maddpg_vs_maddpg.ini" --vary maddpg.good=maddpg,ddpg \
        --vary maddpg.adversary=maddpg,ddpg --seeds 3 --jobs 2 --out "$OUT/$s" ;;
    *) echo "maddpg-table: unknown scenario '$s'" >&2; exit 2 ;;
  esac
done
