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
# # 01 · Convolution by hand
#
# **In this notebook you will**
# - slide a 3×3 kernel over a 5×5 image by hand and get the lesson's worked numbers;
# - tell cross-correlation from convolution, and see which one deep learning uses;
# - add stride, zero padding, several input channels and several filters; meet 1×1 convolutions;
# - run edge, blur and sharpen kernels on a real photo, and watch a kernel being *learned*;
# - see why convolution is *equivariant* to shifts and how pooling adds some *invariance*;
# - count why sharing one small kernel beats a fully connected layer on images.

# %% slideshow={"slide_type": "skip"}
import numpy as np
import matplotlib.pyplot as plt
import torch

from cnnlab import layers, viz, widgets
from cnnlab.data import photo_gray

np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why not connect every pixel to every unit?
#
# A fully connected layer gives every unit its own weight for every input value. On a
# 224×224 RGB image that is 150,528 inputs, so 1,000 hidden units need about 150 million
# weights. A convolutional layer instead has each unit look at a small patch (**local
# connectivity**) and uses the same few weights at every position (**parameter sharing**).

# %%
inputs = 224 * 224 * 3
fc_weights = inputs * 1_000
print(f"fully connected: {inputs:,} inputs × 1,000 units = {fc_weights:,} weights")
per_neuron_fc, per_filter = 100 * 100, 3 * 3
print(f"100×100 grey image: {per_neuron_fc:,} weights per fully connected unit, "
      f"{per_filter} for a 3×3 filter shared over every position")

# %% slideshow={"slide_type": "skip"}
assert inputs == 150_528 and round(fc_weights / 1e6) == 151
assert per_neuron_fc == 10_000 and per_filter == 9

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The sliding window
#
# Place the kernel on the top-left corner of the image, multiply the overlapping numbers
# element by element, add them up (plus a bias $b$): that is one output value. Slide one
# step to the right (the **stride**) and repeat; at the end of a row, go down one step.
#
# $$Y[i, j] = \sum_m \sum_n X[i + m,\; j + n]\, W[m, n] + b$$
#
# The lesson's image has rows `1 2 3 4 5` and `6 7 8 9 0`, alternating; the kernel
# subtracts the right column from the left one: it responds to **vertical edges**.

# %%
x = viz.EXAMPLE_IMAGE          # (5, 5)
w = viz.EDGE_KERNEL            # (3, 3): rows (1 0 −1)
print(x, w, sep="\n\n")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The first position, by hand: the window is the top-left 3×3 block.

# %%
window = x[0:3, 0:3]           # (3, 3)
products = window * w          # element by element
print(products)
print("sum =", products.sum())

# %% slideshow={"slide_type": "skip"}
assert products.sum() == -6    # (1 + 6 + 1) − (3 + 8 + 3)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same step as a picture: the window on the input (larger numbers are brighter), the
# kernel, the products, and the output cell being filled.

# %%
viz.plot_conv_step(x, w, 0, 0)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The interactive version: drag the slider to move the window (it needs a running kernel; in
# an exported page only the picture above shows).

# %%
widgets.conv_stepper(x, w)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The whole feature map
#
# Doing this at every position is four lines of loops. The result is a 3×3 **feature map**:
# a 3×3 kernel fits at 5 − 3 + 1 = 3 positions along each axis.

# %%
def conv_single(x, w):
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))       # (OH, OW)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * w)
    return out


y = conv_single(x, w)
print(y)

# %% slideshow={"slide_type": "skip"}
assert y[0, 0] == -6 and y.shape == (3, 3)

# %% [markdown] slideshow={"slide_type": "subslide"}
# `cnnlab.layers.conv2d_naive` is the same loop for whole batches (N, C, H, W) with many
# filters (F, C, KH, KW); our 2-D case is N = C = F = 1.

# %%
y_package = layers.conv2d_naive(x[None, None], w[None, None], np.zeros(1))[0, 0]   # (3, 3)
print("the same as our loop:", np.array_equal(y, y_package))
viz.plot_conv_result(x, w, y, "the first example")
plt.show()

# %% slideshow={"slide_type": "skip"}
assert np.array_equal(y, y_package)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Columns 0 and 1 of the output are −6 everywhere: along each image row the values grow
# from left to right there, so "left minus right" is negative. Output column 2 covers image
# columns 2–4, where the rows `6 7 8 9 0` drop from 9 to 0: now the right side is darker
# (the black 0s in the picture) and the sign flips, most strongly (14) in the middle row,
# whose window holds two such rows. The kernel has found where the vertical pattern changes.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A second example
#
# Same kernel, another 5×5 image (rows `1 2 0 3 1`, `4 5 6 7 8`, `1 0 1 2 1`, `0 1 3 4 0`,
# `3 4 5 1 2`): again a 3×3 feature map.

