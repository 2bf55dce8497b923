"""warnings.warn in the user's code, directly and with stacklevel=2: attributed to the user's lines."""
import warnings


def deprecated(x):
    warnings.warn("deprecated() is old", DeprecationWarning, stacklevel=2)
    return x


warnings.simplefilter("always")
warnings.warn("plain user warning")  # noqa: B028
print(deprecated(3))
with warnings.catch_warnings(record=True) as caught:
    warnings.warn("recorded", RuntimeWarning)  # noqa: B028
print([(w.category.__name__, str(w.message), w.lineno) for w in caught])
warnings.warn("once more")  # noqa: B028
