"""Each lesson's experiments: the code that exists to produce one lesson's tables and measurements.

One module per lesson, named like the lesson's exercises in ``cnnlab.checks`` and its notebook
in ``notebooks/``: ``ch04`` goes with ``checks/ch04.py`` and ``notebooks/04_lenet.py``. A lesson
imports its module (``from cnnlab.experiments import ch07``); what several lessons reuse lives
in a library module instead (``cnnlab.variants``, ``cnnlab.train``, ``cnnlab.viz``, ...).

- ``ch04``: the translation test, how accuracy falls as test images move (lesson 04).
- ``ch06``: gradient norms layer by layer, with and without shortcuts (lesson 06).
- ``ch07``: learning curves of training from scratch, frozen features and fine-tuning (lesson 07).
- ``ch08``: six landmark networks measured on one table (lesson 08).
"""
