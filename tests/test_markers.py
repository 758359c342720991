"""conftest.py marks `server` every test that starts a real server, itself or through a fixture."""
import types

import conftest


def fake_item(function, *fixtures):
    defs = {f.__name__: [types.SimpleNamespace(func=f)] for f in fixtures}
    return types.SimpleNamespace(function=function, _fixtureinfo=types.SimpleNamespace(name2fixturedefs=defs))


def test_a_test_that_starts_a_server_itself_or_through_a_fixture_is_found():
    def site():
        with conftest.running_site("weights") as url:  # never run: only its source is read
            yield url

    def test_through_the_fixture(site):
        assert site

    def test_behind_nginx():
        with conftest.serve_lab(2, {}) as (url, _, _):
            assert url

    def test_in_process():
        assert 1 + 1 == 2

    assert conftest._starts_a_server(fake_item(test_through_the_fixture, site))
    assert conftest._starts_a_server(fake_item(test_behind_nginx))
    assert not conftest._starts_a_server(fake_item(test_in_process))
    assert not conftest._starts_a_server(fake_item(test_in_process, test_in_process))

