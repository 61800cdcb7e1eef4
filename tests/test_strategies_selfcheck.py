"""Self-check: everything tests/strategies.py generates is accepted by BuildKit's parser."""

import dockerfile
from hypothesis import HealthCheck, given, settings

from strategies import dockerfiles


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_generated_dockerfiles_parse(text):
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:  # pragma: no cover - failure path
        raise AssertionError(f"BuildKit parser rejected generated text: {exc}\n---\n{text!r}") from exc
    assert commands, "parser returned no instructions"
    assert any(c.cmd.upper() == "FROM" for c in commands)
