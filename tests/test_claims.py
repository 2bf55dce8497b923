"""What the explanations say about PyTorch, run against the installed torch (one test per claim)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tensorscope.explain.catalogue import CATALOGUE, VARIANTS

F32 = torch.ones(2, 3)
F64 = torch.ones(2, 3, dtype=torch.float64)


def cause(code: str, variant: str | None = None, lang: str = "en") -> str:
    entry = VARIANTS[(code, variant)] if variant else CATALOGUE[code]
    return entry.cause[lang]


def test_matmul_and_layers_need_one_dtype_while_some_losses_promote():
    text = cause("dtype-mismatch")
    assert "Matrix products and layers" in text and "mse_loss and l1_loss" in text
    for op in (lambda: F32 @ F64.T, lambda: F.linear(F64, torch.ones(4, 3)),
               lambda: F.conv1d(torch.ones(1, 1, 5, dtype=torch.float64), torch.ones(1, 1, 3))):
        with pytest.raises(RuntimeError):
            op()
    for loss in (F.mse_loss, F.l1_loss):
        assert loss(F32, F64).dtype == torch.float64


def test_cross_entropy_takes_probabilities_and_nll_loss_never_does():
    assert "nll_loss never does" in cause("dtype-mismatch", "target")
    probs = torch.softmax(F32, dim=1)
    assert F.cross_entropy(F32, probs).dtype == torch.float32
    for target in (torch.zeros(2), probs):
        with pytest.raises(RuntimeError):
            F.nll_loss(F32, target)


def test_log_and_sqrt_at_zero_and_below():
    assert "sqrt(0) is 0, but its gradient is inf" in cause("nan-inf")
    x = torch.tensor([0.0, -1.0], requires_grad=True)
    logs, roots = torch.log(x.detach()), torch.sqrt(x.detach())
    assert logs[0] == -torch.inf and logs[1].isnan()
    assert roots[0] == 0 and roots[1].isnan()
    torch.sqrt(x[:1]).sum().backward()
    assert x.grad is not None and x.grad[0] == torch.inf


def test_a_fully_masked_row_is_nan_after_softmax_and_a_finite_fill_is_uniform():
    variant = VARIANTS[("nan-inf", "from-mask")]
    assert "gives NaN for the whole row, and so do -inf - (-inf) and -inf * 0" in variant.cause["en"]
    assert "-inf - (-inf) 和 -inf * 0 也得到 NaN" in variant.cause["zh"]
    assert "a row of equal values gives a uniform softmax, not NaN" in variant.fix["en"]
    assert "torch.finfo(dtype).min" in variant.fix["zh"]
    scores = torch.randn(3, 3)
    causal = scores.masked_fill(torch.ones(3, 3).tril() == 0, float("-inf"))
    probs = F.softmax(causal, dim=-1)
    assert not probs.isnan().any() and probs[0, 1:].eq(0).all()  # the diagonal is kept: -inf becomes 0
    full = scores.masked_fill(torch.tensor([[True], [False], [False]]), float("-inf"))
    for op in (F.softmax, F.log_softmax):
        out = op(full, dim=-1)
        assert out[0].isnan().all() and not out[1:].isnan().any()
    ninf = torch.tensor(float("-inf"))
    assert (ninf - ninf).isnan() and (ninf * 0).isnan()
    low = torch.finfo(torch.float32).min
    uniform = F.softmax(scores.masked_fill(torch.tensor([[True], [False], [False]]), low), dim=-1)
    assert torch.allclose(uniform[0], torch.full((3,), 1 / 3))


def test_backward_frees_saved_tensors_but_not_the_chain_of_nodes():
    assert "backward() frees the tensors that graph saved" in cause("graph-retained")
    w = torch.ones(3, requires_grad=True)
    loss = ((w * 2).sigmoid() ** 2).sum()
    node = loss.grad_fn.next_functions[0][0]  # PowBackward0, which saved its input
    assert node._saved_self is not None
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        node._saved_self  # noqa: B018 - the saved tensor is gone
    assert loss.grad_fn.next_functions[0][0] is node  # the node itself is still reachable


def test_zh_says_the_same_numbers():
    assert "sqrt(0) 等于 0" in cause("nan-inf", lang="zh")
    assert "nll_loss 则从不接受" in cause("dtype-mismatch", "target", lang="zh")
    assert "mse_loss 和 l1_loss" in cause("dtype-mismatch", lang="zh")


def test_a_second_backward_fails_on_freed_saved_values_not_on_freed_tensors():
    message = VARIANTS[("backward-twice", "shared")].message["en"]
    assert "already freed the values that part of the graph saved" in message
    w = torch.ones(3, requires_grad=True)
    h = (w * 2).sigmoid()
    loss_a, loss_b = (h * 3).sum(), (h * 4).sum()
    loss_a.backward()
    with pytest.raises(RuntimeError, match="Saved intermediate values of the graph are freed"):
        loss_b.backward()
    assert h.sum().item() > 0  # h itself is alive and readable


def test_unsqueeze_last_gives_a_last_dimension_of_one():
    fix = VARIANTS[("shape-mismatch", "linear")].fix["en"]
    assert "of shape N for a layer that takes one feature becomes N×1" in fix
    assert torch.ones(5).unsqueeze(-1).shape == (5, 1)
    assert torch.nn.Linear(1, 2)(torch.ones(5).unsqueeze(-1)).shape == (5, 2)


def test_a_column_and_a_vector_broadcast_to_n_by_n_and_either_reshape_fixes_it():
    fix = CATALOGUE["broadcast-expand"].fix
    assert "`{vec_fix}` (or `{vec_view}`) makes {vec} a column of shape {col_shape}" in fix["en"]
    assert "`{col_fix}` makes {col} a vector of shape {vec_shape}" in fix["en"]
    assert "`{vec_fix}`（或 `{vec_view}`）把 {vec} 变成与 {col} 一样形状为 {col_shape} 的列" in fix["zh"]
    assert "on the vector makes it a column" in VARIANTS[("broadcast-expand", "unnamed")].fix["en"]
    col = torch.randn(8, 1)
    for vec in (torch.randn(8), torch.randn(8, 3)[:, 0]):  # view(-1, 1) works on a strided vector too
        assert (col - vec).shape == (8, 8)
        for loss in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
            with pytest.warns(UserWarning, match="different to the input size"):  # (says so, and goes on)
                assert loss(col, vec, reduction="none").shape == (8, 8)  # both stretched: every pair compared
            paired = loss(col.squeeze(1), vec, reduction="none")
            assert paired.shape == (8,)
            for column in (vec.unsqueeze(1), vec.view(-1, 1)):
                assert torch.equal(loss(col, column, reduction="none"), paired.unsqueeze(1))


# --- the sentence audit (one test per claim; each asserts the wording, then runs it) ---------

def message(code: str, variant: str | None = None, lang: str = "en") -> str:
    entry = VARIANTS[(code, variant)] if variant else CATALOGUE[code]
    return entry.message[lang]


def fix(code: str, variant: str | None = None, lang: str = "en") -> str:
    entry = VARIANTS[(code, variant)] if variant else CATALOGUE[code]
    return entry.fix[lang]


def test_numpy_floats_are_float64_but_python_floats_give_float32():
    np = pytest.importorskip("numpy")
    assert "NumPy arrays of floats are float64 by default" in cause("dtype-mismatch")
    assert "NumPy 浮点数组默认是" in cause("dtype-mismatch", lang="zh")
    arr = np.array([0.5, 1.5])
    assert arr.dtype == np.float64
    assert torch.from_numpy(arr).dtype == torch.tensor(arr).dtype == torch.float64
    assert torch.tensor([0.5, 1.5]).dtype == torch.float32  # Python floats alone are not float64
    assert torch.nn.Linear(2, 1).weight.dtype == torch.float32
    assert torch.from_numpy(arr).float().dtype == torch.tensor(arr, dtype=torch.float32).dtype


def test_nan_spreads_through_arithmetic_not_through_comparisons():
    assert "NaN then spreads through the arithmetic that uses it" in cause("nan-inf")
    nan = torch.tensor(float("nan"))
    for result in (nan + 1, nan * 0, torch.stack([nan, torch.tensor(1.0)]).sum(), torch.exp(nan)):
        assert result.isnan()
    assert not bool(nan > 0)  # a comparison gives False, not NaN
    assert torch.exp(torch.tensor(100.0)) == torch.inf  # exp of a large value overflows float32
    assert torch.tensor(1.0) / torch.tensor(0.0) == torch.inf


def test_non_leaf_keeps_its_grad_only_after_retain_grad():
    assert "unless retain_grad() was called on them" in cause("non-leaf-grad")
    w = torch.ones(3, requires_grad=True)
    kept, dropped = w * 2, w * 3
    kept.retain_grad()
    with pytest.warns(UserWarning, match="non-leaf"):
        (kept.sum() + dropped.sum()).backward()
        assert dropped.grad is None
    assert kept.grad is not None and w.grad is not None
    assert torch.equal(w.grad, torch.full((3,), 5.0))


def test_requires_grad_can_be_switched_on_after_creation():
    assert "switched on with .requires_grad_()" in cause("no-grad-graph", "nothing-requires-grad")
    t = torch.ones(3)
    assert (t * 2).grad_fn is None  # nothing requires grad: no graph
    t.requires_grad_()
    assert (t * 2).grad_fn is not None
    assert all(p.requires_grad for p in torch.nn.Linear(2, 1).parameters())


def test_binary_cross_entropy_needs_float_targets_of_any_float_dtype_with_logits():
    assert message("dtype-mismatch", "float-target").endswith("needs floating-point targets (the input is "
                                                             "{input_dtype}).")
    logits, probs = torch.zeros(4), torch.full((4,), 0.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        F.binary_cross_entropy_with_logits(logits, torch.ones(4, dtype=torch.long))
    # any floating target works with logits (no need for the input's dtype) ...
    assert F.binary_cross_entropy_with_logits(logits, torch.ones(4, dtype=torch.float64)).isfinite()
    # ... while binary_cross_entropy wants the input's dtype
    for target in (torch.ones(4, dtype=torch.long), torch.ones(4, dtype=torch.float64)):
        with pytest.raises(RuntimeError):
            F.binary_cross_entropy(probs, target)


def test_float_promotion_widens_but_a_0_dim_tensor_does_not():
    assert "a 0-dim tensor does not widen a tensor with dimensions" in cause("dtype-mismatch", "promotion")
    f32, f64 = torch.ones(3), torch.ones(3, dtype=torch.float64)
    assert (f32 + f64).dtype == (f32 * f64).dtype == torch.float64
    assert (f32 + torch.tensor(1.0, dtype=torch.float64)).dtype == torch.float32
    assert f64.element_size() == 2 * f32.element_size()  # twice the memory


def test_view_needs_compatible_strides_and_reshape_copies_only_when_needed():
    assert "Transposed or permuted tensors often are not" in cause("shape-mismatch", "view-stride")
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.T.view(-1)
    assert x.T.view(3, 2).shape == (3, 2)  # some views of a transposed tensor still work: "often"
    assert x.reshape(3, 2).data_ptr() == x.data_ptr()  # no copy when a view is possible
    assert x.T.reshape(-1).data_ptr() != x.data_ptr()  # a copy when it is not
    assert x.T.contiguous().view(-1).shape == (6,)
    with pytest.raises(RuntimeError):
        x.view(4, 2)  # view and reshape keep the number of elements
    assert x.view(2, -1).shape == (2, 3)


def test_regression_losses_broadcast_with_a_warning_binary_losses_need_one_shape():
    text = cause("shape-mismatch", "loss")
    assert "regression losses (mse_loss, l1_loss) broadcast them, with a warning" in text
    column, vector = torch.zeros(4, 1), torch.ones(4)
    for loss in (F.mse_loss, F.l1_loss):
        with pytest.warns(UserWarning, match="target size"):
            assert loss(column, vector).shape == ()
        with pytest.raises(RuntimeError), pytest.warns(UserWarning):
            loss(torch.zeros(4, 2), torch.ones(3))
    for loss in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError):
            loss(column + 0.5, vector)
    assert F.cross_entropy(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)).shape == ()


def test_layers_take_batched_and_unbatched_layouts():
    text = cause("shape-mismatch", "layer")
    assert "Conv2d N×C×H×W or C×H×W" in text and "BatchNorm1d N×C or N×C×L" in text
    assert "L×input_size for one sequence" in text
    nn = torch.nn
    assert nn.Conv2d(3, 2, 3)(torch.ones(1, 3, 5, 5)).shape == (1, 2, 3, 3)
    assert nn.Conv2d(3, 2, 3)(torch.ones(3, 5, 5)).shape == (2, 3, 3)
    assert nn.BatchNorm1d(3)(torch.ones(2, 3)).shape == (2, 3)
    assert nn.BatchNorm1d(3)(torch.ones(2, 3, 4)).shape == (2, 3, 4)
    assert nn.LayerNorm(4)(torch.ones(2, 5, 4)).shape == (2, 5, 4)
    assert nn.LSTM(3, 2)(torch.ones(5, 4, 3))[0].shape == (5, 4, 2)
    assert nn.LSTM(3, 2, batch_first=True)(torch.ones(4, 5, 3))[0].shape == (4, 5, 2)
    assert nn.LSTM(3, 2)(torch.ones(5, 3))[0].shape == (5, 2)
    with pytest.raises(RuntimeError):
        nn.Conv2d(3, 2, 3)(torch.ones(1, 4, 5, 5))  # C must be in_channels


def test_embedding_indices_are_integers_from_0_to_num_embeddings_minus_1():
    assert "every index must be from 0 to num_embeddings - 1" in cause("script-error", "embedding-range")
    assert "needs int64 (or int32)" in message("dtype-mismatch", "indices")
    emb = torch.nn.Embedding(5, 2)
    assert emb(torch.tensor([0, 4])).shape == emb(torch.tensor([0, 4], dtype=torch.int32)).shape == (2, 2)
    with pytest.raises(RuntimeError):
        emb(torch.tensor([0.0, 4.0]))
    for bad in (5, -1):
        with pytest.raises(IndexError):
            emb(torch.tensor([bad]))


def test_in_place_ops_keep_the_dtype_and_refuse_to_truncate():
    assert "keep its dtype" in cause("dtype-mismatch", "inplace-cast")
    ints = torch.ones(3, dtype=torch.long)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints += 0.5
    floats = torch.ones(3)
    floats += torch.ones(3, dtype=torch.float64)
    assert floats.dtype == torch.float32
    assert (ints + 0.5).dtype == torch.float32  # out of place: a new float tensor


def test_backward_without_gradient_needs_one_element():
    assert "needs a single number" in message("nonscalar-backward")
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(gradient=torch.ones(3))
    (x[:1] * 2).backward()  # shape (1,): one element is enough
    assert x.grad is not None and torch.equal(x.grad, torch.tensor([4.0, 2.0, 2.0]))


def test_backward_on_a_tensor_without_graph_and_the_ways_to_cut_one():
    assert "does not require grad and has no grad_fn" in message("no-grad-graph")
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        torch.ones(3).sum().backward()
    w = torch.ones(3, requires_grad=True)
    y = w * 2
    with pytest.warns(UserWarning):
        copied = torch.tensor(y)
    for cut in (y.detach(), y.data, copied, torch.tensor(y.sum().item())):
        assert cut.grad_fn is None and not cut.requires_grad
    with pytest.raises(RuntimeError, match="requires grad"):
        y.numpy()  # .numpy() of a tensor with history is refused; .detach().numpy() has none
    for mode in (torch.no_grad, torch.inference_mode, lambda: torch.set_grad_enabled(False)):
        with mode():
            assert (w * 2).grad_fn is None


def test_in_place_change_of_a_leaf_that_requires_grad_is_refused_while_recording():
    assert "PyTorch forbids it" in cause("inplace-leaf")
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w -= 0.1
    w.grad = torch.ones(3)
    with torch.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.grad_fn is None and w._version == 1


def test_in_place_change_of_a_saved_tensor_fails_backward():
    text = cause("inplace-saved-tensor")
    assert "sigmoid's output, the factors of a product, a layer's input" in text

    def sigmoid_output(h: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(h)
        out.mul_(2)
        return out

    def factor(h: torch.Tensor) -> torch.Tensor:
        a = h * 1
        out = a * h
        a.add_(1)
        return out

    def layer_input(h: torch.Tensor) -> torch.Tensor:
        a = h * 1
        out = torch.nn.Linear(3, 1)(a)
        a[0] = 0
        return out

    for build in (sigmoid_output, factor, layer_input):
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            build(torch.ones(3, requires_grad=True)).sum().backward()
    h = torch.ones(3, requires_grad=True)
    out = torch.sigmoid(h)
    doubled = out.clone()
    doubled *= 2  # the fix: change a copy
    (out.sum() + doubled.sum()).backward()
    assert h.grad is not None


def test_sigmoid_and_tanh_save_their_output():
    w = torch.ones(2, requires_grad=True)
    h, t = torch.sigmoid(w), torch.tanh(w)
    assert torch.equal(h.grad_fn._saved_result, h) and torch.equal(t.grad_fn._saved_result, t)
    h.sum().backward()
    assert w.grad is not None and torch.allclose(w.grad, h.detach() * (1 - h.detach()))


def test_backward_adds_into_grad_and_zero_grad_sets_none():
    assert "backward() never overwrites .grad, it adds to it" in cause("grad-accumulation")
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    (w * 4).sum().backward()
    assert w.grad is not None and torch.equal(w.grad, torch.full((2,), 7.0))
    optimizer = torch.optim.SGD([w], lr=0.1)
    optimizer.zero_grad()
    assert w.grad is None  # mlp_optim.py: zero_grad() clears every .grad to None


def test_micro_batch_losses_over_accum_steps_sum_to_the_batch_gradient():
    assert "Several backward() calls before one update sum their gradients" in cause(
        "grad-accumulation", "accumulate")
    torch.manual_seed(0)
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    model = torch.nn.Linear(2, 1)
    ((model(x) - y) ** 2).mean().backward()
    whole = model.weight.grad.clone()
    model.zero_grad()
    for start in range(0, 8, 2):
        (((model(x[start:start + 2]) - y[start:start + 2]) ** 2).mean() / 4).backward()
    assert torch.allclose(model.weight.grad, whole, atol=1e-6)


def test_scaled_micro_batches_give_the_mean_and_added_losses_need_no_scaling():
    fix = VARIANTS[("grad-accumulation", "accumulate")].fix
    assert "so that the summed gradient is their mean" in fix["en"] and "need no scaling" in fix["en"]
    assert "平均值" in fix["zh"] and "不需要缩放" in fix["zh"]
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    parts = [torch.randn(4, 3) for _ in range(4)]
    torch.stack([(p @ w).square().mean() for p in parts]).mean().backward()
    mean = w.grad.clone()
    w.grad = None
    for p in parts:
        ((p @ w).square().mean() / len(parts)).backward()
    assert torch.allclose(w.grad, mean, atol=1e-6)
    w.grad = None  # a discriminator's real and fake terms: two backward() calls give the sum's gradient
    real, fake = (parts[0] @ w).sigmoid().log().mean(), (1 - (parts[1] @ w).sigmoid()).log().mean()
    (real + fake).backward(retain_graph=True)
    summed = w.grad.clone()
    w.grad = None
    real.backward()
    fake.backward()
    assert torch.allclose(w.grad, summed, atol=1e-6)


def test_item_and_float_need_exactly_one_element():
    assert ".item() and float() need exactly one" in message("shape-mismatch", "item")
    with pytest.raises(RuntimeError):
        torch.ones(2).item()
    with pytest.raises((ValueError, RuntimeError)):
        float(torch.ones(2))
    assert float(torch.ones(1, 1)) == torch.ones(1, 1).item() == 1.0


def test_dimensions_are_numbered_0_to_ndim_minus_1_or_from_minus_1():
    assert "numbered from 0 to ndim-1 (or from -1 backwards)" in cause("shape-mismatch", "dim")
    x = torch.ones(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(dim=2)
    assert x.sum(dim=-1).shape == x.sum(dim=1).shape == (2,)


def test_grad_stays_none_until_backward_reaches_the_tensor():
    assert ".grad stays None until a backward() reaches the tensor" in cause("script-error", "grad-none")
    used, unused = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    assert used.grad is None
    (used * 2).sum().backward()
    assert used.grad is not None and unused.grad is None


def test_a_tensor_made_by_an_operation_is_not_a_leaf_until_requires_grad_():
    assert "torch.randn(3, requires_grad=True) * 0.01, is an" in cause("script-error", "grad-none-nonleaf")
    made = torch.randn(3, requires_grad=True) * 0.01
    assert not made.is_leaf
    leaf = (torch.randn(3) * 0.01).requires_grad_()
    assert leaf.is_leaf and leaf.requires_grad


def test_shape_rules_of_cat_stack_matmul_linear_and_in_place_ops():
    assert "the first dimension (for batches, the second-to-last)" in cause("shape-mismatch", "matmul")
    assert "weight of shape out_features×in_features" in cause("shape-mismatch", "linear")
    assert torch.nn.Linear(4, 16).weight.shape == (16, 4)
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(8x3 and 4x16\)"):
        torch.nn.Linear(4, 16)(torch.ones(8, 3))
    assert (torch.ones(5, 2, 3) @ torch.ones(5, 3, 4)).shape == (5, 2, 4)
    assert torch.cat([torch.ones(2, 3), torch.ones(4, 3)]).shape == (6, 3)
    with pytest.raises(RuntimeError):
        torch.cat([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        torch.stack([torch.ones(2), torch.ones(3)])
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.ones(3).add_(torch.ones(2, 3))  # the other operand must fit the left tensor's shape
    assert torch.ones(2, 3).add_(torch.ones(3)).shape == (2, 3)


def test_numpy_shares_memory_and_detach_shares_memory():
    pytest.importorskip("numpy")
    assert ".numpy() shares memory with the tensor" in cause("device-mismatch", "numpy")
    t = torch.zeros(3)
    t.numpy()[0] = 5.0
    assert t[0] == 5.0
    w = torch.ones(3, requires_grad=True)
    detached = w.detach()  # autograd_basics.py: shares w's memory, does not require grad
    assert detached.data_ptr() == w.data_ptr() and not detached.requires_grad


def test_adding_a_loss_to_a_float_makes_a_tensor_with_a_graph():
    w = torch.ones(2, requires_grad=True)
    running = 0.0
    running += (w * 2).sum()  # running_loss_without_item.py
    assert isinstance(running, torch.Tensor) and running.grad_fn is not None
    assert type(running.grad_fn).__name__ == "AddBackward0"
    running_number = 0.0
    running_number += (w * 2).sum().item()
    assert isinstance(running_number, float)


def test_the_default_device_reaches_factories_and_new_modules_but_not_an_explicit_device():
    assert "the parameters of new modules included" in cause("cuda-unavailable", "default-device")

    def made() -> tuple[str, str, str]:
        return (torch.zeros(2).device.type, torch.nn.Linear(3, 1).weight.device.type,
                torch.zeros(2, device="cpu").device.type)

    with torch.device("meta"):
        assert made() == ("meta", "meta", "cpu")
    try:
        torch.set_default_device("meta")
        assert made() == ("meta", "meta", "cpu")
        torch.set_default_device("cpu")  # the fix's fallback is a valid default device
        assert made() == ("cpu", "cpu", "cpu")
    finally:
        torch.set_default_device(None)


def test_inference_mode_records_nothing_and_its_new_tensors_are_inference_tensors():
    from tensorscope.diff import _WORDS  # the narration of entering inference mode (tensorscope/diff.py)
    assert "not recorded for backward" in _WORDS["en"]["inference_on"]
    assert "allocate are inference tensors" in _WORDS["en"]["inference_on"]
    w = torch.ones(3, requires_grad=True)
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        made = w * 2
        assert made.grad_fn is None and made.is_inference()
        made.add_(1)  # in place on an inference tensor: allowed, and it has no version counter
        with pytest.raises(RuntimeError, match="Inference tensors do not track version counter"):
            made._version  # noqa: B018


def test_data_and_numpy_writes_change_values_without_a_version_bump():
    import numpy as np
    t = torch.zeros(3)
    t.data += 1.0
    assert t._version == 0 and t.tolist() == [1.0, 1.0, 1.0]
    a = np.zeros(3, dtype=np.float32)
    shared = torch.from_numpy(a)
    a[0] = 5
    assert shared._version == 0 and shared.tolist() == [5.0, 0.0, 0.0]


def _one_step_state(opt_cls: type, steps: int = 2,
                    **kw: object) -> tuple[list[torch.Tensor], dict, torch.Tensor]:
    """(the gradients of each step, the optimizer state of `p`, p before the last step) on a fixed problem."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(3))
    opt = opt_cls([p], lr=0.1, **kw)
    grads, before = [], p.detach().clone()
    for i in range(steps):
        p.grad = torch.randn(3) * (i + 1)
        grads.append(p.grad.clone())
        before = p.detach().clone()
        opt.step()
    return grads, opt.state[p], before


