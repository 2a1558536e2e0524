"""fit / evaluate / predict, the FitConfig, seeding, devices and checkpoints (cnnlab.train)."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from cnnlab import train
from cnnlab.augment import random_hflip
from cnnlab.batches import RandomBatches, TensorBatches
from cnnlab.optim import lr_factor
from cnnlab.train import (FitConfig, History, evaluate, fit, load_checkpoint, pick_device, predict, save_checkpoint,
                          set_seed)


def toy_data(n=256, seed=0):
    """Four classes of 1×8×8 images: which quadrant is bright, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    for label, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == label, :, r:r + 4, c:c + 4] += 1.0
    return x, y


def tiny_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 4))


@pytest.fixture
def batches():
    x, y = toy_data()
    return TensorBatches(x, y, batch_size=32, shuffle=True), TensorBatches(*toy_data(64, seed=1), batch_size=32)


# --------------------------------------------------------------------------- fit

def test_fit_lowers_the_loss_and_fills_the_history(batches):
    train_batches, val = batches
    set_seed(0)
    net = tiny_net()
    before, _ = evaluate(net, train_batches)
    history = fit(net, train_batches, val, epochs=4, lr=1e-2, progress=False, device="cpu")
    after, acc = evaluate(net, train_batches)
    assert after < 0.5 * before
    assert acc > 0.9
    assert len(history) == 4
    assert history.epoch == [1.0, 2.0, 3.0, 4.0]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr"):
        assert len(getattr(history, key)) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.9
    assert all(b > a for a, b in zip(history.seconds, history.seconds[1:]))
    assert history.images == 4 * 256 and history.images_per_second > 0
    assert "4 epochs" in repr(history)


def test_fit_without_validation_records_nan(batches):
    history = fit(tiny_net(), batches[0], epochs=1, progress=False)
    assert math.isnan(history.val_loss[0]) and math.isnan(history.val_acc[0])


@pytest.mark.parametrize("options", [
    dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, scheduler="cosine"),
    dict(optimizer="adamw", lr=3e-3, weight_decay=1e-2, scheduler="onecycle", label_smoothing=0.1),
    dict(optimizer="adam", lr=3e-3, scheduler="plateau", patience=0),
])
def test_fit_learns_with_every_optimizer_and_schedule(batches, options):
    set_seed(0)
    history = fit(tiny_net(), *batches, epochs=3, progress=False, **options)
    assert history.val_acc[-1] > 0.85


def test_onecycle_ends_near_zero_and_plateau_divides_by_ten(batches):
    history = fit(tiny_net(), batches[0], epochs=2, lr=1e-2, scheduler="onecycle", progress=False)
    assert history.lr[-1] < 1e-4
    # a validation loss that cannot improve (lr too small to move) triggers the plateau rule
    flat = fit(tiny_net(), batches[0], batches[1], epochs=3, lr=1e-12, scheduler="plateau", patience=0,
               progress=False)
    assert flat.lr[-1] == pytest.approx(1e-14)


def test_fit_stops_when_the_time_budget_is_spent(batches, monkeypatch):
    clock = iter(range(10**6))                   # a fake clock: every reading is one second later
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(clock)))
    history = fit(tiny_net(), batches[0], epochs=10_000, lr=1e-2, scheduler="onecycle", max_seconds=20,
                  progress=False)
    assert history.stopped_early
    # readings: start 0; steps 1-8, epoch end 9; steps 10-17, epoch end 18; step 19; at 20 the budget is spent
    assert history.images == 17 * 32
    assert len(history) == 3 and history.epoch[-1] == pytest.approx(2 + 1 / 8)
    assert history.lr[-1] == pytest.approx(1e-2 * lr_factor("onecycle", 19 / 20))   # annealed to the deadline


def test_fit_applies_augmentation_to_training_batches_only(batches):
    seen = []

    def spy(x):
        seen.append(x.shape)
        return x

    fit(tiny_net(), batches[0], batches[1], epochs=1, augment=spy, progress=False)
    assert len(seen) == len(batches[0]) == 8


def test_fit_rejects_bad_arguments_before_training(batches):
    for bad, match in [(dict(optimizer="rmsprop"), "optimizer"), (dict(scheduler="step"), "scheduler"),
                       (dict(epochs=0), "epochs"), (dict(lr=-1.0), "lr"), (dict(max_seconds=0), "max_seconds")]:
        with pytest.raises(ValueError, match=match):
            fit(tiny_net(), batches[0], progress=False, **bad)


def test_fit_accepts_a_dataloader_and_live_plot_outside_a_notebook():
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(*toy_data(64)), batch_size=16, shuffle=True)
    history = fit(tiny_net(), loader, epochs=1, live_plot=True, progress=False)
    assert len(history) == 1


