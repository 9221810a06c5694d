"""Names -> token ids: reading a name list, the character vocabulary, padded training arrays, the download.

Token ids (the embedding's input space):

    0            padding, masked out (`Embedding(mask_zero=True)`)
    1            "\\n", the end-of-name token, also fed first as the start token (as in the course)
    2, 3, ...    the characters of the training names, sorted

The softmax head never predicts padding, so its class `c` is token `c + 1`: class 0 is the end token. The
sampler works in class space throughout (see `model.step_model`).
"""

import hashlib
import itertools

import numpy as np

from apps.common import files, paths
from apps.common.errors import UsageError
from apps.common.files import MAX_NAME_CHARS, MAX_NAME_LIST_BYTES, read_text
from apps.dinos.config import MAX_CHARACTERS

DEFAULT_DATA = paths.user_data("dinos.txt")
MANIFEST = paths.data("dinos.json")

PAD_ID = 0
END = "\n"
END_ID = 1
END_CLASS = END_ID - 1


def normalise(name, keep_case=False):
    """Strips surrounding white space and lower-cases unless `keep_case`."""
    name = name.strip()
    return name if keep_case else name.lower()


def parse_names(text, keep_case=False):
    """Splits newline-separated names, dropping blank lines. Duplicates are kept (see `unique`)."""
    return [normalise(line, keep_case) for line in text.splitlines() if line.strip()]


def read_names(path, keep_case=False):
    """Reads a newline-separated name list (UTF-8), with no TensorFlow.

    Raises:
        UsageError: the list is unreadable, holds no names, is over `MAX_NAME_LIST_BYTES` bytes, has a name
            over `MAX_NAME_CHARS` characters (training pads every name to the longest one), or more than
            `MAX_CHARACTERS` distinct characters (the vocabulary a model trained on it would have).
    """
    names = parse_names(read_text(path, "name list", max_bytes=MAX_NAME_LIST_BYTES), keep_case)
    longest = max(range(len(names)), key=lambda i: len(names[i]), default=None)
    if longest is not None and len(names[longest]) > MAX_NAME_CHARS:
        raise UsageError(
            f"name list {path}, name {longest + 1}: {len(names[longest]):,} characters; the limit is {MAX_NAME_CHARS}"
        )
    if not names:
        raise UsageError(f"name list {path} holds no names")
    characters = len(set("".join(names)))
    if characters > MAX_CHARACTERS:
        raise UsageError(f"name list {path} holds {characters:,} distinct characters; the limit is {MAX_CHARACTERS:,}")
    return names


def unique(names):
    """`names` without repeats, first occurrence kept: a repeated name must not sit in both splits."""
    return list(dict.fromkeys(names))


def split_names(names, val_split, seed):
    """Shuffles `names` with `seed` and returns `(train, val)`, `val` holding `round(val_split * n)` names.

    The split depends only on the list and the seed, so benchmarks and evaluations can rebuild it.
    """
    order = np.random.default_rng(seed).permutation(len(names))
    n_val = int(round(val_split * len(names)))
    if val_split > 0 and (n_val == 0 or n_val == len(names)):
        raise UsageError(f"--val-split {val_split} leaves an empty split of {len(names)} names")
    shuffled = [names[i] for i in order]
    return shuffled[n_val:], shuffled[:n_val]


def name_digest(name):
    """A short one-way digest of a name: bundles store these, never the training names themselves."""
    return hashlib.blake2b(name.encode("utf-8"), digest_size=8).hexdigest()