def test_adam_state_is_moving_averages_of_the_gradient_and_its_square():
    from tensorscope.tui.words import WORDS
    assert "m ← β1·m + (1−β1)·g" in WORDS["en"]["ov_gloss_exp_avg"]
    assert "v ← β2·v + (1−β2)·g²" in WORDS["en"]["ov_gloss_exp_avg_sq"]
    b1, b2 = 0.8, 0.9
    for cls in (torch.optim.Adam, torch.optim.AdamW):
        (g1, g2), state, _ = _one_step_state(cls, betas=(b1, b2), weight_decay=0.0)
        m = (1 - b1) * g1
        v = (1 - b2) * g1 ** 2
        torch.testing.assert_close(state["exp_avg"], b1 * m + (1 - b1) * g2)
        torch.testing.assert_close(state["exp_avg_sq"], b2 * v + (1 - b2) * g2 ** 2)
        assert int(state["step"]) == 2


def test_adam_and_sgd_add_weight_decay_to_g_adamw_does_not_and_maximize_negates_it():
    from tensorscope.tui.words import WORDS
    assert "Adam and SGD add weight_decay·param to it; maximize=True negates it" in WORDS["en"]["ov_gloss_g"]
    (g,), state, p0 = _one_step_state(torch.optim.Adam, steps=1, betas=(0.5, 0.5), weight_decay=0.3)
    torch.testing.assert_close(state["exp_avg"], 0.5 * (g + 0.3 * p0))
    (g,), state, p0 = _one_step_state(torch.optim.AdamW, steps=1, betas=(0.5, 0.5), weight_decay=0.3)
    torch.testing.assert_close(state["exp_avg"], 0.5 * g)
    (g,), state, p0 = _one_step_state(torch.optim.SGD, steps=1, momentum=0.9, weight_decay=0.3)
    torch.testing.assert_close(state["momentum_buffer"], g + 0.3 * p0)
    (g,), state, _ = _one_step_state(torch.optim.Adam, steps=1, betas=(0.5, 0.5), maximize=True)
    torch.testing.assert_close(state["exp_avg"], -0.5 * g)
    (g,), state, _ = _one_step_state(torch.optim.SGD, steps=1, momentum=0.9, maximize=True)
    torch.testing.assert_close(state["momentum_buffer"], -g)


