"""Pitfalls the script catches and operations inside lambdas, comprehensions and genexprs.

A caught pitfall is flagged at the line that raised it (the innermost line of the user's), with the code and
severity of the uncaught case and "(caught at line N)" in its message; `script-error` never flags a caught
exception. An operation inside a lambda or genexpr is the user's, flagged at the lambda's own line.
"""

from __future__ import annotations

import pytest
import torch

from tensorscope.checks import default_checks
from tensorscope.engine import Session
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Trace
from tests.test_checks_live import Write, assert_transparent, line_of


def run(path: object, record: bool = False, trace_modules: tuple[str, ...] = (), simulate_cuda: bool = False
        ) -> Trace:
    session = Session(str(path), monitors=default_checks(), trace_modules=trace_modules,
                      simulate_cuda=simulate_cuda)
    trace = session.record(timeout=120) if record else session.run(timeout=120)
    assert session.internal_errors == []
    return trace


def serious(trace: Trace) -> list[Flag]:
    return [f for f in trace.flags if f.severity in ("warning", "error")]


# --- item 2: caught pitfalls -----------------------------------------------------------------------------

class TestCaughtPitfalls:
    def test_nonscalar_backward_caught_is_flagged_at_the_raising_line(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.randn(3, requires_grad=True)
            loss = w * 2
            try:
                loss.backward()          # <- raises
            except RuntimeError as e:    # <- handler
                print(e)
        """)
        trace = run(path)
        [flag] = serious(trace)
        raises = line_of(path, "<- raises")
        assert (flag.code, flag.severity, flag.line) == ("nonscalar-backward", "error", raises)
        handler = line_of(path, "<- handler")
        assert flag.message.endswith(f"(caught at line {handler})")
        assert flag.data["caught"] == str(handler) and flag.tensors == ("loss",)
        assert_transparent(path, trace)

    def test_backward_without_grad_caught_is_flagged(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            x = torch.randn(3)
            y = (x * 2).sum()
            try:
                y.backward()             # <- raises
            except RuntimeError as e:
                print(e)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.severity, flag.line) == ("no-grad-graph", "error", line_of(path, "<- raises"))
        assert "(caught at line" in flag.message
        assert "element 0 of tensors does not require grad" in trace.stdout
        assert_transparent(path, trace)

    def test_shape_mismatch_in_a_helper_is_flagged_in_the_helper(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            def helper(a, b):
                return a @ b             # <- raises

            try:
                helper(torch.randn(2, 3), torch.randn(4, 5))
            except RuntimeError as e:    # <- handler
                print("caught", e)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.severity, flag.line, flag.function) == (
            "shape-mismatch", "error", line_of(path, "<- raises"), "helper")
        assert flag.message.endswith(f"(caught at line {line_of(path, '<- handler')})")
        assert flag.tensors == ("a", "b")
        assert_transparent(path, trace)

    @pytest.mark.skipif(torch.cuda.is_available(), reason="simulated CUDA needs a machine without a GPU")
    def test_a_device_mismatch_caught_under_simulated_cuda(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            model = torch.nn.Linear(3, 2).to("cuda")
            x = torch.randn(4, 3)
            try:
                out = model(x)           # <- raises
            except RuntimeError as e:
                print("caught")
        """)
        [flag] = run(path, simulate_cuda=True).flags
        assert (flag.code, flag.line) == ("device-mismatch", line_of(path, "<- raises"))
        assert (flag.data["a_device"], flag.data["b_device"]) == ("cpu", "cuda:0")
        assert flag.message.endswith("(caught at line 6)")

    def test_the_uncaught_flag_is_the_same_but_for_the_suffix(self, write_script: Write) -> None:
        caught = write_script("""
            import torch
            loss = torch.randn(3, requires_grad=True) * 2
            try:
                loss.backward()
            except RuntimeError:
                pass
        """, name="caught.py")
        uncaught = write_script("""
            import torch
            loss = torch.randn(3, requires_grad=True) * 2
            if True:
                loss.backward()
        """, name="uncaught.py")
        [a], [b] = serious(run(caught)), serious(run(uncaught))
        assert (a.code, a.severity, a.line, a.tensors) == (b.code, b.severity, b.line, b.tensors)
        assert a.message == b.message + " (caught at line 5)"

    def test_script_error_never_flags_a_caught_exception(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            d = {}
            try:
                d["missing"]
            except KeyError:
                print("no key")
            it = iter([])
            try:
                next(it)
            except StopIteration:
                print("empty")
            try:
                int("x")
            except ValueError as e:
                print(e)
            try:
                torch.load("/nonexistent/file.pt")
            except OSError:
                print("no file")
        """)
        trace = run(path)
        assert trace.flags == () and trace.exception is None
        assert_transparent(path, trace)

    def test_caught_then_reraised_uncaught_is_flagged_once(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            loss = torch.randn(3, requires_grad=True) * 2
            try:
                loss.backward()          # <- raises
            except RuntimeError:
                print("cleaning up")
                raise
        """)
        trace = run(path)
        assert [(f.code, f.line) for f in trace.flags] == [("nonscalar-backward", line_of(path, "<- raises"))]
        assert trace.exception is not None and trace.exception.type == "RuntimeError"
        assert_transparent(path, trace)

    def test_reraised_through_several_frames_and_caught_again_is_flagged_once(self, write_script: Write
                                                                                ) -> None:
        path = write_script("""
            import torch

            def inner(x):
                return x.view(5, 5)      # <- raises

            def middle(x):
                try:
                    return inner(x)
                except RuntimeError:     # <- first handler
                    print("middle")
                    raise

            def outer(x):
                return middle(x)

            try:
                outer(torch.randn(3, 4))
            except RuntimeError:
                print("outer")
        """)
        trace = run(path)
        [flag] = trace.flags
        raises = line_of(path, "<- raises")
        assert (flag.code, flag.line, flag.function) == ("shape-mismatch", raises, "inner")
        assert flag.data["caught"] == str(line_of(path, "<- first handler"))
        assert_transparent(path, trace)

    def test_the_same_pitfall_caught_in_every_pass_of_a_loop_is_flagged_once(self, write_script: Write
                                                                               ) -> None:
        path = write_script("""
            import torch
            w = torch.randn(3, requires_grad=True)
            for i in range(100):
                try:
                    (w * i).backward()   # <- raises
                except RuntimeError:
                    pass
            print("done")
        """)
        trace = run(path)
        assert [(f.code, f.line) for f in trace.flags] == [("nonscalar-backward", line_of(path, "<- raises"))]
        assert_transparent(path, trace)

    def test_the_message_is_in_chinese_too(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            loss = torch.randn(3, requires_grad=True) * 2
            try:
                loss.backward()
            except RuntimeError:
                pass
        """)
        [flag] = run(path).flags
        zh = render(flag.code, "zh", flag.data).message
        assert zh.endswith("（在第 5 行被捕获）") and "loss" in zh

    def test_a_handler_in_another_file_is_named(self, write_script: Write) -> None:
        write_script("""
            import torch

            def fit():
                (torch.randn(3, requires_grad=True) * 2).backward()   # <- raises
        """, name="helpers.py")
        path = write_script("""
            from helpers import fit
            try:
                fit()
            except RuntimeError:
                print("caught")
        """)
        [flag] = run(path, trace_modules=("helpers",)).flags
        assert (flag.code, flag.line) == ("nonscalar-backward", 4) and flag.file.endswith("helpers.py")
        shown = flag.data["caught_file"]  # (the script's display path)
        assert shown.endswith("script.py") and flag.message.endswith(f"(caught at line 4 of {shown})")
        assert render(flag.code, "zh", flag.data).message.endswith(f"（在 {shown} 第 4 行被捕获）")

    def test_the_step_shows_the_raise_the_handler_and_the_flag(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            loss = torch.randn(3, requires_grad=True) * 2
            try:
                loss.backward()
            except RuntimeError:
                print("caught")
        """)
        trace = run(path, record=True)
        [step] = [s for s in trace.steps if s.raised is not None]
        assert step.raised is not None and (step.raised.line, step.raised.caught_line) == (4, 5)
        assert (step.line, step.prev_line) == (5, 4)  # the jump to the handler
        assert [f.code for f in step.flags] == ["nonscalar-backward"]

    def test_an_exception_whose_message_is_the_scripts_code_is_left_alone(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            calls = []

            class MyError(RuntimeError):
                def __str__(self):
                    calls.append(1)
                    return "grad can be implicitly created only for scalar outputs"

            try:
                raise MyError()
            except RuntimeError:
                pass
            print(len(calls))
        """)
        trace = run(path)
        assert trace.flags == () and trace.stdout == "0\n"
        assert_transparent(path, trace)


# --- item 3: lambdas, comprehensions and genexprs --------------------------------------------------------

class TestInnerCode:
    def test_a_broadcast_inside_a_lambda_is_flagged_at_the_lambdas_line(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            mse = lambda p, t: ((p - t) ** 2).mean()      # <- lambda
            pred = torch.randn(8, 1)
            target = torch.randn(8)
            loss = mse(pred, target)
            print(loss.shape)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.line, flag.function) == ("broadcast-expand", line_of(path, "<- lambda"),
                                                          "<lambda>")
        assert flag.tensors == ("p", "t")
        assert_transparent(path, trace)

    def test_the_same_lambda_called_inside_a_function(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            def train(model_out, y):
                mse = lambda p, t: ((p - t) ** 2).mean()  # <- lambda
                for _ in range(3):
                    loss = mse(model_out, y)
                return loss

            print(float(train(torch.ones(8, 1), torch.zeros(8))))
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.line) == ("broadcast-expand", line_of(path, "<- lambda"))
        assert_transparent(path, trace)

    def test_a_genexpr_consumed_on_a_later_line(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            target = torch.randn(8)
            preds = [torch.randn(8, 1) for _ in range(2)]
            losses = (((p - target) ** 2).mean() for p in preds)   # <- genexpr
            total = 0.0
            total = sum(losses)
            print(total.shape)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.line, flag.function) == ("broadcast-expand", line_of(path, "<- genexpr"),
                                                          "<genexpr>")
        assert_transparent(path, trace)

    def test_a_new_genexpr_each_pass_is_watched_each_time(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            target = torch.randn(8)
            for i in range(3):
                preds = [torch.randn(8, 1) if i == 2 else torch.randn(8)]
                g = (((p - target) ** 2).mean() for p in preds)   # <- genexpr
                total = sum(g)
            print(total.shape)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.line) == ("broadcast-expand", line_of(path, "<- genexpr"))
        assert_transparent(path, trace)

    def test_a_comprehension_in_a_function_is_shown_in_that_function(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            def losses(preds, target):
                return [
                    ((p - target) ** 2).mean()             # <- op
                    for p in preds
                ]

            print(len(losses([torch.randn(8, 1)], torch.randn(8))))
        """)
        trace = run(path)
        [flag] = serious(trace)
        # 3.11 gives a list comprehension a frame of its own, 3.12 inlines it: the same flag on both
        assert flag.code == "broadcast-expand" and flag.function == "losses"
        assert flag.line in (line_of(path, "<- op"), line_of(path, "return ["))
        assert_transparent(path, trace)

    @pytest.mark.parametrize("record", [False, True], ids=["check", "trace"])
    def test_lambdas_and_genexprs_are_still_not_steps(self, write_script: Write, record: bool) -> None:
        path = write_script("""
            import torch
            f = lambda x: x * 2
            xs = [f(torch.ones(2)) for _ in range(3)]
            s = sum(x.sum() for x in xs)
            print(float(s))
        """)
        trace = run(path, record=record)
        assert trace.flags == () and trace.completed
        assert {s.function for s in trace.steps} <= {"<module>"}
        if record:
            assert [s.line for s in trace.steps if s.event == "line"] == [1, 2, 3, 4, 5]
        assert_transparent(path, trace)

    def test_a_lambda_in_the_unobserved_passes_of_a_long_loop(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            mse = lambda p, t: ((p - t) ** 2).mean()      # <- lambda
            target = torch.randn(8)
            for i in range(300):
                pred = torch.randn(8, 1) if i >= 100 else torch.randn(8)  # (pass 128 is observed)
                loss = mse(pred, target)
            print(loss.shape)
        """)
        trace = run(path)
        [flag] = serious(trace)
        assert (flag.code, flag.line) == ("broadcast-expand", line_of(path, "<- lambda"))
        assert_transparent(path, trace)
