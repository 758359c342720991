"""conftest.py: the tests that start a real server or a fresh Python are marked `server` and
`subprocess`, found by what the test, its fixtures or its module's helpers call; and tests never
write to the project's own lab database or timings."""
import subprocess
import sys
import types

import pytest

import conftest
from mnistcore.lab import config
from mnistcore.paths import DATA_DIR


def fake_item(function, *fixtures, browser=False):
    defs = {f.__name__: [types.SimpleNamespace(func=f)] for f in fixtures}
    return types.SimpleNamespace(function=function, _fixtureinfo=types.SimpleNamespace(name2fixturedefs=defs),
                                 get_closest_marker=lambda name: pytest.mark.browser if browser else None)


def run_python(code):  # a helper of this module: what it starts counts for the tests that call it
    return subprocess.run([sys.executable, "-c", code], check=True)


def test_what_a_test_starts_is_found_in_itself_its_fixtures_and_its_modules_helpers():
    def site():
        with conftest.running_site("weights") as url:  # never run: only the source is read
            yield url

    def test_through_the_fixture(site):
        assert site

    def test_behind_nginx():
        with conftest.serve_lab(2, {}) as (url, _, _):
            assert url

    def test_through_a_helper():
        assert [run_python(f"print({n})") for n in range(2)]

    def test_in_process():
        assert 1 + 1 == 2

    assert conftest.starts(fake_item(test_through_the_fixture, site)) == {"server"}
    assert conftest.starts(fake_item(test_behind_nginx)) == {"server"}
    assert conftest.starts(fake_item(test_through_a_helper)) == {"subprocess"}
    assert conftest.starts(fake_item(test_in_process, test_in_process)) == set()
    assert conftest.starts(fake_item(test_in_process, browser=True)) == {"server"}


def test_tests_keep_the_projects_lab_database_and_timings_out_of_reach():
    assert config.absolute(config.feedback_db_path()).parent != DATA_DIR
    assert config.absolute(config.timings_path()).parent != DATA_DIR