def test_amsgrad_keeps_the_largest_exp_avg_sq():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], amsgrad=True)
    largest = torch.zeros(3)
    for scale in (3.0, 0.1, 0.1):
        p.grad = torch.ones(3) * scale
        opt.step()
        largest = torch.maximum(largest, opt.state[p]["exp_avg_sq"])
        torch.testing.assert_close(opt.state[p]["max_exp_avg_sq"], largest)


def test_sgd_momentum_buffer_starts_as_the_gradient_then_follows_momentum_and_dampening():
    from tensorscope.tui.words import WORDS
    gloss = WORDS["en"]["ov_gloss_momentum_buffer"]
    assert gloss == "b ← momentum·b + (1−dampening)·g (b = g at the first step)"
    (g1,), state, _ = _one_step_state(torch.optim.SGD, steps=1, momentum=0.9, dampening=0.25)
    torch.testing.assert_close(state["momentum_buffer"], g1)
    (g1, g2), state, _ = _one_step_state(torch.optim.SGD, steps=2, momentum=0.9, dampening=0.25)
    torch.testing.assert_close(state["momentum_buffer"], 0.9 * g1 + 0.75 * g2)


def test_sgd_keeps_no_step_count_and_no_state_without_momentum():
    _, state, _ = _one_step_state(torch.optim.SGD, steps=2, momentum=0.9)
    assert "step" not in state and set(state) == {"momentum_buffer"}
    _, state, _ = _one_step_state(torch.optim.SGD, steps=2)
    assert dict(state) == {}


def test_plot_says_backward_writes_grad_for_leaves_that_require_grad():
    from tensorscope.tui.words import words
    assert "backward() writes .grad for leaf tensors that require grad" in words("en")["plot_no_grad"]
    assert "backward() 为需要梯度的叶子张量写入 .grad" in words("zh")["plot_no_grad"]
    w, c = torch.ones(2, requires_grad=True), torch.ones(2)
    h = w * 2
    (h * c).sum().backward()
    assert w.grad is not None and c.grad is None
    with pytest.warns(UserWarning):
        assert h.grad is None  # (a non-leaf: not written)
