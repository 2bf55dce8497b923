"""`tensorscope check` with no check at all (the engine's own cost): `python peers/no_checks.py SCRIPT ...`.

The same engine child `check` forks, with the same loop sampling, only the RunSpec's list of checks empty.
Add `--every-pass` before SCRIPT to observe every pass. Exits with the script's own status.
"""

import sys

from tensorscope.engine.process import run_headless, spec_for
from tensorscope.engine.target import ScriptTarget


def main(argv: list[str]) -> int:
    every_pass = argv[:1] == ["--every-pass"]
    if every_pass:
        argv = argv[1:]
    target = ScriptTarget.load(argv[0], argv[1:])

    def echo(stream: str, text: str) -> None:
        (sys.stdout if stream == "stdout" else sys.stderr).write(text)

    outcome = run_headless(spec_for(target, "run", every_pass=every_pass, checks=""), on_output=echo)
    errors = [*outcome.internal_errors, *outcome.trace.internal_errors]
    if outcome.error is not None or errors:
        print(f"no_checks: {outcome.error or errors[0]}", file=sys.stderr)
        return 2
    return int(outcome.trace.exit_code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
