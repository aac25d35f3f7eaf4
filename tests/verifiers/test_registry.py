from importlib import metadata

import pytest

from rlvr import (
    BaseVerifier,
    ConfigError,
    Sample,
    Verdict,
    VerifierNotFoundError,
    available_verifiers,
    get_verifier,
)
from rlvr.verifiers import base, registry


class Always(BaseVerifier):
    name = "always"

    def __init__(self, score: float = 1.0):
        self.score = score

    def check(self, sample):
        return Verdict(self.score, "correct" if self.score == 1 else "incorrect", "fixed")


class Crashes(BaseVerifier):
    name = "crashes"

    def check(self, sample):
        raise KeyError("boom")


ALWAYS = Always()


def factory(**options):
    return Always(**options)


def test_module_object_paths_resolve_instances_classes_and_factories():
    assert get_verifier(f"{__name__}:ALWAYS") is ALWAYS
    assert isinstance(get_verifier(f"{__name__}:Always", score=0.5), Always)
    assert get_verifier(f"{__name__}:factory", score=0.0).score == 0.0


def test_instance_with_options_is_refused():
    with pytest.raises(ConfigError, match="takes no options"):
        get_verifier(f"{__name__}:ALWAYS", score=1)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nope", "unknown verifier 'nope'; available: .*math"),
        ("no_such_module_xyz:thing", "cannot import module"),
        (f"{__name__}:missing", "has no attribute"),
        (f"{__name__}:test_instance_with_options_is_refused", "did not produce a verifier"),
    ],
)
def test_resolution_errors(spec, message):
    with pytest.raises(VerifierNotFoundError, match=message):
        get_verifier(spec)


def test_register_and_replace(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("always", Always)
    assert "always" in available_verifiers()
    with pytest.raises(ConfigError, match="already registered"):
        registry.register("always", Always)
    registry.register("always", f"{__name__}:factory", replace=True)
    assert isinstance(get_verifier("always"), Always)


def test_entry_point_plugins_are_found(monkeypatch):
    ep = metadata.EntryPoint(name="myplugin", value=f"{__name__}:Always", group=registry.ENTRY_POINT_GROUP)
    real = metadata.entry_points

    def fake(**kw):
        if kw.get("group") == registry.ENTRY_POINT_GROUP:
            return metadata.EntryPoints([ep])
        return real(**kw)

    monkeypatch.setattr(metadata, "entry_points", fake)  # the module base imports on first use
    assert "myplugin" in available_verifiers()
    assert isinstance(get_verifier("myplugin", score=0.0), Always)


def test_base_verifier_turns_crashes_into_error_verdicts():
    v = Crashes().verify(Sample("x", 1))
    assert v.status == "error" and "KeyError" in v.reason and "traceback" in v.details


def test_base_verifier_refuses_oversized_outputs():
    v = Always().verify(Sample("x" * (base.DEFAULT_MAX_OUTPUT_CHARS + 1), 1))
    assert v.status == "unparsable" and "limit" in v.reason
