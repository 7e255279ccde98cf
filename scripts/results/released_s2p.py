"""What the scripts that time the S2P paper's released code (backpropper/s2p) share: the
checkout argument, the game folder inside it, and the thread settings its PyTorch obeys."""
import os
import sys


def add_checkout_args(ap):
    ap.add_argument("checkout", help="a checkout of github.com/backpropper/s2p")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS of the released code")


def game_dir(prog, checkout, game):
    """CHECKOUT/GAME when it holds train.py; None after printing why not."""
    path = os.path.join(checkout, game)
    if not os.path.isfile(os.path.join(path, "train.py")):
        print(f"{prog}: {path}/train.py not found: expected a checkout of backpropper/s2p", file=sys.stderr)
        return None
    return path


def thread_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env
