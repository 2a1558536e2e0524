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
# # 03 · Backprop through convolution and pooling
#
# **In this notebook you will**
# - follow a forward pass input → conv → ReLU → pool → flatten → dense → softmax, and its cross-entropy loss;
# - derive the gradients of a convolution: the filter's (shared weights accumulate) and the
#   input's (a full convolution with the kernel rotated by 180°);
# - see where the gradient goes in max pooling (to the argmax) and average pooling (spread evenly);
# - meet the derivatives of ReLU, sigmoid and tanh;
# - check gradients numerically and against PyTorch's autograd, and read a relative error;
# - turn convolution into one matrix multiply (im2col), time it, and train a small CNN written in NumPy.

# %% slideshow={"slide_type": "skip"}
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import cnnlab
from cnnlab import layers, viz
from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.numpy_cnn import NumpyCNN, fashion_mnist_arrays, train_numpy_cnn

rng = np.random.default_rng(0)
np.set_printoptions(precision=3, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The forward pass
#
# A small CNN: a 3×3 convolution with 8 filters ("same" padding), ReLU, 2×2 max pooling,
# flatten, one fully connected layer to 10 class scores, then softmax and the
# **cross-entropy** loss $-\log p_{\text{true class}}$. Each layer returns its output and a
# *cache*: what its backward pass will need.

# %%
images, labels = fashion_mnist_arrays("train", "sample", limit=16)    # (16, 1, 28, 28), (16,)
net = NumpyCNN(num_filters=8, seed=0, dtype=np.float64)
p = net.params
out, conv_cache = layers.conv2d_forward(images, p["w1"], p["b1"], padding=1)   # (16, 8, 28, 28)
out, relu_cache = layers.relu_forward(out)
out, pool_cache = layers.maxpool2d_forward(out, 2)                             # (16, 8, 14, 14)
out, flat_cache = layers.flatten_forward(out)                                  # (16, 1568)
scores, fc_cache = layers.linear_forward(out, p["w2"], p["b2"])                # (16, 10)
loss, dscores = layers.softmax_cross_entropy(scores, labels)
print(f"scores {scores.shape}, loss {loss:.3f} (guessing uniformly over 10 classes: ln 10 = {np.log(10):.3f})")

# %% slideshow={"slide_type": "skip"}
assert np.allclose(scores, net.forward(images)[0])
assert abs(loss - np.log(10)) < 0.5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The backward pass
#
# The chain rule, layer by layer in reverse: each backward function receives $\partial L/\partial
# \text{out}$ (`dout`) and returns $\partial L/\partial \text{in}$, plus the gradients of its own
# parameters. Softmax with cross-entropy starts it with the simple $(p - \text{onehot}(y))/N$.
# This is all of `NumpyCNN.loss`:

# %%
print(inspect.getsource(NumpyCNN.loss))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Activations and their derivatives
#
# - **ReLU** $\max(0, z)$: derivative 1 for $z > 0$, 0 otherwise. Cheap, and it does not shrink
#   the gradient where it is active: the default choice.
# - **Sigmoid** $\sigma(z) = 1/(1 + e^{-z})$: derivative $\sigma(1-\sigma) \le 0.25$; far from 0 it saturates
#   and the gradient almost vanishes.
# - **tanh**: derivative $1 - \tanh^2 \le 1$; zero-centred, but it saturates too.

# %%
viz.plot_activations()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same at three points:

# %%
z = np.array([[-2.0, 0.5, 3.0]])
for name in ("relu", "sigmoid", "tanh"):
    value, cache = getattr(layers, f"{name}_forward")(z)
    print(f"{name:8s} f = {value.ravel()}   f' = {getattr(layers, f'{name}_backward')(np.ones_like(z), cache).ravel()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The gradient of the filter
#
# The forward pass was $Y[i,j] = \sum_{m,n} X[i+m, j+n]\, W[m,n] + b$. The weight $W[m,n]$ was
# used at **every** output position, so its gradient sums over all of them:
#
# $$\frac{\partial L}{\partial W[m,n]} = \sum_{i,j} \frac{\partial L}{\partial Y[i,j]}\, X[i+m, j+n] .$$
#
# That is the cross-correlation of the input with the upstream gradient: a convolution
# again. And $\partial L/\partial b = \sum_{i,j} \partial L/\partial Y[i,j]$.

# %%
x = viz.EXAMPLE_IMAGE[None, None]                    # (1, 1, 5, 5)
w = viz.EDGE_KERNEL[None, None]                      # (1, 1, 3, 3)
y, cache = layers.conv2d_forward(x, w, np.zeros(1))  # (1, 1, 3, 3)
dout = rng.integers(-2, 3, size=y.shape).astype(float)
dx, dw, db = layers.conv2d_backward(dout, cache)
dw_by_correlation = layers.conv2d_naive(x, dout, np.zeros(1))     # input ⋆ upstream gradient
print("dW:\n", dw[0, 0], "\ndb:", db)

# %% slideshow={"slide_type": "skip"}
assert np.allclose(dw, dw_by_correlation) and np.isclose(db[0], dout.sum())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The gradient of the input
#
# Each output $Y[i,j]$ came from one window of the input, so its gradient goes back to that
# window, weighted by the kernel: $dX[\text{window}(i,j)] \mathrel{+}= dY[i,j]\, W$. Summed over
# all windows, this equals the **full** convolution of $dY$ (padded with $k-1$ zeros) with the
# kernel **rotated by 180°**: backprop through a convolution is again a convolution.

# %%
viz.plot_conv_gradient_flow(w[0, 0], dout[0, 0], 1, 1)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The full convolution with the rotated kernel gives the same dx as the backward pass:

# %%
rotated = w[:, :, ::-1, ::-1]                                               # rotate 180°
dx_by_full_conv = layers.conv2d_naive(dout, rotated, np.zeros(1), padding=2)   # (1, 1, 5, 5)
print(dx[0, 0])
assert np.allclose(dx, dx_by_full_conv)
forgot_rotation = layers.conv2d_naive(dout, w, np.zeros(1), padding=2)
print(f"without the rotation: relative error {rel_error(forgot_rotation, dx):.2f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Pooling: where the gradient goes
#
# **Max pooling** passed on only the largest value of each window, so only that element
# affected the loss: the whole upstream gradient goes to it (the argmax), the others get 0.
# **Average pooling** gave every element a weight $1/k^2$, so each receives $1/k^2$ of the
# gradient. When windows **overlap** (stride < window), an element that belongs to several
# windows adds up their contributions. Here 3×3 windows with stride 2:

# %%
pool_x = np.array([[1, 0, 2, 1, 0],
                   [0, 3, 1, 0, 1],
                   [2, 1, 9, 1, 2],
                   [0, 1, 1, 4, 0],
                   [1, 0, 2, 0, 1]], dtype=float)      # the 9 sits in all four windows
pool_dout = np.array([[1.0, 2.0], [3.0, 4.0]])
viz.plot_pool_backward(pool_x, pool_dout, kernel_size=3, stride=2, kind="max")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Average pooling over the same windows:

# %%
viz.plot_pool_backward(pool_x, pool_dout, kernel_size=3, stride=2, kind="avg")
plt.show()

# %%
_, max_cache = layers.maxpool2d_forward(pool_x[None, None], 3, 2)
max_dx = layers.maxpool2d_backward(pool_dout[None, None], max_cache)[0, 0]
_, avg_cache = layers.avgpool2d_forward(pool_x[None, None], 3, 2)
avg_dx = layers.avgpool2d_backward(pool_dout[None, None], avg_cache)[0, 0]
assert max_dx[2, 2] == 1 + 2 + 3 + 4 and np.count_nonzero(max_dx) == 1     # four windows, one argmax
assert np.isclose(avg_dx[2, 2], 10 / 9) and np.isclose(avg_dx[0, 0], 1 / 9)
print("max pool: all 10 units of gradient on the 9; avg pool: the centre gets 10/9, a corner 1/9")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Gradient checking
#
# A backward pass can be subtly wrong and still train a little. The check: nudge each input
# entry by $\pm h$ and measure how the (weighted) output changes, the **centred difference**
#
# $$\frac{\partial L}{\partial x_i} \approx \frac{L(x + h e_i) - L(x - h e_i)}{2h},$$
#
# whose error shrinks like $h^2$. Then compare with the analytic gradient by the **relative
# error** $\max|a - b| / \max(|a| + |b|)$. In float64 with $h = 10^{-5}$:
#
# | relative error | verdict |
# |---|---|
# | $\le 10^{-7}$ | correct |
# | $10^{-7}$ … $10^{-4}$ | suspicious: look for kinks (ReLU at 0, max-pool ties) or float32 |
# | $\ge 10^{-2}$ | a bug |

# %%
def check_layer(name, forward, backward, inputs):
    """Numerical vs analytic gradient for every input of one layer; returns the worst relative error."""
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    analytic = backward(dout, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    worst = 0.0
    for k, grad in enumerate(analytic):
        def f(a, k=k):
            args = list(inputs)
            args[k] = a
            return forward(*args)[0]
        worst = max(worst, rel_error(numerical_gradient(f, inputs[k].copy(), dout), grad))
    print(f"{name:28s} worst relative error {worst:.1e}")
    return worst


# %% slideshow={"slide_type": "subslide"}
xs = rng.standard_normal((2, 3, 7, 7))
ws, bs = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
errors = [
    check_layer("conv (stride 2, padding 1)", lambda x, w, b: layers.conv2d_forward(x, w, b, 2, 1),
                layers.conv2d_backward, [xs, ws, bs]),
    check_layer("max pool 3×3, stride 2", lambda x: layers.maxpool2d_forward(x, 3, 2),
                layers.maxpool2d_backward, [xs]),
    check_layer("avg pool 3×3, stride 2", lambda x: layers.avgpool2d_forward(x, 3, 2),
                layers.avgpool2d_backward, [xs]),
    check_layer("ReLU", layers.relu_forward, layers.relu_backward, [xs]),
    check_layer("sigmoid", layers.sigmoid_forward, layers.sigmoid_backward, [xs]),
    check_layer("tanh", layers.tanh_forward, layers.tanh_backward, [xs]),
    check_layer("linear", layers.linear_forward, layers.linear_backward,
                [rng.standard_normal((5, 6)), rng.standard_normal((3, 6)), rng.standard_normal(3)]),
]

# %% slideshow={"slide_type": "skip"}
assert max(errors) < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# The loss itself, and the whole network's filter gradient, through every layer at once:

# %%
logits, targets = rng.standard_normal((6, 10)), rng.integers(0, 10, 6)
ce_numeric = numerical_gradient(lambda a: np.array(layers.softmax_cross_entropy(a, targets)[0]), logits, 1.0)
ce_error = rel_error(ce_numeric, layers.softmax_cross_entropy(logits, targets)[1])

net_w1 = net.params["w1"]
net_numeric = numerical_gradient(lambda a: np.array(net.loss(images[:4], labels[:4])[0]), net_w1, 1.0)
net_error = rel_error(net_numeric, net.loss(images[:4], labels[:4])[1]["w1"])
print(f"softmax cross-entropy: {ce_error:.1e}   whole network, conv filters: {net_error:.1e}")

# %% slideshow={"slide_type": "skip"}
assert ce_error < 1e-7 and net_error < 1e-6

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Against PyTorch's autograd
#
# The same gradients from torch, which differentiates its own `conv2d` and `max_pool2d`:

# %%
tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xs, ws, bs))
t_out = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1), 2, 1)
t_dout = rng.standard_normal(t_out.shape)
t_out.backward(torch.tensor(t_dout))

