"""How the apps' token language models (dinos, jazz) are compiled: one recipe, not two copies."""

import keras


def compile_language_model(model, learning_rate, clipnorm, jit_compile="auto", steps_per_execution=1,
                           ema_momentum=None):
    """Adam with gradient clipping by global norm (`global_clipnorm`) and sparse cross-entropy in nats/token.

    Padding is masked by the model's Embedding, so padded steps add nothing to the loss. `ema_momentum`: the
    optimizer also keeps an exponential moving average of the weights (Keras's `use_ema`) with that momentum;
    `ValidateAverageWeights` makes validation and the best checkpoint use it. `None`: no average.
    """
    averaging = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm, **averaging),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


class ValidateAverageWeights(keras.callbacks.Callback):
    """During validation and the epoch-end callbacks listed before this one, the model holds the optimizer's
    moving average of its weights (`use_ema`); training then goes on from the weights it had.

    Keras puts the average into the model only when `fit` ends (or every `ema_overwrite_frequency` steps, which
    would also restart training from it), so validation, early stopping and the best checkpoint would otherwise
    judge weights that are never the ones kept. List it after the checkpoint.
    """

    def on_train_begin(self, logs=None):
        self._trained = None

    def on_test_begin(self, logs=None):
        variables = self.model.trainable_variables
        self._trained = [variable.numpy() for variable in variables]
        self.model.optimizer.finalize_variable_values(variables)

    def on_epoch_end(self, epoch, logs=None):
        if self._trained is not None:
            for variable, value in zip(self.model.trainable_variables, self._trained):
                variable.assign(value)
            self._trained = None
