"""warnings.simplefilter("error"): warnings become exceptions the script catches."""
import warnings

import torch

warnings.simplefilter("error")
try:
    warnings.warn("now an error")  # noqa: B028
except UserWarning as exc:
    print("caught", exc)
try:
    torch.tensor(torch.ones(2))
except UserWarning as exc:
    print("torch warning raised:", str(exc).split(",")[0])
print("done")
