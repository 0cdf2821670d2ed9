"""Recipes: the generic GAN and the variants whose data flow differs."""
from gankit.recipes.base import EMA, RECIPES, Latent, Phase, Recipe, register_recipe
from gankit.recipes import ensemble, gan, infogan, mixture, unrolled  # noqa: F401  (registers the recipes)
from gankit.recipes import cyclegan, pix2pix, srgan, stargan  # noqa: F401  (image-to-image translation)
from gankit.recipes.gan import GAN
from gankit.recipes.infogan import InfoGAN

__all__ = ["EMA", "RECIPES", "Latent", "Phase", "Recipe", "register_recipe", "GAN", "InfoGAN"]
