"""Run a script under TorchSnooper, each of its lines snooped: `python peers/snooper.py SCRIPT [ARGS...]`.

Exits 3 when torchsnooper cannot be imported (the benchmark table then says it is not installed).
"""

import os
import sys
from pathlib import Path

try:
    import torchsnooper
except ImportError:
    sys.exit(3)

if __name__ == "__main__":
    script = Path(sys.argv[1]).resolve()
    sys.argv = sys.argv[1:]
    sys.path[0] = str(script.parent)
    code = compile(script.read_text(), str(script), "exec")
    namespace = {"__name__": "__main__", "__file__": str(script)}
    with open(os.devnull, "w") as sink, torchsnooper.snoop(output=sink, depth=2):
        exec(code, namespace)  # depth 2: this block, then the script's own frame
