"""The app keeps its history out of the cyclic collector's way (tensorscope/tui/longlived.py): frozen after a
pause, given back at restart and at the end, and a dropped Step is still freed at once."""

from __future__ import annotations

import gc
import weakref

from pilot_support import paused, wait_until

from tensorscope.tui.app import TensorScopeApp


async def test_frozen_while_shown_given_back_at_restart_and_exit():
    app = TensorScopeApp("linreg")
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: len(app.history.steps) >= 3 and app.state == "paused", "two steps")
        assert gc.get_freeze_count() > 0
        first = weakref.ref(app.history.steps[0])
        await pilot.press("r")
        await wait_until(pilot, lambda: first() is None, "the old run's Step to be freed")
        await paused(pilot, app)
    assert gc.get_freeze_count() == 0
