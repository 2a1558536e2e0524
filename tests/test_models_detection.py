"""The tiny single-shot detector of lesson 09: outputs per anchor, the loss with hard negatives, decoding."""

import numpy as np
import pytest
import torch

from cnnlab.models import Detections, detect, detection_loss, tiny_ssd


def test_tiny_ssd_predicts_per_anchor():
    net = tiny_ssd().eval()
    logits, offsets = net(torch.randn(3, 1, 64, 64))
    assert net.anchors.shape == (8 * 8 * 6, 4)
    assert logits.shape == (3, 384, 11) and offsets.shape == (3, 384, 4)
    with pytest.raises(ValueError, match="multiple of 8"):
        tiny_ssd(image_size=60)


def test_detection_loss_mines_three_negatives_per_positive():
    torch.manual_seed(0)
    logits, offsets = torch.randn(2, 50, 4), torch.zeros(2, 50, 4)
    classes = torch.zeros(2, 50, dtype=torch.long)
    classes[0, [3, 7]] = torch.tensor([1, 2])                                # two objects in image 0, none in 1
    targets = torch.zeros(2, 50, 4)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), classes.flatten(), reduction="none").view(2, 50)
    background = ce.masked_fill(classes > 0, -1)
    expected = (ce[0, [3, 7]].sum() + background[0].topk(6).values.sum() + background[1].topk(3).values.sum()) / 2
    assert torch.isclose(detection_loss(logits, offsets, classes, targets), expected)
    targets[0, 3] = torch.tensor([1.0, 0, 0, 0])                             # a box off by one anchor width
    assert torch.isclose(detection_loss(logits, offsets, classes, targets), expected + 0.5 / 2)


def test_detect_decodes_the_confident_anchors():
    net = tiny_ssd().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()                                                        # features 0: the head says its bias
        bias = net.head.bias.view(net.per_anchor, 11 + 4)                    # per anchor: 11 scores, 4 offsets
        bias[:, 0] = 10.0                                                    # every anchor: background …
        bias[1, 0], bias[1, 4] = 0.0, 10.0                                   # … but the 16×16 one says class 3
    found = detect(net, torch.zeros(1, 1, 64, 64), score_threshold=0.5)[0]
    assert isinstance(found, Detections)
    # the 16×16 anchor of every cell fires; neighbours overlap by IoU 8/24 < 0.45, so all 64 survive NMS
    assert len(found.boxes) == 64 and set(found.labels.tolist()) == {3}
    np.testing.assert_allclose(np.sort(found.boxes, axis=0), np.sort(net.anchors[1::6], axis=0), atol=1e-5)
    np.testing.assert_allclose(found.scores, np.exp(10) / (np.exp(10) + 10), rtol=1e-5)
