"""Sampling names with the shared compiled sampler: prefix, length limit, novelty, temperature, top-k, seed.

The rounds (`draw_names`) are shared with the LiteRT sampler (`apps.dinos.litert.NameSampler`), which draws the
same names for the same seed; this module imports TensorFlow only when a `NameSampler` is made.
"""

import numpy as np

from apps.common.errors import UsageError
from apps.common.progress import Progress
from apps.dinos import data
from apps.dinos.evaluate import token_log_probs

MAX_ROUNDS = 20


def round_seed(seed, round_):
    """Seed of sampling round `round_`: `seed` itself first (so one round matches the export's `sample`),
    then seeds drawn from (seed, round) so that nearby user seeds do not share later rounds."""
    return int(seed) if round_ == 0 else int(np.random.default_rng([seed, round_]).integers(2**31 - 1))


def batch_size(needed):
    """Rows drawn in a round that still needs `needed` names: twice as many, at least 64, at most 8,192."""
    return min(max(2 * needed, 64), 8192)


def draw_names(draw, n, seed=0, novel=False, seen=(), prefix_log_prob=0.0, max_len=None):
    """`n` names from up to `MAX_ROUNDS` rounds of `draw(rows, seed)`, rows accepted in order.

    Args:
        draw: `draw(rows, seed)` iterates over `(name, log_prob, ended)` for the rows of a batch of `rows`
            sampled with `seed`; it may stop early, as no row after the `n`-th accepted one is read.
        n, seed, novel: as for `NameSampler.sample`.
        seen: `data.name_digest` of the training names, refused with `novel`.
        prefix_log_prob: the log-probability of the prefix, added to each name's.
        max_len: the length limit, for the error message.

    Returns:
        A list of `(name, log_prob)`.

    Raises:
        UsageError: too few names qualified.
    """
    accepted = []
    with Progress(n, "sampling", "name") as progress:
        for round_ in range(MAX_ROUNDS):
            for name, log_prob, done in draw(batch_size(n - len(accepted)), round_seed(seed, round_)):
                # Empty names and names cut at max_len are refused, and with `novel` the training names.
                if done and name and not (novel and data.name_digest(name) in seen):
                    accepted.append((name, prefix_log_prob + float(log_prob)))
                    progress.update()
                    if len(accepted) == n:
                        return accepted
    wanted = "novel names" if novel else "names"
    raise UsageError(
        f"only {len(accepted)} of {n} {wanted} ended within {max_len} characters after {MAX_ROUNDS} batches; "
        "raise --max-len or --temperature"
    )


class NameSampler:
    """Draws names from a trained model; every step of a batch runs in one compiled `tf.function`.

    Args:
        model: the training model (`model.build_model`), e.g. from `apps.common.bundle.load_bundle`.
        config: its bundle config (vocabulary, `max_len`, `seen_digests`).

    Example:

        model, config = load_bundle("saved_models/dinos")
        names = NameSampler(model, config).sample(10, seed=1)
    """

    def __init__(self, model, config):
        from apps.common.sampling import Sampler
        from apps.dinos.model import step_model

        self.model = model
        self.config = config
        self.vocab = data.Vocabulary.from_config(config["vocabulary"])
        self.sampler = Sampler(step_model(model), end_token=data.END_CLASS)
        self.seen = set(config.get("seen_digests", ()))
        # Code point of each class's character, 0 for the end class: a row of sampled classes then reads as a
        # NUL-padded string, decoded for the whole batch at once (a Python loop per row costs as much as the
        # sampling itself for large batches).
        self.code_points = np.array([0, *map(ord, self.vocab.characters)], np.uint32)

    def sample_batch(self, n, prefix="", max_len=None, temperature=1.0, top_k=0, seed=0):
        """One batch of `n` draws, finished or not.

        Returns:
            `(names, log_probs, ended)`: the names (prefix included, cut at the end token), the log-probability
            in nats of what was sampled after the prefix (end token included), and whether each name ended
            within `max_len` characters.
        """
        import tensorflow as tf

        max_len = max_len or self.config["max_len"]
        prefix, ids = self.vocab.encode_prefix(prefix, max_len)
        classes = [data.END_CLASS] + [i - 1 for i in ids]
        # The name may use all max_len characters and still needs one step to emit its end token.
        steps = max_len - len(prefix) + 1
        out = self.sampler(
            tf.tile(tf.constant([classes], tf.int32), [n, 1]), steps, float(temperature), int(top_k), int(seed)
        )
        tokens = out["tokens"].numpy()
        # After its end token a row holds only end tokens, so the NUL padding starts at the end of the name.
        names = self.code_points[tokens].view(f"<U{steps}")[:, 0].tolist()
        ended = (tokens == data.END_CLASS).any(axis=1)
        return [prefix + name for name in names], out["log_probs"].numpy().astype("float64"), ended

    def sample(self, n, prefix="", max_len=None, temperature=1.0, top_k=0, seed=0, novel=False):
        """`n` finished names of at most `max_len` characters, novel ones only if `novel`.

        Empty names, names that reach `max_len` without ending, and with `novel` names of the training list
        are rejected and more are drawn, in up to `MAX_ROUNDS` batches. The same arguments give the same names.

        Returns:
            A list of `(name, log_prob)`, log_prob in nats for the whole name (prefix and end token included).

        Raises:
            UsageError: the prefix holds unknown characters or is too long, or too few names qualified.
        """
        prefix = data.normalise(prefix, self.vocab.keep_case)
        prefix_log_prob = 0.0
        if prefix:
            log_probs, _ = token_log_probs(self.model, self.vocab, [prefix])
            prefix_log_prob = float(log_probs[0, : len(prefix)].sum())
        return draw_names(
            lambda rows, seed: zip(*self.sample_batch(rows, prefix, max_len, temperature, top_k, seed)),
            n,
            seed,
            novel,
            self.seen,
            prefix_log_prob,
            max_len or self.config["max_len"],
        )
