"""Entry point: ``python -I -S <this directory> FD CONFIG`` starts a zygote on socket FD.

Isolated mode (-I: no environment variables, no user site) and no site-packages (-S): the
zygote imports only the standard library and this package, which it imports as the top-level
package ``box`` (its parent directory replaces this one on ``sys.path``), never ``rlvr``.
"""

import os
import sys

if __name__ == "__main__":  # pragma: no cover - runs as its own process
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0] = os.path.dirname(here)
    from box.zygote import zygote_main  # noqa: E402

    zygote_main(sys.argv)