# %%
x2 = viz.EXAMPLE_IMAGE_2
y2 = conv_single(x2, w)
print(y2)

# %% slideshow={"slide_type": "skip"}
assert y2.shape == (3, 3)
assert np.array_equal(y2, [[-1, -5, -3], [-5, -7, 1], [-5, -2, 6]])
assert np.array_equal(y2, layers.conv2d_naive(x2[None, None], w[None, None], np.zeros(1))[0, 0])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Cross-correlation or convolution?
#
# In mathematics, *convolution* flips the kernel by 180° before sliding it:
# $Y[i, j] = \sum_m \sum_n X[i + m, j + n]\, W[K-1-m, K-1-n]$. What we computed above,
# without the flip, is **cross-correlation**. Deep-learning libraries compute
# cross-correlation and call it convolution. Nothing is lost: the kernel is learned, so a
# network that needed the flipped kernel simply learns it flipped.

# %%
w_flipped = w[::-1, ::-1]                          # rotate 180°: rows (−1 0 1)
true_convolution = conv_single(x, w_flipped)
print("cross-correlation Y[0, 0] =", y[0, 0], "   true convolution Y[0, 0] =", true_convolution[0, 0])
print("flipping this kernel only changes the sign:", np.array_equal(true_convolution, -y))

# %% slideshow={"slide_type": "skip"}
assert np.array_equal(true_convolution, -y)

# %% [markdown] slideshow={"slide_type": "fragment"}
# PyTorch's `conv2d` does not flip: it gives exactly our cross-correlation.

# %%
torch_y = torch.nn.functional.conv2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])
print("torch equals our cross-correlation:", np.array_equal(torch_y[0, 0].numpy(), y))

# %% slideshow={"slide_type": "skip"}
assert np.array_equal(torch_y[0, 0].numpy(), y)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Stride and zero padding
#
# - **Stride** s: move the window s pixels at a time. The output shrinks roughly by s.
# - **Zero padding** p: add p rings of zeros around the image first. With p = 1 a 3×3 kernel
#   keeps a 5×5 image 5×5 ("same" padding), and border pixels get used as often as the others.
#
# Lesson 02 turns this into a formula; here we just count.

# %%
for stride, padding in [(1, 0), (1, 1), (2, 0), (2, 1)]:
    out = layers.conv2d_naive(x2[None, None], w[None, None], np.zeros(1), stride=stride, padding=padding)
    print(f"stride {stride}, padding {padding}: output {out.shape[2]}×{out.shape[3]}")

