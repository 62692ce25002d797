"""Can the heatmap be trusted? Faithfulness, localisation, stability and complexity metrics of
saliency maps (:mod:`kerasviz.metrics.measures`), the model- and data-randomisation sanity checks
(:mod:`kerasviz.metrics.sanity`) and one table of methods × metrics (:func:`evaluate`)."""
from kerasviz.metrics.measures import (BASELINES, REFERENCES, auc, baseline_images, boxes_in_input,
                                       curves, energy_in_box, gini, max_sensitivity,
                                       pointing_game, reference_maps)
from kerasviz.metrics.sanity import SanityCheck, data_randomisation, model_randomisation
from kerasviz.metrics.table import METRICS, MetricsTable, evaluate, parse_method

__all__ = ["BASELINES", "REFERENCES", "auc", "baseline_images", "boxes_in_input", "curves",
           "energy_in_box", "gini", "max_sensitivity", "pointing_game", "reference_maps",
           "SanityCheck", "data_randomisation", "model_randomisation", "METRICS", "MetricsTable",
           "evaluate", "parse_method"]
