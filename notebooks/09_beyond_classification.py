# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   rise:
#     scroll: true
#     start_slideshow_at: beginning
#     theme: white
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 09 · Beyond classification and beyond photos
#
# Lessons 04–08 gave one label per image. Many tasks need more: *which pixels* belong to the
# object (segmentation), *where* each object is (detection). And many grids are not photos:
# a sound becomes an image once it is drawn as a spectrogram.
#
# **In this notebook you will**
# - grow an image with a transposed convolution, and see where checkerboard artefacts come from;
# - train a small encoder–decoder with skip connections and dilated convolutions (the U-Net
#   idea) to label every pixel, and score it with IoU per class and mean IoU;
# - compute IoU between boxes, place anchor boxes, suppress duplicates (NMS), train a tiny
#   single-shot detector, and score it with precision–recall and mAP@0.5;
# - turn spoken words into mel spectrograms, classify them with a CNN, and compare a shift in
#   time with a shift in frequency;
# - measure where translation invariance breaks: zero padding lets a CNN tell *where* an
#   identical patch is; circular padding does not;
# - meet three more applications: face recognition, medical imaging, video.

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import cnnlab
from cnnlab import audio, boxes, data, layers, viz
from cnnlab.experiments import ch09
from cnnlab.models import detect, small_unet, tiny_ssd
from cnnlab.segmentation import mean_iou
from cnnlab.shapes import conv_transpose_output_size, receptive_field, summary
from cnnlab.train import set_seed

QUICK = cnnlab.QUICK                       # CNNLAB_QUICK=1: seconds per experiment, on the bundled sample
SOURCE = "sample" if QUICK else "auto"     # where the scenes' Fashion-MNIST items come from
SCENES = dict(train=400, test=60) if QUICK else dict(train=8000, test=1000)
SEGMENTER = dict(steps=40, max_seconds=1.0) if QUICK else dict(steps=1500, max_seconds=90)
DETECTOR = dict(steps=40, max_seconds=1.0) if QUICK else dict(steps=1500, max_seconds=90)
SOUND = dict(epochs=2, max_seconds=1.5) if QUICK else dict(epochs=20, max_seconds=40)
POSITION = dict(pairs=128, epochs=2, max_seconds=None) if QUICK else dict(pairs=500, epochs=8, max_seconds=20)
set_seed(0)
print("quick mode:", QUICK)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three questions about one image
#
# - **Classification**: what is in the image? One label.
# - **Detection**: what is where? A box and a label for every object.
# - **Semantic segmentation**: what is every pixel? A label map as large as the image.
#
# To practise all three we need images with several objects and exact answers. `make_scenes`
# composes them from real Fashion-MNIST items: each item is resized to a random side between 20
# and 36 pixels and put at a random free place on a black 64×64 canvas, one to three per scene.
# Its *mask* is the set of its pixels of brightness 32 or more (out of 255), its *box* the
# tightest box around the mask. Items never overlap, so every pixel has one true class. The
# same seed gives the same scenes; training scenes use Fashion-MNIST's training images, the
# held-out scenes its test images.

# %%
train_scenes = data.make_scenes(SCENES["train"], "train", SOURCE, seed=0)
test_scenes = data.make_scenes(SCENES["test"], "test", SOURCE, seed=1)
names = data.FASHION_MNIST_CLASSES
print(f"{len(train_scenes):,} training scenes with {train_scenes.objects():,} items, "
      f"{len(test_scenes):,} held-out scenes with {test_scenes.objects():,} items (from the {train_scenes.source} set)")
print(f"background: {(test_scenes.masks == 0).mean():.1%} of the held-out pixels")

# %% slideshow={"slide_type": "subslide"}
viz.show_scenes(train_scenes, names, n=5)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Growing an image: the transposed convolution
#
# A segmentation network first shrinks the image (convolutions with stride, pooling) to see
# the whole object, then must grow the result back to full size. The learnable way up is the
# **transposed convolution**: every input pixel stamps a copy of the kernel, scaled by its
# value, onto the output, the stamps `stride` pixels apart; where stamps overlap they add up.