class Vocabulary:
    """The character vocabulary: `tokens[i]` is the string of token id `i` (see the module docstring).

    Args:
        characters: the name characters, in id order (ids 2, 3, ...).
        keep_case: whether names keep their case; otherwise names are lower-cased before encoding.
    """

    def __init__(self, characters, keep_case=False):
        self.characters = list(characters)
        self.keep_case = bool(keep_case)
        self.tokens = ["", END, *self.characters]
        # A dict, not the list: encoding looks up every character of every name, in a vocabulary of any size.
        self._character_ids = {char: i for i, char in enumerate(self.characters, END_ID + 1)}

    @classmethod
    def from_names(cls, names, keep_case=False):
        """The vocabulary of the characters in `names`."""
        return cls(sorted(set("".join(names)) - {END}), keep_case)

    def __len__(self):
        return len(self.tokens)

    @property
    def num_classes(self):
        """Size of the softmax: every token but padding."""
        return len(self.tokens) - 1

    def encode(self, name):
        """Token ids of `name` (normalised first), without start or end token.

        Raises:
            UsageError: `name` holds a character the model never saw.
        """
        name = normalise(name, self.keep_case)
        try:
            return [self._character_ids[char] for char in name]
        except KeyError:
            unknown = sorted(set(name) - self._character_ids.keys())
            raise UsageError(f"{name!r} has characters outside the model's vocabulary: {''.join(unknown)!r}") from None

    def encode_prefix(self, prefix, max_len):
        """`(prefix, ids)`: the normalised `prefix` and its token ids, for names of at most `max_len` characters.

        Raises:
            UsageError: `prefix` holds a character the model never saw, or is longer than `max_len`.
        """
        prefix = normalise(prefix, self.keep_case)
        ids = self.encode(prefix)
        if len(prefix) > max_len:
            raise UsageError(f"--prefix {prefix!r} is longer than --max-len {max_len}")
        return prefix, ids

    def decode_classes(self, classes):
        """Name from a row of sampled classes, cut at the first end token; `(name, ended)`."""
        chars = [self.tokens[c + 1] for c in itertools.takewhile(lambda c: c != END_CLASS, classes)]
        return "".join(chars), len(chars) < len(classes)

    def get_config(self):
        return {"characters": self.characters, "keep_case": self.keep_case}

    @classmethod
    def from_config(cls, config):
        return cls(config["characters"], config["keep_case"])


def make_arrays(names, vocab):
    """Teacher-forcing arrays for `names`: `(x, y)`, int32, both (n, longest name + 1), zero-padded.

    `x` is the start token followed by the name's ids; `y` the name's classes followed by the end class
    (class = id - 1), so x and y are non-padding at the same places and the embedding's mask covers both.
    `y` holds class 0 under padding, a valid class that the mask then ignores. Nothing is truncated.
    """
    encoded = [vocab.encode(name) for name in names]
    import keras  # here, so that reading and checking a name list needs no TensorFlow

    x = keras.utils.pad_sequences([[END_ID, *ids] for ids in encoded], padding="post", value=PAD_ID, dtype="int32")
    y = keras.utils.pad_sequences(
        [[i - 1 for i in ids] + [END_CLASS] for ids in encoded], padding="post", value=END_CLASS, dtype="int32"
    )
    return x, y


def download(out=DEFAULT_DATA, source=None, sha256=None, manifest=MANIFEST, force=False):
    """Fetches the name list of the manifest `data/dinos.json` and places it at `out` once its hash checks out.

    Args:
        out: where the list goes (default `dinos.txt` in the user's data folder, `paths.user_data`).
        source: URL or local path to fetch from; default the manifest's URL. A local path works offline.
        sha256: the hash the file must have; default any hash the manifest accepts.
        manifest: the manifest file.
        force: overwrite a file at `out` that is not the list (by default it is refused as the user's).

    Returns:
        `(path, sha256)` of the placed file.

    Raises:
        UsageError: the manifest does not list one file to fetch, the source cannot be fetched, or its hash is
            not an accepted one; `out` is left untouched.
    """
    entries = files.fetched(files.read_manifest(manifest))
    if len(entries) != 1:
        raise UsageError(f"the manifest {manifest} lists {len(entries)} files to fetch; the name list is one file")
    [entry] = entries
    if "members" in entry:
        raise UsageError(f"the manifest {manifest}, entry 1 is a zip archive; the name list is one file")
    [placed] = files.download(entry, out, source=source, sha256=sha256, force=force)
    return placed
