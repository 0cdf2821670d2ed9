"""Recipes: the generic GAN and the variants whose data flow differs."""
from gankit.recipes.base import EMA, RECIPES, Latent, Phase, Recipe, register_recipe
from gankit.recipes import deligan, ensemble, gan, infogan, lapgan, mixture, progan, stylegan, unrolled  # noqa: F401  (registers the recipes)
from gankit.recipes import cyclegan, pix2pix, srgan, stargan  # noqa: F401  (image-to-image translation)
from gankit.recipes import inpainting  # noqa: F401  (Context Encoder: image inpainting)
from gankit.recipes import ssgan, triplegan  # noqa: F401  (semi-supervised: gankit/recipes/semi_supervised.py)
from gankit.recipes import energy  # noqa: F401  (auto-encoder discriminators: EBGAN, BEGAN)
from gankit.recipes import aae, bicogan, bigan, glo, icgan, vae, vaegan  # noqa: F401  (the encoder family: gankit/recipes/encoding.py)
from gankit.recipes import bpr, irgan  # noqa: F401  (item recommendation: gankit/recipes/recommend.py)
from gankit.recipes import maskgan, relgan, seqgan, text  # noqa: F401  (the text family: gankit/recipes/text.py)
from gankit.recipes import video  # noqa: F401  (video generation: VGAN, MoCoGAN)
from gankit.recipes import texture  # noqa: F401  (texture synthesis: SGAN, PSGAN, Markovian GAN)
from gankit.recipes import stackgan  # noqa: F401  (text-to-image: StackGAN)
from gankit.recipes import gan3d  # noqa: F401  (3D shapes: 3D-GAN on voxels)
from gankit.recipes.gan import GAN
from gankit.recipes.infogan import InfoGAN

__all__ = ["EMA", "RECIPES", "Latent", "Phase", "Recipe", "register_recipe", "GAN", "InfoGAN"]