# %%
x = np.array([[[[1.0, 2.0],
                [3.0, 4.0]]]])                   # (N, C, H, W) = (1, 1, 2, 2)
w = np.ones((1, 1, 3, 3))                         # (C in, F out, KH, KW): a kernel of ones
out = layers.conv_transpose2d_naive(x, w, np.zeros(1), stride=2)
print(out[0, 0])                                  # (5, 5): four stamps of 3×3, two apart

# %% [markdown] slideshow={"slide_type": "subslide"}
# Each input pixel owns a 3×3 block; the middle row and column are shared and add up. The output
# size runs the convolution formula backwards: **(n − 1)·s − 2p + d(k − 1) + output_padding + 1**.
# Here (2 − 1)·2 + 2 + 1 = 5. `padding` crops the border again and `output_padding` adds a row,
# so that the layer can undo exactly the size change of a convolution with the same settings.

# %%
print("output size:", conv_transpose_output_size(2, 3, stride=2))
up = nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, bias=False)
with torch.no_grad():
    up.weight.copy_(torch.from_numpy(w))
    theirs = up(torch.from_numpy(x).float()).numpy()
mine, _ = layers.conv_transpose2d_forward(x, w, np.zeros(1), stride=2)
print("largest difference to torch.nn.ConvTranspose2d:", np.abs(mine - theirs).max())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why "transposed"?
#
# A convolution is a linear map, a (huge, sparse) matrix. The transposed convolution is
# multiplication by that matrix's *transpose*, which is exactly what backpropagation computes
# for a convolution's input gradient (lesson 03). So the layer is not an inverse: it restores the
# *size*, not the values.

# %%
image = np.random.default_rng(0).standard_normal((1, 1, 5, 5))
y, cache = layers.conv2d_forward(image, w[:, :, ::-1, ::-1].copy(), np.zeros(1), stride=2)   # (1, 1, 2, 2)
dx, _, _ = layers.conv2d_backward(x, cache)                       # backprop x through that convolution
print("conv2d: 5×5 ->", y.shape[2:], "| transposed conv: 2×2 ->", mine.shape[2:])
print("the transposed conv is the convolution's input gradient:", np.allclose(dx, mine))

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Checkerboard artefacts
#
# Count the stamps that land on each output pixel (feed in ones, with a kernel of ones). With
# kernel 3 and stride 2 the count alternates 1, 2, 1, 2 along a row, so 1, 2 or 4 in 2-D: the
# learned weights must cancel that pattern exactly, and when they do not, a faint checkerboard
# remains (Odena, Dumoulin & Olah, *Distill*, 2016). A kernel that is a multiple of the stride,
# or resizing first and then an ordinary convolution, covers every pixel equally.

# %%
resized = F.interpolate(torch.ones(1, 1, 8, 8), scale_factor=2, mode="nearest")        # (1, 1, 16, 16)
resize_conv = F.conv2d(resized, torch.ones(1, 1, 3, 3), padding=1)[0, 0].numpy()
counts = {"transposed, kernel 3, stride 2": ch09.stamp_counts(8, 3, 2),
          "transposed, kernel 4, stride 2": ch09.stamp_counts(8, 4, 2, padding=1),
          "resize ×2, then 3×3 convolution": resize_conv}
for title, c in counts.items():
    print(f"{title:<33} output {c.shape[0]}×{c.shape[1]}, stamps per pixel away from the border: "
          f"{c[2:-2, 2:-2].min():.0f} to {c[2:-2, 2:-2].max():.0f} (ratio {ch09.unevenness(c, 2):.1f})")

