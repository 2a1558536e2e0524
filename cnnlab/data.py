"""Data sets for the course: Fashion-MNIST (bundled sample or full), MNIST, real photos.

Taught in lesson 00 (what the data is) and used by lessons 04-09; lesson 09 composes scenes of
Fashion-MNIST items (``make_scenes``) and reads the bundled spoken-word spectrograms.

Where the full Fashion-MNIST comes from, first match wins:

1. ``$CNNLAB_DATA/fashion_mnist/`` (a folder you point at),
2. the user cache (``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab``),
3. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``),
4. a download from the official mirrors into the user cache (``cnnlab data fetch``).

Every file is checked before use: the IDX header must match the expected shape and the
SHA-256 of the decompressed payload must match the published data. A download goes to a
``.part`` file next to its destination (resumed if the server allows it), is verified, and
only then renamed into place, so the cache never holds a bad file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import struct
import sys
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

SPLITS = ("train", "test")
SOURCES = ("auto", "sample", "full")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))

SAMPLE_PATH = Path(__file__).parent / "data_files" / "fashion_mnist_sample.npz"
SAMPLE_PER_CLASS = {"train": 600, "test": 100}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


class DataError(RuntimeError):
    """A data set is missing, corrupt or could not be downloaded; the message says what to do."""


class PartialDownload(DataError):
    """A transfer stopped part-way; its ``.part`` file is kept so the next attempt resumes it."""


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of a data set: its name on the mirrors and what it must contain."""

    name: str                 # e.g. "train-images-idx3-ubyte.gz"
    shape: tuple[int, ...]    # shape of the decoded array
    sha256: str | None = None  # SHA-256 of the decompressed IDX bytes
    md5_gz: str | None = None  # MD5 of the .gz file as published (when that is all there is)


@dataclass(frozen=True)
class DatasetSpec:
    key: str
    title: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    files: dict[str, tuple[IdxFile, IdxFile]]   # split -> (images, labels)
    mean: float                                  # pixel statistics of the train split, in [0, 1]
    std: float
    system_dirs: tuple[Path, ...] = ()