conv_out, conv_c = layers.conv2d_forward(xs, ws, bs, 2, 1)
pool_out, pool_c = layers.maxpool2d_forward(conv_out, 2, 1)             # overlapping 2×2 windows
ours = layers.conv2d_backward(layers.maxpool2d_backward(t_dout, pool_c), conv_c)
for name, mine, theirs in zip(("dx", "dw", "db"), ours, (tx.grad, tw.grad, tb.grad)):
    print(f"{name}: relative error {rel_error(mine, theirs.numpy()):.1e}")
    assert rel_error(mine, theirs.numpy()) < 1e-10

# %% [markdown] slideshow={"slide_type": "subslide"}
# What a wrong answer looks like on the same scale: the forgotten rotation above, and a
# correct gradient checked in float32 (where rounding, not the code, limits the agreement).

# %%
x32, w32 = xs.astype(np.float32), ws.astype(np.float32)
out32, c32 = layers.conv2d_forward(x32, w32, bs.astype(np.float32))
d32 = np.ones_like(out32)
num32 = numerical_gradient(lambda a: layers.conv2d_forward(a, w32, bs.astype(np.float32))[0], x32.copy(), d32, h=1e-2)
print(f"forgot the rotation: {rel_error(forgot_rotation, dx):.1e}   "
      f"float32 check: {rel_error(num32, layers.conv2d_backward(d32, c32)[0]):.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## im2col: convolution as one matrix multiply
#
# Copy every window of the input into a row of a matrix (**im2col**). Then each output value
# is a row of that matrix times a filter, and all of them at once are one matrix product:
# `cols (N·OH·OW, C·KH·KW) @ W (C·KH·KW, F)`. Below, a 4×4 input with 2×2 windows.

# %%
viz.plot_im2col(np.arange(16.0).reshape(4, 4), 2, 2)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# With a batch, channels and filters, the same product computes the whole layer:

# %%
xb, wb = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))
cols = layers.im2col(xb, 3, 3)                                   # (2·6·6, 3·3·3) = (72, 27)
out_mat = cols @ wb.reshape(4, -1).T                             # (72, 4)
out_mat = out_mat.reshape(2, 6, 6, 4).transpose(0, 3, 1, 2)      # (N, F, OH, OW)
assert np.allclose(out_mat, layers.conv2d_naive(xb, wb, np.zeros(4)))
print("cols", cols.shape, "→ output", out_mat.shape)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why it is fast.** The loop version runs the Python interpreter once per output value.
# After im2col the whole layer is one large matrix product, which an optimised BLAS library
# computes with vector instructions, cache blocking and every core. The price is memory: each
# input value is copied up to KH·KW times. The backward pass reuses it: `dW = dout_matᵀ @ cols`,
# and `col2im` adds the rows of `dout_mat @ W` back onto their windows to get dX.