# %% slideshow={"slide_type": "subslide"}
viz.plot_stamp_counts(counts)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Ask the room to predict the 5×5 output of the first cell before running it (the middle row and
# > column are sums of two or four stamps). The checkerboard is a property of the geometry, not of
# > training: the same counts appear for any input, which is why the fix is architectural.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Semantic segmentation: an encoder–decoder with skips
#
# `small_unet()` labels each of the 64×64 pixels with one of eleven classes (background and the
# ten garments):
#
# - the **encoder** halves the size three times (convolutions and max pools) down to an 8×8 grid
#   whose units see the whole garment;
# - two **dilated** 3×3 convolutions there (taps 2 and 4 cells apart) widen that view further
#   without shrinking the grid;
# - the **decoder** grows the grid back with transposed convolutions (2× and 4×; kernel = stride,
#   so no checkerboard);
# - **skip connections** (U-Net, Ronneberger et al. 2015) concatenate the encoder's 16×16 and
#   64×64 maps to the decoder's: they carry the sharp outline that the coarse grid has lost.

# %%
table = summary(small_unet(), (1, 64, 64))
print(f"{table.total_params:,} parameters, {table.total_macs / 1e6:.1f} M multiply-accumulates per scene")
encoder = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]   # (kernel, stride) on the way down
dilated = encoder + [(3, 1, 2), (3, 1, 4)]
plain = encoder + [(3, 1), (3, 1)]
print(f"receptive field of the 8×8 grid: {receptive_field(plain)} pixels with plain 3×3 convolutions, "
      f"{receptive_field(dilated)} with dilations 2 and 4")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Training: cross-entropy per pixel
#
# The loss is the cross-entropy of lesson 04, averaged over every pixel of every scene. Half of the
# scenes are mirrored left-right, each with its mask (a mirrored garment is still one).

# %%
seg_run = ch09.train_segmenter(train_scenes, **SEGMENTER)
print(f"{seg_run.steps} steps of 32 scenes in {seg_run.seconds:.1f} s")
plt.figure(figsize=(6, 2.5))
plt.plot(seg_run.smoothed_losses())
plt.xlabel("step")
plt.ylabel("cross-entropy (smoothed)")
plt.title("segmentation: training loss")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Scoring a segmentation: IoU, not pixel accuracy
#
# Most pixels are background, so a network that answers "background" everywhere is right about most
# pixels. The **intersection over union** of a class does not fall for that: of the pixels that are
# the class in the truth *or* in the prediction, the share that are the class in both. The mean
# over the classes (background included, as PASCAL VOC reports it) is the **mean IoU**. Counts are
# pooled over all held-out scenes.

# %%
seg = ch09.segmentation_scores(seg_run.model, test_scenes)
everything_background = np.zeros_like(test_scenes.masks)
print(f"small U-Net:           pixel accuracy {seg.pixel_accuracy:.3f}, mean IoU {seg.mean_iou:.3f} "
      f"(garments only: {seg.object_mean_iou:.3f})")
print(f"'background' for all:  pixel accuracy {(test_scenes.masks == 0).mean():.3f}, mean IoU "
      f"{mean_iou(everything_background, test_scenes.masks, 11):.3f}")

# %% slideshow={"slide_type": "subslide"}
viz.plot_class_iou(seg.iou, data.SCENE_CLASSES, title=f"IoU per class on {len(test_scenes):,} held-out scenes")
plt.show()

# %% slideshow={"slide_type": "subslide"}
viz.show_segmentation(test_scenes.images, test_scenes.masks, seg.predictions, data.SCENE_CLASSES, n=5)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# A segmentation network is a classifier for every pixel: the background and the outlines are
# learned first, the garment classes later, and the classes that lesson 04's classifier confused
# (shirt, T-shirt, pullover, coat) are the hard ones here too. In quick mode the network has
# trained for about a second, so the numbers and pictures above are only a smoke test; the full
# run trains for up to a minute and a half (`make bench` trains longer, see the end).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Detection: boxes, IoU, anchors
#
# A detector answers with boxes. A box here is `(x1, y1, x2, y2)`: its left, top, right and bottom
# edges in pixels. Whether a predicted box found an object is decided by the same ratio as
# before, now of box areas: **IoU** = overlap / (area₁ + area₂ − overlap). At 0.5 or more, it
# counts as found.

