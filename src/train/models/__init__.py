"""Model plumbing under the method: loading, tiny init, prompt rendering, decoding, backends, log-probs.

The method modules (``train.sft``, ``train.vbi``, ``train.selfplay``, ``train.spft``,
``train.experiment``) import from here; nothing here imports the method. Import the submodule you
need (``from train.models.decoding import predict``): this package imports no torch itself.
"""
