"""How the apps' token language models (dinos, jazz) are compiled: one recipe, not two copies."""

import keras


def compile_language_model(model, learning_rate, clipnorm, jit_compile="auto", steps_per_execution=1):
    """Adam with gradient clipping by global norm (`global_clipnorm`) and sparse cross-entropy in nats/token.

    Padding is masked by the model's Embedding, so padded steps add nothing to the loss.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model
