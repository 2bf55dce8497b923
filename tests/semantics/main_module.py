"""The script is __main__ with its own __file__, sys.argv and sys.path[0]."""
import os
import sys

print(__name__, os.path.basename(__file__), os.path.basename(sys.argv[0]), sys.argv[1:])
print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print(sys.modules["__main__"].__dict__ is globals(), __spec__)
print(__builtins__ is sys.modules["builtins"] or __builtins__ is vars(sys.modules["builtins"]))
print(sorted(k for k in globals() if k.startswith("__")))
