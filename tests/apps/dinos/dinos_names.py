"""The tiny name list and training arguments the dinos tests share."""

NAMES = [
    "Aardonyx",
    "Abelisaurus",
    "Brachiosaurus",
    "Ceratops",
    "Diplodocus",
    "Eoraptor",
    "Velociraptor",
    "Stegosaurus",
    "Triceratops",
    "Iguanodon",
    "Zuniceratops",
    "Mamenchisaurus",
]
TRAIN_ARGS = [
    "--units",
    "8",
    "--embedding-dim",
    "4",
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--val-split",
    "0.25",
    "--seed",
    "1",
]
