"""The demo model's trainer: the build step packs this file into the image's build context."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
print(f"training with learning rate {args.learning_rate} for {args.epochs} epoch(s)")
