"""Log-probabilities without the whole logits tensor: the output head applied chunk by chunk.

A causal LM's last layer turns hidden states ``[B, T, H]`` into logits ``[B, T, V]``; with a 128k vocabulary that
tensor, its float32 log-softmax and their gradients dominate the memory of a training step. Here the forward stops
before the head (``deferred.model_output``), the rows that predict a target are gathered (``[N, H]``, N target
tokens), and each loss or statistic is computed over chunks of those rows: at most ``chunk_rows(V)`` rows of logits
exist at once, in the forward and in the backward pass (``functions``: an autograd function that recomputes each
chunk's logits in the backward pass instead of keeping them). Results equal the full-logits path up to float
rounding (tested to 1e-5).

``UNLEARN_LOGITS_CHUNK_MB`` sets the float32 size of one chunk of logits (default 64); ``0`` turns chunking off, so
every loss and statistic runs on the model's whole logits (the reference path the chunked one is tested against).
"""