# %%
def best_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


sizes = [8, 16, 24] if cnnlab.QUICK else [8, 16, 32, 48, 64]
seconds = {"loops (conv2d_naive)": [], "im2col (conv2d_forward)": []}
for n in sizes:
    xt, wt, bt = rng.standard_normal((4, 3, n, n)), rng.standard_normal((8, 3, 3, 3)), np.zeros(8)
    seconds["loops (conv2d_naive)"].append(best_time(lambda: layers.conv2d_naive(xt, wt, bt, padding=1)))
    seconds["im2col (conv2d_forward)"].append(best_time(lambda: layers.conv2d_forward(xt, wt, bt, padding=1)))
speedup = seconds["loops (conv2d_naive)"][-1] / seconds["im2col (conv2d_forward)"][-1]
print(f"{sizes[-1]}×{sizes[-1]}: im2col is {speedup:.0f}× faster than the loops")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Time against image size, on a log scale:

# %%
viz.plot_timing(sizes, seconds, title="conv 3→8 channels, 3×3, batch of 4")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Train the NumPy CNN
#
# Everything above, put together: `train_numpy_cnn` runs minibatch SGD with momentum on the
# Fashion-MNIST sample, using only `cnnlab.layers`. (Quick mode trains on 3,000 images for
# one pass; the full run uses all 6,000 sample images for three passes.)

