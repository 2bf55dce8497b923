"""An uncaught exception raised from another (raise ... from), after a finally block ran."""
# flags: script-error


def load(name):
    try:
        return {"a": 1}[name]
    except KeyError as exc:
        raise LookupError(f"no entry {name!r}") from exc
    finally:
        print("lookup done")


print(load("a"))
load("b")
