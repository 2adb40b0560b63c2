"""The sources file: what it takes, and every problem named (ingest/sources.py)."""

from __future__ import annotations

import pytest

from ingest.sources import SourcesError, feed_topics, parse


def test_a_valid_file_gives_each_source_its_settings(monkeypatch):
    monkeypatch.setenv("OWN_KEY", "k")
    sources = parse(
        """
        [sources.own]
        format = "ihub"
        api_key_env = "OWN_KEY"
        phone_region = "PT"
        topic = "own-events"
        """
    )
    own = sources["own"]
    assert own.format is None and own.format_id == "ihub" and own.api_key() == "k"
    assert own.settings() == {"name": "own", "phone_region": "PT"}
    assert feed_topics(sources) == ["own-events"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not = [toml", "not TOML"),
        ("[other]\nx = 1", "no [sources.NAME] table"),
        ('[sources.a]\nformat = "fax"', "sources.a: unknown format 'fax'"),
        ('[sources."A B"]\nformat = "ihub"', "sources.A B: a source name is"),
        ('[sources.a]\nformat = "ihub"\nphone_region = "Portugal"', "sources.a: phone_region"),
        ('[sources.a]\nformat = "ihub"\nsecret_env = "S"', "format ihub does not sign its requests"),
        ('[sources.a]\nformat = "ihub"\nunsigned = true', "unsigned applies to formats that sign"),
        ('[sources.a]\nformat = "ihub"\ncolumns = 1', "unknown keys for format ihub: columns"),
        ('[sources.a]\nformat = "ihub"\napi_key_env = "IHUB_TEST_UNSET_KEY"', "IHUB_TEST_UNSET_KEY, which is not set"),
        (
            '[sources.a]\nformat = "ihub"\ntopic = "t"\n[sources.b]\nformat = "ihub"\ntopic = "t"',
            "sources.b: topic t is also sources.a's",
        ),
        ('[sources.a]\nformat = "ihub"\nmax_body_bytes = 10', "max_body_bytes"),
    ],
)
def test_each_problem_is_named(text, problem, monkeypatch):
    monkeypatch.delenv("IHUB_TEST_UNSET_KEY", raising=False)
    with pytest.raises(SourcesError) as raised:
        parse(text)
    assert any(problem in found for found in raised.value.problems), raised.value.problems


def test_every_problem_of_a_file_is_named_at_once():
    with pytest.raises(SourcesError) as raised:
        parse('[sources.a]\nformat = "fax"\n[sources.b]\nformat = "ihub"\nsecret_env = "S"', check_env=False)
    assert len(raised.value.problems) == 2


def test_the_environment_check_can_be_left_out():
    assert parse('[sources.a]\nformat = "ihub"\napi_key_env = "IHUB_TEST_UNSET_KEY"', check_env=False)["a"]
