"""Exceptions caught, re-raised and caught again, chained, with finally: the script ends cleanly."""
# flags: shape-mismatch
import torch


def shape_error():
    return torch.ones(2, 3) @ torch.ones(2, 3)  # (raises: the caught pitfall is flagged)

def reraise():
    try:
        shape_error()
    except RuntimeError:
        print("inner caught")
        raise


try:
    reraise()
except RuntimeError as exc:
    print("outer caught", type(exc).__name__)
try:
    try:
        int("x")
    except ValueError as exc:
        raise KeyError("wrapped") from exc
except KeyError as exc:
    print("chained", repr(exc), type(exc.__cause__).__name__)
try:
    print(1 / 0)
except ZeroDivisionError:
    print("division")
finally:
    print("finally ran")
try:
    raise ExceptionGroup("many", [ValueError(1), TypeError(2)])
except* ValueError as group:
    print("group", [repr(e) for e in group.exceptions])
except* TypeError:
    print("type error part")
