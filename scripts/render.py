#!/usr/bin/env python3
"""Watch a trained particle run: its agents play a few episodes, drawn as an animated GIF.

    PYTHONPATH=build/python /usr/bin/python3 scripts/render.py RUN_DIR --episodes 3 --out episodes.gif

The agents are the run's (emcomm.load_agents: MADDPG actors from the newest checkpoint), acting
greedily (--sample: with the actors' Gumbel noise, as the run's evaluation does) in the run's
env (built from RUN_DIR/config.ini). Each frame is env.render()'s picture (emcomm/render.py:
agents, landmarks, the goal ringed, each speaker's message as a strip of cells at the top) with
the episode, step and reward. Needs Pillow (Debian python3-pil)."""
import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
default_build = os.path.join(os.path.dirname(here), "build", "python")
if os.path.isdir(default_build) and default_build not in sys.path:
    sys.path.insert(0, default_build)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--out", default="episodes.gif")
    p.add_argument("--seed", type=int, default=1, help="seed of the first episode (then seed+1, ...)")
    p.add_argument("--sample", action="store_true", help="sample the actors' actions instead of the greedy ones")
    p.add_argument("--size", type=int, default=320, help="picture width in pixels")
    p.add_argument("--ms", type=int, default=120, help="milliseconds per frame")
    a = p.parse_args(argv)
    if a.episodes < 1:
        print("render.py: error: --episodes must be at least 1", file=sys.stderr)
        return 2
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        print("render.py: error: Pillow is not installed (Debian: python3-pil; scripts/setup-deps)", file=sys.stderr)
        return 2
    try:
        import emcomm
        from emcomm.render import render_state
    except ImportError as e:
        print(f"render.py: error: cannot import emcomm ({e}); build it (scripts/build) and set "
              "PYTHONPATH=build/python", file=sys.stderr)
        return 2
    try:
        agents = emcomm.load_agents(a.run_dir)
    except ValueError as e:
        print(f"render.py: error: {e}", file=sys.stderr)
        return 2
    env = agents.env
    if not agents.markov or "positions" not in (env.reset(1, seed=0) and env.state()):
        print(f"render.py: error: {a.run_dir} is not a particle run (env.name={agents.config.get('env.name')})",
              file=sys.stderr)
        return 2
    frames = []

    def frame(ep, t, reward):
        img = Image.fromarray(render_state(env, size=a.size))
        d = ImageDraw.Draw(img)
        d.text((4, img.height - 14), f"episode {ep + 1}  step {t}  reward {reward:+.3f}", fill=(0, 0, 0))
        frames.append(img)

    for ep in range(a.episodes):
        st = env.reset(1, seed=a.seed + ep)
        t, total = 0, 0.0
        frame(ep, t, total)
        while not st["done"].all():
            actions, messages = agents.policy(st["obs"], sample=a.sample)
            st = env.step_soft(actions, messages)
            t += 1
            total += float(st["reward"][0].mean())
            frame(ep, t, total)
    frames[0].save(a.out, save_all=True, append_images=frames[1:], duration=a.ms, loop=0)
    print(f"wrote {len(frames)} frames of {a.episodes} episodes to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
