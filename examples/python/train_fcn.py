"""Trains the 100K-parameter FCN on FashionMNIST and saves it as fcn100k.safetensors.

    python examples/python/train_fcn.py --epochs 30
    SMOKE=1 python examples/python/train_fcn.py      # 1 epoch on 5,000 images
"""

import argparse
import os

import smallnet

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()
smoke = os.environ.get("SMOKE") == "1"

train = smallnet.Dataset.fashion_mnist(train=True)
test = smallnet.Dataset.fashion_mnist(train=False)
if smoke:
    train = train.subset(0, 5000)
model = smallnet.fcn_for_budget(100_000)
print(model)
model.fit(train, epochs=1 if smoke else args.epochs, validation=test)  # AdamW, cosine schedule, tqdm bars
result = model.evaluate(test)
print(f"test accuracy {result['accuracy']:.2%}, test loss {result['loss']:.4f}")
model.save("fcn100k.safetensors", training_config={"epochs": 1 if smoke else args.epochs, "smoke": smoke})
