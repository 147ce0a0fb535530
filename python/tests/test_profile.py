"""smallnet.profile: one entry per layer or fused pass, FLOPs as the layers count them, the model unchanged."""
import numpy as np
import pytest

import smallnet


def test_profile_takes_a_cnn_step_apart():
    model = smallnet.cnn_for_budget(10_000)
    before = model.state_dict()
    p = smallnet.profile(model, batch_size=8, seconds=0.05)
    # Each BatchNorm2d → ReLU → MaxPool2d(2) on 28×28 and 14×14 planes runs as one fused pass and is one entry,
    # the first joined with the convolution before it.
    summaries = [layer["summary"] for layer in model.layers]
    assert sum(l.layer_count for l in p.layers) == len(summaries)
    for l in p.layers:
        assert l.summary == " → ".join(summaries[l.index:l.index + l.layer_count])
    assert p.layers[0].layer_count == 4 and p.layers[0].summary.startswith("Conv2d(1 → ")
    blocks = [l for l in p.layers if l.layer_count == 3]
    assert len(blocks) == 1 and blocks[0].summary.startswith("BatchNorm2d(") and blocks[0].summary.endswith("→ MaxPool2d(2)")
    # On 7×7 planes BatchNorm2d → ReLU is one pass, the pool another.
    pairs = [l for l in p.layers if l.layer_count == 2]
    assert len(pairs) == 1 and pairs[0].summary.startswith("BatchNorm2d(") and pairs[0].summary.endswith(" → ReLU")
    assert p.batch_size == 8 and p.steps >= 3 and p.threads == smallnet.get_num_threads()
    parts = sum(l.forward_seconds + l.backward_seconds for l in p.layers) + p.loss_seconds + p.optimizer_seconds
    assert p.step_seconds == pytest.approx(parts, rel=1e-12)
    assert sum(l.share for l in p.layers) == pytest.approx(1 - (p.loss_seconds + p.optimizer_seconds) / p.step_seconds)
    first, second = p.layers[0], next(l for l in p.layers[1:] if l.summary.startswith("Conv2d"))
    assert first.backward_flops == first.forward_flops > 0  # no input gradient for the first layer
    assert second.backward_flops == 2 * second.forward_flops
    assert all(l.forward_seconds > 0 for l in p.layers)
    assert p.fraction_of_fma_limit > 0 and p.fma_limit_gflops > 0 and p.images_per_second > 0
    assert "% of the FMA limit" in str(p) and len(str(p).splitlines()) == len(p.layers) + 5
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before), "the profile trains a copy"


def test_profile_refuses_bad_arguments():
    model = smallnet.fcn_for_budget(50_000)
    with pytest.raises(smallnet.InvalidArgumentError, match="BatchNorm"):
        smallnet.profile(model, batch_size=1)
    with pytest.raises(smallnet.InvalidArgumentError, match="optimizer"):
        smallnet.profile(model, optimizer="lbfgs")
    with pytest.raises(smallnet.InvalidArgumentError, match="lr"):
        smallnet.profile(model, lr=0)
    with pytest.raises(smallnet.InvalidArgumentError, match="seconds"):
        smallnet.profile(model, seconds=-1)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.profile("model")