# %%
quick = cnnlab.QUICK
model, history = train_numpy_cnn(epochs=1 if quick else 3, limit=3_000 if quick else None, batch_size=32,
                                  lr=0.01, seed=0)
print(f"{len(history['loss'])} steps in {history['seconds']:.1f} s; "
      f"test accuracy {history['test_accuracy'][-1]:.3f} (chance: 0.100)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The loss of every training step, and its mean over 10 steps:

# %%
losses = np.array(history["loss"])
smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")      # mean of 10 steps
plt.figure(figsize=(7, 3.4))
plt.plot(losses, alpha=0.3, label="batch loss")
plt.plot(np.arange(9, len(losses)), smooth, label="mean of 10 steps")
plt.xlabel("step")
plt.ylabel("cross-entropy")
plt.legend()
plt.show()

# %% slideshow={"slide_type": "skip"}
assert smooth[-1] < losses[0] and history["test_accuracy"][-1] > 0.5

# %% [markdown] slideshow={"slide_type": "subslide"}
# The loss starts at ln 10 ≈ 2.3 (a uniform guess) and does not fall at once: for the first few dozen
# steps it jumps around, often well above 2.3. The gradients of a fresh network are large and
# momentum adds them up, so the first steps overshoot; then the steps settle and the loss comes down.
# This run:

# %%
peak = int(losses.argmax())
print(f"loss {losses[0]:.2f} at the first step, highest {losses[peak]:.2f} at step {peak}, "
      f"{smooth[-1]:.2f} over the last 10 steps")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. A 3×3 filter is applied at 26×26 positions of one image. How many terms are summed in
#    each entry of its gradient dW?
# 2. Why is dX a convolution with the kernel rotated by 180°, and not with the kernel as it is?
# 3. In 2×2 max pooling with stride 2, what fraction of the input gets a non-zero gradient?
# 4. Your conv backward has relative error 3e-2 against the numerical gradient in float64. Bug or rounding?
# 5. What does im2col trade for its speed?
#
# <details><summary>Answers</summary>
#
# 1. 26 · 26 = 676: one per position where the weight was used.
# 2. Input pixel X[a, b] met kernel entry W[a − i, b − j] at output (i, j); summing over (i, j)
#    runs through the kernel backwards, which is correlation with the rotated kernel.
# 3. One in four (one argmax per window), ignoring ties.
# 4. A bug: correct float64 gradients agree to about 1e-7 or better.
# 5. Memory: every input value is copied up to KH·KW times into the column matrix.
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Forward: conv → activation → pool → … → flatten → dense → softmax, cross-entropy loss; each
#   layer caches what its backward pass needs, and backprop walks the layers in reverse.
# - dW = input ⋆ dout (shared weights accumulate over all positions); db = Σ dout;
#   dX = full convolution of dout with the kernel rotated 180°.
# - Max pooling routes the gradient to the argmax; average pooling spreads it evenly;
#   overlapping windows add up. ReLU passes the gradient where it was active; sigmoid and
#   tanh shrink it.
# - Check gradients with centred differences in float64: relative error ≤ 1e-7 is right,
#   ~1e-2 is a bug; compare with torch's autograd too.
# - im2col makes convolution one matrix multiply: many times faster than loops, at a memory cost.
#
# Next: lesson 04 trains LeNet with PyTorch.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Derive dW on the board for a 1-D convolution first (three weights, five inputs): each weight
# > appears in three products, so its gradient has three terms. Then show the gradient-flow
# > picture for dX before the rotated-kernel formula. For pooling, ask which element of the 5×5
# > gets gradient from all four windows before showing the figure.
