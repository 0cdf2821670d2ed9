"""Data sets (synthetic 2D, digits, MNIST, Fashion-MNIST, CIFAR-10, .npz files, image folders) and loaders."""
from gankit.data.dataset import Dataset
from gankit.data.datasets import DATASETS, default_image_size, list_datasets, load_dataset, register_dataset
from gankit.data.loader import InMemoryLoader
from gankit.data.synthetic import MIXTURES

__all__ = ["DATASETS", "MIXTURES", "Dataset", "InMemoryLoader", "default_image_size", "list_datasets",
           "load_dataset", "register_dataset"]
