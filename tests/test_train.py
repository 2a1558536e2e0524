"""fit / evaluate / predict, seeding, schedules, augmentation, checkpoints and ``cnnlab train``."""

import math

import pytest
import torch
from torch import nn

from cnnlab import train
from cnnlab.train import (History, TensorBatches, compose, evaluate, fit, load_checkpoint, lr_factor,
                          pick_device, predict, random_crop, random_hflip, save_checkpoint, set_seed)


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


def test_tensor_batches_cover_every_image_once_per_epoch():
    x, y = torch.arange(10.0).reshape(10, 1, 1, 1), torch.arange(10)
    batches = TensorBatches(x, y, batch_size=4, shuffle=True)
    assert len(batches) == 3
    seen = torch.cat([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(xb.flatten().long(), yb) for xb, yb in batches)
    with pytest.raises(ValueError, match="labels"):
        TensorBatches(x, y[:5])


def test_pick_device_and_set_seed():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in ("cpu", "cuda", "mps")
    set_seed(7)
    a = torch.rand(3)
    set_seed(7)
    assert torch.equal(a, torch.rand(3))


# --------------------------------------------------------------------------- schedules

def test_lr_factor_shapes():
    assert lr_factor(None, 0.3) == lr_factor("plateau", 0.9) == 1.0
    assert lr_factor("cosine", 0.0) == pytest.approx(1.0) and lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("onecycle", 0.0) == pytest.approx(0.025)
    assert lr_factor("onecycle", 0.25) == pytest.approx(1.0)
    assert lr_factor("onecycle", 1.0) == pytest.approx(1e-3)
    values = [lr_factor("onecycle", p / 100) for p in range(101)]
    peak = values.index(max(values))
    assert all(a <= b for a, b in zip(values[:peak], values[1:peak + 1]))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1:]))
    with pytest.raises(ValueError, match="scheduler"):
        lr_factor("linear", 0.5)


# --------------------------------------------------------------------------- augmentation

