"""The search document's ihub_q holds exactly the embedded store's index rows (storage.query.leaves),
grouped by family and path: the two stores answer a query alike only if this holds."""

from __future__ import annotations

import random

from storage.query import Kind, leaves
from storage.search.documents import DATE, DATE_TEXT, NUMBER, NUMBER_TEXT, ORDER, TEXT, query_fields

SCALARS = ["x", "", "2026-11-29T10:00:00Z", "2026-13-99", "1e5", 1, 2.5, -0.0, 10**20, True, False, None]
KEYS = ["a", "b.c", "d", "@type", "relatedParty"]


def grouped_leaves(doc: dict) -> dict:
    families: dict[str, dict[str, list]] = {f: {} for f in (TEXT, NUMBER, NUMBER_TEXT, DATE, DATE_TEXT, ORDER)}
    for path, scalar in leaves(doc):
        name = path.replace(".", "/")
        if scalar.kind is Kind.NUMBER:
            pairs = [(NUMBER, scalar.number), (NUMBER_TEXT, scalar.text), (ORDER, scalar.number)]
        elif scalar.kind is Kind.DATE:
            pairs = [(DATE, scalar.number), (DATE_TEXT, scalar.text), (ORDER, scalar.number)]
        else:
            pairs = [(TEXT, scalar.text)]
        for family, value in pairs:
            families[family].setdefault(name, []).append(value)
    return {family: values for family, values in families.items() if values}


def random_value(rng: random.Random, depth: int):
    roll = rng.random()
    if depth > 4 or roll < 0.4:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def test_query_fields_are_the_leaves_of_the_document_by_family_and_path():
    rng = random.Random(683)
    for _ in range(3000):
        doc = {"id": "x", "one": random_value(rng, 0), "two": random_value(rng, 0)}
        assert query_fields(doc) == grouped_leaves(doc), doc


def test_a_dotted_key_and_a_nested_path_share_a_field_as_in_the_embedded_store():
    doc = {"b.c": "dotted", "b": {"c": "nested"}, "n": [1, [2, None]], "at": "2026-11-29T10:00:00Z"}
    fields = query_fields(doc)
    assert fields[TEXT]["b/c"] == ["dotted", "nested"]
    assert fields[NUMBER]["n"] == [1.0, 2.0] and fields[NUMBER_TEXT]["n"] == ["1", "2"]
    assert fields[DATE_TEXT]["at"] == ["2026-11-29T10:00:00Z"] and fields[ORDER]["at"] == fields[DATE]["at"]


def test_subclasses_of_json_types_give_the_same_fields():
    from collections import OrderedDict

    class Text(str):
        pass

    class Items(list):
        pass

    plain = {"a": {"b": ["x", "2026-11-29T10:00:00Z", 3]}, "c": "y"}
    subclassed = OrderedDict(a=OrderedDict(b=Items([Text("x"), Text("2026-11-29T10:00:00Z"), 3])), c=Text("y"))
    assert query_fields(subclassed) == query_fields(plain) == grouped_leaves(plain)
