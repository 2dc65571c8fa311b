"""Batch scoring with the registered fraud model."""

import mlflow
import numpy as np

MODEL = "main.default.fraud"
MODEL_URI = f"models:/{MODEL}/1"
ROWS = np.array([[0.5, -1.0, 2.0], [-2.0, 0.3, -0.7], [1.5, 1.5, 1.5]])


def score(rows):
    model = mlflow.pyfunc.load_model(MODEL_URI)
    return model.predict(rows)


if __name__ == "__main__":
    print("predictions:", list(score(ROWS)))
