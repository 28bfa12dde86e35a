"""AdaptConfig (:mod:`edge.model.adapt.settings`): every rule names its field; from_dict reads
the JSON form and type-checks it."""
import pytest

from edge.errors import ConfigError
from edge.model.adapt.settings import AdaptConfig


def test_config_errors_name_the_field():
    for kw, field in (({"min_beats": 0}, "min_beats"), ({"adapt_s": 0}, "adapt_s"),
                      ({"class_balance": 2.0}, "class_balance"),
                      ({"use_embedding": False, "use_rr": False}, "use_embedding"),
                      ({"class_min_beats": {"X": 5}}, "class_min_beats"),
                      ({"class_min_beats": {"F": 0}}, "class_min_beats"),
                      ({"class_min_beats": [("F", 5)]}, "class_min_beats"),
                      ({"max_fallback_gain": -1.0}, "max_fallback_gain"),
                      ({"template_k": -1}, "template_k"), ({"template_k": 2.5}, "template_k"),
                      ({"template_weight": -1.0}, "template_weight"),
                      ({"template_floor": 0.0}, "template_floor"),
                      ({"template_classes": ("X",)}, "template_classes"),
                      ({"template_classes": "V"}, "template_classes"),
                      ({"template_k": 20, "max_templates": 10}, "max_templates"),
                      ({"template_novelty": 0.0}, "template_novelty"),
                      ({"novel_ectopic_log": -0.1}, "novel_ectopic_log"),
                      ({"exact_fallback": ("X",)}, "exact_fallback"),
                      ({"exact_fallback": "V"}, "exact_fallback")):
        with pytest.raises(ConfigError) as err:
            AdaptConfig(**kw)
        assert err.value.field == field


def test_from_dict_round_trips_and_type_checks():
    cfg = AdaptConfig(template_k=7, exact_fallback=(), class_min_beats={"F": None})
    assert AdaptConfig.from_dict(cfg.to_dict()) == cfg
    assert AdaptConfig.from_dict({"template_classes": ["V"]}).template_classes == ("V",)
    for values, field in (({"use_rr": "yes"}, "use_rr"), ({"template_k": 2.0}, "template_k"),
                          ({"weight_l2": "3"}, "weight_l2"), ({"adapt_s": float("nan")}, "adapt_s"),
                          ({"max_fallback_gain": "none"}, "max_fallback_gain"),
                          ({"exact_fallback": "V"}, "exact_fallback"),
                          ({"no_such_setting": 1}, "no_such_setting")):
        with pytest.raises(ConfigError) as err:
            AdaptConfig.from_dict(values)
        assert err.value.field == field
