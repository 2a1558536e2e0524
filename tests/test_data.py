"""cnnlab.data: the bundled sample, the full data on disk, and downloads from a local server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from cnnlab import data

FULL_PRESENT = data.DEBIAN_FASHION_DIR.is_dir()


# --------------------------------------------------------------------------- helpers

def idx_bytes(array: np.ndarray) -> bytes:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_spec(rng: np.random.Generator) -> tuple[data.DatasetSpec, dict[str, bytes]]:
    """A four-file data set shaped like MNIST but small, with correct checksums."""
    files, payloads = {}, {}
    for split, n in (("train", 30), ("test", 10)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        pair = []
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte.gz"
            raw = idx_bytes(array)
            payloads[name] = gzip.compress(raw)
            pair.append(data.IdxFile(name, array.shape, sha256=hashlib.sha256(raw).hexdigest()))
        files[split] = tuple(pair)
    spec = data.DatasetSpec("tiny", "Tiny", data.MNIST_CLASSES, ("http://127.0.0.1:1/",), files, 0.5, 0.25)
    return spec, payloads


class Server:
    """A local HTTP server whose behaviour per file the test controls (serve, corrupt, cut, 404)."""

    def __init__(self, payloads: dict[str, bytes]):
        self.payloads = dict(payloads)
        self.mode: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((name, self.headers.get("Range")))
                mode = server.mode.get(name, "ok")
                body = server.payloads.get(name)
                if body is None or mode == "404":
                    self.send_error(404)
                    return
                if mode == "corrupt":                # damaged in transit: the gzip stream breaks
                    body = body[:-40] + bytes(40)
                if mode == "altered":                # a valid file with other contents
                    raw = gzip.decompress(body)
                    body = gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 256]))
                start = 0
                rng = self.headers.get("Range")
                if rng and mode != "no-range":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if mode == "cut":
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    spec, payloads = tiny_spec(np.random.default_rng(0))
    monkeypatch.setitem(data.DATASETS, "tiny", spec)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    return spec, payloads


# --------------------------------------------------------------------------- the sample

@pytest.mark.parametrize("split, n", [("train", 6000), ("test", 1000)])
def test_sample_is_balanced_uint8(split, n):
    images, labels = data.load_fashion_mnist(split, source="sample")
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10


def test_sample_fits_the_size_budget_and_keeps_its_licence():
    assert data.SAMPLE_PATH.stat().st_size <= 5 * 1024 * 1024
    licence = (data.SAMPLE_PATH.parent / "LICENSE-fashion-mnist.txt").read_text()
    assert "Zalando SE" in licence and "MIT" in licence


@pytest.mark.skipif(not FULL_PRESENT, reason="the full Fashion-MNIST (Debian package) is not installed")
@pytest.mark.parametrize("split", data.SPLITS)
def test_sample_is_a_subset_of_the_real_data(split):
    full_images, full_labels = data.load_fashion_mnist(split, source="full")
    with np.load(data.SAMPLE_PATH) as archive:
        index = archive[f"{split}_index"]
    images, labels = data.load_sample(split)
    np.testing.assert_array_equal(images, full_images[index])
    np.testing.assert_array_equal(labels, full_labels[index])


# --------------------------------------------------------------------------- full data on disk

@pytest.mark.skipif(not FULL_PRESENT, reason="the full Fashion-MNIST (Debian package) is not installed")
def test_full_from_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    images, labels = data.load_fashion_mnist("test", source="full")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert np.bincount(labels).tolist() == [1000] * 10
    assert data.find_full("fashion_mnist")[0] == "system package"


def test_auto_falls_back_to_the_sample_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(data, "find_full", lambda dataset="fashion_mnist": None)
    monkeypatch.setattr(data, "_announced", set())
    images, _ = data.load_fashion_mnist("test", source="auto")
    assert images.shape == (1000, 28, 28)
    assert "bundled sample" in capsys.readouterr().out


def test_full_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(data, "find_full", lambda dataset="fashion_mnist": None)
    with pytest.raises(data.DataError, match="cnnlab data fetch"):
        data.load_fashion_mnist("train", source="full")


def test_cnnlab_data_comes_first(tiny, monkeypatch, tmp_path):
    spec, payloads = tiny
    folder = tmp_path / "mine" / "tiny"
    folder.mkdir(parents=True)
    for name, body in payloads.items():
        (folder / name).write_bytes(body)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "mine"))
    assert data.find_full("tiny") == ("$CNNLAB_DATA", folder)
    images, labels = data.load_full("tiny", "test")
    assert images.shape == (10, 28, 28) and labels.dtype == np.int64


def test_unknown_split_source_and_dataset():
    with pytest.raises(ValueError, match="unknown split"):
        data.load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="unknown source"):
        data.load_fashion_mnist("train", source="internet")
    with pytest.raises(ValueError, match="unknown data set"):
        data.load_full("cifar", "train")


# --------------------------------------------------------------------------- verification

def test_truncated_and_corrupt_files_are_rejected(tmp_path):
    raw = idx_bytes(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
    good = data.IdxFile("x.gz", (2, 28, 28), sha256=hashlib.sha256(raw).hexdigest())
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(raw))
    assert data.verify_file(path, good).shape == (2, 28, 28)
    path.write_bytes(gzip.compress(raw)[:-20])
    with pytest.raises(data.DataError, match="corrupt or truncated"):
        data.verify_file(path, good)
    path.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(data.DataError, match="SHA-256"):
        data.verify_file(path, good)
    unchecked = data.IdxFile("x.gz", (2, 28, 28))
    with pytest.raises(data.DataError, match="truncated or corrupt"):
        data.verify_file(path, unchecked)
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(data.DataError, match="not an IDX file"):
        data.verify_file(path, unchecked)


# --------------------------------------------------------------------------- downloads

def test_fetch_downloads_verifies_and_loads(tiny):
    spec, payloads = tiny
    with Server(payloads) as server:
        folder = data.fetch("tiny", mirrors=[server.url], quiet=True)
    assert folder == data.cache_dir() / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted(payloads)
    images, labels = data.load_full("tiny", "train")
    assert images.shape == (30, 28, 28)


def test_corrupt_download_is_never_kept_and_the_next_mirror_is_used(tiny):
    spec, payloads = tiny
    with Server(payloads) as bad, Server(payloads) as good:
        bad.mode = {name: "corrupt" for name in payloads}
        data.fetch("tiny", mirrors=[bad.url, good.url], quiet=True)
        assert len(good.requests) == 4 and len(bad.requests) == 4
    folder = data.cache_dir() / "tiny"
    assert not list(folder.glob("*.part"))
    data.load_full("tiny", "test")


def test_checksum_mismatch_everywhere_leaves_no_file(tiny):
    spec, payloads = tiny
    with Server(payloads) as server:
        server.mode = {name: "altered" for name in payloads}
        with pytest.raises(data.DataError, match="SHA-256"):
            data.fetch("tiny", mirrors=[server.url], quiet=True)
    folder = data.cache_dir() / "tiny"
    assert not folder.exists() or not list(folder.iterdir())


def test_connection_cut_midway_then_resumed(tiny):
    spec, payloads = tiny
    name = spec.files["train"][0].name
    with Server(payloads) as server:
        server.mode = {name: "cut"}
        with pytest.raises(data.DataError, match="resume|stopped"):
            data.fetch("tiny", mirrors=[server.url], quiet=True)
        folder = data.cache_dir() / "tiny"
        assert not (folder / name).exists()                   # never a half-written file
        part = folder / (name + ".part")
        assert 0 < part.stat().st_size < len(payloads[name])
        server.mode = {}
        data.fetch("tiny", mirrors=[server.url], quiet=True)
        ranges = [r for n, r in server.requests if n == name and r]
        assert ranges, "the second attempt should ask for the rest of the file"
    assert (folder / name).read_bytes() == payloads[name]


def test_server_without_range_support_restarts_cleanly(tiny, tmp_path):
    spec, payloads = tiny
    name = spec.files["test"][1].name
    dest = tmp_path / name
    (tmp_path / (name + ".part")).write_bytes(b"garbage-prefix")
    with Server(payloads) as server:
        server.mode = {name: "no-range"}
        data.download(server.url + name, dest)
    assert dest.read_bytes() == payloads[name]


def test_unreachable_mirror_says_what_to_do(tiny):
    with pytest.raises(data.DataError, match="cnnlab data fetch tiny"):
        data.fetch("tiny", mirrors=["http://127.0.0.1:9/"], quiet=True)


def test_missing_file_on_mirror(tiny):
    spec, payloads = tiny
    with Server(payloads) as server:
        server.mode = {spec.files["test"][0].name: "404"}
        with pytest.raises(data.DataError, match="HTTP 404"):
            data.fetch("tiny", mirrors=[server.url], quiet=True)


# --------------------------------------------------------------------------- torch helpers and photos

def test_to_tensors_normalises_with_train_statistics():
    images, labels = data.load_fashion_mnist("train", source="sample")
    x, y = data.to_tensors(images, labels)
    assert tuple(x.shape) == (6000, 1, 28, 28) and str(x.dtype) == "torch.float32"
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1
    assert y.dtype.is_floating_point is False


def test_loaders_split_and_limit():
    train, val, test = data.loaders(source="sample", batch_size=64, val_size=500, limit=1000)
    assert len(train.dataset) == 1000 and len(val.dataset) == 500 and len(test.dataset) == 1000
    xb, yb = next(iter(train))
    assert tuple(xb.shape) == (64, 1, 28, 28)


def test_class_names_and_photos():
    assert data.class_names()[9] == "Ankle boot" and len(data.class_names("mnist")) == 10
    hopper = data.photo("grace_hopper")
    assert hopper.ndim == 3 and hopper.shape[2] == 3 and hopper.dtype == np.uint8
    gray = data.photo_gray("camera")
    assert gray.ndim == 2 and 0 <= gray.min() and gray.max() <= 1
    with pytest.raises(ValueError, match="unknown photo"):
        data.photo("no_such_picture")


# --------------------------------------------------------------------------- Fashion-MNIST scenes (lesson 09)

def test_scenes_are_deterministic_and_depend_on_seed_and_split():
    a = data.make_scenes(6, "train", "sample", seed=3)
    b = data.make_scenes(6, "train", "sample", seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert not np.array_equal(a.images, data.make_scenes(6, "train", "sample", seed=4).images)
    assert not np.array_equal(a.images, data.make_scenes(6, "test", "sample", seed=3).images)
    assert (a.split, a.source) == ("train", "sample")


def test_scene_boxes_masks_and_labels_agree():
    scenes = data.make_scenes(60, "test", "sample", seed=0, items=(1, 4))
    assert scenes.images.shape == scenes.masks.shape == (60, 64, 64)
    counts = [len(b) for b in scenes.boxes]
    assert min(counts) >= 1 and max(counts) <= 4 and sum(counts) == scenes.objects()
    for image, mask, boxes, labels in zip(scenes.images, scenes.masks, scenes.boxes, scenes.labels):
        assert boxes.shape == (len(labels), 4) and labels.dtype == np.int64
        covered = np.zeros(mask.shape, bool)
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels):
            inside = mask[y1:y2, x1:x2] == label + 1
            # tight: the mask touches all four sides of its box
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            assert not covered[max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1].any()   # boxes a pixel apart
            covered[y1:y2, x1:x2] = True
        assert not mask[~covered].any()                                  # no mask pixel outside a box
        assert np.all(image[mask > 0] >= 32)                              # the mask is the bright pixels
        assert set(np.unique(mask)) <= {0, *(labels + 1)}


def test_scene_options():
    scenes = data.make_scenes(20, "train", "sample", size=40, items=(2, 2), sides=(14, 16), classes=(1, 8))
    assert scenes.images.shape == (20, 40, 40)
    assert set(np.concatenate(scenes.labels)) <= {1, 8}
    assert all(len(b) == 2 for b in scenes.boxes)                          # room for two small items
    part = scenes[2:5]
    assert len(part) == 3 and np.array_equal(part.masks, scenes.masks[2:5]) and part.boxes[0] is scenes.boxes[2]
    assert data.SCENE_CLASSES[0] == "background" and data.SCENE_CLASSES[1:] == data.FASHION_MNIST_CLASSES


@pytest.mark.parametrize("kwargs, message", [
    (dict(items=(0, 2)), "items must be (fewest, most)"),
    (dict(sides=(20, 80)), "sides must be (smallest, largest) within 1..size=64"),
    (dict(classes=(11,)), "no Fashion-MNIST items of classes (11,)"),
    (dict(split="val"), "unknown split 'val'"),
])
def test_scene_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        data.make_scenes(2, **({"source": "sample"} | kwargs))
    assert message in str(err.value)


@pytest.mark.skipif(not FULL_PRESENT, reason="the full Fashion-MNIST is not installed")
def test_scenes_from_the_full_set_say_so():
    assert data.make_scenes(2, "train", "full").source == "full"
