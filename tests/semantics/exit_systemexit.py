"""raise SystemExit with no argument: status 0; an except Exception does not catch it."""


def stop():
    try:
        raise SystemExit
    except Exception:
        print("never: SystemExit is not an Exception")


print("start")
stop()
print("never printed")
