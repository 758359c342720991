"""Where the project keeps its files, from this file's place (never the working directory)."""
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PROJECT_DIR / "weights"                # the model store's folder
DEFAULT_MODEL_PATH = WEIGHTS_DIR / "default.npz"     # the shipped model
DATA_DIR = PROJECT_DIR / "data"                      # git-ignored: downloads and the lab's database
MNIST_DIR = DATA_DIR / "mnist"
LAB_DB_PATH = DATA_DIR / "lab.db"
STATIC_DIR = PROJECT_DIR / "static"                  # served to browsers at app/static/ (server.enableStaticServing)