# %%
truth = test_scenes.boxes[0][:1]                                  # the first object of a held-out scene
guesses = truth + np.array([[0, 0, 0, 0], [3, 0, 3, 0], [6, 6, 6, 6], [40, 0, 40, 0]])   # moved copies
for guess, value in zip(guesses, boxes.box_iou(truth, guesses)[0]):
    print(f"truth {truth[0].astype(int).tolist()}  guess {guess.astype(int).tolist()}  IoU {value:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Anchors: a detector as a dense classifier
#
# The detector's backbone shrinks the 64×64 scene to an 8×8 grid (stride 8). At every cell sit six
# **anchor boxes** (sides 16 and 28 pixels, width/height ratios ½, 1 and 2). For every anchor a
# 3×3 convolution predicts eleven class scores (background first) and four numbers that move and
# stretch the anchor onto the object. For training, `match_anchors` makes an anchor responsible for
# the object it overlaps with IoU ≥ 0.5 (and every object claims its best anchor); all other
# anchors should say "background".

# %%
detector = tiny_ssd()
scene = 0
classes, _ = boxes.match_anchors(detector.anchors, test_scenes.boxes[scene], test_scenes.labels[scene])
print(f"{len(detector.anchors)} anchors = 8 × 8 cells × {detector.per_anchor}; "
      f"{(classes > 0).sum()} of them are responsible for the {len(test_scenes.boxes[scene])} objects of this scene")
cells = sorted({int(i) // detector.per_anchor for i in np.flatnonzero(classes > 0)})

# %% slideshow={"slide_type": "subslide"}
viz.show_anchors(test_scenes.images[scene], detector.anchors, detector.per_anchor, cells,
                 test_scenes.boxes[scene], np.flatnonzero(classes > 0))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Training the tiny single-shot detector
#
# One forward pass gives all 384 predictions at once, hence "single shot" (the SSD idea, Liu et
# al. 2016). The loss adds the cross-entropy of the anchor classes and a smooth L1 loss on the box
# offsets of the responsible anchors. Nearly all anchors are background, so only the background
# anchors the network finds hardest count (three per responsible anchor, *hard negative mining*).

# %%
det_run = ch09.train_detector(train_scenes, **DETECTOR)
print(f"{det_run.steps} steps of 32 scenes in {det_run.seconds:.1f} s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Non-maximum suppression
#
# Neighbouring anchors all fire on the same garment. **NMS** keeps the highest-scoring box, drops
# every box of the same class that overlaps it by IoU > 0.45, and repeats with the next box that
# is left.

# %%
images = ch09.scene_images(test_scenes[:1])
raw = detect(det_run.model, images, score_threshold=0.2, iou_threshold=1.0)[0]   # IoU > 1 never: no NMS
kept = detect(det_run.model, images, score_threshold=0.2)[0]
print(f"boxes with a class score of at least 0.2: {len(raw.boxes)} before NMS, {len(kept.boxes)} after; "
      f"objects in the scene: {len(test_scenes.boxes[0])}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Precision, recall and mAP@0.5
#
# Sort all detections of a class by score. Walking down the list, **precision** is the share of
# detections so far that found an object (IoU ≥ 0.5 with an object not found before), **recall**
# the share of objects found so far. The area under the precision–recall curve is the class's
# **average precision** (sampled at 101 recall levels, as COCO does); its mean over the classes is
# **mAP@0.5**. (`tests/test_boxes.py` checks these numbers against `pycocotools`, the COCO
# evaluation, on the same boxes.)

# %%
det, found = ch09.detection_scores(det_run.model, test_scenes)
strict = boxes.mean_average_precision([d.boxes for d in found], [d.scores for d in found],
                                      [d.labels for d in found], test_scenes.boxes, test_scenes.labels, 0.75)
print(f"mAP@0.5 on {len(test_scenes):,} held-out scenes: {det.map:.3f}   (mAP@0.75, tighter boxes: {strict.map:.3f})")
print("AP per class:", ", ".join(f"{names[c]} {ap:.2f}" for c, ap in det.ap.items()))

# %% slideshow={"slide_type": "subslide"}
viz.plot_precision_recall(det.curves, det.ap, names, title=f"precision–recall at IoU 0.5 (mAP {det.map:.3f})")
plt.show()

# %% slideshow={"slide_type": "subslide"}
viz.show_detections(test_scenes.images, found, test_scenes.boxes, test_scenes.labels, names, n=5)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > The NMS cell is a good moment to ask what would happen with a threshold of 0.1 (objects that
# > stand close together suppress each other) or 0.9 (duplicates survive and count as false
# > positives, lowering precision). mAP rewards both finding everything and ranking well.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Sound as an image
#
# A recording is a long row of numbers, here 8,000 per second. The **short-time Fourier
# transform** cuts it into overlapping frames (256 samples = 32 ms, every 128 samples), fades each
# frame in and out with a Hann window and takes its spectrum: frequency over time, an image. The
# **mel scale** then merges the 129 frequency bins into 40 bands, narrow at low frequencies and wide
# at high ones, as hearing does, and decibels follow loudness as we hear it.

# %%
words_train, words_test = data.load_spoken_words("train"), data.load_spoken_words("test")
waves, example = data.spoken_word_examples()
k = words_train.words.index("stop")
linear_db = audio.to_decibels(np.abs(audio.stft(waves[k], words_train.n_fft, words_train.hop)) ** 2)
mel_db = audio.to_decibels(audio.mel_spectrogram(waves[k], words_train.sample_rate, words_train.n_fft,
                                                 words_train.hop, words_train.n_mels))
print(f"{len(waves[k]):,} samples -> STFT {linear_db.shape} -> mel spectrogram {mel_db.shape}")
print("largest difference to the bundled spectrogram (stored in whole dB):",
      f"{np.abs(mel_db - words_train.spectrograms[example[k]]).max():.2f} dB")

# %% slideshow={"slide_type": "subslide"}
viz.plot_sound(waves[k], words_train.sample_rate, linear_db, mel_db, word="stop")
plt.show()

# %% slideshow={"slide_type": "subslide"}
viz.plot_mel_filterbank(audio.mel_filterbank(40, 256, 8000), 8000, every=2)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The data: synthesised words
#
# These are **not recordings of people**. The course ships 960 one-second clips of ten command
# words ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go") spoken by the eSpeak
# NG speech synthesiser in 96 voices (eight English accents × twelve voice variants), each clip at
# its own speed and pitch; `scripts/make_spoken_words.py` made them and can make them again. The
# test clips come from 16 voices the training clips never use. Synthetic speech is cleaner and
# more regular than real speech, so accuracies here are higher than they would be on recordings.

# %%
print(f"{len(words_train)} training clips ({len(set(words_train.voices))} voices), "
      f"{len(words_test)} test clips ({len(set(words_test.voices))} other voices); {words_train.synthesiser}")
viz.show_spectrograms(words_train.spectrograms, words_train.labels, words_train.words, title="one clip per word")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A CNN for spectrograms
#
# `spectrogram_cnn()` is three conv–pool stages, like a small VGG. The two axes are not treated
# alike at the end: the features are **averaged over time** (a word said later is the same word),
# but the 5 frequency rows stay apart and each has its own weights (the same shape at 500 Hz and
# at 2,000 Hz is a different sound).

# %%
sound_model, sound_history = ch09.train_spectrogram_cnn(words_train, words_test, **SOUND)
x_words, y_words = ch09.spectrogram_tensors(words_test)
print(f"{sound_history.epoch[-1]:.0f} epochs in {sound_history.seconds[-1]:.1f} s; "
      f"accuracy on the unheard voices: {sound_history.val_acc[-1]:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### A shift in time is not a shift in frequency
#
# Move every test spectrogram later or earlier in time (silence comes in), or up or down in
# frequency, and measure the accuracy again. One frame is 16 ms; one band is about 1/40 of the
# mel range.

# %%
shifts = list(range(-12, 13, 4))
curves = {"time (frames)": ch09.shift_accuracy(sound_model, x_words, y_words, shifts, "time"),
          "frequency (mel bands)": ch09.shift_accuracy(sound_model, x_words, y_words, shifts, "frequency")}
for label, accuracy in curves.items():
    print(f"{label:<22}" + "  ".join(f"{s:+d}: {a:.2f}" for s, a in zip(shifts, accuracy)))

# %% slideshow={"slide_type": "subslide"}
viz.plot_shift_curves(shifts, curves, "shift", title="spoken words: accuracy under shifts", chance=0.1)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# What to expect (the contrast is sharp after the full run; quick mode trains two passes only):
# along time the network shrugs off shifts until the word starts to leave the clip, because
# convolution is equivariant and the average over time forgets *when*. Along frequency, a shift
# moves every formant to a place that means something else, and the network, built to read
# frequency positions, loses the word. For data augmentation that means: shift sounds in time
# freely; shift them in frequency only a little (a slightly higher or lower voice), if at all.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where translation invariance breaks
#
# "A CNN does not care where a pattern is" — lesson 04 already saw that the fully connected head
# cares. But even a network without any fully connected layer over positions (convolutions, then
# global average pooling) can learn absolute position, from the **padding**: near the border a
# filter sees zeros, and layer by layer that difference spreads inwards (Kayhan & van Gemert,
# *On Translation Invariance in CNNs*, CVPR 2020).
#
# The test: the same patch (a shrunken Fashion-MNIST item) at two places, top left (class 0) or
# half the canvas lower and to the right (class 1). The content is identical, only the place
# differs.

# %%
x_pos, y_pos = ch09.position_task(POSITION["pairs"], "train", source=SOURCE, seed=0)
x_pos_test, y_pos_test = ch09.position_task(200, "test", source=SOURCE, seed=1)
print(f"{len(x_pos)} training images ({POSITION['pairs']} patches, each at both places), {len(x_pos_test)} test images")

# %% slideshow={"slide_type": "subslide"}
viz.show_position_pairs(x_pos_test, n=6)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Two copies of one network (`global_pool_cnn`: three 3×3 conv stages, max pools, global average
# pooling, a linear layer) differ only in their padding: **zeros**, as usual, or **circular**, which
# wraps the image around like a torus so that there is no border at all.

# %%
runs = ch09.position_experiment((x_pos, y_pos), (x_pos_test, y_pos_test), epochs=POSITION["epochs"],
                                max_seconds=POSITION["max_seconds"])
runs

# %%
for name in ("zero padding", "circular padding"):
    print(f"{name:<17} test accuracy {runs[name].test_acc:.3f}; largest logit difference between the two "
          f"images of a pair: {ch09.pair_gap(runs[name].model, x_pos_test):.2g}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# With circular padding every layer commutes with a circular shift (by a multiple of the pools'
# stride), and the global average forgets it: the two images of a pair get the same logits, up to
# rounding, so no training can beat a coin toss. With zero padding the network has a way to tell
# the places apart, and it finds it.
#
# **What it means.** When position carries no label information, being able to read it is a
# shortcut to over-fitting: with little data a network may tie a class to where its examples
# happened to sit. Two remedies: take the shortcut away by design (circular padding, or the
# paper's *full* convolution, which pads so that every filter tap reaches every pixel; the paper
# found it more data-efficient on small data), or make position useless with augmentation (random
# shifts and crops, lesson 05), which needs more data and training. When position *does* matter
# (a face's eyes are above its mouth; in a spectrogram, frequency), zero padding and fully
# connected layers help.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Before running the experiment, ask: "can a network with only convolutions and a global average
# > tell the two classes apart?" Most people say no. The zero-padding result usually surprises; the
# > circular result is exact, and the printed logit gap (around 1e-7) shows it is arithmetic, not
# > luck.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## More places where CNNs work
#
# **Face recognition.** A CNN maps each face to an embedding, a vector of, say, 128 numbers, and
# is trained (with a triplet or margin loss) so that two photos of the same person land close
# together and photos of different people far apart (FaceNet, 2015). Recognising a new person then
# needs one photo and a distance, not a new class in the last layer.
#
# **Medical imaging.** The U-Net was invented for microscope images of cells, and encoder–decoders
# like it segment organs and tumours in CT and MRI scans, often in 3-D. Labelled data is scarce and
# expensive (an expert must draw every mask), so transfer learning, heavy augmentation and careful
# validation across hospitals and scanners matter as much as the architecture.
#
# **Video.** A 3-D convolution slides its kernel over time as well as height and width, so a unit
# sees motion: a 3×3×3 kernel over a clip of frames (C3D, I3D). It costs a factor of the kernel's
# depth more than a 2-D one, which is why many video networks factor it into a 2-D spatial and a
# 1-D temporal convolution.

# %%
clip = torch.zeros(1, 3, 8, 32, 32)               # (N, C, T, H, W): 8 RGB frames of 32×32
conv3d = nn.Conv3d(3, 16, kernel_size=3, padding=1)
print("3-D convolution:", tuple(clip.shape), "->", tuple(conv3d(clip).shape),
      f"with {sum(p.numel() for p in conv3d.parameters()):,} parameters = 16·3·3·3·3 + 16")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. A transposed convolution with kernel 4, stride 2 and padding 1 receives a 7×7 map. How large
#    is its output? Which of kernel 3 or kernel 4 (both stride 2) leaves a checkerboard of stamp
#    counts?
# 2. What is the IoU of the boxes (0, 0, 4, 4) and (2, 2, 6, 6)?
# 3. Your segmentation network reaches 97 % pixel accuracy on scenes that are 90 % background. Is it
#    good? What would you look at instead?
# 4. Why can the circular-padding network not beat 50 % on the position task, however long it
#    trains? Would random horizontal shifts in training help the *zero*-padding network on a task
#    where position must not matter?
# 5. Why does the spectrogram CNN average over time but keep the frequency rows apart?
#
# Think first, then run the cell.

# %%
print("1.", conv_transpose_output_size(7, 4, stride=2, padding=1), "pixels;",
      "kernel 3:", ch09.unevenness(ch09.stamp_counts(7, 3, 2), 2), "vs kernel 4:",
      ch09.unevenness(ch09.stamp_counts(7, 4, 2, padding=1), 2), "(largest / smallest count)")
print("2.", boxes.box_iou([[0, 0, 4, 4]], [[2, 2, 6, 6]])[0, 0], "= 4 / (16 + 16 − 4)")

# %% [markdown]
# <details><summary>Answers to 3–5</summary>
#
# 3. Not necessarily: answering "background" everywhere already scores 90 %. Look at the IoU of each
#    class and their mean, and at the classes with the lowest IoU.
# 4. Every layer commutes with the circular shift that maps one place onto the other, and the
#    global average forgets where the result sits: both images of a pair get the same logits.
#    Yes: if the place of an object varies at random in training, position stops predicting the
#    label, so the network has no reason to use it (it needs enough data to learn that).
# 5. A word said later is the same word (time shifts should not matter), but the same pattern at a
#    different frequency is a different sound (frequency positions carry meaning).
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A **transposed convolution** grows a map: stamps of the kernel, `stride` apart, summed. Its
#   size is (n − 1)·s − 2p + d(k − 1) + output_padding + 1; a kernel that is not a multiple of the
#   stride covers pixels unevenly (checkerboards).
# - **Segmentation** labels every pixel: an encoder sees the whole object, dilated convolutions
#   widen its view, a decoder with transposed convolutions and **skip connections** restores the
#   outline. Score it with **IoU per class and mean IoU**, not pixel accuracy.
# - **Detection** predicts, for every anchor box, a class and a box correction; training matches
#   anchors to objects by IoU, testing removes duplicates with **NMS**, and **mAP@0.5** averages the
#   area under each class's precision–recall curve.
# - **Sound** becomes an image through the STFT and the mel scale; time shifts should not matter,
#   frequency positions do, and the network's pooling should say so.
# - **Translation invariance** is not free: zero padding lets a CNN learn absolute position;
#   circular (or full) convolution takes that away, augmentation makes it useless.
# - CNNs also recognise faces (embeddings), segment medical scans (U-Nets), and watch video (3-D
#   convolutions).