# %% slideshow={"slide_type": "skip"}
for stride, padding in [(1, 0), (1, 1), (2, 0), (2, 1)]:
    out = layers.conv2d_naive(x2[None, None], w[None, None], np.zeros(1), stride=stride, padding=padding)
    assert out.shape[2:] == ((5 + 2 * padding - 3) // stride + 1,) * 2

# %% [markdown] slideshow={"slide_type": "subslide"}
# Stride 2 with padding 1: the window jumps two cells at a time over the padded image.

# %%
viz.plot_conv_step(x2, w, 1, 1, stride=2, padding=1)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The stepper takes the same arguments:

# %%
widgets.conv_stepper(x2, w, stride=2, padding=1)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Several input channels
#
# A colour image has 3 channels. A filter then has one 3×3 slice **per input channel**
# (3×3×3 = 27 weights): each slice is slid over its own channel, and the results are
# **summed** into one feature map, plus one bias.

# %%
rng = np.random.default_rng(0)
rgb = rng.integers(0, 10, size=(3, 5, 5)).astype(float)       # (C, H, W)
filt = rng.integers(-1, 2, size=(3, 3, 3)).astype(float)      # (C, KH, KW): one filter
bias = 0.5
by_channel = sum(conv_single(rgb[c], filt[c]) for c in range(3)) + bias   # (3, 3)
package = layers.conv2d_naive(rgb[None], filt[None], np.array([bias]))    # (1, 1, 3, 3)
print(by_channel)
print("conv2d_naive agrees:", np.allclose(by_channel, package[0, 0]))

# %% slideshow={"slide_type": "skip"}
assert np.allclose(by_channel, package[0, 0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Several filters
#
# A layer has many filters; each gives one feature map. With F filters of shape (C, KH, KW)
# the output has F channels, whatever C was. Here F = 4 filters on the RGB patch:

# %%
filters = rng.standard_normal((4, 3, 3, 3))                   # (F, C, KH, KW)
maps = layers.conv2d_naive(rgb[None], filters, np.zeros(4))   # (1, F, OH, OW)
print("input", rgb.shape, "→ output", maps.shape[1:], "; weights:", filters.size, "+ 4 biases")

# %% slideshow={"slide_type": "skip"}
assert maps.shape == (1, 4, 3, 3)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1×1 convolutions: mixing channels per pixel
#
# A 1×1 kernel sees a single pixel, but all its channels. So a 1×1 convolution computes,
# at every pixel separately, a weighted sum of the channels: a small fully connected layer
# applied to each pixel's channel vector. Networks use it to change the number of channels
# cheaply (GoogLeNet, ResNet's bottlenecks).

# %%
mix = rng.standard_normal((2, 3))                                       # (F, C)
out_1x1 = layers.conv2d_naive(rgb[None], mix[:, :, None, None], np.zeros(2))[0]   # (F, H, W)
per_pixel = np.einsum("fc,chw->fhw", mix, rgb)                          # the same, pixel by pixel
print("pixel (0, 0):", rgb[:, 0, 0], "→", out_1x1[:, 0, 0], "=", mix @ rgb[:, 0, 0])

# %% slideshow={"slide_type": "skip"}
assert np.allclose(out_1x1, per_pixel)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Kernels on a real photo
#
# The same arithmetic on a 600×512 photo (Grace Hopper, shipped with matplotlib). Each
# kernel below was designed by hand: the box blur averages a neighbourhood, sharpen adds
# the difference from the neighbours back, Sobel kernels respond to vertical or horizontal
# edges, the Laplacian to edges in any direction. Zero padding keeps the size.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Each panel shows its kernel's nine numbers in the corner:

# %%
photo = photo_gray("grace_hopper")                  # (600, 512), values in [0, 1]
viz.plot_kernels_on_photo(photo, ncols=4)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Try your own numbers: edit the nine values (or pick a preset) and the feature map
# updates. Kernels whose numbers sum to 0 erase flat regions and keep edges; kernels
# summing to 1 keep the brightness. The picture below is the starting point of the editor.

# %%
viz.plot_kernel_on_photo(photo[::2, ::2], viz.KERNELS["Sobel x (vertical edges)"])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The kernel editor (it needs a running kernel):

# %%
widgets.kernel_editor(photo)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A learned filter is such a kernel
#
# A CNN's filters are exactly these 3×3 arrays; the only difference is where the numbers
# come from. Here we *learn* one: start from zeros and let gradient descent fit the kernel so
# that its output matches the Sobel edge map of the photo. (How the gradient is computed is
# lesson 03; `conv2d_backward` does it.) The data alone brings back the Sobel numbers.

# %%
small = photo[::4, ::4]                                           # (150, 128): quicker
target = viz.filter_image(small, viz.KERNELS["Sobel x (vertical edges)"])
kernel, velocity = np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3))
for step in range(400):
    out, cache = layers.conv2d_forward(small[None, None], kernel, np.zeros(1), padding=1)
    error = out[0, 0] - target                                   # (150, 128)
    _, grad, _ = layers.conv2d_backward(2 * error[None, None] / error.size, cache)
    velocity = 0.9 * velocity + grad                             # gradient descent with momentum
    kernel -= 0.5 * velocity
print("learned kernel:\n", kernel[0, 0].round(3) + 0.0)        # + 0.0 prints a rounded -0.0001 as 0

# %% slideshow={"slide_type": "skip"}
assert np.allclose(kernel[0, 0], viz.KERNELS["Sobel x (vertical edges)"], atol=0.05)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Feature maps of a layer
#
# Put the six hand-designed kernels into one `torch.nn.Conv2d` layer with six filters,
# follow it by ReLU and 2×2 max pooling, and run the photo through it. Each filter gives one
# channel of the output, named here after its kernel.

# %%
bank = torch.nn.Conv2d(1, len(viz.KERNELS), kernel_size=3, padding=1, bias=False)
with torch.no_grad():
    bank.weight.copy_(torch.tensor(np.stack(list(viz.KERNELS.values())))[:, None])
net = torch.nn.Sequential(bank, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
maps = viz.feature_maps(net, photo[None, None, ::2, ::2])          # name -> (C, H, W)
first = next(iter(maps))
viz.plot_feature_maps(maps[first], ncols=6, title=f"{first}: one channel per kernel", labels=list(viz.KERNELS))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The viewer lets you pick a layer (the convolution, the ReLU, the pooling) and a channel:

# %%
widgets.feature_map_viewer(maps, channel_names=list(viz.KERNELS))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Translation equivariance
#
# Because the same kernel is used everywhere, shifting the input shifts the output by the
# same amount: convolution is **equivariant** to translation. An edge detector finds an edge
# wherever it is. (Away from the borders, where zero padding differs, this holds exactly.)

# %%
crop = photo[200:300, 150:250]                                    # (100, 100)
shift = (3, 5)
moved_then_filtered = viz.filter_image(np.roll(crop, shift, axis=(0, 1)), w)
filtered_then_moved = np.roll(viz.filter_image(crop, w), shift, axis=(0, 1))
inner = (slice(10, -10), slice(10, -10))
print("conv(shift(x)) == shift(conv(x)) away from the borders:",
      np.allclose(moved_then_filtered[inner], filtered_then_moved[inner]))

# %% slideshow={"slide_type": "skip"}
assert np.allclose(moved_then_filtered[inner], filtered_then_moved[inner])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Pooling adds some invariance
#
# Max pooling keeps the largest value of each 2×2 block. A shift that stays **inside** the
# pooling blocks changes nothing after pooling: the output is **invariant** to it. A larger
# shift moves the pooled map too. Below, a short vertical bar moves one pixel to the right.

# %% slideshow={"slide_type": "subslide"}
bar = np.zeros((8, 8))
bar[2:5, 1] = 1.0                                                   # a vertical bar in column 1
viz.plot_shift_demo(bar, w, shift=(0, 1), pool=2)
plt.show()


# %% [markdown] slideshow={"slide_type": "subslide"}
# The same in numbers: pool the feature map of the bar, shifted by 1 and by 2 pixels.

# %%
def pooled(image):
    fmap = viz.filter_image(image, w)[None, None]                   # (1, 1, 8, 8)
    return layers.maxpool2d_forward(fmap, 2)[0][0, 0]               # (4, 4)


print("1-pixel shift, same pooled map:", np.array_equal(pooled(bar), pooled(np.roll(bar, 1, axis=1))))
print("2-pixel shift, the pooled map moves by one cell:",
      np.array_equal(np.roll(pooled(bar), 1, axis=1), pooled(np.roll(bar, 2, axis=1))))

# %% slideshow={"slide_type": "skip"}
assert np.array_equal(pooled(bar), pooled(np.roll(bar, 1, axis=1)))                       # invariant
assert np.array_equal(np.roll(pooled(bar), 1, axis=1), pooled(np.roll(bar, 2, axis=1)))   # moves by a block

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check: our convolution equals PyTorch's
#
# `conv2d_naive` on a random batch with several channels, filters, a stride and padding,
# against `torch.nn.functional.conv2d`:

# %%
xb = rng.standard_normal((2, 3, 9, 7))                           # (N, C, H, W)
wb, bb = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)   # (F, C, KH, KW), (F,)
ours = layers.conv2d_naive(xb, wb, bb, stride=2, padding=1)
theirs = torch.nn.functional.conv2d(torch.tensor(xb), torch.tensor(wb), torch.tensor(bb), stride=2, padding=1)
print("conv2d_naive == torch.nn.functional.conv2d:", np.allclose(ours, theirs.numpy(), atol=1e-12), ours.shape)

# %% slideshow={"slide_type": "skip"}
assert np.allclose(ours, theirs.numpy(), atol=1e-12)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. What is $Y[1, 2]$ of the first example? Work it out by hand, then compare with `y[1, 2]`.
# 2. A 5×5 kernel on a 5×5 image with no padding: how big is the output?
# 3. An RGB image and 16 filters of 3×3: how many weights and biases?
# 4. Why does flipping the kernel not matter for a network that learns its kernels?
# 5. Which of these kernels keeps the average brightness: box blur, sharpen, Sobel?
#
# <details><summary>Answers</summary>
#
# 1. Rows 1–3, columns 2–4: (8 + 3 + 8) − (0 + 5 + 0) = 14.
# 2. 1×1: the kernel fits in one position only.
# 3. 16 × (3·3·3) = 432 weights and 16 biases: 448 parameters.
# 4. Learning would simply find the flipped numbers; the set of functions is the same.
# 5. Box blur and sharpen (their numbers sum to 1); Sobel sums to 0.
# </details>

# %% slideshow={"slide_type": "skip"}
assert y[1, 2] == 14

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A convolution slides a small kernel over the image; each output is a sum of products
#   plus a bias. Deep learning uses cross-correlation (no flip) and calls it convolution.
# - Stride skips positions, zero padding adds a border; several input channels are summed,
#   several filters give several feature maps; a 1×1 convolution mixes channels per pixel.
# - Hand-designed kernels blur, sharpen and find edges; a CNN learns such kernels from data.
# - Sharing one kernel over every position costs 9 weights instead of 10,000 per unit, and
#   makes the layer shift-equivariant; pooling adds a little shift invariance.
#
# Next: lesson 02 turns the counting into formulas (sizes, parameters, receptive fields).

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Do the first window on the board before showing the stepper: 1 + 6 + 1 − (3 + 8 + 3) = −6.
# > Then let the class predict Y[0, 2] (it is 4) before moving the slider. In the kernel editor,
# > start from the identity kernel and change only the centre value, then make the kernel sum
# > to 0 and ask why the face disappears but the outlines stay.