FASHION_MNIST = DatasetSpec(
    key="fashion_mnist",
    title="Fashion-MNIST",
    classes=FASHION_MNIST_CLASSES,
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    files={
        "train": (
            IdxFile("train-images-idx3-ubyte.gz", (60000, 28, 28),
                    sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            IdxFile("train-labels-idx1-ubyte.gz", (60000,),
                    sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ),
        "test": (
            IdxFile("t10k-images-idx3-ubyte.gz", (10000, 28, 28),
                    sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            IdxFile("t10k-labels-idx1-ubyte.gz", (10000,),
                    sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ),
    },
    mean=0.2860,
    std=0.3530,
    system_dirs=(DEBIAN_FASHION_DIR,),
)

# MNIST's mirrors publish MD5 sums of the .gz archives; those are what we check.
MNIST = DatasetSpec(
    key="mnist",
    title="MNIST",
    classes=MNIST_CLASSES,
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    files={
        "train": (
            IdxFile("train-images-idx3-ubyte.gz", (60000, 28, 28), md5_gz="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            IdxFile("train-labels-idx1-ubyte.gz", (60000,), md5_gz="d53e105ee54ea40749a09fcbcd1e9432"),
        ),
        "test": (
            IdxFile("t10k-images-idx3-ubyte.gz", (10000, 28, 28), md5_gz="9fb629c4189551a2d022fa330f9573f3"),
            IdxFile("t10k-labels-idx1-ubyte.gz", (10000,), md5_gz="ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    },
    mean=0.1307,
    std=0.3081,
)

DATASETS = {spec.key: spec for spec in (FASHION_MNIST, MNIST)}


# --------------------------------------------------------------------------- locations

def cache_dir() -> Path:
    """The user cache where downloads go: ``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnlab"


def search_dirs(spec: DatasetSpec) -> list[tuple[str, Path]]:
    """Folders that may hold the full data set, in the order they are tried."""
    dirs = []
    if os.environ.get("CNNLAB_DATA"):
        dirs.append(("$CNNLAB_DATA", Path(os.environ["CNNLAB_DATA"]) / spec.key))
    dirs.append(("user cache", cache_dir() / spec.key))
    dirs.extend(("system package", d) for d in spec.system_dirs)
    return dirs


def _spec(dataset: str) -> DatasetSpec:
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[dataset]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")


# --------------------------------------------------------------------------- IDX files

def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_payload(path: Path) -> bytes:
    """The raw IDX bytes of ``path`` (gzip or plain), or DataError if it will not decompress."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} is corrupt or truncated ({err}); delete it and fetch it again") from err


def parse_idx(payload: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file (the MNIST format): a magic number, the dimensions, then uint8 data."""
    if len(payload) < 4 or payload[:2] != b"\x00\x00" or payload[2] != 0x08:
        raise DataError(f"{source} is not an IDX file of unsigned bytes")
    ndim = payload[3]
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise DataError(f"{source}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", payload[4:header])
    expected = int(np.prod(shape))
    if len(payload) - header != expected:
        raise DataError(f"{source}: IDX header promises {expected} bytes of data, file holds "
                        f"{len(payload) - header}; the file is truncated or corrupt")
    return np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(shape)


def verify_file(path: Path, idx: IdxFile) -> np.ndarray:
    """Read ``path`` and check it against ``idx`` (checksum, shape); return the array."""
    if idx.md5_gz is not None and path.suffix == ".gz":
        digest = _file_digest(path, "md5")
        if digest != idx.md5_gz:
            raise DataError(f"{path}: MD5 {digest} does not match the published {idx.md5_gz}")
    payload = _read_payload(path)
    if idx.sha256 is not None:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != idx.sha256:
            raise DataError(f"{path}: SHA-256 of its contents is {digest}, expected {idx.sha256}; "
                            "the file is corrupt or is not the published data")
    array = parse_idx(payload, str(path))
    if array.shape != idx.shape:
        raise DataError(f"{path}: shape {array.shape}, expected {idx.shape}")
    return array


def _candidates(folder: Path, idx: IdxFile) -> list[Path]:
    plain = folder / idx.name[:-3] if idx.name.endswith(".gz") else folder / idx.name
    return [p for p in (folder / idx.name, plain) if p.is_file()]


def find_full(dataset: str = "fashion_mnist") -> tuple[str, Path] | None:
    """Where the complete data set is (label, folder), or None. Files are not verified here."""
    spec = _spec(dataset)
    every = [f for pair in spec.files.values() for f in pair]
    for label, folder in search_dirs(spec):
        if all(_candidates(folder, f) for f in every):
            return label, folder
    return None


# --------------------------------------------------------------------------- download

def download(url: str, dest: Path, *, timeout: float = 60.0, chunk: int = 1 << 16) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``; resume a partial file when the server allows.

    ``dest`` itself only appears once the transfer is complete (an atomic rename), so a
    connection cut mid-way leaves at most a ``.part`` file, never a half-written ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            total = response.headers.get("Content-Length")
            expected = int(total) + (have if resumed else 0) if total else None
            with open(part, "ab" if resumed else "wb") as out:
                shutil.copyfileobj(response, out, chunk)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:      # the .part is already complete
            pass
        else:
            raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise PartialDownload(f"download of {url} failed ({err}); the partial file {part} is kept "
                              "and the next attempt resumes it") from err
    else:
        if expected is not None and part.stat().st_size != expected:
            raise PartialDownload(f"download of {url} stopped after {part.stat().st_size} of {expected} bytes; "
                            "run the command again to resume")
    os.replace(part, dest)
    return dest


def fetch(dataset: str = "fashion_mnist", *, mirrors: Iterable[str] | None = None,
          dest: Path | None = None, quiet: bool = False) -> Path:
    """Make sure the full data set is on disk (downloading what is missing) and return its folder.

    Each file is verified after download; a file that fails its check is deleted and the
    next mirror is tried. Raises DataError (with what to do) when no mirror delivers.
    """
    spec = _spec(dataset)
    found = find_full(dataset)
    if found and dest is None:
        return found[1]
    folder = dest or cache_dir() / spec.key
    mirrors = tuple(mirrors or spec.mirrors)
    for idx in (f for pair in spec.files.values() for f in pair):
        target = folder / idx.name
        if target.is_file():
            try:
                verify_file(target, idx)
                continue
            except DataError:
                target.unlink()
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + idx.name
            if not quiet:
                print(f"fetching {url}", file=sys.stderr)
            try:
                download(url, target)
                verify_file(target, idx)
                break
            except DataError as err:
                errors.append(str(err))
                if target.exists():      # downloaded but bad: never keep it
                    target.unlink()
                part = target.with_name(target.name + ".part")
                if part.exists() and not isinstance(err, PartialDownload):
                    part.unlink()
        else:
            raise DataError(
                f"could not get {spec.title} file {idx.name} from any mirror:\n  " + "\n  ".join(errors)
                + f"\nWhen you are online, run `cnnlab data fetch {spec.key}`; or copy the four .gz files "
                f"into {folder} (or a folder named {spec.key} under $CNNLAB_DATA)."
                + ("\nOn Debian/Ubuntu: sudo apt install dataset-fashion-mnist" if spec is FASHION_MNIST else "")
            )
    return folder


# --------------------------------------------------------------------------- loading

_announced: set[tuple[str, str]] = set()


def _announce(dataset: str, message: str) -> None:
    if (dataset, message) not in _announced:
        _announced.add((dataset, message))
        print(message)


def load_full(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The complete split of ``dataset`` from disk (never downloads): uint8 images, int64 labels."""
    spec = _spec(dataset)
    _check_split(split)
    found = find_full(dataset)
    if found is None:
        places = ", ".join(str(p) for _, p in search_dirs(spec))
        hint = "\nOn Debian/Ubuntu: sudo apt install dataset-fashion-mnist" if spec is FASHION_MNIST else ""
        raise DataError(f"the full {spec.title} is not on this machine (looked in {places}).\n"
                        f"Run `cnnlab data fetch {spec.key}` when online, or use source='sample'.{hint}")
    _, folder = found
    image_file, label_file = spec.files[split]
    images = verify_file(_candidates(folder, image_file)[0], image_file)
    labels = verify_file(_candidates(folder, label_file)[0], label_file)
    return images.copy(), labels.astype(np.int64)


def load_sample(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST sample bundled in the package (600 per class train, 100 per class test)."""
    _check_split(split)
    with np.load(SAMPLE_PATH, allow_pickle=False) as archive:
        return archive[f"{split}_images"].copy(), archive[f"{split}_labels"].astype(np.int64)


def load_fashion_mnist(split: str = "train", source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images (N, 28, 28) uint8 and labels (N,) int64. Lessons 00, 04-07.

    Args:
        split: "train" or "test".
        source: "sample" (bundled, always there), "full" (60k/10k from disk; DataError if absent),
            or "auto" (full when present, else the sample; prints which one it uses).

    Returns:
        (images, labels).
    """
    _check_split(split)
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {SOURCES}")
    if source == "sample":
        return load_sample(split)
    if source == "full":
        return load_full("fashion_mnist", split)
    if find_full("fashion_mnist") is not None:
        _announce("fashion_mnist", "Fashion-MNIST: using the full data set (60,000 train / 10,000 test).")
        return load_full("fashion_mnist", split)
    _announce("fashion_mnist", "Fashion-MNIST: using the bundled sample (6,000 train / 1,000 test); "
                               "`cnnlab data fetch` gets the full set.")
    return load_sample(split)


def load_mnist(split: str = "train", download_missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (N, 28, 28) uint8 and labels (N,) int64, downloaded on first use when online."""
    _check_split(split)
    if find_full("mnist") is None and download_missing:
        fetch("mnist")
    return load_full("mnist", split)


def which_source(dataset: str = "fashion_mnist") -> str:
    """A one-line description of the data "auto" would use, for the welcome notebook."""
    found = find_full(dataset)
    if found:
        return f"full {DATASETS[dataset].title} from {found[1]} ({found[0]})"
    return f"bundled sample of {DATASETS[dataset].title} ({SAMPLE_PATH.name})"


def class_names(dataset: str = "fashion_mnist") -> tuple[str, ...]:
    """The ten class names of ``dataset``, indexed by label."""
    return _spec(dataset).classes


def make_sample(out: Path = SAMPLE_PATH, per_class: dict[str, int] | None = None) -> Path:
    """Rebuild the bundled sample from the full data: the first ``per_class`` images of each class.

    The choice is deterministic (order of the official files), so the sample can be
    regenerated and checked against the full data at any time.
    """
    from cnnlab.batches import class_balanced_indices

    per_class = per_class or SAMPLE_PER_CLASS
    arrays = {}
    for split, count in per_class.items():
        images, labels = load_full("fashion_mnist", split)
        keep = np.sort(class_balanced_indices(labels, count))
        arrays[f"{split}_images"] = images[keep]
        arrays[f"{split}_labels"] = labels[keep].astype(np.uint8)
        arrays[f"{split}_index"] = keep.astype(np.int32)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


# --------------------------------------------------------------------------- Fashion-MNIST scenes (lesson 09)

SCENE_CLASSES = ("background",) + FASHION_MNIST_CLASSES
"""Classes of a scene's mask: 0 is background, 1 + c is Fashion-MNIST class c."""


@dataclass
class Scenes:
    """Canvases of Fashion-MNIST items with exact boxes, classes and per-pixel masks. Lesson 09.

    Attributes:
        images: (N, S, S) uint8, items on a black canvas.
        masks: (N, S, S) uint8, 0 for background and 1 + class where an item is (``SCENE_CLASSES``).
        boxes: per scene, (K, 4) float64 boxes (x1, y1, x2, y2) in pixels, tight around each
            item's mask (x2, y2 one past the last column and row).
        labels: per scene, (K,) int64 Fashion-MNIST classes of the items, in box order.
        split: "train" or "test", the Fashion-MNIST split the items came from.
        source: "sample" or "full", the Fashion-MNIST the items came from.
    """

    images: np.ndarray
    masks: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    split: str
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> "Scenes":
        """The scenes ``index`` selects (a slice or an index array), as ``Scenes``."""
        picked = np.arange(len(self))[index]
        return Scenes(self.images[picked], self.masks[picked], [self.boxes[i] for i in picked],
                      [self.labels[i] for i in picked], self.split, self.source)

    def objects(self) -> int:
        """How many items all the scenes hold together."""
        return sum(len(b) for b in self.boxes)


def _scene_item(image: np.ndarray, side: int, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """A 28×28 item resized to side×side (bilinear), and its mask: pixels at least ``threshold``."""
    from PIL import Image

    resized = np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR))
    return resized, resized >= threshold


def _place(mask: np.ndarray, taken: np.ndarray, rng: np.random.Generator, gap: int) -> tuple[int, int] | None:
    """A top-left corner, drawn evenly from all places where the item's tight box, ``gap`` pixels
    wider, touches no ``taken`` pixel (the boxes already placed); None when there is no such place.

    A summed-area table gives the count of taken pixels under every possible box at once.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, left = rows[0], cols[0]
    h, w = rows[-1] + 1 - top + 2 * gap, cols[-1] + 1 - left + 2 * gap     # the box with its margin
    size = taken.shape[0]
    table = np.zeros((size + 2 * gap + 1,) * 2, dtype=np.int32)            # a zero row and column first,
    table[1 + gap:1 + gap + size, 1 + gap:1 + gap + size] = taken          # then the canvas with a margin
    table = table.cumsum(0).cumsum(1)                                      # taken pixels above-left of each
    under = table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]   # (S − h' + 1, S − w' + 1)
    free = np.argwhere(under == 0)                                         # where the box's corner may go
    if len(free) == 0:
        return None
    y, x = free[rng.integers(len(free))]
    return int(y - top), int(x - left)                                     # the item's own corner


def make_scenes(n: int, split: str = "train", source: str = "auto", size: int = 64, items: tuple[int, int] = (1, 3),
                sides: tuple[int, int] = (20, 36), classes: tuple[int, ...] | None = None, seed: int = 0,
                threshold: int = 32, gap: int = 1) -> Scenes:
    """Compose ``n`` scenes of real Fashion-MNIST items, with exact boxes, classes and masks. Lesson 09.

    Each scene is a black ``size``×``size`` canvas with ``items`` (a random number between the
    two bounds) Fashion-MNIST images of ``split``, each resized to a random side in ``sides``
    and put at a random place. An item's mask is the set of its pixels of brightness
    ``threshold`` (out of 255) or more; its box is the tightest box around the mask. Items
    never overlap: their boxes stay ``gap`` pixels apart, each item going to a place drawn
    evenly from the free ones (an item that finds none is left out, so a crowded scene may hold
    fewer). So every pixel has exactly one true class, and every box one object.

    Everything follows from ``seed``, ``split`` and the Fashion-MNIST images: the same call
    gives the same scenes. The items come from the bundled sample or the full set (``source``
    as in ``load_fashion_mnist``), so "sample" and "full" give different scenes; training
    scenes are made from the train split and held-out scenes from the test split, so no item
    is seen in both.

    Args:
        n: number of scenes.
        split: "train" or "test".
        source: "auto", "sample" or "full".
        size: canvas side in pixels.
        items: (fewest, most) items per scene.
        sides: (smallest, largest) side of a resized item in pixels (28 is the original).
        classes: Fashion-MNIST classes to draw items from (default: all ten).
        seed: selects everything random.
        threshold: brightness from which a pixel belongs to its item's mask.
        gap: pixels kept free between the boxes of two items.

    Returns:
        ``Scenes``.
    """
    _check_split(split)
    if not 1 <= items[0] <= items[1]:
        raise ValueError(f"make_scenes: items must be (fewest, most) with 1 <= fewest <= most, got {items}")
    if not 1 <= sides[0] <= sides[1] <= size:
        raise ValueError(f"make_scenes: sides must be (smallest, largest) within 1..size={size}, got {sides}")
    images, labels = load_fashion_mnist(split, source)
    keep = np.flatnonzero(np.isin(labels, classes)) if classes is not None else np.arange(len(labels))
    if keep.size == 0:
        raise ValueError(f"make_scenes: no Fashion-MNIST items of classes {classes}")
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    canvases = np.zeros((n, size, size), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    all_boxes, all_labels = [], []
    for s in range(n):
        boxes, kinds = [], []
        taken = np.zeros((size, size), dtype=bool)                   # the boxes placed so far
        for _ in range(int(rng.integers(items[0], items[1] + 1))):
            index = int(keep[rng.integers(len(keep))])
            item, item_mask = _scene_item(images[index], int(rng.integers(sides[0], sides[1] + 1)), threshold)
            if not item_mask.any():
                continue
            spot = _place(item_mask, taken, rng, gap)
            if spot is None:
                continue
            box = _paste(canvases[s], masks[s], item, item_mask, *spot, labels[index] + 1)
            x1, y1, x2, y2 = (int(v) for v in box)
            taken[y1:y2, x1:x2] = True
            boxes.append(box)
            kinds.append(int(labels[index]))
        all_boxes.append(np.array(boxes, dtype=np.float64).reshape(-1, 4))
        all_labels.append(np.array(kinds, dtype=np.int64))
    used = "full" if source == "full" or (source == "auto" and find_full("fashion_mnist")) else "sample"
    return Scenes(canvases, masks, all_boxes, all_labels, split, used)


def _paste(canvas: np.ndarray, mask: np.ndarray, item: np.ndarray, item_mask: np.ndarray, y: int, x: int,
           value: int) -> tuple[float, float, float, float]:
    """Draw an item with its top-left corner at (y, x) (parts may fall off the canvas); return its tight box."""
    size, side = canvas.shape[0], item.shape[0]
    cy1, cy2, cx1, cx2 = max(y, 0), min(y + side, size), max(x, 0), min(x + side, size)
    part = (slice(cy1 - y, cy2 - y), slice(cx1 - x, cx2 - x))
    region = (slice(cy1, cy2), slice(cx1, cx2))
    canvas[region] = np.maximum(canvas[region], item[part])      # faint edges of two items never hide each other
    mask[region][item_mask[part]] = value
    rows, cols = np.flatnonzero(item_mask[part].any(axis=1)), np.flatnonzero(item_mask[part].any(axis=0))
    return (float(cx1 + cols[0]), float(cy1 + rows[0]), float(cx1 + cols[-1] + 1), float(cy1 + rows[-1] + 1))


# --------------------------------------------------------------------------- spoken words (lesson 09)

SPOKEN_WORDS_PATH = Path(__file__).parent / "data_files" / "spoken_words.npz"


@dataclass
class SpokenWords:
    """Mel spectrograms of ten synthesised command words, and how they were made. Lesson 09.

    Attributes:
        spectrograms: (N, n_mels, frames) float32 in dB below each clip's loudest cell
            (−80 … 0), low frequencies in row 0.
        labels: (N,) int64, indices into ``words``.
        voices: (N,) eSpeak NG voice of each clip, "accent+variant" (e.g. "en-gb+f2").
        words: the ten words.
        sample_rate, n_fft, hop, n_mels: the ``cnnlab.audio.mel_spectrogram`` settings.
        synthesiser: the program and version that spoke the words.
    """

    spectrograms: np.ndarray
    labels: np.ndarray
    voices: np.ndarray
    words: tuple[str, ...]
    sample_rate: int
    n_fft: int
    hop: int
    n_mels: int
    synthesiser: str

    def __len__(self) -> int:
        return len(self.labels)


def load_spoken_words(split: str = "train") -> SpokenWords:
    """The bundled spoken-word spectrograms: 800 training clips of 80 voices, 160 test clips of 16 others. Lesson 09.

    Synthetic speech, not recordings: ``scripts/make_spoken_words.py`` had eSpeak NG speak
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop" and "go" in 96 voices (8
    English accents × 12 voice variants, each clip at its own speed and pitch) and stored one
    second of each as a 40-band mel spectrogram (see ``ATTRIBUTION-spoken-words.txt``). The
    test split holds the two voice variants the training split never hears.

    Args:
        split: "train" or "test".

    Returns:
        ``SpokenWords``.
    """
    _check_split(split)
    with np.load(SPOKEN_WORDS_PATH, allow_pickle=False) as archive:
        keep = archive["test"] if split == "test" else ~archive["test"]
        sample_rate, n_fft, hop, n_mels, floor_db = archive["settings"]
        return SpokenWords(
            spectrograms=archive["spectrograms"][keep].astype(np.float32) + np.float32(floor_db),
            labels=archive["labels"][keep].astype(np.int64), voices=archive["voices"][keep],
            words=tuple(str(w) for w in archive["words"]), sample_rate=int(sample_rate), n_fft=int(n_fft),
            hop=int(hop), n_mels=int(n_mels), synthesiser=str(archive["synthesiser"]))


def spoken_word_examples() -> tuple[np.ndarray, np.ndarray]:
    """One bundled waveform per word (voice "en-us+f1"), to compute a spectrogram from. Lesson 09.

    Returns:
        waveforms (10, samples) float64 in [−1, 1] at ``SpokenWords.sample_rate``, and the
        (10,) indices of their stored spectrograms in ``load_spoken_words("train")``.
    """
    with np.load(SPOKEN_WORDS_PATH, allow_pickle=False) as archive:
        train_index = np.cumsum(~archive["test"]) - 1                    # position among the training clips
        return archive["example_waveforms"] / 32767.0, train_index[archive["example_index"]]


# --------------------------------------------------------------------------- torch helpers

def to_tensors(images: np.ndarray, labels: np.ndarray, dataset: str = "fashion_mnist",
               normalize: bool = True):
    """uint8 images (N, 28, 28) -> float tensor (N, 1, 28, 28), standardised with the train statistics."""
    import torch

    spec = _spec(dataset)
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).unsqueeze(1)
    if normalize:
        x = (x - spec.mean) / spec.std
    return x, torch.from_numpy(np.asarray(labels, dtype=np.int64))


def loaders(dataset: str = "fashion_mnist", source: str = "auto", batch_size: int = 128,
            val_size: int | float = 0.1, limit: int | None = None, seed: int = 0):
    """(train, val, test) torch DataLoaders of normalised tensors.

    ``cnnlab.batches.fashion_mnist_batches`` gives the same split as faster in-memory batches.

    Args:
        dataset: "fashion_mnist" or "mnist" (MNIST ignores ``source``).
        source: as in ``load_fashion_mnist``.
        batch_size: images per batch.
        val_size: images (int) or fraction (float) of the train split held out for validation
            (``cnnlab.batches.split_train_val``).
        limit: keep at most this many training images (quick experiments).
        seed: fixes the validation split and the shuffling.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from cnnlab.batches import split_train_val

    load = (lambda s: load_fashion_mnist(s, source)) if dataset == "fashion_mnist" else load_mnist
    x, y = to_tensors(*load("train"), dataset=dataset)
    x_test, y_test = to_tensors(*load("test"), dataset=dataset)
    train_idx, val_idx = split_train_val(len(x), val_size, seed, limit)
    train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(x[val_idx], y[val_idx]), batch_size=512)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=512)
    return train, val, test


# --------------------------------------------------------------------------- photos

def photo(name: str = "grace_hopper") -> np.ndarray:
    """A real photo as uint8 (H, W, 3): "grace_hopper" (matplotlib) or a scikit-image image name."""
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            from PIL import Image

            return np.asarray(Image.open(f).convert("RGB"))
    import skimage.data

    if not hasattr(skimage.data, name):
        raise ValueError(f"unknown photo {name!r}: use 'grace_hopper' or a skimage.data image such as 'chelsea'")
    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def photo_gray(name: str = "grace_hopper") -> np.ndarray:
    """A real photo as float64 (H, W) in [0, 1] (luminance), for lesson 01's kernels."""
    rgb = photo(name).astype(np.float64) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114])