def test_random_crop_shifts_each_image_within_the_padding():
    torch.manual_seed(0)
    x = torch.rand(16, 2, 6, 7)
    out = random_crop(x, padding=2)
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    for i in range(len(x)):
        windows = [padded[i, :, dy:dy + 6, dx:dx + 7] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not torch.equal(out, x)                  # some image moved
    assert torch.equal(random_crop(x, padding=0), x)
    with pytest.raises(ValueError, match="N, C, H, W"):
        random_crop(torch.zeros(6, 7))


def test_random_hflip_mirrors_some_images():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 4, 5)
    out = random_hflip(x)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(32)]
    kept = [torch.equal(out[i], x[i]) for i in range(32)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(random_hflip(x, p=0.0), x) and torch.equal(random_hflip(x, p=1.0), x.flip(-1))


def test_compose_applies_left_to_right():
    x = torch.rand(4, 1, 5, 5)
    both = compose(lambda t: t + 1, lambda t: t * 2)
    assert torch.allclose(both(x), (x + 1) * 2)
    assert train.standard_augment(2)(x).shape == x.shape


# --------------------------------------------------------------------------- checkpoints and CLI

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


def test_main_trains_with_a_tiny_budget(capsys, tmp_path):
    code = train.main(["lenet5", "--sample", "--epochs", "1", "--limit", "512", "--batch-size", "64",
                       "--val-size", "200", "--no-progress", "--save", str(tmp_path / "lenet.pt")])
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch  1.00" in out and "val loss" in out and "recipe: Adam, peak learning rate 0.003" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0                      # 512 images, one epoch: well above chance
    assert (tmp_path / "lenet.pt").exists()


def test_main_rejects_an_unknown_model():
    with pytest.raises(SystemExit):
        train.main(["alexnet"])


def test_fashion_mnist_batches_hold_out_a_fixed_validation_set():
    train_batches, val, test = train.fashion_mnist_batches("sample", batch_size=100, val_size=500, limit=1000)
    assert (len(train_batches.x), len(val.x), len(test.x)) == (1000, 500, 1000)
    assert train_batches.x.shape[1:] == (1, 28, 28) and len(train_batches) == 10
    again = train.fashion_mnist_batches("sample", batch_size=100, val_size=500)[1]
    assert torch.equal(again.y, val.y)
    assert train.fashion_mnist_batches("sample", val_size=0)[1] is None
    with pytest.raises(ValueError, match="val_size"):
        train.fashion_mnist_batches("sample", val_size=6000)


@pytest.mark.parametrize("name", sorted(train.RECIPES))
def test_every_recipe_builds_a_fashion_mnist_classifier_and_trains(name, batches):
    recipe = train.RECIPES[name]
    model = recipe.build()
    assert model.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    history = recipe.fit(model, TensorBatches(x, y, 32), epochs=1, progress=False)
    assert len(history) == 1 and history.images == 64
    loss, acc = recipe.evaluate(model, TensorBatches(x, y, 32))
    assert loss > 0 and 0 <= acc <= 1


def test_recipe_describe_names_every_setting_that_is_on():
    recipe = train.Recipe(lambda: nn.Linear(1, 1), epochs=10, batch_size=128, lr=0.1, optimizer="sgd",
                          weight_decay=5e-4, augment=train.standard_augment(2), max_seconds=295, amp=True)
    text = recipe.describe()
    for words in ("SGD with Nesterov momentum", "peak learning rate 0.1", "one-cycle", "batches of 128",
                  "weight decay 0.0005", "random_crop(padding=2) + random_hflip", "at most 10 epochs or 295 s",
                  "bfloat16"):
        assert words in text, (words, text)
    assert "label smoothing" not in text and "channels-last" not in text
    plain = train.Recipe(lambda: nn.Linear(1, 1), epochs=3, batch_size=64, lr=1e-3, scheduler=None).describe()
    assert "Adam, peak learning rate 0.001" in plain and "no augmentation" in plain and "3 epochs" in plain
    assert "at most" not in plain and "weight decay" not in plain


class _LeftHalf(nn.Module):
    """Scores class 0 by the mean of the left half of the image, class 1 by the right half."""

    def forward(self, x):
        half = x.shape[-1] // 2
        return torch.stack([x[..., :half].mean((1, 2, 3)), x[..., half:].mean((1, 2, 3))], 1) * 10


def test_evaluate_with_flips_averages_the_probabilities_of_each_image_and_its_mirror():
    x = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    x[:20, ..., :2] += 0.3              # bright on the left: class 0 in one view, class 1 in the mirror
    y = torch.zeros(40, dtype=torch.long)
    model = _LeftHalf()
    logits = model(x)
    mean_probs = (logits.softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    loss, acc = evaluate(model, TensorBatches(x, y, 16), flips=True)
    assert loss == pytest.approx(nn.functional.nll_loss(mean_probs.log(), y).item(), rel=1e-5)
    assert acc == pytest.approx((mean_probs.argmax(1) == y).float().mean().item())
    single_loss, single_acc = evaluate(model, TensorBatches(x, y, 16))
    assert single_loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert single_acc != acc            # the two views disagree on the bright-left images


def test_a_recipe_with_test_flips_evaluates_with_them():
    generator = torch.Generator().manual_seed(1)
    x, y = torch.rand(30, 1, 4, 4, generator=generator), torch.randint(0, 2, (30,), generator=generator)
    model = _LeftHalf()
    flipped = train.Recipe(lambda: model, epochs=1, batch_size=8, lr=0.1, test_flips=True)
    plain = train.Recipe(lambda: model, epochs=1, batch_size=8, lr=0.1)
    assert flipped.evaluate(model, TensorBatches(x, y, 8)) == evaluate(model, TensorBatches(x, y, 8), flips=True)
    assert plain.evaluate(model, TensorBatches(x, y, 8)) == evaluate(model, TensorBatches(x, y, 8))
    assert "mirror" in flipped.describe() and "mirror" not in plain.describe()
