"""A signal handler installed by the script runs when the script signals itself."""
import os
import signal

received = []


def handler(signum, frame):
    received.append(signal.Signals(signum).name)


previous = signal.signal(signal.SIGUSR1, handler)
print(previous is signal.SIG_DFL, signal.getsignal(signal.SIGUSR1) is handler)
os.kill(os.getpid(), signal.SIGUSR1)
print("received", received)
signal.signal(signal.SIGUSR1, previous)
print(signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL)
