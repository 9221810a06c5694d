"""Sentence sentiment: a recurrent classifier that takes raw strings and answers with a label (and stars).

- `data`: labelled sentences (SST `<label> <text>` files, CSV/TSV), the treebank's labelled phrases (PTB trees)
  and the SST download.
- `embeddings`: pretrained word vectors (GloVe/word2vec text, or the packaged GloVe 6B 50-d) for the vocabulary.
- `model`: TextVectorization -> Embedding -> (Bidirectional) recurrent layers -> softmax, one Keras model.
- `train`: fit with early stopping on dev accuracy; save a bundle.
- `config`: the training hyper-parameters, each declared once.
- `predict`: predict, evaluate (accuracy, macro-F1, confusion matrix); `export`: a SavedModel.
- `cli`: `python -m apps.sentiment train|evaluate|predict|export|download`.
"""

from apps.common.registry import register

register("sentiment", __name__)
