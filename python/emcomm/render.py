"""Pictures of a Markov env's state (RGB numpy arrays, PettingZoo's render_mode="rgb_array").

Particle worlds: the square [-range, range]^2 seen from above, landmarks as small discs, agents
as larger discs (adversaries red, others blue-grey; a landmark's own colour when the scenario
has colours, the goal landmark ringed), and a strip at the top with each speaking agent's
current message (one cell per channel value, darker = larger). Matrix games: agent 0's and
agent 1's payoff matrices as two heatmaps side by side. Drawn from env.state() with numpy.
"""
import numpy as np

_AGENT = np.array([90, 110, 160], np.float32)
_ADVERSARY = np.array([200, 60, 60], np.float32)
_LANDMARK = np.array([110, 110, 110], np.float32)


def _disc(img, cx, cy, r, colour, ring=False):
    h, w, _ = img.shape
    y0, y1 = max(0, int(cy - r - 1)), min(h, int(cy + r + 2))
    x0, x1 = max(0, int(cx - r - 1)), min(w, int(cx + r + 2))
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d2 = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2
    mask = (d2 <= r * r) & (d2 >= (r - 2) ** 2) if ring else d2 <= r * r
    img[y0:y1, x0:x1][mask] = colour


def render_particle(state, index=0, size=320, extent=1.6):
    """One world of a particle state (env.state()) as a [size + strip, size, 3] uint8 array."""
    n = int(state["agents"])
    pos, sizes = state["positions"][index], state["sizes"]
    colours = state["colours"]
    speaks, adversary = state["speaks"], state["adversary"]
    msgs = state["messages"][index]
    speakers = [i for i in range(n) if speaks[i]]
    cell = 12
    strip = (len(speakers) * (cell + 2) + 4) if speakers and msgs.shape[1] else 0
    img = np.full((size + strip, size, 3), 255, np.uint8)
    scale = size / (2 * extent)

    def px(p):
        return (p[0] + extent) * scale, (extent - p[1]) * scale + strip

    goal = int(state["goals"][index][0]) if state["goals"].shape[1] else -1
    for l in range(int(state["landmarks"])):
        e = n + l
        c = colours[l] * 255 if colours.shape[0] == state["landmarks"] and colours[l].any() else _LANDMARK
        x, y = px(pos[e])
        _disc(img, x, y, max(2.0, sizes[e] * scale), c)
        if l == goal:
            _disc(img, x, y, max(4.0, sizes[e] * scale) + 4, np.array([0, 0, 0]), ring=True)
    for i in range(n):
        x, y = px(pos[i])
        c = _ADVERSARY if adversary[i] else _AGENT
        _disc(img, x, y, max(3.0, sizes[i] * scale), c)
    for row, i in enumerate(speakers):
        v = np.clip(msgs[i], 0.0, 1.0)
        y0 = 2 + row * (cell + 2)
        for k, val in enumerate(v):
            x0 = 2 + k * (cell + 1)
            if x0 + cell > size:
                break
            img[y0:y0 + cell, x0:x0 + cell] = np.uint8(255 - 200 * val)
    return img


def render_matrix(state, index=0, cell=40):
    """A matrix game's two payoff matrices (episode `index`), red = low, green = high."""
    pay = state["payoffs"][index]  # [2, K, K]
    K = pay.shape[1]
    lo, hi = float(pay.min()), float(pay.max())
    span = hi - lo if hi > lo else 1.0
    img = np.full((K * cell, 2 * K * cell + cell, 3), 255, np.uint8)
    for a in range(2):
        for x in range(K):
            for y in range(K):
                t = (pay[a, x, y] - lo) / span
                c = np.array([255 * (1 - t), 255 * t, 60], np.float32)
                x0 = a * (K * cell + cell) + y * cell
                img[x * cell:(x + 1) * cell - 1, x0:x0 + cell - 1] = c
    return img


def render_state(env, index=0, **kw):
    """env.state() of a MarkovEnv drawn as an RGB array (world / episode `index`)."""
    st = env.state()
    if "positions" in st:
        return render_particle(st, index=index, **kw)
    if "payoffs" in st:
        return render_matrix(st, index=index, **kw)
    raise ValueError(f"render(): env '{env.name}' has no picture")
