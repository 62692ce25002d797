"""Modified-backpropagation methods: the gradient of the score w.r.t. the input, through ReLUs
whose backward rule is changed (see :mod:`kerasviz.core.replay`), on a replay of the model.

Warnings:
    Guided backpropagation and deconvnet fail the model-randomisation sanity check (Adebayo et al.
    2018): they largely reconstruct the image's edges whatever the weights. Guided Grad-CAM
    inherits the class sensitivity of its Grad-CAM factor only.

References:
    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.
    Springenberg et al., "Striving for Simplicity: The All Convolutional Net", ICLR-W 2015.
    Selvaraju et al., "Grad-CAM", ICCV 2017 (Guided Grad-CAM, Sec. 3.1).
    Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
"""
from __future__ import annotations

from kerasviz.methods.registry import register


@register("guided_backprop", uses_layer=False,
          doc="Guided backpropagation: only positive gradients through active ReLUs "
              "(Springenberg et al. 2015)")
def guided_backprop(ctx):
    """``grads`` = gradient with every ReLU passing ``dy · [x > 0] · [dy > 0]``; map
    ``max_c |grads|``."""
    return ctx.pixels(ctx.modified_dx("guided"))


@register("deconvnet", uses_layer=False,
          doc="Deconvnet: ReLUs pass positive gradients, ignoring the forward mask (Zeiler & Fergus 2014)")
def deconvnet(ctx):
    """``grads`` = gradient with every ReLU passing ``dy · [dy > 0]``; map ``max_c |grads|``."""
    return ctx.pixels(ctx.modified_dx("deconvnet"))


@register("guided_gradcam", uses_layer=True, postprocess="pixel",
          doc="Guided Grad-CAM: guided backpropagation × the upsampled Grad-CAM map "
              "(Selvaraju et al. 2017)")
def guided_gradcam(ctx):
    """``grads = guided_backprop(x) · G`` with ``G`` the ``gradcam`` map (its ReLU, bilinear
    resize to the input and min-max per image: the CAM rule); map ``max_c |grads|``."""
    return ctx.pixels(ctx.modified_dx("guided") * ctx.maps_of("gradcam")[..., None])
