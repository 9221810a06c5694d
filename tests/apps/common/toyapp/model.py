"""The toy app's model, with a custom layer that safe mode finds only once this module is imported."""

import keras


@keras.saving.register_keras_serializable(package="toy")
class Scale(keras.layers.Layer):
    """Multiplies its input by one learned number."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(3.0))

    def call(self, inputs):
        return inputs * self.scale


def build_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(Scale()(inputs)))