def test_seeding_makes_a_run_repeatable(batches):
    def run():
        set_seed(123)
        return fit(tiny_net(), batches[0], epochs=2, augment=random_hflip, progress=False).train_loss

    assert run() == run()


def test_fit_config_fields_and_keyword_options_agree(batches):
    config = FitConfig(epochs=2, lr=1e-2, scheduler="onecycle")
    set_seed(0)
    a = fit(tiny_net(), batches[0], config=config, progress=False)
    set_seed(0)
    b = fit(tiny_net(), batches[0], epochs=2, lr=1e-2, scheduler="onecycle", progress=False)
    assert a.train_loss == b.train_loss and a.lr == b.lr
    set_seed(0)
    c = fit(tiny_net(), batches[0], config=config, epochs=1, progress=False)      # a keyword overrides the config
    assert len(c) == 1
    with pytest.raises(TypeError, match="no field 'epoch'.*epochs"):
        fit(tiny_net(), batches[0], epoch=3, progress=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0


def test_fit_scales_each_parameter_group_by_the_schedule():
    torch.manual_seed(0)
    net = tiny_net()
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 4, (16,))
    groups = [{"params": net[0].parameters(), "lr": 1e-4}, {"params": net[4].parameters(), "lr": 1e-2}]
    history = fit(net, RandomBatches(x, y, 8, steps=5), config=FitConfig(epochs=1, scheduler="cosine"),
                  params=groups, progress=False)
    assert history.lr[-1] == pytest.approx(1e-4 * lr_factor("cosine", 1.0), abs=1e-12)   # group 0, annealed
    frozen_before = net[0].weight.detach().clone()
    fit(net, RandomBatches(x, y, 8, steps=3), config=FitConfig(epochs=1),
        params=[{"params": net[4].parameters(), "lr": 1e-2}], progress=False)
    assert torch.equal(net[0].weight, frozen_before)      # only the listed parameters move


# --------------------------------------------------------------------------- evaluate / predict

def test_evaluate_matches_a_direct_computation(batches):
    net = tiny_net()
    x, y = batches[1].x, batches[1].y
    loss, acc = evaluate(net, batches[1])
    with torch.no_grad():
        logits = net(x)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert net.training                            # evaluate restores the mode


def test_predict_shapes_and_agreement_between_tensor_and_loader(batches):
    net = tiny_net()
    preds, probs = predict(net, batches[1].x, batch_size=10)
    assert preds.shape == (64,) and preds.dtype == torch.int64
    assert probs.shape == (64, 4)
    assert torch.allclose(probs.sum(1), torch.ones(64))
    preds2, probs2 = predict(net, batches[1])
    assert torch.equal(preds, preds2) and torch.allclose(probs, probs2)
    with pytest.raises(ValueError, match="N, C, H, W"):
        predict(net, torch.zeros(8, 8))


def test_evaluate_with_flips_averages_the_probabilities_of_each_image_and_its_mirror(left_half):
    x = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    x[:20, ..., :2] += 0.3              # bright on the left: class 0 in one view, class 1 in the mirror
    y = torch.zeros(40, dtype=torch.long)
    model = left_half
    logits = model(x)
    mean_probs = (logits.softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    loss, acc = evaluate(model, TensorBatches(x, y, 16), flips=True)
    assert loss == pytest.approx(nn.functional.nll_loss(mean_probs.log(), y).item(), rel=1e-5)
    assert acc == pytest.approx((mean_probs.argmax(1) == y).float().mean().item())
    single_loss, single_acc = evaluate(model, TensorBatches(x, y, 16))
    assert single_loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert single_acc != acc            # the two views disagree on the bright-left images


def test_pick_device_and_set_seed():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in ("cpu", "cuda", "mps")
    set_seed(7)
    a = torch.rand(3)
    set_seed(7)
    assert torch.equal(a, torch.rand(3))



# --------------------------------------------------------------------------- checkpoints

def test_checkpoint_round_trip(tmp_path, batches):
    net = tiny_net()
    history = fit(net, batches[0], epochs=1, progress=False)
    path = save_checkpoint(tmp_path / "run" / "net.pt", net, history, model_name="tiny", test_acc=0.5)
    fresh = tiny_net()
    state = load_checkpoint(path, fresh)
    x = batches[1].x
    assert torch.equal(fresh.eval()(x), net.eval()(x))
    assert isinstance(state["history"], History) and state["history"].train_loss == history.train_loss
    assert state["extra"] == {"model_name": "tiny", "test_acc": 0.5}
