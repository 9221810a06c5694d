"""Sentence sentiment: a recurrent classifier that takes raw strings and answers with a label (and stars).

- `data`: labelled sentences (SST `<label> <text>` files, CSV/TSV) and the SST download.
- `model`: TextVectorization -> Embedding -> (Bidirectional) recurrent layers -> softmax, one Keras model.
- `train`: fit with early stopping on dev accuracy; save a bundle.
- `predict`: predict, evaluate (accuracy, macro-F1, confusion matrix), export a SavedModel.
- `cli`: `python -m apps.sentiment train|evaluate|predict|export|download`.
"""
