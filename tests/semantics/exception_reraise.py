"""A bare `raise` in an except block, uncaught: the original exception ends the script."""
# flags: script-error


class TrainingError(Exception):
    """A user-defined exception."""


def train():
    try:
        raise TrainingError("diverged at epoch 3")
    except TrainingError:
        print("logging and re-raising")
        raise


try:
    train()
finally:
    print("cleanup")
